#!/usr/bin/env python3
"""Tests of the ap-matrix device in qemu-system-s390x (qemu/patches).

Run by `qemu/build.sh test` on the native build (TCG).  Without a KVM the
device is refused at realize, so the rest of its life (set, reset on every
s390 reset path, GET and reconciliation, migration blocker, QMP/HMP, events)
runs against the simulated host (sim/apsimd, the real ap_matrix.c): the test
makes a VM there and hands its fd to the device's test-only x-vm-fd, and
QEMU runs with sim/libapsim-preload.so.  The KVM-only part (the checks of
accelerator and CPU model, APIE, vfio-ap next to ap-matrix) runs only on an
s390x host with /dev/kvm (see kvm_tests()).

The messages are asserted exactly.  Those that come from libapmatrix (the
parse errors) are asked from the same libapmatrix.so QEMU runs with (ctypes),
and each is checked to name the bad part of the text, so the test fails if
QEMU loses, changes or wraps the library's message, or if the library's
message stops naming what is wrong.
"""

import argparse
import ctypes
import json
import os
import platform
import re
import select
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time

PROG = "qemu-system-s390x"
PASSED = []
FAILED = []


def check(name, cond, detail=""):
    if cond:
        PASSED.append(name)
        print(f"ok   {name}")
    else:
        FAILED.append(name)
        print(f"FAIL {name}")
        if detail:
            for line in detail.rstrip("\n").split("\n"):
                print(f"     {line}")


class Lib:
    """The parse half of libapmatrix, to know its exact messages."""

    def __init__(self, path):
        lib = ctypes.CDLL(path)
        vp = ctypes.c_void_p
        lib.apmatrix_ctx_new.restype = vp
        lib.apmatrix_ctx_free.argtypes = [vp]
        lib.apmatrix_matrix_new.restype = vp
        lib.apmatrix_matrix_free.argtypes = [vp]
        lib.apmatrix_ctx_last_error.restype = ctypes.c_char_p
        lib.apmatrix_ctx_last_error.argtypes = [vp]
        lib.apmatrix_matrix_parse_apqns.argtypes = [vp, vp, ctypes.c_char_p, vp]
        lib.apmatrix_matrix_parse_ids.argtypes = [vp, vp, ctypes.c_int,
                                                  ctypes.c_char_p]
        self.lib = lib

    def _parse(self, fn):
        ctx = self.lib.apmatrix_ctx_new()
        m = self.lib.apmatrix_matrix_new()
        try:
            ret = fn(ctx, m)
            msg = self.lib.apmatrix_ctx_last_error(ctx).decode()
            return ret, msg
        finally:
            self.lib.apmatrix_matrix_free(m)
            self.lib.apmatrix_ctx_free(ctx)

    def apqns_error(self, text):
        return self._parse(lambda c, m: self.lib.apmatrix_matrix_parse_apqns(
            c, m, text.encode(), None))

    def ids_error(self, text):
        # APMATRIX_CONTROL_DOMAINS = 2
        return self._parse(lambda c, m: self.lib.apmatrix_matrix_parse_ids(
            c, m, 2, text.encode()))


class Qemu:
    def __init__(self, binary, bios, wrapper=()):
        self.binary = list(wrapper) + [binary]
        self.base = self.binary + ["-machine", "s390-ccw-virtio,accel=tcg",
                     "-nodefaults", "-S", "-display", "none", "-bios", bios]

    def run(self, *args, base=True, timeout=60):
        argv = (self.base if base else self.binary) + list(args)
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr


class Qmp:
    """QMP over stdio of a qemu-system-s390x started with -qmp stdio."""

    def __init__(self, qemu, *args, env=None, pass_fds=(), base=None,
                 **popen):
        argv = (base or qemu.base) + ["-qmp", "stdio"] + list(args)
        self.events = []
        self.errf = tempfile.TemporaryFile(mode="w+")
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=self.errf,
                                  text=True, env=env, pass_fds=pass_fds,
                                  **popen)
        self.buf = b""
        self.greeting = self._read()
        self.cmd("qmp_capabilities")

    def stderr(self):
        self.errf.seek(0)
        return self.errf.read()

    def _line(self, timeout):
        """One line from QEMU, or None at the timeout.  QEMU's stdout is read
        with os.read into our own buffer: select() on a buffered file
        object would not see lines it has already read ahead."""
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if not r:
                return None
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                self.p.wait(timeout=30)
                raise EOFError("QEMU exited: " + self.stderr())
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)

    def _read(self, timeout=60):
        while True:
            msg = self._line(timeout)
            if msg is None:
                raise TimeoutError("no answer from QMP")
            if "event" not in msg:
                return msg
            self.events.append(msg)

    def cmd(self, name, **arguments):
        req = {"execute": name}
        if arguments:
            req["arguments"] = arguments
        self.p.stdin.write(json.dumps(req) + "\n")
        self.p.stdin.flush()
        return self._read()

    def hmp(self, line):
        return self.cmd("human-monitor-command",
                        **{"command-line": line}).get("return")

    def wait_event(self, name, timeout=30):
        """The first event NAME not yet taken, waiting for it."""
        end = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name:
                    return self.events.pop(i)
            left = end - time.monotonic()
            if left <= 0:
                return None
            msg = self._line(left)
            if msg is None:
                return None
            if "event" in msg:
                self.events.append(msg)

    def close(self):
        try:
            self.cmd("quit")
        except (EOFError, BrokenPipeError, TimeoutError):
            pass
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def opt(text):
    """A value in -device's key=value syntax: a comma is written ",,"."""
    return text.replace(",", ",,")


def refused(qemu, name, device, message):
    """-device DEVICE must make QEMU exit 1 printing exactly MESSAGE."""
    rc, out, err = qemu.run("-device", device)
    want = f"{PROG}: -device {device}: {message}\n"
    check(name, rc == 1 and err == want,
          f"exit {rc}\nstderr: {err!r}\nwanted: {want!r}")


