#!/usr/bin/env bash
# The aarch64 phase of `make test` (after the x86-64 `cargo test`): cross-builds the daemon for
# aarch64-unknown-linux-gnu (no docker: scripts/setup-aarch64.sh, scripts/aarch64-env.sh), runs the crate's
# unit tests under qemu-user, then a smoke run of the aarch64 binary under qemu: `--version`, `check`, and
# `run` on a real GStreamer pipeline (a generated MJPEG AVI, decoded by the arm64 plugins) with the
# pure-Rust tract backend on the fixture detector, publishing to a real mosquitto. It is checked from the
# outside: /api/status, /metrics and /healthz over HTTP, a scene summary over MQTT that counts the red
# patch painted in every frame as a car; then SIGTERM, a clean exit and the retained `offline` status.
# Network: loopback only. Prints how long each phase took; exits non-zero, naming the phase, on any failure.
#
# On an aarch64 machine there is nothing to cross-compile: `cargo test` already ran the unit tests natively,
# so only the smoke run is done, on the native binary, without qemu.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kaiteki/target}"
CARGO="${CARGO:-cargo}"
TARGET=aarch64-unknown-linux-gnu
FRAMES=30            # 3 s of video at 10 frames/s
DEVICE=aarch64-smoke

PHASE="start"; PHASE_T0=0; TIMES=(); PIDS=(); WORK=""
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
begin() { PHASE="$1"; PHASE_T0="$(now)"; echo "== aarch64: $PHASE"; }
end() {
  local t; t="$(since "$PHASE_T0")"
  TIMES+=("$(printf '  %-34s %7s s' "$PHASE" "$t")"); echo "== aarch64: $PHASE: ${t} s"
}
fail() { echo "test-aarch64: FAILED in '$PHASE': $*" >&2; exit 1; }
finish() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ "$rc" -ne 0 ]; then
    echo "test-aarch64: FAILED in '$PHASE' (exit status $rc)" >&2
    if [ -n "$WORK" ] && [ -f "$WORK/daemon.log" ]; then
      echo "--- last lines of the daemon's log ($WORK/daemon.log, kept):" >&2; tail -n 40 "$WORK/daemon.log" >&2
    fi
  elif [ -n "$WORK" ]; then
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap finish EXIT
START="$(now)"

begin "set-up (apt, rustup)"
# The host side of the smoke run (gst-launch-1.0 and plugins for the video, mosquitto, mosquitto_sub, curl,
# python3) is in setup-system.sh's default set; `make test` has run it already, so this is a no-op there.
bash scripts/setup-system.sh
bash scripts/setup-aarch64.sh
# shellcheck source=scripts/aarch64-env.sh
source scripts/aarch64-env.sh
# The Makefile points ORT_DYLIB_PATH at the x86-64 ONNX Runtime, which an aarch64 process cannot load. No
# unit test loads ONNX Runtime (`ort` is load-dynamic, and the smoke run uses tract), so leave it unset.
unset ORT_DYLIB_PATH
end

if [ "$KAITEKI_AARCH64_NATIVE" = 1 ]; then
  echo "test-aarch64: this machine is aarch64: native build; the unit tests ran natively in 'cargo test', no qemu"
  begin "build (native, debug)"
  $CARGO build --locked -p kaiteki
  BIN="$CARGO_TARGET_DIR/debug/kaiteki"
  RUN=()
  end
