#!/usr/bin/env bash
# Builds the linux-arm64-gnu addon (Graviton Lambdas) on an x86_64 Debian machine and puts it in
# the napi-rs platform package npm/linux-arm64-gnu/.
#
# rustup cannot fetch another target's standard library here, but Debian packages a second Rust
# toolchain (rustc-web / cargo-web, 1.96) whose aarch64 standard library comes as a multiarch
# package (libstd-rust-web-dev:arm64). With the aarch64 cross gcc as linker and C compiler (ring
# builds C), `/usr/bin/cargo` cross-builds the addon. Installs what it needs when missing (root,
# Debian's packages only). Separate target dir, so the host build is untouched.
#
#   bash scripts/build-arm64.sh            # build (release profile)
#   bash scripts/build-arm64.sh --install  # only install the toolchain
set -euo pipefail
cd "$(dirname "$0")/.."
target=aarch64-unknown-linux-gnu
need=()
[ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] || need+=(rustc-web cargo-web)
[ -d /usr/lib/rustlib/$target/lib ] || need+=(libstd-rust-web-dev:arm64)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[ "${1:-}" = "--install" ] && exit 0
export RUSTC=/usr/bin/rustc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
# Outside the checkout, so a fresh clone on the same machine reuses the cross build.
export CARGO_TARGET_DIR=${LLMUX_CACHE:-$HOME/.cache/llmux}/cross-target
t0=$SECONDS
/usr/bin/cargo build --release --locked -p llmux-node --target $target
out=npm/linux-arm64-gnu/llmux.linux-arm64-gnu.node
cp "$CARGO_TARGET_DIR/$target/release/libllmux.so" "$out"
echo "built $out ($(stat -c %s "$out") bytes) in $((SECONDS - t0)) s with $(/usr/bin/rustc --version)"
