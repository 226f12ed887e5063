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

A test leaves nothing behind, whichever way it ends (passes, fails, errs
in setUp or tearDown, the run is stopped with SIGTERM or its runner dies):
every process a Sim starts is in the Sim's own process group, dies with
this process (PR_SET_PDEATHSIG) and is killed with the group by
Sim.destroy(), which unittest cleanups, atexit and the SIGTERM handler call;
destroy() also removes the Sim's temporary tree. TestCleanup checks that
with cases that fail on purpose (class Deliberate*, which only run when
APSIM_E2E_DELIBERATE is set).

usage: e2e_test.py BUILDDIR SRCDIR [unittest args]
"""

import atexit
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


LIVE = []   # Sims not destroyed yet
_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _child_setup(pgid):
    """In the child before exec: join the Sim's process group (0: lead a
    new one) and die with the test process, whatever ends it."""
    def setup():
        try:
            os.setpgid(0, pgid)
        except OSError:
            os.setpgid(0, 0)    # the group's leader is gone: Sim.destroy() kills by pid too
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    return setup


def destroy_all():
    for s in list(LIVE):
        s.destroy()


def _on_sigterm(signum, frame):
    # meson's timeout and a user's kill: unwind to the interpreter's exit,
    # where atexit destroys every live Sim
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise KeyboardInterrupt("SIGTERM")


atexit.register(destroy_all)


class Sim:
    """One apsimd on one tree, and the environment of its clients."""

    def __init__(self, host=HOST_E2E, polls=20, apsimd_args=()):
        self.dir = tempfile.mkdtemp(prefix="apsim-e2e-")
        self.procs = []
        self.pgid = 0
        self.log = None
        LIVE.append(self)
        try:
            self._start(host, polls, apsimd_args)
        except BaseException:
            self.destroy()
            raise

    def _start(self, host, polls, apsimd_args):
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
        self.proc = self.spawn([os.path.join(BUILD, "sim/apsimd"), "--reset-interval", "1",
                                "--reset-polls", str(polls)] + list(apsimd_args) + [self.tree],
                               env=self.env, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.pgid = self.proc.pid
        line = self.proc.stdout.readline()
        if line.strip() != "apsimd: ready":
            raise RuntimeError("apsimd did not start: %r" % line)
        self.cenv = dict(self.env, LD_PRELOAD=os.path.join(BUILD, "sim/libapsim-preload.so"))
        self.vmms = []

    def spawn(self, argv, **kw):
        """Popen in the Sim's process group; destroy() kills it."""
        p = subprocess.Popen(argv, preexec_fn=_child_setup(self.pgid), **kw)
        self.procs.append(p)
        return p

    def run(self, argv, timeout=60, **kw):
        """subprocess.run, but through spawn()"""
        p = self.spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
        try:
            out, err = p.communicate(timeout=timeout)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
            self.procs.remove(p)
        return subprocess.CompletedProcess(argv, p.returncode, out, err)

    def ctl(self, *args):
        r = self.run([os.path.join(BUILD, "tools/apmatrix-ctl")] + list(args), env=self.cenv)
        return r.returncode, r.stdout, r.stderr

    def sim(self, *args):
        r = self.run([os.path.join(BUILD, "sim/apsimctl")] + list(args), env=self.env)
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
        p = self.spawn([os.path.join(BUILD, "examples/mini-vmm")] + list(args), env=e,
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
        """Stop the VMMs, let apsimd finish the VMs' teardown, read its
        counters and stop it. Whatever fails, destroy() still runs."""
        for p in self.vmms:
            if p.poll() is None:
                p.kill()
                p.wait()
        stats = {}
        try:
            self.wait_vms(0)    # VM teardown (reset, release) runs after the last close
            stats = self.kv("stats")
            self.sim("quit")
            self.proc.wait(timeout=10)
        finally:
            self.log.flush()
            with open(self.log.name) as fh:
                self.logtext = fh.read()
            self.destroy()
        return stats

    def destroy(self):
        """Kill every process of this Sim, reap it, close its pipes and
        remove the tree. Idempotent; safe on a half-started Sim."""
        if self not in LIVE:
            return
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.kill()
                except ProcessLookupError:
                    pass
        if self.pgid:
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for f in (p.stdin, p.stdout, p.stderr):
                if f:
                    try:
                        f.close()
                    except OSError:
                        pass
        if self.log:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        LIVE.remove(self)


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
    apsimd_args = ()

    def setUp(self):
        self.s = Sim(self.host, self.polls, self.apsimd_args)
        # runs even when setUp or tearDown of a subclass fails
        self.addCleanup(self.s.destroy)

    def tearDown(self):
        stats = self.s.close()
        log = self.s.logtext
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
        # rmmod ap_matrix_drv: its remove() takes every queue from the guests
        self.s.sim("unregister")
        try:
            self.assertEqual(self.s.crycb(1)["apm"], mask([]))
            self.assertEqual(self.s.queue("02.0000")["driver"], "none")
            self.assertEqual(self.s.queue("02.0000")["data"], "0")     # reset on the way out
            self.assertRefused(["set", "--pid", self.pid, "03.0000"], 4,
                               "apmatrix-ctl: set: the host has no AP instructions or no apmatrix "
                               "AP driver is registered (EOPNOTSUPP)\n")
            self.assertEqual(self.s.ctl("probe", "--pid", self.pid),
                             (4, "KVM_S390_VM_CRYPTO_SET_AP_MATRIX: not available\n", ""))
        finally:
            self.s.sim("register")
        # modprobe again: the queues set aside are the driver's again
        self.assertEqual(self.s.queue("02.0000")["driver"], "apmatrix")
        self.assertEqual(self.s.ctl("set", "--pid", self.pid, "02.0000")[0], 0)
        self.before = self.s.crycb(1)   # the same masks, two more vCPU kick rounds

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
        self.assertIn("AP matrix: IDs left the host configuration", self.s.sim("events", "1"))
        self.assertFalse(os.path.exists(os.path.join(self.s.tree, "devices/ap/card02")))
        rc, out, _ = self.s.ctl("list")
        self.assertNotIn("02.0000", out)
        self.assertEqual(self.s.cmd(v, "get", "mini-vmm: get"), "mini-vmm: get 03.0000")

    def test_domain_leaves_the_configuration(self):
        v = self.s.vmm("02.0000-0001")
        self.s.sim("remove-domain", "0001")
        self.assertEqual(self.s.crycb(1)["aqm"], mask([0]))
        self.assertEqual(self.s.read("bus/ap/ap_usage_domain_mask").strip(), mask([0, 2, 3, 0x1a]))

    def test_control_domain_leaves_the_configuration(self):
        v = self.s.vmm("-c", "0010,0001", "02.0000")
        self.assertEqual(self.s.crycb(1)["adm"], mask([1, 0x10]))
        self.s.sim("remove-control-domain", "0010")
        self.s.sim("flush")         # the worker rewrites the CRYCB
        c = self.s.crycb(1)
        self.assertEqual((c["apm"], c["aqm"], c["adm"]), (mask([2]), mask([0]), mask([1])))
        self.assertEqual(self.s.read("bus/ap/ap_control_domain_mask").strip(), mask([0, 1, 2, 3, 0x1a]))
        # it is not the host's any more: ENODEV (how the CLI explains it is
        # libapmatrix's business: only the errno is checked here)
        rc, out, err = self.s.ctl("set", "--pid", str(v.pid), "02.0000", "-c", "0010")
        self.assertEqual(rc, 3, err)
        self.assertTrue(err.startswith("apmatrix-ctl: control domain 0010: ") and
                        err.endswith("(ENODEV)\n"), err)
        self.assertEqual(self.s.crycb(1)["adm"], mask([1]))

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


class TestReserveVfio(E2E):
    """reserve when vfio_ap registered before apmatrix (built in): the bus's
    re-probe after the mask write gives vfio_ap the queues; reserve moves
    those no mediated device has to apmatrix, refuses one a mediated device
    has with nothing changed, and --no-rebind leaves them and says so."""
    apsimd_args = ("--vfio-ap-first",)
    APQNS = ["%02x.%04x" % (a, d) for a in range(2, 6) for d in range(4)]

    def state(self):
        """masks, every queue's driver and vfio_ap's status attributes"""
        drivers = {q: self.s.queue(q)["driver"] for q in self.APQNS}
        status = {}
        for q in self.APQNS:
            p = os.path.join(self.s.tree, "devices/ap/card%s/%s/status" % (q[:2], q))
            if os.path.exists(p):
                status[q] = self.s.read(os.path.relpath(p, self.s.tree))
        return (self.s.read("bus/ap/apmask"), self.s.read("bus/ap/aqmask"), drivers, status)

    def test_reserve_moves_queues_vfio_ap_got(self):
        before = self.state()
        rc, out, err = self.s.ctl("reserve", "05.0000-0001")
        self.assertEqual((rc, err), (0, ""), out)
        self.assertEqual(out.splitlines()[-2:], ["05.0000: moved from vfio_ap to apmatrix",
                                                 "05.0001: moved from vfio_ap to apmatrix"], out)
        after = self.state()
        self.assertEqual(after[1], "0x3" + "f" * 63 + "\n")   # aqmask: 0000-0001 cleared
        self.assertEqual(after[2]["05.0000"], "apmatrix")
        self.assertEqual(after[2]["05.0001"], "apmatrix")
        # nothing else moved; vfio_ap's status attribute went with vfio_ap
        changed = {q for q in self.APQNS if before[2][q] != after[2][q]}
        self.assertEqual(changed, {"05.0000", "05.0001"})
        self.assertNotIn("05.0000", after[3])
        # a VM can have them now (not EADDRNOTAVAIL)
        v = self.s.vmm("05.0000-0001")
        self.assertEqual(self.s.crycb(1)["apm"], mask([5]))

    def test_reserve_json_says_what_moved(self):
        rc, out, err = self.s.ctl("reserve", "--json", "05.0000")
        self.assertEqual((rc, err), (0, ""), out)
        doc = json.loads(out)
        self.assertTrue(doc["applied"])
        self.assertEqual(doc["queues"], [{"apqn": "05.0000", "driver": "vfio_ap",
                                          "action": "moved", "reason": None}])

    def test_reserve_refuses_a_queue_a_mediated_device_has(self):
        # 04.0003 is vfio_ap's and in use by a guest through a mediated
        # device; 05.0003 is the host's: reserving both would clear aqmask
        # bit 0003
        before = self.state()
        self.assertEqual(before[3]["04.0003"], "in use\n")
        rc, out, err = self.s.ctl("reserve", "04-05.0003")
        self.assertEqual(rc, 2, out + err)
        self.assertEqual(err, "apmatrix-ctl: 04.0003: bound to vfio_ap and in use by a guest "
                              "through a mediated device (status 'in use'): nothing changed\n")
        self.assertEqual(self.state(), before)
        # the same with --json: the document names it, then the error
        rc, out, err = self.s.ctl("reserve", "--json", "04-05.0003")
        self.assertEqual(rc, 2, out + err)
        doc = json.loads(out)
        self.assertFalse(doc["applied"])
        self.assertIn({"apqn": "04.0003", "driver": "vfio_ap", "action": "refused",
                       "reason": "bound to vfio_ap and in use by a guest through a mediated "
                                 "device (status 'in use')"}, doc["queues"])
        self.assertEqual(self.state(), before)
        # a mediated device assigned it but no guest uses it: refused too
        self.s.sim("vfio-ap-assign", "04.0003")
        before = self.state()
        self.assertEqual(before[3]["04.0003"], "assigned\n")
        rc, out, err = self.s.ctl("reserve", "04.0003")
        self.assertEqual((rc, out, err), (2, "", "apmatrix-ctl: 04.0003: bound to vfio_ap and "
                                               "assigned to a mediated device (status 'assigned'): "
                                               "nothing changed\n"))
        self.assertEqual(self.state(), before)
        # unassigned: moved
        self.s.sim("vfio-ap-unassign", "04.0003")
        rc, out, err = self.s.ctl("reserve", "04.0003")
        self.assertEqual((rc, out, err), (0, "04.0003: moved from vfio_ap to apmatrix\n", ""))

    def test_dry_run_predicts_moves_and_refusals(self):
        # what --dry-run says reserve would do, from the drivers now: the
        # same refusal and exit status, the same move, nothing changed
        before = self.state()
        real = "apmatrix-ctl: 04.0003: bound to vfio_ap and in use by a guest " \
               "through a mediated device (status 'in use'): nothing changed\n"
        rc, out, err = self.s.ctl("reserve", "--dry-run", "04-05.0003")
        self.assertEqual((rc, err), (2, real), out)
        self.assertNotIn("dry run: nothing written", out)
        self.assertEqual(self.state(), before)
        rc, out, err = self.s.ctl("reserve", "--dry-run", "--json", "05.0000")
        self.assertEqual((rc, err), (0, ""), out)
        doc = json.loads(out)
        self.assertFalse(doc["applied"])
        self.assertEqual(doc["queues"], [{"apqn": "05.0000", "driver": "cex4queue",
                                          "action": "reprobe",
                                          "reason": "vfio_ap may get it from the bus's re-probe: "
                                                    "then it is moved unless a mediated device "
                                                    "has it"}])
        self.assertEqual(self.state(), before)
        self.s.sim("vfio-ap-unassign", "04.0003")
        before = self.state()
        rc, out, err = self.s.ctl("reserve", "--dry-run", "04.0003")
        self.assertEqual((rc, out, err), (0, "04.0003: would be moved from vfio_ap to apmatrix\n"
                                             "dry run: nothing written\n", ""))
        self.assertEqual(self.state(), before)
        rc, out, err = self.s.ctl("reserve", "04.0003")
        self.assertEqual((rc, out, err), (0, "04.0003: moved from vfio_ap to apmatrix\n", ""))

    def test_dry_run_refused_says_what_reserve_says(self):
        # 03.0003 given to vfio_ap (no mediated device has it), 04.0003 in
        # use: reserve refuses all of it. The dry run printed "03.0003:
        # would be moved" before the refusal, and its JSON said "moved"
        # where reserve's says "left": now the same lines, the same queues
        self.s.sim("bind", "03.0003", "vfio_ap")
        before = self.state()
        outs = []
        for dry in (["--dry-run"], []):
            rc, out, err = self.s.ctl("reserve", *dry, "03-05.0003")
            rc2, js, err2 = self.s.ctl("reserve", "--json", *dry, "03-05.0003")
            queues = [{k: q[k] for k in ("apqn", "action", "reason")}
                      for q in json.loads(js)["queues"]]
            outs.append((rc, out, err, rc2, err2, queues))
            self.assertEqual(self.state(), before)
        self.assertEqual(outs[0], outs[1])
        self.assertEqual(outs[0][0], 2)
        self.assertNotIn("03.0003", outs[0][1])

    def apply_conf(self):
        conf = os.path.join(self.s.dir, "etc")
        os.mkdir(conf)
        with open(os.path.join(conf, "apmatrix.conf"), "w") as fh:
            fh.write("[guests]\nadapters = 02-05\n")
        return conf

    def test_apply_moves_what_vfio_ap_got(self):
        # apply goes through reserve's code: adapter 05 taken, the bus's
        # re-probe gives its queues to vfio_ap; they are moved, 03.0003
        # (no driver) bound, 04.0003 (vfio_ap's, set aside already) left
        conf = self.apply_conf()
        before = self.state()
        rc, out, err = self.s.ctl("apply", "--config-dir", conf)
        self.assertEqual((rc, err), (0, ""), out)
        lines = out.splitlines()
        self.assertIn("bind to apmatrix: 03.0003", lines)
        self.assertEqual([ln for ln in lines if ln.startswith("moved")],
                         ["moved from vfio_ap to apmatrix: 05.%04x (the AP bus gave it to vfio_ap)" % d
                          for d in (0, 1, 2, 3, 0x1a)], out)
        self.assertEqual(lines[-1], "applied")
        after = self.state()
        for q in ["05.%04x" % d for d in range(4)] + ["03.0003"]:
            self.assertEqual(after[2][q], "apmatrix", q)
        self.assertEqual(after[2]["04.0003"], "vfio_ap")
        self.assertEqual(after[3]["04.0003"], before[3]["04.0003"])
        rc, out, err = self.s.ctl("apply", "--config-dir", conf)
        self.assertEqual((rc, out, err), (0, "nothing to do: the host matches %s\n" % conf, ""))

    def test_apply_refuses_what_vfio_ap_got_that_a_mdev_has(self):
        # a mediated device has 05.0003: once the re-probe gave it to
        # vfio_ap it is refused before anything is moved or bound. Its
        # apmask bit cannot go back (vfio_ap vetoes taking an assigned
        # queue from it): the message says the mask stays, exit 2
        self.s.sim("vfio-ap-assign", "05.0003")
        conf = self.apply_conf()
        before = self.state()
        rc, out, err = self.s.ctl("apply", "--config-dir", conf)
        self.assertEqual(rc, 2, out + err)
        self.assertTrue(err.startswith("apmatrix-ctl: apply: 05.0003: bound to vfio_ap and assigned "
                                       "to a mediated device (status 'assigned'); undoing it "
                                       "failed: writing apmask back to 0xc7") and
                        err.endswith(": it stays 0xc3" + "f" * 62 + "\n"), err)
        self.assertNotIn("applied", out)
        after = self.state()
        self.assertEqual(after[0], "0xc3" + "f" * 62 + "\n")
        self.assertEqual(after[2]["03.0003"], "none")    # not bound
        self.assertEqual({q: after[2][q] for q in after[2] if q[:2] != "05"},
                         {q: before[2][q] for q in before[2] if q[:2] != "05"})

    def test_apply_failure_gives_back_what_it_gave_back(self):
        # the configuration gives adapter 02 back to the host and takes 05;
        # 05.0001's bind to apmatrix fails: the undo writes apmask back, and
        # the bus's re-probe gives 02's queues to vfio_ap (registered first),
        # not to apmatrix, which had them: they are moved back to apmatrix
        # (apply said "nothing changed" with 02 now vfio_ap's)
        conf = os.path.join(self.s.dir, "etc")
        os.mkdir(conf)
        with open(os.path.join(conf, "apmatrix.conf"), "w") as fh:
            fh.write("[guests]\nadapters = 03-05\n")
        before = self.state()
        self.s.sim("fail-bind", "05.0001")
        rc, out, err = self.s.ctl("apply", "--config-dir", conf)
        self.assertEqual(rc, 2, out + err)
        self.assertIn("give back to the host: 02.0000", out)
        self.assertTrue(err.startswith("apmatrix-ctl: apply: binding 05.0001: writing ") and
                        err.endswith(": nothing changed\n"), err)
        self.assertEqual(self.state(), before)

    def test_failure_after_the_write_rolls_everything_back(self):
        # the apmatrix driver is gone (its sysfs directory stays in the
        # tree): binding to it fails after the masks were written and
        # vfio_ap got the queues; all is undone, masks and bindings
        self.s.sim("unregister")
        before = self.state()
        rc, out, err = self.s.ctl("reserve", "05.0000-0001")
        self.assertEqual(rc, 2, out + err)
        self.assertTrue(err.startswith("apmatrix-ctl: binding 05.0000: writing ") and
                        err.endswith(": nothing changed\n"), err)
        self.assertEqual(self.state(), before)
        self.s.sim("register")

    def test_a_later_failure_undoes_the_earlier_move(self):
        # 04.0003 (vfio_ap's, no mediated device has it now) is moved, then
        # 05.0003, which the re-probe gave vfio_ap, fails to bind to
        # apmatrix (its probe() fails): 04.0003 goes back to vfio_ap and
        # aqmask is written back (the bus gives 05.0003 to cex4queue again)
        self.s.sim("vfio-ap-unassign", "04.0003")
        before = self.state()
        self.s.sim("fail-bind", "05.0003")
        rc, out, err = self.s.ctl("reserve", "04-05.0003")
        self.assertEqual(rc, 2, out + err)
        self.assertTrue(err.startswith("apmatrix-ctl: binding 05.0003: writing ") and
                        err.endswith("Cannot allocate memory (ENOMEM): nothing changed\n"), err)
        self.assertEqual(self.state(), before)

    def test_a_refusal_after_the_reprobe_touches_no_queue(self):
        # a mediated device got 05.0003 (as a racing admin's assign_adapter
        # right after the mask write would): the re-probe gives it to vfio_ap
        # "assigned". 03.0003 (no driver) must not be bound to apmatrix and
        # unbound again on the way (each resets the queue). aqmask cannot be
        # written back (vfio_ap's in_use() vetoes it): the message says what
        # it stays, and the JSON says the masks are written.
        q0 = self.s.queue("03.0003")
        self.s.sim("vfio-ap-assign", "05.0003")
        rc, out, err = self.s.ctl("reserve", "--json", "03.0003,05.0003")
        self.assertEqual(rc, 2, out + err)
        self.assertEqual(err, "apmatrix-ctl: 05.0003: bound to vfio_ap and assigned to a mediated "
                              "device (status 'assigned'); undoing it failed: writing aqmask back "
                              "to 0x" + "f" * 64 + ": Device or resource busy (EBUSY): it stays "
                              "0xe" + "f" * 63 + "\n")
        doc = json.loads(out)
        self.assertEqual(doc["queues"], [
            {"apqn": "03.0003", "driver": None, "action": "left",
             "reason": "not bound to apmatrix: the reserve failed"},
            {"apqn": "05.0003", "driver": "vfio_ap", "action": "refused",
             "reason": "bound to vfio_ap and assigned to a mediated device (status 'assigned')"}])
        self.assertTrue(doc["applied"])
        self.assertEqual(self.s.read("bus/ap/aqmask"), "0xe" + "f" * 63 + "\n")
        q1 = self.s.queue("03.0003")
        self.assertEqual((q1["driver"], q1["zaps"], q1["resets"]),
                         ("none", q0["zaps"], q0["resets"]))

    def test_no_rebind_leaves_them_and_says_so(self):
        rc, out, err = self.s.ctl("reserve", "--no-rebind", "05.0000")
        self.assertEqual((rc, err), (0, ""), out)
        self.assertEqual(out.splitlines()[-1],
                         "05.0000: bound to vfio_ap, left there (no rebinding asked for): "
                         "a VM cannot have it until it is bound to apmatrix")
        self.assertEqual(self.s.queue("05.0000")["driver"], "vfio_ap")
        # a reserve without it, masks already right, moves it now
        rc, out, err = self.s.ctl("reserve", "05.0000")
        self.assertEqual((rc, out, err), (0, "05.0000: moved from vfio_ap to apmatrix\n", ""))
        self.assertEqual(self.s.queue("05.0000")["driver"], "apmatrix")
        # and once more: nothing to do
        rc, out, err = self.s.ctl("reserve", "05.0000")
        self.assertEqual((rc, out, err),
                         (0, "nothing to do: the host's default drivers hold none of these queues\n", ""))

    def test_release_gives_vfio_aps_queue_back(self):
        rc, out, err = self.s.ctl("reserve", "--no-rebind", "05.0000")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.s.ctl("release", "05.0000")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(self.s.queue("05.0000")["driver"], "cex4queue")


class TestResets(E2E):
    polls = 10

    def test_reset_that_never_finishes_makes_the_queue_busy(self):
        self.s.sim("worker-polls", "30")
        v = self.s.vmm("02.0000-0001")
        self.s.sim("reset-mode", "02.0001", "never")
        # the SET waits its short bound, then leaves the reset to the worker
        self.assertEqual(self.s.cmd(v, "set 02.0000", "mini-vmm: set"), "mini-vmm: set ok 02.0000")
        self.assertEqual(self.s.queue("02.0001")["resetting"], "1")
        busy = "mini-vmm: start refused: 02.0001: still being reset after leaving another VM, " \
               "or its reset failed (EBUSY)\n"
        v2 = self.s.vmm("02.0001", expect=None)
        self.assertEqual(v2.wait(timeout=30), 3)
        self.assertEqual(v2.stderr.read(), busy)
        # the worker gives up: the queue is failed, still EBUSY, and says so
        for _ in range(500):
            if self.s.sim("attr", "02.0001", "apmatrix_state") == "reset failed\n":
                break
            time.sleep(0.01)
        self.assertEqual(self.s.sim("attr", "02.0001", "apmatrix_state"), "reset failed\n")
        self.assertIn("reset of AP queue 02.0001 did not complete", self.s.sim("dmesg"))
        v2 = self.s.vmm("02.0001", expect=None)
        self.assertEqual(v2.wait(timeout=30), 3)
        self.assertEqual(v2.stderr.read(), busy)
        # unbinding does not forget it; bound again, probe() resets it again
        self.s.sim("reset-mode", "02.0001", "normal")
        self.s.sim("unbind", "02.0001")
        self.s.sim("bind", "02.0001", "apmatrix")
        self.s.sim("flush")
        self.assertEqual(self.s.sim("attr", "02.0001", "apmatrix_state"), "free\n")
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


class RawIoctl:
    """KVM_{HAS,SET,GET}_DEVICE_ATTR issued on self.vm through self.p (a Preload)"""

    def attr(self, req, payload):
        buf = ctypes.create_string_buffer(bytes(payload or b""), 136)
        a = ctypes.create_string_buffer(struct.pack(
            "=IIQQ", 0, GROUP_CRYPTO, ATTR_SET_AP_MATRIX,
            ctypes.addressof(buf) if payload is not None else 1), 24)
        return self.p.ioctl(self.vm, req, a), buf.raw

    @staticmethod
    def matrix(apm=(), aqm=(), adm=(), flags=0, grant_fd=0, reserved=(0,) * 8):
        """struct kvm_s390_ap_matrix: masks, flags at 96, grant_fd at 100, reserved[8] at 104"""
        def words(ids):
            v = int(mask(ids), 16)
            return [(v >> (64 * (3 - i))) & (2**64 - 1) for i in range(4)]
        return struct.pack("=4Q4Q4QIi8I", *words(apm), *words(aqm), *words(adm), flags,
                           grant_fd, *reserved)


class TestRawIoctl(RawIoctl, E2E):
    """The ioctl itself, as a VMM issues it: payload rules the CLI cannot produce."""

    def setUp(self):
        super().setUp()
        self.p = Preload(self.s)
        self.vm = self.p.create_vm()

    def tearDown(self):
        os.close(self.vm)
        super().tearDown()

    def test_has_set_get(self):
        import errno
        self.assertEqual(self.attr(KVM_HAS_DEVICE_ATTR, self.matrix())[0], 0)
        p = self.matrix([2], [0, 1], [0x10])
        rc, after = self.attr(KVM_SET_DEVICE_ATTR, p)
        self.assertEqual((rc, after), (0, p))      # never written back
        rc, got = self.attr(KVM_GET_DEVICE_ATTR, b"\xff" * 136)
        self.assertEqual((rc, got), (0, self.matrix([2], [0, 1], [0x10])))
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, self.matrix(flags=8))[0], errno.EINVAL)
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, self.matrix(flags=1 << 31))[0], errno.EINVAL)
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, self.matrix(reserved=(1,) + (0,) * 7))[0],
                         errno.EINVAL)
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, self.matrix(reserved=(0,) * 7 + (1,)))[0],
                         errno.EINVAL)
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, None)[0], errno.EFAULT)
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, self.matrix([2], [0x55]))[0], errno.ENODEV)
        self.assertEqual(self.attr(KVM_GET_DEVICE_ATTR, b"")[1], self.matrix([2], [0, 1], [0x10]))
        self.s.sim("unregister")
        self.assertEqual(self.attr(KVM_HAS_DEVICE_ATTR, self.matrix())[0], errno.ENXIO)
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, self.matrix())[0], errno.EOPNOTSUPP)
        self.s.sim("register")

    def test_eexist_with_a_vfio_ap_mdev_and_back(self):
        """EEXIST while vfio_ap owns the VM's AP configuration; vfio_ap in
        turn refuses a VM that holds an AP matrix"""
        import errno
        vm = self.s.vm_ids()[0]
        self.s.sim("vfio-ap-attach", str(vm))
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, self.matrix([2], [0]))[0], errno.EEXIST)
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, self.matrix([2], [0], flags=1))[0],
                         errno.EEXIST)
        self.assertEqual(self.s.queue("02.0000")["data"], "0")
        self.s.sim("vfio-ap-detach", str(vm))
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, self.matrix([2], [0]))[0], 0)
        with self.assertRaises(RuntimeError) as cm:
            self.s.sim("vfio-ap-attach", str(vm))
        self.assertIn("File exists", str(cm.exception))
        # the empty matrix: the VM holds no AP matrix any more, vfio_ap may
        # have it (kvm->arch.crypto.ap_matrix cleared), and then owns it
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, self.matrix())[0], 0)
        self.s.sim("vfio-ap-attach", str(vm))
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, self.matrix([2], [0]))[0], errno.EEXIST)
        self.s.sim("vfio-ap-detach", str(vm))
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, self.matrix([2], [0]))[0], 0)

    def test_enomem_rolls_back(self):
        import errno
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, self.matrix([2], [0]))[0], 0)
        # the SET's only allocation: the VM's entry on adapter 03's holder list
        self.s.sim("fail-alloc", "1")
        self.assertEqual(self.attr(KVM_SET_DEVICE_ATTR, self.matrix([2, 3], [0, 1]))[0], errno.ENOMEM)
        self.s.sim("fail-alloc", "0")
        self.assertEqual(self.attr(KVM_GET_DEVICE_ATTR, b"")[1], self.matrix([2], [0]))
        self.assertEqual(self.s.crycb(1)["apm"], mask([2]))
        # nothing was left claimed: another VM takes every queue the failed request named
        self.s.vmm("03.0000-0001")


