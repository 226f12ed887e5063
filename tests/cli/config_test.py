#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tests of apmatrix-ctl apply, diff and udev-env and of the configuration
(apmatrix.conf(5)) on fake /sys trees (tests/fixtures/mkfixture.py,
tests/cli/hosts/conf-*.json): exact output and exit codes, and that
nothing changed where nothing may change.

usage: config_test.py --ctl PATH [--wrapper JSON-LIST] --fault-so PATH
                      [--valgrind] GROUP

GROUP: errors, apply, conflicts, rollback, concurrency, udev. TAP on stdout.
"""

import fcntl
import grp
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(HERE))
from ctl_harness import (CtlTests, ONES, P, Result as R, ctl_options, main,  # noqa: E402
                         read, snap_diff, snapshot)
SRC = os.path.dirname(os.path.dirname(HERE))

INVALID = P + "apply: the configuration is invalid; nothing changed\n"


def mask(*clear):
    """A /sys/bus/ap mask with every ID set but those in clear."""
    v = (1 << 256) - 1
    for i in clear:
        v &= ~(1 << (255 - i))
    return "0x%064x" % v


class T(CtlTests):
    prefix = "apmatrix-conf-"
    default_host = "conf-a"

    def conf(self, text, dropins=None):
        """A configuration directory: apmatrix.conf (None: none) and
        conf.d/NAME files."""
        d = self.new_dir("etc")
        os.makedirs(d)
        if text is not None:
            with open(os.path.join(d, "apmatrix.conf"), "w") as fh:
                fh.write(text)
        for name, body in (dropins or {}).items():
            os.makedirs(os.path.join(d, "conf.d"), exist_ok=True)
            with open(os.path.join(d, "conf.d", name), "w") as fh:
                fh.write(body)
        return d

    def env(self, root=None, extra=None):
        """No /dev/apmatrix unless a test gives one."""
        e = {"APMATRIX_GRANT_DEVICE": os.path.join(self.tmp, "no-such-device")}
        e.update(extra or {})
        return super().env(root, e)

    def run(self, args, root=None, conf=None, extra=None):
        """apmatrix-ctl args on tree root with configuration directory conf."""
        e = {"APMATRIX_CONFIG_DIR": conf} if conf else {}
        e.update(extra or {})
        return super().run(args, root, e)


# ===================================================================== groups

GOOD = """\
# queues set aside for guests: adapter 05's and every queue of 07
[guests]
adapters = 05
adapters = 07     ; lines add up

[device]
group = root
mode = 0660

