#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The oracle: IBM's lszcrypt and apmatrix-ctl must see a fixture host alike.

For one host of tests/fixtures/hosts: write its sysfs tree, run IBM's
lszcrypt (s390-tools, s390x, under qemu-user) on it with SYSFS_ROOT=tree,
and check
  1. lszcrypt -V lists exactly the adapters (type, state) and queues
     (state, driver) the host description says: the tree looks real to
     IBM's tool;
  2. lszcrypt -b and -d read the bus attributes and domain masks as meant;
  3. `apmatrix-ctl list --json` (APMATRIX_SYSFS_ROOT=tree) agrees with
     lszcrypt on every adapter (type, state, driver) and queue (state,
     driver), and its "chkstop" flags are those of the description
     (when --ctl is given).
Normal form: adapters {id: (type, state)}, state online/offline/deconfig;
queues {apqn: (state, driver)}, state online/offline/deconfig or "-" when
the queue has no zcrypt "online" attribute (not bound to cex4queue),
driver "-no-driver-" when unbound. The state of a card or queue comes from
its own "config", "chkstop" and "online" attributes, lszcrypt's order:
config 0 is "deconfig", then chkstop 1 "checkstop", then online. The
lszcrypt of the sysroot predates "checkstop" and says "offline" for such a
device (its online is 0), so for (3) apmatrix-ctl's "checkstop" matches
lszcrypt's "checkstop" or "offline", and (3) checks the chkstop flags
against the description separately.

usage: oracle.py --host NAME [--lszcrypt CMD] [--ctl PATH] [--wrapper JSON]
Output is TAP. Without --lszcrypt (or with an empty one) it prints the plan
"1..0 # SKIP ..." and exits 0: meson (1.0.1, Debian 12, too) counts that as
a skipped test, while it counts exit 77 of a TAP test as a failure.
"""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(SRC, "tests", "fixtures"))
sys.path.insert(0, os.path.join(SRC, "tests"))
import mkfixture  # noqa: E402
from tap import Tap  # noqa: E402

def scratch_dir():
    """Fixture trees are many small files: write them to tmpfs if we can."""
    for d in (os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm"):
        if d and os.path.isdir(d) and os.access(d, os.W_OK):
            return tempfile.mkdtemp(prefix="apmatrix-oracle-", dir=d)
    return tempfile.mkdtemp(prefix="apmatrix-oracle-")


def run(argv, env_add):
    env = dict(os.environ)
    env.update(env_add)
    env["LC_ALL"] = "C"
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def parse_lszcrypt_v(out):
    """lszcrypt -V table -> (adapters, queues) in normal form."""
    lines = out.splitlines()
    if len(lines) < 3 or not lines[0].startswith("CARD.DOMAIN") or not set(lines[1]) <= {"-"}:
        raise ValueError("not an lszcrypt -V table:\n" + out)
    hdr = lines[0].split()
    want = ["CARD.DOMAIN", "TYPE", "MODE", "STATUS", "REQUESTS", "PENDING",
            "HWTYPE", "QDEPTH", "FUNCTIONS", "DRIVER"]
    if hdr != want:
        raise ValueError("unexpected lszcrypt -V columns: %s" % hdr)
    adapters, queues, card_drivers = {}, {}, {}
    for line in lines[2:]:
        f = line.split()
        if len(f) != len(want):
            raise ValueError("unexpected lszcrypt -V row: %r" % line)
        dev, typ, _mode, status = f[0], f[1], f[2], f[3]
        driver = f[9]
        if "." in dev:
            queues[dev] = {"state": status, "driver": driver}
        else:
            adapters[dev] = {"type": typ, "state": status}
            card_drivers[dev] = driver
            if driver != "cex4card":
                raise ValueError("card %s driven by %s, not cex4card" % (dev, driver))
    return adapters, queues, card_drivers


def parse_lszcrypt_d(out):
    """lszcrypt -d grid -> (usage ids, control ids)."""
    usage, control = [], []
    rows = 0
    for line in out.splitlines():
        f = line.split()
        if len(f) == 17 and all(len(c) == 1 for c in f[1:]):
            try:
                base = int(f[0], 16)
            except ValueError:
                continue
            rows += 1
            for i, c in enumerate(f[1:]):
                if c in ("U", "B"):
                    usage.append(base + i)
                if c in ("C", "B"):
                    control.append(base + i)
    if rows != 16:
        raise ValueError("lszcrypt -d printed %d grid rows, want 16:\n%s" % (rows, out))
    return usage, control


def ctl_state(dev):
    """lszcrypt's STATUS from a card's or queue's JSON booleans."""
    for key in ("online", "config", "chkstop"):
        if key not in dev:
            raise KeyError("%s has no %r" % (dev.get("id") or dev.get("apqn"), key))
    if dev["config"] is False:
        return "deconfig"
    if dev["chkstop"] is True:
        return "checkstop"
    return {True: "online", False: "offline", None: "-"}[dev["online"]]


