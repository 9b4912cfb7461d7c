using System.Text;
using BtrfsLite.Format;

namespace BtrfsLite.Text;

/// <summary>The order in which <c>dump-tree</c> prints a tree's blocks.</summary>
public enum DumpTraversal
{
    /// <summary>Breadth first, as btrfs-progs by default: the root, then each level left to right.</summary>
    Bfs,
    /// <summary>Depth first, pre-order (btrfs-progs --dfs).</summary>
    Dfs,
}

/// <summary>What <c>dump-tree</c> prints and how: traversal order, name encoding, time zone and banner.</summary>
public sealed class DumpTreeOptions
{
    /// <summary>--bfs (default, as btrfs-progs: the root, then each level left to right) or --dfs (pre-order).</summary>
    public DumpTraversal Traversal { get; init; } = DumpTraversal.Bfs;
    /// <summary>How name bytes become text. UTF-8 by default; the CLI uses Latin-1 on a Latin-1 stdout so bytes pass through unchanged.</summary>
    public Encoding NameEncoding { get; init; } = new UTF8Encoding(false, false);
    /// <summary>Zone of the dates in timestamps; btrfs-progs uses localtime (TZ). Golden tests use UTC.</summary>
    public TimeZoneInfo TimeZone { get; init; } = TimeZoneInfo.Local;
    /// <summary>The first line of a text dump. btrfs-progs prints its version; the text format emulated here is 6.2's.</summary>
    public string? Banner { get; init; } = DumpTreeWriter.OurBanner;
}

/// <summary>Receives what the tree walk finds: text in btrfs-progs' shape, or JSON.</summary>
internal interface IDumpSink
{
    void Banner();
    void TreeStart(string label, Key? rootKey);
    void Block(Span<byte> block, ulong readAt);
    void Error(ulong bytenr, string message);
    void Warning(ulong bytenr, string message);
    void Footer(ulong totalBytes, ulong bytesUsed, Guid fsid);
    void Finish();
    /// <summary>Problems found while printing blocks (bad item pointers...).</summary>
    int Problems { get; }
}

/// <summary>
/// <c>btrfs inspect-internal dump-tree</c> (btrfs-progs 6.2): the whole filesystem (root tree, chunk tree, log tree,
/// then every tree with a ROOT_ITEM in root-tree key order, then totals), one tree (<c>-t</c>) or blocks (<c>-b</c>),
/// as text that matches 6.2 line for line or as JSON. Unreadable blocks are reported (naming the bytenr) and
/// skipped; <see cref="ErrorCount"/> counts them.
/// </summary>
public sealed class DumpTreeWriter
{
    /// <summary>The first line btrfs-progs 6.2 prints.</summary>
    public const string ProgsBanner = "btrfs-progs v6.2";
    /// <summary>Our first line: names this tool (not progs) and the format it follows; the only line that differs.</summary>
    public const string OurBanner = "btrfslite dump-tree (btrfs-progs v6.2 format)";

    private readonly DumpSource _src;
    private readonly IDumpSink _sink;
    private readonly DumpTreeOptions _opt;
    private readonly byte[][] _levelBufs = new byte[NodeHeader.MaxLevel + 1][];
    private int _errors;

    private DumpTreeWriter(DumpSource src, IDumpSink sink, DumpTreeOptions opt)
    {
        _src = src;
        _sink = sink;
        _opt = opt;
    }

    /// <summary>Text in btrfs-progs 6.2's shape on <paramref name="output"/>; errors and warnings on <paramref name="errors"/>.</summary>
    public static DumpTreeWriter Text(DumpSource src, TextWriter output, TextWriter errors, DumpTreeOptions? options = null)
    {
        options ??= new DumpTreeOptions();
        return new DumpTreeWriter(src, new TextDumpSink(new TreeTextPrinter(new TextOut(output, options.NameEncoding), errors, src, options), output, options), options);
    }

    /// <summary>A JSON document (schema in the README) on <paramref name="output"/>; errors are also written to <paramref name="errors"/>.</summary>
    public static DumpTreeWriter Json(DumpSource src, Stream output, TextWriter errors, DumpTreeOptions? options = null)
    {
        options ??= new DumpTreeOptions();
        return new DumpTreeWriter(src, new JsonDumpSink(src, output, errors, options), options);
    }

    /// <summary>Blocks that could not be read or were skipped as inconsistent.</summary>
    public int ErrorCount => _errors + _sink.Problems;

    private byte[] Buf(int depth) => _levelBufs[depth] ??= new byte[_src.NodeSize];

