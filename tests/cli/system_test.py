#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tests of the files apmatrix installs into the system: bash completion
(data/apmatrix-ctl.bash), the boot unit (data/apmatrix.service.in, with
systemd-analyze verify) and the udev rule of /dev/apmatrix
(data/60-apmatrix.rules.in, with udevadm test in a private mount
namespace: udevadm test of systemd 252 applies permissions and writes
/run/udev, so /dev and /run are private tmpfs there).

usage: system_test.py --ctl PATH GROUP     GROUP: completion, unit, udev
TAP on stdout.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(HERE))
from ctl_harness import MKFIXTURE, SRC, TmpTap, main, read  # noqa: E402
DATA = os.path.join(SRC, "data")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"


class T(TmpTap):
    prefix = "apmatrix-sys-"


# ------------------------------------------------------------ completion

def complete(t, line, env=None):
    """What the completion offers for line (the cursor at its end)."""
    bindir = os.path.join(t.tmp, "bin")
    if not os.path.isdir(bindir):
        os.makedirs(bindir)
        os.symlink(os.path.abspath(t.opts.ctl), os.path.join(bindir, "apmatrix-ctl"))
    script = r'''
source "$1" || exit 97
source "$2" || exit 98
read -r -a COMP_WORDS <<<"$3"
[[ $3 == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE=$3
COMP_POINT=${#3}
_apmatrix_ctl apmatrix-ctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
'''
    e = dict(os.environ, PATH=bindir + ":" + os.environ["PATH"], LC_ALL="C")
    e.update(env or {})
    p = subprocess.run(["bash", "-c", script, "bash", BASH_COMPLETION,
                        os.path.join(DATA, "apmatrix-ctl.bash"), line],
                       capture_output=True, text=True, env=e, timeout=60)
    return p.returncode, [w for w in p.stdout.split("\n") if w]


def help_of(t, *args):
    p = subprocess.run([t.opts.ctl] + list(args) + ["--help"], capture_output=True, text=True)
    return p.stdout


def g_completion(t):
    if not os.path.exists(BASH_COMPLETION):
        t.skip("bash completion", "bash-completion is not installed")
        return
    top = help_of(t)
    cmds = re.findall(r"^  ([a-z][a-z-]*) ", top.split("Commands:")[1].split("\n\n")[0], re.M)
    t.ok(len(cmds) >= 12 and "apply" in cmds and "monitor" in cmds, "apmatrix-ctl --help lists the commands", cmds)
    rc, got = complete(t, "apmatrix-ctl ")
    t.ok(rc == 0 and sorted(got) == sorted(cmds), "every command is completed, nothing else",
         "rc %d got %s want %s" % (rc, got, cmds))
    rc, got = complete(t, "apmatrix-ctl di")
    t.ok(got == ["diff"], "a prefix completes to its command", got)
    rc, got = complete(t, "apmatrix-ctl --")
    t.ok(sorted(got) == ["--help", "--sysfs-root", "--version"], "global options", got)
    offered = set()
    for c in cmds:
        want = set(re.findall(r"^ +(?:-[a-zA-Z], )?(--[a-z][a-z-]*)", help_of(t, c), re.M))
        rc, got = complete(t, "apmatrix-ctl %s --" % c)
        offered |= set(got)
        t.ok(rc == 0 and want and set(got) == want, "%s: every option of its --help is completed" % c,
             "got %s want %s" % (sorted(got), sorted(want)))
    # every long option in the sources is offered for some command
    src = "".join(read(os.path.join(SRC, "tools", f)) for f in os.listdir(os.path.join(SRC, "tools"))
                  if f.endswith(".c"))
    longs = set("--" + o for o in re.findall(r'\{\s*"([a-z][a-z-]*)",\s*(?:no|required|optional)_argument', src))
    t.ok(longs and longs - {"--version"} <= offered, "every long option of tools/*.c is completed",
         sorted(longs - offered))
    # arguments: directories, pids, APQNs of the host
    os.makedirs(os.path.join(t.tmp, "cfgdir", "sub"))
    rc, got = complete(t, "apmatrix-ctl apply --config-dir %s/cfg" % t.tmp)
    t.ok(got == [t.tmp + "/cfgdir"], "--config-dir completes directories", got)
    rc, got = complete(t, "apmatrix-ctl get --pid ")
    t.ok(got and all(w.isdigit() for w in got) and str(os.getpid()) in got, "--pid completes process IDs",
         got[:5])
    rc, got = complete(t, "apmatrix-ctl monitor --interval ")
    t.ok(got == [], "--interval MS: nothing to offer", got)
    root = os.path.join(t.tmp, "sys")
    subprocess.run([sys.executable, MKFIXTURE, "write", os.path.join(HERE, "hosts", "conf-a.json"), root],
                   check=True)
    rc, got = complete(t, "apmatrix-ctl --sysfs-root %s reserve 05" % root)
    t.ok(got == ["05.0004", "05.0005", "05.0006"], "APQNs of the host named by --sysfs-root", got)
    rc, got = complete(t, "apmatrix-ctl list 07", {"APMATRIX_SYSFS_ROOT": root})
    t.ok(got == ["07.0004", "07.0005", "07.0006"], "APQNs of the host of $APMATRIX_SYSFS_ROOT", got)
    cfg = os.path.join(t.tmp, "etc")
    os.makedirs(cfg)
    with open(os.path.join(cfg, "apmatrix.conf"), "w") as fh:
        fh.write("[guests]\nadapters = 05\n[set web]\napqns = 05.0004\n[set db.2]\napqns = 05.0005\n")
    rc, got = complete(t, "apmatrix-ctl sets ", {"APMATRIX_CONFIG_DIR": cfg})
    t.ok(got == ["web", "db.2"], "sets NAME completes the configuration's set names", got)
    rc, got = complete(t, "apmatrix-ctl grant --set w", {"APMATRIX_CONFIG_DIR": cfg})
    t.ok(got == ["web"], "--set NAME completes a set name", got)
    rc, got = complete(t, "apmatrix-ctl grant --set x -- ech")
    t.ok("echo" in got, "after -- a command is completed", got)


