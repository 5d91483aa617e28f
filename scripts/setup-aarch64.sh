#!/usr/bin/env bash
# Installs what cross-compiling Kaiteki Edge for aarch64 (NVIDIA Jetson, ARM appliances) on a Debian/Ubuntu
# x86-64 machine needs, without docker: the cross C toolchain (ring, bundled SQLite and tract's assembly
# are C/asm), qemu-user to run the aarch64 binaries, and GStreamer's arm64 libraries and plugins from
# Debian's multiarch archive. Idempotent like setup-system.sh: only what is missing is installed, so
# `make aarch64` and `make test` can call it every time. On an aarch64 machine nothing is cross-installed.
#
# libgstreamer-plugins-base1.0-dev is not Multi-Arch: same in Debian 12, so its arm64 package cannot be
# installed beside the amd64 one the host build needs (apt would remove the amd64 -dev packages). Linking
# needs nothing from it but its pkg-config files and the unversioned .so links, so they are taken from the
# arm64 .deb (apt-get download, not installed) into .deps/aarch64-linux-gnu/, pointing at the arm64
# runtime libraries (libgstreamer-plugins-base1.0-0:arm64, which is installed). scripts/aarch64-env.sh
# puts that folder on the aarch64 pkg-config path.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET=aarch64-unknown-linux-gnu

case "$(uname -m)" in
  aarch64)
    echo "setup-aarch64: this machine is aarch64: builds are native, nothing to cross-install (see scripts/setup-system.sh)"
    exit 0 ;;
  x86_64) ;;
  *) echo "setup-aarch64: cross builds are set up for x86_64 hosts only, not $(uname -m)" >&2; exit 2 ;;
esac

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Host (amd64) tools: pkg-config and a host C compiler for build scripts, the cross compiler and C library,
# qemu-user (static, so no binfmt set-up is needed: the runner names it).
HOST_PKGS=(pkg-config build-essential gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static)
# Target (arm64) packages: GStreamer's libraries to link against (libgstreamer1.0-dev brings glib's), and
# liborc-0.4-dev (gstreamer-video-1.0.pc requires it privately; pkg-config reads it), and what the qemu
# smoke run plays a file with: uridecodebin/typefind/videoconvert/videoscale/appsink (plugins-base),
# avidemux and jpegdec (plugins-good). libstdc++6 for ONNX Runtime in the unit tests.
ARM_PKGS=(libgstreamer1.0-dev libgstreamer-plugins-base1.0-0 liborc-0.4-dev
          gstreamer1.0-plugins-base gstreamer1.0-plugins-good libstdc++6)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "setup-aarch64: adding the arm64 architecture to dpkg (dpkg --add-architecture arm64)"
  $SUDO dpkg --add-architecture arm64
fi

missing=()
for p in "${HOST_PKGS[@]}"; do installed "$p" || missing+=("$p"); done
for p in "${ARM_PKGS[@]}"; do installed "$p:arm64" || missing+=("$p:arm64"); done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-aarch64: installing ${missing[*]}"
  $SUDO apt-get update -qq
  # arm64 libraries are Multi-Arch: same, so apt may upgrade amd64 ones to the same version; it must
  # never remove one (that would break the host build). Check with a dry run first.
  sim="$(LC_ALL=C apt-get install -s --no-install-recommends "${missing[@]}" 2>&1)" || {
    echo "$sim" | tail -n 20 >&2
    echo "setup-aarch64: apt cannot install ${missing[*]} (dry run failed above); nothing was changed" >&2
    exit 1; }
  removed="$(echo "$sim" | awk '/^Remv /{print $2}' | tr '\n' ' ')"
  if [ -n "$removed" ]; then
    echo "setup-aarch64: refusing: installing ${missing[*]} would REMOVE these packages: $removed" >&2
    echo "setup-aarch64: (usually an amd64 -dev package that is not Multi-Arch: same); nothing was changed" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# gstreamer-app-1.0 / gstreamer-video-1.0 for the linker, from the arm64 -dev package (see the top).
DEST="$ROOT/.deps/aarch64-linux-gnu"
MULTIARCH=/usr/lib/aarch64-linux-gnu
version="$(dpkg-query -W -f='${Version}' libgstreamer-plugins-base1.0-0:arm64)"
if [ "$(cat "$DEST/version" 2>/dev/null)" != "$version" ]; then
  TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
  APT_OPTS=()
  # As root apt drops to the _apt user to download, which cannot write into a private temporary folder.
  if [ "$(id -u)" -eq 0 ]; then APT_OPTS=(-o APT::Sandbox::User=root); fi
  # The -dev package of the installed runtime's version; the .pc files do not change within 1.22.x, so the
  # archive's current one does if that version is gone from it.
  ( cd "$TMP" && { apt-get download -qq "${APT_OPTS[@]}" "libgstreamer-plugins-base1.0-dev:arm64=$version" 2>/dev/null ||
                   apt-get download -qq "${APT_OPTS[@]}" "libgstreamer-plugins-base1.0-dev:arm64"; } ) || {
    echo "setup-aarch64: 'apt-get download libgstreamer-plugins-base1.0-dev:arm64' failed; run 'apt-get update' first" >&2
    exit 1; }
  dpkg-deb -x "$TMP"/libgstreamer-plugins-base1.0-dev_*_arm64.deb "$TMP/x"
  rm -rf "$DEST"; mkdir -p "$DEST/pkgconfig" "$DEST/lib"
  for pc in "$TMP/x$MULTIARCH/pkgconfig/"*.pc; do
    # Link from our folder of .so links; everything else (version, Requires, paths) as packaged.
    sed "s#^Libs: -L\${libdir}#Libs: -L$DEST/lib#" "$pc" > "$DEST/pkgconfig/$(basename "$pc")"
  done
  for so in "$TMP/x$MULTIARCH/"lib*.so; do
    # libgstvideo-1.0.so -> libgstvideo-1.0.so.0: the installed arm64 runtime library.
    ln -s "$MULTIARCH/$(readlink "$so")" "$DEST/lib/$(basename "$so")"
  done
  for lib in app video; do
    [ -e "$DEST/lib/libgst$lib-1.0.so" ] || {
      echo "setup-aarch64: $MULTIARCH/libgst$lib-1.0.so.0 missing (is libgstreamer-plugins-base1.0-0:arm64 installed?)" >&2
      exit 1; }
  done
  echo "$version" > "$DEST/version"
fi

if command -v rustup >/dev/null; then
  rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"
else
  libdir="$(rustc --print target-libdir --target "$TARGET" 2>/dev/null || true)"
  [ -n "$libdir" ] && [ -d "$libdir" ] || {
    echo "setup-aarch64: no rustup and no Rust standard library for $TARGET: install it with your Rust toolchain" >&2
    exit 1; }
fi
