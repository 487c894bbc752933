#!/usr/bin/env python3
"""Checks the style's function length rule: no C function longer than 70
lines, counted from the line that names it to its closing brace.

Usage: funclen.py [--max N] DIR...

Every .c and .h file under each DIR is read. clang-format puts a
definition's return type on a line of its own
(AlwaysBreakAfterReturnType: AllDefinitions), so a definition starts
with its name at column 0 (`name(`) and ends at the first `}` at column
0. Exit 0 when every function fits, 1 with one line per longer function.
"""
import os
import re
import sys

START = re.compile(r"^([A-Za-z_][A-Za-z_0-9]*)\(")


def long_functions(path, limit):
    found = []
    name, first = None, 0
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = START.match(line)
            if m and name is None:
                name, first = m.group(1), n
            elif line.startswith("}") and name is not None:
                if n - first > limit:
                    found.append((path, first, name, n - first))
                name = None
    return found


def main(argv):
    limit = 70
    dirs = argv[1:]
    if len(dirs) >= 2 and dirs[0] == "--max":
        limit, dirs = int(dirs[1]), dirs[2:]
    if not dirs:
        sys.exit(__doc__)
    found, files = [], 0
    for top in dirs:
        for root, _, names in sorted(os.walk(top)):
            for fname in sorted(names):
                if fname.endswith((".c", ".h")):
                    files += 1
                    found += long_functions(os.path.join(root, fname), limit)
    for path, line, name, length in found:
        print("%s:%d: %s is %d lines (at most %d)" % (path, line, name, length, limit))
    print("funclen.py: %d files, %d functions over %d lines" % (files, len(found), limit))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
