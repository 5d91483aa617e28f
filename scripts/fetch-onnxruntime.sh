#!/usr/bin/env bash
# Fetches ONNX Runtime's C library for the `ort` crate (load-dynamic) from the PyPI `onnxruntime` wheel,
# which ships x86_64 and aarch64 builds of libonnxruntime.so (MIT). No other download source is needed.
#
#   scripts/fetch-onnxruntime.sh [ARCH]     ARCH: x86_64 (default: this machine) or aarch64
# Result: .deps/onnxruntime/<arch>/libonnxruntime.so (+ the versioned file); prints the path.
set -euo pipefail
VERSION="${ORT_VERSION:-1.31.1}"
ARCH="${1:-$(uname -m)}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/.deps/onnxruntime/$ARCH"
LIB="$DEST/libonnxruntime.so.$VERSION"

if [ -f "$LIB" ]; then echo "$DEST/libonnxruntime.so"; exit 0; fi
case "$ARCH" in
  x86_64) PLAT=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64) ;;
  aarch64) PLAT=(--platform manylinux_2_28_aarch64 --platform manylinux_2_27_aarch64 --platform manylinux_2_17_aarch64) ;;
  *) echo "fetch-onnxruntime: unsupported architecture '$ARCH' (x86_64 or aarch64)" >&2; exit 2 ;;
esac
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 --implementation cp \
  "${PLAT[@]}" -d "$TMP" "onnxruntime==$VERSION" >&2
WHEEL="$(ls "$TMP"/onnxruntime-*.whl | head -n1)"
mkdir -p "$DEST"
unzip -q -o -j "$WHEEL" "onnxruntime/capi/libonnxruntime.so.$VERSION" -d "$DEST"
ln -sf "libonnxruntime.so.$VERSION" "$DEST/libonnxruntime.so"
echo "$DEST/libonnxruntime.so"
