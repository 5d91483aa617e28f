# Kaiteki Edge. Two commands do everything on a fresh Debian/Ubuntu machine:
#   make run    install what is missing, build, start the appliance on the sample video (HTTP on 127.0.0.1:8080)
#   make test   run every test
SHELL := /bin/bash
# Builds outside the clone survive fresh CI clones; everything still works when the folder is empty.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/kaiteki/target
ARCH := $(shell uname -m)
ORT_LIB := $(CURDIR)/.deps/onnxruntime/$(ARCH)/libonnxruntime.so
export ORT_DYLIB_PATH ?= $(ORT_LIB)
BIN := $(CARGO_TARGET_DIR)/release/kaiteki
CARGO ?= cargo

.PHONY: run test deps system-deps build check bench clean

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

bench: deps
	@bash bench/run.sh

clean:
	$(CARGO) clean
	rm -rf var
