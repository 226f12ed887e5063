#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Build IBM's lszcrypt from s390-tools 2.16.0 (the version of Debian
# bookworm's s390x sysroot) for this machine, for the list comparison of
# bench/run.sh: lszcrypt.c and the libutil it uses, -O2 -g like Debian's
# build flags. Prints the binary's path; exits 1 when there is no source.
#
#   bench/lszcrypt-native.sh OUTDIR
#   S390_TOOLS_SRC=DIR   an s390-tools 2.16.0 source tree, or a git
#                        repository with its tag v2.16.0; else
#                        `apt-get source s390-tools` is tried
set -eu
OUT=$1
BIN=$OUT/lszcrypt-native
[ -x "$BIN" ] && { echo "$BIN"; exit 0; }
W=$(mktemp -d /tmp/apmatrix-lszcrypt.XXXXXX)
trap 'rm -rf "$W"' EXIT
S=
if [ -n "${S390_TOOLS_SRC:-}" ] && [ -d "$S390_TOOLS_SRC" ]; then
	if git -C "$S390_TOOLS_SRC" rev-parse -q --verify v2.16.0 >/dev/null 2>&1; then
		mkdir "$W/src"
		git -C "$S390_TOOLS_SRC" archive v2.16.0 zconf/zcrypt libutil include | tar -x -C "$W/src"
		S=$W/src
	else
		S=$S390_TOOLS_SRC
	fi
elif command -v apt-get >/dev/null; then
	(cd "$W" && apt-get source -qq --download-only s390-tools >/dev/null 2>&1 &&
		dpkg-source -x s390-tools_2.16.0*.dsc src >/dev/null 2>&1) || true
	[ -d "$W/src" ] && S=$W/src
fi
[ -n "$S" ] && [ -f "$S/zconf/zcrypt/lszcrypt.c" ] || {
	echo "lszcrypt-native: no s390-tools 2.16.0 source (S390_TOOLS_SRC, apt-get source s390-tools)" >&2
	exit 1
}
mkdir -p "$OUT" "$W/o"
for f in util_base util_file util_libc util_list util_opt util_panic util_path \
	util_prg util_proc util_rec util_scandir; do
	${CC:-cc} -O2 -g -D_GNU_SOURCE -DS390_TOOLS_RELEASE=2.16.0 -I "$S/include" \
		-c "$S/libutil/$f.c" -o "$W/o/$f.o" 2>/dev/null
done
${CC:-cc} -O2 -g -D_GNU_SOURCE -DS390_TOOLS_RELEASE=2.16.0 -I "$S/include" \
	"$S/zconf/zcrypt/lszcrypt.c" "$W"/o/*.o -o "$BIN.tmp" 2>/dev/null
mv "$BIN.tmp" "$BIN"
echo "$BIN"