    /// <summary>dump-tree IMG: everything, in 6.2's order.</summary>
    public void WriteFilesystem()
    {
        var sb = _src.Super;
        _sink.Banner();
        _sink.TreeStart("root tree", null);
        PrintTree(sb.Root, sb.Generation, sb.RootLevel);
        _sink.TreeStart("chunk tree", null);
        PrintTree(sb.ChunkRoot, sb.ChunkRootGeneration, sb.ChunkRootLevel);
        if (sb.LogRoot != 0)
        {
            _sink.TreeStart("log root tree", null);
            PrintTree(sb.LogRoot, 0, sb.LogRootLevel);
        }
        PrintRootItems(sb.Root, sb.Generation, 0);
        if (sb.LogRoot != 0) PrintRootItems(sb.LogRoot, 0, 0);
        _sink.Footer(sb.TotalBytes, sb.BytesUsed, sb.Fsid);
        _sink.Finish();
    }

    /// <summary>dump-tree -t ID IMG.</summary>
    public void WriteTree(ulong treeId)
    {
        var sb = _src.Super;
        _sink.Banner();
        switch (treeId)
        {
            case ObjectIds.RootTree:
                _sink.TreeStart("root tree", null);
                PrintTree(sb.Root, sb.Generation, sb.RootLevel);
                _sink.Finish();
                return;
            case ObjectIds.ChunkTree:
                _sink.TreeStart("chunk tree", null);
                PrintTree(sb.ChunkRoot, sb.ChunkRootGeneration, sb.ChunkRootLevel);
                _sink.Finish();
                return;
            case ObjectIds.TreeLog:
                if (sb.LogRoot == 0) Fail(0, "cannot print log root tree, invalid pointer");
                else
                {
                    _sink.TreeStart("log root tree", null);
                    PrintTree(sb.LogRoot, 0, sb.LogRootLevel);
                }
                _sink.Finish();
                return;
            case ObjectIds.BlockGroupTree:
                {
                    var roots = CollectRootItems(sb.Root, sb.Generation);
                    int i = roots.FindIndex(r => r.Key.ObjectId == ObjectIds.BlockGroupTree);
                    if (i < 0) Fail(0, "cannot print block group tree, invalid pointer");
                    else
                    {
                        _sink.TreeStart("block group tree", null);
                        PrintTree(roots[i].Bytenr, 0, -1);
                    }
                    _sink.Finish();
                    return;
                }
        }
        PrintRootItems(sb.Root, sb.Generation, treeId);
        if (sb.LogRoot != 0) PrintRootItems(sb.LogRoot, 0, treeId);
        _sink.Footer(sb.TotalBytes, sb.BytesUsed, sb.Fsid);
        _sink.Finish();
    }

    /// <summary>dump-tree -b BYTENR [-b ...] [--follow] IMG: the blocks in ascending order, duplicates once.</summary>
    public void WriteBlocks(IEnumerable<ulong> bytenrs, bool follow = false)
    {
        _sink.Banner();
        var set = new SortedSet<ulong>();
        foreach (var b in bytenrs)
            if (!set.Add(b)) _sink.Warning(b, $"tree block bytenr {b} is duplicated");
        _sink.TreeStart("", null);
        foreach (var b in set)
        {
            var buf = Buf(0);
            if (!_src.TryReadBlock(b, 0, buf, out var err)) { Fail(b, err!); continue; }
            _sink.Block(buf, b);
            if (follow && new NodeHeader(buf).Level > 0) Children(buf, b);
        }
        _sink.Finish();
    }

    private void Fail(ulong bytenr, string message)
    {
        _errors++;
        _sink.Error(bytenr, message);
    }

    /// <summary>Tree names of dump-tree's ROOT_ITEM loop ("fs tree", "file tree" for subvolumes...).</summary>
    public static string TreeLabel(ulong objectId) => objectId switch
    {
        ObjectIds.RootTree => "root",
        ObjectIds.ExtentTree => "extent",
        ObjectIds.ChunkTree => "chunk",
        ObjectIds.DevTree => "device",
        ObjectIds.FsTree => "fs",
        ObjectIds.RootTreeDir => "directory",
        ObjectIds.CsumTree => "checksum",
        ObjectIds.Orphan => "orphan",
        ObjectIds.TreeLog => "log",
        ObjectIds.TreeLogFixup => "log fixup",
        ObjectIds.TreeReloc => "reloc",
        ObjectIds.DataRelocTree => "data reloc",
        ObjectIds.ExtentCsum => "extent checksum",
        ObjectIds.QuotaTree => "quota",
        ObjectIds.UuidTree => "uuid",
        ObjectIds.FreeSpaceTree => "free space",
        ObjectIds.Multiple => "multiple",
        ObjectIds.BlockGroupTree => "block group",
        _ => "file",
    };

