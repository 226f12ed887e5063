#!/bin/bash
# The real AP bus under qemu-system-s390x TCG (issue 14), what `./run test`
# runs: build (cached) the QEMU with the TCG AP emulation (qemu/tcg-ap) and
# the series' s390x kernel (tests/apbus/kernel.sh), run the emulation's own
# tests (qemu/tcg-ap/tests/test_tcg_ap.py), make the initramfs and boot it
# (tests/apbus/test_apbus.py). Needs the s390x sysroot (./run sysroot) and
# the s390x build of apmatrix-ctl (build/s390x).
#
# Output: the two TAP streams, then "apbus: <passed> <failed>" and the time
# of each step. Exit status 1 if anything failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$ROOT/build/apbus
mkdir -p "$OUT"
pass=0
fail=0
times=()

step_time() { times+=("$(printf '%-10s %4ss' "$1" "$2")"); }

tap_count() {
	# $1 TAP file, $2 the test's exit status: add its ok / not ok lines to
	# the totals. A test that died (uncaught exception: status 1, no plan,
	# no "not ok") must not count as passed: a stream without the plan
	# that matches its results, a status above 1, or a failing status
	# without a failed test adds one failure.
	local p f n
	p=$(grep -c '^ok ' "$1" || true)
	f=$(grep -c '^not ok ' "$1" || true)
	n=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$1" | head -n1)
	if [ -z "$n" ] || [ "$n" -ne $((p + f)) ] || [ "$2" -gt 1 ] ||
	   { [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; }; then
		echo "apbus: $1: incomplete (exit status $2, plan ${n:-none}," \
			"$((p + f)) results)" >&2
		f=$((f + 1))
	fi
	pass=$((pass + p))
	fail=$((fail + f))
}

t=$SECONDS
if ! qemu=$("$ROOT/qemu/tcg-ap/build.sh" | tail -n1) || [ ! -x "$qemu" ]; then
	echo "apbus: building QEMU with qemu/tcg-ap failed" >&2
	echo "apbus: 0 1"
	exit 1
fi
step_time qemu $((SECONDS - t))

t=$SECONDS
python3 "$ROOT/qemu/tcg-ap/tests/test_tcg_ap.py" --qemu "$qemu" | tee "$OUT/tcg-ap.tap"
tap_count "$OUT/tcg-ap.tap" "${PIPESTATUS[0]}"
step_time tcg-ap $((SECONDS - t))

t=$SECONDS
if ! kernel=$(JOBS=${JOBS:-2} "$ROOT/tests/apbus/kernel.sh" | tail -n1) || [ ! -f "$kernel" ]; then
	echo "apbus: building the s390x kernel failed (build/apbus/kernel/build.log)" >&2
	echo "apbus: $pass $((fail + 1))"
	exit 1
fi
step_time kernel $((SECONDS - t))

t=$SECONDS
if ! "$ROOT/tests/apbus/initramfs.sh" "$OUT/initramfs.cpio.gz"; then
	echo "apbus: $pass $((fail + 1))"
	exit 1
fi
python3 "$ROOT/tests/apbus/test_apbus.py" --qemu "$qemu" --kernel "$kernel" \
	--initrd "$OUT/initramfs.cpio.gz" --log "$OUT/console.log" | tee "$OUT/apbus.tap"
tap_count "$OUT/apbus.tap" "${PIPESTATUS[0]}"
step_time boot $((SECONDS - t))

printf 'apbus: step times: %s\n' "${times[@]}"
echo "apbus: $pass $fail"
[ "$fail" -eq 0 ]
