#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Check man/apmatrix-ctl.8 against tools/apmatrix-ctl.c.

usage: check_man.py render MANPAGE
       check_man.py options MANPAGE SOURCE

render:  the page formats without a warning, with groff (-man -ww) and,
         when man-db is there, with man --warnings, at 80 and 60 columns.
options: every subcommand (commands[] .name), every long option (the
         struct option tables), every short option and every exit code
         (exit_codes[]) of the source is in the page, in its section.
TAP on stdout.
"""

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


def options(t, page, source):
    with open(page) as fh:
        man = fh.read()
    with open(source) as fh:
        src = fh.read()
    secs = {k: plain(v) for k, v in sections(man).items()}
    for need in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS",
                 "JSON FORMAT", "EXIT STATUS", "ENVIRONMENT", "EXAMPLES", "SEE ALSO"):
        t.ok(need in secs, "the page has a %s section" % need, sorted(secs))

    cmds = re.findall(r'\.name\s*=\s*"([a-z-]+)"', src)
    t.ok(len(cmds) >= 7, "found the commands in the source", cmds)
    for c in cmds:
        # a command is described where it is the tag of a .TP in COMMANDS
        t.ok(re.search(r"^\.TP\n\.B %s\b" % re.escape(c.replace("-", "\\-")),
                       sections(man).get("COMMANDS", ""), re.M) is not None,
             "command %s has its entry in COMMANDS" % c)
        t.ok(re.search(r"\b%s\b" % re.escape(c), secs.get("SYNOPSIS", "")) is not None,
             "command %s is in the SYNOPSIS" % c)

    longs = sorted(set(re.findall(r'\{\s*"([a-z][a-z-]*)",\s*(?:no|required|optional)_argument',
                                  src)))
    t.ok(len(longs) >= 12, "found the long options in the source", longs)
    for o in longs:
        t.ok(re.search(r"(?<![\w-])--%s(?![\w-])" % re.escape(o),
                       secs.get("OPTIONS", "")) is not None,
             "--%s is described in OPTIONS" % o)
    shorts = sorted(set(re.findall(r'OPT_[A-Z_]+\s*=\s*\'(\w)\'', src)))
    t.ok(len(shorts) >= 6, "found the short options in the source", shorts)
    for s in shorts:
        t.ok(re.search(r"(?<![\w-])-%s\b" % s, secs.get("OPTIONS", "")) is not None,
             "-%s is described in OPTIONS" % s)

    m = re.search(r"exit_codes\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
    enum = dict(re.findall(r"(RC_[A-Z_]+)\s*=\s*(\d+)", src))
    codes = [enum[n] for n in re.findall(r"\{\s*(RC_[A-Z_]+)\s*,", m.group(1))] if m else []
    t.ok(len(codes) >= 6, "found the exit code table in the source", codes)
    status = sections(man).get("EXIT STATUS", "")
    for c in codes:
        t.ok(re.search(r"^\.TP\n\.B %s$" % c, status, re.M) is not None,
             "exit code %s is in EXIT STATUS" % c)
    for env in ("APMATRIX_SYSFS_ROOT", "APMATRIX_LOCK_FILE"):
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
    elif len(argv) == 4 and argv[1] == "options":
        options(t, argv[2], argv[3])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return t.done()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