    private readonly record struct RootRef(Key Key, ulong Bytenr, byte Level);

    /// <summary>ROOT_ITEMs of a tree of tree roots, in key order; unreadable blocks are reported and skipped.</summary>
    private List<RootRef> CollectRootItems(ulong root, ulong gen)
    {
        var list = new List<RootRef>();
        CollectRootItems(root, gen, -1, 0, list);
        return list;
    }

    private void CollectRootItems(ulong bytenr, ulong gen, int expectLevel, int depth, List<RootRef> list)
    {
        if (depth > NodeHeader.MaxLevel) return;
        var buf = Buf(depth);
        if (!_src.TryReadBlock(bytenr, gen, buf, out _)) return; // reported when the tree itself is printed
        var h = new NodeHeader(buf);
        if (expectLevel >= 0 && h.Level != expectLevel) return;
        if (h.Level == 0)
        {
            var leaf = new Leaf(buf);
            int n = Math.Min(leaf.NrItems, Leaf.MaxItems(_src.NodeSize));
            int limit = _src.NodeSize - NodeHeader.Size;
            for (int i = 0; i < n; i++)
            {
                if (leaf.KeyType(i) != ItemType.RootItem) continue;
                uint off = leaf.DataOffset(i);
                if (off > limit || off + leaf.DataSize(i) > limit) break;
                // progs reads a whole btrfs_root_item from the item start, whatever the item size.
                int start = NodeHeader.Size + (int)off;
                ulong rootBytenr = start + RootItem.Offsets.Bytenr + 8 <= buf.Length ? Le.U64(buf, start + RootItem.Offsets.Bytenr) : 0;
                byte level = start + RootItem.Offsets.Level < buf.Length ? buf[start + RootItem.Offsets.Level] : (byte)0;
                list.Add(new RootRef(leaf.Key(i), rootBytenr, level));
            }
            return;
        }
        var node = new InternalNode(buf);
        int nr = Math.Min(node.NrItems, InternalNode.MaxItems(_src.NodeSize));
        var ptrs = new (ulong, ulong)[nr];
        for (int i = 0; i < nr; i++) ptrs[i] = (node.BlockPtr(i), node.PtrGeneration(i));
        int childLevel = h.Level - 1;
        foreach (var (p, g) in ptrs) CollectRootItems(p, g, childLevel, depth + 1, list);
    }

    private void PrintRootItems(ulong treeRoot, ulong gen, ulong onlyId)
    {
        foreach (var r in CollectRootItems(treeRoot, gen))
        {
            var buf = Buf(0);
            if (!_src.TryReadBlock(r.Bytenr, 0, buf, out var err))
            {
                if (onlyId == 0 || r.Key.ObjectId == onlyId)
                    Fail(r.Bytenr, $"tree {ProgsNames.ObjectIdString(r.Key.ObjectId)}: {err}");
                continue;
            }
            if (onlyId != 0 && r.Key.ObjectId != onlyId) continue;
            _sink.TreeStart(TreeLabel(r.Key.ObjectId) + " tree", r.Key);
            PrintLoaded(buf, r.Bytenr);
        }
    }

    /// <summary>Reads and prints a tree from its root block, following children (BFS or DFS).</summary>
    private void PrintTree(ulong bytenr, ulong gen, int expectLevel)
    {
        var buf = Buf(0);
        if (!_src.TryReadBlock(bytenr, gen, buf, out var err)) { Fail(bytenr, err!); return; }
        PrintLoaded(buf, bytenr);
    }

    private void PrintLoaded(byte[] buf, ulong bytenr)
    {
        _sink.Block(buf, bytenr);
        if (new NodeHeader(buf).Level > 0) Children(buf, bytenr);
    }

    private void Children(byte[] root, ulong rootBytenr)
    {
        if (_opt.Traversal == DumpTraversal.Dfs) Dfs(root, rootBytenr, 0);
        else Bfs(root);
    }

