#!/usr/bin/env bash
# Fetches the sample street video (vtest.avi, Apache-2.0 AND BSD-3-Clause) from Debian's opencv-doc
# package without installing it (docs are often excluded from minimal images): download, extract one file.
# Result: .deps/media/vtest.avi; prints the path.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/.deps/media"
OUT="$DEST/vtest.avi"
if [ -f "$OUT" ]; then echo "$OUT"; exit 0; fi
# A developer checkout beside the shared data already has it.
if [ -f "$ROOT/../shared/data/media/vtest.avi" ]; then
  mkdir -p "$DEST"; cp "$ROOT/../shared/data/media/vtest.avi" "$OUT"; echo "$OUT"; exit 0
fi
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
( cd "$TMP" && apt-get download opencv-doc >&2 ) || {
  echo "fetch-sample-video: 'apt-get download opencv-doc' failed; run 'sudo apt-get update' first" >&2; exit 1; }
dpkg -x "$TMP"/opencv-doc_*.deb "$TMP/x"
mkdir -p "$DEST"
cp "$TMP/x/usr/share/doc/opencv-doc/examples/data/vtest.avi" "$OUT"
echo "$OUT"
