# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the apmatrix-ctl test drivers of tests/cli share: running the built
binary (under its wrapper, and valgrind) on fake /sys trees written by
tests/fixtures/mkfixture.py from tests/cli/hosts/*.json, TAP output with
exact checks of exit code, stdout and stderr, snapshots of a tree, and
the drivers' command line (one GROUP per meson test).

The drivers set sys.dont_write_bytecode and put tests/ on sys.path (for
tap.py) before they import this.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from tap import Tap

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
MKFIXTURE = os.path.join(SRC, "tests", "fixtures", "mkfixture.py")
HOSTS = os.path.join(HERE, "hosts")

P = "apmatrix-ctl: "
ONES = "0x" + "f" * 64
VALGRIND = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect", "--trace-children=no"]


def read(path):
    with open(path) as fh:
        return fh.read()


def snapshot(root):
    """Every path under root with its type and content or link target."""
    snap = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                snap[rel] = ("link", os.readlink(p))
            elif os.path.isdir(p):
                snap[rel] = ("dir", None)
            else:
                with open(p, "rb") as fh:
                    snap[rel] = ("file", fh.read())
    return snap


def snap_diff(a, b):
    out = []
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            out.append("%s: %r -> %r" % (k, a.get(k), b.get(k)))
    return "\n".join(out[:20])


def ctl_argv(opts, args):
    """apmatrix-ctl with args, under opts.wrapper (a JSON list: qemu-user)
    and with opts.valgrind under memcheck."""
    wrap = json.loads(opts.wrapper) if opts.wrapper else []
    if getattr(opts, "valgrind", False):
        wrap = VALGRIND + wrap
    return wrap + [opts.ctl] + list(args)


class Result:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err


class Skip(Exception):
    """Raised by a group that cannot run here: one TAP skip for it."""


class TmpTap(Tap):
    """A TAP run with a temporary directory of its own (self.tmp)."""
    prefix = "apmatrix-test-"

    def __init__(self, opts):
        super().__init__()
        self.opts = opts
        self.tmp = tempfile.mkdtemp(prefix=self.prefix)

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


class CtlTests(TmpTap):
    """apmatrix-ctl on fixture trees, each run with its own lock file."""
    default_host = None

    def __init__(self, opts):
        super().__init__(opts)
        self.lock = os.path.join(self.tmp, "s390apconfig.lock")
        self.n_dirs = 0

    def new_dir(self, name):
        """A path in self.tmp no other call returned: name-N."""
        self.n_dirs += 1
        return os.path.join(self.tmp, "%s-%d" % (name, self.n_dirs))

    # -------------------------------------------------------------- trees
    def tree(self, host=None):
        """A fresh tree for host (tests/cli/hosts/HOST.json), as /sys."""
        host = host or self.default_host
        root = self.new_dir(host)
        subprocess.run([sys.executable, MKFIXTURE, "write",
                        os.path.join(HOSTS, host + ".json"), root], check=True)
        return root

    def settle(self, root):
        """Let the fake AP bus bind what it would bind; what it did."""
        p = subprocess.run([sys.executable, MKFIXTURE, "settle", root],
                           capture_output=True, text=True)
        if p.returncode:
            sys.stderr.write(p.stderr)
            raise subprocess.CalledProcessError(p.returncode, p.args)
        return p.stdout

    # -------------------------------------------------------------- running
    def env(self, root=None, extra=None):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("APMATRIX_") and k != "LD_PRELOAD"}
        env["LC_ALL"] = "C"
        env["APMATRIX_LOCK_FILE"] = self.lock
        if root is not None:
            env["APMATRIX_SYSFS_ROOT"] = root
        if extra:
            env.update(extra)
        return env

    def cmd(self, args):
        return ctl_argv(self.opts, args)

    def run(self, args, root=None, env=None, prefix=None, pass_fds=(),
            preexec=None, timeout=120):
        argv = (prefix or []) + self.cmd(args)
        p = subprocess.run(argv, env=self.env(root, env), capture_output=True,
                           text=True, pass_fds=pass_fds, preexec_fn=preexec,
                           timeout=timeout)
        return Result(p.returncode, p.stdout, p.stderr)

    def expect(self, name, r, rc, out=None, err=""):
        """rc exact; out/err exact when given (err defaults to empty)."""
        problems = []
        if r.rc != rc:
            problems.append("exit code %d, want %d" % (r.rc, rc))
        if out is not None and r.out != out:
            problems.append("stdout:\n%s\nwant:\n%s" % (r.out, out))
        if err is not None and r.err != err:
            problems.append("stderr:\n%s\nwant:\n%s" % (r.err, err))
        return self.ok(not problems, name, "\n".join(problems))

    def expect_error(self, name, r, rc, msg):
        """A failure: nothing on stdout, exactly one line on stderr."""
        return self.expect(name, r, rc, "", P + msg + "\n")


def ctl_options(ap, fault_so_required=False):
    """The options of the drivers that run apmatrix-ctl on fixture trees."""
    ap.add_argument("--wrapper", default="")
    ap.add_argument("--mock-so", default="")
    ap.add_argument("--fault-so", default="", required=fault_so_required)
    ap.add_argument("--valgrind", action="store_true")


def main(cls, groups, add_options=ctl_options):
    """usage: DRIVER --ctl PATH [options] GROUP: run groups[GROUP] with a
    cls; TAP on stdout; the exit status."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--ctl", required=True)
    if add_options:
        add_options(ap)
    ap.add_argument("group", choices=sorted(groups))
    opts = ap.parse_args()
    t = cls(opts)
    try:
        groups[opts.group](t)
    except Skip as e:
        t.skip(opts.group, str(e))
    finally:
        t.close()
    return t.done()
