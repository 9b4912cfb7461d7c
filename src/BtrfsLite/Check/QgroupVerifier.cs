using BtrfsLite.Format;
using BtrfsLite.IO;
using BtrfsLite.Trees;

namespace BtrfsLite.Check;

/// <summary>Recomputed and on-disk numbers of one qgroup (what <c>--qgroup-report</c> prints).</summary>
/// <param name="QgroupId">The 64-bit qgroup id.</param>
/// <param name="OurRfer">Referenced bytes recomputed from the extent tree.</param>
/// <param name="OurExcl">Exclusive bytes recomputed from the extent tree.</param>
/// <param name="DiskRfer">btrfs_qgroup_info_item.rfer on disk.</param>
/// <param name="DiskExcl">btrfs_qgroup_info_item.excl on disk.</param>
/// <param name="DiskRferCmpr">btrfs_qgroup_info_item.rfer_cmpr on disk.</param>
/// <param name="DiskExclCmpr">btrfs_qgroup_info_item.excl_cmpr on disk.</param>
/// <param name="SubvolExists">True for a level-0 qgroup whose subvolume tree exists.</param>
public sealed record QgroupCount(ulong QgroupId, ulong OurRfer, ulong OurExcl, ulong DiskRfer, ulong DiskExcl,
    ulong DiskRferCmpr, ulong DiskExclCmpr, bool SubvolExists)
{
    /// <summary>The qgroup id as "level/id".</summary>
    public string Id => Format.QgroupId.Format(QgroupId);
    /// <summary>True when the recomputed referenced or exclusive bytes differ from the on-disk ones.</summary>
    public bool IsDifferent => OurRfer != DiskRfer || OurExcl != DiskExcl;
}

/// <summary>The result of the quota-group phase for one report (absent when quotas are off).</summary>
public sealed class QgroupResult
{
    /// <summary>One entry per qgroup with an INFO item, in id order.</summary>
    public List<QgroupCount> Counts { get; } = new();
    /// <summary>The status item has the INCONSISTENT flag.</summary>
    public bool Inconsistent { get; init; }
    /// <summary>The status item has the RESCAN flag (a rescan was running).</summary>
    public bool RescanRunning { get; init; }
    /// <summary>True when differences are expected (status INCONSISTENT or RESCAN) and so not errors.</summary>
    public bool DifferencesExpected => Inconsistent || RescanRunning;
}

/// <summary>
/// "checking quota groups" and <c>btrfs check --qgroup-report</c>: recomputes referenced/exclusive of every qgroup
/// that has an INFO item from the extent tree's backrefs, independently of whoever wrote the numbers.
/// <para>Each EXTENT_ITEM (data: the whole extent, key offset bytes) and METADATA_ITEM (nodesize) gets the set of
/// subvolume trees reaching it: TREE_BLOCK_REF / EXTENT_DATA_REF name the root; SHARED_BLOCK_REF / SHARED_DATA_REF
/// name a parent block whose roots count recursively; and a block is also reached from every fs-tree node pointing
/// at it, a data extent from every fs-tree leaf whose file extent points at it (snapshots share subtrees without
/// explicit refs below the shared node). Roots resolve memoized per block, cycles guarded. Only fs trees (5, 256+)
/// count. Per qgroup Q: hits = roots whose 0/root lies at or under Q; hits &gt; 0 adds to rfer, hits = |roots| to
/// excl.</para>
/// </summary>
internal static class QgroupVerifier
{
    private const string RescanInitTypo = "Rescan hasn't been initialzied, a difference in qgroup accounting is expected"; // sic, btrfs-progs 6.2

    private sealed class Qgroup
    {
        public ulong Id;
        public ulong DiskRfer, DiskRferCmpr, DiskExcl, DiskExclCmpr;
        public ulong Rfer, Excl;
        public bool SubvolExists;
        public readonly List<Qgroup> Parents = new();
        public int Index;
        // per-extent scratch
        public int Hits;
        public int Stamp;
    }