else
  begin "build $TARGET (debug)"
  # Line tables only (file:line in panics and backtraces), not full debug info: the aarch64 debug binaries
  # are ~580 MB each with it, slower to link and to load under qemu. This applies to the aarch64 units only.
  export CARGO_PROFILE_DEV_DEBUG=line-tables-only
  # The unit-test harness and the binary in one invocation, with one feature resolution. A separate
  # `cargo build` resolves features without the dev-dependencies (jsonschema, proptest, tempfile), so about
  # 60 dependencies (tract, gstreamer, axum, ...) would be built twice. Cargo builds the binary along with
  # the unit tests only for an integration test that runs it: e2e_intersection, the smallest, is compiled
  # for that (not run: the end-to-end tests need x86 services and ONNX Runtime).
  $CARGO test --locked -p kaiteki --target "$TARGET" --lib --test e2e_intersection --no-run
  BIN="$CARGO_TARGET_DIR/$TARGET/debug/kaiteki"
  [ -x "$BIN" ] || fail "no binary at $BIN"
  readelf -h "$BIN" | grep -q 'Machine:.*AArch64' || fail "$BIN is not an aarch64 executable"
  RUN=(qemu-aarch64-static)
  end

  begin "unit tests under qemu-user"
  SKIP=()
  # outbox::tests::crash re-executes the test binary as a child process and kills it with SIGKILL. Under
  # qemu-user a child aarch64 process only starts if the kernel hands aarch64 executables to qemu
  # (binfmt_misc, set up by qemu-user-static where systemd runs; often missing in containers).
  if ! "$BIN" --version >/dev/null 2>&1; then
    echo "test-aarch64: the kernel cannot start aarch64 executables (no binfmt_misc entry for qemu-aarch64):"
    echo "test-aarch64: skipping the unit tests that start a child process (outbox::tests::crash::kill_9_*)"
    SKIP+=(--skip outbox::tests::crash::kill_9_mid_stream)
  fi
  $CARGO test --locked -p kaiteki --target "$TARGET" --lib -- "${SKIP[@]}"
  end
fi

begin "smoke: --version, check"
WORK="$(mktemp -d /tmp/kaiteki-aarch64.XXXXXX)"
chmod 755 "$WORK"   # mosquitto drops root for its own user and must read its config here
version="$(timeout 120 "${RUN[@]}" "$BIN" --version)" || fail "'kaiteki --version' failed"
echo "$version" | grep -q '^kaiteki ' || fail "unexpected --version output: $version"
echo "  $version: $BIN ($(stat -c %s "$BIN") bytes)"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
MQTT_PORT="$(free_port)"; HTTP_PORT="$(free_port)"
[ "$MQTT_PORT" != "$HTTP_PORT" ] || HTTP_PORT="$(free_port)"
VIDEO="$WORK/smoke.avi"
# A grey 320x320 road with a red 40x40 patch, which the fixture detector reads as a car (models/fixtures).
gst-launch-1.0 -q \
  videotestsrc num-buffers=$FRAMES pattern=solid-color foreground-color=0xff808080 \
    ! video/x-raw,width=320,height=320,framerate=10/1 ! compositor name=mix sink_1::xpos=140 sink_1::ypos=150 \
    ! video/x-raw,format=I420 ! jpegenc ! avimux ! filesink location="$VIDEO" \
  videotestsrc num-buffers=$FRAMES pattern=solid-color foreground-color=0xffdc1414 \
    ! video/x-raw,width=40,height=40,framerate=10/1 ! mix. \
  || fail "gst-launch-1.0 could not write the test video"
cat > "$WORK/smoke.toml" <<EOF
device_id = "$DEVICE"
pipelines_dir = "$ROOT/pipelines"
[storage]
state_dir = "$WORK/state"
[models.traffic]
manifest = "$ROOT/models/fixtures/traffic_fixture_yolov8.toml"
backend = "tract"
threads = 2
[cameras.smoke]
pipeline = "file"
params = { uri = "file://$VIDEO" }
model = "traffic"
realtime = false
[cameras.smoke.detect]
classes = ["car"]
gate = { mode = "every_frame" }
[cameras.smoke.summary]
interval_s = 1
[mqtt]
host = "127.0.0.1"
port = $MQTT_PORT
[http]
listen = "127.0.0.1:$HTTP_PORT"
EOF
timeout 300 "${RUN[@]}" "$BIN" check -c "$WORK/smoke.toml" > "$WORK/check.log" 2>&1 || {
  cat "$WORK/check.log" >&2; fail "'kaiteki check' rejected a valid config"; }
