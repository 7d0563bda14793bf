#!/usr/bin/env bash
# Builds `optim` to carry to a Linux machine that has no Swift toolchain (for example a many-core
# machine for `optim scale`): release, the Swift runtime and hwloc linked statically, stripped.
# What stays dynamic is in every glibc distribution with systemd: libc, libm, libstdc++,
# libgcc_s, libz, libudev (which Debian's static hwloc calls).
#
#   bash tools/build_device_binary.sh            # writes .build-device/optim and lists its libraries
#   .build-device/optim scale --workers 1,2,4,8,16 --repetitions 5
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash tools/setup.sh

libdir="$(pkg-config --variable=libdir hwloc)"
if [ ! -f "$libdir/libhwloc.a" ]; then
    echo "build_device_binary: no $libdir/libhwloc.a (Debian's libhwloc-dev ships it)" >&2
    exit 1
fi

# SwiftPM reads pkg-config files from PKG_CONFIG_PATH before the system's. These two put a
# directory holding only libhwloc.a first on the library path, so that -lhwloc (from the .pc and
# from the CHwloc module map) finds the archive; zlib's own file would put the system directory,
# and its libhwloc.so, first.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lib"
ln -s "$libdir/libhwloc.a" "$work/lib/libhwloc.a"
cat > "$work/hwloc.pc" <<EOF
Name: hwloc
Description: hwloc, linked statically
Version: $(pkg-config --modversion hwloc)
Cflags: $(pkg-config --cflags hwloc)
Libs: -L$work/lib -lhwloc -l:libudev.so.1 -lm -lpthread
EOF
cat > "$work/zlib.pc" <<EOF
Name: zlib
Description: zlib
Version: $(pkg-config --modversion zlib)
Cflags: $(pkg-config --cflags zlib)
Libs: -lz
EOF

# Its own build directory, relinked every time (SwiftPM does not see a changed .pc file).
rm -f .build-device/build/release/optim
PKG_CONFIG_PATH="$work" swift build -c release --static-swift-stdlib --product optim --build-path .build-device/build
cp .build-device/build/release/optim .build-device/optim
strip .build-device/optim

if ldd .build-device/optim | grep -q -e libhwloc -e libswift -e libFoundation; then
    echo "build_device_binary: the binary still links hwloc or the Swift runtime dynamically:" >&2
    ldd .build-device/optim >&2
    exit 1
fi
echo "wrote .build-device/optim ($(du -h .build-device/optim | cut -f1)); it needs:"
ldd .build-device/optim | awk '{print "  " $1}'
