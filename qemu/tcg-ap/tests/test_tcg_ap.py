#!/usr/bin/env python3
"""Tests of the TCG AP emulation (qemu/tcg-ap) in qemu-system-s390x.

A bare-metal guest (apguest.S) runs a table of AP instructions (PQAP, NQAP,
DQAP, also CHSC and STFLE) and records registers, condition code and program
interruption code of each; the test reads the records with QMP pmemsave and
asserts them against what the architecture (as Linux 6.12's
arch/s390/include/asm/ap.h uses it) says, and the per-queue counters of
query-ap-queues against the instructions the guest issued. QMP changes of
the configuration (ap-set-adapter-state, ap-set-domain-state) are made
before the guest starts and must show in TAPQ, QCI and a CHSC SEI event.
Bad s390-ap-host descriptions must stop QEMU with a message naming the bad
part.

usage: test_tcg_ap.py --qemu build/qemu-tcgap/qemu-system-s390x
Output: TAP.
"""

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tests"))
from qmp import Qmp  # noqa: E402  (shared with tests/apbus)
RESULTS = []
# the s390-ccw firmware QEMU IPLs with (package qemu-system-data); the
# Debian source of QEMU has no prebuilt blobs
FIRMWARE = "/usr/share/qemu"

# table entry kinds (apguest.S)
END, PQAP, NQAP, DQAP, PQAP_PROBLEM, CHSC, STFLE = range(7)

FC_TAPQ, FC_RAPQ, FC_ZAPQ, FC_AQIC, FC_QCI, FC_QACT = range(6)
T_BIT = 1 << 23
F_BIT = 1 << 22

PGM_OPERATION = 0x01
PGM_PRIVILEGED = 0x02
PGM_SPECIFICATION = 0x06

GR1_HIGH = 0xdead_beef_0000_0000    # must survive: the APQSW is bits 32-63
GR2_MARK = 0x0123_4567_89ab_cdef

QCI_ADDR = 0x40000
CHSC_ADDR = 0x50000
STFLE_ADDR = 0x60000

HOST = ("adapters=05:cex8c+06:cex8a+07:cex8p+08:cex7c,usage-domains=04-06,"
        "control-domains=0b,stuck-reset=05.0006,reset-tapqs=2")

# TAPQ GR2 bits 0-31 per type (MEX4K CRT4K, then D/A/X, APXA)
FAC_C = 0x40000000 | 0x20000000 | 0x10000000 | 0x02000000
FAC_A = 0x40000000 | 0x20000000 | 0x08000000 | 0x02000000
FAC_P = 0x04000000 | 0x02000000


def check(name, cond, detail=""):
    RESULTS.append((name, bool(cond), detail))


def info(ap_type, fac, nd=0xff, qd=7):
    return fac << 32 | ap_type << 24 | nd << 16 | qd


def apqn(a, d):
    return a << 8 | d


class Guest:
    """One run of apguest on a table; gives results and QMP."""

    def __init__(self, qemu, elf, host, table, blobs=(), cpu="max",
                 before=None):
        self.tmp = tempfile.TemporaryDirectory()
        t = self.tmp.name
        tab = os.path.join(t, "table.bin")
        with open(tab, "wb") as f:
            for e in table:
                e = list(e) + [0] * (8 - len(e))
                f.write(struct.pack(">8Q", *[v & (2**64 - 1) for v in e]))
            f.write(bytes(64))
        args = [qemu, "-L", FIRMWARE, "-M", "s390-ccw-virtio", "-cpu", cpu, "-m", "64",
                "-nodefaults", "-display", "none", "-S",
                "-action", "panic=pause", "-kernel", elf,
                "-device", f"loader,file={tab},addr=0x20000,force-raw=on",
                "-qmp", f"unix:{t}/qmp,server=on,wait=off"]
        for i, (addr, data) in enumerate(blobs):
            p = os.path.join(t, f"blob{i}")
            with open(p, "wb") as f:
                f.write(data)
            args += ["-device", f"loader,file={p},addr={addr:#x},force-raw=on"]
        if host is not None:
            args += ["-object", f"s390-ap-host,id=aphost,{host}"]
        self.n = len(table)
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        self.qmp = Qmp(f"{t}/qmp", connect_s=10)
        if before:
            before(self.qmp)
        self.qmp.cmd("cont")
        for _ in range(400):
            st = self.qmp.cmd("query-status")["status"]
            if st != "running":
                break
            time.sleep(0.025)
        self.status = st

    def mem(self, addr, size):
        p = os.path.join(self.tmp.name, f"mem{addr:x}")
        self.qmp.cmd("pmemsave", val=addr, size=size, filename=p)
        with open(p, "rb") as f:
            return f.read()

    def results(self):
        raw = self.mem(0x30000, 64 * self.n)
        return [struct.unpack(">8Q", raw[i * 64:(i + 1) * 64])
                for i in range(self.n)]

    def close(self):
        try:
            self.qmp.cmd("quit")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.tmp.cleanup()


