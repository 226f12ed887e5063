#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tests of apmatrix-ctl monitor.

The events are real netlink messages on the udev multicast group
(NETLINK_KOBJECT_UEVENT, group 2) in libudev's wire format, the one
systemd-udevd broadcasts after it processed a kernel uevent: a
"libudev" header (magic 0xfeedcafe, the MurmurHash2 of the subsystem for
the receivers' socket filters) and the device's properties. apmatrix-ctl
receives them through libudev's own monitor, as on a host. What the AP bus
sends is taken from drivers/s390/crypto/ap_bus.c of Linux 6.12 (card and
queue add/remove/bind/unbind, CONFIG=/ONLINE= changes, and on the bus
device /devices/ap: APMASK=, AQMASK= with the kernel's trailing newline,
BINDINGS=complete). apmatrix_state changes are made in a fixture tree.
Not covered here: the kernel's own uevents of a real AP bus (no s390 host,
and the kernel group needs the sender to be the kernel), and --kernel.

usage: monitor_test.py --ctl PATH [--wrapper JSON] [--valgrind]   TAP on stdout.
Needs root (sending to a netlink multicast group needs CAP_NET_ADMIN).
"""

import argparse
import ctypes
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(HERE))
from ctl_harness import MKFIXTURE, TmpTap, ctl_argv  # noqa: E402
NETLINK_KOBJECT_UEVENT = 15
UDEV_GROUP = 2


def murmur2(data, seed=0):
    """MurmurHash2 as systemd's string_hash32() computes it."""
    m, r = 0x5bd1e995, 24
    n = len(data)
    h = (seed ^ n) & 0xffffffff
    i = 0
    while n - i >= 4:
        k = struct.unpack_from("<I", data, i)[0]
        k = (k * m) & 0xffffffff
        k ^= k >> r
        k = (k * m) & 0xffffffff
        h = (h * m) & 0xffffffff
        h ^= k
        i += 4
    rest = n - i
    if rest == 3:
        h ^= data[i + 2] << 16
    if rest >= 2:
        h ^= data[i + 1] << 8
    if rest >= 1:
        h ^= data[i]
        h = (h * m) & 0xffffffff
    h ^= h >> 13
    h = (h * m) & 0xffffffff
    h ^= h >> 15
    return h


class Sender:
    """udevd's side. The header's sizes are in the byte order of the
    machine (udevd and libudev share it): that of apmatrix-ctl's ELF file,
    which under qemu-user (the s390x build) is big-endian."""
    seq = 1000

    def __init__(self, ctl):
        with open(ctl, "rb") as fh:
            ident = fh.read(6)
        self.order = ">" if ident[:4] == b"\x7fELF" and ident[5] == 2 else "<"
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_KOBJECT_UEVENT)
        self.s.bind((0, 0))

    def send(self, action, devpath, subsystem="ap", **props):
        Sender.seq += 1
        p = {"ACTION": action, "DEVPATH": devpath, "SUBSYSTEM": subsystem,
             "SEQNUM": str(Sender.seq)}
        p.update(props)
        body = b"".join(("%s=%s" % kv).encode() + b"\0" for kv in p.items())
        devtype = props.get("DEVTYPE")
        hdr = (b"libudev\0" + struct.pack("!I", 0xfeedcafe) +
               struct.pack(self.order + "III", 40, 40, len(body)) +
               struct.pack("!II", murmur2(subsystem.encode()),
                           murmur2(devtype.encode()) if devtype else 0) +
               struct.pack(self.order + "II", 0, 0))
        self.s.sendto(hdr + body, (0, UDEV_GROUP))


class T(TmpTap):
    prefix = "apmatrix-mon-"


