#!/usr/bin/env python3
"""The real AP bus: boot the series' s390x kernel in qemu-system-s390x with
the TCG AP emulation (qemu/tcg-ap) and check what the host side does.

The guest (tests/apbus/init) runs the command lines sent on its console and
answers each with its output and "@@RC <rc>". The emulated host:
adapters 05 CEX8C, 06 CEX8A, 07 CEX8P, 08 CEX7C; usage domains 04-05;
control domain 0b; the reset of queue 06.0005 never completes.

Checked (TAP):
  - the AP bus comes up on the emulated configuration (QCI, APFT);
  - IBM's lszcrypt -V lists the emulated cards and queues, bound to zcrypt;
    apmatrix-ctl list --json agrees with it on the real sysfs
    (tests/oracle's normal form);
  - the real AP bus reset every queue at start (QMP query-ap-queues counts);
  - apmatrix-ctl reserve takes queues from zcrypt with real apmask/aqmask
    writes, the apmatrix driver binds them, the queues are zeroized on the
    way (ZAPQ counters); release gives them back to cex4queue;
  - QMP configuration changes reach the guest kernel as on real hardware:
    an adapter removed from the configuration disappears, configured off
    shows "deconfig", check-stopped "checkstop"/"offline", and comes back;
    a usage domain removed takes its queues away;
  - an adapter removed while its queues are bound to apmatrix;
  - fake VMs (tests/apbus/vmtest: apmatrix_vmtest.ko, fakevm) on the real
    SET path, driven by the real apmatrix-ctl: vfio_ap's queues refused
    (EADDRNOTAVAIL), ZAPQ/TAPQ of hand-overs and releases, EADDRINUSE
    between two VMs, the real in_use() veto of an aqmask write (EBUSY),
    the real remove() on a sysfs unbind, the real on_config_changed() on
    a QMP removal from the configuration (none on a config-off: the VM
    keeps the standby adapter), a reset that never completes (EIO, then
    "reset failed" and EBUSY for ever), the driver unloaded and reloaded
    while VMs hold queues;
  - the kernel log has no WARNING, BUG, Oops or lockdep report
    (PROVE_LOCKING, DEBUG_ATOMIC_SLEEP); lockdep was told when the driver
    registered that reclaim may take ap_matrix_lock, so an allocation under
    that lock on any path above would have been such a report.

usage: test_apbus.py --qemu Q --kernel BZIMAGE --initrd CPIO [--log FILE]
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "oracle"))
import oracle  # noqa: E402  (its lszcrypt/apmatrix-ctl normal forms)
sys.path.insert(0, os.path.join(HERE, ".."))
from qmp import Qmp  # noqa: E402  (shared with qemu/tcg-ap/tests)

HOST = ("adapters=05:cex8c+06:cex8a+07:cex8p+08:cex7c,usage-domains=04-05,"
        "control-domains=0b,stuck-reset=06.0005,reset-tapqs=3")
RESULTS = []
T0 = time.time()
DMESG_LOG = "dmesg.log"
# the series' driver has the per-queue apmatrix_state attribute and
# /dev/apmatrix (issue 13) once kernel/patches say so
SERIES_HAS_STATE = any(
    "apmatrix_state" in open(os.path.join(HERE, "..", "..", "kernel",
                                          "patches", f)).read()
    for f in os.listdir(os.path.join(HERE, "..", "..", "kernel", "patches"))
    if f.endswith(".patch"))
# the s390-ccw firmware QEMU IPLs with (package qemu-system-data); the
# Debian source of QEMU has no prebuilt blobs
FIRMWARE = "/usr/share/qemu"


def check(name, cond, detail=""):
    RESULTS.append((name, bool(cond), detail))
    print(f"[{time.time() - T0:4.0f} s] {'ok' if cond else 'FAIL'}: {name}",
          file=sys.stderr)
    return bool(cond)


class Console:
    """The guest's console: send a command line, get (rc, output)."""

    def __init__(self, path, log):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        for _ in range(1200):
            try:
                self.sock.connect(path)
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("cannot connect to the console")
        self.buf = b""
        self.log = log

    def until(self, pattern, timeout):
        rx = re.compile(pattern)
        end = time.time() + timeout
        while True:
            text = self.buf.decode(errors="replace").replace("\r", "")
            m = rx.search(text)
            if m:
                cut = len(text[:m.end()].encode())
                self.buf = self.buf[cut:]
                return text[:m.start()], m
            left = end - time.time()
            if left <= 0:
                raise TimeoutError(f"no {pattern!r} within {timeout}s; "
                                   f"last output: {text[-800:]}")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise RuntimeError("console closed; last output: " + text[-800:])
            self.log.write(data.decode(errors="replace"))
            self.log.flush()
            self.buf += data

    def run(self, line, timeout=60):
        self.sock.sendall(line.encode() + b"\n")
        out, m = self.until(r"@@RC (\d+)\n", timeout)
        return int(m.group(1)), out

    def ok(self, line, timeout=60):
        rc, out = self.run(line, timeout)
        if rc:
            raise RuntimeError(f"{line!r} exited {rc}: {out}")
        return out

    def wait_for(self, line, timeout=30, interval=0.5):
        """Run a test command until it succeeds; True if it did in time."""
        end = time.time() + timeout
        while time.time() < end:
            if self.run(line)[0] == 0:
                return True
            time.sleep(interval)
        return False


