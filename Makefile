# Kaiteki Edge. Two commands do everything on a fresh Debian/Ubuntu machine:
#   make run    install what is missing, build, start the appliance on the sample video (HTTP on 127.0.0.1:8080)
#   make test   run every test (including the aarch64 cross build, its unit tests and a smoke run under qemu)
#   make aarch64  cross-compile the release binary for aarch64 (Jetson) without docker
SHELL := /bin/bash
# Builds outside the clone survive fresh CI clones; everything still works when the folder is empty.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/kaiteki/target
ARCH := $(shell uname -m)
ORT_LIB := $(CURDIR)/.deps/onnxruntime/$(ARCH)/libonnxruntime.so
export ORT_DYLIB_PATH ?= $(ORT_LIB)
BIN := $(CARGO_TARGET_DIR)/release/kaiteki
CARGO ?= cargo

.PHONY: run test deps system-deps build check bench clean install deb fuzz aarch64

system-deps:
	@bash scripts/setup-system.sh

deps: system-deps
	@bash scripts/fetch-onnxruntime.sh >/dev/null
	@bash scripts/fetch-sample-video.sh >/dev/null

build: deps
	$(CARGO) build --release --locked -p kaiteki

# The sample config, with a dashboard admin whose random password is made on first use (no default
# passwords, even on a demo): see var/dashboard-password.
var/sample.toml: config/sample.toml | build
	@mkdir -p var
	@sed "s#@SAMPLE_VIDEO@#$(CURDIR)/.deps/media/vtest.avi#" config/sample.toml > var/sample.toml.tmp
	@[ -s var/dashboard-password ] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=\n' > var/dashboard-password)
	@$(BIN) user add --name admin --role admin --password-stdin < var/dashboard-password >> var/sample.toml.tmp
	@mv var/sample.toml.tmp var/sample.toml

run: build var/sample.toml
	@(command -v mosquitto >/dev/null && ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null && \
	  (mosquitto -c scripts/mosquitto-local.conf -d && echo "started a local mosquitto on 127.0.0.1:1883")) || true
	@echo "dashboard: http://127.0.0.1:8080/  (user admin, password in var/dashboard-password: $$(cat var/dashboard-password))"
	@echo "API: http://127.0.0.1:8080/api/status  metrics: http://127.0.0.1:8080/metrics"
	$(BIN) run -c var/sample.toml

check: build var/sample.toml
	$(BIN) check -c var/sample.toml

test:
	@bash scripts/setup-system.sh test
	@bash scripts/fetch-onnxruntime.sh >/dev/null
	$(CARGO) test --locked --workspace --no-fail-fast
	@bash scripts/test-aarch64.sh

# Release binary for aarch64-unknown-linux-gnu (NVIDIA Jetson with JetPack 6, ARM appliances), cross-compiled
# on this x86-64 machine with Debian's cross toolchain and arm64 multiarch GStreamer (no docker; Cross.toml is
# for `cross` users). On an aarch64 machine it is a native release build.
AARCH64_BIN := $(CARGO_TARGET_DIR)/aarch64-unknown-linux-gnu/release/kaiteki
aarch64:
	@bash scripts/setup-aarch64.sh
	@source scripts/aarch64-env.sh && \
	  if [ "$$KAITEKI_AARCH64_NATIVE" = 1 ]; then echo "aarch64 machine: native build"; \
	    $(CARGO) build --release --locked -p kaiteki && bin="$(BIN)"; \
	  else $(CARGO) build --release --locked -p kaiteki --target aarch64-unknown-linux-gnu && bin="$(AARCH64_BIN)"; fi && \
	  echo "aarch64 binary: $$bin ($$(du -h "$$bin" | cut -f1), $$(stat -c %s "$$bin") bytes)"

PREFIX ?= /usr
# Installs binary, units, sysusers/tmpfiles, default config (never overwritten), models, pipelines, ONNX Runtime.
# `sudo` resets HOME, so as root pass the built binary: make build && sudo make install BIN=$(BIN)
install:
	@test -x "$(BIN)" || $(MAKE) build
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" BIN="$(BIN)" ORT_LIB="$(ORT_LIB)" bash scripts/install.sh

# Debian package in $(CARGO_TARGET_DIR)/debian/ (cargo-deb; the ORT path depends on the architecture, so stage it).
deb: build
	@command -v cargo-deb >/dev/null || $(CARGO) install cargo-deb --locked --no-default-features
	install -m 0644 "$(ORT_LIB)" "$(CARGO_TARGET_DIR)/release/libonnxruntime.so"
	$(CARGO) deb -p kaiteki --no-build --locked

bench: deps
	@bash bench/run.sh

# Fuzzing (cargo-fuzz, libFuzzer): every target in fuzz/ for FUZZ_SECONDS each. Not part of `make test`:
# it needs the nightly toolchain and builds the crate again with sanitizers (slow). Inputs it finds go to
# fuzz/corpus/ (not committed; the committed seeds are fuzz/seeds/), a crash to fuzz/artifacts/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := event_decode outbox_record
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t; \
	  dict=; [ -f fuzz/$$t.dict ] && dict=-dict=fuzz/$$t.dict; \
	  echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
	  $(CARGO) +nightly fuzz run --fuzz-dir fuzz --target-dir "$(CARGO_TARGET_DIR)/fuzz" $$t fuzz/corpus/$$t fuzz/seeds/$$t \
	    -- -max_total_time=$(FUZZ_SECONDS) $$dict; \
	done

clean:
	$(CARGO) clean
	rm -rf var