# ------------------------------------------------------------------ unit

def unit_copy(t, name, ctl, edit=None):
    d = os.path.join(t.tmp, name)
    os.makedirs(d)
    text = read(os.path.join(DATA, "apmatrix.service.in")).replace("@SBINDIR@/apmatrix-ctl", ctl)
    if edit:
        text = edit(text)
    p = os.path.join(d, "apmatrix.service")
    with open(p, "w") as fh:
        fh.write(text)
    return p


def verify(unit):
    p = subprocess.run(["systemd-analyze", "verify", "--man=no", unit], capture_output=True, text=True,
                       env=dict(os.environ, SYSTEMD_LOG_LEVEL="notice", LC_ALL="C"))
    lines = [ln for ln in p.stderr.splitlines() if "apmatrix.service" in ln]
    return p.returncode, lines, p.stderr


def g_unit(t):
    if not shutil.which("systemd-analyze"):
        t.skip("systemd-analyze verify", "systemd-analyze not installed")
        return
    ctl = os.path.abspath(t.opts.ctl)
    rc, lines, err = verify(unit_copy(t, "good", ctl))
    t.ok(rc == 0 and not lines, "systemd-analyze verify: the unit is clean", err)
    # the check can fail: a misspelt key, and a missing program
    rc, lines, err = verify(unit_copy(t, "typo", ctl, lambda s: s.replace("RemainAfterExit", "RemainAfterExt")))
    t.ok(any("RemainAfterExt" in ln for ln in lines), "verify catches a misspelt key (the check works)", err)
    rc, lines, err = verify(unit_copy(t, "noprog", "/nonexistent/apmatrix-ctl"))
    t.ok(rc != 0, "verify catches a missing program (the check works)", err)
    u = read(os.path.join(DATA, "apmatrix.service.in"))
    before = re.search(r"^Before=(.*)$", u, re.M).group(1).split()
    t.ok({"sysinit.target", "libvirtd.service", "virtqemud.service"} <= set(before),
         "ordered before sysinit.target (so every VMM unit) and libvirtd/virtqemud", before)
    t.ok(re.search(r"^ConditionArchitecture=s390x$", u, re.M) and
         not re.search(r"^Condition\w*=/sys/bus/ap", u, re.M),
         "runs on s390x whether or not the (modular) AP bus is there yet: --wait-for-bus waits for it")
    t.ok(re.search(r"^DefaultDependencies=no$", u, re.M) and re.search(r"^Type=oneshot$", u, re.M) and
         re.search(r"^ExecStart=@SBINDIR@/apmatrix-ctl apply --wait-for-bus 60$", u, re.M),
         "an early oneshot running apmatrix-ctl apply (its exit code fails the unit)")
    # a oneshot's start timeout is infinite by default; before sysinit.target a
    # hang (a lock never released, a sysfs read that blocks) would stop the boot
    m = re.search(r"^TimeoutStartSec=(\d+)(min|s)?$", u, re.M)
    secs = int(m.group(1)) * (60 if m.group(2) == "min" else 1) if m else None
    t.ok(secs is not None and 90 < secs <= 600,
         "a finite start timeout, longer than --wait-for-bus 60 plus the 30 s lock wait: a hang fails the unit, not the boot",
         "TimeoutStartSec: %r" % secs)