def lszcrypt_v(con):
    return oracle.parse_lszcrypt_v(con.ok("lszcrypt -V"))


def ctl_list(con):
    return oracle.ctl_normal(json.loads(con.ok("apmatrix-ctl list --json")))


def agree(con, name):
    """lszcrypt -V and apmatrix-ctl list --json describe the same bus."""
    la, lq, lcd = lszcrypt_v(con)
    ca, cq, ccd, _ = ctl_list(con)
    d = "\n".join(x for x in (
        oracle.diff(la, oracle.as_lszcrypt(ca, la), "lszcrypt", "apmatrix-ctl"),
        oracle.diff(lq, oracle.as_lszcrypt(cq, lq), "lszcrypt", "apmatrix-ctl"),
        oracle.diff(lcd, ccd, "lszcrypt", "apmatrix-ctl")) if x)
    check(f"{name}: apmatrix-ctl list agrees with lszcrypt -V", not d, d)
    return la, lq


def driver(con, apqn):
    rc, out = con.run(f"basename $(readlink /sys/bus/ap/devices/{apqn}/driver)")
    return out.strip() if rc == 0 else None


# /proc/lockdep (PROVE_LOCKING) lists each lock class, then " -> [key] name"
# for every lock taken right after it: is ap_matrix_lock (or a second class
# of that name, "#N") one of fs_reclaim's? Asked only while lockdep is on
# (debug_locks 1): an earlier report turns it off, and then it learns
# nothing more.
RECLAIM_TAKES_AP_MATRIX_LOCK = (
    "grep -q '^ *debug_locks: *1$' /proc/lockdep_stats && "
    "awk '/^[^ ]/ { c = ($NF == \"fs_reclaim\") } "
    "c && /^ -> / && $NF ~ /^ap_matrix_lock(#[0-9]+)?$/ { f = 1 } "
    "END { print f ? \"yes\" : \"no\" }' /proc/lockdep")


