#!/usr/bin/env bash
# Builds the linux-x64-musl addon (Alpine) here, into npm/linux-x64-musl/, with Debian's second
# Rust toolchain: rustc-web ships no musl standard library, so it is built from source
# (rust-web-src, -Zbuild-std, allowed on a stable compiler by RUSTC_BOOTSTRAP=1) and linked
# with musl-tools' musl-gcc. A cdylib cannot be statically linked, so crt-static is off (as
# napi-rs builds musl addons). Installs what it needs when missing (root, Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-musl
need=()
[ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] || need+=(rustc-web cargo-web)
[ -d /usr/lib/rustlib/src/rust/library ] || need+=(rust-web-src)
command -v musl-gcc >/dev/null || need+=(musl-tools)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_LINKER=musl-gcc
export CC_x86_64_unknown_linux_musl=musl-gcc
# std unwinds through libgcc_s, which Debian's musl-tools does not ship: the link takes the
# system's (only its _Unwind_* names are used), and at run time the addon loads the libgcc_s of
# the musl system it runs on (Alpine's `libgcc`, which its nodejs package depends on).
# A fixed folder: the flags are part of cargo's fingerprint, and a new path would rebuild all.
export CARGO_TARGET_DIR=${LLMUX_CACHE:-$HOME/.cache/llmux}/musl-target
gcc_dir=$CARGO_TARGET_DIR/libgcc-link
mkdir -p "$gcc_dir"
ln -sf "$(gcc -print-file-name=libgcc_s.so.1)" "$gcc_dir/libgcc_s.so.1"
ln -sf "$(gcc -print-file-name=libgcc_s.so.1)" "$gcc_dir/libgcc_s.so"
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C target-feature=-crt-static -C link-arg=-L$gcc_dir"
t0=$SECONDS
/usr/bin/cargo build --release --locked -p llmux-node --target $target -Zbuild-std=std,panic_abort
out=npm/linux-x64-musl/llmux.linux-x64-musl.node
cp "$CARGO_TARGET_DIR/$target/release/libllmux.so" "$out"
echo "built $out ($(stat -c %s "$out") bytes) in $((SECONDS - t0)) s"
