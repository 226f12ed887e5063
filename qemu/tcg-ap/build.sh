#!/usr/bin/env bash
# qemu-system-s390x with the TCG AP emulation (qemu/tcg-ap/*.patch) for
# this machine: Debian 12's QEMU 7.2 source (qemu/get-source.sh), the series
# applied with git am on the pristine base (independent of qemu/patches: no
# libapmatrix, no KVM), the smallest s390x-softmmu configuration.
#
#   qemu/tcg-ap/build.sh          build (cached), print the binary's path last
#   qemu/tcg-ap/build.sh test     build, then qemu/tcg-ap/tests/test_tcg_ap.py
#   qemu/tcg-ap/build.sh check    the series: git am on base + checkpatch.pl
#
# Cached: build/qemu-tcgap/qemu-system-s390x is rebuilt only when the series,
# the configure flags or this script change (the stamp is their hash).
# Source: build/qemu-src (shared with qemu/build.sh), the series in its own
# worktree build/qemu-tcgap-src. Runs at nice 10 with ninja -j2
# (QEMU_JOBS overrides).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=$ROOT/build
BASE=$B/qemu-src
SRC=$B/qemu-tcgap-src
DIR=$B/qemu-tcgap
SERIES=$ROOT/qemu/tcg-ap
JOBS=${QEMU_JOBS:-2}
CONFIGURE=(--target-list=s390x-softmmu --without-default-features
	--disable-docs --disable-install-blobs --disable-user --disable-tools
	--disable-debug-info --meson=meson)
# what building needs (all in ./run's HOST_PACKAGES: ./run deps installs)
# qemu-system-data: the s390-ccw firmware (the Debian source has no blobs)
HOST_PACKAGES=(dpkg-dev libglib2.0-dev libpixman-1-dev zlib1g-dev ninja-build
	meson python3-venv flex bison pkg-config binutils-s390x-linux-gnu
	qemu-system-data)

die() { echo "qemu/tcg-ap/build.sh: $*" >&2; exit 1; }
git_am() { git -C "$1" -c user.name="apmatrix developers" \
	-c user.email=apmatrix@example.org am -q "$SERIES"/*.patch; }

deps() {
	local missing=() p
	for p in "${HOST_PACKAGES[@]}"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] ||
		die "missing Debian packages: ${missing[*]} (run ./run deps)"
}

# the binary: series, configure flags, this script; the tree: the series
stamp_text() {
	{ cat "$SERIES"/*.patch "${BASH_SOURCE[0]}"; echo "${CONFIGURE[*]}"; } |
		sha256sum | cut -c1-16
}
series_text() { cat "$SERIES"/*.patch | sha256sum | cut -c1-16; }

base_tree() {
	git -C "$BASE" rev-parse -q --verify base >/dev/null 2>&1 && return 0
	echo "qemu/tcg-ap: fetching the QEMU source (qemu/get-source.sh)" >&2
	if [ "$(id -u)" -eq 0 ]; then
		"$ROOT/qemu/get-source.sh" "$BASE" >&2
	else
		sudo "$ROOT/qemu/get-source.sh" "$BASE" >&2
	fi
}

# the series on base in the worktree (skipped when that series is applied)
source_tree() {
	local id=$1 st=$SRC/.apmatrix-tcgap
	if [ -f "$st" ] && [ "$(cat "$st")" = "$id" ] && git -C "$SRC" diff --quiet HEAD; then
		return 0
	fi
	if [ ! -e "$SRC/.git" ]; then
		rm -rf "$SRC"
		git -C "$BASE" worktree prune
		git -C "$BASE" worktree add -q --detach "$SRC" base
	fi
	git -C "$SRC" checkout -q -f --detach base
	git -C "$SRC" clean -q -fdx
	git_am "$SRC" || { git -C "$SRC" am --abort || true; die "the series does not apply to base"; }
	echo "$id" >"$st"
}

cmd_build() {
	local id t0
	id=$(stamp_text)
	if [ -x "$DIR/qemu-system-s390x" ] && [ "$(cat "$DIR/.apmatrix-tcgap" 2>/dev/null)" = "$id" ]; then
		echo "qemu/tcg-ap: cached ($id)"
		echo "$DIR/qemu-system-s390x"
		return 0
	fi
	deps
	base_tree
	source_tree "$(series_text)"
	t0=$SECONDS
	if [ ! -f "$DIR/build.ninja" ] ||
	   [ "$(cat "$DIR/.configure" 2>/dev/null)" != "${CONFIGURE[*]}" ]; then
		rm -rf "$DIR"
		mkdir -p "$DIR"
		(cd "$DIR" && nice -n 10 "$SRC/configure" "${CONFIGURE[@]}" >configure.log 2>&1) ||
			{ tail -30 "$DIR/configure.log" >&2; die "configure failed"; }
		echo "${CONFIGURE[*]}" >"$DIR/.configure"
	fi
	rm -f "$DIR/.apmatrix-tcgap"
	nice -n 10 ninja -C "$DIR" -j"$JOBS" qemu-system-s390x >"$DIR/build.log" 2>&1 ||
		{ tail -40 "$DIR/build.log" >&2; die "build failed (log: $DIR/build.log)"; }
	echo "$id" >"$DIR/.apmatrix-tcgap"
	echo "qemu/tcg-ap: built in $((SECONDS - t0)) s"
	echo "$DIR/qemu-system-s390x"
}

cmd_check() {
	deps
	base_tree
	local tmp rc=0 p
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/tcgap-am.XXXXXX")
	git -C "$BASE" worktree add -q --detach "$tmp" base
	if git_am "$tmp"; then
		echo "git am: $(ls "$SERIES"/*.patch | wc -l) patches apply to base"
	else
		echo "git am: the series does not apply to base" >&2
		rc=1
	fi
	for p in "$SERIES"/*.patch; do
		if (cd "$tmp" && ./scripts/checkpatch.pl -q "$p" >/dev/null 2>&1); then
			echo "checkpatch: $(basename "$p"): clean"
		else
			(cd "$tmp" && ./scripts/checkpatch.pl "$p") || true
			rc=1
		fi
	done
	git -C "$BASE" worktree remove --force "$tmp"
	return $rc
}

case ${1:-build} in
build) cmd_build ;;
test) cmd_build >/dev/null
	python3 "$SERIES/tests/test_tcg_ap.py" --qemu "$DIR/qemu-system-s390x" ;;
check) cmd_check ;;
*) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
