#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Regenerate kernel/patches and the overlay files from a kernel work tree.
#
#   kernel/mkseries.sh [--force] <worktree>
#
# <worktree> is a git tree of /usr/src/linux-source-6.12.tar.xz whose
# pristine state is committed as "base" (a tag or branch named base, or
# else the root commit, whose subject must be "base") with the series
# committed on top. Then:
#   - kernel/patches/*.patch := git format-patch base..HEAD
#     (exactly what kernel/test.sh exports and compares);
#   - the overlay is refreshed from the tree: every file the series adds,
#     arch/s390/include/uapi/asm/kvm.h (-> kernel/include/uapi/asm/kvm.h),
#     and any other overlay file that already exists;
#   - overlay files whose tree file the series no longer changes are removed.
# It refuses to drop a patch from kernel/patches whose subject is not in
# the work tree's series (e.g. someone else's 0005 not yet `git am`ed
# there) unless --force is given. The work tree must have no uncommitted
# changes to tracked files.
set -euo pipefail

export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export LC_ALL=C.UTF-8

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KDIR=$SCRIPT_DIR
FORCE=0

die() { echo "mkseries.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--force) FORCE=1; shift ;;
	-h|--help) sed -n '3,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || die "usage: mkseries.sh [--force] <worktree>"
WT=$(cd "$1" && pwd) || die "no such directory: $1"
git -C "$WT" rev-parse --git-dir >/dev/null 2>&1 || die "$WT is not a git tree"
[ -f "$WT/arch/s390/kvm/kvm-s390.c" ] || die "$WT is not a kernel tree"

if base=$(git -C "$WT" rev-parse -q --verify 'base^{commit}'); then
	:
else
	roots=$(git -C "$WT" rev-list --max-parents=0 HEAD)
	[ "$(wc -l <<<"$roots")" -eq 1 ] || die "no 'base' ref and several root commits"
	base=$roots
	[ "$(git -C "$WT" log -1 --format=%s "$base")" = base ] ||
		die "no 'base' ref and the root commit's subject is not 'base'"
fi
n=$(git -C "$WT" rev-list --count "$base"..HEAD)
[ "$n" -gt 0 ] || die "no commits on top of base"
[ "$(git -C "$WT" rev-list --merges --count "$base"..HEAD)" -eq 0 ] ||
	die "the series has merge commits"
git -C "$WT" diff --quiet HEAD -- ||
	die "$WT has uncommitted changes to tracked files; commit them first"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git -C "$WT" -c core.abbrev=12 format-patch -q -o "$tmp" "$base"..HEAD

# do not silently drop someone else's patch
if [ $FORCE = 0 ]; then
	subjects=$(git -C "$WT" log --format=%s "$base"..HEAD)
	for old in "$KDIR"/patches/*.patch; do
		[ -e "$old" ] || continue
		subj=$(git mailinfo /dev/null /dev/null <"$old" | sed -n 's/^Subject: //p')
		grep -qxF -- "$subj" <<<"$subjects" && continue
		die "kernel/patches/$(basename "$old") ('$subj') is not in $WT's series; git am it there first, or use --force"
	done
fi

mkdir -p "$KDIR/patches"
rm -f "$KDIR"/patches/*.patch
cp "$tmp"/*.patch "$KDIR/patches/"

# shellcheck source=kernel/overlay.sh
. "$KDIR/overlay.sh"

changed=$(git -C "$WT" diff --name-only "$base"..HEAD)
# existing overlay files: refresh, or remove when the series no longer
# changes them
while IFS= read -r -d '' rel; do
	f=$KDIR/$rel
	t=$(overlay_to_tree "$rel")
	if grep -qxF "$t" <<<"$changed" && [ -f "$WT/$t" ]; then
		cp "$WT/$t" "$f"
	else
		echo "removing kernel/$rel (the series does not change $t)"
		rm -f "$f"
	fi
done < <(overlay_files "$KDIR")
# new files and the UAPI header
{
	git -C "$WT" diff --name-only --diff-filter=A "$base"..HEAD
	grep -xF arch/s390/include/uapi/asm/kvm.h <<<"$changed" || true
} | while IFS= read -r t; do
	[ -n "$t" ] || continue
	o=$KDIR/$(tree_to_overlay "$t")
	mkdir -p "$(dirname "$o")"
	cp "$WT/$t" "$o"
done
find "$KDIR" -mindepth 1 -type d -empty -delete

echo "kernel/patches: $n patches from $WT ($(git -C "$WT" rev-parse --short "$base")..HEAD):"
(cd "$KDIR/patches" && ls)
echo "overlay refreshed; review with: git -C '$KDIR/..' status -- kernel"