def steps(con, qmp):
    # before: nothing else (the KUnit suite is off in this kernel) told it
    rc, before = con.run(RECLAIM_TAKES_AP_MATRIX_LOCK)
    before = before.strip() if rc == 0 else f"lockdep off? exit {rc}"
    # the apmatrix driver is a module (the test unloads it later); the
    # test module gives fake VMs on the real SET path
    rc, out = con.run("insmod /modules/ap_matrix_drv.ko && "
                      "insmod /modules/apmatrix_vmtest.ko && "
                      "test -d /sys/bus/ap/drivers/apmatrix && "
                      "test -c /dev/apmatrix_vmtest")
    check("insmod ap_matrix_drv.ko (the apmatrix driver) and "
          "apmatrix_vmtest.ko (fake VMs)", rc == 0, out)
    rc, after = con.run(RECLAIM_TAKES_AP_MATRIX_LOCK)
    after = after.strip() if rc == 0 else f"lockdep off? exit {rc}"
    # so an allocation under ap_matrix_lock on any real path below (the
    # AP bus's remove(), on_config_changed(), the SETs) is a lockdep report,
    # which the kernel log check at the end fails on
    check("lockdep: not told before the driver registers, told after it "
          "that reclaim may take ap_matrix_lock (/proc/lockdep)",
          (before, after) == ("no", "yes"), f"before {before}, after {after}")
    out = con.ok("cat /sys/bus/ap/ap_max_adapter_id /sys/bus/ap/ap_max_domain_id"
                 " /sys/bus/ap/ap_interrupts")
    check("AP bus up: max adapter ff, max domain ff (QCI, APXA), no "
          "interrupts", out.split() == ["255", "255", "0"], out)
    ok = con.wait_for("grep -q complete /sys/bus/ap/bindings", timeout=60)
    check("AP bus: every device bound (bindings complete)", ok,
          con.run("cat /sys/bus/ap/bindings")[1])
    out = con.ok("cat /sys/bus/ap/ap_usage_domain_mask "
                 "/sys/bus/ap/ap_control_domain_mask")
    um, cm = (int(x, 16) for x in out.split())
    check("AP bus: usage domains 04 05, control 04 05 0b (QCI masks)",
          um == (0b11 << (255 - 5)) and
          cm == (0b11 << (255 - 5)) | (1 << (255 - 11)), out)

    la, lq = agree(con, "at boot")
    want = {"05": "CEX8C", "06": "CEX8A", "07": "CEX8P", "08": "CEX7C"}
    check("lszcrypt -V: the emulated cards with their types",
          {k: v["type"] for k, v in la.items()} == want, la)
    healthy = {q: v for q, v in lq.items() if q != "06.0005"}
    check("lszcrypt -V: 7 healthy queues online, bound to cex4queue",
          len(healthy) == 7 and all(v == {"state": "online",
                                          "driver": "cex4queue"}
                                    for v in healthy.values()), lq)
    check("lszcrypt -V: the queue whose reset never completes is listed",
          "06.0005" in lq, lq.get("06.0005"))
    qs = qmp.queues()
    check("the real AP bus reset every queue (RAPQ/ZAPQ counters)",
          all(q["rapq"] + q["zapq"] >= 1 for q in qs.values()),
          {k: (q["rapq"], q["zapq"]) for k, q in qs.items()})
    check("the real AP bus polled the reset with TAPQ until it completed "
          "(reset-tapqs=3: at least 4 TAPQs a queue)",
          all(q["tapq"] >= 4 for q in qs.values()),
          {k: q["tapq"] for k, q in qs.items()})
    # the AP bus polls on a timer: give a starved vCPU up to 20 s
    t0 = t1 = qs["06.0005"]["tapq"]
    end = time.time() + 20
    while t1 <= t0 and time.time() < end:
        time.sleep(0.5)
        t1 = qmp.queues()["06.0005"]["tapq"]
    check("stuck reset: the AP bus keeps polling it (TAPQs go on)",
          t1 > t0, f"{t0} -> {t1}")
    rc, st = con.run("cat /sys/bus/ap/devices/06.0005/reset")
    # every text of the attribute has "reset" in it ("No Reset Timer
    # set.", "Reset Timer armed."): only this one says the reset is stuck
    check("stuck reset: the queue's sysfs 'reset' says so",
          rc == 0 and st.strip() == "Reset in progress.", st)

    # a crypto request: zcrypt's hwrng sends a CCA request with NQAP, the
    # emulation refuses it (response code 0x16) and the read fails at once
    before = qmp.queues()
    t = time.time()
    rc, out = con.run("dd if=/dev/hwrng of=/dev/null bs=8 count=1")
    took = time.time() - t
    after = qmp.queues()
    sent = sum(after[q]["nqap"] - before[q]["nqap"] for q in after)
    check("a request (hwrng read via zcrypt) reaches NQAP and fails at once, "
          "nothing left pending", rc != 0 and sent >= 1 and took < 10,
          f"rc {rc} nqap +{sent} {took:.1f} s: {out}")

    # reserve / release with the real apmask/aqmask and the real drivers
    before = qmp.queues()
    # --no-rebind: the masks only, the AP bus's own choice of driver
    out = con.ok("apmatrix-ctl reserve --no-rebind 05.0004 05.0005")
    mask = con.ok("cat /sys/bus/ap/apmask").strip()
    check("reserve: adapter 05 left the host's apmask (a real write)",
          not int(mask, 16) & (1 << (255 - 5)), f"{out}\napmask {mask}")
    drv = {q: driver(con, q) for q in ("05.0004", "05.0005", "06.0004")}
    # vfio_ap is built in beside apmatrix and registers first: the AP bus
    # gives a queue that left the default drivers to the first non-default
    # driver that matches, and 6.12 has no driver_override for AP devices
    check("reserve --no-rebind: with vfio_ap beside it, the queues go to "
          "vfio_ap (the first non-default driver), 06.0004 stays with "
          "cex4queue",
          drv == {"05.0004": "vfio_ap", "05.0005": "vfio_ap",
                  "06.0004": "cex4queue"}, drv)
    for q in ("05.0004", "05.0005"):
        con.ok(f"echo {q} > /sys/bus/ap/drivers/vfio_ap/unbind")
        con.ok(f"echo {q} > /sys/bus/ap/drivers/apmatrix/bind")
    drv = {q: driver(con, q) for q in ("05.0004", "05.0005")}
    check("sysfs unbind from vfio_ap, bind to apmatrix: the real apmatrix "
          "probe() takes them",
          drv == {"05.0004": "apmatrix", "05.0005": "apmatrix"}, drv)
    if SERIES_HAS_STATE:
        st = {q: con.run(f"cat /sys/bus/ap/devices/{q}/apmatrix_state")[1]
              .strip() for q in ("05.0004", "05.0005")}
        check("apmatrix_state of the bound queues: free (no VM holds them)",
              st == {"05.0004": "free", "05.0005": "free"}, st)
        rc, out = con.run("test -c /dev/apmatrix")
        check("/dev/apmatrix is there (the driver's misc device)", rc == 0,
              out)
    rc, out = con.run("echo 06.0004 > /sys/bus/ap/drivers/apmatrix/bind")
    check("a queue still owned by the default drivers cannot be bound to "
          "apmatrix", rc != 0 and driver(con, "06.0004") == "cex4queue", out)
    after = qmp.queues()
    check("reserve: the queues were zeroized on the way (ZAPQ counters)",
          all(after[q]["zapq"] > before[q]["zapq"]
              for q in ("05.0004", "05.0005")),
          {q: (before[q]["zapq"], after[q]["zapq"])
           for q in ("05.0004", "05.0005")})
    agree(con, "reserved")
    out = con.ok("apmatrix-ctl release 05.0004 05.0005")
    mask = con.ok("cat /sys/bus/ap/apmask").strip()
    drv = {q: driver(con, q) for q in ("05.0004", "05.0005")}
    check("release: apmask has adapter 05 again, cex4queue has the queues",
          int(mask, 16) & (1 << (255 - 5)) and
          drv == {"05.0004": "cex4queue", "05.0005": "cex4queue"},
          f"{out}\napmask {mask}\n{drv}")

    # configuration changes made with QMP reach the kernel
    qmp.cmd("ap-set-adapter-state", adapter=8, state="removed")
    ok = con.wait_for("! test -e /sys/bus/ap/devices/card08", timeout=20)
    check("QMP remove adapter 08: the guest kernel drops card08", ok)
    la, lq = agree(con, "adapter 08 removed")
    check("adapter 08 removed: lszcrypt lists neither card nor queues",
          "08" not in la and not any(q.startswith("08.") for q in lq), la)

    qmp.cmd("ap-set-adapter-state", adapter=7, state="config-off")
    ok = con.wait_for("grep -qx 0 /sys/bus/ap/devices/card07/config",
                      timeout=20)
    la, lq = agree(con, "adapter 07 configured off")
    check("QMP config-off adapter 07: card and queues deconfig",
          ok and la.get("07", {}).get("state") == "deconfig" and
          lq.get("07.0004", {}).get("state") == "deconfig", (la, lq))

    # one change at a time: the AP bus handles one state change of a
    # queue per scan (checkstop first, then config), and after the event's
    # scan the next one is AP_CONFIG_TIME (30 s) away
    qmp.cmd("ap-set-adapter-state", adapter=7, state="online")
    ok = con.wait_for("grep -qx 1 /sys/bus/ap/devices/07.0004/config && "
                      "grep -qx 1 /sys/bus/ap/devices/07.0004/online",
                      timeout=20)
    la, lq = agree(con, "adapter 07 configured on")
    check("QMP adapter 07 configured on again: queues online", ok and
          lq.get("07.0004", {}).get("state") == "online", lq.get("07.0004"))

    qmp.cmd("ap-set-adapter-state", adapter=7, state="checkstop")
    ok = con.wait_for("grep -qx 1 /sys/bus/ap/devices/card07/chkstop && "
                      "grep -qx 1 /sys/bus/ap/devices/07.0004/chkstop",
                      timeout=20)
    la, lq = agree(con, "adapter 07 check-stopped")
    check("QMP checkstop adapter 07: chkstop 1, not online",
          ok and lq.get("07.0004", {}).get("state") in
          ("checkstop", "offline"), lq.get("07.0004"))

    qmp.cmd("ap-set-adapter-state", adapter=7, state="online")
    ok = con.wait_for("grep -qx 1 /sys/bus/ap/devices/07.0004/online && "
                      "grep -qx 0 /sys/bus/ap/devices/07.0004/chkstop && "
                      "grep -qx 1 /sys/bus/ap/devices/07.0004/config",
                      timeout=30)
    la, lq = agree(con, "adapter 07 back")
    check("QMP adapter 07 online again: queues online", ok and
          lq.get("07.0004", {}).get("state") == "online", lq.get("07.0004"))

    grant = "apmatrix-ctl grant 05.0005 --control-domains {} -- " \
            "apmatrix-ctl grant-info"
    if SERIES_HAS_STATE:
        rc, out = con.run(grant.format("04"))
        check("/dev/apmatrix grant with control domain 04 (in the host's "
              "QCI adm): created", rc == 0, out)
        rc, out = con.run(grant.format("0c"))
        check("grant with control domain 0c (not in the host's QCI adm): "
              "refused with ENODEV", refused(rc, out, "ENODEV"), out)
    qmp.cmd("ap-set-domain-state", domain=4, state="removed")
    ok = con.wait_for("! test -e /sys/bus/ap/devices/05.0004", timeout=20)
    if SERIES_HAS_STATE:
        rc, out = con.run(grant.format("04"))
        check("domain 04 removed: the real on_config_changed() updated the "
              "host configuration, a grant with control domain 04 is refused "
              "(ENODEV)", refused(rc, out, "ENODEV"), out)
    la, lq = agree(con, "domain 04 removed")
    check("QMP remove domain 04: every xx.0004 queue is gone",
          ok and not any(q.endswith(".0004") for q in lq), sorted(lq))
    qmp.cmd("ap-set-domain-state", domain=4, state="online")
    ok = con.wait_for("test -e /sys/bus/ap/devices/05.0004 && "
                      "grep -qx 1 /sys/bus/ap/devices/05.0004/online",
                      timeout=30)
    check("QMP domain 04 back: 05.0004 comes back online", ok)

    # an adapter leaves the configuration while apmatrix holds its queues
    # reserve moves what vfio_ap got to apmatrix by itself
    out = con.ok("apmatrix-ctl reserve 05.0004 05.0005")
    drvs = {q: driver(con, q) for q in ("05.0004", "05.0005")}
    check("reserve: the queues vfio_ap got are moved to apmatrix",
          drvs == {"05.0004": "apmatrix", "05.0005": "apmatrix"} and
          "moved from vfio_ap to apmatrix" in out, f"{out}\n{drvs}")
    drv = driver(con, "05.0004")
    qmp.cmd("ap-set-adapter-state", adapter=5, state="removed")
    ok = con.wait_for("! test -e /sys/bus/ap/devices/card05", timeout=20)
    check("adapter removed while its queues are bound to apmatrix: the "
          "kernel drops it", drv == "apmatrix" and ok, drv)
    qmp.cmd("ap-set-adapter-state", adapter=5, state="online")
    ok = con.wait_for("test -e /sys/bus/ap/devices/05.0004/driver",
                      timeout=30)
    check("adapter 05 back: its queues (still reserved) go to a "
          "non-default driver again (vfio_ap, registered first)",
          ok and driver(con, "05.0004") == "vfio_ap", driver(con, "05.0004"))
    con.ok("apmatrix-ctl release 05.0004 05.0005")

    vm_steps(con, qmp)

    dmesg = con.ok("dmesg")
    bad = [ln for ln in dmesg.splitlines()
           if re.search(r"WARNING:|BUG:|Oops|Call Trace|circular locking|"
                        r"recursive locking|inconsistent lock|invalid context|"
                        r"lock held when returning|INFO: task", ln)]
    # a log that wrapped (LOG_BUF_SHIFT 17) may have lost a report: the
    # check holds only if the boot's first line is still there
    whole = "Linux version" in dmesg
    check("kernel log (lockdep, atomic-sleep checks on): no WARNING, BUG, "
          "Oops or lock report (the whole log, from the boot on)",
          whole and not bad,
          "\n".join(bad[:40]) if whole else "dmesg wrapped")
    with open(DMESG_LOG, "w") as f:
        f.write(dmesg)


