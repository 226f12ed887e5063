#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The lock probe of bench-set-lock measures the locks' holds (TAP). Not a
# timing test: it checks that the probe is connected and counts the
# intervals it says, whatever the machine's speed.
#
#   bench/lockprobe-test.sh BENCH-SET-LOCK BENCH-SET
#
# A 4 x 4 claim beside 10 guests: the SET's ops->lock() must reach the
# probe (ap_perms_mutex held at least once, ap_matrix_lock too; the
# vfio_ap model's ap_perms_mutex and mdevs_lock exactly once), the hook
# must run with the lock held (probe_errors), the time under the lock
# must lie within the whole call's (a sub-interval of it), and under
# callgrind the instructions under each lock must be more than none and
# fewer than the whole SET's.
set -u
BL=$1 B=$2
n=0 fail=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi; }
val() { sed -n "s/^$1 //p" "$2"; }
T=$(mktemp -d /tmp/apmatrix-lockprobe.XXXXXX)
trap 'rm -rf "$T"' EXIT

"$BL" point 4 4 10 5 both >"$T/o" 2>"$T/e"
ok $? "bench-set-lock point 4 4 10 5 both runs $(tail -1 "$T/e")"
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 >= b + 0) }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && b != "" && a + 0 <= b + 0) }'; }
ge "$(val apmatrix_lock_holds "$T/o")" 1; ok $? "SET holds ap_perms_mutex (holds: $(val apmatrix_lock_holds "$T/o"))"
ge "$(val apmatrix_inner_holds "$T/o")" 1; ok $? "SET holds ap_matrix_lock (holds: $(val apmatrix_inner_holds "$T/o"))"
[ "$(val vfio_lock_holds "$T/o")" = 1 ]; ok $? "vfio_ap model holds its ap_perms_mutex once (holds: $(val vfio_lock_holds "$T/o"))"
[ "$(val vfio_inner_holds "$T/o")" = 1 ]; ok $? "vfio_ap model holds mdevs_lock once (holds: $(val vfio_inner_holds "$T/o"))"
[ "$(val probe_errors "$T/o")" = 0 ]; ok $? "the hooks run with the lock held (probe_errors: $(val probe_errors "$T/o"))"
for k in apmatrix_lock apmatrix_inner vfio_lock; do
	side=${k%_*}
	# a sub-interval of the call: within it, in wall and in CPU time
	le "$(val ${k}_ns "$T/o")" "$(val ${side}_ns "$T/o")"
	ok $? "$k wall ns $(val ${k}_ns "$T/o") within the call's $(val ${side}_ns "$T/o")"
	le "$(val ${k}_cpu_ns "$T/o")" "$(val ${side}_cpu_ns "$T/o")"
	ok $? "$k CPU ns $(val ${k}_cpu_ns "$T/o") within the call's $(val ${side}_cpu_ns "$T/o")"
done
# something was timed: the sums are not all zero
s=$(awk -v a="$(val apmatrix_lock_cpu_ns "$T/o")" -v b="$(val apmatrix_lock_ns "$T/o")" 'BEGIN { print a + b }')
ge "$s" 1; ok $? "time under ap_perms_mutex was measured (wall + CPU: $s ns)"

if [ -n "${LOCKPROBE_NO_CALLGRIND:-}" ]; then
	echo "# a sanitizer's build: the instruction counts are not checked (no callgrind)"
elif command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null; then
	cg() {	# cg OUT BENCH_LOCK_CG BINARY [toggle]: Ir per call of the apmatrix side
		rm -f "$T/$1"*
		env ${2:+BENCH_LOCK_CG=$2} valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
			${4:+--toggle-collect=$4} --callgrind-out-file="$T/$1" "$3" point 4 4 10 2 apmatrix \
			>"$T/$1.out" 2>"$T/$1.err" || return 1
		awk -v n="$(val apmatrix_iters "$T/$1.out")" '/^totals:/ { printf "%.0f", $2 / n }' "$T/$1"
	}
	whole=$(cg w "" "$B" measured_apmatrix)
	bus=$(cg b bus "$BL")
	inner=$(cg i inner "$BL")
	ge "$bus" 1; ok $? "callgrind counts instructions under ap_perms_mutex ($bus per SET)"
	ge "$inner" 1; ok $? "callgrind counts instructions under ap_matrix_lock ($inner per SET)"
	awk -v a="$bus" -v b="$whole" 'BEGIN { exit !(a > 0 && a < b) }'
	ok $? "fewer under ap_perms_mutex than in the whole SET ($bus < $whole)"
	awk -v a="$inner" -v b="$whole" 'BEGIN { exit !(a > 0 && a < b) }'
	ok $? "fewer under ap_matrix_lock than in the whole SET ($inner < $whole)"
else
	echo "# valgrind is not installed: the instruction counts are not checked"
fi
echo "1..$n"
exit $fail
