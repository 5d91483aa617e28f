# Sourced, not run: `source scripts/aarch64-env.sh`. The settings that build (and run, under qemu-user)
# Kaiteki Edge for aarch64-unknown-linux-gnu on an x86-64 Debian/Ubuntu machine without docker;
# scripts/setup-aarch64.sh installs everything they name. `make aarch64` and scripts/test-aarch64.sh use it;
# to do it by hand:
#   source scripts/aarch64-env.sh && cargo build --release -p kaiteki --target aarch64-unknown-linux-gnu
#
# Every variable is specific to the aarch64 target (cargo's CARGO_TARGET_<TRIPLE>_*, the cc crate's CC_<triple>,
# the pkg-config crate's PKG_CONFIG_*_<triple>), so host builds in the same shell are unaffected. They are not
# in .cargo/config.toml because there a runner for aarch64 would also apply to native builds on a Jetson.
# On an aarch64 machine nothing is set (KAITEKI_AARCH64_NATIVE=1): builds there are native.

_kaiteki_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export KAITEKI_AARCH64_TARGET=aarch64-unknown-linux-gnu
if [ "$(uname -m)" = aarch64 ]; then
  export KAITEKI_AARCH64_NATIVE=1
else
  export KAITEKI_AARCH64_NATIVE=0
  # Debian's cross toolchain (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross) links and compiles the C and
  # assembly parts (ring, bundled SQLite, tract's kernels).
  export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
  export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
  export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
  # GStreamer and glib from the arm64 multiarch packages only (LIBDIR replaces the host's search path), plus
  # the gstreamer-app/-video files setup-aarch64.sh takes from the arm64 -dev package.
  export PKG_CONFIG_ALLOW_CROSS_aarch64_unknown_linux_gnu=1
  export PKG_CONFIG_LIBDIR_aarch64_unknown_linux_gnu=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig
  export PKG_CONFIG_PATH_aarch64_unknown_linux_gnu="$_kaiteki_root/.deps/aarch64-linux-gnu/pkgconfig"
  # `cargo run/test --target aarch64-unknown-linux-gnu` run the binaries under qemu-user. No -L sysroot: the
  # arm64 libc6 that GStreamer's arm64 packages depend on provides /lib/ld-linux-aarch64.so.1, and its loader
  # finds the arm64 libraries in /usr/lib/aarch64-linux-gnu (ld.so.conf.d/aarch64-linux-gnu.conf). Mixing
  # in the cross libc's loader (-L /usr/aarch64-linux-gnu) would pair it with another build of libc.so.6.
  export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=qemu-aarch64-static
  # qemu-user's default CPU ("max") emulates pointer authentication, which Debian's arm64 libraries use in
  # every function, and SVE: 3-4x slower here (tract on the fixture model, GStreamer). Cortex-A76 (ARMv8.2,
  # no PAuth/SVE) is also the closest model qemu has to Jetson Orin's Cortex-A78AE.
  export QEMU_CPU="${QEMU_CPU:-cortex-a76}"
  # GStreamer scans plugins in a child process (gst-plugin-scanner, an arm64 executable), which only runs
  # where binfmt_misc hands arm64 executables to qemu: often not in containers. Scan in-process instead.
  # The arm64 registry cache is registry.aarch64.bin, apart from the host's.
  export GST_REGISTRY_FORK=no
fi
unset _kaiteki_root
