#!/usr/bin/env python3
"""Checks that each engine module's state is written and read only by that
module (engine/src/core.h and state.h say who owns what).

Usage: owners.py ENGINE_SRC_DIR

Every part of struct bpc_engine and of the slot and generation element
types belongs to one module. Other modules go through the owner's
functions and the static inline accessors in the owner's header, so a
rule below is: this access pattern may appear only in these files. A
module's state is matched as a whole (`e->ob`, not only `e->ob.`), so
taking its address (`&e->ob`) counts as reaching in. A
comment or a string that matches counts too (rename it rather than
loosen a rule). Exit 0 when every rule holds, 1 with one line per
offending place otherwise.
"""
import os
import re
import sys

# (what is owned, pattern, files allowed to contain it)
RULES = [
    ("ballot.c's party-wide ballot state", r"\be->bl\b", ["ballot.c", "ballot.h"]),
    ("instance.c's cross-instance state", r"\be->in\b", ["instance.c", "instance.h"]),
    ("held.c's held 2a values", r"\be->hd\b", ["held.c", "held.h"]),
    ("report.c's 1b coverage", r"\be->rp\b", ["report.c", "report.h"]),
    ("runs.c's runs of votes", r"\be->vr\b", ["runs.c", "runs.h"]),
    ("tally.c's sets and claim pool", r"\be->ty\b", ["tally.c", "claims.c", "tally.h"]),
    ("window.c's slots and ring", r"\be->win\b", ["window.c", "window.h"]),
    ("outbox.c's queues and rounds", r"\be->ob\b", ["outbox.c", "outbox.h"]),
    ("submit.c's commands", r"\be->sub\b", ["submit.c", "leaderq.c", "cmdauth.c", "submit.h"]),
    ("catchup.c's requests", r"\be->cu\b", ["catchup.c", "catchup.h"]),
    ("persist.c's durable facts", r"\be->ps\b", ["persist.c", "persist.h"]),
    ("admit.c's frame admission", r"\be->rx\b", ["admit.c"]),
    # Inside a slot (struct eng_slot) and a generation (struct eng_gen).
    ("a slot's vote state (eng_vote)", r"(->|\.)v\.[a-z_]+",
     ["instance.c", "instance_bytes.c", "refuse.c", "held.c", "instance.h", "held.h"]),
    ("a generation's 2a (eng_gen_2a)", r"(->|\.)a\.(has_2a|proposed|from_queue|refused|v2a)\b",
     ["instance.c", "instance_bytes.c", "refuse.c", "instance.h"]),
    ("a generation's tallies (eng_gen_tally)", r"(->|\.)t\.[a-z_0-9]+\b",
     ["tally.c", "claims.c", "tally.h"]),
    ("a slot's DECIDED-claim tally", r"(->|\.)(tdec|ndec)\b", ["tally.c", "tally.h"]),
    ("a slot's instance and emit step", r"\b(s|held)->(tag|emit_step)\b",
     ["window.c", "window.h"]),
    ("a generation's ballot", r"(\bgen\[[^]]*\]|\bgen->|\bg->)\.?ballot\b", ["window.c", "window.h"]),
    ("a slot's dirty mark", r"\bs->dirty\b", ["persist.c", "persist.h"]),
]

MODULE_FILES = re.compile(r"^[a-z_]+\.[ch]$")
SKIP = {"core.h", "state.h"}  # the definitions themselves


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    src = argv[1]
    names = sorted(n for n in os.listdir(src) if MODULE_FILES.match(n) and n not in SKIP)
    names = [n for n in names if not n.startswith("store")]  # libbpcon-store: its own state
    bad = 0
    checked = 0
    for what, pattern, allowed in RULES:
        rx = re.compile(pattern)
        for name in names:
            if name in allowed:
                continue
            with open(os.path.join(src, name), encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    if rx.search(line):
                        print(f"{name}:{lineno}: reaches into {what} (owner: {allowed[0]}): "
                              f"{line.strip()}")
                        bad += 1
        checked += 1
    if bad:
        print(f"owners: {bad} access(es) outside the owning module")
        return 1
    print(f"owners: {checked} rules hold over {len(names)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