def sw(gr1):
    """(E bit, response code) of the APQSW in GR1 bits 32-63."""
    return (gr1 >> 31) & 1, (gr1 >> 16) & 0xff


def expect(name, r, cc=None, rc=None, e=None, gr2=None, pgm=0):
    gr0, gr1, g2, got_cc, got_pgm, gr6, gr7, mark = r
    cc_s = -1 if got_cc == 2**64 - 1 else got_cc
    ok = mark == 0x600d and got_pgm == pgm
    detail = (f"cc={cc_s} pgm={got_pgm:#x} gr1={gr1:#018x} gr2={g2:#018x}"
              f" mark={mark:#x}")
    if pgm == 0:
        ok = ok and cc_s == cc
        if rc is not None:
            ok = ok and sw(gr1)[1] == rc and (gr1 >> 32) == (GR1_HIGH >> 32)
        if e is not None:
            ok = ok and sw(gr1)[0] == e
        if gr2 is not None:
            ok = ok and g2 == gr2
    check(name, ok, detail)


def tapq(a, d, t=True):
    return (PQAP, (FC_TAPQ << 24) | (T_BIT if t else 0) | apqn(a, d),
            GR1_HIGH, GR2_MARK)


def pqap(fc, a=5, d=4, extra=0, gr2=GR2_MARK):
    return (PQAP, (fc << 24) | extra | apqn(a, d), GR1_HIGH, gr2)


def msg(kind, a, d):
    # GR4/5 psmid, GR6/7 message address and length
    return (kind, apqn(a, d) | (0x40000000 if kind == NQAP else 0x80000000),
            GR1_HIGH, 0, 0x1234, 0x5678, 0x70000, 256)


def chsc_sei_block():
    # length 16, code 0x000e (store event information), ntsm: nt0 and nt2
    return struct.pack(">HHIQ", 16, 0x000E, 0, (1 << 63) | (1 << 61))