    public static void Run(CheckContext ctx)
    {
        var image = ctx.Image;
        var report = ctx.Report;
        if (!image.TryGetRoot(ObjectIds.QuotaTree, out var quotaRoot))
            return; // quotas not enabled
        bool all = ctx.Options.QgroupReport;

        // 1. The quota tree: status, INFO, LIMIT, RELATION.
        var groups = new SortedDictionary<ulong, Qgroup>();
        var limits = new List<(ulong Id, ulong Leaf, int Slot)>();
        var relations = new List<(ulong Member, ulong Parent, ulong Leaf, int Slot)>();
        bool haveStatus = false, inconsistent = false, rescan = false;
        var c = image.NewCursor();
        try
        {
            if (c.First(quotaRoot))
            {
                do
                {
                    switch (c.Type)
                    {
                        case ItemType.QgroupStatus:
                        {
                            var d = c.Data;
                            if (d.Length < QgroupStatusItem.Size)
                            {
                                report.Add(FindingCode.QgroupStatusInvalid, ObjectIds.QuotaTree, c.LeafBytenr, c.Slot, $"qgroup status item is {d.Length} bytes, expected {QgroupStatusItem.Size} or {QgroupStatusItem.SizeWithEnableGen}");
                                break;
                            }
                            haveStatus = true;
                            var st = new QgroupStatusItem(d);
                            inconsistent = (st.Flags & QgroupStatusFlags.Inconsistent) != 0;
                            rescan = (st.Flags & QgroupStatusFlags.Rescan) != 0;
                            if (st.Version != QgroupStatusItem.CurrentVersion)
                                report.Notes.Add($"qgroup status version {st.Version} (expected 1): the kernel disables quotas on such a filesystem");
                            if (st.Generation != image.Generation)
                                // btrfs check 6.2 does not compare these; the kernel marks the qgroups INCONSISTENT at
                                // mount when they differ (the numbers may be stale), so it is worth telling, not an error.
                                report.Notes.Add($"qgroup status generation {st.Generation} != superblock generation {image.Generation}: the kernel will mark qgroups inconsistent at mount (btrfs check passes this)");
                            if ((st.Flags & QgroupStatusFlags.On) == 0)
                                report.Notes.Add("qgroup status flag ON is not set");
                            break;
                        }
                        case ItemType.QgroupInfo:
                        {
                            var d = c.Data;
                            if (d.Length < QgroupInfoItem.Size)
                            {
                                report.Add(FindingCode.QgroupItemInvalid, ObjectIds.QuotaTree, c.LeafBytenr, c.Slot, $"qgroup info {QgroupId.Format(c.Offset)} is {d.Length} bytes, expected {QgroupInfoItem.Size}");
                                break;
                            }
                            var info = new QgroupInfoItem(d);
                            if (c.ObjectId != 0)
                                report.Add(FindingCode.QgroupItemInvalid, ObjectIds.QuotaTree, c.LeafBytenr, c.Slot, $"qgroup info key objectid {c.ObjectId}, expected 0");
                            if (groups.ContainsKey(c.Offset))
                            {
                                report.Add(FindingCode.QgroupItemInvalid, ObjectIds.QuotaTree, c.LeafBytenr, c.Slot, $"second INFO item for qgroup {QgroupId.Format(c.Offset)}");
                                break;
                            }
                            groups[c.Offset] = new Qgroup
                            {
                                Id = c.Offset, DiskRfer = info.Rfer, DiskRferCmpr = info.RferCmpr, DiskExcl = info.Excl, DiskExclCmpr = info.ExclCmpr,
                            };
                            break;
                        }
                        case ItemType.QgroupLimit:
                            limits.Add((c.Offset, c.LeafBytenr, c.Slot));
                            break;
                        case ItemType.QgroupRelation:
                            relations.Add((c.ObjectId, c.Offset, c.LeafBytenr, c.Slot));
                            break;
                    }
                } while (c.Next());
            }
        }
        catch (InvalidDataException ex)
        {
            report.Add(FindingCode.QgroupItemInvalid, ObjectIds.QuotaTree, Corruption.Bytenr(ex), Corruption.Slot(ex), $"quota tree unreadable: {ex.Message}");
            return;
        }
        if (!haveStatus)
            report.Add(FindingCode.QgroupStatusInvalid, ObjectIds.QuotaTree, quotaRoot.Bytenr, -1, "quota tree has no QGROUP_STATUS item (the kernel refuses to enable quotas)");
        foreach (var (id, leaf, slot) in limits)
            if (!groups.ContainsKey(id))
                // btrfs check 6.2 ignores LIMIT items; the kernel marks quotas inconsistent when loading one without INFO.
                report.Add(FindingCode.QgroupInfoMissing, ObjectIds.QuotaTree, leaf, slot, $"qgroup {QgroupId.Format(id)} has a LIMIT item but no INFO item");
        var relPairs = new HashSet<(ulong, ulong)>();
        foreach (var r in relations) relPairs.Add((r.Member, r.Parent));
        foreach (var (member, parent, leaf, slot) in relations)
        {
            if (member > parent)
            {
                if (!relPairs.Contains((parent, member)))
                    report.Notes.Add($"qgroup relation ({QgroupId.Format(member)}, {QgroupId.Format(parent)}) has no mirror item");
                continue; // the other half of the pair
            }
            if (!relPairs.Contains((parent, member)))
                report.Notes.Add($"qgroup relation ({QgroupId.Format(member)}, {QgroupId.Format(parent)}) has no mirror item");
            if (!groups.TryGetValue(member, out var m) || !groups.TryGetValue(parent, out var p))
            {
                // progs: "failed to add qgroup relation" and the qgroup check fails.
                report.Add(FindingCode.QgroupInfoMissing, ObjectIds.QuotaTree, leaf, slot,
                    $"failed to add qgroup relation, member={member} parent={parent}: qgroup {QgroupId.Format(groups.ContainsKey(member) ? parent : member)} has no INFO item");
                continue;
            }
            if (QgroupId.LevelOf(parent) <= QgroupId.LevelOf(member))
                report.Add(FindingCode.QgroupItemInvalid, ObjectIds.QuotaTree, leaf, slot, $"qgroup relation member {QgroupId.Format(member)} parent {QgroupId.Format(parent)}: parent level must be higher");
            if (!m.Parents.Contains(p)) m.Parents.Add(p);
        }
        int idx = 0;
        foreach (var g in groups.Values)
        {
            g.Index = idx++;
            ulong sub = QgroupId.IdOf(g.Id);
            g.SubvolExists = QgroupId.LevelOf(g.Id) == 0 && image.TryGetRoot(sub, out _) && ObjectIds.IsFsTree(sub);
        }

        // 2. Roots of every extent, then accounting.
        bool complete = Account(ctx, groups, out string? incompleteWhy);

        var result = new QgroupResult { Inconsistent = inconsistent, RescanRunning = rescan };
        foreach (var g in groups.Values)
            result.Counts.Add(new QgroupCount(g.Id, g.Rfer, g.Excl, g.DiskRfer, g.DiskExcl, g.DiskRferCmpr, g.DiskExclCmpr, g.SubvolExists));
        report.Qgroups = result;

        if (!complete)
        {
            report.Notes.Add($"qgroup numbers not verified: {incompleteWhy}");
            return;
        }

        // 3. Report like btrfs-progs report_qgroups(all), then the findings.
        var lines = report.QgroupReport;
        if (rescan)
        {
            if (all) lines.Add("Qgroup rescan is running, a difference in qgroup counts is expected");
            else lines.Add("Qgroup rescan is running, qgroups will not be printed.");
        }
        if (!(rescan && !all))
        {
            if (inconsistent && !rescan) lines.Add(RescanInitTypo);
            foreach (var q in result.Counts)
            {
                bool printable = q.SubvolExists || QgroupId.LevelOf(q.QgroupId) > 0;
                if (!all && !(q.IsDifferent && printable)) continue;
                lines.Add($"Counts for qgroup id: {q.Id} {(q.IsDifferent ? "are different" : "")}");
                lines.Add(Fields("our:", "referenced", q.OurRfer, q.OurRfer));
                lines.Add(Fields("disk:", "referenced", q.DiskRfer, q.DiskRferCmpr));
                long refDiff = unchecked((long)(q.OurRfer - q.DiskRfer));
                if (refDiff != 0) lines.Add(FieldsSigned("diff:", "referenced", refDiff));
                lines.Add(Fields("our:", "exclusive", q.OurExcl, q.OurExcl));
                lines.Add(Fields("disk:", "exclusive", q.DiskExcl, q.DiskExclCmpr));
                long exclDiff = unchecked((long)(q.OurExcl - q.DiskExcl));
                if (exclDiff != 0) lines.Add(FieldsSigned("diff:", "exclusive", exclDiff));
            }
        }
        foreach (var q in result.Counts)
        {
            if (!q.IsDifferent) continue;
            string stale = q.SubvolExists || QgroupId.LevelOf(q.QgroupId) > 0 ? "" : " (stale: its subvolume does not exist)";
            if (result.DifferencesExpected)
            {
                report.Notes.Add($"qgroup {q.Id} differs (our rfer {q.OurRfer} excl {q.OurExcl}, disk rfer {q.DiskRfer} excl {q.DiskExcl}){stale}; expected: qgroups are marked {(rescan ? "for rescan" : "inconsistent")}");
                continue;
            }
            var (leaf, slot) = InfoLocation(ctx, quotaRoot, q.QgroupId);
            if (q.OurRfer != q.DiskRfer)
                report.Add(FindingCode.QgroupReferencedMismatch, ObjectIds.QuotaTree, leaf, slot,
                    $"qgroup {q.Id} referenced {q.DiskRfer} on disk, recomputed {q.OurRfer} (diff {unchecked((long)(q.OurRfer - q.DiskRfer))}){stale}");
            if (q.OurExcl != q.DiskExcl)
                report.Add(FindingCode.QgroupExclusiveMismatch, ObjectIds.QuotaTree, leaf, slot,
                    $"qgroup {q.Id} exclusive {q.DiskExcl} on disk, recomputed {q.OurExcl} (diff {unchecked((long)(q.OurExcl - q.DiskExcl))}){stale}");
        }
    }