HOST_EDGES = {
    "description": "the CRYCB format 0/1 edges: adapters 02, 3f, 40 x domains 0000, 000f, 0010, "
                   "all taken for guests (bound to apmatrix)",
    "ap_domain": 0,
    "ap_max_adapter_id": 255,
    "ap_max_domain_id": 84,
    "usage_domains": "00,0f,10",
    "control_domains": "00,0f,10",
    "apmask_clear": "02,3f,40",
    "cards": [{"ids": "02,3f,40", "type": "CEX8C"}],
    "taken_driver": "apmatrix",
}


class TestEdges(RawIoctl, E2E):
    """What KUnit checks, now end to end through the VM ioctl: the CRYCB
    format limits at their edges, and the rule order when one request
    breaks two rules that depend on other VMs."""
    host = HOST_EDGES

    def setUp(self):
        super().setUp()
        self.p = Preload(self.s)
        self.vms = []

    def tearDown(self):
        for vm in self.vms:
            os.close(vm)
        super().tearDown()
        os.environ.pop("APMATRIX_SIM_CRYCB_FORMAT", None)

    def new_vm(self, fmt=2):
        os.environ["APMATRIX_SIM_CRYCB_FORMAT"] = str(fmt)
        self.vm = self.p.create_vm()
        self.vms.append(self.vm)
        return self.s.vm_ids()[0]     # apsimd lists the newest VM first

    def set(self, *a, **kw):
        return self.attr(KVM_SET_DEVICE_ATTR, self.matrix(*a, **kw))[0]

    def test_crycb_format0_and_1_edges(self):
        import errno
        for fmt in (0, 1):
            with self.subTest(format=fmt):
                vm = self.new_vm(fmt)
                # the last adapter, usage domain and control domain the format holds
                self.assertEqual(self.set([0x3f], [0x0f], [0x0f]), 0)
                c = self.s.crycb(vm)
                self.assertEqual((c["apm"], c["aqm"], c["adm"]),
                                 (mask([0x3f]), mask([0x0f]), mask([0x0f])))
                # one beyond each: ENODEV, and nothing changes
                self.assertEqual(self.set([0x40], [0x00]), errno.ENODEV)
                self.assertEqual(self.set([0x02], [0x10]), errno.ENODEV)
                self.assertEqual(self.set([0x02], [0x00], [0x10]), errno.ENODEV)
                self.assertEqual(self.set([0x3f, 0x40], [0x0f]), errno.ENODEV)
                self.assertEqual(self.set([0x02], [0x00], flags=1), 0)     # VALIDATE_ONLY
                self.assertEqual(self.set([0x02], [0x10], flags=1), errno.ENODEV)
                self.assertEqual(self.s.crycb(vm), c)
                self.assertIn("adapter 40 out of range (ENODEV)", self.s.sim("events", str(vm)))
                self.assertEqual(self.set(), 0)     # release 3f.000f for the next VM

    def test_format2_holds_what_0_and_1_refuse(self):
        vm = self.new_vm(2)
        self.assertEqual(self.set([0x40], [0x10], [0x10]), 0)
        c = self.s.crycb(vm)
        self.assertEqual((c["apm"], c["aqm"], c["adm"]), (mask([0x40]), mask([0x10]), mask([0x10])))

    def test_eaddrinuse_wins_over_ebusy_in_one_request(self):
        """In one raw request an APQN held by another VM and one still
        resetting: EADDRINUSE, whichever comes first in the walk."""
        import errno
        holder = self.new_vm()
        self.assertEqual(self.set([0x3f], [0x00, 0x0f]), 0)          # holds 3f.0000, 3f.000f
        leaver = self.new_vm()
        self.assertEqual(self.set([0x02, 0x40], [0x00, 0x0f]), 0)
        self.s.sim("reset-timing", "1", "100000")
        for q in ("02.000f", "40.0000"):
            self.s.sim("reset-mode", q, "never")
        # leaver gives up 02.000f and 40.0000; their resets do not finish: the
        # SET waits for them, so issue it from a thread
        import threading
        t = threading.Thread(target=self.attr, args=(KVM_SET_DEVICE_ATTR,
                                                     self.matrix([0x02], [0x00])))
        t.start()
        try:
            for _ in range(1000):
                if all(self.s.queue(q)["resetting"] == "1" for q in ("02.000f", "40.0000")):
                    break
                time.sleep(0.01)
            asker = self.new_vm()
            # the resetting 02.000f comes before the held 3f.000f in the walk
            self.assertEqual(self.set([0x02, 0x3f], [0x0f]), errno.EADDRINUSE)
            # the held 3f.0000 comes before the resetting 40.0000
            self.assertEqual(self.set([0x3f, 0x40], [0x00]), errno.EADDRINUSE)
            self.assertEqual(self.set([0x3f, 0x40], [0x00], flags=1), errno.EADDRINUSE)
            # each alone
            self.assertEqual(self.set([0x02], [0x0f]), errno.EBUSY)
            self.assertEqual(self.set([0x3f], [0x0f]), errno.EADDRINUSE)
            self.assertEqual(self.s.crycb(asker)["apm"], mask([]))
            self.assertIn("3f.000f held by another VM (EADDRINUSE)", self.s.sim("events", str(asker)))
        finally:
            for q in ("02.000f", "40.0000"):
                self.s.sim("reset-mode", q, "normal")
            t.join(timeout=30)
        self.assertFalse(t.is_alive())
        self.assertEqual(self.s.crycb(leaver)["apm"], mask([2]))
        self.assertEqual(self.s.crycb(holder)["apm"], mask([0x3f]))


