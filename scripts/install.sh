#!/usr/bin/env bash
# Installs Kaiteki Edge: the release binary, systemd units, sysusers/tmpfiles snippets, the default config,
# models, pipeline definitions and ONNX Runtime. Used by `make install`; also works on its own:
#
#   sudo scripts/install.sh                          # into / (PREFIX=/usr), then creates the user and dirs
#   DESTDIR=/tmp/stage scripts/install.sh            # staged (packaging, tests): no user, no systemctl
#
# Variables: DESTDIR (staging root, default empty), PREFIX (default /usr), SYSCONFDIR (default /etc),
# BIN (the built binary, default $CARGO_TARGET_DIR/release/kaiteki), ORT_LIB (ONNX Runtime library, default
# .deps/onnxruntime/$(uname -m)/libonnxruntime.so; skipped when absent), KAITEKI_JETSON=1/0 (install the
# Jetson drop-in; default: when /etc/nv_tegra_release exists).
#
# Never overwrites an existing config. Never enables or starts the service: edit the config first, then
# `systemctl enable --now kaiteki`.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DESTDIR="${DESTDIR:-}"
PREFIX="${PREFIX:-/usr}"
SYSCONFDIR="${SYSCONFDIR:-/etc}"
TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kaiteki/target}"
BIN="${BIN:-$TARGET_DIR/release/kaiteki}"
ORT_LIB="${ORT_LIB:-$ROOT/.deps/onnxruntime/$(uname -m)/libonnxruntime.so}"
if [ -z "${KAITEKI_JETSON:-}" ]; then
  if [ -e /etc/nv_tegra_release ]; then KAITEKI_JETSON=1; else KAITEKI_JETSON=0; fi
fi

BINDIR="$PREFIX/bin"
LIBDIR="$PREFIX/lib/kaiteki"
DATADIR="$PREFIX/share/kaiteki"
DOCDIR="$PREFIX/share/doc/kaiteki"
UNITDIR="$PREFIX/lib/systemd/system"
SYSUSERSDIR="$PREFIX/lib/sysusers.d"
TMPFILESDIR="$PREFIX/lib/tmpfiles.d"
CONFDIR="$SYSCONFDIR/kaiteki"

say() { echo "install: $*"; }
die() { echo "install: $*" >&2; exit 1; }

[ -x "$BIN" ] || die "no built binary at $BIN: run \`make build\` (or set BIN=/path/to/kaiteki)"
case "$PREFIX" in /*) ;; *) die "PREFIX must be absolute (got '$PREFIX')" ;; esac

# put MODE SRC DEST: copies one file (following symlinks), creating missing parent folders (0755; the
# modes of existing ones are left alone).
put() {
  local dir="$DESTDIR$(dirname "$3")"
  [ -d "$dir" ] || install -d -m 0755 "$dir"
  install -m "$1" "$2" "$DESTDIR$3"
}

# The binary (stripped by the release profile).
put 0755 "$BIN" "$BINDIR/kaiteki"

# systemd: the units name /usr/bin/kaiteki and /usr/lib/kaiteki; another PREFIX rewrites those paths.
rewrite() { sed -e "s#/usr/bin/kaiteki#$BINDIR/kaiteki#g" -e "s#/usr/lib/kaiteki/#$LIBDIR/#g" -e "s#/usr/share/doc/kaiteki/#$DOCDIR/#g" "$1"; }
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
rewrite "$ROOT/systemd/kaiteki.service" > "$TMP/kaiteki.service"
put 0644 "$TMP/kaiteki.service" "$UNITDIR/kaiteki.service"
put 0644 "$ROOT/systemd/kaiteki.sysusers" "$SYSUSERSDIR/kaiteki.conf"
put 0644 "$ROOT/systemd/kaiteki.tmpfiles" "$TMPFILESDIR/kaiteki.conf"
# The Jetson drop-in is always available as an example; it is active only on Jetson.
put 0644 "$ROOT/systemd/kaiteki.service.d/jetson.conf" "$DATADIR/systemd/jetson.conf"
if [ "$KAITEKI_JETSON" = 1 ]; then
  put 0644 "$ROOT/systemd/kaiteki.service.d/jetson.conf" "$UNITDIR/kaiteki.service.d/jetson.conf"
  say "Jetson: installed the kaiteki.service.d/jetson.conf drop-in"
fi

# Models: every manifest whose model file is here (a manifest for a model that must be fetched
# separately, see models/README.md, would only fail `kaiteki check`).
for manifest in "$ROOT"/models/*.toml; do
  file="$(sed -n 's/^file *= *"\(.*\)".*/\1/p' "$manifest" | head -n1)"
  if [ -n "$file" ] && [ -f "$ROOT/models/$file" ]; then
    put 0644 "$manifest" "$DATADIR/models/$(basename "$manifest")"
    put 0644 "$ROOT/models/$file" "$DATADIR/models/$file"
  else
    say "skipping model $(basename "$manifest" .toml): ${file:-no file =} not present (see models/README.md)"
  fi
done
[ -f "$ROOT/models/README.md" ] && put 0644 "$ROOT/models/README.md" "$DATADIR/models/README.md"

# Pipeline definitions.
for p in "$ROOT"/pipelines/*.toml; do
  put 0644 "$p" "$DATADIR/pipelines/$(basename "$p")"
done

# ONNX Runtime (the unit sets ORT_DYLIB_PATH to it). Optional: the tract backend needs no library.
if [ -e "$ORT_LIB" ]; then
  put 0644 "$ORT_LIB" "$LIBDIR/libonnxruntime.so"
else
  say "no ONNX Runtime at $ORT_LIB (scripts/fetch-onnxruntime.sh fetches it): backend = \"ort\" will not load"
fi

put 0644 "$ROOT/README.md" "$DOCDIR/README.md"

# The config: root:kaiteki 0640 in a 0750 folder. Never overwritten; a newer default goes beside it.
[ -d "$DESTDIR$CONFDIR" ] || install -d -m 0750 "$DESTDIR$CONFDIR"
if [ -e "$DESTDIR$CONFDIR/config.toml" ]; then
  put 0640 "$ROOT/packaging/config.toml" "$CONFDIR/config.toml.default"
  say "kept the existing $CONFDIR/config.toml (the new default is config.toml.default)"
else
  put 0640 "$ROOT/packaging/config.toml" "$CONFDIR/config.toml"
fi

if [ -n "$DESTDIR" ]; then
  say "staged into $DESTDIR (user, directories and systemd reload are done on the target)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  say "not root: skipped creating the kaiteki user and directories; run as root to finish"
  exit 0
fi
# On the live system: the user and groups, the directories, ownership of the config, the unit.
if command -v systemd-sysusers >/dev/null; then
  systemd-sysusers "$SYSUSERSDIR/kaiteki.conf"
fi
if command -v systemd-tmpfiles >/dev/null; then
  systemd-tmpfiles --create "$TMPFILESDIR/kaiteki.conf"
fi
if getent group kaiteki >/dev/null; then
  chgrp kaiteki "$CONFDIR" "$CONFDIR"/config.toml*
fi
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi
say "done. Edit $CONFDIR/config.toml, check it with \`sudo -u kaiteki $BINDIR/kaiteki check -c $CONFDIR/config.toml\`,"
say "then \`systemctl enable --now kaiteki\`; logs: \`journalctl -u kaiteki\`."
