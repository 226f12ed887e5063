#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""`apmatrix-ctl list` against IBM's lszcrypt on the same fake sysfs trees.

usage: listcmp.py CTL LSZCRYPT LSZ_KIND RUNS TREE[=LABEL][+]...

CTL       apmatrix-ctl (an optimized build)
LSZCRYPT  lszcrypt to compare with; LSZ_KIND says what it is, printed as is
          ("native" for an s390-tools build for this machine, anything else
          is printed and its ratios are marked as not comparable)
RUNS      timed runs per command and tree (the median is printed)
TREE      a fixture tree; a trailing + marks the tree issue 18's targets
          are about (64 x 85), the others' ratios are printed without

Measured, per command and tree: CPU time (user + sys of the child, from
wait4()'s rusage: a real counter, not wall time), the median of RUNS runs
after one untimed warm-up run (the trees are then in the page and dentry
caches for every command alike); syscalls, counted by strace -f -c in one
more run. Computed: the ratios against plain `lszcrypt` and the targets of
issue 18 (list at most 0.5x, list --json at most 1.0x of plain lszcrypt's
CPU time). Nothing here is asserted: the numbers are for reading.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile


def cpu_ms(argv, env):
    """CPU time (user + sys, ms) of one run of argv, its output discarded."""
    with open(os.devnull, "wb") as null:
        pid = os.fork()
        if pid == 0:
            try:
                os.dup2(null.fileno(), 1)
                os.dup2(null.fileno(), 2)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        _, status, ru = os.wait4(pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        raise RuntimeError("%s failed (status %d)" % (" ".join(argv), status))
    return (ru.ru_utime + ru.ru_stime) * 1000.0


def syscalls(argv, env):
    """Every syscall of one run, counted by strace -f -c; None without strace."""
    strace = shutil.which("strace")
    if not strace:
        return None
    with tempfile.NamedTemporaryFile(mode="r") as out:
        subprocess.run([strace, "-f", "-c", "-o", out.name] + argv, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True)
        for line in out.read().splitlines():
            f = line.split()
            if f and f[-1] == "total":
                # "100.00 secs usecs/call calls [errors] total"
                return int(f[3])
    return None


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    ctl, lsz, kind, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    native = kind == "native"
    cmds = [
        ("lszcrypt", [lsz]),
        ("lszcrypt -V", [lsz, "-V"]),
        ("apmatrix-ctl list", [ctl, "list"]),
        ("apmatrix-ctl list --json", [ctl, "list", "--json"]),
    ]
    target = {"apmatrix-ctl list": 0.5, "apmatrix-ctl list --json": 1.0}
    print("`apmatrix-ctl list` against lszcrypt (%s) on the same trees" % kind)
    print("measured: CPU ms = user + sys of the process (wait4 rusage), median of %d runs" % runs)
    print("          after one warm-up run; syscalls = strace -f -c of one run")
    print("computed: the x columns, each / plain lszcrypt; targets (issue 18):")
    print("          list <= 0.5x, list --json <= 1.0x plain lszcrypt's CPU time")
    fmt = "%-12s %-25s %10s %7s %9s %7s  %s"
    print()
    print(fmt % ("tree", "command", "CPU ms", "x", "syscalls", "x", "target (CPU)"))
    missed = []
    for spec in sys.argv[5:]:
        targeted = spec.endswith("+")
        tree, _, label = spec.rstrip("+").partition("=")
        label = label or os.path.basename(tree)
        env = dict(os.environ, SYSFS_ROOT=tree, APMATRIX_SYSFS_ROOT=tree)
        base_cpu = base_sc = None
        for name, argv in cmds:
            cpu_ms(argv, env)
            c = statistics.median(cpu_ms(argv, env) for _ in range(runs))
            s = syscalls(argv, env)
            if name == "lszcrypt":
                base_cpu, base_sc = c, s
            rc = c / base_cpu if base_cpu else None
            rs = s / base_sc if s is not None and base_sc else None
            t = ""
            if name in target and not targeted:
                t = "(targets are for 64x85)"
            elif name in target:
                if not native:
                    t = "not comparable (lszcrypt is %s)" % kind
                elif rc <= target[name]:
                    t = "met (<= %.1fx)" % target[name]
                else:
                    t = "MISSED (<= %.1fx): %.2fx over" % (target[name], rc / target[name])
                    missed.append("%s on %s" % (name, label))
            print(fmt % (label, name, "%.1f" % c,
                         "%.2fx" % rc if rc is not None else "-",
                         "%d" % s if s is not None else "-",
                         "%.2fx" % rs if rs is not None else "-", t))
    print()
    if not native:
        print("lszcrypt ran %s: its CPU time includes the emulation; the ratios" % kind)
        print("are not a measure of either program.")
    elif missed:
        print("targets missed: " + ", ".join(missed))
    else:
        print("targets met")


if __name__ == "__main__":
    main()