@unittest.skipUnless(os.geteuid() == 0, "needs root: CAP_SYS_ADMIN, setpriv to nobody")
class TestGrants(E2E):
    """The authority rules of 2026-12-01 with a client that knows only the
    contract (contract_client.py), run with the preload library as root, as
    nobody (setpriv) and in a user namespace (unshare -r): capable() is
    decided from its real credentials, grants are real fds."""

    NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]

    def setUp(self):
        super().setUp()
        # an unprivileged client must reach the tree and the socket
        os.chmod(self.s.dir, 0o755)

    def client(self, *args, as_user=(), env=None, hold=False):
        e = dict(self.s.cenv, **(env or {}))
        argv = list(as_user) + [sys.executable, os.path.join(SRC, "tests/e2e/contract_client.py")]
        argv += list(args)
        if hold:
            p = self.s.spawn(argv, env=dict(e, APSIM_CLIENT_HOLD="1"), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            p.out = json.loads(p.stdout.readline())
            return p
        r = self.s.run(argv, env=e)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_root_needs_no_grant(self):
        out = self.client("vmm", "set:02.0000-0001/10", "state:02.0000", "set:-")
        self.assertEqual(out["uid"], 0)
        self.assertEqual(out["results"], [0, 0])
        # apmatrix_state (0400) is root's to read
        self.assertEqual(out["state"]["02.0000"], "in use %d\n" % out["pid"])

    def test_nobody_without_grant(self):
        import errno
        v = self.s.vmm("03.0000")       # another VM holds 03.0000
        out = self.client("vmm", "set:02.0000", "set:03.0000", "set:-/10", "set:-",
                          as_user=self.NOBODY)
        self.assertEqual(out["uid"], 65534)
        # EPERM, also where another VM holds the queue: nothing learnt about it
        self.assertEqual(out["results"], [errno.EPERM, errno.EPERM, errno.EPERM, 0])
        self.assertEqual(self.client("grant", "02.0000", as_user=self.NOBODY),
                         {"grant": errno.EACCES})    # /dev/apmatrix is root's, 0600
        self.assertEqual(self.s.queue("02.0000")["data"], "0")

    def test_capabilities_of_another_user_namespace_do_not_count(self):
        import errno
        if subprocess.run(["unshare", "-r", "true"], capture_output=True).returncode:
            self.skipTest("no user namespaces here (unshare -r fails)")
        out = self.client("vmm", "set:02.0000", "set:-", as_user=["unshare", "-r"])
        self.assertEqual(out["results"], [errno.EPERM, 0])

    def test_grant_handed_to_an_unprivileged_vmm_over_exec(self):
        import errno
        out = self.client("grant", "02.0000-0001/10", "--", *self.NOBODY, sys.executable,
                          os.path.join(SRC, "tests/e2e/contract_client.py"), "vmm",
                          "set:02.0000-0001/10:g",      # what the grant covers
                          "state:02.0001",
                          "set:02-03.0000-0001/10:g",   # 03 is not covered
                          "set:02.0000-0002/10:g",      # nor domain 0002
                          "set:02.0000-0001/10,1a:g",   # nor control domain 001a
                          "set:02.0001:",               # shrink: no grant needed
                          "set:02.0001/10:",            # re-adding 10: needs the grant
                          "set:02.0000-0001/10:g",      # back
                          "set:02.0000-0001/10:r",      # RESET of what it holds: no grant
                          "set:02.0000:b",              # GRANT, grant_fd not open
                          "set:02.0000:n",              # GRANT, an open fd that is no grant
                          "set:02.0000:z",              # grant_fd without GRANT
                          "set:-")
        self.assertEqual(out["uid"], 65534)
        self.assertEqual(out["results"], [0, errno.EPERM, errno.EPERM, errno.EPERM, 0,
                                          errno.EPERM, 0, 0, errno.EBADF, errno.EINVAL,
                                          errno.EINVAL, 0])
        # apmatrix_state is root only (0400): no user learns which VMM holds a queue
        self.assertEqual(out["state"]["02.0001"], "errno %d" % errno.EACCES)
        self.assertEqual(out["link"], "anon_inode:[apmatrix-grant]")
        lines = out["fdinfo"].splitlines()
        self.assertEqual(lines[-3:], ["apm:\t" + mask([2]), "aqm:\t" + mask([0, 1]),
                                      "adm:\t" + mask([0x10])])
        self.assertTrue(lines[0].startswith("pos:") and lines[1].startswith("flags:"), lines)
        self.assertEqual(self.s.queue("02.0001")["resets"], "2")   # the RESET, then the exit

    def test_another_process_reads_a_grants_fdinfo(self):
        """as a root tool looks at what a VMM's grant allows"""
        p = self.s.spawn([sys.executable, os.path.join(SRC, "tests/e2e/contract_client.py"),
                          "grant", "03.0001-0002/10", "--", sys.executable,
                          os.path.join(SRC, "tests/e2e/contract_client.py"), "vmm"],
                         env=dict(self.s.cenv, APSIM_CLIENT_HOLD="1"), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out = json.loads(p.stdout.readline())
        r = self.s.run(["cat", "/proc/%d/fdinfo/%d" % (out["pid"], out["grant_fd"])],
                       env=self.s.cenv)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines()[-3:], ["apm:\t" + mask([3]), "aqm:\t" + mask([1, 2]),
                                                      "adm:\t" + mask([0x10])])
        r = self.s.run(["readlink", "/proc/%d/fd/%d" % (out["pid"], out["grant_fd"])],
                       env=self.s.cenv)
        self.assertEqual(r.stdout, "anon_inode:[apmatrix-grant]\n")
        p.stdin.close()
        p.wait(timeout=30)

    def test_grant_as_root(self):
        import errno
        out = self.client("grant", "02.0000/10")
        self.assertEqual((out["grant"], out["cloexec"], out["link"]),
                         (0, True, "anon_inode:[apmatrix-grant]"))
        self.assertIn("aqm:\t" + mask([0]), out["fdinfo"])
        for spec, flags, want in (("-", 0, errno.EINVAL),          # empty
                                  ("02.0000", 1, errno.EINVAL),     # flags
                                  ("02.0055", 0, errno.ENODEV),     # beyond the host
                                  ("02.0000/11", 0, errno.ENODEV)): # control domain not the host's
            self.assertEqual(self.client("grant", spec, "flags=%d" % flags), {"grant": want}, spec)

    def test_the_administrator_opens_dev_apmatrix_to_nobody(self):
        os.chmod(os.path.join(self.s.tree, "dev/apmatrix"), 0o666)
        out = self.client("grant", "02.0002", as_user=self.NOBODY)
        self.assertEqual(out["grant"], 0)

    def test_list_as_nobody(self):
        """apmatrix_state is root's (0400): list works for every user, a
        user who may not read it sees the queue's state as unknown"""
        ctl = os.path.join(BUILD, "tools/apmatrix-ctl")
        lists = {}
        for who, as_user in (("root", []), ("nobody", self.NOBODY)):
            r = self.s.run(as_user + [ctl, "list", "--json"], env=self.s.cenv)
            self.assertEqual(r.returncode, 0, r.stderr)
            lists[who] = json.loads(r.stdout)
        state = {}
        for who, out in lists.items():
            state[who] = {q["apqn"]: q["apmatrix_state"]
                          for a in out["adapters"] for q in a["queues"]}
        self.assertEqual((state["root"]["02.0000"], state["root"]["05.0000"]), ("free", None))
        self.assertEqual((state["nobody"]["02.0000"], state["nobody"]["05.0000"]),
                         ("unknown: readable by root only", None))
        r = self.s.run(self.NOBODY + [ctl, "list"], env=self.s.cenv)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"02\.0000 .*apmatrix \(unknown: readable by root only\)")

    def test_read_access_to_dev_apmatrix_grants_nothing(self):
        """mode 0640 gives a group read access only: a grant needs the
        device opened for writing (EBADF otherwise), as root too"""
        import errno
        os.chmod(os.path.join(self.s.tree, "dev/apmatrix"), 0o644)
        self.assertEqual(self.client("grant", "02.0002", "rdonly", as_user=self.NOBODY),
                         {"grant": errno.EBADF})
        self.assertEqual(self.client("grant", "02.0002", "rdonly"), {"grant": errno.EBADF})
        self.assertEqual(self.client("grant", "02.0002", as_user=self.NOBODY),
                         {"grant": errno.EACCES})    # no write permission
        self.assertEqual(self.client("grant", "02.0002")["grant"], 0)

    def test_grant_released_with_its_last_fd(self):
        # the client exits: every copy is closed and apsimd drops the file
        self.client("grant", "02.0000")
        for _ in range(300):
            if self.s.kv("stats")["kernel_files"] == "0":
                break
            time.sleep(0.01)
        self.assertEqual(self.s.kv("stats")["kernel_files"], "0")

    def test_a_vmm_killed_while_waiting_for_a_lock(self):
        """A SET waits (killably) for ap_perms_mutex; its VMM is killed: the
        SET ends at once (EINTR), the VM goes, nothing was claimed."""
        p = self.client("vmm", "set:02.0000", hold=True)      # holds 02.0000
        self.s.sim("hold-perms", "3000")
        v = self.s.spawn([sys.executable, os.path.join(SRC, "tests/e2e/contract_client.py"),
                          "vmm", "set:03.0000-0001/10"], env=self.s.cenv,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.s.wait_vms(2)
        time.sleep(0.3)                  # its SET is waiting for the lock now
        t0 = time.monotonic()
        v.kill()
        v.wait()
        self.s.wait_vms(1)
        self.assertLess(time.monotonic() - t0, 2.0, "the SET did not give up its wait")
        self.assertEqual(self.s.queue("03.0000")["data"], "0")
        p.stdin.close()
        p.wait(timeout=30)

    def test_apmatrix_state(self):
        self.s.sim("reset-timing", "1", "3")
        p = self.client("vmm", "set:02.0000-0001", "state:02.0000", "state:05.0000",
                        hold=True)
        self.assertEqual(p.out["state"], {"02.0000": "in use %d\n" % p.out["pid"],
                                          "05.0000": "errno 2"})   # the host's: no attribute
        self.s.sim("reset-mode", "02.0001", "never")
        p.stdin.close()
        p.wait(timeout=30)
        self.s.wait_vms(0)
        out = self.client("vmm", "state:02.0000", "state:02.0001")
        self.assertEqual(out["state"]["02.0000"], "free\n")
        self.assertIn(out["state"]["02.0001"], ("resetting\n", "reset failed\n"))
        rc, text, err = self.s.ctl("list")
        self.assertEqual(rc, 0, err)


DELIBERATE = os.environ.get("APSIM_E2E_DELIBERATE") == "1"


@unittest.skipUnless(DELIBERATE, "fails on purpose; run by TestCleanup")
class DeliberateFail(E2E):
    """Cases that fail in every place a case can fail, each with a
    simulator and VMMs running. TestCleanup runs them in a child and checks
    that nothing of theirs is left."""

    def test_body_fails_with_vmms_running(self):
        self.s.vmm("02.0000")
        self.s.vmm("03.0000-0001")
        self.fail("deliberate failure in a test body")

    def test_body_raises(self):
        self.s.vmm("04.0000")
        raise RuntimeError("deliberate error in a test body")


@unittest.skipUnless(DELIBERATE, "fails on purpose; run by TestCleanup")
class DeliberateSetUp(E2E):
    def setUp(self):
        super().setUp()
        self.s.vmm("02.0001")
        raise RuntimeError("deliberate error in setUp, after the simulator started")

    def test_never_runs(self):
        pass


@unittest.skipUnless(DELIBERATE, "fails on purpose; run by TestCleanup")
class DeliberateTearDown(E2E):
    def tearDown(self):
        self.fail("deliberate failure in tearDown, before the simulator is stopped")

    def test_passes(self):
        self.s.vmm("02.0002")


@unittest.skipUnless(DELIBERATE, "fails on purpose; run by TestCleanup")
class DeliberateStart(unittest.TestCase):
    def test_simulator_does_not_start(self):
        Sim(apsimd_args=["--no-such-option"])


@unittest.skipUnless(DELIBERATE, "fails on purpose; run by TestCleanup")
class DeliberateSigterm(E2E):
    def test_killed_by_sigterm(self):
        """as meson's timeout ends a run"""
        self.s.vmm("02.0003")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)


