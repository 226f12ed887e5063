#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Check man/apmatrix-ctl.8 against apmatrix-ctl itself.

usage: check_man.py render MANPAGE
       check_man.py options MANPAGE APMATRIX-CTL [WRAPPER-JSON-LIST]

render:  the page formats without a warning, with groff (-man -ww) and,
         when man-db is there, with man --warnings, at 80 and 60 columns.
options: every command, every long and short option and every exit code
         that 'apmatrix-ctl --help' and 'apmatrix-ctl CMD --help' print
         (made from the tables the option parser uses) is in the page, in
         its section; and the environment variables it reads.
TAP on stdout.
"""

import json
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tap import Tap  # noqa: E402


def render(t, page):
    groff = shutil.which("groff")
    if not groff:
        t.skip("groff renders the page", "groff not installed (Debian groff-base)")
    else:
        for dev in ("utf8", "ascii"):
            for width in (80, 60):
                env = dict(os.environ, LC_ALL="C.UTF-8")
                p = subprocess.run([groff, "-man", "-ww", "-z", "-T" + dev,
                                    "-rLL=%dn" % width, page],
                                   capture_output=True, text=True, env=env)
                t.ok(p.returncode == 0 and p.stderr == "",
                     "groff -man -ww -T%s at %d columns: no warning" % (dev, width),
                     p.stderr)
    man = shutil.which("man")
    if not man:
        t.skip("man --warnings renders the page", "man-db not installed")
        return
    for width in ("80", "60"):
        env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH=width, MAN_KEEP_FORMATTING="0")
        env.pop("MANPAGER", None)
        env.pop("PAGER", None)
        p = subprocess.run([man, "--warnings", "-l", "-P", "cat", page],
                           capture_output=True, text=True, env=env)
        t.ok(p.returncode == 0 and p.stderr == "" and "apmatrix-ctl" in p.stdout,
             "man --warnings -l at %s columns: no warning" % width, p.stderr)


def sections(text):
    """The page's source split by .SH: name -> body."""
    out = {}
    cur = None
    for line in text.splitlines():
        m = re.match(r'\.SH\s+"?([^"]*)"?\s*$', line)
        if m:
            cur = m.group(1).strip()
            out[cur] = ""
        elif cur:
            out[cur] += line + "\n"
    return out


def plain(roff):
    """Enough of roff undone to search words: \\- is -, fonts dropped."""
    s = roff.replace("\\-", "-").replace("\\e", "\\").replace("\\&", "")
    s = re.sub(r"\\f[BIRP]", "", s)
    return s


def help_text(ctl, wrapper, args):
    p = subprocess.run(wrapper + [ctl] + args, capture_output=True, text=True, timeout=120)
    return p.stdout


def options(t, page, ctl, wrapper):
    """What apmatrix-ctl --help says (its commands, each command's
    options, the exit codes) is all in the page: the help is made from
    the same tables the option parser uses."""
    with open(page) as fh:
        man = fh.read()
    secs = {k: plain(v) for k, v in sections(man).items()}
    for need in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS",
                 "JSON FORMAT", "EXIT STATUS", "ENVIRONMENT", "EXAMPLES", "SEE ALSO"):
        t.ok(need in secs, "the page has a %s section" % need, sorted(secs))

    top = help_text(ctl, wrapper, ["--help"])
    cmds = re.findall(r"^  ([a-z][a-z-]+)  +\S", top.split("Commands:")[1].split("Options:")[0],
                      re.M) if "Commands:" in top else []
    t.ok(len(cmds) >= 7, "--help lists the commands", top)
    for c in cmds:
        # a command is described where it is the tag of a .TP in COMMANDS
        t.ok(re.search(r"^\.TP\n\.B %s\b" % re.escape(c.replace("-", "\\-")),
                       sections(man).get("COMMANDS", ""), re.M) is not None,
             "command %s has its entry in COMMANDS" % c)
        t.ok(re.search(r"\b%s\b" % re.escape(c), secs.get("SYNOPSIS", "")) is not None,
             "command %s is in the SYNOPSIS" % c)

    helps = top + "".join(help_text(ctl, wrapper, [c, "--help"]) for c in cmds)
    longs = sorted(set(re.findall(r"^  (?:-\w, |    )--([a-z][a-z-]*)", helps, re.M)))
    t.ok(len(longs) >= 12, "the --help texts name the long options", longs)
    for o in longs:
        t.ok(re.search(r"(?<![\w-])--%s(?![\w-])" % re.escape(o),
                       secs.get("OPTIONS", "")) is not None,
             "--%s is described in OPTIONS" % o)
    shorts = sorted(set(re.findall(r"^  -(\w), --", helps, re.M)))
    t.ok(len(shorts) >= 6, "the --help texts name the short options", shorts)
    for s in shorts:
        t.ok(re.search(r"(?<![\w-])-%s\b" % s, secs.get("OPTIONS", "")) is not None,
             "-%s is described in OPTIONS" % s)

    codes = re.findall(r"^  (\d+)  ", top.split("Exit codes:")[1], re.M) \
        if "Exit codes:" in top else []
    t.ok(len(codes) >= 6, "--help lists the exit codes", codes)
    status = sections(man).get("EXIT STATUS", "")
    for c in codes:
        t.ok(re.search(r"^\.TP\n\.B %s$" % c, status, re.M) is not None,
             "exit code %s is in EXIT STATUS" % c)
    for env in ("APMATRIX_SYSFS_ROOT", "APMATRIX_LOCK_FILE", "APMATRIX_LOCK_TIMEOUT",
                "APMATRIX_GRANT_FD", "APMATRIX_GRANT_DEVICE"):
        t.ok(env in secs.get("ENVIRONMENT", ""), "%s is in ENVIRONMENT" % env)
    for ref in ("lszcrypt (8)", "chzcrypt (8)"):
        name = ref.split()[0]
        t.ok(re.search(r"\.BR %s \(8\)" % name, sections(man).get("SEE ALSO", "")),
             "SEE ALSO names %s" % ref.replace(" ", ""))
    for key in ("format_version", "max_adapter_id", "max_domain_id", "apmask", "aqmask",
                "adapters", "queues", "apqn", "driver", "holder", "online", "config"):
        t.ok('"%s"' % key in secs.get("JSON FORMAT", ""),
             "JSON FORMAT shows the key %s" % key)


def main(argv):
    t = Tap()
    if len(argv) == 3 and argv[1] == "render":
        render(t, argv[2])
    elif len(argv) in (4, 5) and argv[1] == "options":
        options(t, argv[2], argv[3], json.loads(argv[4]) if len(argv) == 5 else [])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return t.done()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