def mask_bits(block):
    return [i for i in range(len(block) * 8) if block[i // 8] & (0x80 >> (i % 8))]


def phase_static(qemu, elf):
    table = [
        tapq(5, 4), tapq(6, 4), tapq(7, 4), tapq(8, 5),          # 0-3
        tapq(5, 7), tapq(9, 4),                                  # 4-5
        pqap(FC_ZAPQ), tapq(5, 4), tapq(5, 4), tapq(5, 4),       # 6-9
        pqap(FC_RAPQ, 6, 4, F_BIT), tapq(6, 4), tapq(6, 4),      # 10-12
        tapq(6, 4),                                              # 13
        pqap(FC_ZAPQ, 5, 6), tapq(5, 6), tapq(5, 6), tapq(5, 6),  # 14-17
        pqap(FC_QCI, gr2=QCI_ADDR),                              # 18
        pqap(FC_QCI, gr2=QCI_ADDR + 4),                          # 19
        pqap(FC_AQIC), pqap(FC_QACT), pqap(7), pqap(8),          # 20-23
        pqap(FC_TAPQ, extra=1 << 16),                            # 24
        pqap(FC_RAPQ, extra=T_BIT), pqap(FC_TAPQ, extra=F_BIT),  # 25-26
        msg(NQAP, 5, 5), msg(DQAP, 5, 5),                        # 27-28
        msg(NQAP, 9, 4), msg(DQAP, 9, 4),                        # 29-30
        (PQAP_PROBLEM,) + tapq(5, 4)[1:],                        # 31
        (STFLE, 3, 0, STFLE_ADDR),                               # 32
        tapq(5, 4, t=False),                                     # 33
        (CHSC, 0, 0, CHSC_ADDR),                                 # 34
    ]
    g = Guest(qemu, elf, HOST, table, blobs=[(CHSC_ADDR, chsc_sei_block())])
    try:
        check("static: guest ran to its disabled wait",
              g.status == "guest-panicked", g.status)
        r = g.results()
        expect("TAPQ(T) 05.0004 CEX8C: rc 00, E, APFT info", r[0], cc=0,
               rc=0, e=1, gr2=info(14, FAC_C))
        expect("TAPQ(T) 06.0004 CEX8A: accelerator info", r[1], cc=0, rc=0,
               gr2=info(14, FAC_A))
        expect("TAPQ(T) 07.0004 CEX8P: EP11 info", r[2], cc=0, rc=0,
               gr2=info(14, FAC_P))
        expect("TAPQ(T) 08.0005 CEX7C: type 13", r[3], cc=0, rc=0,
               gr2=info(13, FAC_C))
        expect("TAPQ 05.0007 (domain not in config): rc 01, GR2 untouched",
               r[4], cc=3, rc=1, e=0, gr2=GR2_MARK)
        expect("TAPQ 09.0004 (no adapter): rc 01", r[5], cc=3, rc=1, e=0,
               gr2=GR2_MARK)
        expect("ZAPQ 05.0004: rc 00", r[6], cc=0, rc=0, e=1)
        expect("TAPQ after ZAPQ (1 of reset-tapqs=2): rc 02", r[7], cc=3,
               rc=2, e=1, gr2=info(14, FAC_C))
        expect("TAPQ after ZAPQ (2 of 2): rc 02", r[8], cc=3, rc=2)
        expect("TAPQ after ZAPQ (3rd): reset done, rc 00", r[9], cc=0, rc=0)
        expect("RAPQ(F) 06.0004: rc 00", r[10], cc=0, rc=0)
        expect("TAPQ after RAPQ: rc 02", r[11], cc=3, rc=2)
        expect("TAPQ after RAPQ (2 of 2): rc 02", r[12], cc=3, rc=2)
        expect("TAPQ after RAPQ (3rd): rc 00", r[13], cc=0, rc=0)
        expect("ZAPQ 05.0006 (stuck-reset): rc 00", r[14], cc=0, rc=0)
        for i in (15, 16, 17):
            expect(f"TAPQ stuck queue, #{i - 14}: still rc 02", r[i], cc=3,
                   rc=2)
        expect("QCI: cc 0, GR1 and GR2 untouched", r[18], cc=0)
        check("QCI: GR1 untouched", r[18][1] == GR1_HIGH, hex(r[18][1]))
        check("QCI: GR2 untouched", r[18][2] == QCI_ADDR, hex(r[18][2]))
        qci = g.mem(QCI_ADDR, 128)
        check("QCI block: flags N (APXA) only, na ff, nd ff",
              qci[0:6] == bytes([0x40, 0, 0, 0, 0xff, 0xff]), qci[:8].hex())
        check("QCI block: apm = 05 06 07 08", mask_bits(qci[16:48]) ==
              [5, 6, 7, 8], mask_bits(qci[16:48]))
        check("QCI block: aqm = 04 05 06", mask_bits(qci[48:80]) == [4, 5, 6],
              mask_bits(qci[48:80]))
        check("QCI block: adm = usage + control = 04 05 06 0b",
              mask_bits(qci[80:112]) == [4, 5, 6, 11], mask_bits(qci[80:112]))
        expect("QCI, block not doubleword aligned: specification", r[19],
               pgm=PGM_SPECIFICATION)
        expect("AQIC without facility 65: specification", r[20],
               pgm=PGM_SPECIFICATION)
        expect("QACT without the QCI C bit: specification", r[21],
               pgm=PGM_SPECIFICATION)
        expect("PQAP fc 7 (BAPQ, SE only): specification", r[22],
               pgm=PGM_SPECIFICATION)
        expect("PQAP fc 8 (AAPQ, SE only): specification", r[23],
               pgm=PGM_SPECIFICATION)
        expect("TAPQ with a reserved GR0 bit: specification", r[24],
               pgm=PGM_SPECIFICATION)
        expect("RAPQ with the T bit: specification", r[25],
               pgm=PGM_SPECIFICATION)
        expect("TAPQ with the F bit: specification", r[26],
               pgm=PGM_SPECIFICATION)
        expect("NQAP 05.0005: refused rc 16, nothing pending", r[27], cc=3,
               rc=0x16, e=1)
        check("NQAP: message registers untouched",
              r[27][5] == 0x70000 and r[27][6] == 256, r[27])
        expect("DQAP 05.0005: rc 10 (no reply pending), E", r[28], cc=3,
               rc=0x10, e=1)
        expect("NQAP 09.0004: rc 01", r[29], cc=3, rc=1)
        expect("DQAP 09.0004: rc 01", r[30], cc=3, rc=1)
        expect("PQAP in the problem state: privileged operation", r[31],
               pgm=PGM_PRIVILEGED)
        fac = g.mem(STFLE_ADDR, 32)
        bits = set(mask_bits(fac))
        check("STFLE: 12 (QCI) and 15 (APFT) on, 65 (AP interrupts) off",
              12 in bits and 15 in bits and 65 not in bits, sorted(bits)[:40])
        expect("TAPQ without T: rc 00", r[33], cc=0, rc=0)
        resp = g.mem(CHSC_ADDR + 16, 16)
        code = struct.unpack(">H", resp[2:4])[0]
        check("CHSC SEI before any change: no event (response code 5)",
              code == 5, resp.hex())

        qs = {q["apqn"]: q for q in g.qmp.cmd("query-ap-queues")}
        check("query-ap-queues: 4 adapters x 3 domains", len(qs) == 12,
              sorted(qs))
        q = qs.get("05.0004", {})
        check("counters 05.0004: tapq 5, zapq 1, rapq 0",
              (q.get("tapq"), q.get("zapq"), q.get("rapq")) == (5, 1, 0), q)
        q = qs.get("06.0004", {})
        check("counters 06.0004: tapq 4, rapq 1",
              (q.get("tapq"), q.get("rapq")) == (4, 1), q)
        q = qs.get("05.0006", {})
        check("stuck 05.0006: zapq 1, tapq 3, reset pending, rc 2",
              (q.get("zapq"), q.get("tapq"), q.get("reset-pending"),
               q.get("response-code")) == (1, 3, True, 2), q)
        q = qs.get("05.0005", {})
        check("counters 05.0005: nqap 1, dqap 1",
              (q.get("nqap"), q.get("dqap")) == (1, 1), q)
        check("query-ap-queues: type and state",
              qs.get("08.0004", {}).get("type") == "CEX7C" and
              qs.get("08.0004", {}).get("adapter-state") == "online",
              qs.get("08.0004"))
    finally:
        g.close()


def phase_changes(qemu, elf):
    def before(qmp):
        qmp.cmd("ap-set-adapter-state", adapter=6, state="config-off")
        qmp.cmd("ap-set-adapter-state", adapter=7, state="checkstop")
        qmp.cmd("ap-set-adapter-state", adapter=8, state="removed")
        qmp.cmd("ap-set-domain-state", domain=5, state="removed")
        r = qmp.raw("ap-set-adapter-state", adapter=9, state="removed")
        check("QMP: unknown adapter refused, named",
              "adapter 09 is not" in r.get("error", {}).get("desc", ""), r)
        r = qmp.raw("ap-set-domain-state", domain=7, state="removed")
        check("QMP: unknown domain refused, named",
              "domain 07 is not" in r.get("error", {}).get("desc", ""), r)

    table = [
        tapq(6, 4), pqap(FC_ZAPQ, 6, 4), tapq(7, 4), tapq(8, 4),  # 0-3
        tapq(5, 5), tapq(5, 4),                                   # 4-5
        pqap(FC_QCI, gr2=QCI_ADDR),                               # 6
        (CHSC, 0, 0, CHSC_ADDR), (CHSC, 0, 0, CHSC_ADDR + 0x1000),  # 7-8
        msg(NQAP, 6, 4), msg(DQAP, 7, 4),                         # 9-10
    ]
    g = Guest(qemu, elf, HOST, table, before=before,
              blobs=[(CHSC_ADDR, chsc_sei_block()),
                     (CHSC_ADDR + 0x1000, chsc_sei_block())])
    try:
        r = g.results()
        expect("config-off adapter: TAPQ rc 03 with info", r[0], cc=3, rc=3,
               e=1, gr2=info(14, FAC_A))
        expect("config-off adapter: ZAPQ rc 03", r[1], cc=3, rc=3)
        expect("checkstopped adapter: TAPQ rc 04 with info", r[2], cc=3,
               rc=4, gr2=info(14, FAC_P))
        expect("removed adapter: TAPQ rc 01", r[3], cc=3, rc=1,
               gr2=GR2_MARK)
        expect("removed domain: TAPQ rc 01", r[4], cc=3, rc=1)
        expect("untouched queue still rc 00", r[5], cc=0, rc=0)
        qci = g.mem(QCI_ADDR, 128)
        check("QCI after changes: apm 05 06 07 (removed 08 gone, "
              "config-off and checkstop stay)",
              mask_bits(qci[16:48]) == [5, 6, 7], mask_bits(qci[16:48]))
        check("QCI after changes: aqm 04 06", mask_bits(qci[48:80]) == [4, 6],
              mask_bits(qci[48:80]))
        check("QCI after changes: adm 04 06 0b",
              mask_bits(qci[80:112]) == [4, 6, 11], mask_bits(qci[80:112]))
        expect("CHSC SEI: cc 0", r[7], cc=0)
        resp = g.mem(CHSC_ADDR + 16, 16)
        code, nt, rs, cc = (struct.unpack(">H", resp[2:4])[0], resp[7],
                            resp[10], resp[11])
        check("CHSC SEI after the changes: AP configuration-changed event "
              "(code 1, nt 0, rs 5, cc 3), no more pending",
              (code, nt, rs, cc) == (1, 0, 5, 3) and not resp[8] & 0x80,
              resp.hex())
        resp = g.mem(CHSC_ADDR + 0x1000 + 16, 16)
        check("CHSC SEI again: the event was taken once (code 5)",
              struct.unpack(">H", resp[2:4])[0] == 5, resp.hex())
        expect("NQAP on a config-off adapter: rc 03", r[9], cc=3, rc=3)
        expect("DQAP on a checkstopped adapter: rc 04", r[10], cc=3, rc=4)
        qs = {q["apqn"]: q for q in g.qmp.cmd("query-ap-queues")}
        check("query-ap-queues shows the states",
              qs["06.0004"]["adapter-state"] == "config-off" and
              qs["08.0004"]["adapter-state"] == "removed" and
              qs["08.0004"]["response-code"] == 1 and
              qs["05.0005"]["response-code"] == 1, qs["06.0004"])
    finally:
        g.close()


def phase_none(qemu, elf):
    table = [(STFLE, 3, 0, STFLE_ADDR), tapq(5, 4)]
    g = Guest(qemu, elf, None, table)
    try:
        r = g.results()
        bits = set(mask_bits(g.mem(STFLE_ADDR, 32)))
        check("no s390-ap-host: STFLE 12 and 15 off",
              12 not in bits and 15 not in bits, sorted(bits)[:40])
        expect("no s390-ap-host: PQAP is an operation exception", r[1],
               pgm=PGM_OPERATION)
        e = g.qmp.raw("query-ap-queues")
        check("no s390-ap-host: query-ap-queues says why",
              "no AP configuration" in e.get("error", {}).get("desc", ""), e)
    finally:
        g.close()


def refused(qemu, args, needle, name):
    p = subprocess.run([qemu, "-L", FIRMWARE, "-M", "s390-ccw-virtio",
                        "-nodefaults",
                        "-display", "none", "-S"] + args,
                       capture_output=True, text=True, timeout=60)
    check(name, p.returncode != 0 and needle in p.stderr, p.stderr.strip())


def phase_refusals(qemu):
    o = ["-object"]
    refused(qemu, ["-cpu", "qemu,ap=on"], "ap",
            "no s390-ap-host: the CPU model's ap feature is refused")
    refused(qemu, o + ["s390-ap-host,id=a"], "'adapters' is missing",
            "s390-ap-host without adapters refused")
    refused(qemu, o + ["s390-ap-host,id=a,adapters=05:cex9c"], "'cex9c'",
            "bad adapter type named")
    refused(qemu, o + ["s390-ap-host,id=a,adapters=zz:cex8c"], "'zz'",
            "bad adapter ID named")
    refused(qemu, o + ["s390-ap-host,id=a,adapters=05"], "'05' is not ID:TYPE",
            "adapter without type named")
    refused(qemu, o + ["s390-ap-host,id=a,adapters=05:cex8c+05:cex8a"],
            "adapter 05 is given twice", "duplicate adapter named")
    refused(qemu, o + ["s390-ap-host,id=a,adapters=05:cex8c,"
                       "usage-domains=04-zz"], "'04-zz'",
            "bad domain range named")
    refused(qemu, o + ["s390-ap-host,id=a,adapters=05:cex8c,"
                       "usage-domains=06-04"], "ends before it starts",
            "reversed range named")
    refused(qemu, o + ["s390-ap-host,id=a,adapters=05:cex8c,max-domain=0x0f,"
                       "usage-domains=10"], "'10'",
            "domain above max-domain named")
    refused(qemu, o + ["s390-ap-host,id=a,adapters=05:cex8c,"
                       "usage-domains=04,stuck-reset=05.0005"],
            "queue 05.0005 is not in the configuration",
            "stuck-reset outside the configuration named")
    refused(qemu, o + ["s390-ap-host,id=a,adapters=05:cex8c",
                       "-object", "s390-ap-host,id=b,adapters=06:cex8c"],
            "only one", "a second s390-ap-host refused")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--elf", help="apguest ELF (built from apguest.S if "
                    "not given)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        elf = a.elf
        if not elf:
            obj, elf = os.path.join(t, "g.o"), os.path.join(t, "apguest.elf")
            subprocess.run(["s390x-linux-gnu-as", "-m64", "-o", obj,
                            os.path.join(HERE, "apguest.S")], check=True)
            subprocess.run(["s390x-linux-gnu-ld", "-Ttext=0x10000", "-e",
                            "_start", "-o", elf, obj], check=True)
        for phase in (lambda: phase_static(a.qemu, elf),
                      lambda: phase_changes(a.qemu, elf),
                      lambda: phase_none(a.qemu, elf),
                      lambda: phase_refusals(a.qemu)):
            try:
                phase()
            except Exception as e:  # a phase that breaks is a failure
                check(f"phase ran ({e!r})", False)
    print(f"1..{len(RESULTS)}")
    failed = 0
    for i, (name, ok, detail) in enumerate(RESULTS, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {name}")
        if not ok:
            failed += 1
            for line in str(detail).splitlines() or [""]:
                print(f"#   {line}")
    print(f"# {len(RESULTS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
