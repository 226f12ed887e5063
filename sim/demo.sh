#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The apmatrix story on the simulated host (the real ap_matrix.c in apsimd):
# list the host, reserve queues, start two VMs, give each its queues, a
# refused conflict and its reason, hot-plug a domain into a running VM,
# unplug an adapter from the host, stop a VM and see its queues reset and
# free again.
#
#   sim/demo.sh [BUILDDIR]      (default: build)
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
for f in sim/apsimd sim/apsimctl sim/libapsim-preload.so examples/mini-vmm tools/apmatrix-ctl; do
	[ -e "$BUILD/$f" ] || { echo "demo: $BUILD/$f is missing: build first" >&2; exit 2; }
done
W=$(mktemp -d /tmp/apmatrix-demo.XXXXXX)
APSIMD_PID= VMA= VMB=
cleanup() {
	for p in $VMA $VMB; do kill "$p" 2>/dev/null || true; done
	[ -n "$APSIMD_PID" ] && kill "$APSIMD_PID" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

cat > "$W/host.json" <<'JSON'
{"ap_domain": 4, "ap_max_adapter_id": 255, "ap_max_domain_id": 84,
 "usage_domains": "04-07", "control_domains": "04-07",
 "cards": [{"ids": "03", "type": "CEX8C"}, {"ids": "05", "type": "CEX8P"},
           {"ids": "07", "type": "CEX7A"}]}
JSON
python3 "$SRC/tests/fixtures/mkfixture.py" write "$W/host.json" "$W/sys" >/dev/null

export APMATRIX_SIM_SOCKET="$W/sock" APMATRIX_SYSFS_ROOT="$W/sys" APMATRIX_LOCK_FILE="$W/lock"
"$BUILD/sim/apsimd" --reset-interval 5 "$W/sys" >"$W/apsimd.out" 2>"$W/apsimd.err" &
APSIMD_PID=$!
"$BUILD/sim/apsimctl" wait
PRELOAD="$BUILD/sim/libapsim-preload.so"
# ctl [=N] ARGS...: run apmatrix-ctl; the demo stops if its exit code is not N (default 0)
ctl() {
	want=0
	case "$1" in =*) want=${1#=}; shift ;; esac
	echo "\$ apmatrix-ctl $*"
	rc=0
	LD_PRELOAD=$PRELOAD "$BUILD/tools/apmatrix-ctl" "$@" || rc=$?
	[ "$rc" -eq 0 ] || echo "(exit $rc)"
	[ "$rc" -eq "$want" ] || { echo "demo: exit $rc, expected $want" >&2; exit 1; }
	echo
}
sim() { "$BUILD/sim/apsimctl" "$@"; }
say() { printf '\n=== %s\n\n' "$*"; }
guest() { # what the guest's CRYCB holds
	sim crycb "$1" | sed -n "s/^\(apm\|aqm\|adm\) /  \1 /p"
}

say "1. The host: three adapters x four domains, all with the host's zcrypt drivers"
ctl list

say "2. Reserve 03.0005-0006 and 05.0005-0006 for guests (apmask/aqmask, as chzdev would)"
ctl reserve 03-05.0005-0006
ctl list

say "3. Start two VMs (examples/mini-vmm: /dev/kvm, KVM_CREATE_VM, one SET at start)"
mkfifo "$W/a" "$W/b"
LD_PRELOAD=$PRELOAD "$BUILD/examples/mini-vmm" 03.0005-0006 <"$W/a" >"$W/a.out" 2>&1 & VMA=$!
exec 7>"$W/a"
until grep -q running "$W/a.out"; do sleep 0.05; done	# VM A is vm1
LD_PRELOAD=$PRELOAD "$BUILD/examples/mini-vmm" 05.0005 <"$W/b" >"$W/b.out" 2>&1 & VMB=$!
exec 8>"$W/b"
until grep -q running "$W/b.out"; do sleep 0.05; done	# VM B is vm2
echo "VM A (pid $VMA):"; cat "$W/a.out"
echo "VM B (pid $VMB):"; cat "$W/b.out"
echo; echo "VM A's CRYCB:"; guest 1
echo "VM B's CRYCB:"; guest 2

say "4. VM B asks for a queue VM A holds: refused, nothing changes"
ctl =3 set --pid "$VMB" 03.0005,05.0005
echo "VM B's CRYCB is unchanged:"; guest 2
echo; echo "the kernel's s390dbf line for VM B:"; sim events 2 | grep refused | tail -1

say "5. Hot plug: VM B gets domain 0006 of adapter 05 while it runs"
ctl set --pid "$VMB" 05.0005-0006
ctl get --pid "$VMB"
echo "VM B's CRYCB:"; guest 2

say "6. Adapter 03 leaves the host configuration: it is dropped from VM A and released"
sim remove-adapter 03
echo "VM A's CRYCB:"; guest 1
sim events 1 | grep "left the host" | tail -1
ctl list

say "7. VM B stops: its queues are reset (ZAPQ) before anyone else may have them"
exec 8>&-
kill "$VMB"; wait "$VMB" 2>/dev/null || true; VMB=
while sim vms | grep -q '^vm2 '; do sleep 0.05; done
for q in 05.0005 05.0006; do
	printf '%s: ' "$q"; sim queue "$q" | tr '\n' ' ' | sed 's/exists 1 //'; echo
done
echo; echo "the host can take them back now (no VM holds them):"
ctl release 05.0005-0006
ctl list

say "Simulator checks"
sim stats | grep -E 'violations|leaks|kicks'
# the story holds only if the simulated kernel saw no rule broken and leaked nothing
sim stats | awk '/violations|leaks/ && $NF != 0 { bad = 1 } END { exit bad }' ||
	{ echo "demo: the simulator counted violations or leaks" >&2; exit 1; }
