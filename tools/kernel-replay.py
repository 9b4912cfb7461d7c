#!/usr/bin/env python3
"""Replays a BtrfsLite workload (.wl) on the Linux kernel's btrfs and prints, after every step, one JSON
object with the step's result and every qgroup's counters as sysfs shows them.

    kernel-replay.py IMG WORKLOAD [--keep] [--commits] [--verbose] [--existing]
    kernel-replay.py --parse WORKLOAD          (no root: {"size": N, "steps": [...]} or exit 2)

Makes a fresh image IMG of the workload's `size` (default 1G) with
`mkfs.btrfs -f -q -b SIZE -n 16384 -s 4096` (quota off), loop-mounts it with `-o commit=300` (so periodic
commits do not interfere), runs the steps (file steps by direct syscalls, qgroup and subvolume steps through
btrfs-progs), and always unmounts and detaches at the end. IMG is removed afterwards unless --keep.
--existing runs the steps on IMG as it is (an image made before, quota state included): no mkfs, and IMG stays.

This is the kernel side of `btrfslite replay IMG WORKLOAD --format json`: the output has the same shape,
{"step", "line", "ok", "errno", "written", "qgroups"}. --commits adds "commits": the number of transaction
commits the kernel made during the step (sysfs commit_stats); a commit that another process causes (any
sync(2) on the machine commits every mounted btrfs) shows up there, which is how a disturbed run is told.
--verbose echoes every btrfs-progs command and its output on stderr.

Steps that are not plain syscalls: `quota enable` = `btrfs quota enable` + `btrfs quota rescan -w`;
`qgroup assign/remove` wait for the rescan progs starts when the kernel marks the qgroups inconsistent;
`snapshot`/`subvol create` onto an existing name fail with EEXIST (progs would snapshot into a directory);
`subvol delete` = `btrfs subvolume delete --commit-after` + `btrfs subvolume sync` (the cleaner starts only
after the deletion is committed: without the commit it waits for the 300 s periodic one), then up to 1 s more
until the cleaner has removed the subvolume's level-0 qgroup from sysfs. A failed progs
command's errno is the errno whose strerror text its output contains (progs' "quota not enabled" is ENOTCONN,
"target path already exists" EEXIST; EINVAL when there is none, e.g. "bad relation requested").

Exit 0 when the workload ran (failed steps are data), 2 on a bad workload or arguments, 1 on a setup failure.
python3 standard library only; needs root, loop devices and btrfs-progs.
"""

import ctypes
import errno
import fcntl
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import uuid

MIB = 1 << 20
CHUNK = 64 * MIB                   # pwrite in chunks of at most this
FICLONE = 0x40049409
FICLONERANGE = 0x4020940D
FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_ZERO_RANGE = 0x10
QGROUP_FILES = ("referenced", "exclusive", "rsv_data", "rsv_meta_pertrans", "rsv_meta_prealloc",
                "max_referenced", "max_exclusive", "limit_flags")
DEFAULT_SIZE = 1 << 30


class WorkloadError(Exception):
    pass


class SetupError(Exception):
    pass


# ---------------------------------------------------------------------------------------------- workload

_SIZE_RE = re.compile(r"^([0-9]+)([KMGT]?)$")
_SHIFT = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}


def parse_size(text):
    """Bytes, or a number with K/M/G/T (powers of 1024)."""
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError("bad size '%s' (bytes, or a number with K/M/G/T)" % text)
    return int(m.group(1)) << _SHIFT[m.group(2)]


def _qgroupid(text):
    m = re.match(r"^([0-9]+)/([0-9]+)$", text)
    if not m:
        raise ValueError("bad qgroup id '%s' (level/id)" % text)
    return text


def _path(text):
    """A path relative to the top-level subvolume: never absolute, never through '..' (the harness runs as root)."""
    if text.startswith("/") or ".." in text.split("/"):
        raise ValueError("path '%s' must stay inside the filesystem (relative, no '..')" % text)
    return text


_PATH_ARGS = {"write": (1,), "fallocate": (1,), "punch": (1,), "zero": (1,), "truncate": (1,), "fsync": (1,),
              "rm": (1,), "mkdir": (1,), "reflink": (1, 2), "clone": (1, 4)}


