# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Sourced by kernel/test.sh and kernel/mkseries.sh: the one description of
# how files under kernel/ map to the kernel tree.
#
# kernel/X stands for the tree's X, except the s390 uapi header, kept at
# kernel/include/uapi/asm/kvm.h (the copy userspace builds against).

overlay_to_tree() {
	case $1 in
	include/uapi/asm/kvm.h) echo arch/s390/include/uapi/asm/kvm.h ;;
	*) echo "$1" ;;
	esac
}

tree_to_overlay() {
	case $1 in
	arch/s390/include/uapi/asm/kvm.h) echo include/uapi/asm/kvm.h ;;
	*) echo "$1" ;;
	esac
}

# overlay_files KDIR: the overlay files' paths relative to KDIR, sorted,
# NUL-terminated: everything under it but the series and these scripts.
overlay_files() {
	local f rel

	while IFS= read -r -d '' f; do
		rel=${f#"$1"/}
		case $rel in
		patches/*|test.sh|mkseries.sh|overlay.sh|README*) continue ;;
		esac
		printf '%s\0' "$rel"
	done < <(find "$1" -type f -print0 | sort -z)
}
