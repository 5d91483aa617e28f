#!/usr/bin/env bash
# `make bench`: measures the spine on the sample video and prints ratios against baselines measured in
# this same run (model alone, a Python OpenCV + ONNX Runtime baseline, every-frame vs gated).
# Then a soak: the daemon on the looping sample at its real rate, resident memory sampled over
# BENCH_SOAK_S seconds (default 300). Nothing here is a test; it asserts nothing.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
ARCH="$(uname -m)"
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$ROOT/.deps/onnxruntime/$ARCH/libonnxruntime.so}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kaiteki/target}"
VIDEO="$(bash scripts/fetch-sample-video.sh)"
MODEL_ONNX="$ROOT/models/centernet_human_512.onnx"
THREADS="${KAITEKI_BENCH_THREADS:-2}"
SOAK="${BENCH_SOAK_S:-300}"
OUT="$ROOT/var/bench"; mkdir -p "$OUT"

echo "== Python baseline (OpenCV decode + resize, ONNX Runtime $THREADS threads)"
VENV="$ROOT/.deps/bench-venv"
if [ ! -x "$VENV/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
  "$VENV/bin/pip" install -q "onnxruntime==1.31.1"
fi
"$VENV/bin/python" bench/baseline.py "$MODEL_ONNX" "$VIDEO" "$THREADS" | tee "$OUT/baseline.json"

echo "== Kaiteki (release build)"
KAITEKI_BENCH_VIDEO="$VIDEO" KAITEKI_BENCH_BASELINE="$OUT/baseline.json" KAITEKI_BENCH_THREADS="$THREADS" \
  cargo bench --locked -p kaiteki --bench spine 2>"$OUT/spine.err" | grep -v '^running\|^$' || { echo "spine bench failed:"; tail -20 "$OUT/spine.err"; }

echo "== Analytics (synthetic scenes)"
cargo bench --locked -p kaiteki --bench analytics 2>/dev/null | grep -v '^running\|^$' || true

echo "== Outbox (write rate per fsync policy, publish rate to a local mosquitto)"
cargo bench --locked -p kaiteki --bench outbox 2>"$OUT/outbox.err" | grep -v '^running\|^$' || { echo "outbox bench failed:"; tail -20 "$OUT/outbox.err"; }

cargo build --release --locked -p kaiteki -q
BIN="$CARGO_TARGET_DIR/release/kaiteki"
echo "binary size: $(du -h "$BIN" | cut -f1) ($BIN)"

echo "== Soak: daemon on the looping sample at its real rate for ${SOAK}s"
sed "s#@SAMPLE_VIDEO@#$VIDEO#" config/sample.toml \
  | sed "s#^device_id = .*#&\npipelines_dir = \"$ROOT/pipelines\"#; s#^state_dir = .*#state_dir = \"$OUT/state\"#; s#\"\.\./#\"$ROOT/#; s#^listen = .*#listen = \"127.0.0.1:18089\"#; s#^port = 1883#port = 1#" \
  > "$OUT/soak.toml"
KAITEKI_LOG=warn "$BIN" run -c "$OUT/soak.toml" > "$OUT/soak.log" 2>&1 &
PID=$!
sleep 2
if ! kill -0 "$PID" 2>/dev/null; then echo "soak: the daemon did not start:"; cat "$OUT/soak.log"; exit 1; fi
trap 'kill $PID 2>/dev/null || true' EXIT
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$PID/status; }
for t in 10 60 "$SOAK"; do
  [ "$t" -gt "$SOAK" ] && continue
  while [ "$(( $(date +%s) - $(stat -c %Y /proc/$PID) ))" -lt "$t" ]; do sleep 1; done
  echo "resident memory after ${t}s: $(rss) MiB"
done
kill -INT $PID; wait $PID || true
