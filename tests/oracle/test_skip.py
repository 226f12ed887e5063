#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The oracle without lszcrypt must be a visible skip, not a failure: a new
user's plain 'meson setup; meson compile; meson test' (no s390x sysroot,
no lszcrypt) has to pass. meson 1.0.1 reads a TAP test's exit 77 as a
failure; the plan "1..0 # SKIP reason" with exit 0 as a skip. TAP."""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(HERE))
from tap import Tap  # noqa: E402

t = Tap()
p = subprocess.run([sys.executable, os.path.join(HERE, "oracle.py"), "--host", "small-lpar",
                    "--lszcrypt", ""], capture_output=True, text=True, timeout=60)
lines = p.stdout.splitlines()
t.ok(p.returncode == 0, "oracle without lszcrypt exits 0", "exit %d" % p.returncode)
t.ok(len(lines) == 1 and lines[0].startswith("1..0 # SKIP "),
     "its only TAP line is the skip plan, with the reason", p.stdout)
t.ok("no lszcrypt" in p.stderr, "and stderr says why", p.stderr)
sys.exit(t.done())