    private void Dfs(byte[] node, ulong bytenr, int depth)
    {
        var h = new NodeHeader(node);
        int level = h.Level;
        int nr = Math.Min(new InternalNode(node).NrItems, InternalNode.MaxItems(_src.NodeSize));
        if (depth + 1 > NodeHeader.MaxLevel) return;
        var child = Buf(depth + 1);
        for (int i = 0; i < nr; i++)
        {
            var n = new InternalNode(node);
            ulong ptr = n.BlockPtr(i), gen = n.PtrGeneration(i);
            if (!_src.TryReadBlock(ptr, gen, child, out var err))
            {
                Fail(ptr, $"failed to read {ptr} in tree {h.Owner}: {err}");
                continue;
            }
            int cl = new NodeHeader(child).Level;
            if (cl != level - 1)
            {
                _errors++;
                _sink.Warning(ptr, $"eb corrupted: parent bytenr {bytenr} slot {i} level {level} child bytenr {ptr} level has {cl} expect {level - 1}, skipping the slot");
                continue;
            }
            _sink.Block(child, ptr);
            if (cl > 0) Dfs(child, ptr, depth + 1);
        }
    }

    private void Bfs(byte[] root)
    {
        var h = new NodeHeader(root);
        var current = new List<(ulong Ptr, ulong Gen)>();
        AddPtrs(root, current);
        var buf = Buf(1);
        for (int level = h.Level - 1; level >= 0 && current.Count > 0; level--)
        {
            var next = new List<(ulong, ulong)>();
            foreach (var (ptr, gen) in current)
            {
                if (!_src.TryReadBlock(ptr, gen, buf, out var err)) { Fail(ptr, err!); continue; }
                int cl = new NodeHeader(buf).Level;
                if (cl != level)
                {
                    _errors++;
                    _sink.Warning(ptr, $"tree block {ptr} has level {cl}, expected {level}, skipping it");
                    continue;
                }
                _sink.Block(buf, ptr);
                if (level > 0) AddPtrs(buf, next);
            }
            current = next;
        }
    }

    private void AddPtrs(byte[] node, List<(ulong, ulong)> list)
    {
        var n = new InternalNode(node);
        int nr = Math.Min(n.NrItems, InternalNode.MaxItems(_src.NodeSize));
        for (int i = 0; i < nr; i++) list.Add((n.BlockPtr(i), n.PtrGeneration(i)));
    }

    /// <summary>Prints one tree block (already read and verified by the caller) in btrfs-progs' text shape; no following.</summary>
    public static void WriteBlockText(TextWriter output, TextWriter errors, ReadOnlySpan<byte> block, int sectorSize = 4096, DumpTreeOptions? options = null)
    {
        options ??= new DumpTreeOptions();
        var copy = block.ToArray();
        new TreeTextPrinter(new TextOut(output, options.NameEncoding), errors, copy.Length, sectorSize, Checksums.CsumSize, options.TimeZone)
            .Block(copy, new NodeHeader(copy).Bytenr);
        output.Flush();
    }

    private sealed class TextDumpSink : IDumpSink
    {
        private readonly TreeTextPrinter _p;
        private readonly TextWriter _out;
        private readonly DumpTreeOptions _opt;

        public TextDumpSink(TreeTextPrinter p, TextWriter output, DumpTreeOptions opt)
        {
            _p = p;
            _out = output;
            _opt = opt;
        }

        public void Banner()
        {
            if (_opt.Banner != null) { _out.Write(_opt.Banner); _out.Write('\n'); }
        }

        public void TreeStart(string label, Key? rootKey)
        {
            if (label.Length == 0) return;
            if (rootKey is Key k)
            {
                _p.Out.S(label).C(' ');
                ProgsNames.Key(_p.Out, k);
                _p.Out.S(" \n");
            }
            else _p.Out.S(label).Nl();
        }

        public void Block(Span<byte> block, ulong readAt) => _p.Block(block, readAt);

        public void Error(ulong bytenr, string message)
        {
            _out.Flush();
            _p.Errors.Write("ERROR: ");
            _p.Errors.Write(message);
            _p.Errors.Write('\n');
        }

        public void Warning(ulong bytenr, string message)
        {
            _out.Flush();
            _p.Errors.Write("WARNING: ");
            _p.Errors.Write(message);
            _p.Errors.Write('\n');
        }

        public void Footer(ulong totalBytes, ulong bytesUsed, Guid fsid)
        {
            Span<byte> u = stackalloc byte[16];
            fsid.TryWriteBytes(u, bigEndian: true, out _);
            _p.Out.S("total bytes ").U(totalBytes).Nl().S("bytes used ").U(bytesUsed).Nl().S("uuid ").Uuid(u).Nl();
        }

        public void Finish() => _out.Flush();
        public int Problems => _p.Problems;
    }
}
