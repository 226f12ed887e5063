#!/usr/bin/env python3
"""Tests of the ap-matrix device in qemu-system-s390x (qemu/patches).

Run by `qemu/build.sh test` on the native build: TCG only, so everything up
to the KVM checks of realize is exercised here; the KVM part runs only on an
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
import select
import shlex
import subprocess
import sys
import tempfile

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

    def __init__(self, qemu, *args):
        argv = qemu.base + ["-qmp", "stdio"] + list(args)
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.greeting = self._read()
        self.cmd("qmp_capabilities")

    def _read(self, timeout=60):
        while True:
            r, _, _ = select.select([self.p.stdout], [], [], timeout)
            if not r:
                raise TimeoutError("no answer from QMP")
            line = self.p.stdout.readline()
            if not line:
                raise EOFError("QEMU exited: " + self.p.stderr.read())
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def cmd(self, name, **arguments):
        req = {"execute": name}
        if arguments:
            req["arguments"] = arguments
        self.p.stdin.write(json.dumps(req) + "\n")
        self.p.stdin.flush()
        return self._read()

    def close(self):
        try:
            self.cmd("quit")
        except (EOFError, BrokenPipeError):
            pass
        self.p.wait(timeout=30)


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


def vfio_ap_tests(qemu):
    """vfio-ap and ap-matrix together: refused; the exact exclusivity
    messages need KVM (vfio-ap needs the AP bus, which needs the 'ap' CPU
    feature, which TCG does not have; ap-matrix stops at the TCG check)."""
    rc, out, err = qemu.run("-device", "help", base=False)
    if 'name "vfio-ap"' not in out:
        print("skip vfio-ap tests: this build has no vfio-ap")
        return
    rc, out, err = qemu.run("-device", "vfio-ap,sysfsdev=/nonexistent",
                            "-device", "ap-matrix,apqns=05.0004")
    want = (f"{PROG}: -device vfio-ap,sysfsdev=/nonexistent: "
            "No 'ap-bus' bus found for device 'vfio-ap'\n")
    check("vfio-ap: vfio-ap + ap-matrix refused (TCG: no AP bus)",
          rc == 1 and err == want, f"exit {rc}\n{err!r}\nwanted {want!r}")
    rc, out, err = qemu.run("-device", "ap-matrix,apqns=05.0004",
                            "-device", "vfio-ap,sysfsdev=/nonexistent")
    want = (f"{PROG}: -device ap-matrix,apqns=05.0004: ap-matrix: AP queues "
            "can only be given to a KVM guest, not with accelerator tcg\n")
    check("vfio-ap: ap-matrix + vfio-ap refused (TCG)",
          rc == 1 and err == want, f"exit {rc}\n{err!r}\nwanted {want!r}")


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
              "error" in r or not any("ap-matrix" in p.get("type", "")
                                      for p in r["return"]), json.dumps(r))
    finally:
        q.close()


def kvm_tests(binary, bios):
    """On an s390x KVM host only: the realize path after the TCG check."""
    if platform.machine() != "s390x" or not os.access("/dev/kvm", os.W_OK):
        print("skip KVM tests: need an s390x host with /dev/kvm "
              "(probe, set, explain, reset, qom-set, vfio-ap exclusivity)")
        return
    base = [binary, "-machine", "s390-ccw-virtio,accel=kvm", "-nodefaults",
            "-S", "-display", "none", "-bios", bios]
    p = subprocess.run(base + ["-cpu", "host,apqi=off", "-device",
                               "ap-matrix", "-device",
                               "vfio-ap,sysfsdev=/nonexistent"],
                       capture_output=True, text=True, timeout=60)
    if "has no KVM_S390_VM_CRYPTO_SET_AP_MATRIX" in p.stderr:
        check("kvm: no attribute in this kernel: clear message",
              p.stderr.endswith("ap-matrix: this kernel has no "
                                "KVM_S390_VM_CRYPTO_SET_AP_MATRIX\n"
                                "Or the host has no AP instructions, or the "
                                "apmatrix AP driver is not loaded\n"),
              p.stderr)
        return
    want = (f"{PROG}: -device vfio-ap,sysfsdev=/nonexistent: vfio-ap: the "
            "guest already has an ap-matrix device; give it AP queues "
            "through either vfio-ap or ap-matrix\n")
    check("kvm: vfio-ap refused next to ap-matrix", p.stderr == want,
          p.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--libapmatrix", required=True)
    ap.add_argument("--wrapper", default="",
                    help="runs --qemu, e.g. 'qemu-s390x-static -L SYSROOT' "
                    "for the s390x build")
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
        vfio_ap_tests(qemu)
        qmp_tests(qemu)
        if not wrapper:
            kvm_tests(args.qemu, bios)

    print(f"qemu tests: {len(PASSED)} passed, {len(FAILED)} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