    private static string Fields(string prefix, string type, ulong bytes, ulong cmpr) => $"{prefix}\t\t{type} {bytes} {type} compressed {cmpr}";
    private static string FieldsSigned(string prefix, string type, long diff) => $"{prefix}\t\t{type} {diff} {type} compressed {diff}";

    private static (ulong Leaf, int Slot) InfoLocation(CheckContext ctx, TreeRoot quotaRoot, ulong qgroupid)
    {
        var c = ctx.Image.NewCursor();
        try
        {
            if (c.Find(quotaRoot, new Key(0, ItemType.QgroupInfo, qgroupid))) return (c.LeafBytenr, c.Slot);
        }
        catch (InvalidDataException) { }
        return (quotaRoot.Bytenr, -1);
    }

    // ---- extent graph -------------------------------------------------------------------------------------------

    /// <summary>One backref edge: a direct root (IsParent false) or a parent block (IsParent true).</summary>
    private struct Edge
    {
        public ulong Value;
        public bool IsParent;
        public int Next;
    }

    private sealed class Graph
    {
        public readonly Dictionary<ulong, int> ByBytenr = new();
        public readonly List<ulong> Bytenr = new();
        public readonly List<ulong> Bytes = new();
        public readonly List<bool> IsTree = new();
        public int[] Head = new int[1024];
        public Edge[] Edges = new Edge[4096];
        public int EdgeCount;

