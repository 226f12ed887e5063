#!/usr/bin/env bash
# Build QEMU (Debian 12's 7.2 + qemu/patches) with the ap-matrix device.
#
#   qemu/build.sh native   x86 (or whatever this machine is) qemu-system-s390x,
#                          TCG only, against libapmatrix built natively
#   qemu/build.sh cross    qemu-system-s390x for an s390x host (the KVM path),
#                          against an s390x sysroot and libapmatrix cross-built
#   qemu/build.sh test     native build, then qemu/tests/ on it
#   qemu/build.sh test-s390x  cross build, then qemu/tests/ on it under
#                          qemu-s390x-static (TCG; big-endian device + library)
#   qemu/build.sh check    the series: git am on the pristine base and
#                          scripts/checkpatch.pl on each patch
#   qemu/build.sh docs     the QEMU manual with Sphinx, as the build makes it
#                          (-W: a warning fails), into build/qemu-docs
#   qemu/build.sh nodefault  native build with --without-default-devices:
#                          the QMP commands (there whenever libapmatrix is)
#                          must link and the device must be there (a full
#                          build of its own, ~15 min: not part of all)
#   qemu/build.sh all      check, docs, test, test-s390x
#
# Everything goes to build/ (git-ignored):
#   build/qemu-src          the source (qemu/get-source.sh), base + series
#   build/qemu-deps/native  libapmatrix installed for the native build
#   build/qemu-sysroot      s390x sysroot (mmdebstrap), libapmatrix in /usr/local
#   build/qemu-native, build/qemu-s390x   the QEMU build directories
# Builds run under nice -n 19 with ninja -j2 (QEMU_NICE, QEMU_JOBS override).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=$ROOT/build
SRC=$B/qemu-src
PATCHES=$ROOT/qemu/patches
JOBS=${QEMU_JOBS:-2}
NICE=${QEMU_NICE:-19}
NATIVE_PREFIX=$B/qemu-deps/native
SYSROOT=$B/qemu-sysroot
SYSROOT_PACKAGES=libc6-dev,libglib2.0-dev,libpixman-1-dev,zlib1g-dev,libgcc-12-dev,libjson-c-dev
# Host packages QEMU's build needs beyond ./run deps (see /work/briefs/packages.md).
HOST_PACKAGES=(dpkg-dev libglib2.0-dev libpixman-1-dev zlib1g-dev ninja-build
	meson python3-venv flex bison pkg-config gcc-s390x-linux-gnu
	binutils-s390x-linux-gnu mmdebstrap qemu-user-static file
	python3-sphinx python3-sphinx-rtd-theme)

# Smallest build that has the machine and the device: no tools, docs, UIs,
# block drivers; only the s390x system emulator.
CONFIGURE_COMMON=(--target-list=s390x-softmmu --without-default-features
	--enable-apmatrix --disable-docs --disable-install-blobs --disable-user
	--disable-tools --disable-debug-info --meson=meson)

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'qemu/build.sh: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }
sudo_cmd() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

deps() {
	local missing=() p
	for p in "${HOST_PACKAGES[@]}"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	sudo_cmd apt-get update -q
	sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
}