def start(t, root, *extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("APMATRIX_")}
    env["LC_ALL"] = "C"
    p = subprocess.Popen(ctl_argv(t.opts, ["monitor", "--sysfs-root", root] + list(extra)),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    # it says on stderr when it listens
    line = ""
    ready, _, _ = select.select([p.stderr], [], [], 30)
    if ready:
        line = p.stderr.readline()
    return p, line


def read_lines(p, n, timeout=10.0):
    """Up to n lines of stdout, waiting at most timeout seconds in all
    (read from the fd itself: a buffered reader would hide lines from
    select)."""
    buf = getattr(p, "linebuf", b"")
    out = []
    end = time.time() + timeout
    fd = p.stdout.fileno()
    while True:
        while b"\n" in buf and len(out) < n:
            line, buf = buf.split(b"\n", 1)
            out.append(line.decode() + "\n")
        if len(out) >= n or time.time() >= end:
            break
        ready, _, _ = select.select([fd], [], [], max(0.0, end - time.time()))
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
    p.linebuf = buf
    return out


def strip_time(objs):
    out = []
    for o in objs:
        o = dict(o)
        o.pop("time", None)
        out.append(o)
    return out


def uevent_socket(pid):
    """(fd number, inode) of process pid's uevent netlink socket."""
    inodes = {}
    with open("/proc/net/netlink") as fh:
        for row in fh.read().splitlines()[1:]:
            f = row.split()
            if f[1] == str(NETLINK_KOBJECT_UEVENT):
                inodes["socket:[%s]" % f[9]] = f[9]
    for n in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, n))
        except OSError:
            continue
        if target in inodes:
            return int(n), inodes[target]
    return None, None


def netlink_drops(inode):
    with open("/proc/net/netlink") as fh:
        for row in fh.read().splitlines()[1:]:
            f = row.split()
            if f[9] == inode:
                return int(f[8])
    return None


