#!/usr/bin/env bash
# Builds the raftkv container image from this checkout, pulling nothing: FROM scratch, with the
# release binary and exactly the shared libraries `ldd` says it loads.
#
#   deploy/image/build.sh                      # cargo build --release, then image raftkv:latest
#   deploy/image/build.sh --tag raftkv:dev     # another tag
#   deploy/image/build.sh --binary PATH        # package a binary already built (tests do this)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tag=raftkv:latest
binary=
while [ $# -gt 0 ]; do
    case "$1" in
        --tag) tag=$2; shift 2 ;;
        --binary) binary=$2; shift 2 ;;
        -h|--help) sed -n '2,8p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "build.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done
if [ -z "$binary" ]; then
    (cd "$root" && cargo build --release --locked --bin raftkv)
    binary=$root/target/release/raftkv
fi
[ -x "$binary" ] || { echo "build.sh: no executable at $binary" >&2; exit 2; }

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
rootfs=$context/rootfs
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc/raftkv" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
cp "$binary" "$rootfs/usr/local/bin/raftkv"
# Debug info stays out of the image (function names stay, so a backtrace still names frames).
if command -v strip >/dev/null 2>&1; then
    strip --strip-debug "$rootfs/usr/local/bin/raftkv"
fi

# Every library the binary loads, at the path the dynamic loader finds it (symlinks followed).
# Lines look like `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` or
# `/lib64/ld-linux-x86-64.so.2 (0x...)`; the vDSO has no file.
libs=$(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
for lib in $libs; do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
done
if ldd "$binary" | grep -q "not found"; then
    echo "build.sh: the binary needs a library this machine lacks:" >&2
    ldd "$binary" | grep "not found" >&2
    exit 1
fi

printf 'root:x:0:0:root:/:/sbin/nologin\nraftkv:x:10001:10001:raftkv:/data:/sbin/nologin\n' \
    > "$rootfs/etc/passwd"
printf 'root:x:0:\nraftkv:x:10001:\n' > "$rootfs/etc/group"
# glibc's built-in files and DNS lookups: /etc/hosts, then the container's resolver.
printf 'hosts: files dns\n' > "$rootfs/etc/nsswitch.conf"
cp "$root/deploy/image/raftkv.toml" "$rootfs/etc/raftkv/raftkv.toml"

mkdir -p "$context/state/data" "$context/state/secret"
(cd "$context/state" && tar --owner=10001 --group=10001 --numeric-owner --mode=u=rwx,go= \
    -cf "$context/state.tar" data secret)
cp "$root/deploy/image/Dockerfile" "$context/Dockerfile"

echo "build.sh: packaging $(basename "$binary") with: $(echo "$libs" | xargs -n1 basename | xargs)"
docker build --quiet --tag "$tag" "$context" >/dev/null
echo "build.sh: built $tag ($(docker image inspect --format '{{.Size}}' "$tag") bytes)"
