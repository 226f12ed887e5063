#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""End-to-end tests: apmatrix-ctl and examples/mini-vmm, unmodified, on the
simulated host (sim/apsimd) that runs the real kernel/arch/s390/kvm/ap_matrix.c.

Each test starts its own apsimd on a fresh fixture tree (tests/fixtures/
mkfixture.py) and runs the programs with sim/libapsim-preload.so, which
routes /dev/kvm, the VM ioctls, /proc/PID/fd links and apmask/aqmask writes
to it. After every test the simulator must report no violation (lock order,
lock held across a reset wait, WARN, a queue reaching a guest with another
guest's data) and no pinned driver module.

usage: e2e_test.py BUILDDIR SRCDIR [unittest args]
"""

import ctypes
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = SRC = None

HOST_E2E = {
    "description": "e2e host: adapters 02-05 x domains 0000-0003; adapters 02-04 taken for guests "
                   "(bound to apmatrix), 05 kept by the host; 04.0003 bound to vfio_ap, 03.0003 to no driver.",
    "ap_domain": 0,
    "ap_max_adapter_id": 255,
    "ap_max_domain_id": 84,
    "usage_domains": "00-03,1a",
    "control_domains": "00-03,10,1a",
    "apmask_clear": "02-04",
    "cards": [{"ids": "02-05", "type": "CEX8C"}],
    "taken_driver": "apmatrix",
    "queues": {"04.0003": {"driver": "vfio_ap"}, "03.0003": {"driver": None}},
}

KVMIO = 0xAE


def _IOW(nr, size):
    return (1 << 30) | (size << 16) | (KVMIO << 8) | nr


KVM_CREATE_VM = (KVMIO << 8) | 0x01
KVM_SET_DEVICE_ATTR = _IOW(0xE1, 24)
KVM_GET_DEVICE_ATTR = _IOW(0xE2, 24)
KVM_HAS_DEVICE_ATTR = _IOW(0xE3, 24)
GROUP_CRYPTO, ATTR_SET_AP_MATRIX = 2, 6


def mask(ids):
    v = 0
    for i in ids:
        v |= 1 << (255 - i)
    return "0x%064x" % v


class Sim:
    """One apsimd on one tree, and the environment of its clients."""

    def __init__(self, host=HOST_E2E, polls=20):
        self.dir = tempfile.mkdtemp(prefix="apsim-e2e-")
        self.tree = os.path.join(self.dir, "sys")
        hj = os.path.join(self.dir, "host.json")
        with open(hj, "w") as fh:
            json.dump(host, fh)
        subprocess.run([sys.executable, os.path.join(SRC, "tests/fixtures/mkfixture.py"),
                        "write", hj, self.tree], check=True, stdout=subprocess.DEVNULL)
        self.sock = os.path.join(self.dir, "sock")
        self.env = dict(os.environ)
        self.env.update({
            "APMATRIX_SIM_SOCKET": self.sock,
            "APMATRIX_SYSFS_ROOT": self.tree,
            "APMATRIX_LOCK_FILE": os.path.join(self.dir, "lock"),
        })
        self.env.pop("LD_PRELOAD", None)
        self.log = open(os.path.join(self.dir, "apsimd.log"), "w+")
        self.proc = subprocess.Popen([os.path.join(BUILD, "sim/apsimd"), "--reset-interval", "1",
                                      "--reset-polls", str(polls), self.tree],
                                     env=self.env, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "apsimd: ready":
            raise RuntimeError("apsimd did not start: %r" % line)
        self.cenv = dict(self.env, LD_PRELOAD=os.path.join(BUILD, "sim/libapsim-preload.so"))
        self.vmms = []

    def ctl(self, *args):
        r = subprocess.run([os.path.join(BUILD, "tools/apmatrix-ctl")] + list(args), env=self.cenv,
                           capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout, r.stderr

    def sim(self, *args):
        r = subprocess.run([os.path.join(BUILD, "sim/apsimctl")] + list(args), env=self.env,
                           capture_output=True, text=True, timeout=60)
        if r.returncode:
            raise RuntimeError("apsimctl %s: %s" % (" ".join(args), r.stderr))
        return r.stdout

    def kv(self, *args):
        out = {}
        for line in self.sim(*args).splitlines():
            k, _, v = line.partition(" ")
            out[k] = v
        return out

    def queue(self, apqn):
        return self.kv("queue", apqn)

    def crycb(self, vm):
        return self.kv("crycb", str(vm))

    def vmm(self, *args, env=None, expect="running"):
        e = dict(self.cenv)
        if env:
            e.update(env)
        p = subprocess.Popen([os.path.join(BUILD, "examples/mini-vmm")] + list(args), env=e,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, bufsize=1)
        self.vmms.append(p)
        p.lines = []
        if expect:
            self.wait_line(p, "mini-vmm: " + expect)
        return p

    def wait_line(self, p, prefix):
        while True:
            line = p.stdout.readline()
            if not line:
                raise RuntimeError("mini-vmm ended before %r: %s" % (prefix, p.stderr.read()))
            p.lines.append(line)
            if line.startswith(prefix):
                return line.strip()

    def cmd(self, p, line, expect):
        p.stdin.write(line + "\n")
        p.stdin.flush()
        return self.wait_line(p, expect)

    def stop_vmm(self, p, sig=signal.SIGTERM):
        p.send_signal(sig)
        p.wait(timeout=30)

    def vm_ids(self):
        return [int(l.split()[0][2:]) for l in self.sim("vms").splitlines()]

    def wait_vms(self, n):
        for _ in range(500):
            if len(self.vm_ids()) == n:
                return
            time.sleep(0.01)
        raise AssertionError("expected %d VMs, have %s" % (n, self.vm_ids()))

    def read(self, rel):
        with open(os.path.join(self.tree, rel)) as fh:
            return fh.read()

    def close(self):
        for p in self.vmms:
            if p.poll() is None:
                p.kill()
                p.wait()
        stats = {}
        try:
            self.wait_vms(0)    # VM teardown (reset, release) runs after the last close
            stats = self.kv("stats")
            self.sim("quit")
        finally:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.log.close()
        return stats


class Preload:
    """The preload library's entry points called directly (this process was
    not started with LD_PRELOAD): open(), ioctl() exactly as a VMM's calls
    reach them."""

    def __init__(self, sim):
        os.environ["APMATRIX_SIM_SOCKET"] = sim.sock
        self.lib = ctypes.CDLL(os.path.join(BUILD, "sim/libapsim-preload.so"), use_errno=True)
        self.lib.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
        self.lib.open.argtypes = [ctypes.c_char_p, ctypes.c_int]

    def create_vm(self):
        kvm = self.lib.open(b"/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
        if kvm < 0:
            raise OSError(ctypes.get_errno(), "open /dev/kvm")
        vm = self.lib.ioctl(kvm, KVM_CREATE_VM, None)
        e = ctypes.get_errno()
        os.close(kvm)
        if vm < 0:
            raise OSError(e, "KVM_CREATE_VM")
        return vm

    def ioctl(self, fd, req, arg):
        rc = self.lib.ioctl(fd, req, arg)
        return ctypes.get_errno() if rc < 0 else 0


class E2E(unittest.TestCase):
    host = HOST_E2E
    polls = 20

    def setUp(self):
        self.s = Sim(self.host, self.polls)

    def tearDown(self):
        try:
            stats = self.s.close()
            with open(os.path.join(self.s.dir, "apsimd.log")) as fh:
                log = fh.read()
        finally:
            shutil.rmtree(self.s.dir, ignore_errors=True)
        self.assertEqual(stats.get("violations"), "0", log)
        self.assertEqual(stats.get("leaks"), "0", log)
        self.assertEqual(stats.get("module_refs"), "0", log)

    # helpers
    def assertRefused(self, args, rc, msg):
        r = self.s.ctl(*args)
        self.assertEqual((r[0], r[2]), (rc, msg), r)

    def unchanged(self, vm, before):
        self.assertEqual(self.s.crycb(vm), before)


class TestStart(E2E):
    def test_list_through_the_simulator(self):
        rc, out, err = self.s.ctl("list")
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("02.0000  CEX8C -      apmatrix    apmatrix", out)
        self.assertIn("04.0003  CEX8C -      vfio_ap     vfio_ap", out)
        self.assertIn("05.0000  CEX8C online cex4queue   host", out)

    def test_set_at_start_reaches_the_crycb(self):
        v = self.s.vmm("-c", "0010", "02-03.0000-0001")
        self.assertEqual(v.lines[0].strip(), "mini-vmm: start ok 02-03.0000-0001")
        c = self.s.crycb(1)
        self.assertEqual(c["apm"], mask([2, 3]))
        self.assertEqual(c["aqm"], mask([0, 1]))
        self.assertEqual(c["adm"], mask([0x10]))
        self.assertEqual(c["kicks"], "1")
        rc, out, err = self.s.ctl("get", "--pid", str(v.pid))
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "apqns: 02-03.0000-0001\nadapters: 02-03\ndomains: 0000-0001\n"
                              "control domains: 0010\n")

    def test_probe(self):
        v = self.s.vmm()
        self.assertEqual(self.s.ctl("probe", "--pid", str(v.pid)),
                         (0, "KVM_S390_VM_CRYPTO_SET_AP_MATRIX: available\n", ""))


class TestRules(E2E):
    """Every rule of the contract, with the CLI's message and exit code, and
    nothing changed by any refused request."""

    def setUp(self):
        super().setUp()
        self.v = self.s.vmm("02.0000")
        self.pid = str(self.v.pid)
        self.before = self.s.crycb(1)

    def tearDown(self):
        self.unchanged(1, self.before)
        rc, out, _ = self.s.ctl("get", "--pid", self.pid)
        self.assertTrue(out.startswith("apqns: 02.0000\n"), out)
        super().tearDown()

    def test_enodev_domain_beyond_host(self):
        self.assertRefused(["set", "--pid", self.pid, "02.0055"], 3,
                           "apmatrix-ctl: domain 0055: beyond the host's AP configuration "
                           "(max domain 0x54) (ENODEV)\n")

    def test_enodev_control_domain_beyond_host(self):
        self.assertRefused(["set", "--pid", self.pid, "02.0000", "-c", "55"], 3,
                           "apmatrix-ctl: control domain 0055: beyond the host's AP configuration "
                           "(max control domain 0x54) (ENODEV)\n")

    def test_eaddrnotavail_vfio_ap(self):
        self.assertRefused(["set", "--pid", self.pid, "04.0003"], 3,
                           "apmatrix-ctl: 04.0003: bound to vfio_ap, not to apmatrix (EADDRNOTAVAIL)\n")

    def test_eaddrnotavail_no_driver(self):
        self.assertRefused(["set", "--pid", self.pid, "03.0003"], 3,
                           "apmatrix-ctl: 03.0003: not bound to the apmatrix driver (EADDRNOTAVAIL)\n")

    def test_eaddrnotavail_host_owned(self):
        self.assertRefused(["set", "--pid", self.pid, "05.0000"], 3,
                           "apmatrix-ctl: 05.0000: not set aside for guests (still owned by the "
                           "host's default drivers) (EADDRNOTAVAIL)\n")

    def test_eaddrinuse_second_vmm(self):
        v2 = self.s.vmm("02-03.0000", expect=None)
        self.assertEqual(v2.wait(timeout=30), 3)
        self.assertEqual(v2.stderr.read(),
                         "mini-vmm: start refused: 02.0000: held by another VM (EADDRINUSE)\n")
        self.assertEqual(self.s.queue("03.0000")["zaps"], "0")

    def test_eaddrinuse_names_every_refused_apqn(self):
        # several refused APQNs, in two adapter rows and held by two other
        # VMs: a library that stopped at the first one would name 02.0001
        v2 = self.s.vmm("03.0000-0001")
        self.s.vmm("02.0001")
        self.assertRefused(["set", "--pid", self.pid, "02-03.0000-0001"], 3,
                           "apmatrix-ctl: 02.0001,03.0000,03.0001: held by another VM "
                           "(EADDRINUSE)\n")
        self.assertEqual(self.s.crycb(2)["apm"], mask([3]))
        self.assertRefused(["set", "--pid", str(v2.pid), "02-03.0000-0001"], 3,
                           "apmatrix-ctl: 02.0000,02.0001: held by another VM (EADDRINUSE)\n")

    def test_rule_order_eaddrnotavail_before_eaddrinuse(self):
        v2 = self.s.vmm("03.0001")
        self.assertRefused(["set", "--pid", str(v2.pid), "02.0000-0001", "-c", "0"], 3,
                           "apmatrix-ctl: 02.0000: held by another VM (EADDRINUSE)\n")
        self.assertRefused(["set", "--pid", str(v2.pid), "02-05.0000"], 3,
                           "apmatrix-ctl: 05.0000: not set aside for guests (still owned by the "
                           "host's default drivers) (EADDRNOTAVAIL)\n")

    def test_eopnotsupp_without_driver(self):
        self.s.sim("unregister")
        try:
            self.assertRefused(["set", "--pid", self.pid, "03.0000"], 4,
                               "apmatrix-ctl: set: the host has no AP instructions or no apmatrix "
                               "AP driver is registered (EOPNOTSUPP)\n")
            self.assertEqual(self.s.ctl("probe", "--pid", self.pid),
                             (4, "KVM_S390_VM_CRYPTO_SET_AP_MATRIX: not available\n", ""))
        finally:
            self.s.sim("register")

    def test_validate_only_changes_nothing(self):
        self.assertEqual(self.s.ctl("set", "--validate-only", "--pid", self.pid, "02-03.0000-0001")[0], 0)
        self.assertEqual(self.s.queue("03.0001")["data"], "0")
        v2 = self.s.vmm("03.0001")   # still free
        self.s.stop_vmm(v2)

    def test_no_such_process(self):
        self.assertRefused(["set", "--pid", "999999", "02.0000"], 5, "apmatrix-ctl: no process 999999\n")


class TestFormat1(E2E):
    def test_crycb_format1_limits(self):
        v = self.s.vmm("02.001a", env={"APMATRIX_SIM_CRYCB_FORMAT": "1"}, expect=None)
        self.assertEqual(v.wait(timeout=30), 3)
        self.assertEqual(v.stderr.read(), "mini-vmm: start refused: domain 001a: beyond what this "
                                          "VM's CRYCB format holds (ENODEV)\n")
        v = self.s.vmm("02.0001", env={"APMATRIX_SIM_CRYCB_FORMAT": "1"})
        vm = self.s.vm_ids()[0]
        self.assertEqual(self.s.crycb(vm)["aqm"], mask([1]))


class TestLife(E2E):
    def test_live_update_hot_plug_and_unplug(self):
        v = self.s.vmm("02.0000")
        self.assertEqual(self.s.ctl("set", "--pid", str(v.pid), "02.0000-0001")[0], 0)
        self.assertEqual(self.s.crycb(1)["aqm"], mask([0, 1]))
        self.assertEqual(self.s.queue("02.0000")["zaps"], "0")   # kept: not reset
        self.assertEqual(self.s.cmd(v, "set 02.0001", "mini-vmm: set"), "mini-vmm: set ok 02.0001")
        self.assertEqual(self.s.crycb(1)["aqm"], mask([1]))
        q = self.s.queue("02.0000")
        self.assertEqual((q["zaps"], q["resets"], q["data"]), ("1", "1", "0"))
        v2 = self.s.vmm("02.0000")          # free again
        self.assertEqual(self.s.crycb(2)["apm"], mask([2]))

    def test_vm_exit_releases_and_resets_before_reuse(self):
        v = self.s.vmm("03.0000-0002")
        self.assertEqual(self.s.queue("03.0001")["data"], "1")
        self.s.stop_vmm(v)
        self.s.wait_vms(0)
        for apqn in ("03.0000", "03.0001", "03.0002"):
            q = self.s.queue(apqn)
            self.assertEqual((q["zaps"], q["resets"], q["data"], q["resetting"]), ("1", "1", "0", "0"), apqn)
        v2 = self.s.vmm("03.0000-0002")
        self.assertEqual(v2.lines[0].strip(), "mini-vmm: start ok 03.0000-0002")

    def test_reboot_resets_own_queues(self):
        v = self.s.vmm("02.0000-0001")
        v.send_signal(signal.SIGUSR1)
        self.assertEqual(self.s.wait_line(v, "mini-vmm: reboot"), "mini-vmm: reboot ok 02.0000-0001")
        self.assertEqual(self.s.queue("02.0001")["zaps"], "1")
        self.assertEqual(self.s.crycb(1)["aqm"], mask([0, 1]))
        self.assertEqual(self.s.cmd(v, "reboot", "mini-vmm: reboot"), "mini-vmm: reboot ok 02.0000-0001")
        self.assertEqual(self.s.queue("02.0001")["zaps"], "2")

    def test_pid_takes_the_vm_of_another_process(self):
        v = self.s.vmm()
        rc, out, err = self.s.ctl("set", "--pid", str(v.pid), "04.0000-0001")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(self.s.crycb(1)["apm"], mask([4]))
        self.assertEqual(self.s.cmd(v, "get", "mini-vmm: get"), "mini-vmm: get 04.0000-0001")
        self.assertEqual(self.s.ctl("clear", "--pid", str(v.pid))[0], 0)
        self.assertEqual(self.s.crycb(1)["apm"], mask([]))

    def test_vm_fd_inherited_by_a_child(self):
        fd = self._create_vm()
        try:
            r = subprocess.run([os.path.join(BUILD, "tools/apmatrix-ctl"), "set", "--vm-fd", str(fd),
                                "02.0003"], env=self.s.cenv, pass_fds=[fd], capture_output=True, text=True)
            self.assertEqual((r.returncode, r.stderr), (0, ""))
            self.assertEqual(self.s.crycb(self.s.vm_ids()[0])["apm"], mask([2]))
        finally:
            os.close(fd)
        self.s.wait_vms(0)
        self.assertEqual(self.s.queue("02.0003")["resets"], "1")

    def _create_vm(self):
        vm = Preload(self.s).create_vm()
        os.set_inheritable(vm, True)
        return vm


class TestHost(E2E):
    def test_adapter_hot_unplug_drops_it_from_the_guest(self):
        v = self.s.vmm("02-03.0000")
        self.s.sim("remove-adapter", "02")
        c = self.s.crycb(1)
        self.assertEqual((c["apm"], c["aqm"]), (mask([3]), mask([0])))
        self.assertIn("AP matrix: adapters/domains left the host configuration", self.s.sim("events", "1"))
        self.assertFalse(os.path.exists(os.path.join(self.s.tree, "devices/ap/card02")))
        rc, out, _ = self.s.ctl("list")
        self.assertNotIn("02.0000", out)
        self.assertEqual(self.s.cmd(v, "get", "mini-vmm: get"), "mini-vmm: get 03.0000")

    def test_domain_leaves_the_configuration(self):
        v = self.s.vmm("02.0000-0001")
        self.s.sim("remove-domain", "0001")
        self.assertEqual(self.s.crycb(1)["aqm"], mask([0]))
        self.assertEqual(self.s.read("bus/ap/ap_usage_domain_mask").strip(), mask([0, 2, 3, 0x1a]))

    def test_queue_unbind_unplugs_the_adapter(self):
        v = self.s.vmm("02-03.0000")
        self.s.sim("unbind", "02.0000")
        c = self.s.crycb(1)
        self.assertEqual(c["apm"], mask([3]))
        self.assertEqual(self.s.queue("02.0000")["driver"], "none")
        self.assertFalse(os.path.lexists(os.path.join(self.s.tree, "devices/ap/card02/02.0000/driver")))
        self.assertRefused(["set", "--pid", str(v.pid), "02-03.0000"], 3,
                           "apmatrix-ctl: 02.0000: not bound to the apmatrix driver (EADDRNOTAVAIL)\n")

    def test_reserve_release_with_the_busy_veto(self):
        masks = lambda: self.s.read("bus/ap/apmask") + self.s.read("bus/ap/aqmask")
        apmask0 = masks()
        rc, out, err = self.s.ctl("reserve", "05.0000")
        self.assertEqual((rc, err), (0, ""), out)
        self.assertEqual(self.s.queue("05.0000")["driver"], "apmatrix")
        v = self.s.vmm("05.0000")
        apmask1 = masks()
        self.assertNotEqual(apmask0, apmask1)
        self.assertRefused(["release", "05.0000"], 6,
                           "apmatrix-ctl: writing aqmask: Device or resource busy (EBUSY); nothing changed: "
                           "a guest holds a queue this would give back to the host (clear or change "
                           "that VM first)\n")
        self.assertEqual(masks(), apmask1)
        self.assertEqual(self.s.crycb(1)["apm"], mask([5]))
        self.assertEqual(self.s.ctl("clear", "--pid", str(v.pid))[0], 0)
        rc, out, err = self.s.ctl("release", "05.0000")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(masks(), apmask0)
        self.assertEqual(self.s.queue("05.0000")["driver"], "cex4queue")


class TestResets(E2E):
    polls = 10

    def test_reset_that_never_finishes_makes_the_queue_busy(self):
        v = self.s.vmm("02.0000-0001")
        self.s.sim("reset-mode", "02.0001", "never")
        self.assertEqual(self.s.cmd(v, "set 02.0000", "mini-vmm: set"), "mini-vmm: set ok 02.0000")
        self.assertEqual(self.s.queue("02.0001")["resetting"], "1")
        v2 = self.s.vmm("02.0001", expect=None)
        self.assertEqual(v2.wait(timeout=30), 3)
        self.assertEqual(v2.stderr.read(), "mini-vmm: start refused: 02.0001: still being reset after "
                                           "leaving another VM, or its reset failed (EBUSY)\n")
        self.assertIn("AP queue 02.0001: reset did not finish", self.s.sim("events", "1"))
        # unbinding the queue from apmatrix forgets the failure (driver remove())
        self.s.sim("reset-mode", "02.0001", "normal")
        self.s.sim("unbind", "02.0001")
        self.s.sim("bind", "02.0001", "apmatrix")
        v3 = self.s.vmm("02.0001")
        self.assertEqual(v3.lines[0].strip(), "mini-vmm: start ok 02.0001")

    def test_slow_reset_busy_window(self):
        self.s.sim("reset-timing", "1", "100000")
        v = self.s.vmm("03.0000")
        self.s.sim("reset-mode", "03.0000", "never")
        v.stdin.write("set\n")
        v.stdin.flush()
        for _ in range(1000):
            if self.s.queue("03.0000")["resetting"] == "1":
                break
            time.sleep(0.01)
        v2 = self.s.vmm()
        self.assertRefused(["set", "--pid", str(v2.pid), "03.0000"], 3,
                           "apmatrix-ctl: 03.0000: still being reset after leaving another VM, "
                           "or its reset failed (EBUSY)\n")
        self.s.sim("reset-mode", "03.0000", "normal")
        self.assertEqual(self.s.wait_line(v, "mini-vmm: set"), "mini-vmm: set ok (empty)")
        self.assertEqual(self.s.ctl("set", "--pid", str(v2.pid), "03.0000")[0], 0)

    def test_secure_execution_zapq_reissued(self):
        v = self.s.vmm("04.0000-0001")
        self.s.sim("reset-mode", "04.0000", "se-busy")
        self.s.sim("reset-mode", "04.0001", "se-failed")
        self.s.stop_vmm(v)
        self.s.wait_vms(0)
        for apqn in ("04.0000", "04.0001"):
            q = self.s.queue(apqn)
            self.assertEqual((q["zaps"], q["resets"], q["data"]), ("2", "1", "0"), apqn)
        self.s.vmm("04.0000-0001")


class TestRawIoctl(E2E):
    """The ioctl itself, as a VMM issues it: payload rules the CLI cannot produce."""

    def setUp(self):
        super().setUp()
        self.p = Preload(self.s)
        self.vm = self.p.create_vm()

    def tearDown(self):
        os.close(self.vm)
        super().tearDown()

    def attr(self, req, payload):
        buf = ctypes.create_string_buffer(bytes(payload or b""), 136)
        a = ctypes.create_string_buffer(struct.pack(
            "=IIQQ", 0, GROUP_CRYPTO, ATTR_SET_AP_MATRIX,
            ctypes.addressof(buf) if payload is not None else 1), 24)
        return self.p.ioctl(self.vm, req, a), buf.raw

    @staticmethod
    def matrix(apm=(), aqm=(), adm=(), flags=0, reserved=0):
        def words(ids):
            v = int(mask(ids), 16)
            return [(v >> (64 * (3 - i))) & (2**64 - 1) for i in range(4)]
        return struct.pack("=4Q4Q4QI9I", *words(apm), *words(aqm), *words(adm), flags,
                           reserved, *([0] * 8))

    def test_has_set_get(self):
        import errno
        self.assertEqual(self.attr(KVM_HAS_DEVICE_ATTR, self.matrix())[0], 0)
        p = self.matrix([2], [0, 1], [0x10])
        rc, after = self.attr(KVM_SET_DEVICE_ATTR, p)
        self.assertEqual((rc, after), (0, p))      # never written back
        rc, got = self.attr(KVM_GET_DEVICE_ATTR, b"\xff" * 136)
        self.assertEqual((rc, got), (0, self.matrix([2], [0, 1], [0x10])))
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, self.matrix(flags=4))[0], errno.EINVAL)
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, self.matrix(reserved=1))[0], errno.EINVAL)
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, None)[0], errno.EFAULT)
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, self.matrix([2], [0x55]))[0], errno.ENODEV)
        self.assertEqual(self.attr(KVM_GET_DEVICE_ATTR, b"")[1], self.matrix([2], [0, 1], [0x10]))
        self.s.sim("unregister")
        self.assertEqual(self.attr(KVM_HAS_DEVICE_ATTR, self.matrix())[0], errno.ENXIO)
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, self.matrix())[0], errno.EOPNOTSUPP)
        self.s.sim("register")

    def test_enomem_rolls_back(self):
        import errno
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, self.matrix([2], [0]))[0], 0)
        self.s.sim("fail-alloc", "3")
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, self.matrix([2, 3], [0, 1]))[0], errno.ENOMEM)
        self.s.sim("fail-alloc", "0")
        self.assertEqual(self.attr(KVM_GET_DEVICE_ATTR, b"")[1], self.matrix([2], [0]))
        self.assertEqual(self.s.crycb(1)["apm"], mask([2]))
        # nothing was left claimed: another VM takes every queue the failed request named
        self.s.vmm("03.0000-0001")


def main():
    global BUILD, SRC
    BUILD, SRC = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)


if __name__ == "__main__":
    main()
