#!/usr/bin/env bash
# Installs what swift-optim needs beyond the Swift toolchain, only where it is missing:
# hwloc's headers and library (Debian: libhwloc-dev), which the topology-aware trainer links;
# zlib's (zlib1g-dev), which reading .npz archives needs; and pkg-config, through which SwiftPM
# finds them. Safe to run again; quiet when all is there.
set -euo pipefail

missing=()
dpkg -s libhwloc-dev >/dev/null 2>&1 || missing+=(libhwloc-dev)
dpkg -s zlib1g-dev >/dev/null 2>&1 || missing+=(zlib1g-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
