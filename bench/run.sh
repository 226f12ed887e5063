#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ./run bench: what it costs to give a running guest Na x Nd AP queues,
# apmatrix's way against vfio_ap's, printed as one table; then
# `apmatrix-ctl list` against IBM's lszcrypt on 64 x 85 and 256 x 256 trees.
#
#   bench/run.sh [BUILDDIR]
#   BENCH_SIZES="1 4 16 64 128" BENCH_VMS="1 100 1000 10000"  (the grid)
#   BENCH_CALLGRIND=1      instruction counts, but not of vfio_ap's path
#                          beyond 64 x 64 (a 128 x 128 write executes ~5e9
#                          instructions: about 8 minutes per point under
#                          callgrind here); =all counts every point; =0 none
#   BENCH_LIST=0           skip the list comparison with lszcrypt
#   BENCH_LIST_RUNS=11     timed runs per list/lszcrypt point (median)
#   S390_TOOLS_SRC=DIR     s390-tools 2.16.0 source for a native lszcrypt
#
# The host is 256 adapters x 256 domains with every queue present: the
# most the architecture (APXA) can describe and the only size on which a
# 128 x 128 request and 10,000 guests fit at all; today's machines have at
# most 85 domains, so a real host holds fewer guests and fewer queues than
# this one (and vfio_ap's per-queue look-up, a walk of all the host's
# queues, would be cheaper there in proportion). The N other guests hold
# 2 adapters x 1 domain each (a redundant pair and one domain), which fit
# beside every request of the grid (bench-set refuses a point that does
# not fit), so nothing is capped below 10,000 guests.
#
# Both sides are measured in one run, at every point:
#   apmatrix  one SET through the simulated host (the real ap_matrix.c)
#   vfio_ap   one ap_config write in bench/vfio-ap-model.c, a model of
#             Linux 6.12's whole store path (validation incl. the sharing
#             check over every mdev and the default-driver check, the
#             linking, the filtering, the mask install)
# "wall ns" is the median wall time of the timed calls (up to 51, or ~1 s
# of them), "CPU ns" their median CPU time (a syscall-read thread clock,
# its reading cost taken off; on a busy machine the wall time includes
# waiting for a CPU); "Ir" the instructions of one call under callgrind, the
# simulator's own CRYCB check (in both sides' mask install) left out when
# the build keeps it out of line. Ratios are vfio_ap / apmatrix, computed from those columns.
# No timing is asserted anywhere; numbers are for reading.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
B="$BUILD/bench/bench-set"
[ -x "$B" ] || { echo "bench: $B is missing (the simulator needs kernel/arch/s390/kvm/ap_matrix.c)" >&2; exit 2; }
SIZES=${BENCH_SIZES:-1 4 16 64 128}
VMS=${BENCH_VMS:-1 100 1000 10000}
CG=${BENCH_CALLGRIND:-1}
case $CG in 0|1|all) ;; *) echo "bench: BENCH_CALLGRIND is 0, 1 or all, not '$CG'" >&2; exit 2 ;; esac
command -v valgrind >/dev/null || CG=0
W=$(mktemp -d /tmp/apmatrix-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
START=$(date +%s)

val() { sed -n "s/^$1 //p" "$2"; }
# The simulator's own check of what reaches a CRYCB (no kernel does it) runs
# inside both sides' mask install: its inclusive cost is left out of both
# counts when it is a function of its own in the binary.
SIMCHECK=
for f in crycb_update guest_gets; do
	nm "$B" 2>/dev/null | grep -Eq " [tT] $f(\.[a-z]+\.[0-9]+)?\$" && { SIMCHECK=$f; break; }
done
# instructions per call in callgrind file $1 (over $2 calls)
ir() {
	tot=$(awk '/^totals:/ { print $2 }' "$1")
	gg=0
	# (its clones, e.g. f.constprop.0, too: the compiler's copies of it)
	[ -z "$SIMCHECK" ] || gg=$(callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
		awk -v f="$SIMCHECK" '{ for (i = 2; i <= NF; i++) if ($i ~ ("^[^ ]*:" f "(\\.[a-z]+\\.[0-9]+)?$")) { gsub(",", "", $1); g += $1 } }
			END { printf "%.0f", g }')
	awk -v t="$tot" -v g="${gg:-0}" -v n="$2" 'BEGIN { printf "%.0f", (t - g) / n }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || a <= 0) print "-"; else if (b / a < 10) printf "%.1fx", b / a; else printf "%.0fx", b / a }'; }
grp() { echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/; ta'; }

cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)
echo "apmatrix benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: ${cpu:-$(uname -m)}, $(nproc) CPUs, Linux $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo
echo "Give a running guest Na x Nd queues (+ the same Nd control domains) of a 256 x 256"
echo "host while N other guests hold 2 x 1 each. apmatrix: one SET (simulated host, real"
echo "ap_matrix.c); vfio_ap: one ap_config write (model of Linux 6.12's path)."
echo "Measured, per call: wall ns (median), CPU ns (median CPU time of the thread),"
echo "Ir (callgrind instructions), kicks (vCPU kick rounds, apmatrix/vfio_ap)."
echo "Computed: the ratios, vfio_ap / apmatrix."
echo
fmt='%-7s %5s | %9s %15s %7s | %9s %15s %7s | %10s %15s %5s | %5s\n'
printf "$fmt" "" "" "wall ns" "" "" "CPU ns" "" "" "Ir" "" "" ""
printf "$fmt" "Na x Nd" "N" "apmatrix" "vfio_ap" "ratio" "apmatrix" "vfio_ap" "ratio" "apmatrix" "vfio_ap" "ratio" "kicks"
worst_t= worst_c= worst_i= all_t=yes all_c=yes all_i=yes
for s in $SIZES; do
	for n in $VMS; do
		"$B" point "$s" "$s" "$n" 51 both >"$W/t" 2>"$W/err" || {
			printf '%-9s %6s  %s\n' "${s}x$s" "$n" "not run: $(tail -1 "$W/err")"; continue; }
		ta=$(val apmatrix_ns "$W/t") tv=$(val vfio_ns "$W/t")
		ca=$(val apmatrix_cpu_ns "$W/t") cv=$(val vfio_cpu_ns "$W/t")
		ia=- iv=-
		if [ "$CG" != 0 ]; then
			side=both
			[ "$CG" = all ] || [ $((s * s)) -le "${BENCH_CG_MAXQ:-4096}" ] || side=apmatrix
			rm -f "$W"/cg*
			if valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
				--toggle-collect=measured_apmatrix --toggle-collect=measured_vfio \
				--callgrind-out-file="$W/cg" "$B" point "$s" "$s" "$n" 3 $side \
				>"$W/c" 2>"$W/vg.err"; then
				if [ $side = both ] && [ -f "$W/cg.1" ]; then
					ia=$(ir "$W/cg.1" "$(val apmatrix_iters "$W/c")")
					iv=$(ir "$W/cg" "$(val vfio_iters "$W/c")")
				elif [ $side = apmatrix ]; then
					ia=$(ir "$W/cg" "$(val apmatrix_iters "$W/c")")
				fi
			fi
		fi
		printf "$fmt" "${s}x$s" "$n" "$(grp "$ta")" "$(grp "$tv")" "$(ratio "$ta" "$tv")" \
			"$(grp "$ca")" "$(grp "$cv")" "$(ratio "$ca" "$cv")" \
			"$(grp "$ia")" "$(grp "$iv")" "$(ratio "$ia" "$iv")" \
			"$(val apmatrix_kicks "$W/t")/$(val vfio_kicks "$W/t")"
		lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }
		lt "$ta" "$tv" || all_t=no
		lt "$ca" "$cv" || all_c=no
		[ "$ia" = - ] || [ "$iv" = - ] || lt "$ia" "$iv" || all_i=no
		worst_t=$(awk -v w="${worst_t:-1e18}" -v a="$ta" -v b="$tv" 'BEGIN { r = b / a; print (r < w ? r : w) }')
		worst_c=$(awk -v w="${worst_c:-1e18}" -v a="$ca" -v b="$cv" 'BEGIN { r = a > 0 ? b / a : 1e18; print (r < w ? r : w) }')
		[ "$ia" = - ] || eval "IR_${s}_$n=$ia"
		[ "$ia" = - ] || [ "$iv" = - ] || worst_i=$(awk -v w="${worst_i:-1e18}" -v a="$ia" -v b="$iv" 'BEGIN { r = b / a; print (r < w ? r : w) }')
	done
done
echo
if [ -n "$worst_i" ]; then
	ins="$all_i (smallest ratio $(ratio 1 "$worst_i"))"
	[ "$CG" = all ] || ins="$ins where vfio_ap's was counted (BENCH_CALLGRIND=all for 128 x 128)"
else
	ins="not counted"
fi
echo "apmatrix cheaper than vfio_ap at every point:"
echo "  wall time $all_t (smallest ratio $(ratio 1 "$worst_t")), CPU time $all_c (smallest ratio $(ratio 1 "$worst_c")),"
echo "  instructions $ins"
# issue 18's target for SET: a 64 x 64 SET costs at most 3x the instructions
# of a 1 x 1 SET, and each size is flat in N
for n in $VMS; do
	eval "a=\${IR_1_$n:-} b=\${IR_64_$n:-}"
	[ -n "$a" ] && [ -n "$b" ] || continue
	echo "SET 64x64 / SET 1x1 at N = $n: $(awk -v a="$a" -v b="$b" 'BEGIN { r = b / a; printf "%.2fx the instructions (issue 18 target: at most 3x): %s", r, r <= 3 ? "met" : sprintf("missed by %.0f%%", (r / 3 - 1) * 100) }')"
done
flat=
for s in $SIZES; do
	lo= hi=
	for n in $VMS; do
		eval "v=\${IR_${s}_$n:-}"
		[ -n "$v" ] || continue
		[ -n "$lo" ] && [ "$v" -ge "$lo" ] || lo=$v
		[ -n "$hi" ] && [ "$v" -le "$hi" ] || hi=$v
	done
	[ -n "$lo" ] && [ "$lo" != "$hi" ] || continue
	flat="$flat ${s}x$s $(awk -v a="$lo" -v b="$hi" 'BEGIN { printf "%.2f", b / a }'),"
done
[ -z "$flat" ] || echo "SET instructions, most / least over N (flat = 1.00):${flat%,}"
echo "kicks: both counted by the simulator's kvm_arch_crypto_set_masks."
echo "Not measured, from the interfaces: user/kernel crossings per reconfiguration are"
echo "1 ioctl (apmatrix) against open + write + close of ap_config (vfio_ap), any size."
echo "Wall time on a busy machine includes waiting for a CPU; CPU time and Ir do not."
echo "CPU time includes cache misses (vfio_ap's walk of every queue device is made of them)."
if [ -n "$SIMCHECK" ]; then
	echo "Ir leaves out the simulator's CRYCB check ($SIMCHECK), on both sides; times include it."
else
	echo "Ir includes the simulator's CRYCB check (inlined in this build), on both sides."
fi
echo

# `apmatrix-ctl list` against IBM's lszcrypt (issue 18 part 4) on a 64 x 85
# host (today's largest: adapters 30-3f bound to apmatrix) and the 256 x 256
# one: bench/listcmp.py prints the table (CPU time, syscalls, the targets).
# lszcrypt is built for this machine from s390-tools 2.16.0
# (bench/lszcrypt-native.sh: S390_TOOLS_SRC or apt-get source); without the
# source, the sysroot's s390x lszcrypt under qemu-user (BENCH_LSZCRYPT),
# whose CPU time is the emulator's: then the ratios are marked as such.
if [ "${BENCH_LIST:-1}" = 1 ]; then
	tree() {	# tree DIR JSON: write the fixture tree once
		[ -f "$1/.complete" ] && return 0
		rm -rf "$1"
		echo "(writing the fixture tree $(basename "$1") once, a few minutes for 256 x 256)" >&2
		python3 "$SRC/tests/fixtures/mkfixture.py" write "$2" "$1" >/dev/null
		touch "$1/.complete"
	}
	cat > "$W/h64.json" <<'JSON'
{"ap_domain": 0, "ap_max_adapter_id": 63, "ap_max_domain_id": 84,
 "usage_domains": "00-54", "control_domains": "00-54", "apmask_clear": "30-3f",
 "cards": [{"ids": "00-1f", "type": "CEX8C"}, {"ids": "20-3f", "type": "CEX7P"}],
 "taken_driver": "apmatrix"}
JSON
	cat > "$W/h256.json" <<'JSON'
{"ap_domain": 0, "ap_max_adapter_id": 255, "ap_max_domain_id": 255,
 "usage_domains": "00-ff", "control_domains": "00-ff", "apmask_clear": "80-ff",
 "cards": [{"ids": "00-ff", "type": "CEX8C"}], "taken_driver": "apmatrix"}
JSON
	tree "$BUILD/bench-tree64x85" "$W/h64.json"
	tree "$BUILD/bench-tree256" "$W/h256.json"
	if LSZ=$(sh "$SRC/bench/lszcrypt-native.sh" "$BUILD" 2>"$W/lsz.err"); then
		KIND=native
	else
		cat "$W/lsz.err" >&2
		LSZ=${BENCH_LSZCRYPT:-$SRC/build/lszcrypt} KIND="s390x under qemu-user"
	fi
	if [ -x "$LSZ" ]; then
		python3 "$SRC/bench/listcmp.py" "$BUILD/tools/apmatrix-ctl" "$LSZ" "$KIND" \
			"${BENCH_LIST_RUNS:-11}" "$BUILD/bench-tree64x85=64x85+" "$BUILD/bench-tree256=256x256"
	else
		echo "list comparison not run: no lszcrypt (./run sysroot, or S390_TOOLS_SRC for a native build)"
	fi
fi
echo "(bench run took $(( $(date +%s) - START )) s)"
