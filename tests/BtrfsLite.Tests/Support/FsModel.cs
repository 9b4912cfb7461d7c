using System.Security.Cryptography;
using System.Text;
using BtrfsLite.Format;
using BtrfsLite.Fs;

namespace BtrfsLite.Tests.Support;

/// <summary>
/// An in-memory model of a file tree (directories, regular files with hard links, symlinks, subvolumes), with the
/// semantics of <see cref="Filesystem"/>'s path operations. Tests apply each operation to both and compare
/// <see cref="Manifest"/>s: the model's and the one read back from an image.
/// </summary>
public sealed class FsModel
{
    public abstract class Node { }

    public sealed class FileNode : Node
    {
        public byte[] Buf = Array.Empty<byte>();
        public long Size;
        public ReadOnlySpan<byte> Content => Buf.AsSpan(0, (int)Size);

        public void EnsureCapacity(long size)
        {
            if (Buf.Length >= size) return;
            var n = new byte[Math.Max(size, Math.Min(Buf.Length * 2L, size + (4 << 20)))];
            Buf.AsSpan(0, (int)Size).CopyTo(n);
            Buf = n;
        }

        /// <summary>Sets the size; bytes past the old size read as zeros, bytes past a smaller size are forgotten.</summary>
        public void Resize(long size)
        {
            if (size > Size) { EnsureCapacity(size); Buf.AsSpan((int)Size, (int)(size - Size)).Clear(); }
            else Buf.AsSpan((int)size, (int)(Size - size)).Clear();
            Size = size;
        }
    }

    public sealed class DirNode : Node
    {
        public readonly SortedDictionary<string, Node> Children = new(StringComparer.Ordinal);
        /// <summary>The root directory of a subvolume (the top level included).</summary>
        public bool IsSubvolume;
    }

    public sealed class LinkNode : Node
    {
        public string Target = "";
    }

    public DirNode Root { get; private set; } = new() { IsSubvolume = true };

    // ------------------------------------------------------------------ lookups

    public static string[] Split(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);

    public Node? Find(string path)
    {
        Node cur = Root;
        foreach (var p in Split(path))
        {
            if (cur is not DirNode d || !d.Children.TryGetValue(p, out var next)) return null;
            cur = next;
        }
        return cur;
    }

    public (DirNode Dir, string Name) Parent(string path)
    {
        var parts = Split(path);
        var dir = Find(string.Join('/', parts[..^1])) as DirNode ?? throw new InvalidOperationException($"model: no directory for '{path}'");
        return (dir, parts[^1]);
    }

    public FileNode File(string path) => Find(path) as FileNode ?? throw new InvalidOperationException($"model: '{path}' is not a file");

    /// <summary>The subvolume root directory that contains <paramref name="path"/> (for hard links and renames, which stay inside one).</summary>
    public DirNode SubvolumeOf(string path)
    {
        DirNode sv = Root;
        Node cur = Root;
        foreach (var p in Split(path))
        {
            if (cur is not DirNode d || !d.Children.TryGetValue(p, out var next)) break;
            cur = next;
            if (cur is DirNode { IsSubvolume: true } s) sv = s;
        }
        return sv;
    }

    // ------------------------------------------------------------------ operations (same semantics as Filesystem)

    public void Mkdir(string path)
    {
        var (d, n) = Parent(path);
        d.Children.Add(n, new DirNode());
    }

    public FileNode OpenOrCreate(string path)
    {
        var (d, n) = Parent(path);
        if (d.Children.TryGetValue(n, out var e)) return (FileNode)e;
        var f = new FileNode();
        d.Children.Add(n, f);
        return f;
    }

    public void Write(string path, long offset, ReadOnlySpan<byte> data)
    {
        var f = OpenOrCreate(path);
        long end = offset + data.Length;
        if (end > f.Size) f.Resize(end);
        data.CopyTo(f.Buf.AsSpan((int)offset));
    }

    public void Truncate(string path, long size) => File(path).Resize(size);

    public void PunchHole(string path, long offset, long length)
    {
        var f = File(path);
        long end = Math.Min(offset + length, f.Size);
        if (end > offset) f.Buf.AsSpan((int)offset, (int)(end - offset)).Clear();
    }

    public void Fallocate(string path, long offset, long length, bool keepSize)
    {
        var f = OpenOrCreate(path);
        if (!keepSize && offset + length > f.Size) f.Resize(offset + length);
    }

