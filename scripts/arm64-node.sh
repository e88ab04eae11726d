#!/usr/bin/env bash
# Runs an arm64 Node.js under user-mode emulation, for checking the linux-arm64-gnu addon on an
# x86_64 machine: `bash scripts/arm64-node.sh -e "..."`.
#
# The official arm64 Node builds hang under Debian's qemu-user 7.2 before running any script;
# Debian's own arm64 nodejs (18.x, built against the system's libraries) runs. Its packages and
# their dependencies are unpacked (not installed) into ~/.cache/llmux/arm64-node/root, which serves as
# the emulated root (`qemu-aarch64 -L`). Exits 3 when emulation cannot be had here.
set -euo pipefail
# The caller's folder stays the working folder (the script it runs is relative to it).
# Kept per machine, outside the checkout (like cargo's caches), so a fresh clone reuses it.
tools=${LLMUX_CACHE:-$HOME/.cache/llmux}/arm64-node
root=$tools/root
if ! command -v qemu-aarch64 >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user >/dev/null 2>&1 || exit 3
fi
if [ ! -x "$root/usr/bin/node" ]; then
  dpkg --print-foreign-architectures | grep -qx arm64 || { dpkg --add-architecture arm64 && apt-get update -qq; }
  mkdir -p "$tools/debs"
  pkgs=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances nodejs:arm64 \
    | grep -E '^[a-z0-9]' | sed 's/:arm64$//' | sort -u | grep -v -E '^(debconf|perl-base|dpkg|install-info)' || true)
  (cd "$tools/debs" && for p in $pkgs; do
    case $p in node-*|libjs-*) apt-get download -qq "$p" 2>/dev/null || true ;; *) apt-get download -qq "$p:arm64" 2>/dev/null || true ;; esac
  done)
  for d in "$tools"/debs/*.deb; do dpkg-deb -x "$d" "$root"; done
  [ -x "$root/usr/bin/node" ] || exit 3
fi
exec qemu-aarch64 -L "$root" "$root/usr/bin/node" "$@"
