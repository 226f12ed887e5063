#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# apmatrix kernel pipeline: apply kernel/patches to a pristine Debian
# linux-source-6.12 tree and check the series end to end.
#
#   kernel/test.sh            everything (what `./run test` calls)
#   kernel/test.sh --quick    skip the PROVE_LOCKING KUnit run and shape B
#                             (all-modules build, modpost, modinfo)
#
# Environment:
#   KBUILD_DIR   build directory (default: <repo>/build/kernel, git-ignored);
#                wiped and recreated on every run.
#   JOBS         make/kunit jobs (default: nproc)
#   NO_APT=1     never call apt-get; fail if a package is missing.
#
# Steps (each one fails the run with a message naming what failed):
#   deps        required Debian packages are installed (apt-get if missing)
#   tree        pristine tree unpacked, committed as "base", `git am` of
#               every kernel/patches/*.patch in order
#   overlay     every overlay file under kernel/ is byte-identical to the
#               tree file it maps to; every file the series adds is in the
#               overlay; every overlay file is changed by the series
#   checkpatch  scripts/checkpatch.pl --strict: 0 errors/warnings/checks
#   export      git format-patch base..HEAD == kernel/patches
#   kunit       shape A (KVM, AP, ZCRYPT, VFIO_AP, S390_AP_MATRIX built in):
#               kunit.py run; the "apmatrix" suite ran with N > 0 tests,
#               all passed; no kernel WARNING/BUG in the log
#   w1-sparse   W=1 C=2 (sparse) on the objects of the touched .c files:
#               no warning in a touched file
#   lockdep     the same KUnit run with PROVE_LOCKING and
#               DEBUG_ATOMIC_SLEEP: passes and lockdep stays silent
#   shape-b     KVM, AP, ZCRYPT, VFIO, VFIO_AP, S390_AP_MATRIX all =m on a
#               small config; CONFIG_UAPI_HEADER_TEST (every UAPI header,
#               ours included, compiled by the s390x cross compiler against
#               glibc); vmlinux + modules with a clean modpost; kvm.ko does
#               not depend on ap.ko; ap_matrix_drv.ko depends on kvm and ap
set -Eeuo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
KDIR=$REPO/kernel
BUILD=${KBUILD_DIR:-$REPO/build/kernel}
JOBS=${JOBS:-$(nproc)}
TARBALL=/usr/src/linux-source-6.12.tar.xz
CROSS=s390x-linux-gnu-
QUICK=0

usage() {
	sed -n '3,16p' "$0" | sed 's/^# \{0,1\}//'
}

for arg in "$@"; do
	case $arg in
	--quick) QUICK=1 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "test.sh: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
	esac
done

# Git output must not depend on the caller's ~/.gitconfig (diff prefixes,
# signatures, hooks): the exported series is compared byte for byte.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export LC_ALL=C.UTF-8 TZ=UTC

START=$SECONDS
STEP=setup
STEP_START=$SECONDS
declare -a SUMMARY=()

fail() {
	echo >&2
	echo "test.sh: FAILED in step '$STEP': $*" >&2
	exit 1
}
trap 'echo "test.sh: FAILED in step '\''$STEP'\'': \"$BASH_COMMAND\" exited $? (line $LINENO)" >&2' ERR

end_step() {
	if [ "$STEP" != setup ]; then
		local dt=$((SECONDS - STEP_START))
		SUMMARY+=("$(printf '%-11s %5ss  %s' "$STEP" "$dt" "${STEP_NOTE:-ok}")")
		echo "=== $STEP: done in ${dt}s"
	fi
}

step() {
	end_step
	STEP=$1
	STEP_NOTE=
	STEP_START=$SECONDS
	echo
	echo "=== [$(printf '%4d' $((SECONDS - START)))s] $1: $2"
}

KMAKE=(make -C "$BUILD/src" ARCH=s390 CROSS_COMPILE=$CROSS -j"$JOBS")

#
# deps
#
step deps "required packages"
PKGS=(linux-source-6.12 gcc-s390x-linux-gnu libc6-dev-s390x-cross
      qemu-system-misc sparse bc flex bison libelf-dev libssl-dev kmod cpio
      python3 python3-ply python3-git git xz-utils rsync perl make gcc
      libc6-dev)