def help_tests(qemu):
    rc, out, err = qemu.run("-device", "ap-matrix,help", base=False)
    want_apqns = ("  apqns=<string>         - usage APQNs in lszcrypt notation "
                  "(05.0004,05-07.0004-0007); settable at run time")
    want_cdoms = ("  control-domains=<string> - control domains as hex IDs "
                  "(04,06-07); settable at run time")
    lines = out.split("\n")
    check("help: -device ap-matrix,help exits 0", rc == 0, f"exit {rc}\n{err}")
    check("help: lists apqns", want_apqns in lines, out)
    check("help: lists control-domains", want_cdoms in lines, out)
    check("help: first line", lines[0] == "ap-matrix options:", out)

    rc, out, err = qemu.run("-device", "help", base=False)
    want = ('name "ap-matrix", desc "AP queues for a KVM guest '
            '(KVM_S390_VM_CRYPTO_SET_AP_MATRIX)"')
    check("help: -device help lists ap-matrix with its description",
          rc == 0 and want in out.split("\n"), out)


def parse_tests(qemu, lib):
    # (APQN text, a part the library's message must name)
    for text, part in [("05.00zz", "00zz"),
                       ("0x.0004", "0x"),
                       ("05", "05"),
                       ("100.0004", "100"),
                       ("05.0004,06.0005", "05.0005,06.0004"),
                       ("05.0004,", ",")]:
        ret, msg = lib.apqns_error(text)
        check(f"parse: libapmatrix refuses apqns={text}",
              ret < 0 and part in msg, f"ret {ret}, message {msg!r}")
        refused(qemu, f"parse: QEMU refuses apqns={text} with the library's message",
                f"ap-matrix,apqns={opt(text)}", f"ap-matrix: apqns: {msg}")

    for text, part in [("zz", "zz"), ("100", "100"), ("04,", ",")]:
        ret, msg = lib.ids_error(text)
        check(f"parse: libapmatrix refuses control-domains={text}",
              ret < 0 and part in msg, f"ret {ret}, message {msg!r}")
        refused(qemu, f"parse: QEMU refuses control-domains={text}",
                f"ap-matrix,apqns=05.0004,control-domains={opt(text)}",
                f"ap-matrix: control-domains: {msg}")

    # JSON -device: lszcrypt lists as they are, no comma doubling
    ret, msg = lib.apqns_error("05.0004,06.0005")
    dev = '{"driver":"ap-matrix","apqns":"05.0004,06.0005"}'
    refused(qemu, "parse: JSON -device, a list that is not adapters x domains",
            dev, f"ap-matrix: apqns: {msg}")
    check("parse: a non-cross-product names the missing APQNs",
          "05.0005,06.0004" in msg, msg)


def tcg_tests(qemu):
    msg = ("ap-matrix: AP queues can only be given to a KVM guest, "
           "not with accelerator tcg")
    refused(qemu, "tcg: a good matrix is refused under TCG",
            "ap-matrix,apqns=05-06.0004-0005,control-domains=04-05", msg)
    refused(qemu, "tcg: a good list (commas doubled) is refused under TCG",
            "ap-matrix,apqns=" + opt("05.0004,05.0005,06.0004,06.0005")
            + ",control-domains=" + opt("04,06-07"), msg)
    refused(qemu, "tcg: a good list (JSON -device) is refused under TCG",
            '{"driver":"ap-matrix","apqns":"05.0004,05.0005",'
            '"control-domains":"04,06"}', msg)
    refused(qemu, "tcg: an empty ap-matrix is refused under TCG",
            "ap-matrix", msg)
    refused(qemu, "tcg: a /sys/bus/ap mask is good text too",
            "ap-matrix,apqns=05.0004,control-domains=0x" + "0" * 63 + "8", msg)


def qmp_tests(qemu):
    q = Qmp(qemu)
    try:
        r = q.cmd("device-list-properties", typename="ap-matrix")
        props = {p["name"]: p for p in r.get("return", [])}
        check("qmp: device-list-properties has apqns (string)",
              props.get("apqns", {}).get("type") == "string", json.dumps(r))
        check("qmp: device-list-properties has control-domains (string)",
              props.get("control-domains", {}).get("type") == "string",
              json.dumps(r))

        r = q.cmd("qom-list-types", implements="ap-device")
        names = sorted(t["name"] for t in r.get("return", []))
        check("qmp: ap-matrix is an ap-device", "ap-matrix" in names,
              json.dumps(r))

        r = q.cmd("device_add", driver="ap-matrix", apqns="05.0004")
        want = "Parameter 'driver' expects a pluggable device type"
        check("qmp: device_add ap-matrix is refused (set apqns with qom-set)",
              r.get("error", {}).get("desc") == want, json.dumps(r))

        r = q.cmd("qom-list", path="/machine/peripheral-anon")
        check("qmp: no ap-matrix device is left behind",
              "return" in r and not any("ap-matrix" in p.get("type", "")
                                        for p in r["return"]), json.dumps(r))
        r = q.cmd("query-ap-matrix")
        check("qmp: query-ap-matrix without the device says so",
              r.get("error", {}).get("desc")
              == "The guest has no ap-matrix device", json.dumps(r))
    finally:
        q.close()


# ---- the simulated host ---------------------------------------------------

HOST = {
    "description": "qemu tests: adapters 02-05 x domains 0000-0003; 02-04 "
                   "bound to apmatrix, 05 kept by the host",
    "ap_domain": 0,
    "ap_max_adapter_id": 255,
    "ap_max_domain_id": 84,
    "usage_domains": "00-03",
    "control_domains": "00-03",
    "apmask_clear": "02-04",
    "cards": [{"ids": "02-05", "type": "CEX8C"}],
    "taken_driver": "apmatrix",
}

KVMIO = 0xAE
KVM_CREATE_VM = (KVMIO << 8) | 0x01
KVM_SET_DEVICE_ATTR = (1 << 30) | (24 << 16) | (KVMIO << 8) | 0xE1


def mask(ids):
    v = 0
    for i in ids:
        v |= 1 << (255 - i)
    return "0x%064x" % v