series_id() { cat "$PATCHES"/*.patch | sha256sum | cut -c1-16; }

# The pristine tree, then the series on a branch; skipped when that exact
# series is already applied and the tree is clean (keeps builds incremental).
source_tree() {
	if ! git -C "$SRC" rev-parse -q --verify base >/dev/null 2>&1; then
		say "fetching the QEMU source (qemu/get-source.sh)"
		if [ "$(id -u)" -eq 0 ]; then
			"$ROOT/qemu/get-source.sh" "$SRC"
		else
			sudo "$ROOT/qemu/get-source.sh" "$SRC"
		fi
	fi
	local id stamp=$SRC/.git/apmatrix-series
	id=$(series_id)
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$id" ] &&
	   git -C "$SRC" diff --quiet HEAD; then
		return 0
	fi
	say "applying qemu/patches to build/qemu-src"
	git -C "$SRC" checkout -q -f -B apmatrix base
	git -C "$SRC" -c user.name="apmatrix developers" \
		-c user.email=apmatrix@example.org am -q "$PATCHES"/*.patch
	echo "$id" >"$stamp"
}

# libapmatrix with the project's meson, from the committed tree (a snapshot
# of HEAD in build/qemu-deps/src, so other work in progress in the working
# tree cannot break the QEMU build), installed into a prefix.
lib_snapshot() {
	local src=$B/qemu-deps/src head
	head=$(git -C "$ROOT" rev-parse HEAD)
	if [ "$(cat "$src/.head" 2>/dev/null)" != "$head" ]; then
		rm -rf "$src"
		mkdir -p "$src"
		git -C "$ROOT" archive HEAD | tar -x -C "$src"
		echo "$head" >"$src/.head"
	fi
	echo "$src"
}

lib_install() {
	# $1 build dir, $2 prefix, $3 DESTDIR (or ""), rest: extra meson args
	local dir=$1 prefix=$2 destdir=$3 src
	shift 3
	src=$(lib_snapshot)
	rm -rf "$dir"
	meson setup "$dir" "$src" --prefix="$prefix" --libdir=lib \
		-Dtests=false "$@" >"$dir.setup.log" 2>&1 ||
		{ cat "$dir.setup.log"; die "meson setup $dir failed"; }
	# the library and the CLI only: what is installed (the simulator is
	# built apart, see sim_build)
	nice -n "$NICE" meson compile -C "$dir" -j"$JOBS" lib/apmatrix:shared_library \
		lib/apmatrix:static_library tools/apmatrix-ctl \
		>"$dir.build.log" 2>&1 ||
		{ tail -30 "$dir.build.log"; die "building libapmatrix in $dir failed"; }
	DESTDIR=$destdir meson install -C "$dir" --no-rebuild --quiet >/dev/null
}

# Configure a build directory once; again from scratch when the command
# (flags, pkg-config environment) changed since. Meson keeps the pkg-config
# environment of the first configure for its regenerations.
configure_qemu() {
	# $1 build dir, $2 label, rest: the command
	local dir=$1 label=$2 want
	shift 2
	want=$(printf '%q ' "$@")
	if [ -f "$dir/build.ninja" ] &&
	   [ "$(cat "$dir/.apmatrix-configure" 2>/dev/null)" = "$want" ]; then
		return 0
	fi
	say "configuring QEMU ($label) in ${dir#"$ROOT"/}"
	rm -rf "$dir"
	mkdir -p "$dir"
	(cd "$dir" && nice -n "$NICE" "$@" >configure.log 2>&1) ||
		{ tail -30 "$dir/configure.log"; die "configure failed"; }
	echo "$want" >"$dir/.apmatrix-configure"
}

ninja_timed() {
	# $1 build dir, $2 label, rest: the environment (env ...) of configure,
	# which a meson regeneration during the build needs as well
	local dir=$1 label=$2 t0 t1
	shift 2
	t0=$(now)
	nice -n "$NICE" "$@" ninja -C "$dir" -j"$JOBS" qemu-system-s390x \
		>"$dir/build.log" 2>&1 ||
		{ tail -40 "$dir/build.log"; die "$label build failed (log: $dir/build.log)"; }
	t1=$(now)
	echo "qemu/build.sh: $label build: $((t1 - t0)) s ($(grep -c '^\[' "$dir/build.log") steps)"
}

cmd_native() {
	deps
	source_tree
	say "libapmatrix (native) into build/qemu-deps/native"
	lib_install "$B/qemu-deps/native-build" "$NATIVE_PREFIX" ""
	local dir=$B/qemu-native
	local env=(env -u PKG_CONFIG_SYSROOT_DIR -u PKG_CONFIG_LIBDIR
		PKG_CONFIG_PATH="$NATIVE_PREFIX/lib/pkgconfig")
	configure_qemu "$dir" native "${env[@]}" \
		"$SRC/configure" "${CONFIGURE_COMMON[@]}"
	say "building QEMU (native)"
	ninja_timed "$dir" native "${env[@]}"
	LD_LIBRARY_PATH=$NATIVE_PREFIX/lib \
		"$dir/qemu-system-s390x" -device ap-matrix,help >/dev/null ||
		die "the native qemu-system-s390x has no ap-matrix device"
}

sysroot() {
	if [ ! -f "$SYSROOT/.apmatrix-qemu-stamp" ] ||
	   [ "$(cat "$SYSROOT/.apmatrix-qemu-stamp")" != "$SYSROOT_PACKAGES" ]; then
		say "making the s390x sysroot build/qemu-sysroot (mmdebstrap)"
		rm -rf "$SYSROOT"
		mmdebstrap --quiet --arch=s390x --variant=extract \
			--include="$SYSROOT_PACKAGES" bookworm "$SYSROOT" \
			"deb http://deb.debian.org/debian bookworm main"
		echo "$SYSROOT_PACKAGES" >"$SYSROOT/.apmatrix-qemu-stamp"
	fi
}

cross_file() {
	# meson cross file for libapmatrix: the infra's template if there is one
	local f=$B/qemu-deps/s390x.ini
	mkdir -p "$B/qemu-deps"
	if [ -f "$ROOT/cross/s390x.ini.in" ]; then
		# meson 1.0 (Debian 12) knows the binary as "pkgconfig" only
		sed -e "s|@SYSROOT@|$SYSROOT|g" -e 's/^pkg-config *=/pkgconfig =/' \
			"$ROOT/cross/s390x.ini.in" >"$f"
	else
		cat >"$f" <<EOF
[binaries]
c = 's390x-linux-gnu-gcc'
ar = 's390x-linux-gnu-ar'
strip = 's390x-linux-gnu-strip'
pkgconfig = 'pkg-config'
[built-in options]
c_args = ['--sysroot=$SYSROOT']
c_link_args = ['--sysroot=$SYSROOT']
[properties]
sys_root = '$SYSROOT'
pkg_config_libdir = ['$SYSROOT/usr/lib/s390x-linux-gnu/pkgconfig', '$SYSROOT/usr/share/pkgconfig']
[host_machine]
system = 'linux'
cpu_family = 's390x'
cpu = 's390x'
endian = 'big'
EOF
	fi
	echo "$f"
}

cmd_cross() {
	deps
	source_tree
	sysroot
	say "libapmatrix (s390x) into build/qemu-sysroot/usr/local"
	lib_install "$B/qemu-deps/s390x-build" /usr/local "$SYSROOT" \
		--cross-file "$(cross_file)"
	local dir=$B/qemu-s390x
	# PKG_CONFIG_PATH would win over the sysroot: never pass it here
	local env=(env -u PKG_CONFIG_PATH PKG_CONFIG=pkg-config
		PKG_CONFIG_SYSROOT_DIR="$SYSROOT"
		PKG_CONFIG_LIBDIR="$SYSROOT/usr/local/lib/pkgconfig:$SYSROOT/usr/lib/s390x-linux-gnu/pkgconfig:$SYSROOT/usr/share/pkgconfig")
	configure_qemu "$dir" "s390x host, KVM" "${env[@]}" \
		"$SRC/configure" "${CONFIGURE_COMMON[@]}" \
		--cross-prefix=s390x-linux-gnu- --enable-kvm \
		--extra-cflags="--sysroot=$SYSROOT" \
		--extra-ldflags="--sysroot=$SYSROOT"
	say "building QEMU (s390x host)"
	ninja_timed "$dir" cross "${env[@]}"
	file "$dir/qemu-system-s390x" | grep -q 'IBM S/390' ||
		die "build/qemu-s390x/qemu-system-s390x is not an s390x binary"
	s390x-linux-gnu-readelf -d "$dir/qemu-system-s390x" | grep -q 'libapmatrix' ||
		die "qemu-system-s390x (s390x) is not linked with libapmatrix"
	echo "qemu/build.sh: build/qemu-s390x/qemu-system-s390x: s390x, KVM, linked with libapmatrix"
}

# The simulated host (apsimd, apsimctl, the preload library) from the same
# snapshot as the library; QEMU_TEST_SIM=DIR uses one built elsewhere.
sim_build() {
	if [ -n "${QEMU_TEST_SIM:-}" ]; then
		echo "$QEMU_TEST_SIM"
		return 0
	fi
	local dir=$B/qemu-deps/native-build
	nice -n "$NICE" meson compile -C "$dir" -j"$JOBS" sim/apsimd sim/apsimctl \
		sim/apsim-preload >"$dir.sim.log" 2>&1 ||
		{ tail -30 "$dir.sim.log" >&2; die "building the simulated host failed"; }
	echo "$dir/sim"
}

# --without-default-devices drops every "default y" and "imply": the
# device must still be built whenever the QAPI schema has its commands.
cmd_nodefault() {
	cmd_native
	local dir=$B/qemu-nodefault
	local env=(env -u PKG_CONFIG_SYSROOT_DIR -u PKG_CONFIG_LIBDIR
		PKG_CONFIG_PATH="$NATIVE_PREFIX/lib/pkgconfig")
	configure_qemu "$dir" "native, no default devices" "${env[@]}" \
		"$SRC/configure" "${CONFIGURE_COMMON[@]}" --without-default-devices
	say "building QEMU (native, --without-default-devices)"
	ninja_timed "$dir" nodefault "${env[@]}"
	LD_LIBRARY_PATH=$NATIVE_PREFIX/lib \
		"$dir/qemu-system-s390x" -device ap-matrix,help >/dev/null ||
		die "qemu-system-s390x --without-default-devices has no ap-matrix"
	echo "qemu/build.sh: --without-default-devices: links, has ap-matrix"
}

cmd_test() {
	cmd_native
	local sim
	sim=$(sim_build)
	say "qemu/tests on the native build (simulated host: ${sim#"$ROOT"/})"
	python3 "$ROOT/qemu/tests/test_ap_matrix.py" \
		--qemu "$B/qemu-native/qemu-system-s390x" \
		--libapmatrix "$NATIVE_PREFIX/lib/libapmatrix.so" \
		--sim "$sim" --fixture "$(lib_snapshot)/tests/fixtures/mkfixture.py"
}

# The s390x (big-endian) build under qemu-user: the same TCG tests, so the
# device and libapmatrix are exercised as s390x code too (no KVM there).
cmd_test_s390x() {
	cmd_cross
	say "qemu/tests on the s390x build, under qemu-s390x-static"
	python3 "$ROOT/qemu/tests/test_ap_matrix.py" \
		--qemu "$B/qemu-s390x/qemu-system-s390x" \
		--libapmatrix "$NATIVE_PREFIX/lib/libapmatrix.so" \
		--wrapper "qemu-s390x-static -L $SYSROOT -E LD_LIBRARY_PATH=/usr/local/lib"
}

cmd_check() {
	deps
	source_tree
	say "the series on the pristine base (git am) and checkpatch.pl"
	local tmp rc=0 p
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/qemu-am.XXXXXX")
	git -C "$SRC" worktree add -q --detach "$tmp" base
	if git -C "$tmp" -c user.name="apmatrix developers" \
		-c user.email=apmatrix@example.org am -q "$PATCHES"/*.patch; then
		echo "git am: $(ls "$PATCHES"/*.patch | wc -l) patches apply to base"
	else
		echo "git am: the series does not apply to base" >&2
		rc=1
	fi
	for p in "$PATCHES"/*.patch; do
		if (cd "$SRC" && ./scripts/checkpatch.pl -q "$p" >/dev/null); then
			echo "checkpatch: $(basename "$p"): clean"
		else
			(cd "$SRC" && ./scripts/checkpatch.pl "$p") || true
			rc=1
		fi
	done
	git -C "$SRC" worktree remove --force "$tmp"
	return $rc
}

# The manual as docs/meson.build makes it (the builds above are configured
# with --disable-docs to keep them small): one Sphinx run over docs/, with
# the series' pages, the QAPI reference and hxtool's HMP pages.
cmd_docs() {
	deps
	source_tree
	say "the QEMU manual with Sphinx (warnings are errors)"
	local out=$B/qemu-docs
	rm -rf "$out"
	mkdir -p "$out"
	(cd "$SRC/docs" && CONFDIR=/etc/qemu nice -n "$NICE" sphinx-build -q -W \
		-b html -d "$out/doctrees" . "$out/html") ||
		die "Sphinx failed or warned"
	grep -q 'ap-matrix' "$out/html/system/s390x/ap-matrix.html" ||
		die "the manual has no ap-matrix page"
	echo "qemu/build.sh: the manual built without warnings (build/qemu-docs/html)"
}

case ${1:-} in
native) cmd_native ;;
cross) cmd_cross ;;
test) cmd_test ;;
nodefault) cmd_nodefault ;;
test-s390x) cmd_test_s390x ;;
check) cmd_check ;;
lib) lib_install "$B/qemu-deps/native-build" "$NATIVE_PREFIX" "" ;;
lib-s390x) sysroot && lib_install "$B/qemu-deps/s390x-build" /usr/local "$SYSROOT" \
	--cross-file "$(cross_file)" ;;
docs) cmd_docs ;;
all) cmd_check && cmd_docs && cmd_test && cmd_test_s390x ;;
*) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