    /// <summary>Clone (reflink) as <see cref="Filesystem.CloneRange"/>: length 0 means to the source's end.</summary>
    public void CloneRange(string src, long srcOffset, long length, string dst, long dstOffset)
    {
        var s = File(src);
        if (length == 0) length = s.Size - Math.Min(srcOffset, s.Size);
        var bytes = s.Content.Slice((int)srcOffset, (int)length).ToArray();
        Write(dst, dstOffset, bytes);
    }

    public void Remove(string path)
    {
        var (d, n) = Parent(path);
        if (!d.Children.Remove(n)) throw new InvalidOperationException($"model: '{path}' does not exist");
    }

    public void Rename(string from, string to)
    {
        var (fd, fn) = Parent(from);
        var node = fd.Children[fn];
        var (td, tn) = Parent(to);
        fd.Children.Remove(fn);
        td.Children[tn] = node;
    }

    public void HardLink(string existing, string newPath)
    {
        var f = File(existing);
        var (d, n) = Parent(newPath);
        d.Children.Add(n, f);
    }

    public void Symlink(string target, string linkPath)
    {
        var (d, n) = Parent(linkPath);
        d.Children.Add(n, new LinkNode { Target = target });
    }

    public void CreateSubvolume(string path)
    {
        var (d, n) = Parent(path);
        d.Children.Add(n, new DirNode { IsSubvolume = true });
    }

    /// <summary>A snapshot: a deep copy of the source subvolume (hard links stay shared inside the copy).</summary>
    public void Snapshot(string source, string path)
    {
        var src = Find(source) as DirNode ?? throw new InvalidOperationException($"model: '{source}' is not a directory");
        var (d, n) = Parent(path);
        var copy = (DirNode)DeepCopy(src, new Dictionary<FileNode, FileNode>(ReferenceEqualityComparer.Instance));
        copy.IsSubvolume = true;
        d.Children.Add(n, copy);
    }

    /// <summary>A copy of the whole model (for the expected state after each commit).</summary>
    public FsModel Clone()
    {
        var m = new FsModel();
        m.Root = (DirNode)DeepCopy(Root, new Dictionary<FileNode, FileNode>(ReferenceEqualityComparer.Instance));
        return m;
    }

    private static Node DeepCopy(Node n, Dictionary<FileNode, FileNode> files)
    {
        switch (n)
        {
            case FileNode f:
                if (!files.TryGetValue(f, out var c))
                {
                    c = new FileNode { Buf = f.Content.ToArray(), Size = f.Size };
                    files[f] = c;
                }
                return c;
            case LinkNode l:
                return new LinkNode { Target = l.Target };
            case DirNode d:
                var nd = new DirNode { IsSubvolume = d.IsSubvolume };
                foreach (var (k, v) in d.Children) nd.Children.Add(k, DeepCopy(v, files));
                return nd;
            default:
                throw new InvalidOperationException();
        }
    }

    // ------------------------------------------------------------------ listing

    public IEnumerable<(string Path, Node Node)> Walk()
    {
        var stack = new Stack<(string, Node)>();
        stack.Push(("", Root));
        while (stack.Count > 0)
        {
            var (p, n) = stack.Pop();
            if (p.Length > 0) yield return (p, n);
            if (n is DirNode d)
                foreach (var (k, v) in d.Children.Reverse()) stack.Push((p.Length == 0 ? k : p + "/" + k, v));
        }
    }

