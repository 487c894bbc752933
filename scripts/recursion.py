#!/usr/bin/env python3
"""Checks that no function calls itself, directly or through others (the
style's "no recursion" rule: every loop and call depth is bounded).

Usage: recursion.py CC [--pkg NAME]... [-IDIR | -DMACRO]... -- SOURCE|DIR...

A DIR stands for every .c file in it. Each source is compiled alone at -O0 (no inlining hides a call) with GCC's
-fcallgraph-info into a temporary directory; the per-file call graphs are
joined (a call by plain name goes to every definition of that name, so a
static helper and an exported function that share a name could only add a
cycle, never hide one) and searched for cycles. Calls through function
pointers (callbacks, libFuzzer, liburcu's) are not in the graph. Exit 0
when there is no cycle, 1 with one line per cycle, 2 when a source does
not compile.
"""
import collections
import os
import re
import subprocess
import sys
import tempfile

NODE = re.compile(r'node: \{ title: "([^"]+)"')
EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')


def parse_args(argv):
    if len(argv) < 3 or "--" not in argv:
        sys.exit(__doc__)
    cc = argv[1]
    split = argv.index("--")
    flags, sources = [], []
    for path in argv[split + 1:]:
        if os.path.isdir(path):
            sources += sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".c"))
        else:
            sources.append(path)
    opts = argv[2:split]
    k = 0
    while k < len(opts):
        if opts[k] == "--pkg" and k + 1 < len(opts):
            out = subprocess.run(["pkg-config", "--cflags", opts[k + 1]], capture_output=True,
                                 text=True, check=False)
            flags += out.stdout.split()
            k += 2
            continue
        flags.append(opts[k])
        k += 1
    return cc, flags, sources


def call_graph(cc, flags, sources, tmp):
    """Returns (edges by caller node, definitions by plain name)."""
    edges = collections.defaultdict(set)
    defs = collections.defaultdict(set)
    for n, src in enumerate(sources):
        obj = os.path.join(tmp, "%d.o" % n)
        cmd = [cc, "-std=c11", "-O0", "-fcallgraph-info", "-c", os.path.abspath(src), "-o", obj]
        cmd += ["-I" + os.path.abspath(f[2:]) if f.startswith("-I") and len(f) > 2 else f for f in flags]
        res = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            sys.stderr.write("recursion.py: %s does not compile:\n%s" % (src, res.stderr))
            sys.exit(2)
        with open(os.path.join(tmp, "%d.ci" % n), encoding="utf-8") as f:
            text = f.read()
        for m in NODE.finditer(text):
            title = m.group(1)
            if ":" in title:
                defs[title.rsplit(":", 1)[1]].add(title)
        for m in EDGE.finditer(text):
            edges[m.group(1)].add(m.group(2))
    return edges, defs


def resolve(edges, defs):
    """Plain-name targets point at every definition of that name."""
    graph = collections.defaultdict(set)
    for src, targets in edges.items():
        for t in targets:
            graph[src] |= defs.get(t, set()) if ":" not in t else {t}
    return graph


def cycles(graph):
    """Strongly connected components with a cycle (Tarjan, iterative)."""
    index, low, on, stack, found = {}, {}, set(), [], []
    counter = 0
    for root in list(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                elif nxt in on:
                    low[v] = min(low[v], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1 or v in graph.get(v, ()):
                    found.append(sorted(comp))
    return found


def main(argv):
    cc, flags, sources = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bpc-recursion-") as tmp:
        edges, defs = call_graph(cc, flags, sources, tmp)
    found = cycles(resolve(edges, defs))
    for comp in found:
        print("recursion: " + " -> ".join(comp))
    print("recursion.py: %d sources, %d function definitions, %d cycles" %
          (len(sources), sum(len(v) for v in defs.values()), len(found)))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