# ---------------------------------------------------------------------------
# fake VMs (tests/apbus/vmtest) on the real SET path: the real
# kvm_s390_ap_matrix_set/get/has on a VM-less struct kvm, the real apmatrix
# driver's host operations, the real AP bus, the emulated queues

ERRNO_TEXT = {
    "EADDRNOTAVAIL": "Cannot assign requested address",
    "EADDRINUSE": "Address already in use",
    "EBUSY": "busy",
    "EIO": "Input/output error",
    "ENODEV": "No such device",
}


def refused(rc, out, name):
    """a command failed and its message names errno @name"""
    return rc != 0 and (name in out or ERRNO_TEXT[name].lower() in
                        out.lower())


def fakevm(con):
    """a VMM holding a fake VM on fd 5; its pid"""
    pid = int(con.ok("fakevm 5 sleep 100000 </dev/null >/dev/null 2>&1 & "
                     "echo $!").split()[-1])
    if not con.wait_for(f"test \"$(readlink /proc/{pid}/fd/5)\" = "
                        "anon_inode:kvm-vm", timeout=30, interval=0.2):
        raise RuntimeError(f"fakevm {pid} holds no VM on fd 5")
    return pid


def vmset(con, pid, spec):
    return con.run(f"apmatrix-ctl set --pid {pid} {spec}")


