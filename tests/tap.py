# SPDX-License-Identifier: LGPL-2.1-or-later
"""TAP output for the project's Python test drivers (meson reads it with
protocol 'tap'): one Tap per run, ok()/skip() per check, done() at the end."""

import sys


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=""):
        self.n += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, name))
        if not cond:
            self.failed += 1
            for line in str(diag).splitlines():
                print("#   " + line)
        sys.stdout.flush()
        return cond

    def skip(self, name, why):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, why))
        sys.stdout.flush()

    def done(self):
        """Print the plan; the exit status for the driver."""
        print("1..%d" % self.n)
        return 1 if self.failed else 0
