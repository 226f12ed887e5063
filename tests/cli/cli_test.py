#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""End-to-end tests of apmatrix-ctl: run the built binary on fake /sys trees
(written by tests/fixtures/mkfixture.py from tests/cli/hosts/*.json into
temporary directories) and check its exact stdout, stderr and exit code,
and that nothing changed where nothing may change.

usage: cli_test.py --ctl PATH [--wrapper JSON-LIST] [--mock-so PATH]
                   [--fault-so PATH] [--valgrind] GROUP

One GROUP per meson test; TAP on stdout.
"""

import json
import os
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(HERE))
from ctl_harness import (CtlTests, ONES, P, Skip, main, read, snap_diff,  # noqa: E402
                         snapshot)


def mask(first_byte, rest="f"):
    """A 64-digit mask whose first byte is first_byte and rest all rest."""
    return "0x%02x" % first_byte + rest * 62


class Tests(CtlTests):
    prefix = "apmatrix-cli-"
    default_host = "cli-a"

    def subset(self, cases, names):
        """All cases; under --valgrind only those named (a case is a tuple
        whose first item is its name). Each apmatrix-ctl run under memcheck
        costs ~0.4 s, so the valgrind variants run one case of each code
        path class, with the same assertions; the plain variants run all."""
        if not self.opts.valgrind:
            return cases
        have = set(c[0] for c in cases)
        self.ok(set(names) <= have, "valgrind subset: every case it names exists",
                "unknown: %s" % sorted(set(names) - have))
        return [c for c in cases if c[0] in names]


# ===================================================================== groups

LIST_A = """\
ap_max_adapter_id=0xff
ap_max_domain_id=0x54
apmask=%s
aqmask=%s

CARD.DOM TYPE  STATUS   DRIVER      HOLDER
---------------------------------------------------
05       CEX8C online   cex4card    -
05.0004  CEX8C online   cex4queue   host
05.0005  CEX8C online   cex4queue   host
05.0006  CEX8C online   cex4queue   host
06       CEX8C online   cex4card    -
06.0004  CEX8C online   cex4queue   host
06.0005  CEX8C online   cex4queue   host
06.0006  CEX8C online   cex4queue   host
07       CEX8A online   cex4card    -
07.0004  CEX8A -        vfio_ap     vfio_ap
07.0005  CEX8A -        apmatrix    apmatrix (free)
07.0006  CEX8A -        -no-driver- free
0a       CEX8P deconfig cex4card    -
0a.0004  CEX8P deconfig cex4queue   host
""" % (mask(0xfe), ONES)


def q(apqn, online, driver, holder, config=True, chkstop=False, state=None, pid=None):
    if driver == "apmatrix" and state is None:
        state = "free"
    return {"apqn": apqn, "online": online, "config": config, "chkstop": chkstop,
            "driver": driver, "holder": holder, "apmatrix_state": state, "apmatrix_pid": pid}


def card(id_, type_, online, config, queues, chkstop=False, driver="cex4card"):
    return {"id": id_, "type": type_, "driver": driver, "online": online,
            "config": config, "chkstop": chkstop, "queues": queues}


LIST_A_JSON = {
    "format_version": 1,
    "max_adapter_id": 255,
    "max_domain_id": 84,
    "apmask": mask(0xfe),
    "aqmask": ONES,
    "adapters": [
        card("05", "CEX8C", True, True, [
            q("05.0004", True, "cex4queue", "host"),
            q("05.0005", True, "cex4queue", "host"),
            q("05.0006", True, "cex4queue", "host")]),
        card("06", "CEX8C", True, True, [
            q("06.0004", True, "cex4queue", "host"),
            q("06.0005", True, "cex4queue", "host"),
            q("06.0006", True, "cex4queue", "host")]),
        card("07", "CEX8A", True, True, [
            q("07.0004", None, "vfio_ap", "vfio_ap"),
            q("07.0005", None, "apmatrix", "apmatrix"),
            q("07.0006", None, None, "free")]),
        card("0a", "CEX8P", False, False, [
            q("0a.0004", False, "cex4queue", "host", config=False)]),
    ],
}

LIST_C = """\
ap_max_adapter_id=0xff
ap_max_domain_id=0x54
apmask=%s
aqmask=%s

CARD.DOM TYPE  STATUS    DRIVER      HOLDER
-------------------------------------------
01       CEX8C online    cex4card    -
01.0000  CEX8C online    cex4queue   host
01.0001  CEX8C offline   cex4queue   host
02       CEX8C checkstop cex4card    -
02.0000  CEX8C checkstop cex4queue   host
02.0001  CEX8C checkstop cex4queue   host
03       CEX7A deconfig  cex4card    -
03.0000  CEX7A deconfig  cex4queue   host
04       CEX8P online    cex4card    -
04.0001  CEX8P -         -no-driver- free
""" % (mask(0xf7), ONES)

LIST_C_ADAPTERS = [
    card("01", "CEX8C", True, True, [
        q("01.0000", True, "cex4queue", "host"),
        q("01.0001", False, "cex4queue", "host")]),
    card("02", "CEX8C", False, True, [
        q("02.0000", False, "cex4queue", "host", chkstop=True),
        q("02.0001", False, "cex4queue", "host", chkstop=True)], chkstop=True),
    card("03", "CEX7A", False, False, [
        q("03.0000", False, "cex4queue", "host", config=False)]),
    card("04", "CEX8P", True, True, [
        q("04.0001", None, None, "free")]),
]

KEY_ORDER = ["format_version", "max_adapter_id", "max_domain_id", "apmask",
             "aqmask", "adapters"]


def g_list(t):
    root = t.tree()
    before = snapshot(root)
    r = t.run(["list"], root)
    t.expect("list: lszcrypt-like table of cli-a", r, 0, LIST_A)

    r = t.run(["--sysfs-root", root, "list"])
    t.expect("list: --sysfs-root before the command", r, 0, LIST_A)
    r = t.run(["list", "--sysfs-root", root], "/nonexistent")
    t.expect("list: --sysfs-root after the command overrides the environment",
             r, 0, LIST_A)

    r = t.run(["list", "--json"], root)
    if t.expect("list --json: exit 0, nothing on stderr", r, 0, None):
        pairs = json.loads(r.out, object_pairs_hook=lambda p: p)
        t.ok([k for k, _ in pairs] == KEY_ORDER, "list --json: top-level keys in order",
             repr([k for k, _ in pairs]))
        doc = json.loads(r.out)
        t.ok(doc == LIST_A_JSON, "list --json: the documented document for cli-a",
             json.dumps(doc, indent=1))
    r = t.run(["list", "-j"], root)
    t.ok(r.rc == 0 and json.loads(r.out) == LIST_A_JSON, "list -j is --json")

    r = t.run(["list", "07.0004-0005", "0a.0004"], root)
    t.expect("list APQNS: only those queues and their cards", r, 0, """\
ap_max_adapter_id=0xff
ap_max_domain_id=0x54
apmask=%s
aqmask=%s

CARD.DOM TYPE  STATUS   DRIVER    HOLDER
-------------------------------------------------
07       CEX8A online   cex4card  -
07.0004  CEX8A -        vfio_ap   vfio_ap
07.0005  CEX8A -        apmatrix  apmatrix (free)
0a       CEX8P deconfig cex4card  -
0a.0004  CEX8P deconfig cex4queue host
""" % (mask(0xfe), ONES))
    # an entry that exists but cannot be read is an error naming it, not a
    # card left out (list) or more taken than said (reserve)
    bad = t.tree()
    os.symlink("card0c", os.path.join(bad, "bus/ap/devices/card0c"))
    bad_before = snapshot(bad)
    for args in (["list"], ["reserve", "05.0004"]):
        r = t.run(args, bad)
        t.expect_error("%s with an unreadable card entry: named, exit 2" % args[0], r, 2,
                       "reading %s/bus/ap/devices/card0c: Too many levels of symbolic links "
                       "(ELOOP)" % bad)
    t.ok(snapshot(bad) == bad_before, "nothing written", snap_diff(bad_before, snapshot(bad)))

    # each apmatrix queue's state, from its apmatrix_state (the contract)
    st = t.tree()
    for apqi, text in ((4, "in use 4242"), (5, "resetting"), (6, "reset failed")):
        qd = os.path.join(st, "devices/ap/card07/07.%04x" % apqi)
        if os.path.lexists(os.path.join(qd, "driver")):
            os.unlink(os.path.join(qd, "driver"))
        os.symlink("../../../../bus/ap/drivers/apmatrix", os.path.join(qd, "driver"))
        with open(os.path.join(qd, "apmatrix_state"), "w") as fh:
            fh.write(text + "\n")
    r = t.run(["list", "07.0004-0006"], st)
    t.ok(r.rc == 0 and r.out.endswith(
        "CARD.DOM TYPE  STATUS DRIVER   HOLDER\n"
        "------------------------------------------------------------\n"
        "07       CEX8A online cex4card -\n"
        "07.0004  CEX8A -      apmatrix apmatrix (in use by pid 4242)\n"
        "07.0005  CEX8A -      apmatrix apmatrix (resetting)\n"
        "07.0006  CEX8A -      apmatrix apmatrix (reset failed)\n"),
        "list: each apmatrix queue's state (in use by pid N, resetting, reset failed)",
        r.out + r.err)
    r = t.run(["list", "--json", "07.0004-0006"], st)
    doc = json.loads(r.out) if r.rc == 0 else {"adapters": [{"queues": []}]}
    t.ok([(x["apqn"], x["apmatrix_state"], x["apmatrix_pid"]) for x in doc["adapters"][0]["queues"]]
         == [("07.0004", "in use", 4242), ("07.0005", "resetting", None),
             ("07.0006", "reset failed", None)],
         "list --json: apmatrix_state and apmatrix_pid of each apmatrix queue", r.out + r.err)

    # control characters in sysfs text (a card type, a driver's name) are
    # not sent to the terminal raw
    hostile = t.tree()
    with open(os.path.join(hostile, "devices/ap/card05/type"), "w") as fh:
        fh.write("CEX8C\x1b[2J\n")
    drv = os.path.join(hostile, "bus/ap/drivers/evil\x07drv")
    os.makedirs(drv)
    qdrv = os.path.join(hostile, "devices/ap/card07/07.0006/driver")
    os.symlink(drv, qdrv)
    r = t.run(["list", "05.0004", "07.0006"], hostile)
    t.ok(r.rc == 0 and "\x1b" not in r.out and "\x07" not in r.out
         and "CEX8C\\x1b[2J" in r.out and "evil\\x07drv" in r.out,
         "list: control characters from sysfs are shown as \\xNN", r.out + r.err)
    r = t.run(["list", "--json", "07.0006"], hostile)
    t.ok(r.rc == 0 and "\x07" not in r.out
         and json.loads(r.out)["adapters"][0]["queues"][0]["driver"] == "evil\x07drv",
         "list --json: escaped by JSON, the value intact", r.out + r.err)

    r = t.run(["list", "--json", "05.0006"], root)
    doc = json.loads(r.out) if r.rc == 0 else None
    t.ok(doc is not None and doc["adapters"] == [card("05", "CEX8C", True, True, [
        q("05.0006", True, "cex4queue", "host")])], "list --json APQNS filters too",
         r.out + r.err)
    r = t.run(["list", "08.0004"], root)
    t.expect_error("list: an APQN that is not on the host", r, 2,
                   "08.0004: no such queue on this host")
    r = t.run(["list", "05.zz"], root)
    t.ok(r.rc == 1 and r.out == "" and r.err.startswith(P) and "05.zz" in r.err
         and r.err.count("\n") == 1, "list: bad APQN text names it, exit 1", r.err)
    r = t.run(["list"], os.path.join(t.tmp, "no-such-dir"))
    t.ok(r.rc == 2 and r.out == "" and r.err.startswith(P) and r.err.count("\n") == 1,
         "list: no AP bus under the sysfs root: one line, exit 2", r.err)
    t.ok(snapshot(root) == before, "list changes nothing", snap_diff(before, snapshot(root)))

    # STATUS and DRIVER as lszcrypt shows them: a queue set offline on its
    # own, a check-stopped card, a deconfigured card, a queue with no driver
    root = t.tree("cli-c")
    r = t.run(["list"], root)
    t.expect("list: checkstop, deconfig, offline and no driver", r, 0, LIST_C)
    r = t.run(["list", "--json"], root)
    doc = json.loads(r.out) if r.rc == 0 else None
    t.ok(doc is not None and doc["adapters"] == LIST_C_ADAPTERS,
         "list --json: config and chkstop of cards and queues, the card driver",
         r.err + json.dumps(doc, indent=1))


def plan_a_05_06_0004(tail):
    return ("apmask: %s (unchanged)\naqmask: %s -> %s\n"
            "also takes from the host: 0a.0004\n" % (mask(0xfe), ONES, mask(0xf7)) + tail)


PLAN_KEYS = ["format_version", "apmask", "aqmask", "collateral", "absent", "applied",
             "queues"]


def plan_doc(ap, aq, collateral, applied, absent=(), queues=()):
    """The reserve/release --json document: ap, aq are (before, after);
    queues: (apqn, driver, action, reason) of reserve's queues."""
    return {"format_version": 1,
            "apmask": {"before": ap[0], "after": ap[1]},
            "aqmask": {"before": aq[0], "after": aq[1]},
            "collateral": collateral, "absent": list(absent), "applied": applied,
            "queues": [{"apqn": q[0], "driver": q[1], "action": q[2], "reason": q[3]}
                       for q in queues]}


def expect_plan(t, name, r, rc, doc, err=""):
    """r printed exactly doc (keys in the documented order), exit rc."""
    got = None
    try:
        pairs = json.loads(r.out, object_pairs_hook=lambda p: p)
        got = json.loads(r.out)
    except ValueError:
        pairs = []
    keys = [k for k, _ in pairs]
    err_ok = r.err == err if isinstance(err, str) else err(r.err)
    return t.ok(r.rc == rc and got == doc and keys == PLAN_KEYS and err_ok, name,
                "rc %d (want %d)\nstdout:\n%s\nwant:\n%s\nstderr: %r"
                % (r.rc, rc, r.out, json.dumps(doc, indent=2), r.err))


def g_reserve(t):
    root = t.tree()
    before = snapshot(root)

    # the default driver has them now: the bus's re-probe decides, and
    # vfio_ap is loaded (it may get them, then they are moved)
    reprobe = ("reprobe", "vfio_ap may get it from the bus's re-probe: then it is "
               "moved unless a mediated device has it")
    r = t.run(["reserve", "--json", "--dry-run", "05-06.0004"], root)
    expect_plan(t, "reserve --json --dry-run: the plan, not applied", r, 0,
                plan_doc((mask(0xfe), mask(0xfe)), (ONES, mask(0xf7)), ["0a.0004"], False,
                         queues=[(q, "cex4queue") + reprobe for q in ("05.0004", "06.0004")]))
    r = t.run(["reserve", "-jn", "--adapters", "05-06", "--domains", "0004-0006"], root)
    expect_plan(t, "reserve -jn whole cards: nothing taken along", r, 0,
                plan_doc((mask(0xfe), mask(0xf8)), (ONES, ONES), [], False,
                         queues=[("%02x.%04x" % (a, d), "cex4queue") + reprobe
                                 for a in (5, 6) for d in (4, 5, 6)]))
    r = t.run(["reserve", "--json", "07.0005"], root)
    expect_plan(t, "reserve --json with nothing to do: masks unchanged, not applied", r, 0,
                plan_doc((mask(0xfe), mask(0xfe)), (ONES, ONES), [], False, queues=[
                    ("07.0005", "apmatrix", "kept", None)]))
    # queues the host does not have: the masks change for them, and it says so
    r = t.run(["reserve", "--dry-run", "0b.0004-0005"], root)
    lines = r.out.splitlines()
    t.ok(r.rc == 0 and "not on this host (the masks change for them all the same): "
         "0b.0004,0b.0005" in lines, "reserve of queues the host lacks: names them", r.out)
    r = t.run(["reserve", "-jn", "0b.0004-0005"], root)
    t.ok(r.rc == 0 and json.loads(r.out)["absent"] == ["0b.0004", "0b.0005"],
         "reserve --json: absent names them", r.out + r.err)
    r = t.run(["reserve", "--json", "05.00zz"], root)
    t.ok(r.rc == 1 and r.out == "" and r.err.count("\n") == 1 and "05.00zz" in r.err,
         "reserve --json with bad APQN text: no JSON, one line, exit 1", r.out + r.err)
    t.ok(snapshot(root) == before, "reserve --json --dry-run and no-op wrote nothing",
         snap_diff(before, snapshot(root)))

    r = t.run(["reserve", "--dry-run", "05-06.0004"], root)
    t.expect("reserve --dry-run: the domain bit takes fewest along", r, 0,
             plan_a_05_06_0004("dry run: nothing written\n"))
    r = t.run(["reserve", "-n", "--adapters", "05,06", "--domains", "0004"], root)
    t.expect("reserve -n --adapters/--domains: the same plan", r, 0,
             plan_a_05_06_0004("dry run: nothing written\n"))
    r = t.run(["reserve", "--dry-run", "--adapters", "05-06", "--domains", "0004-0006"], root)
    t.expect("reserve --dry-run whole cards: adapter bits, nothing else taken", r, 0,
             "apmask: %s -> %s\naqmask: %s (unchanged)\nno other queue is affected\n"
             "dry run: nothing written\n" % (mask(0xfe), mask(0xf8), ONES))
    t.ok(snapshot(root) == before, "reserve --dry-run wrote nothing",
         snap_diff(before, snapshot(root)))

    r = t.run(["reserve", "07.0005"], root)
    t.expect("reserve of queues the host does not hold: nothing to do", r, 0,
             "nothing to do: the host's default drivers hold none of these queues\n")
    # 07.0004 is vfio_ap's and in use by a guest: refused, named, nothing
    # written; --dry-run refuses it the same, exit status and all
    in_use = ("bound to vfio_ap and in use by a guest through a mediated device "
              "(status 'in use')")
    for dry in ([], ["--dry-run"]):
        r = t.run(["reserve"] + dry + ["07.0004-0005"], root)
        t.expect_error("reserve %sof a queue a vfio_ap mediated device uses: refused"
                       % (dry and "--dry-run " or ""), r, 2, "07.0004: %s: nothing changed" % in_use)
    # and with other queues the write would take: the plan, then the refusal
    r = t.run(["reserve", "--dry-run", "05-07.0004"], root)
    t.expect("reserve --dry-run of vfio_ap's queue in use and others: the plan, then refused",
             r, 2, "apmask: %s (unchanged)\naqmask: %s -> %s\nalso takes from the host: "
             "0a.0004\n" % (mask(0xfe), ONES, mask(0xf7)),
             P + "07.0004: %s: nothing changed\n" % in_use)
    r = t.run(["reserve", "-jn", "07.0004-0005"], root)
    expect_plan(t, "reserve --json --dry-run of vfio_ap's queue in use: refused in the "
                "document, then the error", r, 2,
                plan_doc((mask(0xfe), mask(0xfe)), (ONES, ONES), [], False, queues=[
                    ("07.0004", "vfio_ap", "refused", in_use),
                    ("07.0005", "apmatrix", "kept", None)]),
                P + "07.0004: %s: nothing changed\n" % in_use)
    t.ok(snapshot(root) == before, "reserve with nothing to do wrote nothing",
         snap_diff(before, snapshot(root)))

    nobus = os.path.join(t.tmp, "no-bus")
    os.mkdir(nobus)
    r = t.run(["reserve", "05.0004", "--sysfs-root", nobus], root)
    t.expect_error("reserve without an AP bus: exit 2", r, 2,
                   "no AP bus at %s/bus/ap (no s390 AP bus here)" % nobus)

    # for real: whole cards 05 and 06
    r = t.run(["reserve", "05-06.0004-0006"], root)
    t.expect("reserve 05-06.0004-0006", r, 0,
             "apmask: %s -> %s\naqmask: %s (unchanged)\nno other queue is affected\n"
             % (mask(0xfe), mask(0xf8), ONES))
    t.ok(read(os.path.join(root, "bus/ap/apmask")).strip() == mask(0xf8),
         "reserve wrote apmask", read(os.path.join(root, "bus/ap/apmask")))
    t.ok(read(os.path.join(root, "bus/ap/aqmask")) == ONES + "\n",
         "reserve left aqmask as it was", read(os.path.join(root, "bus/ap/aqmask")))
    after = snapshot(root)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    t.ok(changed == ["bus/ap/apmask"], "reserve changed apmask only", repr(changed))
    t.settle(root)
    r = t.run(["list", "05.0004", "06.0006"], root)
    t.expect("list after reserve and the bus's rebinding: held by apmatrix", r, 0, """\
ap_max_adapter_id=0xff
ap_max_domain_id=0x54
apmask=%s
aqmask=%s

CARD.DOM TYPE  STATUS DRIVER   HOLDER
----------------------------------------------
05       CEX8C online cex4card -
05.0004  CEX8C -      apmatrix apmatrix (free)
06       CEX8C online cex4card -
06.0006  CEX8C -      apmatrix apmatrix (free)
""" % (mask(0xf8), ONES))
    r = t.run(["reserve", "05.0004"], root)
    t.expect("reserve again: nothing to do", r, 0,
             "nothing to do: the host's default drivers hold none of these queues\n")

    # queues set aside already, with vfio_ap or no driver (cli-a: 07.0004
    # vfio_ap "in use", 07.0006 none); the fixture's bind files keep what
    # is written to them
    root = t.tree()
    bind = os.path.join(root, "bus/ap/drivers/apmatrix/bind")
    unbind = os.path.join(root, "bus/ap/drivers/vfio_ap/unbind")
    r = t.run(["reserve", "07.0006"], root)
    t.expect("reserve of a set-aside queue with no driver: bound to apmatrix", r, 0,
             "07.0006: bound to apmatrix (it had no driver)\n")
    t.ok(read(bind) == "07.0006\n", "reserve wrote 07.0006 to apmatrix's bind", read(bind))
    root = t.tree()
    bind = os.path.join(root, "bus/ap/drivers/apmatrix/bind")
    unbind = os.path.join(root, "bus/ap/drivers/vfio_ap/unbind")
    before = snapshot(root)
    r = t.run(["reserve", "--no-rebind", "07.0004-0006"], root)
    t.expect("reserve --no-rebind: leaves vfio_ap's and the unbound queue, says so", r, 0,
             "07.0004: bound to vfio_ap, left there (no rebinding asked for): "
             "a VM cannot have it until it is bound to apmatrix\n"
             "07.0006: bound to no driver, left so (no rebinding asked for): "
             "a VM cannot have it until it is bound to apmatrix\n")
    t.ok(snapshot(root) == before, "reserve --no-rebind bound nothing",
         snap_diff(before, snapshot(root)))
    r = t.run(["reserve", "--no-rebind", "--dry-run", "07.0004"], root)
    t.expect_error("reserve --no-rebind --dry-run: a usage error", r, 1,
                   "reserve: --no-rebind has no meaning with --dry-run: nothing is bound or written")
    # a settle timeout or lock wait that is no number of seconds (0-3600,
    # 0-86400): refused by name, nothing written (the library alone once
    # waited its default instead); both read by the library's one parser
    for var, top, bads, cmds in (
            ("APMATRIX_SETTLE_TIMEOUT", 3600, ("-1", "garbage", "nan", "inf", "3601", "2s"),
             ("reserve",)),
            ("APMATRIX_LOCK_TIMEOUT", 86400,
             ("-1", "garbage", "nan", "inf", "86401", "1e999", "2s", " ", "0x"),
             ("reserve", "release"))):
        for bad in bads + ("x" * 100,):
            shown = bad if len(bad) <= 40 else bad[:40] + "..."
            for cmd in cmds:
                r = t.run([cmd, "07.0004"], root, env={var: bad})
                t.expect_error("%s with %s=%r: a usage error" % (cmd, var, shown), r, 1,
                               "%s: %s '%s': not a number of seconds from 0 to %d"
                               % (cmd, var, shown, top))
        t.ok(snapshot(root) == before, "a bad %s changed nothing" % var,
             snap_diff(before, snapshot(root)))
    # vfio_ap's queue no mediated device has ("unassigned"): moved to apmatrix
    status = os.path.join(root, "devices/ap/card07/07.0004/status")
    os.chmod(status, 0o644)
    with open(status, "w") as fh:
        fh.write("unassigned\n")
    before = snapshot(root)
    r = t.run(["reserve", "--dry-run", "07.0004", "07.0006"], root)
    t.expect("reserve --dry-run of vfio_ap's unassigned queue and one without a driver: "
             "what it would move and bind", r, 0,
             "07.0004: would be moved from vfio_ap to apmatrix\n"
             "07.0006: would be bound to apmatrix (it has no driver)\n"
             "dry run: nothing written\n")
    r = t.run(["reserve", "-jn", "07.0004", "07.0006"], root)
    expect_plan(t, "reserve --json --dry-run: would move and bind", r, 0,
                plan_doc((mask(0xfe), mask(0xfe)), (ONES, ONES), [], False, queues=[
                    ("07.0004", "vfio_ap", "moved", None),
                    ("07.0006", None, "bound", None)]))
    t.ok(snapshot(root) == before, "reserve --dry-run moved and bound nothing",
         snap_diff(before, snapshot(root)))
    r = t.run(["reserve", "07.0004"], root)
    t.expect("reserve of vfio_ap's unassigned queue: moved", r, 0,
             "07.0004: moved from vfio_ap to apmatrix\n")
    t.ok(read(unbind) == "07.0004\n" and read(bind) == "07.0004\n",
         "unbound from vfio_ap, bound to apmatrix", read(unbind) + read(bind))
    t.settle(root)
    r = t.run(["list", "07.0004"], root)
    t.ok(r.rc == 0 and "07.0004  CEX8A -      apmatrix apmatrix (free)" in r.out,
         "list after the move: apmatrix holds 07.0004", r.out + r.err)

    # the domain form for real, with a queue taken along
    root = t.tree()
    r = t.run(["reserve", "--adapters", "05,06", "--domains", "0004"], root)
    t.expect("reserve --adapters 05,06 --domains 0004", r, 0, plan_a_05_06_0004(""))
    t.ok(read(os.path.join(root, "bus/ap/aqmask")).strip() == mask(0xf7)
         and read(os.path.join(root, "bus/ap/apmask")) == mask(0xfe) + "\n",
         "reserve by domain wrote aqmask only")

    # --json for real
    root = t.tree()
    r = t.run(["reserve", "--json", "05-06.0004"], root)
    # a fixture tree has no bus to re-probe: the queues still show cex4queue
    left = "bound to cex4queue: only queues with vfio_ap or no driver are moved"
    expect_plan(t, "reserve --json: the plan, applied", r, 0,
                plan_doc((mask(0xfe), mask(0xfe)), (ONES, mask(0xf7)), ["0a.0004"], True,
                         queues=[("05.0004", "cex4queue", "left", left),
                                 ("06.0004", "cex4queue", "left", left)]))
    t.ok(read(os.path.join(root, "bus/ap/aqmask")) == mask(0xf7) + "\n",
         "reserve --json wrote aqmask", read(os.path.join(root, "bus/ap/aqmask")))


def g_release(t):
    root = t.tree()
    t.run(["reserve", "05-06.0004-0006"], root)
    t.settle(root)
    before = snapshot(root)
    r = t.run(["release", "--dry-run", "05-06.0004-0006"], root)
    t.expect("release --dry-run", r, 0,
             "apmask: %s -> %s\naqmask: %s (unchanged)\nno other queue is affected\n"
             "dry run: nothing written\n" % (mask(0xf8), mask(0xfe), ONES))
    t.ok(snapshot(root) == before, "release --dry-run wrote nothing",
         snap_diff(before, snapshot(root)))
    r = t.run(["release", "--adapters", "05-06", "--domains", "04-06"], root)
    t.expect("release --adapters/--domains", r, 0,
             "apmask: %s -> %s\naqmask: %s (unchanged)\nno other queue is affected\n"
             % (mask(0xf8), mask(0xfe), ONES))
    t.ok(read(os.path.join(root, "bus/ap/apmask")).strip() == mask(0xfe),
         "release wrote apmask back", read(os.path.join(root, "bus/ap/apmask")))
    t.settle(root)
    r = t.run(["list"], root)
    t.expect("list after release: as before the reserve", r, 0, LIST_A)
    r = t.run(["release", "05.0004"], root)
    t.expect("release of a queue the host holds: nothing to do", r, 0,
             "nothing to do: the host's default drivers already hold these queues\n")

    # both masks must change: cli-b lacks adapter 05 and domain 0004
    root = t.tree("cli-b")
    r = t.run(["release", "--dry-run", "05.0004"], root)
    t.expect("release --dry-run needing both masks: names what comes along", r, 0,
             "apmask: %s -> %s\naqmask: %s -> %s\n"
             "also gives back to the host: 05.0005,05.0006,06.0004,0a.0004\n"
             "dry run: nothing written\n" % (mask(0xfa), mask(0xfe), mask(0xf7), ONES))
    r = t.run(["release", "05.0004"], root)
    t.expect("release needing both masks", r, 0,
             "apmask: %s -> %s\naqmask: %s -> %s\n"
             "also gives back to the host: 05.0005,05.0006,06.0004,0a.0004\n"
             % (mask(0xfa), mask(0xfe), mask(0xf7), ONES))
    t.ok(read(os.path.join(root, "bus/ap/apmask")).strip() == mask(0xfe)
         and read(os.path.join(root, "bus/ap/aqmask")).strip() == ONES,
         "release wrote both masks")

    coll_b = ["05.0005", "05.0006", "06.0004", "0a.0004"]
    root = t.tree("cli-b")
    before = snapshot(root)
    r = t.run(["release", "--json", "--dry-run", "05.0004"], root)
    expect_plan(t, "release --json --dry-run: both masks, what comes along", r, 0,
                plan_doc((mask(0xfa), mask(0xfe)), (mask(0xf7), ONES), coll_b, False))
    t.ok(snapshot(root) == before, "release --json --dry-run wrote nothing",
         snap_diff(before, snapshot(root)))
    r = t.run(["release", "-j", "05.0004"], root)
    expect_plan(t, "release -j: applied", r, 0,
                plan_doc((mask(0xfa), mask(0xfe)), (mask(0xf7), ONES), coll_b, True))
    t.ok(read(os.path.join(root, "bus/ap/apmask")).strip() == mask(0xfe)
         and read(os.path.join(root, "bus/ap/aqmask")).strip() == ONES,
         "release --json wrote both masks")
    r = t.run(["release", "--json", "05.0004"], root)
    expect_plan(t, "release --json with nothing to do: not applied", r, 0,
                plan_doc((mask(0xfe), mask(0xfe)), (ONES, ONES), [], False))


def ro_bind_prefix(path):
    """Run the command in a mount namespace where path is read-only."""
    return ["unshare", "-m", "sh", "-c",
            'mount --bind -o ro "$0" "$0" && exec "$@"', path]


def can_ro_bind(t):
    f = os.path.join(t.tmp, "probe-ro")
    with open(f, "w") as fh:
        fh.write("x")
    p = subprocess.run(ro_bind_prefix(f) + ["sh", "-c", 'echo y > "$1"', "sh", f],
                       capture_output=True)
    return p.returncode != 0 and read(f) == "x" and b"Read-only" in p.stderr


def g_rollback(t):
    if not can_ro_bind(t):
        t.skip("rollback tests", "cannot make a read-only bind mount here (needs root)")
        return
    for ro in ("aqmask", "apmask"):
        root = t.tree("cli-b")
        before = snapshot(root)
        r = t.run(["release", "05.0004"], root,
                  prefix=ro_bind_prefix(os.path.join(root, "bus/ap", ro)))
        lines = r.err.splitlines()
        t.ok(r.rc == 2 and len(lines) == 1 and lines[0].startswith(P)
             and ro in lines[0],
             "release with %s unwritable: one line naming %s, exit 2" % (ro, ro),
             "rc %d stderr %r" % (r.rc, r.err))
        t.ok(snapshot(root) == before,
             "release with %s unwritable: both masks as before (rolled back)" % ro,
             snap_diff(before, snapshot(root)))
        root = t.tree("cli-a")
        before = snapshot(root)
        r = t.run(["reserve", "05-06.0004-0006"], root,
                  prefix=ro_bind_prefix(os.path.join(root, "bus/ap", ro)))
        if ro == "apmask":
            t.ok(r.rc == 2 and r.err.count("\n") == 1 and "apmask" in r.err,
                 "reserve with apmask unwritable: exit 2, names apmask", r.err)
        else:
            t.expect("reserve not touching the unwritable aqmask works", r, 0,
                     "apmask: %s -> %s\naqmask: %s (unchanged)\nno other queue is affected\n"
                     % (mask(0xfe), mask(0xf8), ONES))
            continue
        t.ok(snapshot(root) == before, "reserve with apmask unwritable changed nothing",
             snap_diff(before, snapshot(root)))


USAGE_CASES = [
    # (name, args, message)
    ("no command", [], "no command given (see 'apmatrix-ctl --help')"),
    ("unknown command", ["frobnicate"],
     "'frobnicate': unknown command (see 'apmatrix-ctl --help')"),
    ("unknown global option", ["--bogus", "list"],
     "unknown option '--bogus' (see 'apmatrix-ctl --help')"),
    ("unknown global short option", ["-x", "list"],
     "unknown option '-x' (see 'apmatrix-ctl --help')"),
    ("--sysfs-root without its argument", ["--sysfs-root"],
     "option '--sysfs-root' needs an argument"),
    ("unknown option of a command", ["list", "--bogus"],
     "list: unknown option '--bogus' (see 'apmatrix-ctl list --help')"),
    ("unknown short option in a cluster", ["list", "-jq"],
     "list: unknown option '-q' (see 'apmatrix-ctl list --help')"),
    ("an option of another command", ["list", "--dry-run"],
     "list: unknown option '--dry-run' (see 'apmatrix-ctl list --help')"),
    ("--adapters without argument", ["reserve", "--adapters"],
     "reserve: option '--adapters' needs an argument"),
    ("-a without argument", ["reserve", "-a"],
     "reserve: option '-a' needs an argument"),
    ("reserve without APQNs", ["reserve"],
     "reserve: no APQNs given (APQNS or --adapters/--domains)"),
    ("release without APQNs", ["release", "--dry-run"],
     "release: no APQNs given (APQNS or --adapters/--domains)"),
    ("APQNS and --adapters", ["reserve", "05.0004", "--adapters", "05", "--domains", "04"],
     "reserve: give APQNS or --adapters/--domains, not both"),
    ("--adapters without --domains", ["reserve", "--adapters", "05"],
     "reserve: --adapters needs --domains"),
    ("--domains without --adapters", ["release", "--domains", "0004"],
     "release: --domains needs --adapters"),
    ("--adapters twice", ["reserve", "--adapters", "05", "--adapters", "06"],
     "reserve: --adapters given twice"),
    ("--pid twice", ["set", "--pid", "1", "05.0004", "-p", "2"], "set: --pid given twice"),
    ("--vm-fd twice", ["get", "--vm-fd", "3", "--vm-fd", "4"], "get: --vm-fd given twice"),
    ("set with empty APQN text", ["set", "--vm-fd", "3", ""],
     "set: empty APQN argument '' (to take every queue from the VM, use clear)"),
    ("set with blank APQN text", ["set", "--pid", "1", " "],
     "set: empty APQN argument ' ' (to take every queue from the VM, use clear)"),
    ("set with empty --adapters/--domains", ["set", "--vm-fd", "3", "--adapters", "",
                                             "--domains", ""],
     "set: empty --adapters '' (to take every queue from the VM, use clear)"),
    ("set with empty --domains", ["set", "--vm-fd", "3", "--adapters", "05",
                                  "--domains", " "],
     "set: empty --domains ' ' (to take every queue from the VM, use clear)"),
    ("list ''", ["list", ""], "list: empty APQN argument ''"),
    ("reserve ''", ["reserve", "05.0004", ""], "reserve: empty APQN argument ''"),
    ("unknown short option after a long one", ["reserve", "--json", "-x05.0004"],
     "reserve: unknown option '-x' (see 'apmatrix-ctl reserve --help')"),
    ("unknown short option after a long one with argument",
     ["set", "--pid", "1", "-q"],
     "set: unknown option '-q' (see 'apmatrix-ctl set --help')"),
    ("--control-domains on reserve", ["reserve", "--control-domains", "04", "05.0004"],
     "reserve: --control-domains has no meaning here: control domains are not reserved"),
    ("get with an argument", ["get", "--vm-fd", "3", "05.0004"],
     "get: unexpected argument '05.0004'"),
    ("clear with an argument", ["clear", "--pid", "1", "x"],
     "clear: unexpected argument 'x'"),
    ("--pid not a number", ["get", "--pid", "12ab"], "get: --pid '12ab': not a process ID"),
    ("--pid 0", ["probe", "--pid", "0"], "probe: --pid '0': not a process ID"),
    ("--pid negative", ["probe", "--pid=-5"], "probe: --pid '-5': not a process ID"),
    ("--pid too big", ["probe", "-p", "99999999999"],
     "probe: --pid '99999999999': not a process ID"),
    ("--vm-fd not a number", ["clear", "--vm-fd", "x"],
     "clear: --vm-fd 'x': not a file descriptor number"),
    ("--vm-fd negative", ["clear", "--vm-fd", "-1"],
     "clear: --vm-fd '-1': not a file descriptor number"),
    ("--vm-fd empty", ["get", "--vm-fd="], "get: --vm-fd '': not a file descriptor number"),
    ("set without a matrix", ["set", "--vm-fd", "3"],
     "set: no matrix given: APQNS, --adapters/--domains or --control-domains "
     "(to empty the VM's matrix, use clear)"),
    ("set without a VM", ["set", "05.0004"], "set: no VM given: use --vm-fd N or --pid PID"),
    ("get without a VM", ["get"], "get: no VM given: use --vm-fd N or --pid PID"),
    ("clear without a VM", ["clear"], "clear: no VM given: use --vm-fd N or --pid PID"),
    ("probe without a VM", ["probe"], "probe: no VM given: use --vm-fd N or --pid PID"),
    ("enable-apie without a VM", ["enable-apie"],
     "enable-apie: no VM given: use --vm-fd N or --pid PID"),
    ("set --domains alone", ["set", "--vm-fd", "3", "--domains", "0004"],
     "set: --domains needs --adapters"),
    ("--sysfs-root empty", ["list", "--sysfs-root", ""],
     "--sysfs-root '': the sysfs root must be a directory name, not empty"),
]

# Texts the library must refuse; the message (the library's) must name them.
BAD_TEXT_CASES = [
    ("reserve", ["reserve", "--dry-run", "05.00zz"], "05.00zz"),
    ("reserve", ["reserve", "5"], "5"),
    ("reserve", ["reserve", "05.0004-"], "05.0004-"),
    ("reserve", ["reserve", "100.0004"], "100"),
    ("reserve", ["reserve", "--adapters", "zz", "--domains", "04"], "zz"),
    ("reserve", ["reserve", "--adapters", "05", "--domains", "0004,,0005"], "0004,,0005"),
    ("release", ["release", "--adapters", "07-05", "--domains", "04"], "07-05"),
    ("set", ["set", "--vm-fd", "0", "05.0004", "--control-domains", "1g"], "1g"),
    ("set", ["set", "--vm-fd", "0", "--adapters", "0x1ff", "--domains", "4"], "0x1ff"),
]


# Under valgrind, one case of each code path: global and command getopt
# errors, a missing argument, an option twice, a bad number, too many
# arguments, a command's own checks before and after the matrix is parsed,
# no VM, a context that cannot be made; library parse errors of APQN text,
# of a second ID list, of control domains.
USAGE_VALGRIND = {
    "unknown command", "unknown global option", "unknown short option in a cluster",
    "-a without argument", "--adapters twice", "--pid negative", "get with an argument",
    "--control-domains on reserve", "APQNS and --adapters", "set without a VM",
    "--sysfs-root empty",
}
BAD_TEXT_VALGRIND = {"05.0004-", "0004,,0005", "1g"}


def g_usage(t):
    root = t.tree()
    before = snapshot(root)
    for name, args, msg in t.subset(USAGE_CASES, USAGE_VALGRIND):
        r = t.run(args, root)
        t.expect_error("usage: " + name, r, 1, msg)
    bad_cases = [(bad, cmd, args) for cmd, args, bad in BAD_TEXT_CASES]
    for bad, cmd, args in t.subset(bad_cases, BAD_TEXT_VALGRIND):
        r = t.run(args, root)
        lines = r.err.splitlines()
        t.ok(r.rc == 1 and r.out == "" and len(lines) == 1 and lines[0].startswith(P)
             and bad in lines[0], "usage: %s: %r named, exit 1" % (cmd, bad),
             "rc %d stderr %r" % (r.rc, r.err))
    r = t.run(["reserve", "05.0004,06.0005"], root)
    lines = r.err.splitlines()
    t.ok(r.rc == 1 and len(lines) == 1 and "05.0005" in lines[0] and "06.0004" in lines[0],
         "usage: not a cross product: names the APQNs it would add", r.err)
    t.ok(snapshot(root) == before, "usage errors changed nothing",
         snap_diff(before, snapshot(root)))


def g_help(t):
    r = t.run(["--help"])
    t.ok(r.rc == 0 and r.err == "" and r.out.startswith("Usage: apmatrix-ctl ")
         and all(c in r.out for c in ("list", "reserve", "release", "set", "get",
                                      "clear", "probe", "enable-apie", "Exit codes:")),
         "--help: usage, every command, the exit codes", r.out + r.err)
    r2 = t.run(["-h"])
    t.ok(r2.rc == 0 and r2.out == r.out, "-h is --help")
    for c in ("list", "reserve", "release", "set", "get", "clear", "probe", "enable-apie"):
        r = t.run([c, "--help"])
        t.ok(r.rc == 0 and r.err == "" and r.out.startswith("Usage: apmatrix-ctl " + c + " ")
             and "--sysfs-root" in r.out, "%s --help" % c, r.out + r.err)
    r = t.run(["set", "--help"])
    t.ok(all(o in r.out for o in ("--validate-only", "--reset", "--control-domains",
                                  "--vm-fd", "--pid", "--adapters", "--domains")),
         "set --help names every option of set", r.out)
    r = t.run(["list", "--bogus", "--help"])
    t.expect_error("an unknown option before --help is still an error", r, 1,
                   "list: unknown option '--bogus' (see 'apmatrix-ctl list --help')")
    r = t.run(["--version"])
    t.ok(r.rc == 0 and r.err == "" and r.out.startswith("apmatrix-ctl 0.")
         and "(libapmatrix " in r.out and r.out.count("\n") == 1, "--version", r.out)
    r = t.run(["-V"])
    t.ok(r.rc == 0 and r.out.startswith("apmatrix-ctl "), "-V is --version")


def g_stdout(t):
    """A write error on stdout is an error, not silence."""
    if not os.path.exists("/dev/full"):
        t.skip("stdout write error", "no /dev/full")
        return
    root = t.tree()
    argv = t.cmd(["list"])
    with open("/dev/full", "w") as full:
        p = subprocess.run(argv, env=t.env(root), stdout=full, stderr=subprocess.PIPE,
                           text=True)
    t.ok(p.returncode == 2 and p.stderr.startswith(P + "cannot write to standard output")
         and p.stderr.count("\n") == 1, "list > /dev/full: exit 2, one line", p.stderr)


# ===================================================================== VMs
# The VM commands run with tests/ioctl-mock preloaded: a memfd named
# "apmatrix-fake-vm" is a KVM VM to it, and every ioctl on it must be the
# next line of the script (else the process exits 99), so each script
# checks the payload: flags, usage APQNs, control domains, in order.

FAKE_VM = "apmatrix-fake-vm"
SET_OK = "valid: the kernel accepts this matrix; nothing changed\n"


def need_mock(t):
    if not t.opts.mock_so:
        raise Skip("no ioctl mock (tests/ioctl-mock not built)")


def mock_env(t, script_lines, log=None):
    path = os.path.join(t.tmp, "script-%d" % t.n)
    with open(path, "w") as fh:
        fh.write("\n".join(script_lines) + "\n")
    asan = os.environ.get("ASAN_OPTIONS", "")
    env = {"LD_PRELOAD": t.opts.mock_so, "APMATRIX_IOCTL_SCRIPT": path,
           "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}
    if log:
        env["APMATRIX_IOCTL_LOG"] = log
    return env


def vm_run(t, args, script, root=None):
    """apmatrix-ctl ARGS --vm-fd N with a fake VM as fd N."""
    fd = os.memfd_create(FAKE_VM, 0)
    try:
        return t.run(args + ["--vm-fd", str(fd)], root, env=mock_env(t, script),
                     pass_fds=(fd,))
    finally:
        os.close(fd)


# (name, args, script, exit code, stdout, stderr)
VM_CASES = [
    ("probe: available", ["probe"], ["has -> 0"], 0,
     "KVM_S390_VM_CRYPTO_SET_AP_MATRIX: available\n", ""),
    ("probe: not available (ENXIO)", ["probe"], ["has -> ENXIO"], 4,
     "KVM_S390_VM_CRYPTO_SET_AP_MATRIX: not available\n", ""),
    ("probe: not a VM (ENOTTY)", ["probe"], ["has -> ENOTTY"], 5, "",
     P + "probe: not a KVM VM file descriptor (ENOTTY)\n"),
    ("probe: other error", ["probe"], ["has -> EIO"], 2, "",
     P + "probe: Input/output error (EIO)\n"),

    ("set APQNs and control domains", ["set", "05-06.0004", "--control-domains", "0004"],
     ["set 0 05-06.0004/c=0004 -> 0"], 0, "", ""),
    ("set: options after the APQNs", ["set", "05.0004", "--reset", "-c", "0b"],
     ["set reset 05.0004/c=000b -> 0"], 0, "", ""),
    ("set --validate-only", ["set", "--validate-only", "05-06.0004-0005"],
     ["set validate 05-06.0004-0005 -> 0"], 0, SET_OK, ""),
    ("set --reset", ["set", "--reset", "05.0004"], ["set reset 05.0004 -> 0"], 0, "", ""),
    ("set --validate-only --reset", ["set", "--validate-only", "--reset", "05.0004"],
     ["set validate,reset 05.0004 -> 0"], 0, SET_OK, ""),
    ("set --adapters --domains --control-domains",
     ["set", "--adapters", "05,06", "--domains", "0004-0005", "--control-domains", "04,0b"],
     ["set 0 05-06.0004-0005/c=0004,000b -> 0"], 0, "", ""),
    ("set with masks", ["set", "-a", "0x06" + "0" * 62, "-d", "0x08" + "0" * 62],
     ["set 0 05-06.0004 -> 0"], 0, "", ""),
    ("set control domains only", ["set", "--control-domains", "0004"],
     ["get -> 0 c=000b", "set 0 c=0004 -> 0"], 0, "", ""),
    ("set control domains only would drop queues: refused, naming them",
     ["set", "--control-domains", "0004"],
     ["get -> 0 05-06.0004/c=000b"], 1, "",
     P + "set: --control-domains without APQNs would take 05-06.0004 from the VM: "
     "name the APQNs it keeps too (or clear it first)\n"),
    ("set several APQNS arguments", ["set", "05.0004", "05.0005"],
     ["set 0 05.0004-0005 -> 0"], 0, "", ""),

    ("set: EINVAL", ["set", "05.0004"], ["set 0 05.0004 -> EINVAL"], 3, "",
     P + "set: the request had unknown flag bits, non-zero reserved fields, or a grant_fd "
     "that is no grant (EINVAL)\n"),
    ("set: EOPNOTSUPP", ["set", "05.0004"], ["set 0 05.0004 -> EOPNOTSUPP"], 4, "",
     P + "set: the host has no AP instructions or no apmatrix AP driver is registered "
     "(EOPNOTSUPP)\n"),
    ("set: ENXIO", ["set", "05.0004"], ["set 0 05.0004 -> ENXIO"], 4, "",
     P + "set: the kernel does not offer KVM_S390_VM_CRYPTO_SET_AP_MATRIX on this VM "
     "(ENXIO)\n"),
    ("set: ENOTTY", ["set", "05.0004"], ["set 0 05.0004 -> ENOTTY"], 5, "",
     P + "set: not a KVM VM file descriptor (ENOTTY)\n"),
    ("set: EPERM", ["set", "05.0004"], ["set 0 05.0004 -> EPERM", "get -> 0 -"], 3, "",
     P + "05.0004: not held by this VM: adding them needs a grant or CAP_SYS_ADMIN (EPERM)\n"),
    ("set: EFAULT", ["set", "05.0004"], ["set 0 05.0004 -> EFAULT"], 2, "",
     P + "set: Bad address (EFAULT)\n"),

    ("set: EADDRINUSE names every APQN held elsewhere",
     ["set", "05-06.0004-0005", "--control-domains", "0004"],
     ["set 0 05-06.0004-0005/c=0004 -> EADDRINUSE",
      "set validate 05.0004-0005 -> EADDRINUSE",
      "set validate 06.0004-0005 -> 0",
      "set validate 05.0004 -> EADDRINUSE",
      "set validate 05.0005 -> EADDRINUSE"], 3, "",
     P + "05.0004,05.0005: held by another VM (EADDRINUSE)\n"),
    ("set --validate-only: EADDRINUSE is explained too",
     ["set", "--validate-only", "05.0004-0005"],
     ["set validate 05.0004-0005 -> EADDRINUSE",
      "set validate 05.0004-0005 -> EADDRINUSE",
      "set validate 05.0004 -> 0"], 3, "",
     P + "05.0005: held by another VM (EADDRINUSE)\n"),
    ("set: EADDRINUSE and EBUSY at once, each named with its rule",
     ["set", "--reset", "05-06.0004-0005"],
     ["set reset 05-06.0004-0005 -> EADDRINUSE",
      "set validate 05.0004-0005 -> EADDRINUSE",
      "set validate 06.0004-0005 -> EBUSY",
      "set validate 05.0004 -> EADDRINUSE",
      "set validate 05.0005 -> 0",
      "set validate 06.0004 -> 0"], 3, "",
     P + "05.0004: held by another VM (EADDRINUSE); 06.0005: still being reset after "
     "leaving another VM, or its reset failed (EBUSY)\n"),
    ("set: EBUSY", ["set", "05.0004"],
     ["set 0 05.0004 -> EBUSY", "set validate 05.0004 -> EBUSY"], 3, "",
     P + "05.0004: still being reset after leaving another VM, or its reset failed "
     "(EBUSY)\n"),
    ("set: refused but the probes find nothing: retry (exit 6)", ["set", "05.0004"],
     ["set 0 05.0004 -> EADDRINUSE", "set validate 05.0004 -> 0"], 6, "",
     P + "the kernel refused the matrix (EADDRINUSE), but the probes find nothing "
     "refused now: the AP configuration changed meanwhile; try again\n"),
    ("set: a probe fails otherwise: the rule is still named", ["set", "05.0004"],
     ["set 0 05.0004 -> EADDRINUSE", "set validate 05.0004 -> EIO"], 3, "",
     P + "set: an APQN is held by another VM (EADDRINUSE)\n"),
    ("set: ENODEV beyond the CRYCB format (probe of the highest domain)",
     ["set", "05.0004,05.0010"],
     ["set 0 05.0004,05.0010 -> ENODEV", "set validate d=0010 -> ENODEV"], 3, "",
     P + "domain 0010: beyond what this VM's CRYCB format holds (ENODEV)\n"),

    ("get", ["get"], ["get -> 0 05-06.0004,05-06.0007-0008/c=0004,000b"], 0,
     "apqns: 05-06.0004,05-06.0007-0008\nadapters: 05-06\ndomains: 0004,0007-0008\n"
     "control domains: 0004,000b\n", ""),
    ("get: an empty matrix", ["get"], ["get -> 0 -"], 0,
     "apqns: none\nadapters: none\ndomains: none\ncontrol domains: none\n", ""),
    ("get: ENXIO", ["get"], ["get -> ENXIO"], 4, "",
     P + "get: the kernel does not offer KVM_S390_VM_CRYPTO_SET_AP_MATRIX on this VM "
     "(ENXIO)\n"),
    ("get: EOPNOTSUPP", ["get", "--json"], ["get -> EOPNOTSUPP"], 4, "",
     P + "get: the host has no AP instructions or no apmatrix AP driver is registered "
     "(EOPNOTSUPP)\n"),

    ("clear", ["clear"], ["set 0 - -> 0"], 0, "", ""),
    ("clear: EACCES", ["clear"], ["set 0 - -> EACCES"], 5, "",
     P + "clear: not permitted (EACCES)\n"),
    ("clear: ENXIO", ["clear"], ["set 0 - -> ENXIO"], 4, "",
     P + "clear: the kernel does not offer KVM_S390_VM_CRYPTO_SET_AP_MATRIX on this VM "
     "(ENXIO)\n"),

    ("enable-apie", ["enable-apie"], ["apie -> 0"], 0, "", ""),
    ("enable-apie: ENXIO", ["enable-apie"], ["apie -> ENXIO"], 4, "",
     P + "enable-apie: the kernel or host does not offer AP interpretation for this VM "
     "(ENXIO)\n"),
    ("enable-apie: EPERM", ["enable-apie"], ["apie -> EPERM"], 5, "",
     P + "enable-apie: not permitted (EPERM)\n"),
]

GET_JSON = {
    "format_version": 1,
    "apqns": ["05.0004", "05.0007", "06.0004", "06.0007"],
    "adapters": ["05", "06"],
    "domains": ["0004", "0007"],
    "control_domains": ["000b"],
    "apm": mask(0x06, "0"),
    "aqm": "0x09" + "0" * 62,
    "adm": "0x0010" + "0" * 60,
}


# Under valgrind, one case of each code path of the VM commands: probe's
# three outcomes, set without and with flags, an unexplained refusal, the
# explain probes (APQNs named, nothing found, a probe failing, the CRYCB
# probe), get, clear and enable-apie with and without an error.
VM_VALGRIND = {
    "probe: available", "probe: not available (ENXIO)", "probe: other error",
    "set APQNs and control domains", "set --validate-only --reset", "set: EINVAL",
    "set: EADDRINUSE and EBUSY at once, each named with its rule",
    "set: refused but the probes find nothing: retry (exit 6)",
    "set: a probe fails otherwise: the rule is still named",
    "set: ENODEV beyond the CRYCB format (probe of the highest domain)",
    "get", "get: EOPNOTSUPP", "clear", "clear: EACCES", "enable-apie",
    "enable-apie: ENXIO",
}


def g_vm(t):
    need_mock(t)
    for name, args, script, rc, out, err in t.subset(VM_CASES, VM_VALGRIND):
        r = vm_run(t, args, script)
        t.expect(name, r, rc, out, err)

    r = vm_run(t, ["get", "--json"], ["get -> 0 05-06.0004,05-06.0007/c=000b"])
    if t.expect("get --json: exit 0", r, 0, None):
        pairs = json.loads(r.out, object_pairs_hook=lambda p: p)
        t.ok([k for k, _ in pairs] == list(GET_JSON), "get --json: keys in order",
             repr([k for k, _ in pairs]))
        t.ok(json.loads(r.out) == GET_JSON, "get --json: the documented document", r.out)

    # set --json: the outcome, and every finding with its rule
    r = vm_run(t, ["set", "--json", "--validate-only", "05.0004"], ["set validate 05.0004 -> 0"])
    t.ok(r.rc == 0 and r.err == "" and json.loads(r.out) == {
        "format_version": 1, "accepted": True, "applied": False, "errno": None, "refused": []},
        "set --json --validate-only: accepted, not applied", r.out + r.err)
    r = vm_run(t, ["set", "--json", "05-06.0004-0005", "-c", "0004"],
               ["set 0 05-06.0004-0005/c=0004 -> EADDRINUSE",
                "set validate 05.0004-0005 -> EADDRINUSE",
                "set validate 06.0004-0005 -> 0",
                "set validate 05.0004 -> EADDRINUSE",
                "set validate 05.0005 -> EBUSY"])
    doc = json.loads(r.out) if r.out else None
    t.ok(r.rc == 3 and doc == {
        "format_version": 1, "accepted": False, "applied": False, "errno": "EADDRINUSE",
        "refused": [
            {"rule": "EADDRINUSE", "reason": "held by another VM", "apqns": ["05.0004"],
             "adapters": [], "domains": [], "control_domains": []},
            {"rule": "EBUSY", "reason": "still being reset after leaving another VM, or its "
             "reset failed", "apqns": ["05.0005"], "adapters": [], "domains": [],
             "control_domains": []}]}
        and r.err == P + "05.0004: held by another VM (EADDRINUSE); 05.0005: still being "
        "reset after leaving another VM, or its reset failed (EBUSY)\n",
        "set --json refused: each finding with rule, reason, APQNs; the line on stderr; exit 3",
        r.out + r.err)
    r = vm_run(t, ["set", "--json", "05.0004"], ["set 0 05.0004 -> EOPNOTSUPP"])
    doc = json.loads(r.out) if r.out else None
    t.ok(r.rc == 4 and doc is not None and doc["errno"] == "EOPNOTSUPP"
         and doc["refused"] == [], "set --json: a rule that names nothing", r.out + r.err)

    # refusals that are explained from the host's sysfs (no probe ioctls)
    root = t.tree()
    before = snapshot(root)
    r = vm_run(t, ["set", "05.0004,07.0004"], ["set 0 05.0004,07.0004 -> EADDRNOTAVAIL"],
               root)
    t.expect("set: EADDRNOTAVAIL names each APQN with why, from sysfs", r, 3, "",
             P + "05.0004: not set aside for guests (still owned by the host's default "
             "drivers) (EADDRNOTAVAIL); 07.0004: bound to vfio_ap, not to apmatrix "
             "(EADDRNOTAVAIL)\n")
    if not t.opts.valgrind:  # the same code path as the case before
        r = vm_run(t, ["set", "--validate-only", "07.0004-0006"],
                   ["set validate 07.0004-0006 -> EADDRNOTAVAIL"], root)
        t.expect("set: EADDRNOTAVAIL, queue with no driver; the apmatrix one is not named",
                 r, 3, "",
                 P + "07.0004: bound to vfio_ap, not to apmatrix (EADDRNOTAVAIL); 07.0006: "
                 "not bound to the apmatrix driver (EADDRNOTAVAIL)\n")
    r = vm_run(t, ["set", "05.0004,05.0055"], ["set 0 05.0004,05.0055 -> ENODEV"], root)
    t.expect("set: ENODEV beyond the host's ap_max_domain_id", r, 3, "",
             P + "domain 0055: beyond the host's AP configuration (max domain 0x54) "
             "(ENODEV)\n")
    t.ok(snapshot(root) == before, "VM commands never write to sysfs",
         snap_diff(before, snapshot(root)))

    # the mock's own check: a call the script did not expect fails the run
    # (a check of the mock, not of apmatrix-ctl: not under valgrind, whose
    # error exit code is 99 too)
    if not t.opts.valgrind:
        r = vm_run(t, ["set", "05.0004"], ["set 0 05.0005 -> 0"])
        t.ok(r.rc == 99, "sanity: a payload other than the script's is caught (exit 99)",
             "rc %d %r" % (r.rc, r.err))

    # fds that are not VMs
    r = t.run(["get", "--vm-fd", "1000"], env=mock_env(t, []))
    t.expect_error("--vm-fd of a closed fd", r, 5,
                   "duplicating fd 1000: Bad file descriptor (EBADF)")
    rfd, wfd = os.pipe()
    try:
        r = t.run(["probe", "--vm-fd", str(rfd)], env=mock_env(t, []), pass_fds=(rfd,))
    finally:
        os.close(rfd)
        os.close(wfd)
    t.ok(r.rc == 5 and r.out == "" and r.err.startswith(
        P + "fd %d is not a KVM VM: it is pipe:[" % rfd) and r.err.count("\n") == 1,
        "--vm-fd of a pipe: not a VM, exit 5", "rc %d %r" % (r.rc, r.err))


class Holder:
    """A child process holding `count` fake VM fds (and its stdin)."""

    def __init__(self, count=1):
        code = ("import os, sys\n"
                "fds = [os.memfd_create(%r, 0) for _ in range(%d)]\n"
                "print(os.getpid(), *fds, flush=True)\n"
                "sys.stdin.read()\n" % (FAKE_VM, count))
        self.p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        words = self.p.stdout.readline().split()
        self.pid = int(words[0])
        self.fds = [int(w) for w in words[1:]]

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


def g_pid(t):
    need_mock(t)
    h = Holder(1)
    try:
        r = t.run(["get", "--pid", str(h.pid)],
                  env=mock_env(t, ["get -> 0 05.0004"]))
        t.expect("--pid: the process's only VM fd", r, 0,
                 "apqns: 05.0004\nadapters: 05\ndomains: 0004\ncontrol domains: none\n")
        r = t.run(["set", "-p", str(h.pid), "--vm-fd", str(h.fds[0]), "05.0004"],
                  env=mock_env(t, ["set 0 05.0004 -> 0"]))
        t.expect("--pid --vm-fd: that fd", r, 0, "", "")
        r = t.run(["probe", "--pid", str(h.pid), "--vm-fd", "0"], env=mock_env(t, []))
        t.ok(r.rc == 5 and r.out == "" and r.err.startswith(
            P + "fd 0 of process %d is not a KVM VM: it is " % h.pid)
            and r.err.count("\n") == 1, "--pid --vm-fd of a non-VM fd: exit 5", r.err)
        r = t.run(["probe", "--pid", str(h.pid), "--vm-fd", "999"], env=mock_env(t, []))
        t.expect_error("--pid --vm-fd of an fd it does not have", r, 5,
                       "process %d has no fd 999" % h.pid)
    finally:
        h.close()

    h = Holder(2)
    try:
        r = t.run(["get", "--pid", str(h.pid)], env=mock_env(t, []))
        t.expect_error("--pid with several VM fds: names them and --vm-fd", r, 5,
                       "process %d has 2 KVM VM fds (%d, %d): say which one with --vm-fd"
                       % (h.pid, h.fds[0], h.fds[1]))
        r = t.run(["clear", "--pid", str(h.pid), "--vm-fd", str(h.fds[1])],
                  env=mock_env(t, ["set 0 - -> 0"]))
        t.expect("--pid with several VM fds and --vm-fd", r, 0, "", "")
    finally:
        h.close()

    p = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                         stdin=subprocess.PIPE)
    try:
        r = t.run(["probe", "--pid", str(p.pid)], env=mock_env(t, []))
        t.expect_error("--pid of a process without a VM fd", r, 5,
                       "process %d has no KVM VM fd" % p.pid)
    finally:
        p.stdin.close()
        p.wait()
    r = t.run(["probe", "--pid", str(p.pid)], env=mock_env(t, []))
    t.expect_error("--pid of a process that is gone", r, 5, "no process %d" % p.pid)

    if os.geteuid() != 0:
        t.skip("--pid without permission", "needs root to run as another user")
        return
    h = Holder(1)
    try:
        os.chmod(t.tmp, 0o755)
        r = t.run(["get", "--pid", str(h.pid)], env=mock_env(t, []),
                  preexec=lambda: (os.setgid(65534), os.setuid(65534)))
        t.ok(r.rc == 5 and r.out == "" and r.err.startswith(
            P + "not allowed to look at the fds of process %d" % h.pid)
            and r.err.count("\n") == 1, "--pid of another user's process: exit 5", r.err)
    finally:
        os.chmod(t.tmp, 0o700)
        h.close()


def g_faults(t):
    """What the kernel's AP bus does that a plain file cannot, through the
    sysfs-fault shim: a vetoed mask write (EBUSY), a refused one (EINVAL),
    a mask changed by someone else before the lock was taken; and a lock
    file that cannot be opened."""
    if not t.opts.fault_so:
        raise Skip("no sysfs-fault shim")

    def fault(**kw):
        asan = os.environ.get("ASAN_OPTIONS", "")
        env = {"LD_PRELOAD": t.opts.fault_so,
               "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}
        env.update(kw)
        return env

    plan_b = ("apmask: %s -> %s\naqmask: %s -> %s\n"
              "also gives back to the host: 05.0005,05.0006,06.0004,0a.0004\n"
              % (mask(0xfa), mask(0xfe), mask(0xf7), ONES))
    for m in ("apmask", "aqmask"):
        root = t.tree("cli-b")
        before = snapshot(root)
        r = t.run(["release", "05.0004"], root, env=fault(APMATRIX_FAULT_WRITE=m + ":EBUSY"))
        lines = r.err.splitlines()
        t.ok(r.rc == 6 and r.out == plan_b and len(lines) == 1 and lines[0].startswith(P)
             and m in lines[0] and "EBUSY" in lines[0] and lines[0].endswith(
                 ": a guest holds a queue this would give back to the host "
                 "(clear or change that VM first)"),
             "release vetoed by the bus on %s (EBUSY): one line, exit 6" % m,
             "rc %d stdout %r stderr %r" % (r.rc, r.out, r.err))
        t.ok(snapshot(root) == before, "release vetoed on %s: both masks as before" % m,
             snap_diff(before, snapshot(root)))

    # --json: the document says "applied": false, the error follows on stderr
    root = t.tree("cli-b")
    before = snapshot(root)
    r = t.run(["release", "--json", "05.0004"], root,
              env=fault(APMATRIX_FAULT_WRITE="aqmask:EBUSY"))
    expect_plan(t, "release --json vetoed (EBUSY): not applied, one line, exit 6", r, 6,
                plan_doc((mask(0xfa), mask(0xfe)), (mask(0xf7), ONES),
                         ["05.0005", "05.0006", "06.0004", "0a.0004"], False),
                lambda e: e.count("\n") == 1 and e.startswith(P) and "EBUSY" in e
                and e.endswith("(clear or change that VM first)\n"))
    t.ok(snapshot(root) == before, "release --json vetoed: both masks as before",
         snap_diff(before, snapshot(root)))

    root = t.tree()
    before = snapshot(root)
    r = t.run(["reserve", "05-06.0004"], root, env=fault(APMATRIX_FAULT_WRITE="aqmask:EINVAL"))
    t.ok(r.rc == 2 and r.out == plan_a_05_06_0004("") and r.err.count("\n") == 1
         and r.err.startswith(P) and "aqmask" in r.err and "EINVAL" in r.err,
         "reserve with aqmask refused (EINVAL): exit 2", "rc %d %r" % (r.rc, r.err))
    t.ok(snapshot(root) == before, "refused mask write changed nothing",
         snap_diff(before, snapshot(root)))

    root = t.tree()
    aq = os.path.join(root, "bus/ap/aqmask")
    other = mask(0xfb)  # someone else took domain 0005 meanwhile
    r = t.run(["reserve", "05-06.0004"], root,
              env=fault(APMATRIX_FAULT_ON_LOCK=aq + ":" + other))
    lines = r.err.splitlines()
    t.ok(r.rc == 6 and r.out == plan_a_05_06_0004("") and len(lines) == 1
         and lines[0].startswith(P),
         "reserve when a mask changed before the lock: one line, exit 6",
         "rc %d stdout %r stderr %r" % (r.rc, r.out, r.err))
    t.ok(read(aq) == other + "\n" and read(os.path.join(root, "bus/ap/apmask"))
         == mask(0xfe) + "\n", "the other program's change stands, nothing of ours written")

    # s390-tools' lock (libutil/util_lockfile.c): while apmatrix-ctl writes
    # a mask, the lock file holds its PID and s390-tools' link() fails
    root = t.tree()
    probe = os.path.join(t.tmp, "probe")
    r = t.run(["reserve", "05-06.0004"], root,
              env=fault(APMATRIX_FAULT_PROBE_LOCK=t.lock + ":" + probe))
    t.expect("reserve under the lock probe", r, 0, plan_a_05_06_0004(""))
    lines = read(probe).splitlines()
    t.ok(len(lines) == 2 and lines[0].isdigit() and int(lines[0]) > 1
         and lines[1] == "EEXIST",
         "while apmatrix-ctl writes, the lock file holds its PID and s390-tools cannot take it",
         repr(lines))
    t.ok(not os.path.lexists(t.lock)
         and not [f for f in os.listdir(t.tmp) if f.startswith("s390apconfig.lock")],
         "the lock is released (removed), nothing is left behind", str(os.listdir(t.tmp)))

    # held by a live process that never lets go: a line while waiting,
    # then exit 2 within the bound, nothing written; the holder's lock stays
    root = t.tree()
    before = snapshot(root)
    with open(t.lock, "w") as fh:
        fh.write("%d\n" % os.getpid())
    r = t.run(["reserve", "05-06.0004"], root, env={"APMATRIX_LOCK_TIMEOUT": "0.3"})
    lines = r.err.splitlines()
    t.ok(r.rc == 2 and r.out == plan_a_05_06_0004("") and len(lines) == 2
         and lines[0] == P + "waiting for the AP configuration lock %s, held by process %d "
         "(at most 0.3 s)" % (t.lock, os.getpid())
         and lines[1].startswith(P + "the AP configuration lock %s is held by process %d"
                                 % (t.lock, os.getpid()))
         and lines[1].endswith("still after 0.3 s: nothing written"),
         "reserve with the lock held: says it waits, gives up at the bound, exit 2",
         "rc %d stderr %r" % (r.rc, r.err))
    t.ok(snapshot(root) == before and read(t.lock) == "%d\n" % os.getpid(),
         "lock held: nothing written, the holder's lock left alone",
         snap_diff(before, snapshot(root)))
    # Ctrl-C while it waits: it ends at once, and leaves no PID file of
    # its own beside the lock (one lock.XXXXXX per interrupted wait was
    # left in /run/lock: the file lived through the whole wait)
    p = subprocess.Popen(t.cmd(["reserve", "05-06.0004"]),
                         env=t.env(root, {"APMATRIX_LOCK_TIMEOUT": "30"}),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    waiting = p.stderr.readline()
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=20)
    finally:
        p.kill()
        p.stderr.close()
    left = [f for f in os.listdir(t.tmp) if f.startswith("s390apconfig.lock.")]
    t.ok("waiting for the AP configuration lock" in waiting and p.returncode == -signal.SIGINT
         and not left and read(t.lock) == "%d\n" % os.getpid()
         and snapshot(root) == before,
         "SIGINT while waiting for the lock: ends, no file of its own left, nothing written",
         "rc %s %r left %r" % (p.returncode, waiting, left))
    os.unlink(t.lock)

    # /run/lock is world-writable: as root, a lock file another user made
    # (naming a live process of theirs) guards nothing and must not hold
    # root's reserve off; it is removed as a stale one
    if os.geteuid() == 0:
        root = t.tree()
        with open(t.lock, "w") as fh:
            fh.write("%d\n" % os.getpid())
        os.chown(t.lock, 65534, 65534)
        r = t.run(["reserve", "05-06.0004"], root, env={"APMATRIX_LOCK_TIMEOUT": "0.3"})
        t.ok(r.rc == 0 and r.err == ""
             and read(os.path.join(root, "bus/ap/apmask")) != ONES + "\n"
             and not os.path.lexists(t.lock),
             "root: a lock file owned by another user (live PID) is no lock: reserve done, file gone",
             "rc %d stderr %r" % (r.rc, r.err))
        if os.path.lexists(t.lock):
            os.unlink(t.lock)
        # nor a symlink another user put there: removed, never followed
        root = t.tree()
        target = os.path.join(t.tmp, "elsewhere")
        os.symlink(target, t.lock)
        os.lchown(t.lock, 65534, 65534)
        r = t.run(["reserve", "05-06.0004"], root, env={"APMATRIX_LOCK_TIMEOUT": "0.3"})
        t.ok(r.rc == 0 and r.err == "" and not os.path.lexists(target)
             and not os.path.lexists(t.lock),
             "root: a symlink owned by another user at the lock's name is removed, not followed",
             "rc %d stderr %r" % (r.rc, r.err))
        if os.path.lexists(t.lock):
            os.unlink(t.lock)
    else:
        t.skip("root: a lock file owned by another user is no lock", "not root")

    # a stale lock the caller cannot remove (root's, in a sticky directory,
    # for a plain user) is an error naming it, within the bound, not a
    # spin that never ends
    if os.geteuid() == 0:
        root = t.tree()
        subprocess.run(["chmod", "-R", "a+rwX", root], check=True)
        before = snapshot(root)
        lockdir = os.path.join(t.tmp, "sticky")
        os.mkdir(lockdir)
        os.chmod(lockdir, 0o1777)
        lock = os.path.join(lockdir, "s390apconfig.lock")
        gone = subprocess.Popen(["true"])
        gone.wait()
        with open(lock, "w") as fh:
            fh.write("%d\n" % gone.pid)
        os.chmod(t.tmp, 0o755)
        try:
            p = subprocess.run(t.cmd(["reserve", "05-06.0004"]), capture_output=True, text=True,
                               env=t.env(root, {"APMATRIX_LOCK_FILE": lock,
                                                "APMATRIX_LOCK_TIMEOUT": "0.3"}),
                               preexec_fn=lambda: (os.setgid(65534), os.setuid(65534)),
                               timeout=10)
            rc, err = p.returncode, p.stderr
        except subprocess.TimeoutExpired:
            rc, err = None, "still running after 10 s (lock timeout 0.3 s)"
        finally:
            os.chmod(t.tmp, 0o700)
        t.ok(rc == 2 and err == P + "stale lock file %s (process %d is gone) cannot be removed: "
             "Operation not permitted (EPERM)\n" % (lock, gone.pid)
             and snapshot(root) == before and read(lock) == "%d\n" % gone.pid
             and os.listdir(lockdir) == ["s390apconfig.lock"],
             "a stale lock this user cannot remove: exit 2 naming it, no spin, nothing written",
             "rc %r stderr %r" % (rc, err))
    else:
        t.skip("a stale lock this user cannot remove", "needs root to make it")

    # every directory fd the library reads through is close-on-exec (a
    # VMM's other thread may fork and exec at any time)
    root = t.tree()
    r = t.run(["list"], root, env=fault(APMATRIX_FAULT_CLOEXEC="1"))
    t.ok(r.rc == 0 and r.err == "", "list: every fd given to fdopendir() is close-on-exec",
         "rc %d stderr %r" % (r.rc, r.err))

    # two takers and one stale lock: between this one deciding the lock is
    # stale and removing it, the other removed it and took the lock. This
    # one must not remove the other's lock and take it too.
    root = t.tree()
    before = snapshot(root)
    gone = subprocess.Popen(["true"])
    gone.wait()
    with open(t.lock, "w") as fh:
        fh.write("%d\n" % gone.pid)
    r = t.run(["reserve", "05-06.0004"], root,
              env=fault(APMATRIX_FAULT_LOCK_RACE=str(os.getpid()), APMATRIX_LOCK_TIMEOUT="0.3"))
    t.ok(r.rc == 2 and snapshot(root) == before and read(t.lock) == "%d\n" % os.getpid()
         and "is held by process %d" % os.getpid() in r.err
         and sorted(os.listdir(t.tmp)) == sorted(f for f in os.listdir(t.tmp)
                                                 if not f.startswith("s390apconfig.lock."))
         , "stale lock taken over by another first: theirs is left alone, we wait, exit 2",
         "rc %d stderr %r lock %r dir %r" % (r.rc, r.err, os.path.lexists(t.lock) and read(t.lock),
                                             os.listdir(t.tmp)))
    if os.path.lexists(t.lock):
        os.unlink(t.lock)

    # a symlink at the lock's name is not followed
    root = t.tree()
    before = snapshot(root)
    target = os.path.join(t.tmp, "elsewhere")
    os.symlink(target, t.lock)
    r = t.run(["reserve", "05-06.0004"], root)
    t.ok(r.rc == 2 and r.err == P + "lock file %s is a symbolic link: not following it "
         "(remove it if no one should have put it there)\n" % t.lock
         and not os.path.lexists(target) and snapshot(root) == before,
         "reserve with a symlink as lock file: refused, exit 2, nothing made or written",
         "rc %d %r" % (r.rc, r.err))
    os.unlink(t.lock)

    # a signal between the two mask writes: both are written (or rolled
    # back) before it takes effect
    for sig in ("TERM", "HUP"):
        root = t.tree("cli-b")
        r = t.run(["release", "05.0004"], root, env=fault(APMATRIX_FAULT_SIGNAL="apmask:" + sig))
        t.ok(r.rc == -getattr(signal, "SIG" + sig)
             and read(os.path.join(root, "bus/ap/apmask")) == mask(0xfe) + "\n"
             and read(os.path.join(root, "bus/ap/aqmask")) == ONES + "\n"
             and not os.path.lexists(t.lock),
             "SIG%s after the apmask write: aqmask written too, lock released, then the signal" % sig,
             "rc %d apmask %r aqmask %r" % (r.rc, read(os.path.join(root, "bus/ap/apmask")),
                                            read(os.path.join(root, "bus/ap/aqmask"))))
    root = t.tree("cli-b")
    before = snapshot(root)
    r = t.run(["release", "05.0004"], root,
              env=fault(APMATRIX_FAULT_SIGNAL="apmask:TERM", APMATRIX_FAULT_WRITE="aqmask:EBUSY"))
    t.ok(r.rc == -signal.SIGTERM and snapshot(root) == before,
         "SIGTERM after apmask, aqmask vetoed: the rollback is done before the signal",
         snap_diff(before, snapshot(root)))

    root = t.tree()
    before = snapshot(root)
    lock = os.path.join(t.tmp, "no-such-dir", "lock")
    r = t.run(["reserve", "05-06.0004"], root, env={"APMATRIX_LOCK_FILE": lock})
    t.ok(r.rc == 2 and r.out == plan_a_05_06_0004("") and r.err.count("\n") == 1
         and r.err.startswith(P) and lock in r.err,
         "reserve without a usable lock file: names it, exit 2", r.err)
    t.ok(snapshot(root) == before, "no lock, no write", snap_diff(before, snapshot(root)))
    r = t.run(["reserve", "--dry-run", "05-06.0004"], root, env={"APMATRIX_LOCK_FILE": lock})
    t.expect("reserve --dry-run needs no lock", r, 0,
             plan_a_05_06_0004("dry run: nothing written\n"))


def g_grant(t):
    """Grants through the mock's fake /dev/apmatrix: grant runs a command
    with the fd inherited (APMATRIX_GRANT_FD), grant-info reads it, set
    passes it (--grant-fd or the environment); EPERM and EIO are named."""
    need_mock(t)
    dev = os.path.join(t.tmp, "apmatrix-fake-dev")
    with open(dev, "w"):
        pass

    def genv(script_lines, extra=None):
        e = mock_env(t, script_lines)
        e["APMATRIX_GRANT_DEVICE"] = dev
        if extra:
            e.update(extra)
        return e

    # grant -- COMMAND: the fd is inherited, its number in the environment.
    # COMMAND is a shell that runs apmatrix-ctl again: not under qemu-user
    # (a host sh would get the s390x LD_PRELOAD); the s390x run checks the
    # rest.
    if t.opts.wrapper:
        t.skip("grant -- sh ... apmatrix-ctl", "a host shell inside qemu-user")
        return g_grant_direct(t, genv)
    r = t.run(["grant", "05-06.0004", "-c", "0b", "--", "sh", "-c",
               'echo "fd=$APMATRIX_GRANT_FD"; exec "$0" grant-info', t.opts.ctl],
              env=genv(["grant 05-06.0004/c=000b -> 0"]))
    t.ok(r.rc == 0 and r.err == "" and r.out.startswith("fd=")
         and r.out.split("\n", 1)[1] == "apqns: 05-06.0004\nadapters: 05-06\ndomains: 0004\n"
         "control domains: 000b\n",
         "grant -- COMMAND: COMMAND has the grant; grant-info reads it from fdinfo",
         "rc %d %r %r" % (r.rc, r.out, r.err))
    r = t.run(["grant", "--fd", "7", "05.0004", "--", "sh", "-c",
               'echo "$APMATRIX_GRANT_FD"; exec "$0" grant-info --json --grant-fd 7',
               t.opts.ctl], env=genv(["grant 05.0004 -> 0"]))
    lines = r.out.split("\n", 1)
    t.ok(r.rc == 0 and lines[0] == "7" and json.loads(lines[1])["apqns"] == ["05.0004"],
         "grant --fd 7: the grant is fd 7; grant-info --json --grant-fd", r.out + r.err)
    # the command's exit status is grant's
    r = t.run(["grant", "05.0004", "--", "sh", "-c", "exit 42"], env=genv(["grant 05.0004 -> 0"]))
    t.ok(r.rc == 42, "grant: exits as COMMAND does", "rc %d %r" % (r.rc, r.err))
    r = t.run(["grant", "05.0004", "--", "/nonexistent/cmd"], env=genv(["grant 05.0004 -> 0"]))
    t.expect_error("grant: a command that is not there: 127", r, 127,
                   "grant: cannot run '/nonexistent/cmd': No such file or directory")
    r = t.run(["grant", "40.0004", "--", "true"], env=genv(["grant 40.0004 -> ENODEV"]))
    t.expect_error("grant: the kernel's ENODEV, exit 3", r, 3,
                   "grant: APMATRIX_CREATE_GRANT: an ID is beyond the host's AP "
                   "configuration, or a control domain is not one of the host's (ENODEV)")
    r = t.run(["grant", "05.0004", "--", "true"], env=genv([], {"APMATRIX_GRANT_DEVICE":
                                                             os.path.join(t.tmp, "nodev")}))
    t.expect_error("grant: no /dev/apmatrix, exit 2", r, 2,
                   "grant: %s: No such file or directory (ENOENT) (is the apmatrix AP driver "
                   "loaded?)" % os.path.join(t.tmp, "nodev"))
    for name, args, msg in [
            ("no command", ["grant", "05.0004"],
             "grant: no command given: grant MATRIX -- COMMAND [ARG...]"),
            ("no matrix", ["grant", "--", "true"],
             "grant: no matrix given: APQNS, --adapters/--domains, --control-domains or --set NAME"),
            ("--fd 2", ["grant", "--fd", "2", "05.0004", "--", "true"],
             "grant: --fd '2': not a file descriptor number (3 or more)"),
            ("grant-info without a grant", ["grant-info"],
             "grant-info: no grant given: --grant-fd N, or APMATRIX_GRANT_FD"),
            ("grant-info of a closed fd", ["grant-info", "--grant-fd", "999"],
             "--grant-fd 999: grant fd 999: Bad file descriptor (EBADF)")]:
        r = t.run(args, env=genv([]))
        t.expect_error("grant usage: " + name, r, 1, msg)
    r = t.run(["grant-info"], env=genv([], {"APMATRIX_GRANT_FD": "x1"}))
    t.expect_error("grant-info: a bad APMATRIX_GRANT_FD", r, 1,
                   "APMATRIX_GRANT_FD='x1': not a file descriptor number")
    # a file that is no grant
    r = t.run(["grant-info", "--grant-fd", "0"], env=genv([]))
    t.expect_error("grant-info of a non-grant fd", r, 1,
                   "--grant-fd 0: fd 0 is not an apmatrix grant (its fdinfo has no "
                   "apm:/aqm:/adm: lines)")

    # set with the grant it was started with (APMATRIX_GRANT_FD) and --grant-fd
    fd = os.memfd_create(FAKE_VM, 0)
    try:
        s2 = os.path.join(t.tmp, "script-set")
        s3 = os.path.join(t.tmp, "script-set-reset")
        with open(s2, "w") as fh:
            fh.write("set grant 05.0004 -> 0\n")
        with open(s3, "w") as fh:
            fh.write("set grant,reset 05.0004 -> 0\n")
        r = t.run(["grant", "05-06.0004", "--", "sh", "-c",
                   'APMATRIX_IOCTL_SCRIPT=%s "$0" set --vm-fd %d 05.0004 && '
                   'g=$APMATRIX_GRANT_FD && unset APMATRIX_GRANT_FD && '
                   'APMATRIX_IOCTL_SCRIPT=%s "$0" set --vm-fd %d --reset 05.0004 --grant-fd $g'
                   % (s2, fd, s3, fd), t.opts.ctl],
                  env=genv(["grant 05-06.0004 -> 0"]), pass_fds=(fd,))
        t.expect("set passes the grant: from APMATRIX_GRANT_FD, and --grant-fd", r, 0, "", "")
        r = t.run(["set", "--vm-fd", str(fd), "--grant-fd", "0", "05.0004"], env=genv([]),
                  pass_fds=(fd,))
        t.expect_error("set --grant-fd of a non-grant: exit 1", r, 1,
                       "--grant-fd 0: fd 0 is not an apmatrix grant (its fdinfo has no "
                       "apm:/aqm:/adm: lines)")
    finally:
        os.close(fd)

    g_grant_direct(t, genv)


def g_grant_direct(t, genv):
    """The grant checks that need no shell in between."""
    r = t.run(["grant", "40.0004", "--", "true"], env=genv(["grant 40.0004 -> ENODEV"]))
    t.expect_error("grant: the kernel's ENODEV, exit 3", r, 3,
                   "grant: APMATRIX_CREATE_GRANT: an ID is beyond the host's AP "
                   "configuration, or a control domain is not one of the host's (ENODEV)")
    # grant --set NAME: the matrix is a set of the configuration
    # (apmatrix.conf(5)); the mock checks the grant's masks
    conf = os.path.join(t.tmp, "conf-grant")
    os.makedirs(conf, exist_ok=True)
    with open(os.path.join(conf, "apmatrix.conf"), "w") as fh:
        fh.write("[guests]\nadapters = 05-06\ndomains = 0004\n"
                 "[set vm-a]\napqns = 05-06.0004\ncontrol-domains = 0b\n"
                 "[set vm-b]\napqns = 05.0004\n")
    def host_err(err):
        # under qemu-user, COMMAND (the host's true) gets the s390x mock in
        # LD_PRELOAD, and ld.so says it ignores it: nothing else may be said
        return "".join(l for l in err.splitlines(True)
                       if not (t.opts.wrapper and "cannot be preloaded" in l))

    r = t.run(["grant", "--set", "vm-a", "--config-dir", conf, "--", "true"],
              env=genv(["grant 05-06.0004/c=000b -> 0"]))
    t.ok(r.rc == 0 and r.out == "" and host_err(r.err) == "",
         "grant --set NAME: the set's queues and control domains become the grant",
         "rc %d %r %r" % (r.rc, r.out, r.err))
    r = t.run(["grant", "--set", "vm-b", "--", "true"],
              env=genv(["grant 05.0004 -> 0"], {"APMATRIX_CONFIG_DIR": conf}))
    t.ok(r.rc == 0 and r.out == "" and host_err(r.err) == "",
         "grant --set NAME: the configuration from APMATRIX_CONFIG_DIR",
         "rc %d %r %r" % (r.rc, r.out, r.err))
    r = t.run(["grant", "--set", "nope", "--config-dir", conf, "--", "true"], env=genv([]))
    t.expect_error("grant --set: an unknown set names the sets there, exit 1", r, 1,
                   "no set 'nope' in %s (its sets: vm-a, vm-b)" % conf)
    r = t.run(["grant", "--set", "vm-a", "05.0004", "--config-dir", conf, "--", "true"],
              env=genv([]))
    t.expect_error("grant --set with APQNs too: usage, exit 1", r, 1,
                   "grant: --set 'vm-a' names the whole matrix: no APQNS, --adapters, "
                   "--domains or --control-domains with it")
    bad = os.path.join(t.tmp, "conf-grant-bad")
    os.makedirs(bad, exist_ok=True)
    with open(os.path.join(bad, "apmatrix.conf"), "w") as fh:
        fh.write("[set x]\n")
    r = t.run(["grant", "--set", "x", "--config-dir", bad, "--", "true"], env=genv([]))
    t.ok(r.rc == 9 and r.out == "" and (bad + "/apmatrix.conf:1: set 'x' has no apqns") in r.err,
         "grant --set: an invalid configuration is named, exit 9, no grant made",
         "rc %d %r" % (r.rc, r.err))
    # EPERM: named from what the VM holds and the grant
    r = vm_run(t, ["set", "05-06.0004", "-c", "0b"],
               ["set 0 05-06.0004/c=000b -> EPERM", "get -> 0 05.0004"])
    t.expect("set: EPERM without a grant names what needs one, exit 3", r, 3, "",
             P + "control domain 000b: not held by this VM: adding it needs a grant or "
             "CAP_SYS_ADMIN (EPERM); 06.0004: not held by this VM: adding them needs a grant "
             "or CAP_SYS_ADMIN (EPERM)\n")
    # EIO after --reset: what the VM holds now, what was dropped; exit 7
    r = vm_run(t, ["set", "--reset", "05-06.0004"],
               ["set reset 05-06.0004 -> EIO", "get -> 0 06.0004"])
    t.expect("set --reset: EIO names what was dropped, exit 7", r, 7, "",
             P + "the reset of a queue did not complete (EIO): the VM now holds 06.0004; "
             "05.0004: dropped with the adapter of a failed reset (EIO)\n")


GROUPS = {
    "help": g_help,
    "usage": g_usage,
    "list": g_list,
    "reserve": g_reserve,
    "release": g_release,
    "rollback": g_rollback,
    "stdout": g_stdout,
    "vm": g_vm,
    "pid": g_pid,
    "faults": g_faults,
    "grant": g_grant,
}


if __name__ == "__main__":
    # The signal tests expect the tool to die of SIGTERM and SIGHUP; a run
    # started under nohup (or any parent that ignores them) would hand the
    # ignored disposition down through exec and the tool would live on.
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_DFL)
    sys.exit(main(Tests, GROUPS))