        public int AddExtent(ulong bytenr, ulong bytes, bool tree)
        {
            if (ByBytenr.TryGetValue(bytenr, out int i)) return i;
            i = Bytenr.Count;
            ByBytenr[bytenr] = i;
            Bytenr.Add(bytenr); Bytes.Add(bytes); IsTree.Add(tree);
            if (i >= Head.Length) Array.Resize(ref Head, Head.Length * 2);
            Head[i] = -1;
            return i;
        }

        public void AddEdge(int extent, ulong value, bool isParent)
        {
            if (EdgeCount == Edges.Length) Array.Resize(ref Edges, Edges.Length * 2);
            Edges[EdgeCount] = new Edge { Value = value, IsParent = isParent, Next = Head[extent] };
            Head[extent] = EdgeCount++;
        }
    }

    private static bool Account(CheckContext ctx, SortedDictionary<ulong, Qgroup> groups, out string? why)
    {
        why = null;
        var image = ctx.Image;
        var g = new Graph();

        // Extent tree: every extent and its inline and keyed backrefs.
        if (!image.TryGetRoot(ObjectIds.ExtentTree, out var extentRoot)) { why = "no extent tree"; return false; }
        var walk = ctx.Walk;
        int cur = -1;
        ulong curBytenr = ulong.MaxValue;
        void ExtentTreeItem(Leaf leaf, int slot)
        {
            var type = leaf.KeyType(slot);
            ulong oid = leaf.KeyObjectId(slot);
            switch (type)
            {
                case ItemType.ExtentItem:
                case ItemType.MetadataItem:
                {
                    var d = leaf.Data(slot);
                    if (d.Length < ExtentItem.Size) { cur = -1; break; }
                    var ei = new ExtentItem(d);
                    bool tree = (ei.Flags & ExtentFlags.TreeBlock) != 0;
                    ulong bytes = type == ItemType.MetadataItem ? (ulong)image.NodeSize : leaf.KeyOffset(slot);
                    cur = g.AddExtent(oid, bytes, tree);
                    curBytenr = oid;
                    var rr = new InlineRefReader(d, ExtentItem.InlineRefStart(type, ei.Flags));
                    while (rr.Next(out var r))
                    {
                        switch (r.Type)
                        {
                            case ItemType.TreeBlockRef:
                            case ItemType.ExtentDataRef:
                                if (ObjectIds.IsFsTree(r.Offset)) g.AddEdge(cur, r.Offset, false);
                                break;
                            case ItemType.SharedBlockRef:
                            case ItemType.SharedDataRef:
                                g.AddEdge(cur, r.Offset, true);
                                break;
                        }
                    }
                    break;
                }
                case ItemType.TreeBlockRef when cur >= 0 && oid == curBytenr:
                    if (ObjectIds.IsFsTree(leaf.KeyOffset(slot))) g.AddEdge(cur, leaf.KeyOffset(slot), false);
                    break;
                case ItemType.ExtentDataRef when cur >= 0 && oid == curBytenr:
                {
                    var d = leaf.Data(slot);
                    if (d.Length >= ExtentDataRef.Size)
                    {
                        ulong root = new ExtentDataRef(d).Root;
                        if (ObjectIds.IsFsTree(root)) g.AddEdge(cur, root, false);
                    }
                    break;
                }
                case ItemType.SharedBlockRef when cur >= 0 && oid == curBytenr:
                case ItemType.SharedDataRef when cur >= 0 && oid == curBytenr:
                    g.AddEdge(cur, leaf.KeyOffset(slot), true);
                    break;
            }
        }

        if (walk != null && walk.CleanTrees.Contains(ObjectIds.ExtentTree)
            && walk.TreeRoots.TryGetValue(ObjectIds.ExtentTree, out ulong walkedExtentRoot) && walkedExtentRoot == extentRoot.Bytenr)
        {
            // The walker read the whole extent tree without a finding: its recorded leaves are what a cursor would read.
            var src = new LeafSource(image);
            foreach (ulong leafNr in LeafSource.LeavesOf(walk, ObjectIds.ExtentTree))
            {
                var buf = src.ReadClean(leafNr);
                var leaf = new Leaf(buf);
                int nr = leaf.NrItems;
                for (int i = 0; i < nr; i++) ExtentTreeItem(leaf, i);
            }
        }
        else
        {
            var c = image.NewCursor();
            try
            {
                if (c.First(extentRoot))
                    do ExtentTreeItem(c.Leaf, c.Slot); while (c.Next());
            }
            catch (InvalidDataException ex)
            {
                why = $"extent tree unreadable ({ex.Message})";
                return false;
            }
        }

        // Implied refs: each fs tree block reaches its children, each fs leaf the data extents of its file extents.
        if (walk != null && walk.FsTreesCleanFor(image.Roots))
        {
            // Every subvolume tree was walked clean: the walker's edges and file extent pointers are what a second walk
            // would find (each block once).
            var fsBlocks = new HashSet<ulong>();
            foreach (var (bytenr, b) in walk.Blocks)
                if (b.Level > 0 && ObjectIds.IsFsTree(b.Tree)) fsBlocks.Add(bytenr);
            foreach (var e in walk.Edges)
                if (e.Parent != 0 && fsBlocks.Contains(e.Parent) && g.ByBytenr.TryGetValue(e.Child, out int ci)) g.AddEdge(ci, e.Parent, true);
            foreach (var (disk, leaf) in walk.FsDataPointers)
                if (g.ByBytenr.TryGetValue(disk, out int di)) g.AddEdge(di, leaf, true);
        }
        else
        {
        var visited = new HashSet<ulong>();
        foreach (var (id, root) in image.Roots)
        {
            if (!ObjectIds.IsFsTree(id)) continue;
            try
            {
                WalkStructure(image.Nodes, g, visited, root.Bytenr, root.Level, root.Generation);
            }
            catch (InvalidDataException ex)
            {
                why = $"fs tree {id} unreadable ({ex.Message})";
                return false;
            }
        }
        }

        // Accounting.
        int n = g.Bytenr.Count;
        var memo = new ulong[]?[n];
        var state = new byte[n]; // 0 new, 1 resolving, 2 done
        var qlist = new List<Qgroup>(groups.Values);
        var closure = new Dictionary<ulong, Qgroup[]>(); // root id -> 0/root and all its ancestors
        Qgroup[] Closure(ulong root)
        {
            if (closure.TryGetValue(root, out var cl)) return cl;
            var list = new List<Qgroup>();
            if (groups.TryGetValue(root, out var q0))
            {
                var stack = new Stack<Qgroup>();
                stack.Push(q0);
                while (stack.Count > 0)
                {
                    var q = stack.Pop();
                    if (list.Contains(q)) continue;
                    list.Add(q);
                    foreach (var p in q.Parents) stack.Push(p);
                }
            }
            return closure[root] = list.ToArray();
        }

        var roots = new HashSet<ulong>();
        var touched = new List<Qgroup>();
        int stamp = 0;
        for (int i = 0; i < n; i++)
        {
            roots.Clear();
            CollectRoots(g, i, roots, memo, state);
            if (roots.Count == 0) continue;
            ulong bytes = g.Bytes[i];
            stamp++;
            touched.Clear();
            foreach (ulong r in roots)
            {
                foreach (var q in Closure(r))
                {
                    if (q.Stamp != stamp) { q.Stamp = stamp; q.Hits = 0; touched.Add(q); }
                    q.Hits++;
                }
            }
            int nr = roots.Count;
            foreach (var q in touched)
            {
                q.Rfer += bytes;
                if (q.Hits == nr) q.Excl += bytes;
            }
        }
        return true;
    }

