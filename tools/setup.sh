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
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >&2
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# --mpi: Open MPI (openmpi-bin, libopenmpi-dev: 86 MB with gfortran), for `swift build --traits MPI`
# and tools/test_mpi.sh. Never needed by the two README commands' builds themselves.
if [ "${1:-}" = "--mpi" ]; then
    if ! command -v mpirun >/dev/null 2>&1 || ! pkg-config --exists ompi-c 2>/dev/null; then
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        echo "setup: installing Open MPI (openmpi-bin, libopenmpi-dev)" >&2
        export DEBIAN_FRONTEND=noninteractive
        $sudo apt-get update -qq >&2
        $sudo apt-get install -y -qq --no-install-recommends openmpi-bin libopenmpi-dev >&2
    fi
fi

# --tests: Python's safetensors (and numpy), in a virtual environment inside .build/, for the test
# that reads `optim train --save` files back with the reference implementation (never torch); and
# on x86-64 qemu's user-mode emulator (qemu-user), for the test that runs optim on an emulated CPU
# without AVX2 and FMA.
if [ "${1:-}" = "--tests" ]; then
    if [ "$(uname -m)" = "x86_64" ] && ! command -v qemu-x86_64 >/dev/null 2>&1; then
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        echo "setup: installing qemu-user" >&2
        export DEBIAN_FRONTEND=noninteractive
        $sudo apt-get update -qq >&2
        $sudo apt-get install -y -qq --no-install-recommends qemu-user >&2
    fi
    root="$(cd "$(dirname "$0")/.." && pwd)"
    venv="$root/.build/python-tools"
    if ! "$venv/bin/python" -c "import safetensors.numpy" >/dev/null 2>&1; then
        echo "setup: installing Python's safetensors into .build/python-tools" >&2
        mkdir -p "$root/.build"
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install -q safetensors numpy >&2
    fi
fi
