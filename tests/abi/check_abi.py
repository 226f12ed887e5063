#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The ABI of libapmatrix: every function lib/apmatrix.h declares is in
exactly one version node of lib/libapmatrix.sym, the node a symbol had in
an earlier release stays its node, and the built library exports exactly
those symbols, each with its node's version (nm -D). TAP.

usage: check_abi.py HEADER SYMFILE LIBRARY.so [NM]
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
RELEASED = {"APMATRIX_0.1": 77}


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
    for node, count in RELEASED.items():
        t.ok(len(nodes.get(node, [])) == count,
             "released node %s keeps its %d symbols" % (node, count),
             "has %d" % len(nodes.get(node, [])))
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
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