def _check_step(tok):
    """Validates one step's arguments (raises ValueError); the syntax of the workload language."""
    verb = tok[0]
    n = len(tok) - 1
    for i in _PATH_ARGS.get(verb, ()):
        if i < len(tok):
            _path(tok[i])

    def need(lo, hi=None):
        hi = lo if hi is None else hi
        if not lo <= n <= hi:
            raise ValueError("'%s' takes %s argument(s), got %d" % (verb, lo if lo == hi else "%d-%d" % (lo, hi), n))

    if verb == "quota":
        need(1)
        if tok[1] not in ("enable", "disable", "rescan"):
            raise ValueError("quota enable|disable|rescan")
    elif verb == "qgroup":
        if n < 1 or tok[1] not in ("create", "destroy", "assign", "remove"):
            raise ValueError("qgroup create|destroy|assign|remove")
        if tok[1] in ("create", "destroy"):
            need(2)
            _qgroupid(tok[2])
        else:
            need(3)
            _qgroupid(tok[2])
            _qgroupid(tok[3])
    elif verb == "limit":
        need(3)
        if tok[1] not in ("excl", "rfer"):
            raise ValueError("limit excl|rfer QG SIZE|none")
        _qgroupid(tok[2])
        if tok[3] != "none":
            parse_size(tok[3])
    elif verb == "write":
        need(3, 4)
        parse_size(tok[2])
        parse_size(tok[3])
        if n == 4 and tok[4] != "zeros":
            if not tok[4].isdigit() or int(tok[4]) >= 1 << 64:
                raise ValueError("write seed must be a decimal u64 or 'zeros'")
    elif verb == "fallocate":
        need(3, 4)
        parse_size(tok[2])
        parse_size(tok[3])
        if n == 4 and tok[4] != "keep":
            raise ValueError("fallocate PATH OFF LEN [keep]")
    elif verb in ("punch", "zero"):
        need(3)
        parse_size(tok[2])
        parse_size(tok[3])
    elif verb == "truncate":
        need(2)
        parse_size(tok[2])
    elif verb in ("fsync", "rm", "mkdir"):
        need(1)
    elif verb == "sync":
        need(0)
    elif verb == "reflink":
        need(2)
    elif verb == "clone":
        need(5)
        parse_size(tok[2])
        parse_size(tok[3])
        parse_size(tok[5])
    elif verb == "snapshot":
        name, src, _, _ = parse_snapshot(tok)
        _path(name)
        if src is not None:
            _path(src)
    elif verb == "subvol":
        if n < 1 or tok[1] not in ("create", "delete", "sync"):
            raise ValueError("subvol create NAME [-i QG] | subvol delete NAME | subvol sync")
        if tok[1] == "sync":
            if n != 1:
                raise ValueError("subvol sync")
            return
        _path(tok[2])
        if tok[1] == "delete":
            need(2)
        elif n == 4 and tok[3] == "-i":
            _qgroupid(tok[4])
        elif n != 2:
            raise ValueError("subvol create NAME [-i QG]")
    else:
        raise ValueError("unknown step '%s'" % verb)


def parse_snapshot(tok):
    """snapshot NAME [SRC] [ro] [-i QG] -> (name, src or None, readonly, inherit qgroup or None)."""
    if len(tok) < 2:
        raise ValueError("snapshot NAME [SRC] [ro] [-i QG]")
    name, src, ro, inherit = tok[1], None, False, None
    i = 2
    while i < len(tok):
        if tok[i] == "ro":
            ro = True
        elif tok[i] == "-i":
            if i + 1 >= len(tok):
                raise ValueError("snapshot: -i needs a qgroup id")
            inherit = _qgroupid(tok[i + 1])
            i += 1
        elif src is None:
            src = tok[i]
        else:
            raise ValueError("snapshot: unexpected '%s'" % tok[i])
        i += 1
    return name, src, ro, inherit


def parse_workload(text, where="workload"):
    """-> (image size, [step text]): comments cut at '#', steps split on ';' and trimmed, `size` headers taken out."""
    size = None
    steps = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        for part in raw.split("#", 1)[0].split(";"):
            step = part.strip()
            if not step:
                continue
            tok = step.split()
            try:
                if tok[0] == "size":
                    if len(tok) != 2:
                        raise ValueError("size SIZE")
                    size = parse_size(tok[1])
                    continue
                _check_step(tok)
            except ValueError as e:
                raise WorkloadError("%s:%d: %s: %s" % (where, lineno, step, e))
            steps.append(step)
    return (size if size is not None else DEFAULT_SIZE), steps


