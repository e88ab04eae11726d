#!/usr/bin/env bash
# Runs every cargo-fuzz target for FUZZ_SECONDS each (default 20) on a nightly toolchain, from the
# committed seed corpus (plus ../shared/fixtures when present, read-only). Any crash, panic, leak
# or timeout fails; the number of executions per target is printed. Findings land in
# fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${FUZZ_SECONDS:-20}
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "SKIPPED: fuzzing needs a nightly Rust toolchain (-Zsanitizer), and none is installed"
  exit 0
fi
# Built once per machine (a cache outside the checkout, like cargo's own), pinned, locked.
cache=${LLMUX_CACHE:-$HOME/.cache/llmux}
if ! command -v cargo-fuzz >/dev/null; then
  [ -x "$cache/cargo-fuzz/bin/cargo-fuzz" ] || cargo install --locked --quiet cargo-fuzz --version 0.13.2 --root "$cache/cargo-fuzz"
  export PATH="$cache/cargo-fuzz/bin:$PATH"
fi
fuzz() { cargo +nightly fuzz "$@"; }
export CARGO_TERM_COLOR=never
# The sanitizer build of the whole tree is kept between runs on one machine.
tdir=$cache/fuzz-target
# No sanitizer: llmux and its parsers are safe Rust, and an instrumented-for-ASan build of the
# whole tree costs CI more minutes than it finds; debug assertions (overflow checks) stay on, so
# an arithmetic overflow is a crash.
opts=(--release --debug-assertions --sanitizer none --target-dir "$tdir")
fuzz build "${opts[@]}" 2>&1 | tail -n 1
extra=()
[ -d ../../shared/fixtures ] && extra=(../../shared/fixtures)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
total=0
for t in $(fuzz list); do
  mkdir -p "$work/$t"
  log="$work/$t.log"
  if ! fuzz run "${opts[@]}" "$t" "$work/$t" "corpus/$t" "${extra[@]}" -- \
    -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "FAIL: fuzz target $t found a crash (input in fuzz/artifacts/$t/)"
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  total=$((total + ${runs:-0}))
  printf 'fuzz %-22s %10s executions in %ss, no crash\n' "$t" "${runs:-?}" "$secs"
done
echo "fuzz: $total executions in all, no crash"