def shrink_rcvbuf(pid, fd, size):
    """Make the receive buffer of process pid's socket fd small (a dup of it
    through pidfd_getfd(), SO_RCVBUFFORCE: the same socket)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        mine = libc.syscall(438, pidfd, fd, 0)	# pidfd_getfd
        if mine < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
    finally:
        os.close(pidfd)
    s = socket.socket(fileno=mine)
    try:
        s.setsockopt(socket.SOL_SOCKET, 33, size)  # SO_RCVBUFFORCE
        return s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    finally:
        s.close()


def lost_burst(t, root, snd, st, state, args):
    """Start monitor with args, make the kernel drop uevents for it (its
    receive buffer small, and more uevents than it holds while monitor is
    stopped), and change a queue's state to state meanwhile without a
    uevent of that queue. (process, lines it printed, uevents sent, dropped)"""
    p, hello = start(t, root, "--interval", "0", *args)
    fd, inode = uevent_socket(p.pid)
    if fd is None:
        p.kill()
        p.wait()
        return None, [], 0, 0
    shrink_rcvbuf(p.pid, fd, 4096)
    drops = netlink_drops(inode)
    p.send_signal(signal.SIGSTOP)
    with open(st, "w") as fh:
        fh.write(state + "\n")
    n = 200
    for i in range(n):
        snd.send("change", "/devices/ap/card07/07.0006", DEVTYPE="ap_queue", ONLINE=str(i % 2))
    dropped = netlink_drops(inode) - drops
    p.send_signal(signal.SIGCONT)
    # what the kernel kept, the lost event and the state event
    lines = read_lines(p, n - dropped + 2, 10 if not t.opts.valgrind else 60)
    return p, lines, n, dropped


def stop(p, sig=signal.SIGTERM):
    """Send sig, wait for the end (30 s at most): exit code (-1: still
    running, killed), stderr."""
    p.send_signal(sig)
    try:
        rc = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = -1
    return rc, p.stderr.read()


def g_lost(t, root, snd, st):
    """Events the kernel drops (the socket's receive buffer full while
    monitor does not read): monitor says so and reads the states again."""
    p, lines, n, dropped = lost_burst(t, root, snd, st, "reset failed", ["--json"])
    if p is None:
        t.ok(False, "lost events: monitor's uevent socket found")
        return
    t.ok(dropped > 0, "lost events: the kernel dropped uevents for monitor", "drops %d" % dropped)
    got = strip_time(json.loads(line) for line in lines)
    changes = [g for g in got if g.get("event") == "change"]
    other = "\n".join(json.dumps(g) for g in got if g.get("event") != "change")
    lost = [i for i, g in enumerate(got) if g.get("event") == "lost"]
    t.ok(len(lost) == 1 and got[lost[0]] == {"event": "lost", "source": "udev"},
         "lost events: one 'lost' event, naming the source", other)
    t.ok(len(changes) == n - dropped, "lost events: every event the kernel kept is printed",
         "%d printed, %d sent, %d dropped" % (len(changes), n, dropped))
    want = {"event": "state", "apqn": "08.0004", "state": "reset failed", "previous": "free"}
    t.ok(lost and want in got[lost[0] + 1:],
         "lost events: the states are read again after them (a change without its uevent shown)",
         other)
    snd.send("remove", "/devices/ap/card07/07.0006", DEVTYPE="ap_queue")
    got = strip_time(json.loads(line) for line in read_lines(p, 1, 5))
    t.ok(got == [{"event": "remove", "device": "queue", "apqn": "07.0006"}],
         "lost events: monitor goes on with the next event", got)
    rc, err = stop(p)
    t.ok(rc == 0 and err == "", "lost events: SIGTERM, exit 0, nothing on stderr",
         "rc %d err %r" % (rc, err))

    # the human form
    p, lines, n, dropped = lost_burst(t, root, snd, st, "free", [])
    lines = [ln.split(" ", 1)[1] for ln in lines if not ln.split(" ")[1:2] == ["change"]]
    t.ok(dropped > 0 and lines == [
        "lost udev events: the receive buffer overflowed; queue states read again\n",
        "state 08.0004: reset failed -> free\n"],
        "lost events, one line each: the loss, then the state read again", lines)
    rc, err = stop(p)
    t.ok(rc == 0 and err == "", "lost events (lines): SIGTERM, exit 0", "rc %d err %r" % (rc, err))


def g_monitor(t):
    if os.geteuid() != 0:
        t.skip("monitor", "sending to a netlink multicast group needs root")
        return
    root = os.path.join(t.tmp, "sys")
    subprocess.run([sys.executable, MKFIXTURE, "write", os.path.join(HERE, "hosts", "conf-busy.json"),
                    root], check=True)
    snd = Sender(t.opts.ctl)
    if t.opts.wrapper and os.environ.get("APMATRIX_MONITOR_TEST_NETNS"):
        # under qemu-user libudev cannot tell that /dev is a devtmpfs
        # (name_to_handle_at), so it takes udev for absent and listens to
        # nothing unless /run/udev/control exists: give it one, in this
        # test's own mount namespace
        subprocess.run(["mount", "-t", "tmpfs", "none", "/run"], check=True)
        os.makedirs("/run/udev")
        open("/run/udev/control", "w").close()
    p, hello = start(t, root, "--json", "--interval", "200")
    t.ok(hello == "apmatrix-ctl: monitor: listening to udev events of the AP bus\n",
         "monitor says on stderr that it listens", repr(hello))
    Q = "/devices/ap/card05/05.0004"
    snd.send("add", "/devices/ap/card05", DEVTYPE="ap_card", DEV_TYPE="000E", MODALIAS="ap:t0E",
             MODE="cca")
    snd.send("add", Q, DEVTYPE="ap_queue", MODE="cca")
    snd.send("change", "/devices/virtual/net/lo", subsystem="net", INTERFACE="lo")  # not AP
    snd.send("bind", Q, DEVTYPE="ap_queue", DRIVER="apmatrix", MODE="cca")
    snd.send("change", Q, DEVTYPE="ap_queue", CONFIG="0")
    snd.send("change", "/devices/ap/card05", DEVTYPE="ap_card", ONLINE="0")
    snd.send("change", "/devices/ap", APMASK="0x" + "7f" + "f" * 62 + "\n")
    snd.send("change", "/devices/ap", BINDINGS="complete", COMPLETECOUNT="3")
    snd.send("unbind", Q, DEVTYPE="ap_queue", DRIVER="apmatrix")
    snd.send("remove", Q, DEVTYPE="ap_queue")
    got = [json.loads(line) for line in read_lines(p, 9)]
    want = [
        {"event": "add", "device": "card", "card": "05", "mode": "cca"},
        {"event": "add", "device": "queue", "apqn": "05.0004", "mode": "cca"},
        {"event": "bind", "device": "queue", "apqn": "05.0004", "driver": "apmatrix", "mode": "cca"},
        {"event": "change", "device": "queue", "apqn": "05.0004", "config": "0"},
        {"event": "change", "device": "card", "card": "05", "online": "0"},
        {"event": "change", "device": "bus", "apmask": "0x7f" + "f" * 62},
        {"event": "change", "device": "bus", "bindings": "complete", "completecount": "3"},
        {"event": "unbind", "device": "queue", "apqn": "05.0004", "driver": "apmatrix"},
        {"event": "remove", "device": "queue", "apqn": "05.0004"},
    ]
    t.ok(strip_time(got) == want, "each AP uevent is one JSON object; the net event is filtered out",
         "got:\n%s" % "\n".join(json.dumps(g) for g in got))
    t.ok(got and all(isinstance(g.get("time"), str) and g["time"].endswith("Z") for g in got),
         "every event carries its time (UTC)")
    # apmatrix's own states: a VM takes 08.0004, then lets it go
    st = os.path.join(root, "bus/ap/devices/08.0004/apmatrix_state")
    with open(st, "w") as fh:
        fh.write("in use 4321\n")
    got = strip_time(json.loads(line) for line in read_lines(p, 1, 5))
    t.ok(got == [{"event": "state", "apqn": "08.0004", "state": "in use", "pid": 4321,
                  "previous": "free"}], "a queue taken by a VM: a state event with its pid", got)
    with open(st, "w") as fh:
        fh.write("resetting\n")
    # a uevent of the queue makes it read the state at once (no interval wait)
    got = strip_time(json.loads(line) for line in read_lines(p, 1, 5))
    t.ok(got == [{"event": "state", "apqn": "08.0004", "state": "resetting", "previous": "in use 4321"}],
         "the reset after it leaves the VM: a state event", got)
    rc, err = stop(p)
    t.ok(rc == 0 and err == "", "SIGTERM: exit 0, nothing on stderr", "rc %d err %r" % (rc, err))

    # the human form and SIGINT
    p, hello = start(t, root, "--interval", "0")
    snd.send("bind", "/devices/ap/card07/07.0006", DEVTYPE="ap_queue", DRIVER="apmatrix", MODE="accel")
    lines = read_lines(p, 1)
    t.ok(len(lines) == 1 and lines[0].split(" ", 1)[1] == "bind queue 07.0006 driver=apmatrix mode=accel\n",
         "one line per event: time, action, device, properties", lines)
    # --interval 0: a state is read only after a uevent of its queue
    with open(st, "w") as fh:
        fh.write("free\n")
    lines = read_lines(p, 1, 1.0)
    t.ok(lines == [], "--interval 0: no reading without a uevent", lines)
    snd.send("change", "/devices/ap/card08/08.0004", DEVTYPE="ap_queue", ONLINE="1")
    lines = [ln.split(" ", 1)[1] for ln in read_lines(p, 2, 5)]
    t.ok(lines == ["change queue 08.0004 online=1\n", "state 08.0004: resetting -> free\n"],
         "after a uevent of the queue its state is read", lines)
    rc, err = stop(p, signal.SIGINT)
    t.ok(rc == 0 and err == "", "SIGINT: exit 0", "rc %d err %r" % (rc, err))

    # a reader that stops reading: monitor blocks writing its output, and
    # SIGTERM must still end it (a stuck pipe, `monitor | less` paused)
    p, hello = start(t, root, "--interval", "0", "--json")
    for i in range(3000):
        snd.send("change", "/devices/ap/card07/07.0006", DEVTYPE="ap_queue", ONLINE=str(i % 2))
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=5 if not t.opts.valgrind else 30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        rc = "still running 5 s after SIGTERM"
    t.ok(rc == 0, "SIGTERM ends monitor while its output pipe is full: exit 0", rc)
    p.stdout.close()
    p.stderr.close()

    g_lost(t, root, snd, st)

    wrap = json.loads(t.opts.wrapper) if t.opts.wrapper else []
    r = subprocess.run(wrap + [t.opts.ctl, "monitor", "--interval", "x"], capture_output=True, text=True)
    t.ok(r.returncode == 1 and
         r.stderr == "apmatrix-ctl: monitor: --interval 'x': not a number of milliseconds (0 to 3600000)\n",
         "a bad --interval: exit 1, named", r.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ctl", required=True)
    ap.add_argument("--wrapper")
    ap.add_argument("--valgrind", action="store_true")
    opts = ap.parse_args()
    # a network namespace of our own: the netlink uevent groups are per
    # namespace, so no other event source (or test run) mixes in
    if os.geteuid() == 0 and not os.environ.get("APMATRIX_MONITOR_TEST_NETNS") and \
            subprocess.run(["unshare", "-n", "-m", "true"], capture_output=True).returncode == 0:
        os.environ["APMATRIX_MONITOR_TEST_NETNS"] = "1"
        try:
            os.execvp("unshare", ["unshare", "-n", "-m", sys.executable] + sys.argv)
        except OSError as e:
            print("# no unshare -n (%s): the host's namespace is used" % e)
    t = T(opts)
    try:
        g_monitor(t)
    finally:
        t.close()
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