[set tenant-a]
apqns = 05.0004-0005
control-domains = 0b
"""


def g_errors(t):
    """Each bad configuration: one line per problem naming file and line,
    exit 9, and the host untouched (apply, diff and udev-env alike)."""
    root = t.tree()
    before = snapshot(root)
    F = "apmatrix.conf"
    cases = [
        ("unknown section", "[guest]\nadapters = 05\n",
         ["%s:1: unknown section [guest] (sections: [guests], [device], [set NAME])"]),
        ("unknown key", "[guests]\nadapter = 05\n",
         ["%s:2: unknown key 'adapter' in [guests] (keys: adapters, domains)"]),
        ("bad adapter", "[guests]\nadapters = 5x\n",
         ["%s:2: adapters: bad adapter '5x' in '5x'"]),
        ("adapter beyond ff", "# c\n[guests]\n\nadapters = 05,100\n",
         ["%s:4: adapters: adapter 100 (0x100) is beyond 0xff in '05,100'"]),
        ("backwards range", "[guests]\ndomains = 0007-0004\n",
         ["%s:2: domains: range 0007-0004 is backwards in '0007-0004'"]),
        ("key outside a section", "adapters = 05\n",
         ["%s:1: 'adapters' is outside any section (put it under [guests], [device] or [set NAME])"]),
        ("not a key = value line", "[guests]\nadapters 05\n",
         ["%s:2: not a 'key = value' line, a [section] header or a comment"]),
        ("header with trailing text", "[guests] x\nadapters = 05\n",
         ["%s:1: a section header is '[NAME]' alone on its line"]),
        ("set without apqns", "[guests]\nadapters = 05\n[set a]\ncontrol-domains = 04\n",
         ["%s:3: set 'a' has no apqns"]),
        ("empty set", "[guests]\nadapters = 05\n[set a]\n",
         ["%s:3: set 'a' has no apqns"]),
        ("set not a full matrix", "[guests]\nadapters = 05-06\n[set a]\napqns = 05.0004,06.0005\n",
         ["%s:4: apqns: APQNs 05.0004,06.0005 are not a full adapters x domains matrix: it would also need 05.0005,06.0004"]),
        ("set queue not set aside", "[guests]\nadapters = 05\n[set a]\napqns = 05-06.0004\n",
         ["%s:4: set 'a': 06.0004 is not set aside for guests (add its adapter or domain to [guests] adapters or domains)"]),
        ("bad set name", "[set a/b]\napqns = 05.0004\n",
         ["%s:1: bad set name 'a/b': 1 to 40 letters, digits, '-', '_' or '.'"]),
        ("set defined twice", "[guests]\nadapters = 05\n[set a]\napqns = 05.0004\n[set a]\napqns = 05.0005\n",
         ["%s:5: set 'a' is defined twice (first at %s:3)"]),
        ("apqns twice", "[guests]\nadapters = 05\n[set a]\napqns = 05.0004\napqns = 05.0005\n",
         ["%s:5: apqns of this set given twice (first at %s:4)"]),
        ("unknown set key", "[guests]\nadapters = 05\n[set a]\napqns = 05.0004\ndomains = 0004\n",
         ["%s:5: unknown key 'domains' in [set a] (keys: apqns, control-domains)"]),
        ("world-accessible mode", "[device]\ngroup = root\nmode = 0666\n",
         ["%s:3: mode 0666: only read and write for owner and group (0600, 0660, 0640 ...); anyone who can open /dev/apmatrix for writing can create grants, so give access through a group"]),
        ("mode not octal", "[device]\nmode = rw\n",
         ["%s:2: mode 'rw': not an octal mode such as 0660"]),
        ("no such group", "[device]\ngroup = no-such-group-apmatrix\n",
         ["%s:2: group 'no-such-group-apmatrix': no such group on this system"]),
        ("group twice", "[device]\ngroup = root\ngroup = root\n",
         ["%s:3: [device] group given twice (first at %s:2)"]),
        ("group mode without group", "[device]\nmode = 0660\n",
         ["%s:2: mode 0660 gives the group access, but [device] names no group"]),
        ("line too long", "[guests]\n# " + "x" * 300 + "\nadapters = 05\n",
         None),
        ("every problem, in order", "[guests]\nadapters = 5x\n[nope]\nx = 1\n[device]\nmode = 0777\n",
         ["%s:2: adapters: bad adapter '5x' in '5x'",
          "%s:3: unknown section [nope] (sections: [guests], [device], [set NAME])",
          "%s:6: mode 0777: only read and write for owner and group (0600, 0660, 0640 ...); anyone who can open /dev/apmatrix for writing can create grants, so give access through a group"]),
    ]
    for name, text, want in cases:
        d = t.conf(text)
        f = os.path.join(d, F)
        r = t.run(["apply"], root, d)
        if want is None:
            lines = r.err.splitlines()
            t.ok(r.rc == 9 and len(lines) == 2 and lines[0].startswith(P + f + ":2: line is longer than")
                 and r.out == "", "config error: %s: named with file and line, exit 9" % name,
                 "rc %d out %r err %r" % (r.rc, r.out, r.err))
        else:
            err = "".join(P + (w % ((f,) * w.count("%s"))) + "\n" for w in want) + INVALID
            t.expect("config error: %s: apply names file and line, exit 9" % name, r, 9, "", err)
        t.ok(snapshot(root) == before, "config error: %s: the host is unchanged" % name,
             snap_diff(before, snapshot(root)))
    # diff and udev-env refuse it the same way
    d = t.conf("[guests]\nadapters = 5x\n")
    f = os.path.join(d, F)
    for cmd in ("diff", "udev-env"):
        t.expect("config error: %s names it too, exit 9" % cmd, t.run([cmd], root, d), 9, "",
                 P + f + ":2: adapters: bad adapter '5x' in '5x'\n" + P + cmd +
                 ": the configuration is invalid; nothing changed\n")
    # conf.d: a second file, its own name and line
    d = t.conf(GOOD, {"50-b.conf": "[set tenant-a]\napqns = 07.0004\n"})
    r = t.run(["apply"], root, d)
    t.expect("config error: a set defined again in conf.d names both files", r, 9, "",
             P + "%s/conf.d/50-b.conf:1: set 'tenant-a' is defined twice (first at %s/apmatrix.conf:10)\n"
             % (d, d) + INVALID)
    # no configuration at all
    d = t.conf(None)
    t.expect("no configuration files: exit 9", t.run(["apply"], root, d), 9, "",
             P + d + ": no configuration: neither apmatrix.conf nor conf.d/*.conf\n" + INVALID)
    missing = os.path.join(t.tmp, "no-such-dir")
    t.expect("no configuration directory: exit 9", t.run(["apply", "--config-dir", missing], root),
             9, "", P + missing + ": no configuration directory: No such file or directory\n" + INVALID)
    t.ok(snapshot(root) == before, "after every bad configuration the host is unchanged",
         snap_diff(before, snapshot(root)))
    # a good configuration, a lock wait or settle time that is no number of
    # seconds: apply refuses by name before the lock (it once waited 30 s)
    d = t.conf(GOOD)
    for var, bad, top in (("APMATRIX_LOCK_TIMEOUT", "soon", 86400),
                          ("APMATRIX_LOCK_TIMEOUT", "-3", 86400),
                          ("APMATRIX_LOCK_TIMEOUT", "1e999", 86400),
                          ("APMATRIX_LOCK_TIMEOUT", "5min", 86400),
                          ("APMATRIX_SETTLE_TIMEOUT", "3601", 3600)):
        r = t.run(["apply"], root, d, {var: bad})
        t.expect_error("apply with %s=%s: a usage error, exit 1" % (var, bad), r, 1,
                       "apply: %s '%s': not a number of seconds from 0 to %d" % (var, bad, top))
        t.ok(not os.path.lexists(t.lock), "apply with %s=%s took no lock" % (var, bad))
        # --dry-run says what the real run says: it once printed the
        # plan and "dry run: nothing written", exit 0
        r = t.run(["apply", "--dry-run"], root, d, {var: bad})
        t.expect_error("apply --dry-run with %s=%s: the same usage error, exit 1" % (var, bad),
                       r, 1, "apply: %s '%s': not a number of seconds from 0 to %d"
                       % (var, bad, top))
    t.ok(snapshot(root) == before, "a bad timeout in the environment: the host is unchanged",
         snap_diff(before, snapshot(root)))
    # a lock file that is no regular file (the caller's own FIFO) is the
    # host's problem, exit 2 as for reserve, not a usage error
    os.mkfifo(t.lock)
    try:
        r = t.run(["apply"], root, d)
    finally:
        os.unlink(t.lock)
    t.expect_error("apply with a FIFO as lock file: a host error, exit 2", r, 2,
                   "apply: lock file %s is not a regular file" % t.lock)
    # what only reads needs no lock: diff still answers
    r = t.run(["diff"], root, d, {"APMATRIX_LOCK_TIMEOUT": "soon"})
    t.ok(r.rc in (0, 8) and "APMATRIX_LOCK_TIMEOUT" not in r.err,
         "diff, which takes no lock, is not stopped by a bad APMATRIX_LOCK_TIMEOUT",
         "rc %d %r" % (r.rc, r.err))


def g_apply(t):
    root = t.tree()
    d = t.conf(GOOD)
    before = snapshot(root)
    plan = ("apmask: %s -> %s\n" % (mask(7), mask(5, 7)) +
            "take from the host: 05.0004,05.0005,05.0006\n")
    r = t.run(["diff"], root, d)
    t.expect("diff: the drift, exit 8", r, 8, plan, "")
    t.expect("diff --quiet: only the exit code", t.run(["diff", "-q"], root, d), 8, "", "")
    t.expect("apply --dry-run: the same lines, nothing written", t.run(["apply", "-n"], root, d),
             0, plan + "dry run: nothing written\n", "")
    t.ok(snapshot(root) == before, "diff and apply --dry-run change nothing",
         snap_diff(before, snapshot(root)))
    t.expect("apply --kernel-cmdline: the boot parameters",
             t.run(["apply", "--kernel-cmdline"], None, d), 0,
             "ap.apmask=%s ap.aqmask=%s\n" % (mask(5, 7), ONES), "")
    r = t.run(["apply"], root, d)
    t.expect("apply: the plan, then 'applied'", r, 0, plan + "applied\n", "")
    t.ok(read(os.path.join(root, "bus/ap/apmask")) == mask(5, 7) + "\n" and
         read(os.path.join(root, "bus/ap/aqmask")) == ONES + "\n",
         "apply wrote apmask and left aqmask alone")
    moved = t.settle(root)
    t.ok(moved == "05.0004: cex4queue -> apmatrix\n05.0005: cex4queue -> apmatrix\n"
         "05.0006: cex4queue -> apmatrix\n", "the AP bus (fixture) binds 05's queues to apmatrix",
         moved)
    t.expect("diff after apply: no drift, exit 0", t.run(["diff"], root, d), 0,
             "no drift: the host matches %s\n" % d, "")
    r = t.run(["diff", "-j"], root, d)
    t.ok(r.rc == 0 and json.loads(r.out)["drift"] is False and json.loads(r.out)["conflicts"] == [],
         "diff --json without drift: drift false, exit 0", r.out)
    t.expect("diff --json --quiet: refused", t.run(["diff", "-j", "-q"], root, d), 1, "",
             P + "diff: --json and --quiet: choose one\n")
    after = snapshot(root)
    # a second apply writes nothing: with every write to apmask and aqmask
    # failing it still succeeds
    for m in ("apmask", "aqmask"):
        r = t.run(["apply"], root, d, {"LD_PRELOAD": t.opts.fault_so,
                                      "APMATRIX_FAULT_WRITE": m + ":EIO"})
        t.expect("second apply: 'nothing to do', no write (%s writes fail)" % m, r, 0,
                 "nothing to do: the host matches %s\n" % d, "")
    t.ok(snapshot(root) == after, "second apply changed nothing", snap_diff(after, snapshot(root)))

    # drift: someone gives adapter 05 back by hand, takes domain 6
    with open(os.path.join(root, "bus/ap/apmask"), "w") as fh:
        fh.write(mask(7) + "\n")
    with open(os.path.join(root, "bus/ap/aqmask"), "w") as fh:
        fh.write(mask(6) + "\n")
    t.settle(root)
    r = t.run(["diff"], root, d)
    t.expect("diff names the drift of both masks", r, 8,
             "apmask: %s -> %s\naqmask: %s -> %s\n" % (mask(7), mask(5, 7), mask(6), ONES) +
             "take from the host: 05.0004,05.0005\ngive back to the host: 06.0006\n", "")
    t.expect("apply repairs it", t.run(["apply"], root, d), 0, None, "")
    t.settle(root)
    t.expect("diff clean again", t.run(["diff"], root, d), 0, None, "")

    # bindings: a set-aside queue bound to no driver is bound to apmatrix
    with open(os.path.join(root, "bus/ap/drivers/apmatrix/unbind"), "a") as fh:
        fh.write("07.0006\n")
    t.settle(root)
    t.expect("diff: a set-aside queue bound to no driver", t.run(["diff"], root, d), 8,
             "bind to apmatrix: 07.0006\n", "")
    t.expect("apply binds it", t.run(["apply"], root, d), 0,
             "bind to apmatrix: 07.0006\napplied\n", "")
    t.ok(t.settle(root) == "07.0006: no driver -> apmatrix\n",
         "apply wrote 07.0006 to drivers/apmatrix/bind")
    t.expect("diff clean after the bind", t.run(["diff"], root, d), 0, None, "")

    # queues the AP bus leaves without a driver when the masks change (no
    # zcrypt driver bound them before): bound to apmatrix in the same apply
    root3 = t.tree()
    for dom in (4, 5, 6):
        os.unlink(os.path.join(root3, "devices/ap/card06/06.%04x/driver" % dom))
    d5 = t.conf("[guests]\nadapters = 06-07\n")
    r = t.run(["apply"], root3, d5)
    t.expect("apply binds queues the AP bus left without a driver", r, 0,
             "apmask: %s -> %s\ntake from the host: 06.0004,06.0005,06.0006\n" % (mask(7), mask(6, 7)) +
             "bind to apmatrix: 06.0004 (left without a driver by the AP bus)\n"
             "bind to apmatrix: 06.0005 (left without a driver by the AP bus)\n"
             "bind to apmatrix: 06.0006 (left without a driver by the AP bus)\napplied\n", "")
    t.ok(t.settle(root3) == "06.0004: no driver -> apmatrix\n06.0005: no driver -> apmatrix\n"
         "06.0006: no driver -> apmatrix\n", "the binds reached drivers/apmatrix/bind")

    # without [guests] the masks are not the configuration's business
    root2 = t.tree()
    d2 = t.conf("[device]\ngroup = root\n")
    b2 = snapshot(root2)
    t.expect("no [guests]: apply leaves the masks alone", t.run(["apply"], root2, d2), 0,
             "nothing to do: the host matches %s\n" % d2, "")
    t.ok(snapshot(root2) == b2, "no [guests]: nothing written", snap_diff(b2, snapshot(root2)))
    t.expect("no [guests]: --kernel-cmdline refuses", t.run(["apply", "--kernel-cmdline"], None, d2),
             9, "", P + "apply: --kernel-cmdline: %s has no [guests] section: the masks are not the configuration's to set\n" % d2)

    # [guests] with nothing in it gives everything back (a declared state)
    d3 = t.conf("[guests]\n")
    t.expect("empty [guests]: gives adapter 07 back", t.run(["apply"], root2, d3), 0,
             "apmask: %s -> %s\ngive back to the host: 07.0004,07.0005,07.0006\napplied\n"
             % (mask(7), ONES), "")

    # /dev/apmatrix: group and mode
    dev = os.path.join(t.tmp, "apmatrix-dev")
    with open(dev, "w"):
        pass
    os.chmod(dev, 0o600)
    gid = os.stat(dev).st_gid
    other = [g for g in grp.getgrall() if g.gr_gid != gid]
    if os.geteuid() != 0 or not other:
        t.skip("apply sets the group and mode of /dev/apmatrix", "needs root and a second group")
    else:
        g = other[0]
        d4 = t.conf("[device]\ngroup = %s\nmode = 0660\n" % g.gr_name)
        ex = {"APMATRIX_GRANT_DEVICE": dev}
        r = t.run(["diff"], root2, d4, ex)
        t.expect("diff: /dev/apmatrix's group and mode", r, 8,
                 "%s: group %s -> %s\n%s: mode 0600 -> 0660\n"
                 % (dev, grp.getgrgid(gid).gr_name, g.gr_name, dev), "")
        t.expect("apply sets them", t.run(["apply"], root2, d4, ex), 0, None, "")
        st = os.stat(dev)
        t.ok(st.st_gid == g.gr_gid and st.st_mode & 0o7777 == 0o660,
             "the node has the group and mode", "gid %d mode %o" % (st.st_gid, st.st_mode))
        t.expect("then no drift", t.run(["diff"], root2, d4, ex), 0, None, "")
        # [device] removed: access is revoked, not left as it was until a reboot
        # (apmatrix.conf(5): without [device] the node is the kernel's root 0600)
        d5 = t.conf("[guests]\n")
        t.expect("[device] removed: diff shows the node going back to root 0600",
                 t.run(["diff"], root2, d5, ex), 8,
                 "%s: group %s -> root\n%s: mode 0660 -> 0600\n" % (dev, g.gr_name, dev), "")
        t.expect("[device] removed: apply revokes the group's access", t.run(["apply"], root2, d5, ex), 0,
                 None, "")
        st = os.stat(dev)
        t.ok(st.st_gid == 0 and st.st_mode & 0o7777 == 0o600,
             "[device] removed: the node is root 0600 again", "gid %d mode %o" % (st.st_gid, st.st_mode))


def g_conflicts(t):
    root = t.tree("conf-busy")
    before = snapshot(root)
    # adapter 08 given back: 08.0005 resets, 08.0006's reset failed;
    # set b names 07.0004, which vfio_ap has
    d = t.conf("[guests]\nadapters = 07\n[set b]\napqns = 07.0004\n")
    r = t.run(["apply"], root, d)
    plan = ("apmask: %s -> %s\n" % (mask(7, 8), mask(7)) +
            "give back to the host: 08.0004,08.0005,08.0006\n"
            "bind to apmatrix: 07.0006\n")
    conflicts = (
        P + "conflict: 07.0004: bound to vfio_ap (status: in use), but set 'b' (%s/apmatrix.conf:4) is for apmatrix\n" % d +
        P + "conflict: 08.0005: being reset after leaving a VM (apmatrix_state: resetting); retry when it is free; the configuration gives it back to the host\n" +
        P + "conflict: 08.0006: its reset after leaving a VM failed (apmatrix_state: reset failed); the host must not have it; the configuration gives it back to the host\n")
    t.expect("apply refuses and names every conflict, exit 3", r, 3, plan,
             conflicts + P + "apply: 3 conflicts; nothing changed\n")
    t.expect("diff shows the same, exit 3", t.run(["diff"], root, d), 3, plan, conflicts)
    r = t.run(["diff", "--json"], root, d)
    try:
        doc = json.loads(r.out)
    except ValueError:
        doc = None
    want = {"format_version": 1, "config_dir": d, "drift": True,
            "apmask": {"before": mask(7, 8), "after": mask(7)},
            "aqmask": {"before": ONES, "after": ONES},
            "take_from_host": [], "give_back_to_host": ["08.0004", "08.0005", "08.0006"],
            "bind_to_apmatrix": ["07.0006"], "device": None,
            "conflicts": [c[len(P + "conflict: "):] for c in conflicts.splitlines()]}
    t.ok(r.rc == 3 and r.err == "" and doc == want, "diff --json: the same as one document, exit 3",
         "rc %d err %r\n%s" % (r.rc, r.err, r.out))
    t.ok(snapshot(root) == before, "conflicts: nothing changed", snap_diff(before, snapshot(root)))

    # giving back adapter 07: a VM holds 07.0005, a mediated device 07.0004
    d = t.conf("[guests]\nadapters = 08\n")
    r = t.run(["apply"], root, d)
    t.expect("apply: queues held by a VM and by vfio_ap are not given back", r, 3,
             "apmask: %s -> %s\ngive back to the host: 07.0004,07.0005,07.0006\n" % (mask(7, 8), mask(8)),
             P + "conflict: 07.0004: assigned to a vfio_ap mediated device (status: in use); the configuration gives it back to the host\n" +
             P + "conflict: 07.0005: held by a VM (apmatrix_state: in use 4242); the configuration gives it back to the host\n" +
             P + "apply: 2 conflicts; nothing changed\n")

    # not on this host: an adapter beyond ap_max_adapter_id, a set's queue
    # and control domain the host does not have
    d = t.conf("[guests]\nadapters = 07-08,40\ndomains = 0007\n[set c]\napqns = 07.0007\ncontrol-domains = 000c\n")
    r = t.run(["diff"], root, d)
    t.ok(r.rc == 3 and
         (P + "conflict: adapter 40 (%s/apmatrix.conf:2): not on this host (ap_max_adapter_id is 0x3f)\n" % d) in r.err and
         (P + "conflict: set 'c' (%s/apmatrix.conf:5): 07.0007: not on this host (no such queue)\n" % d) in r.err and
         (P + "conflict: set 'c' (%s/apmatrix.conf:6): control domain 000c: not on this host (not in ap_control_domain_mask)\n" % d) in r.err,
         "IDs and queues not on this host are named with file and line", "rc %d err %r" % (r.rc, r.err))
    t.ok(snapshot(root) == before, "conflicts: still nothing changed", snap_diff(before, snapshot(root)))

    # the apmatrix driver not loaded: a queue to bind has nowhere to go
    root2 = t.tree("conf-busy")
    shutil.rmtree(os.path.join(root2, "bus/ap/drivers/apmatrix"))
    r = t.run(["apply"], root2, t.conf("[guests]\nadapters = 07-08\n"))
    t.ok(r.rc == 3 and "07.0006: set aside but bound to no driver, and the apmatrix AP driver is not loaded (modprobe ap_matrix_drv)" in r.err,
         "no apmatrix driver: the queue to bind is a conflict", r.err)


def g_rollback(t):
    # both masks change; the aqmask write fails: apmask is rolled back
    d = t.conf("[guests]\nadapters = 05,07\ndomains = 0006\n")
    for errno_name, rc, why in (("EIO", 2, "Input/output error (EIO)"),
                                ("EBUSY", 6, "Device or resource busy (EBUSY)")):
        root = t.tree()
        before = snapshot(root)
        r = t.run(["apply"], root, d, {"LD_PRELOAD": t.opts.fault_so,
                                      "APMATRIX_FAULT_WRITE": "aqmask:" + errno_name})
        t.ok(r.rc == rc and r.err == P + "apply: writing aqmask: %s; apmask rolled back\n" % why,
             "aqmask write fails with %s: apmask rolled back, exit %d" % (errno_name, rc),
             "rc %d err %r" % (r.rc, r.err))
        t.ok(snapshot(root) == before, "aqmask write fails with %s: the host as before" % errno_name,
             snap_diff(before, snapshot(root)))
    # the masks are written, then binding fails: the masks go back
    root = t.tree("conf-busy")
    with open(os.path.join(root, "bus/ap/devices/08.0005/apmatrix_state"), "w") as fh:
        fh.write("free\n")
    with open(os.path.join(root, "bus/ap/devices/08.0006/apmatrix_state"), "w") as fh:
        fh.write("free\n")
    before = snapshot(root)
    d = t.conf("[guests]\nadapters = 05,07-08\n")
    r = t.run(["apply"], root, d, {"LD_PRELOAD": t.opts.fault_so,
                                  "APMATRIX_FAULT_WRITE": "drivers/apmatrix/bind:EIO"})
    # (the library's reserve code binds and undoes: one line, what it undid)
    want_err = (P + "apply: binding 07.0006: writing %s/bus/ap/drivers/apmatrix/bind: "
                "Input/output error (EIO): nothing changed\n" % root)
    t.expect("a bind fails after the masks were written: exit 2, masks rolled back", r, 2,
             "apmask: %s -> %s\ntake from the host: 05.0004,05.0005,05.0006\nbind to apmatrix: 07.0006\n"
             % (mask(7, 8), mask(5, 7, 8)), want_err)
    t.ok(snapshot(root) == before, "after the failed bind the host is as before",
         snap_diff(before, snapshot(root)))


# data/apmatrix.service.in's TimeoutStartSec=3min, less a margin for the rest of apply
UNIT_TIMEOUT = 120


def g_many(t):
    """Big configurations finish within the boot unit's start timeout (a
    functional bound: the unit would fail, not a speed claim; the bound is
    far above what ASan or qemu-user on a loaded machine take), one
    conflict line per set and kind, not one per queue or domain."""
    root = t.tree()
    small = "[guests]\nadapters = 05-07\n" + "".join(
        "[set s%d]\napqns = 05.%04x\n" % (i, 4 + i % 3) for i in range(10000))
    d = t.conf(small)
    start = time.time()
    r = t.run(["diff", "-q"], root, d)
    took = time.time() - start
    t.ok(r.rc == 8 and took < UNIT_TIMEOUT, "10,000 small sets: diff in %.1f s" % took, "rc %d %r" % (r.rc, r.err[:300]))
    big = "[guests]\nadapters = 00-ff\n" + "".join(
        "[set s%d]\napqns = 00-ff.0000-00ff\ncontrol-domains = 00-ff\n" % i for i in range(1000))
    d = t.conf(big)
    start = time.time()
    r = t.run(["diff"], root, d)
    took = time.time() - start
    lines = [ln for ln in r.err.splitlines() if "set 's17' " in ln]
    t.ok(r.rc == 3 and took < UNIT_TIMEOUT and lines == [
        P + "conflict: set 's17' (%s/apmatrix.conf:55): 00.0000,00.0001,00.0002,00.0003,00.0004,00.0005,00.0006,00.0007,...: not on this host (no such queue)" % d,
        P + "conflict: set 's17' (%s/apmatrix.conf:56): control domains 0000,0001,0002,0003,0007,0008,0009,000a,...: not on this host (not in ap_control_domain_mask)" % d],
        "1,000 sets of 256 x 256 queues: diff in %.1f s, two lines a set" % took,
        "rc %d lines %r" % (r.rc, lines))


def g_devrollback(t):
    """/dev/apmatrix is changed first: its chown or chmod failing changes
    nothing else; a bind failing after it puts the node back too."""
    if os.geteuid() != 0:
        t.skip("a failed chmod of /dev/apmatrix is rolled back", "needs root to chown")
        return
    dev = os.path.join(t.tmp, "apmatrix-dev")
    with open(dev, "w"):
        pass
    os.chown(dev, -1, 0)
    os.chmod(dev, 0o600)
    other = [g for g in grp.getgrall() if g.gr_gid != 0][0]
    d = t.conf("[guests]\nadapters = 05,07-08\n[device]\ngroup = %s\nmode = 0660\n" % other.gr_name)
    # the node is changed first: its chown or chmod failing writes nothing
    # else; the bind of 07.0006 failing after it: the library undoes masks
    # and binds, apply puts the node's group and mode back
    cases = [("chown of /dev/apmatrix fails", {"APMATRIX_FAULT_CALL": "chown:EPERM"},
              "%s: chown to group %d: Operation not permitted\n" % (dev, other.gr_gid) +
              P + "apply: nothing changed"),
             ("chmod of /dev/apmatrix fails", {"APMATRIX_FAULT_CALL": "chmod:EPERM"},
              "%s: chmod 0660: Operation not permitted\n" % dev + P + "apply: nothing changed"),
             ("a bind fails after /dev/apmatrix changed",
              {"APMATRIX_FAULT_WRITE": "drivers/apmatrix/bind:EIO"},
              "binding 07.0006: writing %s/bus/ap/drivers/apmatrix/bind: "
              "Input/output error (EIO): nothing changed")]
    for name, fault, err in cases:
        root = t.tree("conf-busy")
        for q in ("08.0005", "08.0006"):
            with open(os.path.join(root, "bus/ap/devices/%s/apmatrix_state" % q), "w") as fh:
                fh.write("free\n")
        before = snapshot(root)
        r = t.run(["apply"], root, d, dict(fault, LD_PRELOAD=t.opts.fault_so,
                                           APMATRIX_GRANT_DEVICE=dev))
        t.expect("%s: exit 2" % name, r, 2, None, P + "apply: " + (err % root if "%s" in err else err) + "\n")
        t.ok(snapshot(root) == before, "%s: masks and bindings as before" % name,
             snap_diff(before, snapshot(root)))
        st = os.stat(dev)
        t.ok(st.st_gid == 0 and st.st_mode & 0o7777 == 0o600,
             "%s: the node is root and 0600" % name, "gid %d mode %o" % (st.st_gid, st.st_mode))
    # the node cannot be put back: no "nothing changed" (it said so, with
    # the node left changed)
    root = t.tree("conf-busy")
    for q in ("08.0005", "08.0006"):
        with open(os.path.join(root, "bus/ap/devices/%s/apmatrix_state" % q), "w") as fh:
            fh.write("free\n")
    before = snapshot(root)
    # its chmod fails after the chown, and the chown back fails too
    r = t.run(["apply"], root, d, {"LD_PRELOAD": t.opts.fault_so, "APMATRIX_GRANT_DEVICE": dev,
                                   "APMATRIX_FAULT_CALL": "chown+1:EPERM,chmod:EPERM"})
    st = os.stat(dev)
    t.expect("chmod fails, the chown back too: exit 2, no 'nothing changed'", r, 2, None,
             P + "apply: %s: chmod 0660: Operation not permitted\n" % dev +
             P + "apply: rollback: %s: chown back to group 0: Operation not permitted; "
             "its group is %d\n" % (dev, other.gr_gid) +
             P + "apply: the masks and queues are unchanged, not so /dev/apmatrix (above)\n")
    t.ok(snapshot(root) == before and st.st_gid == other.gr_gid and st.st_mode & 0o7777 == 0o600,
         "chmod and chown back fail: masks and bindings as before, the node's group %s"
         % other.gr_name, "gid %d mode %o" % (st.st_gid, st.st_mode))
    os.chown(dev, -1, 0)
    # a bind fails after the node changed, and its chmod back fails
    r = t.run(["apply"], root, d, {"LD_PRELOAD": t.opts.fault_so, "APMATRIX_GRANT_DEVICE": dev,
                                   "APMATRIX_FAULT_CALL": "chmod+1:EPERM",
                                   "APMATRIX_FAULT_WRITE": "drivers/apmatrix/bind:EIO"})
    st = os.stat(dev)
    t.expect("a bind fails, the node's chmod back fails: exit 2, no 'nothing changed'", r, 2, None,
             P + "apply: rollback: %s: chmod back to 0600: Operation not permitted\n" % dev +
             P + "apply: binding 07.0006: writing %s/bus/ap/drivers/apmatrix/bind: "
             "Input/output error (EIO): nothing else changed, but %s could not be put back "
             "(above)\n" % (root, dev))
    t.ok(snapshot(root) == before and st.st_mode & 0o7777 == 0o660 and st.st_gid == 0,
         "a bind fails, the node's chmod back fails: masks and bindings as before, the node "
         "0660 and its group root again", "mode %o gid %d" % (st.st_mode, st.st_gid))
    os.chmod(dev, 0o600)


def g_kill9(t):
    """apply killed with SIGKILL (which no signal mask holds back) between
    the two masks: its stale lock does not block the next apply, diff shows
    the half-done change, and apply finishes it."""
    root = t.tree()
    d = t.conf("[guests]\nadapters = 05\ndomains = 0006\n")
    r = t.run(["apply"], root, d, {"LD_PRELOAD": t.opts.fault_so, "APMATRIX_FAULT_SIGNAL": "apmask:KILL"})
    t.ok(r.rc == -9 and os.path.exists(t.lock), "apply killed after writing apmask: its lock file stays",
         "rc %d" % r.rc)
    t.ok(read(os.path.join(root, "bus/ap/apmask")) == mask(5) + "\n" and
         read(os.path.join(root, "bus/ap/aqmask")) == ONES + "\n", "apmask written, aqmask not")
    r = t.run(["diff"], root, d)
    t.ok(r.rc == 8 and r.out.startswith("aqmask: %s -> %s\n" % (ONES, mask(6))),
         "diff: the aqmask still to be written, exit 8 (the stale lock does not matter to diff)", r.out + r.err)
    r = t.run(["apply"], root, d)
    t.ok(r.rc == 0 and r.err == "" and r.out.endswith("applied\n"),
         "the next apply takes the stale lock over at once and finishes", r.out + r.err)
    t.ok(not os.path.exists(t.lock), "and leaves no lock file")
    t.expect("then no drift", t.run(["diff"], root, d), 0, None, "")


def g_lockdos(t):
    """/run/lock is world-writable: a local user's lock file, naming a
    live process of theirs, must not keep root's apply waiting and failing."""
    if os.geteuid() != 0:
        t.skip("a user's lock file does not block root's apply", "needs root to chown")
        return
    root = t.tree()
    d = t.conf(GOOD)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        with open(t.lock, "w") as fh:
            fh.write("%d\n" % sleeper.pid)
        os.chown(t.lock, 4242, 4242)
        start = time.monotonic()
        r = t.run(["apply"], root, d, {"APMATRIX_LOCK_TIMEOUT": "3"})
        took = time.monotonic() - start
    finally:
        sleeper.kill()
        sleeper.wait()
    t.ok(r.rc == 0 and r.out.endswith("applied\n") and r.err == "" and took < 2.5,
         "apply as root does not wait for a lock file uid 4242 made", "rc %d %.1fs %r" % (r.rc, took, r.err))
    t.ok(not os.path.exists(t.lock), "the user's file is gone, the lock released")
    # nor a symbolic link or a FIFO a user put there (both were refused, exit 2)
    for what, make in (("symbolic link", lambda p: os.symlink("/etc/passwd", p)),
                       ("FIFO", os.mkfifo)):
        make(t.lock)
        os.chown(t.lock, 4242, 4242, follow_symlinks=False)
        r = t.run(["apply"], t.tree(), d, {"APMATRIX_LOCK_TIMEOUT": "3"})
        t.ok(r.rc == 0 and r.err == "" and not os.path.lexists(t.lock) and
             os.path.exists("/etc/passwd"),
             "apply as root takes the lock over a %s uid 4242 made there (the link only is removed)" % what,
             "rc %d %r" % (r.rc, r.err))


