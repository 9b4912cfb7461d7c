#!/usr/bin/env python3
"""Lists what differs between several runs of the same workloads (kernel-replay.py outputs, or replay outputs).

    compare-kernel-runs.py DIR1 DIR2 [DIR3 ...]

Each DIR holds NAME.jsonl files (one per workload, the same names in every DIR). Prints, per workload,
"identical" or one line per step and field whose values differ, with the value from each run in order:
ok / errno / written / commits, the set of qgroups, and every counter of every qgroup.
"""
import glob
import json
import os
import sys


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main(dirs):
    if len(dirs) < 2:
        sys.stderr.write(__doc__)
        return 2
    names = sorted(os.path.basename(p)[:-len(".jsonl")] for p in glob.glob(os.path.join(dirs[0], "*.jsonl")))
    for name in names:
        runs = [load(os.path.join(d, name + ".jsonl")) for d in dirs]
        out = []
        if len(set(len(r) for r in runs)) > 1:
            out.append("  number of steps: %s" % [len(r) for r in runs])
        for i in range(min(len(r) for r in runs)):
            steps = [r[i] for r in runs]
            at = "  %d %s:" % (i + 1, steps[0]["line"])
            for key in ("ok", "errno", "written", "commits"):
                vals = [s.get(key) for s in steps]
                if len(set(map(str, vals))) > 1:
                    out.append("%s %s %s" % (at, key, vals))
            sets = [tuple(s["qgroups"]) for s in steps]
            if len(set(sets)) > 1:
                out.append("%s qgroup set %s" % (at, [list(x) for x in sets]))
            ids = []
            for s in steps:
                ids += [q for q in s["qgroups"] if q not in ids]
            for q in ids:
                fields = []
                for s in steps:
                    fields += [f for f in s["qgroups"].get(q, {}) if f not in fields]
                for f in fields:
                    vals = [s["qgroups"].get(q, {}).get(f) for s in steps]
                    if len(set(vals)) > 1:
                        out.append("%s %s.%s %s" % (at, q, f, vals))
        print("%s: %s" % (name, "identical" if not out else "%d difference(s)" % len(out)))
        for line in out:
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
