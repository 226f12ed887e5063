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
#   BENCH_LOCK=1           the second table, time under the locks (=0 skips it)
#   BENCH_LOCK_CG_MAXQ=256 instructions under vfio_ap's lock only up to this
#                          many queues (its lock covers nearly the whole write,
#                          whose count the first table has; =65536 for all)
#   BENCH_LOCK_VFIO_MAXQ=4096  vfio_ap's lock times only up to 64 x 64 (one
#                          128 x 128 write takes ~1 min of CPU, 2.5 min at
#                          load 7: the first table has its time; =65536)
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
#
# The second table: the same calls in bench-set-lock, a build of bench-set
# with a probe on the locks (bench/lockprobe.h), per call: how often and
# for how long (median wall, median CPU, callgrind Ir) the calling thread
# held the AP bus lock, ap_perms_mutex (apmatrix: ap_matrix_drv.c's
# ops->lock() on the simulated host, whose shim mutex calls reach the probe
# through the linker's --wrap; vfio_ap: the model's ap_perms_mutex in its
# ap_config_store()), and apmatrix's ap_matrix_lock (every hold of it in
# the call, under ap_perms_mutex or under kvm->lock). A hold is counted
# from the lock call's return to the unlock call; the probe's own cost per
# hold (an empty hold of ap_perms_mutex, measured at the start of each
# run: "floor") is taken off every hold. The vfio_ap model's inner lock,
# mdevs_lock, is held for nearly all of its ap_perms_mutex hold and is
# not printed. Instructions are counted in separate callgrind runs, one
# per lock (collection toggled at the acquisition and the release).
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
B="$BUILD/bench/bench-set"
BL="$BUILD/bench/bench-set-lock"
[ -x "$B" ] || { echo "bench: $B is missing (the simulator needs kernel/arch/s390/kvm/ap_matrix.c)" >&2; exit 2; }
LOCK=${BENCH_LOCK:-1}
case $LOCK in 0|1) ;; *) echo "bench: BENCH_LOCK is 0 or 1, not '$LOCK'" >&2; exit 2 ;; esac
[ -x "$BL" ] || LOCK=0
LOCK_CG_MAXQ=${BENCH_LOCK_CG_MAXQ:-256}
LOCK_VFIO_MAXQ=${BENCH_LOCK_VFIO_MAXQ:-4096}
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
# instructions under a lock per call: callgrind file $1, $2 calls, $3 holds
# per call, less the probe's floor per hold
lir() {
	awk -v t="$(ir "$1" "$2")" -v h="${3%+}" -v f="${FLOOR_IR:-0}" 'BEGIN { v = t - h * f; printf "%.0f", (v > 0 ? v : 0) }'
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
FLOOR_IR= FLOOR_NS= FLOOR_CPU=
if [ "$LOCK" = 1 ] && [ "$CG" != 0 ]; then
	rm -f "$W"/fl*
	BENCH_LOCK_CG=bus valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
		--callgrind-out-file="$W/fl" "$BL" floor 1000 >"$W/flo" 2>/dev/null &&
		FLOOR_IR=$(awk '/^totals:/ { printf "%.0f", $2 / 1000 }' "$W/fl")
fi
: >"$W/lrows"
# lockpoint SIZE N SET_IR: one row of the lock table into $W/lrows
lfmt='%-7s %5s | %5s %8s %8s %7s %5s | %5s %8s %8s %7s | %15s %15s %13s %7s\n'
lockpoint() {
	ls_=$1 ln_=$2
	lside=both
	[ $((ls_ * ls_)) -le "$LOCK_VFIO_MAXQ" ] || lside=apmatrix
	if ! "$BL" point "$ls_" "$ls_" "$ln_" 51 $lside >"$W/l" 2>"$W/lerr"; then
		printf '%-9s %6s  %s\n' "${ls_}x$ls_" "$ln_" "not run: $(tail -1 "$W/lerr")" >>"$W/lrows"
		return 0
	fi
	[ "$(val probe_errors "$W/l")" = 0 ] || echo "bench: lock probe errors at ${ls_}x$ls_ N=$ln_" >&2
	fn=$(val lock_floor_ns "$W/l") fc=$(val lock_floor_cpu_ns "$W/l")
	FLOOR_NS=$(awk -v r="$FLOOR_NS" -v v="$fn" 'BEGIN { split(r, x, "-"); if (r == "") print v "-" v; else print (v < x[1] ? v : x[1]) "-" (v > x[2] ? v : x[2]) }')
	FLOOR_CPU=$(awk -v r="$FLOOR_CPU" -v v="$fc" 'BEGIN { split(r, x, "-"); if (r == "") print v "-" v; else print (v < x[1] ? v : x[1]) "-" (v > x[2] ? v : x[2]) }')
	lh=$(val apmatrix_lock_holds "$W/l") mh=$(val apmatrix_inner_holds "$W/l")
	lw=$(val apmatrix_lock_ns "$W/l") lc=$(val apmatrix_lock_cpu_ns "$W/l")
	mw=$(val apmatrix_inner_ns "$W/l") mc=$(val apmatrix_inner_cpu_ns "$W/l")
	vw=$(val vfio_lock_ns "$W/l") vc=$(val vfio_lock_cpu_ns "$W/l") vh=$(val vfio_lock_holds "$W/l")
	[ -n "$vw" ] || vw=- vc=-
	li=- mi=- vi=- share=-
	if [ "$CG" != 0 ]; then
		lside=both
		[ $((ls_ * ls_)) -le "$LOCK_CG_MAXQ" ] || lside=apmatrix
		rm -f "$W"/lg*
		if BENCH_LOCK_CG=bus valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
			--callgrind-out-file="$W/lg" "$BL" point "$ls_" "$ls_" "$ln_" 3 $lside \
			>"$W/lc" 2>/dev/null; then
			if [ $lside = both ] && [ -f "$W/lg.1" ]; then
				li=$(lir "$W/lg.1" "$(val apmatrix_iters "$W/lc")" "$lh")
				vi=$(lir "$W/lg" "$(val vfio_iters "$W/lc")" "$vh")
			elif [ $lside = apmatrix ]; then
				li=$(lir "$W/lg" "$(val apmatrix_iters "$W/lc")" "$lh")
			fi
		fi
		rm -f "$W"/lg*
		BENCH_LOCK_CG=inner valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
			--callgrind-out-file="$W/lg" "$BL" point "$ls_" "$ls_" "$ln_" 3 apmatrix \
			>"$W/lc" 2>/dev/null && mi=$(lir "$W/lg" "$(val apmatrix_iters "$W/lc")" "$mh")
		[ "$li" = - ] || [ "$3" = - ] || share=$(awk -v a="$li" -v b="$3" 'BEGIN { printf "%.0f%%", 100 * a / b }')
	fi
	printf "$lfmt" "${ls_}x$ls_" "$ln_" "$lh" "$(grp "$lw")" "$(grp "$lc")" "$(grp "$li")" "$share" \
		"$mh" "$(grp "$mw")" "$(grp "$mc")" "$(grp "$mi")" \
		"$(grp "$vw")" "$(grp "$vc")" "$(grp "$vi")" "$(ratio "$lc" "$vc")" >>"$W/lrows"
	eval "LW_${ls_}_$ln_=$lw LC_${ls_}_$ln_=$lc"
	[ "$li" = - ] || eval "LI_${ls_}_$ln_=$li"
}
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
		[ "$LOCK" = 1 ] && lockpoint "$s" "$n" "$ia"
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
	echo "SET 64x64 / SET 1x1 at N = $n: $(awk -v a="$a" -v b="$b" 'BEGIN { r = b / a; printf "%.3fx the instructions (issue 18 target: at most 3x): %s", r, r <= 3 ? "met" : sprintf("missed by %.1f%%", (r / 3 - 1) * 100) }')"
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
# The table's SETs claim adapters the host has seen claimed before (bench-set
# claims once, unmeasured). The first claim ever of an adapter allocates its
# marker storage (2 KiB, once per adapter per host) in a second round of the
# AP locks: its cost, one call at N = 1, apart.
if [ "$CG" != 0 ]; then
	first=
	for s in $SIZES; do
		rm -f "$W"/cgf*
		BENCH_FIRST_CLAIM=1 valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
			--toggle-collect=measured_apmatrix --callgrind-out-file="$W/cgf" \
			"$B" point "$s" "$s" 1 1 apmatrix >"$W/cf" 2>/dev/null || continue
		f=$(ir "$W/cgf" "$(val apmatrix_iters "$W/cf")")
		eval "FIRST_$s=$f"
		first="$first ${s}x$s $(grp "$f"),"
	done
	[ -z "$first" ] || echo "first claim of never-claimed adapters (once per adapter per host; N = 1, Ir):${first%,}"
	[ -z "${FIRST_1:-}" ] || [ -z "${FIRST_64:-}" ] ||
		echo "  first claim 64x64 / 1x1: $(awk -v a="$FIRST_1" -v b="$FIRST_64" 'BEGIN { printf "%.3fx", b / a }') (not issue 18's steady-state target)"
fi
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

# the second table: under the locks (see the header)
if [ "$LOCK" = 1 ]; then
	echo "Under the locks, per call (bench-set-lock: the same calls, a probe on the locks)."
	echo "Measured: holds (acquisitions in one call), wall ns and CPU ns (medians of the per-call"
	echo "sums over the holds), Ir (callgrind, the held intervals only); the probe's floor per"
	echo "hold (an empty hold, measured at each point: ${FLOOR_NS:-?} ns wall, ${FLOOR_CPU:-?} ns CPU;"
	echo "${FLOOR_IR:--} Ir) is taken off each hold."
	echo "Computed: % of SET (Ir under ap_perms_mutex / the SET's Ir in the first table),"
	echo "CPU ratio (vfio_ap / apmatrix under ap_perms_mutex)."
	echo
	printf "$lfmt" "" "" "apmatrix" "ap_perms_mutex" "(AP bus)" "" "" "apmatrix" "ap_matrix_lock" "" "" \
		"vfio_ap model" "ap_perms_mutex" "" ""
	printf "$lfmt" "Na x Nd" "N" "holds" "wall ns" "CPU ns" "Ir" "%SET" "holds" "wall ns" "CPU ns" "Ir" \
		"wall ns" "CPU ns" "Ir" "CPU rt"
	cat "$W/lrows"
	echo
	for n in $VMS; do
		eval "a=\${LI_1_$n:-} b=\${LI_64_$n:-} ca=\${LC_1_$n:-} cb=\${LC_64_$n:-}"
		[ -n "$ca" ] && [ -n "$cb" ] || continue
		echo "AP bus lock held, 64x64 / 1x1 at N = $n: $(awk -v a="$a" -v b="$b" -v ca="$ca" -v cb="$cb" 'BEGIN {
			if (a != "" && b != "" && a > 0) printf "%.2fx the instructions, ", b / a
			if (ca > 0) printf "%.2fx the CPU time", cb / ca; else printf "CPU time not measured" }')"
	done
	# flat in N: the last N against the first, and the most against the least
	first= last=
	for n in $VMS; do [ -n "$first" ] || first=$n; last=$n; done
	fl_i= fl_c= fl_w= flat_ok=yes flat_seen=
	for sz in $SIZES; do
		for k in I C W; do
			lo= hi= f= l=
			for n in $VMS; do
				eval "v=\${L${k}_${sz}_$n:-}"
				[ -n "$v" ] || continue
				[ "$n" = "$first" ] && f=$v
				[ "$n" = "$last" ] && l=$v
				[ -n "$lo" ] && [ "$v" -ge "$lo" ] || lo=$v
				[ -n "$hi" ] && [ "$v" -le "$hi" ] || hi=$v
			done
			[ -n "$lo" ] && [ "$lo" -gt 0 ] || continue
			r=$(awk -v a="$lo" -v b="$hi" -v f="$f" -v l="$l" 'BEGIN { printf "%s %.2f", (f > 0 && l != "") ? sprintf("%.2f", l / f) : "-", b / a }')
			case $k in
			I) fl_i="$fl_i ${sz}x$sz $r,"; flat_seen=yes
			   awk -v x="${r#* }" 'BEGIN { exit !(x > 1.10) }' && flat_ok=no ;;
			C) fl_c="$fl_c ${sz}x$sz $r," ;;
			W) fl_w="$fl_w ${sz}x$sz $r," ;;
			esac
		done
	done
	echo "AP bus lock held over N ($last / $first guests, then most / least over N; 1.00 = flat):"
	[ -z "$fl_i" ] || echo "  Ir:     ${fl_i%,}"
	[ -z "$fl_c" ] || echo "  CPU ns: ${fl_c%,}"
	[ -z "$fl_w" ] || echo "  wall ns:${fl_w%,}"
	if [ -n "$flat_seen" ]; then
		echo "Flat in N (instructions under ap_perms_mutex, most / least over N at most 1.10 at every size): $flat_ok"
	fi
	echo "Times are medians on a shared machine: their spread over N is noise as much as cost."
	echo
fi

# `apmatrix-ctl list` against IBM's lszcrypt (issue 18 part 4) on a 64 x 85
# host (today's largest: adapters 30-3f bound to apmatrix) and the 256 x 256
# one: bench/listcmp.py prints the table (CPU time, syscalls, the targets).
# lszcrypt is built for this machine from s390-tools 2.16.0
# (bench/lszcrypt-native.sh: S390_TOOLS_SRC or apt-get source); without the
# source, the sysroot's s390x lszcrypt under qemu-user (BENCH_LSZCRYPT),
# whose CPU time is the emulator's: then the ratios are marked as such.
GRID_S=$(( $(date +%s) - START ))
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
echo "(bench run took $(( $(date +%s) - START )) s: the grid, both tables, $GRID_S s)"
