#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The ABI of libapmatrix: every function lib/apmatrix.h declares is in
exactly one version node of lib/libapmatrix.sym, a released node
(released.txt) keeps exactly its symbols, the built library exports exactly
those symbols, each with its node's version (nm -D), and the Debian symbols
file lists the same symbols in the same nodes, none older than its node's release.
TAP.

usage: check_abi.py HEADER SYMFILE LIBRARY.so [NM [DEBIAN_SYMBOLS]]
"""

import re
import subprocess
import sys
import os

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(HERE))
from tap import Tap  # noqa: E402

# symbols of released nodes: they may never move (add a node, never edit one)
RELEASED_FILE = os.path.join(HERE, "released.txt")


def released_nodes(path):
    nodes = {}
    for line in open(path):
        line = line.split("#")[0].split()
        if line:
            node, sym = line
            nodes.setdefault(node, set()).add(sym)
    return nodes


def debian_symbols(path):
    """{symbol: (node, minimal version)} of a dpkg symbols file"""
    syms = {}
    for line in open(path):
        m = re.match(r"^ (\S+)@(APMATRIX_[0-9.]+) (\S+)$", line)
        if m:
            syms[m.group(1)] = (m.group(2), m.group(3))
    return syms


def header_functions(path):
    text = open(path).read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return set(re.findall(r"\b(apmatrix_[a-z0-9_]+)\s*\(", text)) - {
        n for n in re.findall(r"\(\s*\*\s*(apmatrix_[a-z0-9_]+)\s*\)", text)}


def sym_nodes(path):
    text = re.sub(r"/\*.*?\*/", "", open(path).read(), flags=re.S)
    nodes = {}
    for m in re.finditer(r"(APMATRIX_[0-9.]+)\s*\{(.*?)\}", text, flags=re.S):
        glob = m.group(2).split("local:")[0].replace("global:", "")
        nodes[m.group(1)] = [s.strip() for s in glob.split(";") if s.strip()]
    return nodes


def main():
    header, symfile, lib = sys.argv[1:4]
    nm = sys.argv[4] if len(sys.argv) > 4 else "nm"
    t = Tap()
    funcs = header_functions(header)
    nodes = sym_nodes(symfile)
    where = {}
    for node, syms in nodes.items():
        for s in syms:
            where.setdefault(s, []).append(node)
    t.ok(not [s for s in where if "*" in s], "no wildcard exports", repr(where))
    t.ok(all(len(v) == 1 for v in where.values()), "each symbol in one node",
         repr({k: v for k, v in where.items() if len(v) > 1}))
    t.ok(set(where) == funcs, "the .sym lists exactly the header's functions",
         "only in header: %s\nonly in .sym: %s" % (sorted(funcs - set(where)),
                                                   sorted(set(where) - funcs)))
    for node, syms in sorted(released_nodes(RELEASED_FILE).items()):
        have = set(nodes.get(node, []))
        t.ok(have == syms, "released node %s keeps exactly its %d symbols" % (node, len(syms)),
             "gone or moved: %s\nadded: %s" % (sorted(syms - have), sorted(have - syms)))
    out = subprocess.run([nm, "-D", "--defined-only", lib], capture_output=True,
                         text=True, check=True).stdout
    exported = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TtWwDdBbRr" and "@" in parts[2]:
            name, _, ver = parts[2].partition("@")
            exported[name] = ver.lstrip("@")
    exported = {k: v for k, v in exported.items() if not k.startswith("APMATRIX_")}
    t.ok(set(exported) == set(where), "the library exports exactly the .sym's symbols",
         "extra: %s\nmissing: %s" % (sorted(set(exported) - set(where)),
                                     sorted(set(where) - set(exported))))
    wrong = {k: (v, where[k][0]) for k, v in exported.items() if k in where and v != where[k][0]}
    t.ok(not wrong, "each with its node's version", repr(wrong))
    if len(sys.argv) > 5:
        # ./run package finds a disagreement only after a whole package build
        deb = debian_symbols(sys.argv[5])
        want = {s: v[0] for s, v in where.items()}
        want.update({n: n for n in nodes})      # the node names themselves
        have = {s: v[0] for s, v in deb.items()}
        t.ok(have == want, "debian/libapmatrix0.symbols: the .sym's symbols, in their nodes",
             "only in .sym: %s\nonly in debian: %s\nother node: %s" % (
                 sorted(set(want) - set(have)), sorted(set(have) - set(want)),
                 sorted(s for s in set(want) & set(have) if want[s] != have[s])))
        # a symbol needs at least its node's first release (0.N.0); a later
        # one when its behaviour grew since (new flags), never an earlier
        def vkey(v):
            return tuple(int(x) for x in v.split("."))
        early = {s: v for s, v in deb.items()
                 if vkey(v[1]) < vkey(v[0][len("APMATRIX_"):] + ".0")}
        t.ok(not early, "debian/libapmatrix0.symbols: none older than its node's release (0.N.0)",
             repr(early))
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