end

begin "smoke: run ($FRAMES frames, tract)"
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$MQTT_PORT" > "$WORK/mosquitto.conf"
mosquitto -c "$WORK/mosquitto.conf" > "$WORK/mosquitto.log" 2>&1 &
PIDS+=($!)
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 100); do port_open "$MQTT_PORT" && break; sleep 0.1; done
port_open "$MQTT_PORT" || { cat "$WORK/mosquitto.log" >&2; fail "mosquitto did not start on port $MQTT_PORT"; }
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t "kaiteki/v1/#" -v > "$WORK/mqtt.log" 2>&1 &
PIDS+=($!)
sleep 0.5
"${RUN[@]}" "$BIN" run -c "$WORK/smoke.toml" > "$WORK/daemon.log" 2>&1 &
DAEMON=$!
PIDS+=("$DAEMON")

# Every frame analysed, as the daemon reports it over HTTP.
status() { curl -fsS --max-time 5 "http://127.0.0.1:$HTTP_PORT/api/status" 2>/dev/null; }
processed=""
deadline=$((SECONDS + 300))
while [ $SECONDS -lt $deadline ]; do
  kill -0 "$DAEMON" 2>/dev/null || fail "the daemon exited early"
  processed="$(status | python3 -c 'import json, sys; print(json.load(sys.stdin)["cameras"][0]["frames_processed"])' 2>/dev/null || true)"
  [ -n "$processed" ] && [ "$processed" -ge "$FRAMES" ] && break
  sleep 1
done
[ -n "$processed" ] && [ "$processed" -ge "$FRAMES" ] || fail "frames_processed is '${processed:-no answer}' after 300 s (want $FRAMES)"
echo "  /api/status: $processed frames processed"
metrics="$(curl -fsS --max-time 5 "http://127.0.0.1:$HTTP_PORT/metrics")" || fail "GET /metrics failed"
line="$(echo "$metrics" | grep '^kaiteki_camera_frames_inferred_total{camera="smoke"}')" || fail "no frames_inferred metric: $metrics"
[ "${line##* }" -ge "$FRAMES" ] || fail "the model ran on too few frames: $line"
echo "  /metrics: $line"
curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:$HTTP_PORT/healthz" || fail "GET /healthz is not 200"
# A scene summary over MQTT that saw the car (the fixture's red patch) in its window.
summary=""
for _ in $(seq 60); do
  summary="$(grep "^kaiteki/v1/$DEVICE/events/scene_summary " "$WORK/mqtt.log" | grep '"car"' | head -n 1 || true)"
  [ -n "$summary" ] && break
  sleep 0.5
done
[ -n "$summary" ] || { cat "$WORK/mqtt.log" >&2; fail "no scene_summary counting a car over MQTT"; }
echo "  MQTT: ${summary:0:200}..."

kill -TERM "$DAEMON"
rc=""
for _ in $(seq 60); do kill -0 "$DAEMON" 2>/dev/null || break; sleep 0.5; done
kill -0 "$DAEMON" 2>/dev/null && fail "the daemon did not stop within 30 s of SIGTERM"
wait "$DAEMON" && rc=0 || rc=$?
[ "$rc" = 0 ] || fail "the daemon exited with status $rc after SIGTERM"
grep -q 'panicked' "$WORK/daemon.log" && fail "the daemon panicked"
for _ in $(seq 20); do
  last="$(grep "^kaiteki/v1/$DEVICE/status " "$WORK/mqtt.log" | tail -n 1 || true)"
  echo "$last" | grep -q '"offline"' && break
  sleep 0.25
done
echo "$last" | grep -q '"offline"' || fail "no retained 'offline' status after the stop (last: ${last:-none})"
echo "  SIGTERM: clean exit (status 0), retained status offline"
end

echo "test-aarch64: OK ($(since "$START") s)"
printf '%s\n' "${TIMES[@]}"