# ------------------------------------------------------------------ udev

def udev_run(t, conf_text, kernel="tun"):
    """udevadm test of the rule (matching the tun misc device, which this
    host has) in a private mount namespace; the GROUP/MODE lines it logs and
    the [device] config it used."""
    d = tempfile.mkdtemp(dir=t.tmp)
    for sub in ("rules", "empty", "etc", "dev"):
        os.makedirs(os.path.join(d, sub))
    if conf_text is not None:
        with open(os.path.join(d, "etc", "apmatrix.conf"), "w") as fh:
            fh.write(conf_text)
    rule = read(os.path.join(DATA, "60-apmatrix.rules.in"))
    rule = rule.replace('KERNEL!="apmatrix"', 'KERNEL!="%s"' % kernel).replace(
        "@SBINDIR@/apmatrix-ctl udev-env",
        "%s udev-env --config-dir %s" % (os.path.abspath(t.opts.ctl), os.path.join(d, "etc")))
    with open(os.path.join(d, "rules", "60-apmatrix.rules"), "w") as fh:
        fh.write(rule)
    script = r'''set -e
d=$1
mount -t tmpfs none "$d/dev"; mkdir "$d/dev/net"; : >"$d/dev/net/tun"; : >"$d/dev/null"
mount --bind /dev/null "$d/dev/null"
mount --move "$d/dev" /dev
mount -t tmpfs none /run
mount --bind "$d/empty" /lib/udev/rules.d
mount --bind "$d/rules" /etc/udev/rules.d
udevadm test /sys/devices/virtual/misc/tun >/dev/null 2>"$d/log" || true
'''
    p = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", d], capture_output=True, text=True)
    log = read(os.path.join(d, "log")) if os.path.exists(os.path.join(d, "log")) else ""
    got = re.findall(r"60-apmatrix\.rules:\d+ ((?:GROUP|MODE) .*)$", log, re.M)
    return p.returncode, got, log + p.stderr


def g_udev(t):
    if not shutil.which("udevadm"):
        t.skip("udev rule", "udevadm not installed")
        return
    v = subprocess.run(["udevadm", "verify", "--help"], capture_output=True, text=True)
    if v.returncode == 0:
        p = subprocess.run(["udevadm", "verify", os.path.join(DATA, "60-apmatrix.rules.in")],
                           capture_output=True, text=True)
        t.ok(p.returncode == 0, "udevadm verify: the rule is clean", p.stderr)
    else:
        t.skip("udevadm verify", "this udevadm (systemd %s) has no verify verb (253 added it)" %
               subprocess.run(["udevadm", "--version"], capture_output=True, text=True).stdout.strip())
    if os.geteuid() != 0 or not os.path.exists("/sys/devices/virtual/misc/tun") or \
            subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        t.skip("udevadm test of the rule", "needs root, a mount namespace and a tun misc device")
        return
    rc, got, log = udev_run(t, "[device]\ngroup = nogroup\nmode = 0660\n")
    t.ok(rc == 0 and got == ["GROUP nogroup(65534)", "MODE 0660"],
         "udevadm test: the rule gives the node the [device] group and mode", log[-2000:])
    rc, got, log = udev_run(t, "[guests]\nadapters = 05\n")
    t.ok(rc == 0 and got == [], "without [device] the rule leaves the node alone", log[-2000:])
    rc, got, log = udev_run(t, "[device]\nmode = 0666\n")
    t.ok(rc == 0 and got == [] and "mode 0666" in log,
         "a configuration that does not parse leaves the node alone (the kernel's 0600)", log[-2000:])
    rc, got, log = udev_run(t, "[device]\ngroup = nogroup\n", kernel="apmatrix")
    t.ok(rc == 0 and got == [], "the rule matches only the apmatrix node", log[-2000:])


GROUPS = {"completion": g_completion, "unit": g_unit, "udev": g_udev}


if __name__ == "__main__":
    sys.exit(main(T, GROUPS, add_options=None))
