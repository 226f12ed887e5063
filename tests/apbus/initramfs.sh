#!/bin/bash
# The initramfs tests/apbus boots: Debian's s390x busybox-static and IBM's
# lszcrypt/chzcrypt (s390-tools) from the project's s390x sysroot
# (build/s390x-sysroot, ./run sysroot), the project's s390x apmatrix-ctl
# (build/s390x), their shared libraries, tests/apbus/init, the modules
# tests/apbus/kernel.sh built (the apmatrix driver ap_matrix_drv.ko, the
# test module apmatrix_vmtest.ko: /modules) and tests/apbus/vmtest/fakevm
# (built here, static).
#
#   tests/apbus/initramfs.sh OUT.cpio.gz
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SYSROOT=$ROOT/build/s390x-sysroot
CTL=$ROOT/build/s390x/tools/apmatrix-ctl
KOUT=$ROOT/build/apbus/kernel
OUT=${1:?usage: initramfs.sh OUT.cpio.gz}

die() { echo "tests/apbus/initramfs.sh: $*" >&2; exit 1; }

[ -x "$SYSROOT/bin/busybox" ] || die "no busybox in $SYSROOT (./run sysroot; busybox-static is in SYSROOT_PACKAGES)"
[ -x "$SYSROOT/sbin/lszcrypt" ] || die "no lszcrypt in $SYSROOT (./run sysroot)"
[ -x "$CTL" ] || die "no $CTL (the s390x build: ./run test-user or meson compile -C build/s390x)"
for m in ap_matrix_drv apmatrix_vmtest; do
	[ -f "$KOUT/$m.ko" ] || die "no $KOUT/$m.ko (tests/apbus/kernel.sh)"
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/apbus-initramfs.XXXXXX")
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,lib,proc,sys,dev,tmp,run,modules}
cp "$KOUT/ap_matrix_drv.ko" "$KOUT/apmatrix_vmtest.ko" "$dir/modules/"
s390x-linux-gnu-gcc --sysroot="$SYSROOT" -static -O2 -Wall -Wextra -Werror \
	-o "$dir/usr/bin/fakevm" "$ROOT/tests/apbus/vmtest/fakevm.c" ||
	die "tests/apbus/vmtest/fakevm.c does not build"
cp "$SYSROOT/bin/busybox" "$dir/bin/busybox"
cp "$SYSROOT/sbin/lszcrypt" "$SYSROOT/sbin/chzcrypt" "$dir/sbin/"
cp "$CTL" "$dir/usr/bin/apmatrix-ctl"
install -m 0755 "$ROOT/tests/apbus/init" "$dir/init"

# shared libraries, recursively, from the s390x build and the sysroot
libdirs=("$ROOT/build/s390x/lib" "$SYSROOT/lib/s390x-linux-gnu"
	"$SYSROOT/usr/lib/s390x-linux-gnu")
declare -A seen=()
queue=("$dir/sbin/lszcrypt" "$dir/sbin/chzcrypt" "$dir/usr/bin/apmatrix-ctl")
while [ ${#queue[@]} -gt 0 ]; do
	f=${queue[0]}
	queue=("${queue[@]:1}")
	while read -r lib; do
		[ -n "${seen[$lib]:-}" ] && continue
		seen[$lib]=1
		found=
		for d in "${libdirs[@]}"; do
			if [ -e "$d/$lib" ]; then found=$d/$lib; break; fi
		done
		[ -n "$found" ] || die "$(basename "$f") needs $lib, found nowhere"
		cp -L "$found" "$dir/lib/$lib"
		queue+=("$dir/lib/$lib")
	done < <(s390x-linux-gnu-readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
done
cp -L "$SYSROOT/lib/ld64.so.1" "$dir/lib/ld64.so.1"
# apmatrix-ctl's RUNPATH is $ORIGIN/../lib
ln -s ../lib "$dir/usr/lib"

(cd "$dir" && find . | LC_ALL=C sort | cpio --quiet -o -H newc --owner=0:0) |
	gzip -9 >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "initramfs: $OUT ($(du -k "$OUT" | cut -f1) KiB; libs: ${!seen[*]})"
