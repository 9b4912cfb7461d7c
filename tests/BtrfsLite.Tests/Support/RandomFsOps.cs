using BtrfsLite.Fs;

namespace BtrfsLite.Tests.Support;

/// <summary>
/// Seeded random sequences of Filesystem operations applied to an image and to an <see cref="FsModel"/> alike:
/// mkdir, write (random offsets and lengths, unaligned, overwrites, multi-MiB), truncate, punch, fallocate, rm,
/// mv, hard link, symlink, subvolume create / snapshot / delete, reflink and clone-range. Subvolumes live in the
/// top-level tree only (no nesting: a snapshot of a tree holding subvolumes shows them as empty directories).
/// </summary>
public sealed class RandomFsOps
{
    private readonly Random _r;
    private readonly FsModel _model;
    private int _names;

    public List<string> Log { get; } = new();
    public const long MaxFileSize = 4 << 20;

    public RandomFsOps(int seed, FsModel model)
    {
        _r = new Random(seed);
        _model = model;
    }

    private string NewName() => $"n{_names++}" + (_r.Next(4) == 0 ? "-" + new string('x', _r.Next(1, 40)) : "");
    private static string Join(string dir, string name) => dir.Length == 0 ? name : dir + "/" + name;
    private static string DirName(string path) { int i = path.LastIndexOf('/'); return i < 0 ? "" : path[..i]; }

    private List<string> Paths(Func<FsModel.Node, bool> pred) => _model.Walk().Where(e => pred(e.Node)).Select(e => e.Path).ToList();
    private List<string> Dirs() { var d = Paths(n => n is FsModel.DirNode); d.Insert(0, ""); return d; }
    private List<string> Files() => Paths(n => n is FsModel.FileNode);
    private List<string> Subvolumes() => Paths(n => n is FsModel.DirNode { IsSubvolume: true });
    private T Pick<T>(List<T> list) => list[_r.Next(list.Count)];

    private byte[] Bytes(int n)
    {
        var b = new byte[n];
        _r.NextBytes(b);
        if (_r.Next(4) == 0) b.AsSpan(0, n / 2).Clear(); // some zeros inside data, too
        return b;
    }

    private long Offset(long size)
    {
        return _r.Next(6) switch
        {
            0 => 0,
            1 => _r.Next(0, 5000),                                   // small, unaligned
            2 => Math.Min(size, MaxFileSize - 1),                    // append
            3 => _r.NextInt64(0, Math.Max(1, size + 1)),             // inside or at the end
            4 => _r.Next(0, 64) * 4096L,                             // aligned
            _ => _r.NextInt64(0, MaxFileSize / 2),                   // possibly past the end (a hole)
        };
    }

    private int Length() => _r.Next(10) switch
    {
        0 => _r.Next(1, 100),
        1 or 2 => _r.Next(1, 5000),
        3 => 4096 * _r.Next(1, 8),
        4 => _r.Next(1_000_000, 2_500_000),                          // multi-MiB sometimes
        _ => _r.Next(1, 300_000),
    };

    /// <summary>Picks an operation valid in the model, applies it to <paramref name="fs"/> and to the model; returns its description.</summary>
    public string Step(Filesystem fs)
    {
        for (int attempt = 0; ; attempt++)
        {
            var op = TryOne(fs, _r.Next(100));
            if (op != null) { Log.Add(op); return op; }
            if (attempt > 50) throw new InvalidOperationException("no applicable operation");
        }
    }

