#!/bin/bash
# Build the series' s390x kernel that tests/apbus boots under
# qemu-system-s390x: Debian's linux-source-6.12, kernel/patches applied,
# allnoconfig + tests/apbus/kernel.config (AP, ZCRYPT, VFIO_AP, KVM built
# in; the apmatrix driver as the module ap_matrix_drv.ko), and the test
# module tests/apbus/vmtest (apmatrix_vmtest.ko, fake VMs on the real SET
# path) built out of tree against it.
#
# Cached in build/apbus/kernel: rebuilt only when kernel/patches, the config
# fragment or this script change (the stamp is their hash); the test module
# is rebuilt by make when its source changed. Runs at nice 10.
# Leaves build/apbus/kernel/{bzImage,ap_matrix_drv.ko,apmatrix_vmtest.ko};
# prints the path of the bzImage on its last line.
#
#   tests/apbus/kernel.sh [--force]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$ROOT/build/apbus/kernel
SRC=$OUT/src
TARBALL=/usr/src/linux-source-6.12.tar.xz
FRAG=$ROOT/tests/apbus/kernel.config
JOBS=${JOBS:-$(nproc)}
KMAKE=(nice -n 10 make -C "$SRC" ARCH=s390 CROSS_COMPILE=s390x-linux-gnu- -j"$JOBS")

die() { echo "tests/apbus/kernel.sh: $*" >&2; exit 1; }

# what the build needs (in ./run's HOST_PACKAGES: ./run deps installs)
PKGS=(linux-source-6.12 gcc-s390x-linux-gnu bc flex bison libelf-dev
	libssl-dev make patch xz-utils)
missing=()
for p in "${PKGS[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] ||
	die "missing Debian packages: ${missing[*]} (run ./run deps)"
[ -r "$TARBALL" ] || die "$TARBALL missing (package linux-source-6.12)"
command -v s390x-linux-gnu-gcc >/dev/null || die "s390x-linux-gnu-gcc missing (package gcc-s390x-linux-gnu)"

# the test module, out of tree against the built kernel: its source is
# copied only when it changed, so that make rebuilds only then
build_vmtest() {
	local d=$OUT/vmtest f
	mkdir -p "$d"
	for f in "$ROOT"/tests/apbus/vmtest/{Kbuild,apmatrix_vmtest.c}; do
		cmp -s "$f" "$d/$(basename "$f")" || cp "$f" "$d/"
	done
	# W=1, and sparse when installed (kernel/test.sh's dependencies)
	local check=()
	command -v sparse >/dev/null && check=(C=1)
	"${KMAKE[@]}" M="$d" W=1 "${check[@]}" modules >"$OUT/vmtest.log" 2>&1 ||
		{ cat "$OUT/vmtest.log" >&2; die "the test module does not build (log: $OUT/vmtest.log)"; }
	if grep -E 'warning:|error:' "$OUT/vmtest.log" >&2; then
		die "the test module builds with warnings (log: $OUT/vmtest.log)"
	fi
	cp "$d/apmatrix_vmtest.ko" "$OUT/apmatrix_vmtest.ko"
}

key=$(cat "$ROOT"/kernel/patches/*.patch "$FRAG" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)
if [ "${1:-}" != --force ] && [ -f "$OUT/bzImage" ] &&
   [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$key" ]; then
	echo "kernel: cached ($key)"
	build_vmtest
	echo "$OUT/bzImage"
	exit 0
fi

t0=$SECONDS
rm -f "$OUT/bzImage" "$OUT/ap_matrix_drv.ko" "$OUT/.stamp"
# the tree: unpacked and patched again only when the series changed
tree=$(cat "$ROOT"/kernel/patches/*.patch | sha256sum | cut -c1-16)
if [ "${1:-}" = --force ] || [ "$(cat "$SRC/.apbus-tree" 2>/dev/null)" != "$tree" ]; then
	if [ -e "$SRC" ]; then
		mv "$SRC" "$OUT/src.old.$$"
		(nice -n 19 rm -rf "$OUT/src.old.$$" >/dev/null 2>&1 &)
	fi
	mkdir -p "$SRC"
	echo "kernel: unpacking linux-source-6.12"
	nice -n 10 tar xf "$TARBALL" -C "$SRC" --strip-components=1
	for p in "$ROOT"/kernel/patches/*.patch; do
		patch -d "$SRC" -p1 -s --forward <"$p" >"$OUT/patch.log" 2>&1 ||
			{ cat "$OUT/patch.log" >&2; die "$(basename "$p") does not apply"; }
	done
	echo "$tree" >"$SRC/.apbus-tree"
	echo "kernel: $(ls "$ROOT"/kernel/patches/*.patch | wc -l) patches applied"
fi
"${KMAKE[@]}" KCONFIG_ALLCONFIG="$FRAG" allnoconfig >"$OUT/config.log" 2>&1 ||
	{ tail -20 "$OUT/config.log" >&2; die "allnoconfig failed"; }
# every option of the fragment must have come through
bad=0
while IFS= read -r line; do
	case $line in CONFIG_*=n) opt=${line%%=*}
		grep -q "^$opt=" "$SRC/.config" && { echo "kernel: $opt is set" >&2; bad=1; } ;;
	CONFIG_*) grep -qx "$line" "$SRC/.config" ||
		{ echo "kernel: $line did not make it into .config" >&2; bad=1; } ;;
	esac
done <"$FRAG"
[ $bad = 0 ] || die "the config fragment is not satisfiable"
echo "kernel: building bzImage and modules (nice 10, -j$JOBS)"
"${KMAKE[@]}" bzImage modules >"$OUT/build.log" 2>&1 ||
	{ grep -m20 -B2 -A5 'error' "$OUT/build.log" >&2 || tail -30 "$OUT/build.log" >&2; die "kernel build failed (log: $OUT/build.log)"; }
cp "$SRC/arch/s390/boot/bzImage" "$OUT/bzImage"
cp "$SRC/drivers/s390/crypto/ap_matrix_drv.ko" "$OUT/ap_matrix_drv.ko"
echo "$key" >"$OUT/.stamp"
echo "kernel: built in $((SECONDS - t0)) s"
rm -rf "$OUT/vmtest"
build_vmtest
echo "$OUT/bzImage"