def g_concurrency(t):
    """Two applies at once: the second waits for the lock; both end well,
    the second finds nothing to do; nothing is lost or interleaved."""
    root = t.tree()
    d = t.conf(GOOD)
    # hold the lock both ways a lock file is held: s390-tools' (a file
    # with our PID, link()ed to the name) and flock(2)
    pidfile = t.lock + ".test"
    with open(pidfile, "w") as fh:
        fh.write("%d\n" % os.getpid())
    os.link(pidfile, t.lock)
    os.unlink(pidfile)
    holder = open(t.lock, "r+")
    fcntl.flock(holder, fcntl.LOCK_EX)
    procs = [subprocess.Popen(t.cmd(["apply"]), env=t.env(root, {"APMATRIX_CONFIG_DIR": d}), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    time.sleep(1.0 if not t.opts.valgrind else 4.0)
    waiting = all(p.poll() is None for p in procs)
    masks_before = read(os.path.join(root, "bus/ap/apmask"))
    t.ok(waiting and masks_before == mask(7) + "\n",
         "while another program holds the lock both applies wait and write nothing")
    # meanwhile the other program takes domain 0004 (it holds the lock)
    with open(os.path.join(root, "bus/ap/aqmask"), "w") as fh:
        fh.write(mask(4) + "\n")
    os.unlink(t.lock)
    fcntl.flock(holder, fcntl.LOCK_UN)
    holder.close()
    outs = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    wait_line = P + "apply: waiting for the AP configuration lock %s\n" % t.lock
    applied = [o for o in outs if o[0].endswith("applied\n")]
    nothing = [o for o in outs if o[0] == "nothing to do: the host matches %s\n" % d]
    t.ok(all(o[2] == 0 and o[1] == wait_line for o in outs) and len(applied) == 1 and len(nothing) == 1,
         "both end with exit 0 after waiting; one applied, the other found nothing to do",
         repr(outs))
    t.ok(applied and applied[0][0] == "apmask: %s -> %s\naqmask: %s -> %s\n" % (mask(7), mask(5, 7), mask(4), ONES) +
         "take from the host: 05.0005,05.0006\ngive back to the host: 06.0004\napplied\n",
         "the first apply planned from what the lock holder left (its aqmask write was seen)",
         repr(applied))
    t.ok(read(os.path.join(root, "bus/ap/apmask")) == mask(5, 7) + "\n" and
         read(os.path.join(root, "bus/ap/aqmask")) == ONES + "\n",
         "the host ends as configured")


def g_udev(t):
    root = t.tree()
    d = t.conf(GOOD)
    t.expect("udev-env: group and mode for the rule", t.run(["udev-env"], None, d), 0,
             "APMATRIX_GROUP=root\nAPMATRIX_MODE=0660\n", "")
    d = t.conf("[guests]\nadapters = 07\n")
    t.expect("udev-env without [device]: nothing (the kernel's root 0600 stays)",
             t.run(["udev-env"], None, d), 0, "", "")
    d = t.conf("[device]\n")
    t.expect("udev-env with an empty [device]: root and 0600",
             t.run(["udev-env"], None, d), 0, "APMATRIX_GROUP=root\nAPMATRIX_MODE=0600\n", "")
    for cmd, opt in (("apply", "--bogus"), ("diff", "-x"), ("udev-env", "--dry-run")):
        r = t.run([cmd, opt], root, d)
        t.expect("%s %s: unknown option, exit 1" % (cmd, opt), r, 1, "",
                 P + "%s: unknown option '%s' (see 'apmatrix-ctl %s --help')\n" % (cmd, opt, cmd))
    t.expect("apply --kernel-cmdline --dry-run: refused", t.run(["apply", "--kernel-cmdline", "-n"], root, d),
             1, "", P + "apply: --kernel-cmdline writes nothing; --dry-run has no meaning with it\n")
    t.expect("diff with an argument: refused", t.run(["diff", "x"], root, d), 1, "",
             P + "diff: unexpected argument 'x'\n")
    r = t.run(["--sysfs-root", root, "diff", "--config-dir", t.conf(GOOD)])
    t.ok(r.rc == 8 and r.out.startswith("apmask: "), "the global --sysfs-root reaches diff", r.err)


def g_man(t):
    """The man pages name every command, option, section and key of the
    sources (apmatrix-ctl.8's CONFIGURATION section, apmatrix.conf(5))."""
    import re
    man8 = read(os.path.join(SRC, "man", "apmatrix-ctl.8"))
    sec = man8.split(".SH CONFIGURATION, BOOT AND EVENTS", 1)
    t.ok(len(sec) == 2, "apmatrix-ctl.8 has its CONFIGURATION, BOOT AND EVENTS section")
    # the commands' entries are in COMMANDS, their options in OPTIONS (as
    # every command's; check_man.py holds them to --help), the codes in
    # EXIT STATUS
    page = man8.replace("\\-", "-")
    cmdsec = page.split("\n.SH COMMANDS\n", 1)[-1].split("\n.SH ", 1)[0]
    optsec = page.split("\n.SH OPTIONS\n", 1)[-1].split("\n.SH ", 1)[0]
    status = page.split("\n.SH EXIT STATUS\n", 1)[-1].split("\n.SH ", 1)[0]
    srcs = read(os.path.join(SRC, "tools", "cmd-admin.c"))
    cmds = re.findall(r'\.name = "([a-z-]+)", \.run_argv = cmd_', srcs)
    t.ok(sorted(cmds) == ["apply", "diff", "monitor", "sets", "udev-env"], "found the commands", cmds)
    for c in cmds:
        t.ok(re.search(r"^\.B %s\b" % re.escape(c), cmdsec, re.M), "command %s is described" % c)
    longs = sorted(set(re.findall(r'\{ "([a-z][a-z-]*)", (?:no|required)_argument', srcs)) |
                   {"config-dir", "sysfs-root"})
    t.ok(len(longs) >= 8, "found the long options", longs)
    for o in longs:
        if o != "help":
            t.ok("--" + o in optsec, "--%s is described" % o)
    for code in ("8", "9"):
        t.ok(re.search(r"^\.B %s$" % code, status, re.M), "exit code %s is described" % code)
    man5 = read(os.path.join(SRC, "man", "apmatrix.conf.5")).replace("\\-", "-")
    conf = read(os.path.join(SRC, "tools", "conf.c"))
    keys = sorted(set(re.findall(r'strcmp\(name, "([a-z-]+)"\)', conf)))
    keys = [k for k in keys if k not in ("guests", "device")]  # section names
    t.ok(len(keys) >= 6, "found the keys of conf.c", keys)
    for k in keys:
        t.ok(re.search(r'^\.BI "%s = "' % re.escape(k), man5, re.M), "key %s is described in apmatrix.conf(5)" % k)
    for sname in ("[guests]", "[device]", "[set NAME]"):
        t.ok(".SS " + sname in man5, "section %s is described in apmatrix.conf(5)" % sname)


def g_sets(t):
    d = t.conf(GOOD + "\n[set db]\napqns = 07.0004-0006\n")
    t.expect("sets: one line per set", t.run(["sets"], None, d), 0,
             "tenant-a: apqns 05.0004-0005; control domains 000b\n"
             "db: apqns 07.0004-0006; control domains none\n", "")
    r = t.run(["sets", "--json", "tenant-a"], None, d)
    try:
        doc = json.loads(r.out)
    except ValueError:
        doc = None
    t.ok(r.rc == 0 and doc == {"format_version": 1, "sets": [{
        "name": "tenant-a", "apqns": "05.0004-0005", "adapters": "05", "domains": "0004-0005",
        "control_domains": "000b", "apm": "0x04" + "0" * 62, "aqm": "0x0c" + "0" * 62,
        "adm": "0x0010" + "0" * 60, "defined_at": d + "/apmatrix.conf:10"}]},
        "sets --json NAME: the set's matrix as IDs and masks, and where it is defined", r.out)
    t.expect("sets NAME: an unknown set names the sets there, exit 1", t.run(["sets", "nope"], None, d), 1, "",
             P + "no set 'nope' in %s (its sets: tenant-a, db)\n" % d)
    d = t.conf("[set x]\n")
    t.expect("sets on a bad configuration: exit 9", t.run(["sets"], None, d), 9, "",
             P + d + "/apmatrix.conf:1: set 'x' has no apqns\n" + P + "sets: the configuration is invalid; nothing changed\n")


def g_wait(t):
    """apply --wait-for-bus: at boot, wait until the AP bus has scanned."""
    import threading
    root = t.tree()
    d = t.conf(GOOD)
    scans = os.path.join(root, "bus/ap/scans")
    with open(scans, "w") as fh:
        fh.write("0\n")
    before = snapshot(root)
    r = t.run(["apply", "--wait-for-bus", "0.3"], root, d)
    t.expect("the bus never scans: exit 2, named, after the wait", r, 2, "",
             P + "apply: the AP bus has not scanned its devices after 0.3 s (%s: 0)\n" % scans)
    t.ok(snapshot(root) == before, "nothing written while the bus had not scanned",
         snap_diff(before, snapshot(root)))

    def scan_later():
        time.sleep(0.5)
        with open(scans, "w") as fh:
            fh.write("1\n")
    th = threading.Thread(target=scan_later)
    th.start()
    start = time.time()
    r = t.run(["apply", "--wait-for-bus", "20"], root, d)
    took = time.time() - start
    th.join()
    t.ok(r.rc == 0 and r.out.endswith("applied\n") and 0.4 <= took < 15,
         "it waits for the first scan, then applies", "rc %d took %.1f s out %r err %r" % (r.rc, took, r.out, r.err))
    os.unlink(scans)
    r = t.run(["apply", "--wait-for-bus", "0.2"], root, d)
    t.expect("no AP bus (yet): named after the wait, exit 2", r, 2, "",
             P + "apply: the AP bus has not scanned its devices after 0.2 s (%s: missing)\n" % scans)
    # no AP bus at all (an s390 machine without an AP crypto facility): the
    # boot unit must not wait 60 s for nothing
    nobus = os.path.join(t.tmp, "nobus")
    os.makedirs(os.path.join(nobus, "bus"))
    default = t.conf(read(os.path.join(SRC, "data", "apmatrix.conf")))
    start = time.time()
    r = t.run(["apply", "--wait-for-bus", "20"], nobus, default)
    t.ok(r.rc == 0 and r.err == "" and time.time() - start < 10 and r.out ==
         "nothing to do: %s configures nothing, and there is no AP bus (%s/bus/ap)\n" % (default, nobus),
         "no AP bus and the package's configuration: exit 0 at once", "rc %d %r %r" % (r.rc, r.out, r.err))
    start = time.time()
    r = t.run(["apply", "--wait-for-bus", "20"], nobus, d)
    t.ok(r.rc == 2 and r.out == "" and time.time() - start < 10 and r.err ==
         P + "apply: there is no AP bus: %s/bus/ap does not exist (no AP crypto facility on this machine, or the ap module is not loaded); nothing changed\n" % nobus,
         "no AP bus and a configuration that needs one: exit 2 at once, named", "rc %d %r" % (r.rc, r.err))
    t.expect("--wait-for-bus with a bad number: exit 1", t.run(["apply", "--wait-for-bus", "-1"], root, d), 1, "",
             P + "apply: --wait-for-bus '-1': not a number of seconds (0 to 3600)\n")


def g_files(t):
    """Files apply (root, at boot) must not read: a FIFO (open would block
    forever), a device (/dev/zero never ends), a directory, a huge file, a
    file anyone may write or another user owns. Each: exit 9 at once,
    naming the file and why, the host untouched. And a NUL byte or a UTF-8
    byte order mark is not silently misread."""
    root = t.tree()
    before = snapshot(root)
    base = "[guests]\nadapters = 05\n"

    def refused(name, make, why):
        d = t.conf(base)
        os.makedirs(os.path.join(d, "conf.d"))
        f = os.path.join(d, "conf.d", "x.conf")
        make(f)
        try:
            p = subprocess.run(t.cmd(["apply"]), env=t.env(root, {"APMATRIX_CONFIG_DIR": d}), capture_output=True,
                               text=True, timeout=20)
            r = R(p.returncode, p.stdout, p.stderr)
        except subprocess.TimeoutExpired:
            r = R(-1, "", "timed out: apply hangs")
        t.expect("%s: refused, exit 9" % name, r, 9, "",
                 P + "%s: %s\n" % (f, why) + INVALID)
        t.ok(snapshot(root) == before, "%s: the host as before" % name,
             snap_diff(before, snapshot(root)))

    def write(body, mode=0o644, uid=None):
        def make(f):
            with open(f, "wb") as fh:
                fh.write(body)
            os.chmod(f, mode)
            if uid is not None:
                os.chown(f, uid, -1)
        return make

    refused("a FIFO", os.mkfifo, "not a regular file (a FIFO): refused")
    refused("a symlink to /dev/zero", lambda f: os.symlink("/dev/zero", f),
            "not a regular file (a character device): refused")
    refused("a directory", os.mkdir, "not a regular file (a directory): refused")
    refused("a 5 MB file", write(b"#" * 5000000),
            "5000000 bytes: larger than 4194304 bytes, refused")
    refused("a world-writable file", write(b"[guests]\nadapters = 06\n", 0o666),
            "writable by every user (mode 0666): anyone could change what apply does; refused (chmod o-w)")
    if os.geteuid() == 0:
        refused("a file another user owns", write(b"[guests]\nadapters = 06\n", 0o644, 4242),
                "owned by uid 4242, neither root nor the caller (uid 0): refused")
    else:
        t.skip("a file another user owns", "needs root to chown")

    d = t.conf("[guests]\nadapters = 05\0,06\n")
    t.expect("a NUL byte: named, not read up to it", t.run(["apply"], root, d), 9, "",
             P + "%s/apmatrix.conf:2: a NUL byte in the line: not text\n" % d + INVALID)
    t.ok(snapshot(root) == before, "a NUL byte: the host as before")
    # apmatrix.conf a dangling symlink (its target removed): named, not skipped
    d = t.conf(None, {"a.conf": "[guests]\nadapters = 05\n"})
    os.symlink("/nonexistent/apmatrix.conf", os.path.join(d, "apmatrix.conf"))
    t.expect("apmatrix.conf a dangling symlink: named, exit 9", t.run(["apply"], root, d), 9, "",
             P + "%s/apmatrix.conf: cannot read: No such file or directory\n" % d + INVALID)
    # indented lines are lines like any other (libinih alone would make them
    # continue the previous key's value), and every malformed line is named
    d = t.conf("[guests]\n  adapters = 05\n[set a]\n  apqns = 05.0004\n  control-domains = 0b\n")
    t.expect("indented keys: read as keys", t.run(["sets"], None, d), 0,
             "a: apqns 05.0004; control domains 000b\n", "")
    d = t.conf("[guests]\nadapters = 05\n    07\ndomains 06\n")
    t.expect("an indented stray value and a line without '=': each named, not added", t.run(["apply"], root, d), 9, "",
             P + "%s/apmatrix.conf:3: not a 'key = value' line, a [section] header or a comment\n" % d +
             P + "%s/apmatrix.conf:4: not a 'key = value' line, a [section] header or a comment\n" % d + INVALID)
    d = t.conf("\ufeff[guests]\nadapters = 05\n")
    t.expect("a UTF-8 byte order mark: read as libinih reads it", t.run(["diff", "-q"], root, d), 8, "", "")


GROUPS = {"files": g_files, "many": g_many, "lockdos": g_lockdos, "kill9": g_kill9, "devrollback": g_devrollback, "man": g_man, "sets": g_sets, "wait": g_wait, "errors": g_errors, "apply": g_apply, "conflicts": g_conflicts,
          "rollback": g_rollback, "concurrency": g_concurrency, "udev": g_udev}


if __name__ == "__main__":
    sys.exit(main(T, GROUPS, lambda ap: ctl_options(ap, fault_so_required=True)))
