#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages that building, running and testing Kaiteki Edge need.
# Idempotent: only missing packages are installed, so `make run` and `make test` can call it every time.
set -euo pipefail

PKGS=(
  pkg-config build-essential
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools
  mosquitto mosquitto-clients
  python3 python3-pip unzip curl ca-certificates
)
# Extra groups, selected by the caller: `setup-system.sh test` adds what the test suite needs.
for group in "$@"; do
  case "$group" in
    # Tests: an RTSP server (python3-gi + gst-rtsp-server), Chromium and a Japanese font for the dashboard.
    test) PKGS+=(python3-numpy python3-opencv gir1.2-gst-rtsp-server-1.0 python3-gi procps chromium fonts-ipafont-gothic systemd curl openssl) ;;
    *) echo "setup-system.sh: unknown group '$group' (known: test)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
