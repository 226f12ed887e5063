#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What `apmatrix-ctl list` reads of sysfs, counted by strace (TAP).

usage: list_reads.py CTL MKFIXTURE HOST.json

Structural, not timed: on the fixture tree of HOST.json, under strace -f -y
(every open/readlink with the directory its fd names), list and list --json
  - open every sysfs entry (directory or attribute) at most once,
  - never read hwtype (shown by neither),
  - read apmatrix_state only of queues bound to the apmatrix driver;
the table reads config/chkstop of no online device and chkstop of no
deconfigured one (its STATUS is decided without them); list APQN opens
no other queue's directory and no other card's. Skipped without strace.
"""

import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from tap import Tap  # noqa: E402

# openat(3</t/devices/ap/card05>, "online", O_RDONLY|...) = 4</...>
# readlinkat(4</t/...>, "driver", ...)   open("/t/bus/ap", ...)
CALL = re.compile(r'^(?:\d+ +)?(openat|readlinkat|open|newfstatat|statx|access|faccessat2?)'
                  r'\((?:(-?\d+|AT_FDCWD)(?:<([^>]*)>)?, )?"([^"]*)"')

RESOLVED = re.compile(r'\) += \d+<([^>]*)>$')


def opened(trace, root):
    """The paths (relative to root, symlinks resolved as strace shows the
    directory fds) each call named, in order."""
    out = []
    for line in trace.splitlines():
        m = CALL.match(line)
        if not m:
            continue
        call, _fd, dirpath, name = m.groups()
        if not name:
            continue  # AT_EMPTY_PATH: the fd itself (fdopendir's fstat)
        path = name if name.startswith("/") else os.path.join(dirpath or os.getcwd(), name)
        path = os.path.normpath(path)
        # what an open reached, symlinks resolved: bus/ap/devices/05.0004
        # and devices/ap/card05/05.0004 are one directory
        ret = RESOLVED.search(line)
        if ret:
            path = ret.group(1)
        if path == root or path.startswith(root + "/"):
            out.append((call, os.path.relpath(path, root)))
    return out


def run(t, ctl, root, args):
    with tempfile.NamedTemporaryFile(mode="r", suffix=".strace") as tr:
        env = dict(os.environ, APMATRIX_SYSFS_ROOT=root)
        # LeakSanitizer cannot run under ptrace (an ASan build's exit)
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "detect_leaks=0"]))
        r = subprocess.run(["strace", "-f", "-y", "-qq", "-o", tr.name,
                            "-e", "trace=openat,open,readlinkat,newfstatat,statx,access,faccessat,faccessat2",
                            ctl] + args, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        trace = tr.read()
    t.ok(r.returncode == 0, "list %s runs under strace" % " ".join(args), r.stderr)
    return r.stdout, opened(trace, os.path.realpath(root))


def queue_of(path):
    """'02.0001' for devices/ap/card02/02.0001/config, else None."""
    m = re.search(r"(?:^|/)([0-9a-f]{2}\.[0-9a-f]{4})(?:/|$)", path)
    return m.group(1) if m else None


def main():
    ctl, mkfixture, host = sys.argv[1:4]
    t = Tap()
    if not shutil.which("strace"):
        t.skip("list reads each entry once", "no strace")
        return t.done()
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "sys")
        subprocess.run([sys.executable, mkfixture, "write", host, root],
                       check=True, stdout=subprocess.DEVNULL)
        out, _ = run(t, ctl, root, ["list", "--json"])
        doc = json.loads(out)
        drivers = {q["apqn"]: q["driver"] for c in doc["adapters"] for q in c["queues"]}
        cards = {c["id"]: c for c in doc["adapters"]}
        queues = {q["apqn"]: q for c in doc["adapters"] for q in c["queues"]}
        t.ok(any(d == "apmatrix" for d in drivers.values()) and
             any(d != "apmatrix" for d in drivers.values()),
             "the tree has queues bound to apmatrix and others", repr(drivers))

        for args in (["list"], ["list", "--json"]):
            name = " ".join(args)
            _, calls = run(t, ctl, root, args)
            count = collections.Counter(p for c, p in calls)
            twice = sorted(p for p, n in count.items() if n > 1)
            t.ok(calls and not twice, "%s: each sysfs entry opened at most once" % name,
                 "\n".join("%dx %s" % (count[p], p) for p in twice[:20]))
            hw = [p for p in count if os.path.basename(p) == "hwtype"]
            t.ok(not hw, "%s: hwtype (shown by neither) is not read" % name, "\n".join(hw))
            st = sorted({queue_of(p) for p in count if os.path.basename(p) == "apmatrix_state"})
            want = sorted(a for a, d in drivers.items() if d == "apmatrix")
            t.ok(st == want, "%s: apmatrix_state read of the apmatrix queues only" % name,
                 "read of %s, apmatrix queues %s" % (st, want))

        # the table's STATUS: online 1 decides it alone (the kernel shows
        # online 1 only when configured and not check-stopped), deconfig
        # without chkstop
        _, calls = run(t, ctl, root, ["list"])
        read = {p for c, p in calls}
        undecided = []
        devs = [("devices/ap/card%s" % cid, c) for cid, c in cards.items()] + \
               [("devices/ap/card%s/%s" % (a[:2], a), q) for a, q in queues.items()]
        for d, c in devs:
            if c["online"] is True:
                undecided += [p for p in (d + "/config", d + "/chkstop") if p in read]
            elif c["config"] is False:
                undecided += [p for p in (d + "/chkstop",) if p in read]
        t.ok(any(c["online"] is True for d, c in devs) and
             any(c["config"] is False for d, c in devs) and not undecided,
             "list: no config/chkstop where online is 1, no chkstop of a deconfigured device",
             "\n".join(undecided) or repr(devs))

        # list APQN: nothing of another queue or card
        one = sorted(queues)[-1]
        out, calls = run(t, ctl, root, ["list", one])
        others = sorted({p for c, p in calls
                         if (queue_of(p) and queue_of(p) != one) or
                         (re.search(r"card([0-9a-f]{2})/", p + "/") and
                          re.search(r"card([0-9a-f]{2})/", p + "/").group(1) != one[:2])})
        t.ok(one in out and not others, "list %s: no other queue's or card's entry is read" % one,
             "\n".join(others[:20]))
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
