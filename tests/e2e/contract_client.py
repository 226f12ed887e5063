#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A client that knows only the contract (uapi-contract.md of 2026-12-01):
/dev/apmatrix, APMATRIX_CREATE_GRANT, /proc/self/fdinfo, /dev/kvm,
KVM_CREATE_VM and KVM_SET_DEVICE_ATTR with grant_fd. Nothing of the
simulator: the e2e tests run it with the preload library, as root, as
nobody (setpriv) and in a user namespace (unshare -r).

usage:
  contract_client.py grant SPEC [flags=N] [rdonly] [-- CMD...]
      create a grant for SPEC on /dev/apmatrix (opened O_RDWR, or O_RDONLY
      with rdonly); with CMD, hand it over (not close-on-exec, its number
      in APSIM_GRANT_FD) and exec CMD; without, print
      {"grant": errno or 0, "fdinfo": ...}
  contract_client.py vmm STEP...
      create a VM and run each STEP; print one JSON object:
      {"uid", "results": [errno of each step], "fdinfo", "link", "state"}
      STEP: set:SPEC[:FLAGS]   FLAGS: g = GRANT with APSIM_GRANT_FD,
            b = GRANT with a closed fd, n = GRANT with an open non-grant fd,
            z = grant_fd set without GRANT, r = RESET, v = VALIDATE_ONLY
            state:AA.DDDD        the queue's apmatrix_state (text, in "state")
      SPEC: APQNS[/CONTROL], e.g. 02-03.0000-0001/10 (hex); "-" is empty
"""

import ctypes
import fcntl
import json
import os
import struct
import sys


def _IOW(magic, nr, size):
    return (1 << 30) | (size << 16) | (magic << 8) | nr


APMATRIX_CREATE_GRANT = _IOW(0xB9, 0x01, 136)
KVM_CREATE_VM = (0xAE << 8) | 0x01
KVM_SET_DEVICE_ATTR = _IOW(0xAE, 0xE1, 24)
GROUP_CRYPTO, ATTR_SET_AP_MATRIX = 2, 6
F_VALIDATE_ONLY, F_RESET, F_GRANT = 1, 2, 4


def ids(text):
    out = []
    for part in text.split(","):
        if not part:
            continue
        a, _, b = part.partition("-")
        out += range(int(a, 16), int(b or a, 16) + 1)
    return out


def words(idl):
    v = 0
    for i in idl:
        v |= 1 << (255 - i)
    return [(v >> (64 * (3 - i))) & (2**64 - 1) for i in range(4)]


def parse(spec):
    if spec == "-":
        return [], [], []
    apqns, _, control = spec.partition("/")
    apm, _, aqm = apqns.partition(".") if apqns not in ("", "-") else ("", "", "")
    return ids(apm), ids(aqm), ids(control)


def errno_of(fn):
    try:
        fn()
        return 0
    except OSError as e:
        return e.errno


def create_grant(spec, flags=0, mode=os.O_RDWR):
    apm, aqm, adm = parse(spec)
    dev = os.open("/dev/apmatrix", mode | os.O_CLOEXEC)
    try:
        req = bytearray(struct.pack("=4Q4Q4QI9I", *words(apm), *words(aqm), *words(adm), flags,
                                    *([0] * 9)))
        return fcntl.ioctl(dev, APMATRIX_CREATE_GRANT, req, True)
    finally:
        os.close(dev)


def fdinfo(fd):
    with open("/proc/self/fdinfo/%d" % fd) as fh:
        return fh.read()


def cmd_grant(argv):
    spec, rest = argv[0], argv[1:]
    flags = 0
    if rest and rest[0].startswith("flags="):
        flags = int(rest[0][6:], 0)
        rest = rest[1:]
    mode = os.O_RDWR
    if rest and rest[0] == "rdonly":
        mode = os.O_RDONLY
        rest = rest[1:]
    try:
        g = create_grant(spec, flags, mode)
    except OSError as e:
        print(json.dumps({"grant": e.errno}))
        return 0
    if rest and rest[0] == "--":
        os.set_inheritable(g, True)
        os.environ["APSIM_GRANT_FD"] = str(g)
        os.execvp(rest[1], rest[1:])
    print(json.dumps({"grant": 0, "fdinfo": fdinfo(g), "link": os.readlink("/proc/self/fd/%d" % g),
                      "cloexec": bool(fcntl.fcntl(g, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)}))
    return 0


def cmd_vmm(steps):
    out = {"uid": os.getuid(), "results": [], "state": {}}
    g = int(os.environ["APSIM_GRANT_FD"]) if "APSIM_GRANT_FD" in os.environ else -1
    if g >= 0:
        out["grant_fd"] = g
        out["fdinfo"] = fdinfo(g)
        out["link"] = os.readlink("/proc/self/fd/%d" % g)
    kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    vm = fcntl.ioctl(kvm, KVM_CREATE_VM, 0)
    os.close(kvm)
    other = os.open("/dev/null", os.O_RDONLY)
    for step in steps:
        kind, _, arg = step.partition(":")
        if kind == "state":
            root = os.environ["APMATRIX_SYSFS_ROOT"]
            path = "%s/bus/ap/devices/%s/apmatrix_state" % (root, arg)
            try:
                with open(path) as fh:
                    out["state"][arg] = fh.read()
            except OSError as e:
                out["state"][arg] = "errno %d" % e.errno
            continue
        spec, _, fl = arg.partition(":")
        apm, aqm, adm = parse(spec)
        flags, gfd = 0, 0
        if "g" in fl:
            flags, gfd = flags | F_GRANT, g
        if "b" in fl:
            flags, gfd = flags | F_GRANT, 999
        if "n" in fl:
            flags, gfd = flags | F_GRANT, other
        if "z" in fl:
            gfd = g if g >= 0 else other
        if "r" in fl:
            flags |= F_RESET
        if "v" in fl:
            flags |= F_VALIDATE_ONLY
        payload = ctypes.create_string_buffer(
            struct.pack("=4Q4Q4QIi8I", *words(apm), *words(aqm), *words(adm), flags, gfd,
                        *([0] * 8)), 136)
        attr = bytearray(struct.pack("=IIQQ", 0, GROUP_CRYPTO, ATTR_SET_AP_MATRIX,
                                     ctypes.addressof(payload)))
        out["results"].append(errno_of(lambda: fcntl.ioctl(vm, KVM_SET_DEVICE_ATTR, attr, True)))
    out["pid"] = os.getpid()
    print(json.dumps(out))
    sys.stdout.flush()
    if os.environ.get("APSIM_CLIENT_HOLD"):
        sys.stdin.read()    # hold the VM until stdin closes
    return 0


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    if sys.argv[1] == "grant":
        return cmd_grant(sys.argv[2:])
    if sys.argv[1] == "vmm":
        return cmd_vmm(sys.argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