missing=()
for p in "${PKGS[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	[ "${NO_APT:-0}" = 1 ] && fail "missing packages (NO_APT=1): ${missing[*]}"
	SUDO=
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || fail "missing packages and no root/sudo: ${missing[*]}"
		SUDO=sudo
	fi
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
		fail "apt-get update"
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${missing[@]}" ||
		fail "apt-get install ${missing[*]}"
fi
[ -r "$TARBALL" ] || fail "$TARBALL not found (package linux-source-6.12)"
shopt -s nullglob
PATCHES=("$KDIR"/patches/*.patch)
shopt -u nullglob
[ ${#PATCHES[@]} -gt 0 ] || fail "no patches in $KDIR/patches"
STEP_NOTE="${#PATCHES[@]} patches"

#
# tree
#
step tree "pristine tree + git am kernel/patches"
case $BUILD in /|"$REPO"|"$KDIR") fail "refusing to use KBUILD_DIR=$BUILD" ;; esac
if [ -e "$BUILD" ]; then
	# a previous run: move it aside at once, delete it in the background
	old=$BUILD.old.$$
	mv "$BUILD" "$old"
	(nice -n 19 rm -rf "$old" >/dev/null 2>&1 &)
fi
mkdir -p "$BUILD/src" "$BUILD/logs" "$BUILD/bin"
# Debian's python3 (with python3-ply, python3-git for checkpatch's
# spdxcheck.py) even if a pyenv/venv python3 comes first in PATH
if [ -x /usr/bin/python3 ]; then
	ln -s /usr/bin/python3 "$BUILD/bin/python3"
	export PATH=$BUILD/bin:$PATH
fi
tar xf "$TARBALL" -C "$BUILD/src" --strip-components=1 ||
	fail "unpacking $TARBALL"
cd "$BUILD/src"
git init -q
git config user.name "apmatrix developers"
git config user.email apmatrix@example.org
git config core.autocrlf false
# The "base" commit holds only the pristine versions of the files the
# series touches: committing all 80,000 files costs minutes on a loaded
# 2-core machine and changes nothing that is checked here. A patch's
# bytes depend only on the blobs of the files it touches, so
# format-patch gives the same output as from a full tree; the rest of the
# tree is on disk, untracked, for checkpatch and the builds. (-f: Debian's
# top-level .gitignore ignores "/*".) LICENSES/ is committed too:
# checkpatch's spdxcheck.py reads it from HEAD.
git add -f LICENSES
mapfile -t base_files < <(sed -n 's|^diff --git a/\([^ ]*\) b/.*|\1|p' "${PATCHES[@]}" | sort -u)
for f in "${base_files[@]}"; do
	if [ -e "$f" ]; then git add -f -- "$f"; fi
done
git commit -q --allow-empty -m base
git tag base
for p in "${PATCHES[@]}"; do
	echo "applying $(basename "$p")"
	if ! git am -q --keep-cr "$p" >"$BUILD/logs/am.log" 2>&1; then
		cat "$BUILD/logs/am.log" >&2
		git am --abort >/dev/null 2>&1 || true
		fail "patch $(basename "$p") does not apply"
	fi
done
git log --oneline base..HEAD

#
# overlay
#
step overlay "overlay files == tree, series' new files in overlay"
# shellcheck source=kernel/overlay.sh
. "$KDIR/overlay.sh"
errors=0
nover=0
changed=$(git diff --name-only base..HEAD)
while IFS= read -r -d '' rel; do
	f=$KDIR/$rel
	t=$(overlay_to_tree "$rel")
	nover=$((nover + 1))
	if [ ! -f "$t" ]; then
		echo "overlay kernel/$rel: tree has no $t" >&2
		errors=$((errors + 1))
	elif ! cmp -s "$f" "$t"; then
		echo "overlay kernel/$rel differs from what the series puts in $t:" >&2
		diff -u "$t" "$f" | head -40 >&2 || true
		errors=$((errors + 1))
	elif ! grep -qxF "$t" <<<"$changed"; then
		echo "overlay kernel/$rel: $t is not changed by the series" >&2
		errors=$((errors + 1))
	fi
done < <(overlay_files "$KDIR")
while IFS= read -r t; do
	[ -n "$t" ] || continue
	o=$(tree_to_overlay "$t")
	if [ ! -f "$KDIR/$o" ]; then
		echo "the series adds $t but the overlay has no kernel/$o" >&2
		errors=$((errors + 1))
	fi
done < <(git diff --name-only --diff-filter=A base..HEAD)
[ $errors -eq 0 ] || fail "$errors overlay mismatch(es), see above"
echo "$nover overlay files match the tree"
STEP_NOTE="$nover files"

#
# checkpatch
#
step checkpatch "scripts/checkpatch.pl --strict on every patch"
# One known false positive is allowed, and only that: BIT_MACRO ("Prefer
# using the BIT macro") on an arch/*/include/uapi/ header. BIT() is not
# exported to userspace; checkpatch exempts include/uapi/ but not the
# arch UAPI directories, and arch/s390/include/uapi/asm/kvm.h spells all
# its flags as (1 << n).
bad=0
for p in "${PATCHES[@]}"; do
	out=$BUILD/logs/checkpatch-$(basename "$p" .patch).log
	./scripts/checkpatch.pl --strict --show-types --no-summary "$p" >"$out" 2>&1 || true
	n=$(python3 - "$out" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding='utf-8', errors='replace').read()
# blocks are separated by blank lines; each starts with TYPE:KIND: message
count = 0
for block in re.split(r'\n\s*\n', text):
    m = re.match(r'\s*(ERROR|WARNING|CHECK):(\w+):', block)
    if not m:
        if re.search(r'Traceback|ERROR|WARNING', block):
            count += 1	# tool failure (e.g. spdxcheck crashed)
        continue
    f = re.search(r'FILE: (\S+):', block)
    if (m.group(1) == 'CHECK' and m.group(2) == 'BIT_MACRO' and f and
            re.match(r'arch/[^/]+/include/uapi/', f.group(1))):
        continue
    count += 1
print(count)
EOF
)
	if [ "$n" -ne 0 ]; then
		echo "--- $(basename "$p"): $n issue(s)" >&2
		cat "$out" >&2
		bad=$((bad + 1))
	else
		echo "$(basename "$p"): clean"
	fi
