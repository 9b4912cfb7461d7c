#!/usr/bin/env python3
"""Differential fuzzer: random workloads run on the Linux kernel (kernel-replay.py) and through `btrfslite replay`.

    fuzz-workloads.py --seeds A-B[,C,...] [--steps N] [--btrfslite CMD] [--save DIR] [--no-shrink] [--strict]
    fuzz-workloads.py --soak HOURS [--steps N] ...      (random seeds until the time is up)
    fuzz-workloads.py --generate SEED [--steps N]       (print the workload of SEED and exit)
    fuzz-workloads.py --workload FILE                   (compare one workload, print every difference)

Each seed gives one workload in the replay language, weighted toward sharing: snapshots of snapshots (read-only
and not), nested subvolumes and snapshots of them, subvolume deletes in any order, reflink and clone across
subvolumes, writes into snapshots, rm of trees, qgroup hierarchies with limits close to the data (EDQUOT),
rescans. Both sides run it on a fresh image; compared at every step: ok/errno, `written`, rsv_data of every
qgroup, the limits, and referenced/exclusive after every `sync`; at the end the files (both images mounted
read-only, `diff -r`), full `btrfs check` and `btrfs check --qgroup-report` on both images, and `btrfslite check`
on both. The replay runs with --verify-accounting: every commit's per-extent qgroup accounting is compared with a
full recomputation (a difference fails the replay). A step where two kernel runs of the same workload disagree is not held against the replay.

Known difference (README, differences kept): where files have data, the kernel's writeback runs in parallel
workers and the order of its EXTENT_DATA items varies from run to run, so its trees past one leaf can end with
other block counts than a run before (and than ours); referenced/exclusive differences that are whole multiples
of the node size (at most 16 blocks) are reported as "tree-shape" and are not failures unless --strict.

A disagreement shrinks itself (steps dropped while the same kind of difference stays) and is saved as
DIR/fuzz-SEED.wl with the difference in its header. A seed whose steps, files and our image all agree but whose kernel
image fails a check (a kernel bug, e.g. the qgroup of a dropped subvolume kept in memory) is reported as
kernel_image_only: neither agreeing nor disagreeing. Exit 0 when every seed agreed, 1 when one did not.
Needs root, loop devices, btrfs-progs, python3; the replay side defaults to `dotnet <repo>/.../btrfslite.dll`.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
KERNEL = os.path.join(HERE, "kernel-replay.py")
NODE = 16384
K = 1024
M = 1024 * 1024


# ---------------------------------------------------------------- generator

class Model:
    """A loose picture of the file system: enough to make steps that mostly succeed, never exact."""

    def __init__(self, rnd):
        self.r = rnd
        self.subvols = {".": {"ro": False, "id": 5}}     # path -> info; "." is the top level
        self.files = {}                                   # path -> approximate size
        self.dirs = {"."}
        self.qgroups = ["0/5"]
        self.parents = []                                 # level-1 qgroups
        self.next_id = 256
        self.quota = False

    def name(self, prefix, n=6):
        return "%s%d" % (prefix, self.r.randrange(n))

    def writable_dirs(self):
        # Sorted: set order follows Python's per-process string hashing; a seed must give the same workload everywhere.
        return sorted(d for d in self.dirs if not self.in_ro(d))

    def in_ro(self, path):
        best = "."
        for s in self.subvols:
            if s != "." and (path == s or path.startswith(s + "/")) and len(s) > len(best):
                best = s
        return self.subvols[best]["ro"]

    def join(self, d, n):
        return n if d == "." else d + "/" + n

    def any_file(self, writable=True):
        fs = [f for f in self.files if not writable or not self.in_ro(f)]
        return self.r.choice(fs) if fs else None

    def new_file(self):
        ds = self.writable_dirs()
        return self.join(self.r.choice(ds), self.name("f", 8))

    def size(self):
        r = self.r.random()
        if r < 0.3:
            return str(self.r.randrange(1, 9000))
        if r < 0.8:
            return "%dK" % (4 * self.r.randrange(1, 64))
        return "%dK" % (256 * self.r.randrange(1, 9))

    def offset(self, f):
        cur = self.files.get(f, 0)
        r = self.r.random()
        if r < 0.4:
            return "0"
        if r < 0.7:
            return str(4096 * self.r.randrange(0, max(1, cur // 4096 + 4)))
        return str(self.r.randrange(0, cur + 70000))

    @staticmethod
    def bytes_of(s):
        return int(s[:-1]) * (K if s.endswith("K") else M) if s[-1] in "KM" else int(s)


def generate(seed, steps):
    r = random.Random(seed)
    m = Model(r)
    out = ["# fuzz seed %d" % seed, "size 1G"]
    if r.random() < 0.85:
        out.append("quota enable")
        m.quota = True
    ops = [("write", 22), ("sync", 10), ("snapshot", 8), ("clone", 5), ("reflink", 4), ("fallocate", 5),
           ("punch", 4), ("zero", 3), ("truncate", 4), ("fsync", 3), ("rm", 4), ("mkdir", 4), ("subvol create", 5),
           ("subvol delete", 4), ("limit", 4), ("qgroup create", 2), ("qgroup assign", 2), ("rescan", 1),
           ("subvol sync", 1), ("write ro", 1)]
    names = [o for o, _ in ops]
    weights = [w for _, w in ops]
    while len(out) < steps + 2:
        op = r.choices(names, weights)[0]
        line = None
        if op == "write":
            f = m.any_file() if m.files and r.random() < 0.6 else m.new_file()
            if f is None:
                continue
            off, ln = m.offset(f), m.size()
            seed_arg = " %d" % r.randrange(1, 50) if r.random() < 0.8 else ""
            line = "write %s %s %s%s" % (f, off, ln, seed_arg)
            m.files[f] = max(m.files.get(f, 0), int(off) + Model.bytes_of(ln))
        elif op == "write ro":
            f = m.any_file(writable=False)
            if f is None or not m.in_ro(f):
                continue
            line = "write %s 0 4K 7" % f
        elif op == "sync":
            line = "sync"
        elif op == "snapshot":
            src = r.choice(list(m.subvols))
            ds = m.writable_dirs()
            dst = m.join(r.choice(ds), m.name("s", 8))
            ro = r.random() < 0.3
            inh = ""
            if m.quota and m.parents and r.random() < 0.25:
                inh = " -i " + r.choice(m.parents)
            line = "snapshot %s %s%s%s" % (dst, src, " ro" if ro else "", inh)
            if dst not in m.subvols and dst not in m.dirs and dst not in m.files:
                m.subvols[dst] = {"ro": ro, "id": m.next_id}
                m.next_id += 1
                m.dirs.add(dst)
                prefix = "" if src == "." else src + "/"
                for f in list(m.files):
                    if f.startswith(prefix) or src == ".":
                        rel = f[len(prefix):]
                        if src == "." and any(rel == s or rel.startswith(s + "/") for s in m.subvols if s != "."):
                            continue
                        m.files[m.join(dst, rel)] = m.files[f]
        elif op == "clone":
            a, b = m.any_file(writable=False), m.new_file() if r.random() < 0.5 else m.any_file()
            if a is None or b is None:
                continue
            sz = m.files.get(a, 0)
            off = 4096 * r.randrange(0, max(1, sz // 4096 + 1))
            ln = r.choice(["0", "4K", "64K", str(4096 * r.randrange(1, 40)), str(r.randrange(1, 20000))])
            doff = 4096 * r.randrange(0, 64)
            line = "clone %s %d %s %s %d" % (a, off, ln, b, doff)
        elif op == "reflink":
            a, b = m.any_file(writable=False), m.new_file()
            if a is None:
                continue
            line = "reflink %s %s" % (a, b)
            m.files[b] = m.files.get(a, 0)
        elif op in ("fallocate", "punch", "zero"):
            f = m.any_file() if m.files and r.random() < 0.8 else m.new_file()
            if f is None:
                continue
            keep = " keep" if op == "fallocate" and r.random() < 0.3 else ""
            line = "%s %s %s %s%s" % (op, f, m.offset(f), m.size(), keep)
            if op == "fallocate":
                m.files.setdefault(f, 0)
        elif op == "truncate":
            f = m.any_file()
            if f is None:
                continue
            line = "truncate %s %s" % (f, m.size() if r.random() < 0.7 else "0")
        elif op == "fsync":
            f = m.any_file(writable=False)
            if f is None:
                continue
            line = "fsync %s" % f
        elif op == "rm":
            if r.random() < 0.7 and m.files:
                f = m.any_file()
                if f is None:
                    continue
                line = "rm %s" % f
                m.files.pop(f, None)
            else:
                ds = sorted(d for d in m.dirs if d != "." and d not in m.subvols and not m.in_ro(d))
                if not ds:
                    continue
                d = r.choice(ds)
                line = "rm %s" % d
                m.dirs.discard(d)
                for f in [f for f in m.files if f.startswith(d + "/")]:
                    m.files.pop(f)
        elif op == "mkdir":
            d = m.join(r.choice(m.writable_dirs()), m.name("d", 5))
            line = "mkdir %s" % d
            m.dirs.add(d)
        elif op == "subvol create":
            d = m.join(r.choice(m.writable_dirs()), m.name("v", 6))
            inh = " -i " + r.choice(m.parents) if m.quota and m.parents and r.random() < 0.3 else ""
            line = "subvol create %s%s" % (d, inh)
            if d not in m.subvols and d not in m.dirs and d not in m.files:
                m.subvols[d] = {"ro": False, "id": m.next_id}
                m.next_id += 1
                m.dirs.add(d)
        elif op == "subvol delete":
            cands = [s for s in m.subvols if s != "."]
            if not cands:
                continue
            s = r.choice(cands)
            line = "subvol delete %s" % s
            nested = [x for x in m.subvols if x.startswith(s + "/")]
            if not nested:
                m.subvols.pop(s)
                m.dirs = {d for d in m.dirs if d != s and not d.startswith(s + "/")}
                for f in [f for f in m.files if f.startswith(s + "/")]:
                    m.files.pop(f)
        elif op == "limit" and m.quota:
            q = r.choice(m.qgroups + m.parents + ["0/%d" % m.subvols[s]["id"] for s in m.subvols])
            kind = r.choice(["excl", "rfer"])
            val = r.choice(["none", "%dM" % r.randrange(1, 24), "%dK" % (64 * r.randrange(1, 64))])
            line = "limit %s %s %s" % (kind, q, val)
        elif op == "qgroup create" and m.quota:
            q = "1/%d" % r.randrange(100, 103)
            line = "qgroup create %s" % q
            if q not in m.parents:
                m.parents.append(q)
        elif op == "qgroup assign" and m.quota and m.parents:
            c = "0/%d" % m.subvols[r.choice(list(m.subvols))]["id"]
            line = "qgroup assign %s %s" % (c, r.choice(m.parents))
        elif op == "rescan" and m.quota:
            line = "quota rescan"
        elif op == "subvol sync":
            line = "subvol sync"
        if line:
            out.append(line)
    out.append("sync")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- running

def run(cmd, timeout=1800):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def parse(out):
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def run_kernel(wl, img):
    rc, out, err = run([sys.executable, KERNEL, img, wl, "--keep", "--commits"])
    if rc != 0:
        raise RuntimeError("kernel-replay.py failed (%d): %s" % (rc, err.strip()[-500:]))
    return parse(out)


def run_ours(btrfslite, wl, img):
    rc, out, err = run(btrfslite + ["replay", img, wl, "--format", "json", "--verify-accounting"])
    if rc != 0:
        return None, "btrfslite replay exited %d: %s" % (rc, err.strip()[-500:])
    return parse(out), None


def compare(ours, kern, strict):
    """(failures, notes): each failure is (kind, step, text)."""
    fails, notes = [], []
    rm_gone, prev, rm_seen = set(), {}, False
    if len(ours) != len(kern):
        fails.append(("steps", 0, "replay ran %d steps, the kernel %d" % (len(ours), len(kern))))
    for o, k in zip(ours, kern):
        at = "step %d `%s`" % (k["step"], k["line"])
        if (o["ok"], o["errno"]) != (k["ok"], k["errno"]):
            fails.append(("errno", k["step"], "%s: replay %s, kernel %s" % (at, o["errno"] or "ok", k["errno"] or "ok")))
        if o.get("written") != k.get("written"):
            fails.append(("written", k["step"], "%s: written replay %s, kernel %s" % (at, o.get("written"), k.get("written"))))
        # A level-0 qgroup that leaves the replay's list other than by a `subvol delete` or `qgroup destroy` that
        # succeeded went with a subvolume removed by rm: at the rm or, as the kernel's cleaner, after the next commit
        # and a wake (the replay's cleaner can run at the start of any step, a failing delete included: seed 10048).
        rm_seen = rm_seen or o["line"].startswith("rm ")
        if rm_seen and not (o["ok"] and o["line"].startswith(("subvol delete", "qgroup destroy"))):
            rm_gone |= {q for q in prev if q.startswith("0/") and q not in o["qgroups"]}
        prev = o["qgroups"]
        for q in sorted(set(o["qgroups"]) | set(k["qgroups"])):
            oq, kq = o["qgroups"].get(q), k["qgroups"].get(q)
            if oq is None and q in rm_gone:
                # By design (README): `rm` of a subvolume drops it at once; the kernel's qgroup stays until its cleaner ran.
                notes.append(("rm-cleaner", k["step"], "%s: qgroup %s of a subvolume removed by rm still in the kernel" % (at, q)))
                continue
            if oq is None or kq is None:
                fails.append(("qgroups", k["step"], "%s: qgroup %s only in the %s" % (at, q, "kernel" if oq is None else "replay")))
                continue
            if oq["rsv_data"] != kq["rsv_data"]:
                fails.append(("rsv_data", k["step"], "%s: %s rsv_data replay %d, kernel %d" % (at, q, oq["rsv_data"], kq["rsv_data"])))
            lim = ("limit_flags", "max_referenced", "max_exclusive")
            if tuple(oq[x] for x in lim) != tuple(kq[x] for x in lim):
                fails.append(("limits", k["step"], "%s: %s limits replay %s, kernel %s" % (at, q, [oq[x] for x in lim], [kq[x] for x in lim])))
            if k["line"] == "sync":
                for f in ("referenced", "exclusive"):
                    d = oq[f] - kq[f]
                    if d == 0:
                        continue
                    text = "%s: %s %s replay %d, kernel %d (%+d)" % (at, q, f, oq[f], kq[f], d)
                    if not strict and d % NODE == 0 and abs(d) <= 16 * NODE:
                        notes.append(("tree-shape", k["step"], text))
                    else:
                        fails.append((f, k["step"], text))
    return fails, notes


def same_files(a_img, b_img, tmp):
    """(files equal, diff output or a mount error) of two images mounted read-only."""
    mo, mk = os.path.join(tmp, "mo"), os.path.join(tmp, "mk")
    os.makedirs(mo, exist_ok=True)
    os.makedirs(mk, exist_ok=True)
    mounted = []
    try:
        for img, mnt in ((a_img, mo), (b_img, mk)):
            rc, out, err = run(["mount", "-o", "ro,loop", "-t", "btrfs", img, mnt])
            if rc != 0:
                return None, "mount %s: %s" % (img, err.strip())
            mounted.append(mnt)
        rc, out, err = run(["diff", "-r", "--no-dereference", mo, mk])
        return rc == 0, (out + err).strip()[-1500:]
    finally:
        for mnt in mounted:
            run(["umount", mnt])


def final_checks(btrfslite, ours_img, kern_img, tmp, notes, other_kern_img=None):
    """Failures of the end state: btrfs check (full, qgroup report) and ours on both, and the files' bytes. Where
    the kernel's two runs differed in a step's outcome, files equal to those of its other run are a note."""
    fails = []
    # With the status INCONSISTENT (a snapshot's inherit that needs a rescan, as on Linux) progs says qgroup differences
    # are expected and so are they: the kernel leaves the same numbers.
    qgroups_bad = lambda rc, text: rc != 0 or ("are different" in text and "difference in qgroup accounting is expected" not in text)
    checks = [("btrfs check", ["btrfs", "check"], lambda rc, text: rc != 0),
              ("btrfs check --qgroup-report", ["btrfs", "check", "--qgroup-report"], qgroups_bad),
              ("btrfslite check", btrfslite + ["check"], lambda rc, text: rc != 0)]
    failed = set()
    for name, img in (("replay", ours_img), ("kernel", kern_img)):
        for label, cmd, bad in checks:
            rc, out, err = run(cmd + [img])
            if not bad(rc, out + err):
                continue
            failed.add((name, label))
            # A check that fails on the kernel's image only is the kernel's doing (kind "kernel-check"): counted apart.
            kind = "kernel-check" if name == "kernel" and ("replay", label) not in failed else "check"
            fails.append((kind, 0, "%s on the %s image: %s" % (label, name, (out + err).strip()[-800:])))
    same, text = same_files(ours_img, kern_img, tmp)
    if same is None:
        fails.append(("mount", 0, text))
    elif not same:
        if other_kern_img and same_files(ours_img, other_kern_img, tmp)[0]:
            notes.append(("kernel-nondeterministic", 0, "the files differ from the kernel's first run, equal its second:\n" + text))
        else:
            fails.append(("files", 0, "the files differ:\n" + text))
    return fails


def one(seed_text, btrfslite, strict, kernel_twice=True, checks=True, ours_only=False):
    """Runs a workload text on both sides: (failures, notes). ours_only: just whether the replay crashes."""
    tmp = tempfile.mkdtemp(prefix="btrfslite-fuzz-")
    try:
        wl = os.path.join(tmp, "w.wl")
        with open(wl, "w") as f:
            f.write(seed_text)
        kimg, oimg = os.path.join(tmp, "k.img"), os.path.join(tmp, "o.img")
        ours, err = run_ours(btrfslite, wl, oimg)
        if ours is None:
            return [("crash", 0, err)], []
        if ours_only:
            return [], []
        try:
            kern = run_kernel(wl, kimg)
        except RuntimeError as e:
            return [("harness", 0, str(e))], []
        fails, notes = compare(ours, kern, strict)
        other = None
        if fails and kernel_twice:
            # The kernel is not always repeatable (a stray commit): a step where two kernel runs differ is not held against us.
            try:
                again = run_kernel(wl, os.path.join(tmp, "k2.img"))
            except RuntimeError:
                again = kern
            kk, _ = compare(again, kern, True)
            shaky = {s for _, s, _ in kk}
            # The kernel's runs disagree on whether a step succeeded: its other run's files are as good a reference.
            if any(kind in ("errno", "written") for kind, _, _ in kk):
                other = os.path.join(tmp, "k2.img")
            notes += [("kernel-nondeterministic", s, t) for kind, s, t in fails if s in shaky]
            fails = [x for x in fails if x[1] not in shaky]
        if checks:
            fails += final_checks(btrfslite, oimg, kimg, tmp, notes, other)
        return fails, notes
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def shrink(text, kind, btrfslite, strict, deadline):
    """Drops steps while a difference of the same kind stays (ddmin over the steps after the header)."""
    lines = text.splitlines()
    head = [l for l in lines[:3] if l.startswith("#") or l.startswith("size") or l == "quota enable"]
    body = lines[len(head):]
    n = 2
    while len(body) >= 2 and time.time() < deadline:
        chunk = max(1, len(body) // n)
        reduced = False
        for i in range(0, len(body), chunk):
            if time.time() >= deadline:
                break
            trial = body[:i] + body[i + chunk:]
            if not trial or trial[-1] != "sync":
                trial = trial + ["sync"]
            fails, _ = one("\n".join(head + trial) + "\n", btrfslite, strict, kernel_twice=False,
                           checks=kind in ("check", "files", "mount"), ours_only=kind == "crash")
            if any(f[0] == kind for f in fails):
                body, n, reduced = trial, max(n - 1, 2), True
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(len(body), n * 2)
    return "\n".join(head + body) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", help="seeds: N, A-B, or a comma-separated list of both")
    ap.add_argument("--soak", type=float, help="hours of random seeds")
    ap.add_argument("--generate", type=int)
    ap.add_argument("--workload", help="compare one workload file (no shrinking) and print every difference")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--btrfslite", default=None, help="command that runs btrfslite (default: dotnet <repo> btrfslite.dll)")
    ap.add_argument("--save", default=os.path.join(REPO, "images", "workloads", "fuzz"))
    ap.add_argument("--no-shrink", action="store_true")
    ap.add_argument("--shrink-minutes", type=float, default=10)
    ap.add_argument("--strict", action="store_true")
    a = ap.parse_args()
    if a.generate is not None:
        sys.stdout.write(generate(a.generate, a.steps))
        return 0
    btrfslite = a.btrfslite.split() if a.btrfslite else ["dotnet", os.path.join(REPO, "src", "BtrfsLite.Cli", "bin", "Release", "net10.0", "btrfslite.dll")]
    if a.workload:
        with open(a.workload) as f:
            fails, notes = one(f.read(), btrfslite, a.strict)
        for kind, _, text in fails + notes:
            print("%s: %s" % (kind, text))
        print(json.dumps({"agree": not fails, "failures": len(fails), "notes": len(notes)}), flush=True)
        return 1 if fails else 0
    if a.seeds:
        chosen = []
        for part in a.seeds.split(","):
            lo, _, hi = part.partition("-")
            chosen += range(int(lo), int(hi or lo) + 1)
        seeds = iter(chosen)
        end = None
    elif a.soak:
        end = time.time() + a.soak * 3600
        seeds = iter(lambda: random.randrange(1 << 31), None)
    else:
        ap.error("--seeds or --soak")
    bad = 0
    kernel_only = 0
    ran = 0
    for seed in seeds:
        if end and time.time() >= end:
            break
        text = generate(seed, a.steps)
        t0 = time.time()
        fails, notes = one(text, btrfslite, a.strict)
        ran += 1
        rec = {"seed": seed, "steps": a.steps, "agree": not fails, "seconds": round(time.time() - t0, 1),
               "failures": [t for _, _, t in fails[:5]], "notes": len(notes),
               "tree_shape": sum(1 for k, _, _ in notes if k == "tree-shape"),
               # Our final image through full btrfs check, --qgroup-report and ours, whatever else differed.
               "replay_image_checks": "failed" if any("on the replay image" in t for _, _, t in fails) else
                                      "not run" if any(k in ("crash", "harness", "mount") for k, _, _ in fails) else "passed"}
        if fails and fails[0][0] == "harness":
            print(json.dumps({"seed": seed, "harness_error": fails[0][2][-300:]}), flush=True)
            continue
        if fails and all(k == "kernel-check" for k, _, _ in fails):
            # Every step, the files and every check of our image agree; only the kernel's own image fails a check.
            rec["kernel_image_only"] = True
            kernel_only += 1
        elif fails:
            bad += 1
            kind = fails[0][0]
            if not a.no_shrink:
                small = shrink(text, kind, btrfslite, a.strict, time.time() + a.shrink_minutes * 60)
                # A kernel run disturbed by the machine (a stray commit or writeback) can make a shrink step "fail" for
                # the wrong reason: keep the shrunk workload only if it still disagrees, judged with two kernel runs.
                again, _ = one(small, btrfslite, a.strict)
                if not any(f[0] == kind for f in again):
                    small, rec["shrink"] = text, "did not reproduce when shrunk: saved whole"
                os.makedirs(a.save, exist_ok=True)
                path = os.path.join(a.save, "fuzz-%d.wl" % seed)
                with open(path, "w") as f:
                    f.write("# differential fuzzer, seed %d (%d steps), shrunk: first difference (%s): %s\n" % (seed, a.steps, kind, fails[0][2].splitlines()[0]))
                    f.write(small)
                rec["saved"] = path
        print(json.dumps(rec), flush=True)
    print(json.dumps({"ran": ran, "disagreed": bad, "kernel_image_only": kernel_only}), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
