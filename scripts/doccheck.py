#!/usr/bin/env python3
"""doccheck.py - the docs hold at this commit.

Usage: doccheck.py SOURCE_ROOT BUILD_DIR

Checks every Markdown file of the repository (README.md, docs/, bench/):
  1. every repository path a doc names in backticks (a word with a slash
     and a known top-level folder: `engine/src/wire.c`, `tests/unit/`)
     exists;
  2. every fenced code block whose info string is `sh runnable` runs with
     bash from SOURCE_ROOT and exits 0 (`build/` in it means BUILD_DIR);
  3. no doc points outside the repository (no ../shared, no DESIGN.md,
     PROTOCOL.md or STYLE.md that the repository does not hold).
  4. every flag a tool's --help prints (bpcon-sim, bpcon-cluster,
     bpcon-keygen, bpcon-store, bpcon-node, as built in BUILD_DIR) is
     described in its man page (docs/man/TOOL.1.scd) as *--flag* in the
     OPTIONS section (the whole page when it has none).
A runnable block that uses `build/dataplane/` is skipped, and counted as
skipped, when BUILD_DIR was configured without the dataplane (it has no
dataplane/ folder at all); any other missing program fails as before. A
tool that is not built is skipped, counted as skipped, the same way.
Prints one line per failure or skip and ends with "N passed, N failed"
(and ", N skipped" when any were).
"""
import os
import re
import subprocess
import sys

TOP = ("engine/", "dataplane/", "bench/", "tests/", "scripts/", "docs/", ".ci/")
PATH = re.compile(r"`([A-Za-z0-9_.\-/]+)`")
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.M | re.S)
OUTSIDE = re.compile(r"\.\./shared|\b(DESIGN|PROTOCOL|STYLE)\.md\b")
# Each tool and where the build puts it.
TOOLS = (("bpcon-sim", "tests/sim/bpcon-sim"), ("bpcon-cluster", "dataplane/bpcon-cluster"),
         ("bpcon-keygen", "dataplane/bpcon-keygen"), ("bpcon-store", "engine/bpcon-store"),
         ("bpcon-node", "dataplane/bpcon-node"))
FLAG = re.compile(r"(?<![A-Za-z0-9-])--[a-z][a-z0-9-]*")


def docs(root):
    out = [os.path.join(root, "README.md")]
    for sub in ("docs", "bench"):
        d = os.path.join(root, sub)
        for name in sorted(os.listdir(d)):
            if name.endswith(".md"):
                out.append(os.path.join(d, name))
    return out


def options_section(page):
    """The OPTIONS section of a scdoc man page, or the whole page."""
    m = re.search(r"^# OPTIONS\n(.*?)(?=^# |\Z)", page, re.M | re.S)
    return m.group(1) if m else page


def man_flags(root, build):
    """Every flag of each tool's --help named in its man page: (passed,
    failed, skipped)."""
    passed = failed = skipped = 0
    for name, rel in TOOLS:
        prog = os.path.join(build, rel)
        if not os.access(prog, os.X_OK):
            skipped += 1
            print("SKIP %s: not built in %s" % (name, build))
            continue
        r = subprocess.run([prog, "--help"], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            failed += 1
            print("FAIL %s --help exited %d" % (name, r.returncode))
            continue
        page_rel = "docs/man/%s.1.scd" % name
        opts = options_section(open(os.path.join(root, page_rel), encoding="utf-8").read())
        for flag in sorted(set(FLAG.findall(r.stdout + r.stderr))):
            if "*%s*" % flag in opts:
                passed += 1
            else:
                failed += 1
                print("FAIL %s: %s --help prints %s, which its OPTIONS do not describe" %
                      (page_rel, name, flag))
    return passed, failed, skipped


def main():
    root, build = sys.argv[1], sys.argv[2]
    passed = failed = skipped = 0
    no_dataplane = not os.path.isdir(os.path.join(build, "dataplane"))
    for path in docs(root):
        rel = os.path.relpath(path, root)
        text = open(path, encoding="utf-8").read()
        for m in PATH.finditer(text):
            word = m.group(1).rstrip(".,:;")
            if not word.startswith(TOP) or "*" in word or "<" in word:
                continue
            if os.path.exists(os.path.join(root, word)):
                passed += 1
            else:
                failed += 1
                line = text.count("\n", 0, m.start()) + 1
                print("FAIL %s:%d: names %s, which does not exist" % (rel, line, word))
        for m in OUTSIDE.finditer(text):
            word = m.group(0)
            if word.endswith(".md") and os.path.exists(os.path.join(root, "docs", word)):
                continue
            failed += 1
            line = text.count("\n", 0, m.start()) + 1
            print("FAIL %s:%d: points outside the repository (%s)" % (rel, line, word))
        for m in FENCE.finditer(text):
            if m.group(1).strip() != "sh runnable":
                continue
            script = m.group(2).replace("build/", build.rstrip("/") + "/")
            line = text.count("\n", 0, m.start()) + 1
            if no_dataplane and "build/dataplane/" in m.group(2):
                skipped += 1
                print("SKIP %s:%d: runnable block needs the dataplane, not built in %s" %
                      (rel, line, build))
                continue
            r = subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=root,
                               capture_output=True, text=True, timeout=300)
            if r.returncode == 0:
                passed += 1
            else:
                failed += 1
                print("FAIL %s:%d: runnable block exited %d:\n%s%s" %
                      (rel, line, r.returncode, r.stdout[-800:], r.stderr[-800:]))
    p, f, k = man_flags(root, build)
    passed, failed, skipped = passed + p, failed + f, skipped + k
    print("%d passed, %d failed%s" % (passed, failed,
                                       ", %d skipped" % skipped if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