    private string? TryOne(Filesystem fs, int dice)
    {
        var files = Files();
        switch (dice)
        {
            case < 8:
            {
                var p = Join(Pick(Dirs()), NewName());
                fs.Mkdir(p); _model.Mkdir(p);
                return $"mkdir {p}";
            }
            case < 30:
            {
                bool existing = files.Count > 0 && _r.Next(3) > 0;
                var p = existing ? Pick(files) : Join(Pick(Dirs()), NewName());
                long size = existing ? _model.File(p).Size : 0;
                long off = Offset(size);
                var data = Bytes((int)Math.Min(Length(), MaxFileSize - off));
                fs.Write(p, (ulong)off, data); _model.Write(p, off, data);
                return $"write {p} @{off} +{data.Length}";
            }
            case < 37:
            {
                if (files.Count == 0) return null;
                var p = Pick(files);
                long size = _model.File(p).Size;
                long to = _r.Next(4) switch { 0 => 0, 1 => _r.NextInt64(0, size + 1), 2 => size + _r.Next(1, 100_000), _ => _r.NextInt64(0, size + 1) / 4096 * 4096 };
                to = Math.Min(to, MaxFileSize);
                fs.Truncate(p, (ulong)to); _model.Truncate(p, to);
                return $"truncate {p} {size} -> {to}";
            }
            case < 43:
            {
                if (files.Count == 0) return null;
                var p = Pick(files);
                long size = _model.File(p).Size;
                long off = _r.NextInt64(0, size + 2);
                long len = _r.Next(2) == 0 ? _r.Next(1, 10_000) : _r.NextInt64(1, Math.Max(2, size + 10_000));
                fs.PunchHole(p, (ulong)off, (ulong)len); _model.PunchHole(p, off, len);
                return $"punch {p} @{off} +{len}";
            }
            case < 48:
            {
                bool existing = files.Count > 0 && _r.Next(2) == 0;
                var p = existing ? Pick(files) : Join(Pick(Dirs()), NewName());
                long size = existing ? _model.File(p).Size : 0;
                long off = Math.Min(Offset(size), MaxFileSize - 1);
                long len = Math.Min(_r.Next(1, 600_000), MaxFileSize - off);
                bool keep = _r.Next(3) == 0;
                fs.Fallocate(p, (ulong)off, (ulong)len, keep); _model.Fallocate(p, off, len, keep);
                return $"fallocate {p} @{off} +{len}{(keep ? " keep-size" : "")}";
            }
            case < 56:
            {
                var all = Paths(_ => true);
                if (all.Count == 0) return null;
                var p = Pick(all);
                if (_model.Find(p) is FsModel.DirNode { IsSubvolume: true }) { fs.DeleteSubvolume(p); _model.Remove(p); return $"subvolume delete {p}"; }
                fs.Remove(p, recursive: true); _model.Remove(p);
                return $"rm -r {p}";
            }
            case < 64:
            {
                var all = Paths(n => n is not FsModel.DirNode { IsSubvolume: true });
                if (all.Count == 0) return null;
                var p = Pick(all);
                var sv = _model.SubvolumeOf(DirName(p));
                bool isDir = _model.Find(p) is FsModel.DirNode;
                var targets = Dirs().Where(d => ReferenceEquals(_model.SubvolumeOf(d), sv) && !(isDir && (d == p || d.StartsWith(p + "/")))).ToList();
                var to = Join(Pick(targets), NewName());
                fs.Rename(p, to); _model.Rename(p, to);
                return $"mv {p} {to}";
            }
            case < 70:
            {
                if (files.Count == 0) return null;
                var p = Pick(files);
                var sv = _model.SubvolumeOf(DirName(p));
                var to = Join(Pick(Dirs().Where(d => ReferenceEquals(_model.SubvolumeOf(d), sv)).ToList()), NewName());
                fs.HardLink(p, to); _model.HardLink(p, to);
                return $"ln {p} {to}";
            }
            case < 75:
            {
                var to = Join(Pick(Dirs()), NewName());
                var target = _r.Next(2) == 0 && files.Count > 0 ? Pick(files) : "some/where/" + new string('t', _r.Next(1, 300));
                fs.Symlink(target, to); _model.Symlink(target, to);
                return $"ln -s {target} {to}";
            }
            case < 80:
            {
                var to = Join(Pick(Dirs().Where(d => ReferenceEquals(_model.SubvolumeOf(d), _model.Root)).ToList()), NewName());
                fs.CreateSubvolume(to); _model.CreateSubvolume(to);
                return $"subvolume create {to}";
            }
            case < 86:
            {
                var svs = Subvolumes();
                if (svs.Count == 0) return null;
                var src = Pick(svs);
                var to = Join(Pick(Dirs().Where(d => ReferenceEquals(_model.SubvolumeOf(d), _model.Root)).ToList()), NewName());
                fs.Snapshot(src, to); _model.Snapshot(src, to);
                return $"snapshot {src} {to}";
            }
            case < 90:
            {
                if (files.Count == 0) return null;
                var src = Pick(files);
                var to = Join(Pick(Dirs()), NewName());
                fs.Reflink(src, to); _model.CloneRange(src, 0, 0, to, 0);
                return $"reflink {src} {to}";
            }
            default:
            {
                // clone-range: aligned offsets; an aligned length, or to the source's end when that does not cut the
                // destination (the kernel's rule for an unaligned end).
                if (files.Count == 0) return null;
                var src = Pick(files);
                long ssize = _model.File(src).Size;
                if (ssize < 4096) return null;
                bool existing = _r.Next(2) == 0;
                var dst = existing ? Pick(files) : Join(Pick(Dirs()), NewName());
                long dsize = existing ? _model.File(dst).Size : 0;
                long so = _r.NextInt64(0, ssize / 4096) * 4096;
                long doff = _r.NextInt64(0, Math.Min(dsize + 8192, MaxFileSize - ssize) / 4096 + 1) * 4096;
                long len;
                if (_r.Next(2) == 0) len = _r.NextInt64(1, (ssize - so) / 4096 + 1) * 4096;
                else { len = ssize - so; if (len % 4096 != 0 && doff + len < dsize) return null; }
                if (existing && ReferenceEquals(_model.File(src), _model.File(dst)) && so < doff + len && doff < so + len) return null;
                if (doff + len > MaxFileSize) return null;
                fs.CloneRange(src, (ulong)so, (ulong)len, dst, (ulong)doff); _model.CloneRange(src, so, len, dst, doff);
                return $"clone-range {src} @{so} +{len} -> {dst} @{doff}";
            }
        }
    }
}