# ---------------------------------------------------------------------------------------------- data

_M64 = (1 << 64) - 1
_patterns = {}


def splitmix_block(seed):
    """B: 1 MiB, the little-endian concatenation of SplitMix64(seed + w) for w = 0..131071."""
    b = _patterns.get(seed)
    if b is None:
        vals = []
        for w in range(MIB // 8):
            z = (seed + w + 0x9E3779B97F4A7C15) & _M64
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
            vals.append(z ^ (z >> 31))
        b = struct.pack("<%dQ" % len(vals), *vals)
        _patterns[seed] = b
    return b


def write_data(spec, start, n):
    """Bytes start..start+n of a write with data spec 'zeros' or a seed (byte i = B[i mod 1 MiB])."""
    if spec == "zeros":
        return bytes(n)
    b = splitmix_block(int(spec))
    rel = start % MIB
    reps = (rel + n + MIB - 1) // MIB
    return memoryview(b * reps)[rel:rel + n]


# ---------------------------------------------------------------------------------------------- errors

def _strerror_table():
    names = {}
    for num, name in errno.errorcode.items():
        names.setdefault(os.strerror(num), name)
    return names


_STRERROR = _strerror_table()
# progs' own wording instead of strerror (cmds/qgroup.c: ENOTCONN is printed as "quota not enabled").
_PROGS_TEXT = {
    "quota not enabled": "ENOTCONN",
    "target path already exists": "EEXIST",              # subvolume create onto an existing name
    "exists and it is not a directory": "EEXIST",        # snapshot onto an existing file
}


def errno_name(num):
    return errno.errorcode.get(num, "E%d" % num)


def errno_from_text(text):
    """The errno whose strerror text (the longest that matches) occurs in a failed CLI's output; EINVAL if none
    does (progs' own argument checks, e.g. 'bad relation requested', 'invalid qgroupid')."""
    best = None
    for msg, name in list(_STRERROR.items()) + list(_PROGS_TEXT.items()):
        if msg and msg in text and (best is None or len(msg) > len(best[0])):
            best = (msg, name)
    return best[1] if best else "EINVAL"


# ---------------------------------------------------------------------------------------------- syscalls

_libc = ctypes.CDLL(None, use_errno=True)
_fallocate = getattr(_libc, "fallocate64", None) or _libc.fallocate
_fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
_fallocate.restype = ctypes.c_int


def fallocate(fd, mode, off, length):
    if _fallocate(fd, mode, off, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def run(args):
    env = dict(os.environ, LC_ALL="C", LANG="C")
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env)


class StepFailed(Exception):
    def __init__(self, name):
        Exception.__init__(self, name)
        self.name = name


class Replay:
    def __init__(self, mnt, fsid):
        self.mnt = mnt
        self.fsid = fsid
        self.log = []          # progs commands and their output, for --verbose

    def p(self, rel):
        return os.path.join(self.mnt, rel)

    def progs(self, *args):
        r = run(["btrfs"] + list(args))
        self.log.append((args, r.returncode, r.stdout, r.stderr))
        if r.returncode != 0:
            raise StepFailed(errno_from_text(r.stdout + r.stderr))
        return r

    # do_write returns (written, errno or None); the others return None and raise OSError or StepFailed on failure.
    def step(self, text):
        tok = text.split()
        verb = tok[0]
        return getattr(self, "do_" + verb)(tok)

    def do_quota(self, tok):
        if tok[1] == "enable":
            self.progs("quota", "enable", self.mnt)
            self.progs("quota", "rescan", "-w", self.mnt)
        elif tok[1] == "disable":
            self.progs("quota", "disable", self.mnt)
        else:
            self.progs("quota", "rescan", "-w", self.mnt)

    def do_qgroup(self, tok):
        if tok[1] in ("create", "destroy"):
            self.progs("qgroup", tok[1], tok[2], self.mnt)
            return
        r = self.progs("qgroup", "assign" if tok[1] == "assign" else "remove", tok[2], tok[3], self.mnt)
        # progs (default --rescan) starts a rescan when the kernel marked the qgroups inconsistent; wait for it.
        if "rescan scheduled" in r.stdout or self.inconsistent():
            self.progs("quota", "rescan", "-w", self.mnt)

    def inconsistent(self):
        try:
            with open("/sys/fs/btrfs/%s/qgroups/inconsistent" % self.fsid) as f:
                return f.read().strip() == "1"
        except OSError:
            return False

    def do_limit(self, tok):
        kind, qg, val = tok[1], tok[2], tok[3]
        args = ["qgroup", "limit"] + (["-e"] if kind == "excl" else [])
        args += ["none" if val == "none" else str(parse_size(val)), qg, self.mnt]
        self.progs(*args)

    def do_write(self, tok):
        path, off, length = tok[1], parse_size(tok[2]), parse_size(tok[3])
        spec = tok[4] if len(tok) > 4 else "0"
        written = 0
        try:
            fd = os.open(self.p(path), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            return written, e.errno
        try:
            while written < length:
                n = min(length - written, CHUNK)
                try:
                    r = os.pwrite(fd, write_data(spec, written, n), off + written)
                except OSError as e:
                    return written, e.errno
                if r <= 0:     # never seen: a zero-byte write without an error
                    return written, errno.EIO
                written += r
        finally:
            os.close(fd)
        return written, None

    def _fallocate(self, path, mode, off, length, create):
        flags = os.O_WRONLY | os.O_CLOEXEC | (os.O_CREAT if create else 0)
        fd = os.open(self.p(path), flags, 0o644)
        try:
            fallocate(fd, mode, off, length)
        finally:
            os.close(fd)

    def do_fallocate(self, tok):
        mode = FALLOC_FL_KEEP_SIZE if len(tok) > 4 else 0
        self._fallocate(tok[1], mode, parse_size(tok[2]), parse_size(tok[3]), True)

    def do_punch(self, tok):
        self._fallocate(tok[1], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, parse_size(tok[2]), parse_size(tok[3]), False)

    def do_zero(self, tok):
        self._fallocate(tok[1], FALLOC_FL_ZERO_RANGE, parse_size(tok[2]), parse_size(tok[3]), False)

    def do_truncate(self, tok):
        os.truncate(self.p(tok[1]), parse_size(tok[2]))

    def do_fsync(self, tok):
        fd = os.open(self.p(tok[1]), os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def do_sync(self, tok):
        self.progs("filesystem", "sync", self.mnt)

    def do_rm(self, tok):
        p = self.p(tok[1])
        if os.path.isdir(p) and not os.path.islink(p):
            def fail(func, path, exc_info):
                raise exc_info[1]
            shutil.rmtree(p, onerror=fail)
        else:
            os.unlink(p)

    def do_mkdir(self, tok):
        os.mkdir(self.p(tok[1]))

    def do_reflink(self, tok):
        src = os.open(self.p(tok[1]), os.O_RDONLY | os.O_CLOEXEC)
        try:
            dst = os.open(self.p(tok[2]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            try:
                fcntl.ioctl(dst, FICLONE, src)
            finally:
                os.close(dst)
        finally:
            os.close(src)

    def do_clone(self, tok):
        src_off, length, dst_off = parse_size(tok[2]), parse_size(tok[3]), parse_size(tok[5])
        src = os.open(self.p(tok[1]), os.O_RDONLY | os.O_CLOEXEC)
        try:
            dst = os.open(self.p(tok[4]), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                # struct file_clone_range { __s64 src_fd; __u64 src_offset, src_length, dest_offset; }
                fcntl.ioctl(dst, FICLONERANGE, struct.pack("=qQQQ", src, src_off, length, dst_off))
            finally:
                os.close(dst)
        finally:
            os.close(src)

    def _new_name(self, name):
        # progs snapshots INTO an existing directory (like cp) and refuses other existing names in user space;
        # the language means "create exactly NAME", which the ioctl refuses with EEXIST.
        if os.path.lexists(self.p(name)):
            raise StepFailed("EEXIST")

    def do_snapshot(self, tok):
        name, src, ro, inherit = parse_snapshot(tok)
        self._new_name(name)
        args = ["subvolume", "snapshot"] + (["-r"] if ro else []) + (["-i", inherit] if inherit else [])
        self.progs(*(args + [self.p(src) if src else self.mnt, self.p(name)]))

    def do_subvol(self, tok):
        if tok[1] == "sync":
            # The cleaner drops deleted subvolumes after a commit; with commit=300 `subvolume sync` alone can wait
            # five minutes for the periodic one. So: commit, then wait (the replay commits here too).
            self.progs("filesystem", "sync", self.mnt)
            self.progs("subvolume", "sync", self.mnt)
        elif tok[1] == "create":
            self._new_name(tok[2])
            args = ["subvolume", "create"] + (["-i", tok[4]] if len(tok) > 3 else [])
            self.progs(*(args + [self.p(tok[2])]))
        else:
            # The cleaner starts dropping the tree only once the deletion is committed (with commit=300 a plain
            # delete + `subvolume sync` waits for the periodic commit, up to 5 minutes): so commit right after the
            # deletion, then wait until the cleaner has dropped the tree; the replay deletes synchronously.
            path = self.p(tok[2])
            rid = run(["btrfs", "inspect-internal", "rootid", path])
            self.progs("subvolume", "delete", "--commit-after", path)
            self.progs("subvolume", "sync", self.mnt)
            # `subvolume sync` returns once the ROOT_ITEM is gone; the cleaner removes the level-0 qgroup
            # (btrfs_qgroup_cleanup_dropped_subvolume) a moment later. Wait for that, briefly: where the kernel keeps
            # the qgroup (inconsistent qgroups, see the README) it stays, and the step reads it as it is.
            if rid.returncode == 0 and rid.stdout.strip().isdigit():
                gone = "/sys/fs/btrfs/%s/qgroups/0_%s" % (self.fsid, rid.stdout.strip())
                for _ in range(40):
                    if not os.path.exists(gone):
                        break
                    time.sleep(0.025)

    # ------------------------------------------------------------------ counters

    def commits(self):
        """The number of transaction commits so far (sysfs commit_stats), for --verbose."""
        try:
            with open("/sys/fs/btrfs/%s/commit_stats" % self.fsid) as f:
                for line in f:
                    if line.startswith("commits "):
                        return int(line.split()[1])
        except (OSError, ValueError):
            pass
        return None

    def qgroups(self):
        base = "/sys/fs/btrfs/%s/qgroups" % self.fsid
        try:
            names = os.listdir(base)
        except FileNotFoundError:
            return {}
        ids = []
        for n in names:
            m = re.match(r"^([0-9]+)_([0-9]+)$", n)
            if m:
                ids.append((int(m.group(1)), int(m.group(2))))
        out = {}
        for level, qid in sorted(ids):
            d = os.path.join(base, "%d_%d" % (level, qid))
            vals = {}
            try:
                for f in QGROUP_FILES:
                    with open(os.path.join(d, f)) as fh:
                        vals[f] = int(fh.read().strip())
            except OSError as e:           # removed while we read it (ENOENT, or ENODEV from a sysfs file going away)
                if e.errno not in (errno.ENOENT, errno.ENODEV):
                    raise
                continue
            out["%d/%d" % (level, qid)] = vals
        return out


# ---------------------------------------------------------------------------------------------- setup

def fsid_of(img):
    """The filesystem UUID (sysfs directory name): btrfs_super_block.fsid at 64 KiB + 0x20."""
    with open(img, "rb") as f:
        f.seek(0x10000 + 0x20)
        return str(uuid.UUID(bytes=f.read(16)))


def must(args, what):
    r = run(args)
    if r.returncode != 0:
        raise SetupError("%s failed (exit %d): %s" % (what, r.returncode, (r.stderr + r.stdout).strip()))
    return r


def dmesg_lines():
    r = run(["dmesg"])
    return r.stdout.splitlines() if r.returncode == 0 else []


def main(argv):
    if len(argv) == 2 and argv[0] == "--parse":
        # Parse only (no root needed): {"size": N, "steps": [...]}, or exit 2 with the error.
        try:
            with open(argv[1]) as f:
                size, steps = parse_workload(f.read(), argv[1])
        except (OSError, WorkloadError) as e:
            sys.stderr.write("kernel-replay: %s\n" % e)
            return 2
        sys.stdout.write(json.dumps({"size": size, "steps": steps}) + "\n")
        return 0
    args = [a for a in argv if not a.startswith("--")]
    opts = [a for a in argv if a.startswith("--")]
    if len(args) != 2 or any(o not in ("--keep", "--verbose", "--commits", "--existing") for o in opts):
        sys.stderr.write("usage: kernel-replay.py IMG WORKLOAD [--keep] [--commits] [--verbose] [--existing]\n")
        return 2
    img, wl = args
    keep, verbose, with_commits = "--keep" in opts, "--verbose" in opts, "--commits" in opts
    existing = "--existing" in opts
    keep = keep or existing
    if existing and not os.path.isfile(img):
        sys.stderr.write("kernel-replay: --existing: %s is not an image file\n" % img)
        return 2
    try:
        with open(wl) as f:
            size, steps = parse_workload(f.read(), wl)
    except (OSError, WorkloadError) as e:
        sys.stderr.write("kernel-replay: %s\n" % e)
        return 2
    for tool in ("mkfs.btrfs", "btrfs", "losetup", "mount", "umount"):
        if shutil.which(tool) is None and not os.path.exists("/usr/sbin/" + tool) and not os.path.exists("/sbin/" + tool):
            sys.stderr.write("kernel-replay: %s not found\n" % tool)
            return 1
    if os.geteuid() != 0:
        sys.stderr.write("kernel-replay: needs root (loop mount)\n")
        return 1

    mnt = None
    loop = None
    mounted = False
    dmesg_before = 0
    try:
        if not existing:
            with open(img, "wb") as f:
                f.truncate(size)
            must(["mkfs.btrfs", "-f", "-q", "-b", str(size), "-n", "16384", "-s", "4096", img], "mkfs.btrfs")
        fsid = fsid_of(img)
        loop = must(["losetup", "-f", "--show", img], "losetup").stdout.strip()
        mnt = tempfile.mkdtemp(prefix="kernel-replay-")
        dmesg_before = len(dmesg_lines())
        must(["mount", "-t", "btrfs", "-o", "commit=300", loop, mnt], "mount")
        mounted = True
        rp = Replay(mnt, fsid)
        commits = rp.commits()
        for n, text in enumerate(steps, 1):
            written, err = None, None
            try:
                res = rp.step(text)
                if text.split()[0] == "write":
                    written, e = res
                    err = errno_name(e) if e is not None else None
            except OSError as e:
                err = errno_name(e.errno)
            except StepFailed as e:
                err = e.name
            rec = {"step": n, "line": text, "ok": err is None, "errno": err, "written": written, "qgroups": rp.qgroups()}
            # Read after the counters: a commit that could have changed them is counted in this step.
            now = rp.commits()
            if with_commits:
                rec["commits"] = None if now is None or commits is None else now - commits
            commits = now
            sys.stdout.write(json.dumps(rec) + "\n")
            sys.stdout.flush()
            if verbose:
                sys.stderr.write("step %d: %s (commit count %s)\n" % (n, text, now))
                for a, rc, so, se in rp.log:
                    sys.stderr.write("  btrfs %s -> %d\n" % (" ".join(a), rc))
                    for out in (so, se):
                        if out.strip():
                            sys.stderr.write("".join("    " + l + "\n" for l in out.strip().splitlines()))
            rp.log.clear()
        return 0
    except SetupError as e:
        sys.stderr.write("kernel-replay: %s\n" % e)
        return 1
    finally:
        if mounted:
            for _ in range(20):
                if run(["umount", mnt]).returncode == 0:
                    break
                run(["sync"])
                time.sleep(0.5)
            else:
                sys.stderr.write("kernel-replay: could not unmount %s\n" % mnt)
        if loop:
            run(["losetup", "-d", loop])
        if mnt:
            try:
                os.rmdir(mnt)
            except OSError:
                pass
        if mounted and loop:
            # The unmount-time leak check logs "qgroup ... has unreleased space" / "reserved space leaked".
            dev = os.path.basename(loop)
            for line in dmesg_lines()[dmesg_before:]:
                if dev in line and ("leak" in line or "unreleased" in line):
                    sys.stderr.write("kernel-replay: dmesg: %s\n" % line)
        if not keep:
            try:
                os.unlink(img)
            except OSError:
                pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