done
[ $bad -eq 0 ] || fail "checkpatch --strict found issues in $bad patch(es), see above"

#
# export
#
step export "git format-patch base..HEAD == kernel/patches"
# The first line of a format-patch file is "From <sha1> Mon Sep 17 00:00:00
# 2001": the sha1 of the commit, which depends on the committer date and
# the parent (our "base" commit is made fresh on every run), so it can
# never match. Every other byte must: subject numbering, headers, body,
# diff, index lines and the git version signature. Index lines use
# core.abbrev=12 (as the kernel's submitting-patches asks) in both
# scripts: git's default abbreviation grows with the number of objects in
# the repository, so a work tree and this fresh tree would differ.
git -c core.abbrev=12 format-patch -q -o "$BUILD/series" base..HEAD
mapfile -t exp < <(cd "$BUILD/series" && ls)
mapfile -t have < <(cd "$KDIR/patches" && ls -- *.patch)
[ "${exp[*]}" = "${have[*]}" ] ||
	fail "file names differ: format-patch gives '${exp[*]}', kernel/patches has '${have[*]}'"
FROM_RE='^From [0-9a-f]{40} Mon Sep 17 00:00:00 2001$'
for f in "${exp[@]}"; do
	[[ $(head -1 "$BUILD/series/$f") =~ $FROM_RE ]] ||
		fail "$f: unexpected first line in the export"
	[[ $(head -1 "$KDIR/patches/$f") =~ $FROM_RE ]] ||
		fail "kernel/patches/$f: first line is not a format-patch 'From <sha1>' line"
	if ! cmp -s <(tail -n +2 "$BUILD/series/$f") <(tail -n +2 "$KDIR/patches/$f"); then
		diff -u "$KDIR/patches/$f" "$BUILD/series/$f" | head -40 >&2 || true
		fail "kernel/patches/$f is not what git format-patch exports (run kernel/mkseries.sh)"
	fi