class TestCleanup(unittest.TestCase):
    """Failing cases leave no process and no temporary tree behind."""

    def run_deliberate(self, classes):
        tmp = tempfile.mkdtemp(prefix="apsim-cleanup-")
        try:
            env = dict(os.environ, APSIM_E2E_DELIBERATE="1", TMPDIR=tmp)
            r = subprocess.run([sys.executable, os.path.abspath(__file__), BUILD, SRC] + classes,
                               env=env, capture_output=True, text=True, timeout=120)
            left = []
            for _ in range(200):        # PR_SET_PDEATHSIG is delivered asynchronously
                left = self.processes_of(tmp)
                if not left:
                    break
                time.sleep(0.01)
            for pid, _ in left:         # do not leave them to the next test either
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return r, os.listdir(tmp), left
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @staticmethod
    def processes_of(tmp):
        """processes whose command line or environment names tmp"""
        found = []
        key = tmp.encode()
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as fh:
                    cmd = fh.read()
                with open("/proc/%s/environ" % pid, "rb") as fh:
                    envb = fh.read()
            except OSError:
                continue
            if key in cmd or key in envb:
                found.append((int(pid), cmd.replace(b"\0", b" ").decode(errors="replace")))
        return found

    def test_failing_cases_leave_nothing(self):
        r, files, procs = self.run_deliberate(["DeliberateFail", "DeliberateSetUp",
                                               "DeliberateTearDown", "DeliberateStart"])
        # each case really failed where it was meant to
        self.assertNotEqual(r.returncode, 0, r.stderr)
        for name in ("test_body_fails_with_vmms_running", "test_body_raises", "test_never_runs",
                     "test_passes", "test_simulator_does_not_start"):
            self.assertRegex(r.stderr, r"(FAIL|ERROR): %s " % name, r.stderr)
        self.assertIn("FAILED (failures=2, errors=3)", r.stderr)
        self.assertEqual(procs, [], r.stderr)
        self.assertEqual(files, [], r.stderr)

    def test_sigterm_leaves_nothing(self):
        r, files, procs = self.run_deliberate(["DeliberateSigterm"])
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertIn("KeyboardInterrupt: SIGTERM", r.stderr)
        self.assertEqual(procs, [], r.stderr)
        self.assertEqual(files, [], r.stderr)


def main():
    global BUILD, SRC
    BUILD, SRC = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    signal.signal(signal.SIGTERM, _on_sigterm)
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)


if __name__ == "__main__":
    main()