    private static void WalkStructure(NodeCache nodes, Graph g, HashSet<ulong> visited, ulong bytenr, int level, ulong generation)
    {
        if (!visited.Add(bytenr)) return;
        var block = nodes.Read(bytenr, new NodeExpectation(generation, level, 0));
        if (level > 0)
        {
            var node = new InternalNode(block);
            int count = node.NrItems;
            // Copy the pointers out: reading children may evict this buffer.
            var ptrs = new (ulong Bytenr, ulong Gen)[count];
            for (int i = 0; i < count; i++) ptrs[i] = (node.BlockPtr(i), node.PtrGeneration(i));
            foreach (var (child, gen) in ptrs)
            {
                if (g.ByBytenr.TryGetValue(child, out int ci)) g.AddEdge(ci, bytenr, true);
                WalkStructure(nodes, g, visited, child, level - 1, gen);
            }
            return;
        }
        var leaf = new Leaf(block);
        int items = leaf.NrItems;
        for (int i = 0; i < items; i++)
        {
            if (leaf.KeyType(i) != ItemType.ExtentData) continue;
            var d = leaf.Data(i);
            if (d.Length < FileExtentItem.Size) continue;
            var fe = new FileExtentItem(d);
            if (fe.Type == FileExtentType.Inline) continue;
            ulong disk = fe.DiskBytenr;
            if (disk == 0) continue;
            if (g.ByBytenr.TryGetValue(disk, out int di)) g.AddEdge(di, bytenr, true);
        }
    }

    /// <summary>Adds the fs roots reaching extent <paramref name="i"/>; memoizes tree blocks (parents), guards cycles.</summary>
    private static void CollectRoots(Graph g, int i, HashSet<ulong> into, ulong[]?[] memo, byte[] state)
    {
        if (state[i] == 2) { foreach (var r in memo[i]!) into.Add(r); return; }
        if (state[i] == 1) return; // cycle
        bool isBlock = g.IsTree[i];
        HashSet<ulong> set = isBlock ? new HashSet<ulong>() : into;
        state[i] = 1;
        for (int e = g.Head[i]; e >= 0; e = g.Edges[e].Next)
        {
            ref var edge = ref g.Edges[e];
            if (!edge.IsParent) { set.Add(edge.Value); continue; }
            if (g.ByBytenr.TryGetValue(edge.Value, out int p) && p != i) CollectRoots(g, p, set, memo, state);
        }
        if (isBlock)
        {
            var arr = new ulong[set.Count];
            set.CopyTo(arr);
            memo[i] = arr;
            state[i] = 2;
            foreach (var r in arr) into.Add(r);
        }
        else state[i] = 0;
    }
}