done
echo "${#exp[@]} patches identical to git format-patch output (first line aside)"

#
# KUnit helpers
#
# kunit_run <name> <builddir> [kunit.py args...]
kunit_run() {
	local name=$1 dir=$2
	shift 2
	local log=$BUILD/logs/kunit-$name.log
	if ! python3 tools/testing/kunit/kunit.py run --arch=s390 \
		--cross_compile=$CROSS \
		--kunitconfig=arch/s390/kvm/.kunitconfig \
		--build_dir="$dir" --jobs="$JOBS" \
		--json="$dir/results.json" "$@" 2>&1 | tee "$log"; then
		fail "kunit.py run ($name) failed, log: $log, kernel log: $dir/test.log"
	fi
}

# kunit_count <builddir>: prints "<pass> <total>" of the apmatrix suite
kunit_count() {
	python3 - "$1/results.json" <<'EOF'
import json, sys
root = json.load(open(sys.argv[1]))
def find(g):
    if g.get('name') == 'apmatrix':
        return g
    for s in g.get('sub_groups', []):
        r = find(s)
        if r:
            return r
    return None
def cases(g):
    c = list(g.get('test_cases', []))
    for s in g.get('sub_groups', []):
        c += cases(s)
    return c
s = find(root)
if s is None:
    print('0 0')
else:
    c = cases(s)
    print(sum(1 for t in c if t['status'] == 'PASS'), len(c))
EOF
}

# kunit_check <name> <builddir>
kunit_check() {
	local name=$1 dir=$2 pass total
	read -r pass total < <(kunit_count "$dir")
	[ "$total" -gt 0 ] || fail "KUnit ($name): the apmatrix suite did not run"
	[ "$pass" -eq "$total" ] ||
		fail "KUnit ($name): apmatrix suite passed $pass of $total"
	# a kernel splat fails the run even if every test passed
	if grep -nE 'WARNING:|BUG:|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|sleeping function called from invalid context|Unable to handle kernel|Kernel panic|general protection|Call Trace:' \
		"$dir/test.log" >"$BUILD/logs/splat-$name.txt"; then
		cat "$BUILD/logs/splat-$name.txt" >&2
		fail "KUnit ($name): kernel warning/BUG/lockdep report in $dir/test.log"
	fi
	echo "apmatrix suite: $pass/$total tests passed"
	STEP_NOTE="apmatrix $pass/$total passed"
	KUNIT_RESULT+=("$name: apmatrix $pass/$total passed")
	# for ./run's "N passed, N failed" total
	echo "$name $pass $total" >>"$BUILD/kunit-counts"
}
declare -a KUNIT_RESULT=()
rm -f "$BUILD/kunit-counts"

#
# kunit (shape A)
#
step kunit "KUnit, shape A (all built in)"
kunit_run shape-a "$BUILD/kunit-a"
kunit_check shape-a "$BUILD/kunit-a"

#
# W=1 + sparse on the touched objects (shape A build dir)
#
step w1-sparse "W=1 C=2 (sparse) on the touched objects"
mapfile -t touched < <(git diff --name-only base..HEAD -- '*.c' '*.h')
objs=()
for f in "${touched[@]}"; do
	case $f in
	*.c)
		o=${f%.c}.o
		# only objects that shape A builds (built-in or module)
		if [ -f "$BUILD/kunit-a/$o" ]; then
			objs+=("$o")
		else
			echo "note: $o is not built in shape A, not checked here"
		fi
		;;
	esac
