#!/bin/sh
# Fetch Debian 12's QEMU source (what `apt-get source qemu` gives on a fresh
# bookworm machine, with Debian's patches applied by dpkg-source) into
# build/qemu-src and commit it there as "base", the tree qemu/patches/ apply to.
#
# A fresh Debian 12 machine has no deb-src entries, so this adds one
# (/etc/apt/sources.list.d/apmatrix-deb-src.sources) with the same URIs as the
# machine's deb entries. Needs root for that and for apt-get.
#
# usage: qemu/get-source.sh [DEST]     (DEST defaults to build/qemu-src)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$top/build/qemu-src}
list=/etc/apt/sources.list.d/apmatrix-deb-src.sources

if [ -e "$dest/.git" ] && git -C "$dest" rev-parse -q --verify base >/dev/null 2>&1; then
	echo "get-source: $dest already holds the base tree"
	exit 0
fi

# The URIs of the machine's own Debian archive and security archive.
uris() {
	# $1: "debian" or "debian-security"
	{
		if [ -r /etc/apt/sources.list.d/debian.sources ]; then
			sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources | tr ' ' '\n'
		fi
		if [ -r /etc/apt/sources.list ]; then
			sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' /etc/apt/sources.list
		fi
	} | grep -v '^$' | sort -u | {
		if [ "$1" = debian-security ]; then
			grep -- '-security' || true
		else
			grep -v -- '-security' || true
		fi
	}
}

main_uri=$(uris debian | head -n1)
sec_uri=$(uris debian-security | head -n1)
: "${main_uri:=http://deb.debian.org/debian}"
: "${sec_uri:=http://deb.debian.org/debian-security}"

# Source entries for bookworm already there (deb822 or one-line format)?
has_deb_src() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		grep -qs '^Types:.*deb-src' "$f" && grep -qs '^Suites:.*bookworm' "$f" &&
			return 0
	done
	grep -hqs '^deb-src .* bookworm' /etc/apt/sources.list \
		/etc/apt/sources.list.d/*.list
}

if ! has_deb_src; then
	echo "get-source: adding deb-src entries in $list"
	cat >"$list" <<EOT
Types: deb-src
URIs: $main_uri
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: $sec_uri
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
	apt-get update
fi

if ! command -v dpkg-source >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dpkg-dev
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/qemu-src.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get source qemu)
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'qemu-*' | head -n1)
[ -n "$src" ] || { echo "get-source: apt-get source qemu gave no tree" >&2; exit 1; }

rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$src" "$dest"
ls "$work"/*.dsc >"$dest/.apmatrix-dsc" 2>/dev/null || true
cd "$dest"
git init -q
git add -f -A .
git -c user.name="apmatrix developers" -c user.email=apmatrix@example.org \
	commit -q -m base
git tag base
echo "get-source: $(basename "$(cat .apmatrix-dsc 2>/dev/null || echo qemu)") in $dest, tagged base"