    /// <summary>
    /// One line per path, sorted: "d path", "v path" (subvolume), "f path size nlink sha256", "l path target".
    /// nlink counts the names of a file inside its subvolume.
    /// </summary>
    public SortedDictionary<string, string> Manifest()
    {
        var links = new Dictionary<FileNode, int>(ReferenceEqualityComparer.Instance);
        foreach (var (_, n) in Walk()) if (n is FileNode f) links[f] = links.GetValueOrDefault(f) + 1;
        var m = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (p, n) in Walk())
            m[p] = n switch
            {
                DirNode { IsSubvolume: true } => "v",
                DirNode => "d",
                FileNode f => $"f {f.Size} {links[f]} {Sha(f.Content)}",
                LinkNode l => $"l {l.Target}",
                _ => "?",
            };
        return m;
    }

    public static string Sha(ReadOnlySpan<byte> data) => Convert.ToHexString(SHA256.HashData(data)).ToLowerInvariant();

    /// <summary>The same manifest, read from an image through one read-only transaction.</summary>
    public static SortedDictionary<string, string> ManifestOf(Filesystem fs) => fs.ReadOnly(tx =>
    {
        var m = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var buf = new byte[1 << 20];
        void Walk(ulong tree, ulong dirIno, string prefix)
        {
            var t = fs.TreeOf(tx, tree);
            foreach (var (nameBytes, loc, type) in t.ReadDir(dirIno))
            {
                string name = Encoding.UTF8.GetString(nameBytes);
                string p = prefix.Length == 0 ? name : prefix + "/" + name;
                if (loc.Type == ItemType.RootItem)
                {
                    m[p] = "v";
                    Walk(loc.ObjectId, FsTree.RootDirIno, p);
                    continue;
                }
                var info = t.ReadInode(loc.ObjectId);
                if (info.IsDir)
                {
                    m[p] = "d";
                    Walk(tree, loc.ObjectId, p);
                }
                else if (info.IsSymlink)
                {
                    var target = new byte[info.Size];
                    t.Read(loc.ObjectId, 0, target);
                    m[p] = "l " + Encoding.UTF8.GetString(target);
                }
                else
                {
                    using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                    ulong pos = 0;
                    while (pos < info.Size)
                    {
                        int want = (int)Math.Min((ulong)buf.Length, info.Size - pos);
                        int n = t.Read(loc.ObjectId, pos, buf.AsSpan(0, want));
                        if (n <= 0) throw new InvalidDataException($"'{p}': read returned {n} at {pos} of {info.Size}");
                        h.AppendData(buf, 0, n);
                        pos += (ulong)n;
                    }
                    m[p] = $"f {info.Size} {info.NLink} {Convert.ToHexString(h.GetHashAndReset()).ToLowerInvariant()}";
                }
            }
        }
        Walk(ObjectIds.FsTree, FsTree.RootDirIno, "");
        return m;
    });

    /// <summary>A readable difference of two manifests (empty when equal).</summary>
    public static string Diff(SortedDictionary<string, string> expected, SortedDictionary<string, string> actual, int max = 20)
    {
        var sb = new StringBuilder();
        int n = 0;
        foreach (var k in expected.Keys.Union(actual.Keys).Order(StringComparer.Ordinal))
        {
            expected.TryGetValue(k, out var e);
            actual.TryGetValue(k, out var a);
            if (e == a) continue;
            if (n++ >= max) { sb.AppendLine("..."); break; }
            sb.AppendLine($"{k}: expected [{e ?? "absent"}], image [{a ?? "absent"}]");
        }
        return sb.ToString();
    }

    /// <summary>A bash script that checks a mounted image (cwd = its root) against this model: every path, type, size, sha256, target.</summary>
    public string KernelVerifyScript()
    {
        var sb = new StringBuilder();
        sb.AppendLine("fail=0");
        sb.AppendLine("chk() { if [ \"$1\" != \"$2\" ]; then echo \"MISMATCH $3: expected [$2] got [$1]\"; fail=1; fi; }");
        var man = Manifest();
        foreach (var (p, line) in man)
        {
            string q = "'" + p.Replace("'", "'\\''") + "'";
            switch (line[0])
            {
                case 'v':
                case 'd':
                    sb.AppendLine($"test -d {q} && ! test -L {q} || {{ echo \"NOT A DIR {p}\"; fail=1; }}");
                    break;
                case 'l':
                    sb.AppendLine($"chk \"$(readlink {q})\" '{line[2..].Replace("'", "'\\''")}' {q}");
                    break;
                case 'f':
                    var parts = line.Split(' ');
                    sb.AppendLine($"chk \"$(stat -c '%s %h' {q}) $(sha256sum < {q} | cut -d' ' -f1)\" '{parts[1]} {parts[2]} {parts[3]}' {q}");
                    break;
            }
        }
        // Nothing else: the same number of entries (excluding what the kernel script adds later).
        sb.AppendLine($"chk \"$(find . -mindepth 1 | wc -l)\" {man.Count} 'entry count'");
        sb.AppendLine("test $fail = 0");
        return sb.ToString();
    }
}