done
[ ${#objs[@]} -gt 0 ] || fail "no touched object is built in shape A"
echo "objects: ${objs[*]}"
# Force a rebuild of exactly these objects with W=1 and sparse.
for o in "${objs[@]}"; do rm -f "$BUILD/kunit-a/$o"; done
w1log=$BUILD/logs/w1-sparse.log
"${KMAKE[@]}" O="$BUILD/kunit-a" W=1 C=2 "${objs[@]}" >"$w1log" 2>&1 ||
	{ cat "$w1log" >&2; fail "W=1 C=2 build of ${objs[*]}"; }
pat=$(printf '%s\n' "${touched[@]}" | sed 's/[.]/\\./g' | paste -sd'|')
if grep -E "($pat):[0-9]+(:[0-9]+)?: (warning|error)" "$w1log" >"$BUILD/logs/w1-hits.txt" ||
	grep -E "^(warning|error):.*($pat)" "$w1log" >>"$BUILD/logs/w1-hits.txt"; then
	cat "$BUILD/logs/w1-hits.txt" >&2
	fail "W=1/sparse warnings in touched files (full log: $w1log)"
fi
echo "no W=1 or sparse warning in: ${touched[*]}"
STEP_NOTE="${#objs[@]} objects clean"

#
# uapi: our header, as installed by `make headers`, compiled for s390x
#
step uapi "installed asm/kvm.h, asm/apmatrix.h: layouts and numbers"
"${KMAKE[@]}" O="$BUILD/kunit-a" headers >"$BUILD/logs/headers.log" 2>&1 ||
	{ cat "$BUILD/logs/headers.log" >&2; fail "make headers"; }
cat >"$BUILD/logs/uapi-test.c" <<'EOF'
#include <stddef.h>
#include <linux/kvm.h>
#include <asm/kvm.h>
#include <asm/apmatrix.h>

_Static_assert(KVM_S390_VM_CRYPTO_SET_AP_MATRIX == 6, "attribute number");
_Static_assert(KVM_S390_VM_CRYPTO_DISABLE_APIE == 5, "previous attribute");
_Static_assert(sizeof(struct kvm_s390_ap_matrix) == 136, "size");
_Static_assert(offsetof(struct kvm_s390_ap_matrix, apm) == 0, "apm");
_Static_assert(offsetof(struct kvm_s390_ap_matrix, aqm) == 32, "aqm");
_Static_assert(offsetof(struct kvm_s390_ap_matrix, adm) == 64, "adm");
_Static_assert(offsetof(struct kvm_s390_ap_matrix, flags) == 96, "flags");
_Static_assert(offsetof(struct kvm_s390_ap_matrix, grant_fd) == 100, "grant_fd");
_Static_assert(offsetof(struct kvm_s390_ap_matrix, reserved) == 104, "reserved");
_Static_assert(KVM_S390_AP_MATRIX_VALIDATE_ONLY == 1, "VALIDATE_ONLY");
_Static_assert(KVM_S390_AP_MATRIX_RESET == 2, "RESET");
_Static_assert(KVM_S390_AP_MATRIX_GRANT == 4, "GRANT");
_Static_assert(sizeof(struct apmatrix_grant) == 136, "grant size");
_Static_assert(offsetof(struct apmatrix_grant, flags) == 96, "grant flags");
_Static_assert(APMATRIX_CREATE_GRANT == 0x4088b901, "APMATRIX_CREATE_GRANT");

int main(void)
{
	struct kvm_s390_ap_matrix m = { .flags = KVM_S390_AP_MATRIX_VALIDATE_ONLY };

	return (int)m.flags - 1;
}
EOF
for std in c11 gnu11; do
	${CROSS}gcc -std=$std -Wall -Wextra -Werror -pedantic \
		-isystem "$BUILD/kunit-a/usr/include" -c "$BUILD/logs/uapi-test.c" \
		-o "$BUILD/logs/uapi-test-$std.o" ||
		fail "installed asm/kvm.h does not compile (-std=$std) or has the wrong layout"
done
echo "struct kvm_s390_ap_matrix: 136 bytes, offsets 0/32/64/96/100/104, flags 1/2/4; struct apmatrix_grant: 136 bytes"

if [ $QUICK = 0 ]; then
	#
	# lockdep
	#
	step lockdep "KUnit again with PROVE_LOCKING and DEBUG_ATOMIC_SLEEP"
	kunit_run lockdep "$BUILD/kunit-lockdep" \
		--kconfig_add CONFIG_PROVE_LOCKING=y \
		--kconfig_add CONFIG_DEBUG_ATOMIC_SLEEP=y
	grep -q '^CONFIG_PROVE_LOCKING=y' "$BUILD/kunit-lockdep/.config" ||
		fail "PROVE_LOCKING did not stick in $BUILD/kunit-lockdep/.config"
	kunit_check lockdep "$BUILD/kunit-lockdep"

	#
	# shape B + UAPI header test
	#
	step shape-b "all as modules: UAPI header test, vmlinux + modules, modpost, modinfo"
	B=$BUILD/shape-b
	mkdir -p "$B"
	cat >"$B/fragment.config" <<'EOF'
CONFIG_MODULES=y
CONFIG_MODULE_UNLOAD=y
CONFIG_VIRTUALIZATION=y
CONFIG_KVM=m
CONFIG_AP=m
CONFIG_CRYPTO=y
CONFIG_CRYPTO_HW=y
CONFIG_ZCRYPT=m
CONFIG_VFIO=m
CONFIG_VFIO_AP=m
CONFIG_S390_AP_MATRIX=m
CONFIG_HEADERS_INSTALL=y
CONFIG_UAPI_HEADER_TEST=y
EOF
	"${KMAKE[@]}" O="$B" KCONFIG_ALLCONFIG="$B/fragment.config" allnoconfig \
		>"$BUILD/logs/shape-b-config.log" 2>&1 ||
		{ cat "$BUILD/logs/shape-b-config.log" >&2; fail "allnoconfig for shape B"; }
	errors=0
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		grep -qxF "$line" "$B/.config" || {
			echo "shape B .config lacks $line" >&2
			errors=$((errors + 1))
		}
	done <"$B/fragment.config"
	[ $errors -eq 0 ] || fail "shape B config (CC_CAN_LINK false? libc6-dev-s390x-cross missing?)"
	grep -q '^CONFIG_CC_CAN_LINK=y' "$B/.config" || fail "CC_CAN_LINK is not set"
	blog=$BUILD/logs/shape-b-build.log
	echo "UAPI header test (make usr/)"
	"${KMAKE[@]}" O="$B" usr/ >"$blog" 2>&1 ||
		{ tail -60 "$blog" >&2; fail "CONFIG_UAPI_HEADER_TEST (make usr/), log: $blog"; }
	[ -f "$B/usr/include/asm/kvm.hdrtest" ] ||
		fail "UAPI header test did not compile asm/kvm.h"
	[ -f "$B/usr/include/asm/apmatrix.hdrtest" ] ||
		fail "UAPI header test did not compile asm/apmatrix.h"
	echo "vmlinux + modules"
	"${KMAKE[@]}" O="$B" all >>"$blog" 2>&1 ||
		{ tail -60 "$blog" >&2; fail "shape B build, log: $blog"; }
	if grep -E '(WARNING|ERROR): modpost' "$blog" >&2; then
		fail "modpost is not clean (log: $blog)"
	fi
	if grep -E "($pat):[0-9]+(:[0-9]+)?: (warning|error)" "$blog" >&2; then
		fail "compiler warnings in touched files in shape B (log: $blog)"
	fi
	kvm_deps=$(modinfo -F depends "$B/arch/s390/kvm/kvm.ko") ||
		fail "modinfo kvm.ko"
	drv_deps=$(modinfo -F depends "$B/drivers/s390/crypto/ap_matrix_drv.ko") ||
		fail "modinfo ap_matrix_drv.ko"
	echo "kvm.ko depends: '$kvm_deps'"
	echo "ap_matrix_drv.ko depends: '$drv_deps'"
	if [[ ",$kvm_deps," == *,ap,* ]]; then
		fail "kvm.ko depends on ap.ko"
	fi
	for d in kvm ap; do
		[[ ",$drv_deps," == *",$d,"* ]] ||
			fail "ap_matrix_drv.ko does not depend on $d"
	done
	STEP_NOTE="kvm.ko deps '$kvm_deps'; ap_matrix_drv deps '$drv_deps'"
fi

end_step
trap - ERR
echo
echo "=== summary (total $((SECONDS - START))s, jobs $JOBS$([ $QUICK = 1 ] && echo ', --quick'))"
printf '  %s\n' "${SUMMARY[@]}"
for r in "${KUNIT_RESULT[@]}"; do echo "  KUnit $r"; done
echo "=== kernel/test.sh: PASS"