def vmget(con, pid):
    out = con.ok(f"apmatrix-ctl get --pid {pid} --json")
    return set(json.loads(out[out.index("{"):out.rindex("}") + 1])["apqns"])


def state(con, apqn):
    rc, out = con.run(f"cat /sys/bus/ap/devices/{apqn}/apmatrix_state")
    return out.strip() if rc == 0 else None


def to_apmatrix(con, apqns):
    """queues a reserve gave to vfio_ap (registered first) to apmatrix"""
    for q in apqns:
        if driver(con, q) == "vfio_ap":
            con.ok(f"echo {q} > /sys/bus/ap/drivers/vfio_ap/unbind")
        if driver(con, q) != "apmatrix":
            con.ok(f"echo {q} > /sys/bus/ap/drivers/apmatrix/bind")


def counters(qmp, apqns):
    qs = qmp.queues()
    return {q: (qs[q]["zapq"], qs[q]["tapq"]) for q in apqns}


def reset_seen(before, after):
    """every queue got a ZAPQ and was polled with TAPQ in between"""
    return all(after[q][0] > before[q][0] and after[q][1] > before[q][1]
               for q in before)


def vm_steps(con, qmp):
    every = ["05.0004", "05.0005", "06.0004", "06.0005", "07.0004",
             "07.0005"]
    # --no-rebind: reserve would move 06.0005 from vfio_ap itself, and
    # that unbind blocks (below)
    con.ok("apmatrix-ctl reserve --no-rebind " + " ".join(every))
    rc, out = con.run("fakevm 5 apmatrix-ctl set --vm-fd 5 05.0004")
    check("vfio_ap beside apmatrix: a SET naming a queue bound to vfio_ap "
          "is refused with EADDRNOTAVAIL (never claimable)",
          driver(con, "05.0004") == "vfio_ap" and
          refused(rc, out, "EADDRNOTAVAIL"), out)
    to_apmatrix(con, [q for q in every if q != "06.0005"])
    # vfio_ap's remove() resets the queue and polls it until the reset
    # completes, without a bound: the unbind of 06.0005 blocks until its
    # adapter leaves the configuration (TAPQ then answers "deconfigured",
    # which vfio_ap takes for a completed reset)
    con.sock.sendall(b"echo 06.0005 > /sys/bus/ap/drivers/vfio_ap/unbind\n")
    try:
        con.until(r"@@RC (\d+)\n", 5)
        blocked = False
    except TimeoutError:
        blocked = True
    qmp.cmd("ap-set-adapter-state", adapter=6, state="config-off")
    _, m = con.until(r"@@RC (\d+)\n", 60)
    check("vfio_ap: unbinding 06.0005 (reset never completes) blocks in "
          "its remove() until QMP configures adapter 06 off",
          blocked and m.group(1) == "0", f"blocked {blocked} rc {m.group(1)}")
    qmp.cmd("ap-set-adapter-state", adapter=6, state="online")
    if not con.wait_for("grep -qx 1 /sys/bus/ap/devices/card06/config", 30):
        raise RuntimeError("adapter 06 did not come back configured")
    to_apmatrix(con, ["06.0005"])
    drv = {q: driver(con, q) for q in every}
    check("all six reserved queues (06.0005 too, whose reset never "
          "completes) bound to apmatrix",
          all(d == "apmatrix" for d in drv.values()), drv)

    # one VM for one command: set --vm-fd, then the VM's destruction
    # the queues were free before and are free after: that the VM had
    # them is shown from inside its life (apmatrix_state), and that a SET
    # only adding queues resets none is checked with VM A below, so the
    # ZAPQs counted here are the destruction's
    before = counters(qmp, ["05.0004", "05.0005"])
    rc, out = con.run("fakevm 5 sh -c 'apmatrix-ctl set --vm-fd 5 "
                      "--adapters 05 --domains 04,05 && cat "
                      "/sys/bus/ap/devices/05.0004/apmatrix_state'")
    held = re.search(r"^in use \d+$", out, re.M)
    ok = con.wait_for("grep -qx free /sys/bus/ap/devices/05.0004/"
                      "apmatrix_state && grep -qx free "
                      "/sys/bus/ap/devices/05.0005/apmatrix_state", 30, 0.2)
    after = counters(qmp, ["05.0004", "05.0005"])
    check("set --vm-fd on a fake VM: the real SET succeeds (in use while "
          "the VM lives); the VM's destruction resets its queues (ZAPQ, "
          "TAPQ counters rise) and frees them",
          rc == 0 and held and ok and reset_seen(before, after),
          f"{out}\n{before} -> {after}")

    a = fakevm(con)
    b = fakevm(con)
    before = counters(qmp, ["05.0004", "05.0005"])
    rc, out = vmset(con, a, "--adapters 05 --domains 04,05")
    after = counters(qmp, ["05.0004", "05.0005"])
    check("a SET only adding queues resets none (ZAPQ counters unchanged)",
          rc == 0 and all(after[q][0] == before[q][0] for q in before),
          f"{out}\n{before} -> {after}")
    got = vmget(con, a)
    st = state(con, "05.0004")
    check("VM A (set --pid, as for a VMM) holds 05.0004 05.0005: GET and "
          f"apmatrix_state say so (in use {a})",
          rc == 0 and got == {"05.0004", "05.0005"} and st == f"in use {a}",
          f"{out}\n{got} {st}")
    rc, out = vmset(con, b, "05.0004")
    check("VM B naming a queue of VM A: EADDRINUSE; B holds nothing",
          refused(rc, out, "EADDRINUSE") and vmget(con, b) == set(), out)

    # reserve took domains 04 05 from the host (aqmask)
    mask = con.ok("cat /sys/bus/ap/aqmask").strip()
    rc, out = con.run("echo +4 > /sys/bus/ap/aqmask")
    mask2 = con.ok("cat /sys/bus/ap/aqmask").strip()
    check("an aqmask write giving domain 04 back to the host while VM A "
          "holds 05.0004: EBUSY (the real in_use() veto), aqmask "
          "unchanged", refused(rc, out, "EBUSY") and mask == mask2 and
          driver(con, "05.0004") == "apmatrix", f"{out}\n{mask} {mask2}")

    before = counters(qmp, ["05.0004", "05.0005"])
    rc, out = vmset(con, a, "--reset --adapters 05 --domains 04,05")
    after = counters(qmp, ["05.0004", "05.0005"])
    check("SET --reset: the real ZAPQ and TAPQ reach the kept queues "
          "(emulation counters)", rc == 0 and reset_seen(before, after) and
          vmget(con, a) == {"05.0004", "05.0005"},
          f"{out}\n{before} -> {after}")

    before = counters(qmp, ["05.0005"])
    rc, out = vmset(con, a, "--adapters 05,07 --domains 04")
    after = counters(qmp, ["05.0005"])
    got = vmget(con, a)
    check("SET dropping 05.0005: it is reset (ZAPQ, TAPQ counters) and "
          "free; A holds 05.0004 07.0004",
          rc == 0 and reset_seen(before, after) and
          state(con, "05.0005") == "free" and
          got == {"05.0004", "07.0004"}, f"{out}\n{before} -> {after} {got}")

    # a sysfs unbind runs the real remove(): the adapter leaves the guest
    before = counters(qmp, ["05.0004"])
    con.ok("echo 05.0004 > /sys/bus/ap/drivers/apmatrix/unbind")
    got = vmget(con, a)
    ok = con.wait_for("test -z \"$(ls /sys/bus/ap/devices/05.0004/driver "
                      "2>/dev/null)\"", 5, 0.2)
    # the CRYCB rewrite, then the reset worker (work items)
    end = time.time() + 30
    after = counters(qmp, ["05.0004"])
    while not reset_seen(before, after) and time.time() < end:
        time.sleep(0.2)
        after = counters(qmp, ["05.0004"])
    check("sysfs unbind of 05.0004 held by A: the real remove() takes "
          "adapter 05 from A (GET: 07.0004 left) and the queue is reset",
          ok and got == {"07.0004"} and reset_seen(before, after),
          f"{got} {before} -> {after}")
    con.ok("echo 05.0004 > /sys/bus/ap/drivers/apmatrix/bind")
    ok = con.wait_for("grep -qx free /sys/bus/ap/devices/05.0004/"
                      "apmatrix_state", 30, 0.2)
    check("05.0004 bound again: apmatrix_state free (its reset completed)",
          ok, state(con, "05.0004"))

    # a configured-off (standby) adapter stays in the QCI: the AP bus
    # calls no on_config_changed(), the VM keeps it (as a vfio_ap guest)
    qmp.cmd("ap-set-adapter-state", adapter=7, state="config-off")
    ok = con.wait_for("grep -qx 0 /sys/bus/ap/devices/card07/config",
                      timeout=20)
    time.sleep(2)
    got = vmget(con, a)
    check("QMP config-off adapter 07 (standby, still in the QCI): A keeps "
          "07.0004", ok and got == {"07.0004"}, got)
    qmp.cmd("ap-set-adapter-state", adapter=7, state="online")
    ok = con.wait_for("grep -qx 1 /sys/bus/ap/devices/card07/config",
                      timeout=30)
    # an adapter removed from the configuration: the real
    # on_config_changed() (the QCI changed) takes it from the VM
    qmp.cmd("ap-set-adapter-state", adapter=7, state="removed")
    ok = ok and con.wait_for("! test -e /sys/bus/ap/devices/card07", 20)
    got = vmget(con, a)
    rc, log = con.run(f"cat /sys/kernel/debug/s390dbf/apm-vmtest-{a}-*/"
                      "sprintf")
    check("QMP remove adapter 07: the real on_config_changed() drops it "
          "from A's matrix (GET empty; A's s390dbf log: IDs left the host "
          "configuration)", ok and got == set() and
          "IDs left the host configuration" in log, f"{got}\n{log}")
    qmp.cmd("ap-set-adapter-state", adapter=7, state="online")
    ok = con.wait_for("test -e /sys/bus/ap/devices/07.0004/driver && "
                      "test -e /sys/bus/ap/devices/07.0005/driver", 30)
    to_apmatrix(con, ["07.0004", "07.0005"])
    ok = ok and con.wait_for("grep -qx free /sys/bus/ap/devices/07.0004/"
                             "apmatrix_state", timeout=30)
    rc, out = vmset(con, a, "--adapters 07 --domains 04")
    check("adapter 07 back (to vfio_ap, moved to apmatrix): free, and A "
          "can have it again",
          ok and rc == 0 and vmget(con, a) == {"07.0004"},
          f"{state(con, '07.0004')} {out}")

    # a reset that never completes (06.0005 in the emulation)
    rc, out = vmset(con, a, "--adapters 06 --domains 04,05")
    got = vmget(con, a)
    rc2, out2 = vmset(con, a, "--reset --adapters 06 --domains 04,05")
    got2 = vmget(con, a)
    check("SET --reset with 06.0005 (reset never completes): EIO, A keeps "
          "the matrix minus adapter 06",
          rc == 0 and got == {"06.0004", "06.0005"} and
          refused(rc2, out2, "EIO") and got2 == set(),
          f"{out}\n{got}\n{out2}\n{got2}")
    ok = con.wait_for("grep -qx 'reset failed' /sys/bus/ap/devices/06.0005/"
                      "apmatrix_state && grep -qx free "
                      "/sys/bus/ap/devices/06.0004/apmatrix_state", 30, 0.2)
    check("06.0005: apmatrix_state 'reset failed'; 06.0004 reset and free",
          ok, f"{state(con, '06.0005')} {state(con, '06.0004')}")
    rc, out = vmset(con, b, "--adapters 06 --domains 05")
    rc2, out2 = vmset(con, a, "06.0005")
    check("the failed queue is never claimable: SETs of B and A naming "
          "06.0005 get EBUSY",
          refused(rc, out, "EBUSY") and refused(rc2, out2, "EBUSY"),
          f"{out}\n{out2}")

    # the driver unloaded while VMs hold queues
    rc, out = vmset(con, a, "--adapters 05,07 --domains 04")
    rc2, out2 = vmset(con, b, "--adapters 06 --domains 04")
    held = ["05.0004", "07.0004", "06.0004"]
    before = counters(qmp, held)
    check("before rmmod: A holds 05.0004 07.0004, B 06.0004",
          rc == 0 and rc2 == 0 and vmget(con, a) == {"05.0004", "07.0004"}
          and vmget(con, b) == {"06.0004"}, f"{out}\n{out2}")
    rc, out = con.run("rmmod ap_matrix_drv")
    after = counters(qmp, held)
    gone = con.run("test -d /sys/bus/ap/drivers/apmatrix")[0] != 0
    check("rmmod ap_matrix_drv while A and B hold queues: unloaded, both "
          "VMs' matrices empty, every held queue reset (ZAPQ, TAPQ)",
          rc == 0 and gone and vmget(con, a) == set() and
          vmget(con, b) == set() and reset_seen(before, after),
          f"{out}\n{before} -> {after}")
    rc, out = vmset(con, a, "--adapters 05 --domains 04")
    check("no AP driver registered: SET gets EOPNOTSUPP",
          rc != 0 and ("EOPNOTSUPP" in out or "not supported" in out), out)
    rc, out = con.run("insmod /modules/ap_matrix_drv.ko")
    ok = rc == 0 and con.wait_for(
        "for q in 05.0004 05.0005 06.0004 07.0004 07.0005; do "
        "grep -qx free /sys/bus/ap/devices/$q/apmatrix_state || exit 1; "
        "done", timeout=20)
    st = state(con, "06.0005")
    check("insmod again: the reserved queues bound to apmatrix and free; "
          "06.0005 is reset again, still not free",
          ok and st in ("resetting", "reset failed"), f"{out} 06.0005: {st}")
    rc, out = vmset(con, a, "--adapters 05 --domains 04,05")
    rc2, out2 = vmset(con, b, "--adapters 06 --domains 05")
    check("after the reload: A can have 05.0004 05.0005 again; 06.0005 "
          "still refused (EBUSY)", rc == 0 and
          vmget(con, a) == {"05.0004", "05.0005"} and
          refused(rc2, out2, "EBUSY"), f"{out}\n{out2}")

    # the VMMs exit: their VMs are destroyed and their queues freed
    con.ok(f"kill {a} {b}; wait")
    ok = con.wait_for("grep -qx free /sys/bus/ap/devices/05.0004/"
                      "apmatrix_state && grep -qx free "
                      "/sys/bus/ap/devices/05.0005/apmatrix_state", 30, 0.2)
    check("the VMMs exit: their queues are freed", ok,
          f"{state(con, '05.0004')} {state(con, '05.0005')}")
    # the last close of a VM fd frees what the module set up for it
    ok = con.wait_for("! ls /sys/kernel/debug/s390dbf | grep -q apm-vmtest",
                      30, 0.2)
    check("the fake VMs' s390dbf logs are gone with them", ok,
          con.run("ls /sys/kernel/debug/s390dbf")[1])
    # the queues stay reserved: 06.0005 is being reset again (for up to
    # 30 s, the worker's bound), in use for the AP bus meanwhile
    rc, out = con.run("rmmod apmatrix_vmtest")
    check("the test module unloads once no fake VM is left", rc == 0, out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--log", default=None, help="console log file")
    a = ap.parse_args()
    global DMESG_LOG
    t0 = time.time()
    with tempfile.TemporaryDirectory() as t:
        DMESG_LOG = (a.log or os.path.join(t, "console.log")) + ".dmesg"
        log = open(a.log or os.path.join(t, "console.log"), "w")
        args = [a.qemu, "-L", FIRMWARE, "-M", "s390-ccw-virtio", "-cpu", "max",
                "-smp", "2",
                "-m", "512", "-nodefaults", "-display", "none",
                "-kernel", a.kernel, "-initrd", a.initrd,
                "-append", "console=ttysclp0 loglevel=3 panic=-1",
                "-object", f"s390-ap-host,id=aphost,{HOST}",
                "-chardev", f"socket,id=con,path={t}/con,server=on,wait=off",
                "-device", "sclpconsole,chardev=con",
                "-qmp", f"unix:{t}/qmp,server=on,wait=off",
                "-no-reboot"]
        proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        try:
            qmp = Qmp(f"{t}/qmp", connect_s=60)
            con = Console(f"{t}/con", log)
            con.until(r"@@READY\n", 300)
            check(f"guest booted ({time.time() - t0:.0f} s)", True)
            steps(con, qmp)
        except Exception as e:
            check(f"test ran to its end ({e})", False)
        finally:
            try:
                con.sock.sendall(b"@@POWEROFF\n")
                proc.wait(timeout=20)
            except Exception:
                proc.kill()
                proc.wait()
            err = proc.stderr.read()
            if err.strip():
                print(err, file=sys.stderr)
    print(f"1..{len(RESULTS)}")
    failed = 0
    for i, (name, ok, detail) in enumerate(RESULTS, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {name}")
        if not ok:
            failed += 1
            for line in str(detail).splitlines() or [""]:
                print(f"#   {line}")
    print(f"# {len(RESULTS) - failed} passed, {failed} failed, "
          f"{time.time() - t0:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