def ctl_normal(doc):
    """-> (adapters, queues, card drivers, chkstop APQNs and card IDs)."""
    adapters, queues, card_drivers, chkstop = {}, {}, {}, set()
    if "adapters" not in doc:
        raise ValueError("no 'adapters' in apmatrix-ctl list --json")
    for c in doc["adapters"]:
        cid = c["id"]
        adapters[cid] = {"type": c.get("type") or "-", "state": ctl_state(c)}
        card_drivers[cid] = c["driver"] or "-no-driver-"
        if c["chkstop"] is True:
            chkstop.add(cid)
        for q in c["queues"]:
            queues[q["apqn"]] = {
                "state": ctl_state(q),
                "driver": q.get("driver") or "-no-driver-",
            }
            if q["chkstop"] is True:
                chkstop.add(q["apqn"])
    return adapters, queues, card_drivers, chkstop


def as_lszcrypt(ctl, lz):
    """ctl's normal form with "checkstop" read as an older lszcrypt reads
    it ("offline") wherever lszcrypt said "offline" for that device."""
    out = {}
    for k, v in ctl.items():
        if v["state"] == "checkstop" and lz.get(k, {}).get("state") == "offline":
            v = dict(v, state="offline")
        out[k] = v
    return out


def description_chkstop(x):
    """Card IDs and APQNs the description makes check-stopped."""
    out = set()
    for apid, c in x["cards"].items():
        if c["state"] == "chkstop":
            out.add("%02x" % apid)
    for c, q in mkfixture.all_queues(x):
        if c["state"] == "chkstop":
            out.add("%02x.%04x" % (q["apid"], q["apqi"]))
    return out


