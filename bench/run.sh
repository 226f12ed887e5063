#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ./run bench: the cost of apmatrix on the simulated host (the real
# ap_matrix.c), against the vfio_ap way, printed as one table.
#
#   bench/run.sh [BUILDDIR]
#
# 1. One claiming SET (1 adapter x 6 domains) with 1..10000 VMs each holding
#    their own queues of a 256x256 host: wall time (median) and instructions
#    (valgrind --tool=callgrind, only the measured call), against the
#    exclusivity check vfio_ap does (AND against every other VM's matrix).
# 2. Syscalls and vCPU kick rounds (kvm_arch_crypto_set_masks calls) of one
#    reconfiguration of Na x Nd (+1 control domain) of a running VM, against
#    vfio_ap's documented path (create the mdev, one sysfs write per
#    adapter, domain and control domain; each write on a running guest
#    updates its CRYCB).
# 3. `apmatrix-ctl list` on a 256 x 256 tree (65536 queues; written once
#    into BUILDDIR/bench-tree256, ~2 minutes).
# No timing is asserted anywhere; numbers are for reading.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
B="$BUILD/bench/bench-set"
[ -x "$B" ] || { echo "bench: $B is missing (the simulator needs kernel/arch/s390/kvm/ap_matrix.c)" >&2; exit 2; }
W=$(mktemp -d /tmp/apmatrix-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT

ir() { # instructions per call of function $1 in: bench-set set N ITERS
	valgrind --tool=callgrind --collect-atstart=no --toggle-collect="$1" \
		--callgrind-out-file="$W/cg" "$B" set "$2" "$3" >/dev/null 2>"$W/vg.err" || {
		echo "-"; return; }
	awk -v n="$3" '/^totals:/ { printf "%d", $2 / n }' "$W/cg"
}
val() { sed -n "s/^$1 //p"; }

printf '%s\n' "apmatrix benchmark (simulated s390 host running kernel/arch/s390/kvm/ap_matrix.c; $(uname -m))"
echo
printf '%-38s %14s %14s %14s %14s\n' "SET with N VMs holding their queues" "apmatrix ns" "vfio-way ns" "apmatrix Ir" "vfio-way Ir"
for n in 1 100 1000 10000; do
	out=$("$B" set $n 301)
	if command -v valgrind >/dev/null; then
		ia=$(ir measured_apmatrix $n 20)
		iv=$(ir measured_vfio $n 20)
	else
		ia=- iv=-
	fi
	printf '%-38s %14s %14s %14s %14s\n' "  N = $n" "$(echo "$out" | val apmatrix_ns)" \
		"$(echo "$out" | val vfio_ns)" "$ia" "$iv"
done
echo
printf '%-38s %14s %14s %14s %14s\n' "reconfigure Na x Nd (+1 ctrl domain)" "apmatrix sys" "vfio_ap sys" "apmatrix kicks" "vfio_ap kicks"
for nd in "1 1" "4 4" "16 16" "64 64"; do
	set -- $nd
	out=$("$B" reconf "$1" "$2" 1)
	# vfio_ap: open+write+close of mdev create, then of each assign_* attribute
	writes=$((1 + $1 + $2 + 1))
	printf '%-38s %14s %14s %14s %14s\n' "  $1 x $2" "$(echo "$out" | val ioctls)" \
		"$((3 * writes))" "$(echo "$out" | val kicks)" "$(($1 + $2 + 1))"
done
echo

TREE="$BUILD/bench-tree256"
if [ ! -f "$TREE/.complete" ]; then
	rm -rf "$TREE"
	cat > "$W/h256.json" <<'JSON'
{"ap_domain": 0, "ap_max_adapter_id": 255, "ap_max_domain_id": 255,
 "usage_domains": "00-ff", "control_domains": "00-ff", "apmask_clear": "80-ff",
 "cards": [{"ids": "00-ff", "type": "CEX8C"}], "taken_driver": "apmatrix"}
JSON
	echo "(writing the 256 x 256 tree once, about two minutes)" >&2
	python3 "$SRC/tests/fixtures/mkfixture.py" write "$W/h256.json" "$TREE" >/dev/null
	touch "$TREE/.complete"
fi
best=
for i in 1 2 3; do
	t0=$(date +%s%N)
	APMATRIX_SYSFS_ROOT="$TREE" "$BUILD/tools/apmatrix-ctl" list >"$W/list.out"
	t1=$(date +%s%N)
	t=$(( (t1 - t0) / 1000000 ))
	[ -z "$best" ] || [ "$t" -lt "$best" ] && best=$t
done
printf '%-38s %14s\n' "apmatrix-ctl list, 256 x 256 tree" "${best} ms (best of 3, $(grep -c '^[0-9a-f][0-9a-f]\.' "$W/list.out") queues)"