class SimHost:
    """One apsimd on a fresh fixture tree, and a VM of it for QEMU."""

    def __init__(self, simdir, fixture):
        self.simdir = simdir
        self.dir = tempfile.mkdtemp(prefix="qemu-apsim-")
        self.tree = os.path.join(self.dir, "sys")
        hj = os.path.join(self.dir, "host.json")
        with open(hj, "w") as f:
            json.dump(HOST, f)
        subprocess.run([sys.executable, fixture, "write", hj, self.tree],
                       check=True, stdout=subprocess.DEVNULL)
        self.sock = os.path.join(self.dir, "sock")
        self.env = dict(os.environ)
        self.env.update({"APMATRIX_SIM_SOCKET": self.sock,
                         "APMATRIX_SYSFS_ROOT": self.tree,
                         "APMATRIX_LOCK_FILE": os.path.join(self.dir, "lock")})
        self.env.pop("LD_PRELOAD", None)
        self.log = open(os.path.join(self.dir, "apsimd.log"), "w+")
        self.proc = subprocess.Popen(
            [os.path.join(simdir, "apsimd"), "--reset-interval", "1",
             "--reset-polls", "20", self.tree],
            env=self.env, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "apsimd: ready":
            raise RuntimeError(f"apsimd did not start: {line!r}")
        self.cenv = dict(self.env, LD_PRELOAD=os.path.join(
            simdir, "libapsim-preload.so"))
        os.environ["APMATRIX_SIM_SOCKET"] = self.sock
        self.pre = ctypes.CDLL(os.path.join(simdir, "libapsim-preload.so"),
                               use_errno=True)
        self.pre.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong,
                                   ctypes.c_void_p]
        self.pre.open.argtypes = [ctypes.c_char_p, ctypes.c_int]

        # a simulator on the contract of 2026-12-01 knows this command
        try:
            self.ctl("remove-control-domain", "ff")
            self.eio = True
        except RuntimeError:
            self.eio = False

    def create_vm(self):
        kvm = self.pre.open(b"/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
        if kvm < 0:
            raise OSError(ctypes.get_errno(), "open /dev/kvm")
        vm = self.pre.ioctl(kvm, KVM_CREATE_VM, None)
        e = ctypes.get_errno()
        os.close(kvm)
        if vm < 0:
            raise OSError(e, "KVM_CREATE_VM")
        return vm

    def set_matrix(self, vmfd, apm, aqm, adm):
        """A SET on the VM from outside QEMU, as apmatrix-ctl set does."""
        words = []
        for ids in (apm, aqm, adm):
            v = int(mask(ids), 16)
            words += [(v >> (64 * (3 - i))) & (2**64 - 1) for i in range(4)]
        payload = struct.pack("=12QIi8I", *words, 0, 0, *([0] * 8))
        buf = ctypes.create_string_buffer(payload, len(payload))
        attr = struct.pack("=IIQQ", 0, 2, 6, ctypes.addressof(buf))
        abuf = ctypes.create_string_buffer(attr, len(attr))
        rc = self.pre.ioctl(vmfd, KVM_SET_DEVICE_ATTR, abuf)
        return ctypes.get_errno() if rc < 0 else 0

    def ctl(self, *args):
        r = subprocess.run([os.path.join(self.simdir, "apsimctl")]
                           + list(args), env=self.env, capture_output=True,
                           text=True, timeout=60)
        if r.returncode:
            raise RuntimeError(f"apsimctl {args}: {r.stderr}")
        return dict(line.partition(" ")[::2]
                    for line in r.stdout.splitlines())

    def vm_id(self):
        out = subprocess.run([os.path.join(self.simdir, "apsimctl"), "vms"],
                             env=self.env, capture_output=True, text=True,
                             timeout=60).stdout.split()
        return out[0] if out else None

    def crycb(self):
        c = self.ctl("crycb", self.vm_id())
        return c["apm"], c["aqm"], c["adm"]

    def zaps(self, apqn):
        return int(self.ctl("queue", apqn)["zaps"])

    def close(self):
        try:
            stats = self.ctl("stats")
            self.ctl("quit")
        finally:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.log.seek(0)
            log = self.log.read()
            self.log.close()
            shutil.rmtree(self.dir, ignore_errors=True)
        return stats, log


# s390x code the firmware slot holds (loaded raw at 0x9000, run in 64-bit
# mode): "lghi %r1,0; lghi %r3,SUBCODE; diag %r1,%r3,0x308; j ." resets the
# machine the way a guest does (0: modified clear, as kexec; 1: load normal,
# as kdump and the s390-ccw BIOS; 3: re-IPL); "j ." just runs.
# A load normal (the second half of a modified clear, too) starts the CPU
# from the short PSW at absolute 0, so the code first puts one there that
# points back at itself: "iihf %r2,0x00080000; iilf %r2,0x80009000;
# stg %r2,0".
def diag308_code(subcode):
    return bytes([0xc0, 0x28, 0x00, 0x08, 0x00, 0x00,
                  0xc0, 0x29, 0x80, 0x00, 0x90, 0x00,
                  0xe3, 0x20, 0x00, 0x00, 0x00, 0x24,
                  0xa7, 0x19, 0, 0, 0xa7, 0x39, 0, subcode,
                  0x83, 0x13, 0x03, 0x08, 0xa7, 0xf4, 0, 0])


IDLE_CODE = bytes([0xa7, 0xf4, 0, 0])


class SimQemu:
    """qemu-system-s390x (TCG) with an ap-matrix device on a simulated VM."""

    def __init__(self, qemu, sim, tmp, device, code=IDLE_CODE, args=(),
                 stopped=False):
        self.sim = sim
        bios = os.path.join(tmp, "code.img")
        with open(bios, "wb") as f:
            f.write(code)
        vm = sim.create_vm()
        self.vmfd = os.dup(vm)      # the test's own way into the VM
        base = qemu.binary + ["-machine", "s390-ccw-virtio,accel=tcg",
                              "-nodefaults", "-display", "none", "-m", "128",
                              "-bios", bios] + (["-S"] if stopped else [])
        dev = device.replace("VMFD", str(vm))
        self.qmp = None
        try:
            args = [a.replace("VMFD", str(vm)) for a in args]
            self.qmp = Qmp(qemu, "-device", dev, *args, env=sim.cenv,
                           pass_fds=(vm,), base=base)
        finally:
            os.close(vm)

    def close(self):
        if self.qmp:
            self.qmp.close()
        os.close(self.vmfd)


def start_fails(qemu, sim, tmp, device, args=()):
    """QEMU must refuse DEVICE: its exit code and stderr."""
    vm = sim.create_vm()
    bios = os.path.join(tmp, "code.img")
    with open(bios, "wb") as f:
        f.write(IDLE_CODE)
    argv = qemu.binary + ["-machine", "s390-ccw-virtio,accel=tcg",
                          "-nodefaults", "-display", "none", "-S", "-bios",
                          bios, "-device", device.replace("VMFD", str(vm))]
    argv += list(args)
    try:
        p = subprocess.run(argv, env=sim.cenv, pass_fds=(vm,),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=60)
    finally:
        os.close(vm)
    return p.returncode, p.stderr


def wait_for(fn, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    return fn()


DEV = "ap-matrix,id=ap0,x-vm-fd=VMFD,apqns=02-03.0000-0001,control-domains=01"
APM, AQM, ADM = mask([2, 3]), mask([0, 1]), mask([1])


def sim_case(name, fn, qemu, simdir, fixture):
    """Run fn(qemu, sim, tmp) on a fresh simulated host; the simulator must
    end with no violation (lock order, a queue reaching a guest dirty)."""
    sim = SimHost(simdir, fixture)
    tmp = tempfile.mkdtemp(prefix="qemu-apm-")
    try:
        fn(qemu, sim, tmp)
    except Exception as e:     # a harness failure is a failed case
        check(f"{name}: ran", False, repr(e))
        if os.environ.get("QEMU_TEST_DEBUG"):
            raise
    finally:
        stats, log = sim.close()
        shutil.rmtree(tmp, ignore_errors=True)
        check(f"{name}: the simulator saw no violation",
              stats.get("violations") == "0", log)


def t_set(qemu, sim, tmp):
    q = SimQemu(qemu, sim, tmp, DEV, stopped=True)
    try:
        check("sim: realize gives the guest the matrix",
              sim.crycb() == (APM, AQM, ADM), repr(sim.crycb()))
        want = {"adapters": [2, 3], "domains": [0, 1],
                "control-domains": [1]}
        r = q.qmp.cmd("query-ap-matrix")
        check("sim: query-ap-matrix shows what was asked and what KVM holds",
              r.get("return") == {"qom-path": "/machine/peripheral/ap0",
                                  "requested": want, "assigned": want,
                                  "grant": False}, json.dumps(r))
        r = q.qmp.cmd("qom-get", path="/machine/peripheral/ap0",
                      property="assigned")
        check("sim: the read-only property assigned is KVM's matrix",
              r.get("return") == want, json.dumps(r))
        r = q.qmp.cmd("qom-set", path="/machine/peripheral/ap0",
                      property="assigned", value=want)
        check("sim: assigned cannot be set",
              "error" in r, json.dumps(r))
        out = q.qmp.hmp("info ap-matrix")
        check("sim: info ap-matrix", out ==
              "/machine/peripheral/ap0 (grant: no)\r\n"
              "  requested: apqns 02-03.0000-0001, control domains 0001\r\n"
              "  assigned:  apqns 02-03.0000-0001, control domains 0001\r\n",
              repr(out))

        # a running guest gets a new matrix, typed (no lszcrypt text)
        r = q.qmp.cmd("ap-matrix-set", matrix={
            "adapters": [2, 4], "domains": [3], "control-domains": []})
        check("sim: ap-matrix-set gives a new matrix",
              "return" in r and sim.crycb() ==
              (mask([2, 4]), mask([3]), mask([])), json.dumps(r))
        r = q.qmp.cmd("ap-matrix-set", matrix={
            "adapters": [5], "domains": [0], "control-domains": []})
        err = r.get("error", {}).get("desc", "")
        check("sim: a refused ap-matrix-set names the queue and the rule,"
              " and changes nothing",
              err.startswith("ap-matrix: KVM refused the AP matrix: 05.0000")
              and "EADDRNOTAVAIL" in err
              and sim.crycb() == (mask([2, 4]), mask([3]), mask([])),
              json.dumps(r))
        r = q.qmp.cmd("qom-set", path="/machine/peripheral/ap0",
                      property="apqns", value="03.0001,03.0002")
        check("sim: qom-set apqns on a running guest",
              "return" in r and sim.crycb()[:2] ==
              (mask([3]), mask([1, 2])), json.dumps(r))
        check("sim: QEMU's own changes raise no AP_MATRIX_CHANGED",
              not any(e["event"] == "AP_MATRIX_CHANGED"
                      for e in q.qmp.events), json.dumps(q.qmp.events))
    finally:
        q.close()


def t_typed(qemu, sim, tmp):
    dev = ('{"driver":"ap-matrix","id":"ap0","x-vm-fd":"VMFD",'
           '"matrix":{"adapters":[2,3],"domains":[0,1],'
           '"control-domains":[1]}}')
    q = SimQemu(qemu, sim, tmp, dev, stopped=True)
    try:
        check("sim: JSON -device with typed lists",
              sim.crycb() == (APM, AQM, ADM), repr(sim.crycb()))
    finally:
        q.close()
    rc, err = start_fails(qemu, sim, tmp, dev.replace(
        '"id":"ap0"', '"id":"ap0","apqns":"02.0000"'))
    check("sim: matrix and apqns together are refused",
          rc == 1 and err.endswith("ap-matrix: give either matrix or"
                                   " apqns/control-domains, not both\n"),
          err)


def t_second(qemu, sim, tmp):
    rc, err = start_fails(qemu, sim, tmp, DEV, args=[
        "-device", "ap-matrix,x-vm-fd=3,apqns=04.0000"])
    check("sim: a second ap-matrix device is refused",
          rc == 1 and err.endswith("ap-matrix: the guest already has an"
                                   " ap-matrix device; one device holds the"
                                   " whole matrix\n"), err)


def t_enxio(qemu, sim, tmp):
    sim.ctl("unregister")
    rc, err = start_fails(qemu, sim, tmp, DEV)
    check("sim: no apmatrix driver: ENXIO is said as it is, with a hint",
          rc == 1 and err.endswith(
              "ap-matrix: KVM does not offer KVM_S390_VM_CRYPTO_SET_AP_MATRIX"
              " (ENXIO)\nIt needs a kernel with the AP matrix attribute, a"
              " host with AP instructions, and the apmatrix AP driver loaded"
              " (modprobe ap_matrix_drv)\n"), err)
    sim.ctl("register")


def t_refused_at_start(qemu, sim, tmp):
    rc, err = start_fails(qemu, sim, tmp, DEV.replace("02-03", "04-05"))
    check("sim: a refused matrix stops QEMU with the library's message",
          rc == 1 and "ap-matrix: KVM refused the AP matrix: " in err
          and "05.0000,05.0001" in err and "EADDRNOTAVAIL" in err, err)


def reset_path(name, code=None, external=False):
    def t(qemu, sim, tmp):
        q = SimQemu(qemu, sim, tmp, DEV, code=code or IDLE_CODE)
        try:
            if external:
                first = wait_for(lambda: sim.zaps("02.0000") >= 1)
                n = sim.zaps("02.0000")
                q.qmp.cmd("system_reset")
                q.qmp.cmd("system_reset")
                ok = wait_for(lambda: sim.zaps("02.0000") == n + 2, 10)
                check(f"sim: reset ({name}) re-sets the matrix with RESET",
                      first and ok and sim.zaps("03.0001") == n + 2,
                      f"zaps {n} -> {sim.zaps('02.0000')}")
            else:
                # the guest resets itself over and over: more than the one
                # reset at start must zeroize the queues
                ok = wait_for(lambda: sim.zaps("02.0000") >= 4, 60)
                check(f"sim: reset ({name}) re-sets the matrix with RESET",
                      ok and sim.zaps("03.0001") >= 4,
                      f"zaps {sim.zaps('02.0000')}")
            check(f"sim: after resets ({name}) the guest keeps its matrix",
                  sim.crycb() == (APM, AQM, ADM), repr(sim.crycb()))
        finally:
            q.close()
    return t


def t_host_removes(qemu, sim, tmp):
    q = SimQemu(qemu, sim, tmp, DEV + ",check-interval=100")
    try:
        sim.ctl("remove-adapter", "03")
        e = q.qmp.wait_event("AP_MATRIX_CHANGED")
        check("sim: the host removing an adapter raises AP_MATRIX_CHANGED",
              e is not None and e["data"] == {
                  "qom-path": "/machine/peripheral/ap0", "reason": "outside",
                  "assigned": {"adapters": [2], "domains": [0, 1],
                               "control-domains": [1]}}, json.dumps(e))
        q.qmp.cmd("system_reset")
        time.sleep(0.5)
        check("sim: a reset after the host removed an adapter keeps the rest",
              sim.crycb() == (mask([2]), AQM, ADM), repr(sim.crycb()))
        r = q.qmp.cmd("query-ap-matrix")["return"]
        check("sim: query-ap-matrix: requested keeps adapter 03, assigned not",
              r["requested"]["adapters"] == [2, 3]
              and r["assigned"]["adapters"] == [2], json.dumps(r))
    finally:
        q.close()


def t_outside_set(qemu, sim, tmp):
    q = SimQemu(qemu, sim, tmp, DEV + ",check-interval=100")
    try:
        rc = sim.set_matrix(q.vmfd, [4], [2], [])
        e = q.qmp.wait_event("AP_MATRIX_CHANGED")
        check("sim: a SET from outside QEMU raises AP_MATRIX_CHANGED",
              rc == 0 and e is not None and e["data"]["reason"] == "outside"
              and e["data"]["assigned"] == {"adapters": [4], "domains": [2],
                                            "control-domains": []},
              f"rc {rc} {json.dumps(e)}")
        q.qmp.cmd("system_reset")
        time.sleep(0.5)
        check("sim: a reset does not undo a change made outside QEMU",
              sim.crycb() == (mask([4]), mask([2]), mask([])),
              repr(sim.crycb()))
    finally:
        q.close()


def t_reset_fails(qemu, sim, tmp):
    """EIO: needs a simulator on the contract of 2026-12-01 (an older one
    reported a failed reset as success)."""
    if not sim.eio:
        print("skip reset fails (EIO): this simulator reports a failed "
              "reset as success (before the contract of 2026-12-01)")
        return
    q = SimQemu(qemu, sim, tmp, DEV)
    try:
        wait_for(lambda: sim.zaps("02.0000") >= 1)
        sim.ctl("reset-mode", "02.0001", "never")
        q.qmp.cmd("system_reset")
        e = q.qmp.wait_event("AP_MATRIX_CHANGED")
        check("sim: a failed reset raises AP_MATRIX_CHANGED (reset) with"
              " what the guest keeps",
              e is not None and e["data"]["reason"] == "reset"
              and e["data"]["assigned"]["adapters"] == [3], json.dumps(e))
        check("sim: after a failed reset the guest keeps only the adapters"
              " whose queues were reset",
              sim.crycb()[0] == mask([3]), repr(sim.crycb()))
        r = q.qmp.cmd("query-ap-matrix")["return"]
        check("sim: after a failed reset requested and assigned differ",
              r["requested"]["adapters"] == [2, 3]
              and r["assigned"]["adapters"] == [3], json.dumps(r))
        err = q.qmp.stderr()
        check("sim: a failed reset is reported with the library's message",
              "ap-matrix: the reset of the guest's AP queues failed: " in err
              and "EIO" in err, err)
    finally:
        q.close()


BLOCKER = ("ap-matrix: the guest holds AP queues or control domains; give it"
           " an empty AP matrix (ap-matrix-set) before migrating it")


def migrate(q):
    r = q.qmp.cmd("migrate", uri="exec:cat >/dev/null")
    if "error" in r:
        return r["error"]["desc"]
    for _ in range(600):
        st = q.qmp.cmd("query-migrate")["return"].get("status")
        if st in ("completed", "failed"):
            return st
        time.sleep(0.05)
    return "timeout"


def t_migration(qemu, sim, tmp):
    q = SimQemu(qemu, sim, tmp, DEV, stopped=True)
    try:
        r = migrate(q)
        check("sim: migrate is refused while the guest holds queues",
              r == BLOCKER, r)
        q.qmp.cmd("qom-set", path="/machine/peripheral/ap0",
                  property="apqns", value="")
        r = q.qmp.cmd("qom-set", path="/machine/peripheral/ap0",
                      property="control-domains", value="")
        r = migrate(q)
        check("sim: migrate works once the matrix is empty (qom-set)",
              r == "completed" and sim.crycb() ==
              (mask([]), mask([]), mask([])), r)
    finally:
        q.close()

    rc, err = start_fails(qemu, sim, tmp, DEV, args=["-only-migratable"])
    check("sim: -only-migratable refuses a non-empty matrix",
          rc == 1 and err.endswith("disallowing migration blocker"
                                   " (--only-migratable) for: "
                                   + BLOCKER + "\n"), err)
    q = SimQemu(qemu, sim, tmp, "ap-matrix,id=ap0,x-vm-fd=VMFD",
                args=["-only-migratable"], stopped=True)
    try:
        r = q.qmp.cmd("ap-matrix-set", matrix={
            "adapters": [2], "domains": [0], "control-domains": []})
        check("sim: -only-migratable: an empty matrix starts, adding"
              " queues is refused and changes nothing",
              r.get("error", {}).get("desc") ==
              "disallowing migration blocker (--only-migratable) for: "
              + BLOCKER and sim.crycb()[0] == mask([]), json.dumps(r))
        r = migrate(q)
        check("sim: -only-migratable: the empty matrix migrates",
              r == "completed", r)
    finally:
        q.close()


def t_migration_running(qemu, sim, tmp):
    """While a migration runs, a blocker cannot be added: ap-matrix-set
    must refuse to add queues, and when KVM's matrix grows from outside
    anyway the blocker must be in place as soon as that migration is
    over, so the next one is refused (not only after the matrix changes
    again)."""
    q = SimQemu(qemu, sim, tmp, "ap-matrix,id=ap0,x-vm-fd=VMFD,"
                "check-interval=100")
    try:
        # 100 bytes/s (1 would be 0 per 100 ms slot: no limit at all)
        q.qmp.cmd("migrate-set-parameters", **{"max-bandwidth": 1000})
        r = q.qmp.cmd("migrate", uri="exec:cat >/dev/null")
        st = wait_for(lambda: q.qmp.cmd("query-migrate")["return"].get(
            "status") not in ("setup", None) and q.qmp.cmd(
            "query-migrate")["return"]["status"], 10)
        check("sim: a throttled migration is running", "return" in r
              and st == "active", json.dumps(r) + str(st))
        r = q.qmp.cmd("ap-matrix-set", matrix={
            "adapters": [2], "domains": [0], "control-domains": []})
        check("sim: ap-matrix-set adding queues during a migration is "
              "refused and changes nothing",
              "migration/snapshot in progress" in
              r.get("error", {}).get("desc", "")
              and sim.crycb()[0] == mask([]), json.dumps(r))
        rc = sim.set_matrix(q.vmfd, [2], [0], [])
        e = q.qmp.wait_event("AP_MATRIX_CHANGED")
        check("sim: an outside SET during the migration is seen",
              rc == 0 and e is not None, f"rc {rc} {json.dumps(e)}")
        q.qmp.cmd("migrate_cancel")
        st = wait_for(lambda: q.qmp.cmd("query-migrate")["return"].get(
            "status") == "cancelled", 30)
        q.qmp.cmd("migrate-set-parameters", **{"max-bandwidth": 1 << 30})
        r = migrate(q)
        check("sim: once that migration is over, the next is refused "
              "while the guest holds queues", st and r == BLOCKER, r)
    finally:
        q.close()


def t_grant_fds(qemu, sim, tmp):
    """The grant property's fd plumbing, up to the library's check of the
    fd: an inherited number and /dev/fdset/N (-add-fd) reach
    apmatrix_grant_open_fd(), whose message is QEMU's.  (A real grant needs
    /dev/apmatrix, which this simulator does not have.)"""
    with open("/dev/null") as f:
        fd = f.fileno()
        vm = sim.create_vm()
        bios = os.path.join(tmp, "code.img")
        with open(bios, "wb") as b:
            b.write(IDLE_CODE)
        base = qemu.binary + ["-machine", "s390-ccw-virtio,accel=tcg",
                              "-nodefaults", "-display", "none", "-S",
                              "-bios", bios]
        runs = [("an fd number", [f"{DEV},grant={fd}"]),
                ("/dev/fdset/N (-add-fd)",
                 ["-add-fd", f"fd={fd},set=7",
                  f"{DEV},grant=/dev/fdset/7"])]
        try:
            for what, args in runs:
                argv = list(base)
                for a in args:
                    argv += (["-device", a] if a.startswith("ap-matrix")
                             else [a])
                argv = [x.replace("VMFD", str(vm)) for x in argv]
                p = subprocess.run(argv, env=sim.cenv, pass_fds=(vm, fd),
                                   stdin=subprocess.DEVNULL,
                                   capture_output=True, text=True, timeout=60)
                m = re.search(r"ap-matrix: grant: (.*)\n$", p.stderr)
                check(f"sim: grant as {what}: a file that is no grant is"
                      " refused with the library's message",
                      p.returncode == 1 and m is not None
                      and "is not an apmatrix grant" in m.group(1)
                      and sim.crycb()[0] == mask([]), p.stderr)
        finally:
            os.close(vm)
    rc, err = start_fails(qemu, sim, tmp, DEV + ",grant=/dev/fdset/9")
    check("sim: grant=/dev/fdset/N of no fd set is refused naming it",
          rc == 1 and "ap-matrix: grant: cannot use /dev/fdset/9" in err, err)


def t_fdset_release(qemu, sim, tmp):
    """An fd QEMU takes from an fd set (/dev/fdset/N) is a dup QEMU must
    give back with qemu_close(): a plain close() leaves it in the set's
    list of dups, so the set outlives remove-fd forever (and its fd
    numbers go stale).  The VM fd (x-vm-fd) goes the same way as a
    grant."""
    dev = ("ap-matrix,id=ap0,x-vm-fd=/dev/fdset/5,apqns=02-03.0000-0001,"
           "control-domains=01")
    q = SimQemu(qemu, sim, tmp, dev, args=["-add-fd", "fd=VMFD,set=5"])
    try:
        check("sim: x-vm-fd=/dev/fdset/N gives the guest the matrix",
              sim.crycb() == (APM, AQM, ADM), repr(sim.crycb()))
        r = q.qmp.cmd("remove-fd", **{"fdset-id": 5})
        sets = q.qmp.cmd("query-fdsets").get("return")
        check("sim: after remove-fd the fd set QEMU took x-vm-fd from is "
              "gone (its dup was released with qemu_close)",
              "return" in r and sets == [], json.dumps(r) + json.dumps(sets))
    finally:
        q.close()


APMATRIX_CREATE_GRANT = (1 << 30) | (136 << 16) | (0xB9 << 8) | 0x01


def make_grant(sim, apm, aqm, adm):
    """A grant from the simulated /dev/apmatrix, as the administrator
    makes one: the fd (this process's)."""
    dev = sim.pre.open(b"/dev/apmatrix", os.O_RDWR | os.O_CLOEXEC)
    if dev < 0:
        raise OSError(ctypes.get_errno(), "open /dev/apmatrix")
    words = []
    for ids in (apm, aqm, adm):
        v = int(mask(ids), 16)
        words += [(v >> (64 * (3 - i))) & (2**64 - 1) for i in range(4)]
    req = ctypes.create_string_buffer(struct.pack("=12QI9I", *words, 0,
                                                  *([0] * 9)), 136)
    fd = sim.pre.ioctl(dev, APMATRIX_CREATE_GRANT, req)
    e = ctypes.get_errno()
    os.close(dev)
    if fd < 0:
        raise OSError(e, "APMATRIX_CREATE_GRANT")
    return fd


def t_grant_real(qemu, sim, tmp):
    """QEMU without CAP_SYS_ADMIN (as nobody): adding queues needs a
    grant; with one passed through -add-fd it works, for what the grant
    covers only; a reset needs none."""
    if not sim.eio or os.geteuid() != 0:
        print("skip grants: need root (QEMU runs as nobody) and a "
              "simulator with /dev/apmatrix (the contract of 2026-12-01)")
        return
    os.chmod(sim.dir, 0o755)
    os.chmod(tmp, 0o777)        # QEMU (nobody) makes its QMP socket there
    nobody = dict(user="nobody", group="nogroup", extra_groups=[])
    bios = os.path.join(tmp, "code.img")
    with open(bios, "wb") as f:
        f.write(IDLE_CODE)
    os.chmod(bios, 0o644)
    base = qemu.binary + ["-machine", "s390-ccw-virtio,accel=tcg",
                          "-nodefaults", "-display", "none", "-bios", bios]
    dev = "ap-matrix,id=ap0,x-vm-fd=VMFD,apqns=02.0000-0001,control-domains=01"

    vm = sim.create_vm()
    try:
        p = subprocess.run(base + ["-S", "-device",
                                   dev.replace("VMFD", str(vm))],
                           env=sim.cenv, pass_fds=(vm,),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=60, **nobody)
    finally:
        os.close(vm)
    check("grant: without a grant (and CAP_SYS_ADMIN) adding queues is "
          "refused with EPERM, the queues named and a hint",
          p.returncode == 1 and "ap-matrix: KVM refused the AP matrix: "
          in p.stderr and "02.0000" in p.stderr and "EPERM" in p.stderr
          and p.stderr.endswith("Adding AP queues or control domains to a"
                                " guest needs a grant (the grant property)"
                                " or CAP_SYS_ADMIN\n"), p.stderr)

    g = make_grant(sim, [2], [0, 1], [1])
    vm = sim.create_vm()
    q = None
    try:
        q = Qmp(qemu, "-add-fd", f"fd={g},set=3", "-qmp",
                "unix:" + os.path.join(tmp, "qmp.sock") + ",server=on,wait=off",
                "-device",
                dev.replace("VMFD", str(vm)) + ",grant=/dev/fdset/3",
                env=sim.cenv, pass_fds=(vm, g), base=base + ["-S"],
                **nobody)
        check("grant: with a grant (-add-fd, /dev/fdset/N) QEMU as nobody "
              "gives the guest what it covers",
              sim.crycb() == (mask([2]), mask([0, 1]), mask([1])),
              repr(sim.crycb()))
        r = q.cmd("query-ap-matrix")
        check("grant: query-ap-matrix says a grant is passed",
              r.get("return", {}).get("grant") is True, json.dumps(r))
        r = q.cmd("ap-matrix-set", matrix={
            "adapters": [2, 3], "domains": [0, 1], "control-domains": [1]})
        err = r.get("error", {}).get("desc", "")
        check("grant: adding what the grant does not cover is refused,"
              " named, and changes nothing",
              "03.0000" in err and "EPERM" in err and sim.crycb() ==
              (mask([2]), mask([0, 1]), mask([1])), json.dumps(r))
        n = sim.zaps("02.0000")
        q.cmd("system_reset")
        check("grant: a reset needs no grant",
              wait_for(lambda: sim.zaps("02.0000") == n + 1, 10)
              and sim.crycb()[0] == mask([2]), f"zaps {n} -> "
              f"{sim.zaps('02.0000')}")

        # a new grant at run time, as libvirt passes fds: getfd over the
        # QMP socket (SCM_RIGHTS), qom-set grant to its name
        g2 = make_grant(sim, [3], [0, 1], [])
        try:
            r = unix_qmp(os.path.join(tmp, "qmp.sock"), [
                ("getfd", {"fdname": "apgrant"}, [g2]),
                ("qom-set", {"path": "/machine/peripheral/ap0",
                             "property": "grant", "value": "apgrant"}, []),
                ("ap-matrix-set", {"matrix": {
                    "adapters": [2, 3], "domains": [0, 1],
                    "control-domains": [1]}}, [])])
        finally:
            os.close(g2)
        check("grant: a grant passed at run time (getfd, qom-set grant) "
              "lets ap-matrix-set add what it covers",
              all("return" in x for x in r) and sim.crycb() ==
              (mask([2, 3]), mask([0, 1]), mask([1])),
              json.dumps(r) + repr(sim.crycb()))
    finally:
        if q:
            q.close()
        os.close(vm)
        os.close(g)


def unix_qmp(path, cmds):
    """Commands over QEMU's QMP unix socket, each with fds (SCM_RIGHTS)."""
    import socket
    for _ in range(200):
        if os.path.exists(path):
            break
        time.sleep(0.05)
    out = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.connect(path)
        f = c.makefile("r")

        def answer():
            while True:
                msg = json.loads(f.readline())
                if "event" not in msg:
                    return msg
        answer()        # greeting
        c.sendall(b'{"execute":"qmp_capabilities"}\n')
        answer()
        for name, args, fds in cmds:
            data = json.dumps({"execute": name, "arguments": args}).encode()
            socket.send_fds(c, [data + b"\n"], fds) if fds else \
                c.sendall(data + b"\n")
            out.append(answer())
    return out


def sim_tests(qemu, simdir, fixture):
    cases = [("set", t_set), ("typed", t_typed), ("second", t_second),
             ("enxio", t_enxio), ("refused", t_refused_at_start),
             ("reset external", reset_path("external", external=True)),
             ("reset modified clear", reset_path("modified clear",
                                                 diag308_code(0))),
             ("reset load normal", reset_path("load normal",
                                              diag308_code(1))),
             ("reset re-IPL", reset_path("re-IPL", diag308_code(3))),
             ("host removes", t_host_removes),
             ("outside set", t_outside_set),
             ("reset fails", t_reset_fails),
             ("migration", t_migration),
             ("migration running", t_migration_running),
             ("grant", t_grant_fds),
             ("fdset release", t_fdset_release),
             ("grant real", t_grant_real)]
    only = os.environ.get("QEMU_TEST_ONLY")
    for name, fn in cases:
        if only and only not in name:
            continue
        sim_case(name, fn, qemu, simdir, fixture)


def kvm_tests(binary, bios):
    """On an s390x KVM host only: the realize path after the TCG check.
    Written for such a host; never run in the project's CI."""
    if platform.machine() != "s390x" or not os.access("/dev/kvm", os.W_OK):
        print("skip KVM tests: need an s390x host with /dev/kvm "
              "(probe, CPU model checks, vfio-ap exclusivity)")
        return
    base = [binary, "-machine", "s390-ccw-virtio,accel=kvm", "-nodefaults",
            "-S", "-display", "none", "-bios", bios]

    def run(*args):
        p = subprocess.run(base + list(args), capture_output=True, text=True,
                           timeout=60)
        return p.returncode, p.stderr

    # before anything looks at the fd, and whether or not KVM has the attribute
    rc, err = run("-cpu", "host,apqi=off", "-device", "ap-matrix,x-vm-fd=0")
    check("kvm: x-vm-fd (tests only) refused under KVM",
          rc == 1 and err.endswith(
              "ap-matrix: x-vm-fd is for tests without KVM; under KVM the "
              "device uses the guest's own VM\nDrop x-vm-fd\n"), err)
    rc, err = run("-cpu", "host,apqi=off", "-device", "ap-matrix")
    if "(ENXIO)" in err:
        check("kvm: no attribute here: ENXIO said as it is, with a hint",
              err.endswith("ap-matrix: KVM does not offer "
                           "KVM_S390_VM_CRYPTO_SET_AP_MATRIX (ENXIO)\n"
                           "It needs a kernel with the AP matrix attribute, "
                           "a host with AP instructions, and the apmatrix AP "
                           "driver loaded (modprobe ap_matrix_drv)\n"), err)
        return
    check("kvm: an empty matrix starts", rc == 0 or err == "", err)
    rc, err = run("-cpu", "host,ap=off", "-device", "ap-matrix")
    check("kvm: no 'ap': refused, the hint is -cpu host,apqi=off",
          err.endswith("ap-matrix: the guest CPU model has no 'ap' feature\n"
                       "Use -cpu host,apqi=off\n"), err)
    rc, err = run("-cpu", "host,apqi=on", "-device", "ap-matrix")
    check("kvm: 'apqi' refused",
          err.endswith("ap-matrix: the guest CPU model offers AP queue "
                       "interrupts ('apqi'), which ap-matrix does not "
                       "provide\nAdd apqi=off to -cpu\n"), err)
    rc, err = run("-cpu", "host,apqi=off", "-device", "ap-matrix",
                  "-device", "vfio-ap,sysfsdev=/nonexistent")
    want = (f"{PROG}: -device vfio-ap,sysfsdev=/nonexistent: vfio-ap: the "
            "guest already has an ap-matrix device; give it AP queues "
            "through either vfio-ap or ap-matrix\n")
    check("kvm: vfio-ap refused next to ap-matrix", err == want, err)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--libapmatrix", required=True)
    ap.add_argument("--wrapper", default="",
                    help="runs --qemu, e.g. 'qemu-s390x-static -L SYSROOT' "
                    "for the s390x build")
    ap.add_argument("--sim", default="",
                    help="directory with apsimd, apsimctl and "
                    "libapsim-preload.so (a native build of sim/)")
    ap.add_argument("--fixture", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)),
        "../../tests/fixtures/mkfixture.py"))
    args = ap.parse_args()
    wrapper = shlex.split(args.wrapper)

    libdir = os.path.dirname(os.path.abspath(args.libapmatrix))
    os.environ["LD_LIBRARY_PATH"] = ":".join(
        p for p in [libdir, os.environ.get("LD_LIBRARY_PATH")] if p)
    lib = Lib(args.libapmatrix)

    with tempfile.TemporaryDirectory() as tmp:
        # The guest never runs (-S): any small file does as firmware (QEMU
        # loads a non-ELF one raw), and Debian's source has no s390-ccw.img.
        bios = os.path.join(tmp, "s390-ccw.img")
        with open(bios, "wb") as f:
            f.write(b"\0" * 8)
        qemu = Qemu(args.qemu, bios, wrapper)

        help_tests(qemu)
        parse_tests(qemu, lib)
        tcg_tests(qemu)
        qmp_tests(qemu)
        if args.sim and not wrapper:
            sim_tests(qemu, args.sim, os.path.abspath(args.fixture))
        else:
            print("skip simulated-host tests: " + (
                "the simulator is a native build, QEMU runs under qemu-user"
                if wrapper else "no --sim"))
        if not wrapper:
            kvm_tests(args.qemu, bios)

    print(f"qemu tests: {len(PASSED)} passed, {len(FAILED)} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