def diff(a, b, an, bn):
    out = []
    for k in sorted(set(a) | set(b)):
        if k not in a:
            out.append("%s: only %s lists it: %s" % (k, bn, b[k]))
        elif k not in b:
            out.append("%s: only %s lists it: %s" % (k, an, a[k]))
        elif a[k] != b[k]:
            out.append("%s: %s says %s, %s says %s" % (k, an, a[k], bn, b[k]))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--lszcrypt", default="")
    ap.add_argument("--ctl")
    ap.add_argument("--wrapper", default="")
    o = ap.parse_args()

    if not o.lszcrypt.strip():
        print("1..0 # SKIP no lszcrypt: configure with -Dlszcrypt=CMD "
              "(./run sysroot writes build/lszcrypt)")
        print("SKIP: oracle %s: no lszcrypt given" % o.host, file=sys.stderr)
        return 0  # the plan "1..0 # SKIP" makes it a skip
    lsz = shlex.split(o.lszcrypt)
    wrap = json.loads(o.wrapper) if o.wrapper else []

    t = Tap()
    hostfile = os.path.join(mkfixture.HOSTS_DIR, o.host + ".json")
    x = mkfixture.expand(mkfixture.load_host(hostfile))
    model = mkfixture.model(x)
    if not t.ok(len(model["queues"]) > 0, "%s: the fixture has queues" % o.host,
                "a fixture without queues proves nothing"):
        return t.done()

    tmp = scratch_dir()
    try:
        tree = os.path.join(tmp, o.host)
        mkfixture.write_tree(x, tree)
        env = {"SYSFS_ROOT": tree}

        # 1. lszcrypt -V against the description
        rc, out, err = run(lsz + ["-V"], env)
        ok = t.ok(rc == 0 and out.strip() != "",
                  "%s: lszcrypt -V runs and prints a table" % o.host,
                  "exit %d\nstdout:\n%s\nstderr:\n%s" % (rc, out, err))
        lz_adapters = lz_queues = lz_card_drivers = None
        if ok:
            try:
                lz_adapters, lz_queues, lz_card_drivers = parse_lszcrypt_v(out)
                t.ok(len(lz_queues) == len(model["queues"]) and len(lz_queues) > 0,
                     "%s: lszcrypt -V lists all %d queues" % (o.host, len(model["queues"])),
                     "lszcrypt listed %d queues:\n%s" % (len(lz_queues), out))
                t.ok(lz_adapters == model["adapters"],
                     "%s: lszcrypt sees the adapters as described (%d)" % (o.host, len(lz_adapters)),
                     diff(model["adapters"], lz_adapters, "description", "lszcrypt"))
                t.ok(lz_queues == model["queues"],
                     "%s: lszcrypt sees the queues as described (state, driver)" % o.host,
                     diff(model["queues"], lz_queues, "description", "lszcrypt"))
            except ValueError as e:
                t.ok(False, "%s: lszcrypt -V output parses" % o.host, e)

        # non-verbose lszcrypt lists only what zcrypt drives
        rc, out, err = run(lsz, env)
        want = sorted(k for k, v in model["queues"].items() if v["driver"] == "cex4queue")
        got = sorted(l.split()[0] for l in out.splitlines()[2:] if "." in l.split()[0])
        t.ok(rc == 0 and got == want,
             "%s: plain lszcrypt lists the %d queues cex4queue drives" % (o.host, len(want)),
             "exit %d, listed %s, want %s\n%s" % (rc, got, want, err))

        # 2. bus attributes and domain masks
        rc, out, err = run(lsz + ["-b"], env)
        h = x["host"]
        want_b = ["ap_domain=%#x" % h.get("ap_domain", x["usage"][0] if x["usage"] else -1),
                  "ap_max_domain_id=%#x" % x["max_d"]]
        t.ok(rc == 0 and all(w in out.splitlines() for w in want_b),
             "%s: lszcrypt -b reads ap_domain and ap_max_domain_id" % o.host,
             "exit %d, want lines %s in:\n%s%s" % (rc, want_b, out, err))
        rc, out, err = run(lsz + ["-d"], env)
        try:
            usage, control = parse_lszcrypt_d(out)
            t.ok(rc == 0 and usage == x["usage"] and control == x["control"],
                 "%s: lszcrypt -d reads the usage and control domain masks" % o.host,
                 "usage %s want %s; control %s want %s" % (usage, x["usage"], control, x["control"]))
        except ValueError as e:
            t.ok(False, "%s: lszcrypt -d output parses" % o.host, "%s\n%s" % (e, err))

        # 3. apmatrix-ctl list --json against lszcrypt
        if o.ctl and lz_queues is not None:
            rc, out, err = run(wrap + [o.ctl, "list", "--json"], {"APMATRIX_SYSFS_ROOT": tree})
            doc = None
            if t.ok(rc == 0, "%s: apmatrix-ctl list --json runs" % o.host,
                    "exit %d\nstderr:\n%s" % (rc, err)):
                try:
                    doc = json.loads(out)
                except ValueError as e:
                    t.ok(False, "%s: apmatrix-ctl list --json prints JSON" % o.host, "%s\n%s" % (e, out))
            if doc is not None:
                try:
                    ca, cq, cdrv, cchk = ctl_normal(doc)
                except (ValueError, KeyError, TypeError) as e:
                    t.ok(False, "%s: apmatrix-ctl list --json has the documented shape" % o.host,
                         "%r\n%s" % (e, json.dumps(doc, indent=1)[:3000]))
                    return t.done()
                ca = as_lszcrypt(ca, lz_adapters)
                cq = as_lszcrypt(cq, lz_queues)
                t.ok(ca == lz_adapters,
                     "%s: apmatrix-ctl and lszcrypt agree on the adapters" % o.host,
                     diff(lz_adapters, ca, "lszcrypt", "apmatrix-ctl"))
                t.ok(cdrv == lz_card_drivers,
                     "%s: apmatrix-ctl and lszcrypt agree on the card drivers" % o.host,
                     diff(lz_card_drivers, cdrv, "lszcrypt", "apmatrix-ctl"))
                t.ok(cq == lz_queues,
                     "%s: apmatrix-ctl and lszcrypt agree on the queues (state from "
                     "config, chkstop, online; driver)" % o.host,
                     diff(lz_queues, cq, "lszcrypt", "apmatrix-ctl"))
                want_chk = description_chkstop(x)
                t.ok(cchk == want_chk,
                     "%s: apmatrix-ctl's chkstop flags are the description's (%d)"
                     % (o.host, len(want_chk)),
                     "apmatrix-ctl %s, description %s" % (sorted(cchk), sorted(want_chk)))
                t.ok(doc.get("max_domain_id") == x["max_d"] and doc.get("max_adapter_id") == x["max_a"],
                     "%s: apmatrix-ctl reads ap_max_adapter_id/ap_max_domain_id" % o.host,
                     "got %s/%s, want %s/%s" % (doc.get("max_adapter_id"), doc.get("max_domain_id"),
                                                x["max_a"], x["max_d"]))
        elif not o.ctl:
            print("# apmatrix-ctl not built: only lszcrypt against the description")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
