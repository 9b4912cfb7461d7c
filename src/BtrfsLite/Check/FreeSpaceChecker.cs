using BtrfsLite.Format;

namespace BtrfsLite.Check;

/// <summary>
/// Phase "checking free space tree": with compat_ro FREE_SPACE_TREE, every block group has a FREE_SPACE_INFO whose
/// extent_count is exact and whose FREE_SPACE_EXTENT/BITMAP entries describe exactly the group range minus the
/// allocated extents (superblock mirror stripes are not subtracted). Without the feature the tree must be absent.
/// INFO items of groups that no longer exist (mkfs leaves them for its temporary groups) are noted, not errors.
/// </summary>
internal static class FreeSpaceChecker
{
    private sealed class Info
    {
        public ulong Start, Length, Leaf;
        public int Slot, Entries;
        public uint ExtentCount, Flags;
        public readonly List<(ulong Start, ulong End)> Runs = new();
        public void AddRun(ulong s, ulong e)
        {
            if (Runs.Count > 0 && Runs[^1].End == s) Runs[^1] = (Runs[^1].Start, e);
            else Runs.Add((s, e));
        }
    }

    public static void Run(CheckContext ctx)
    {
        var walk = ctx.Walk;
        if (walk == null) return;
        var report = ctx.Report;
        var sb = ctx.Image.Super;
        bool fst = (sb.CompatRoFlags & CompatRoFlags.FreeSpaceTree) != 0;
        bool present = walk.TreeRoots.TryGetValue(ObjectIds.FreeSpaceTree, out ulong rootBlock);
        if (!fst)
        {
            if (present)
                report.Add(FindingCode.FreeSpaceMismatch, ObjectIds.FreeSpaceTree, rootBlock, -1, "free space tree exists but compat_ro FREE_SPACE_TREE is not set");
            return;
        }
        if (!present)
        {
            report.Add(FindingCode.FreeSpaceMismatch, ObjectIds.FreeSpaceTree, 0, -1, "compat_ro FREE_SPACE_TREE is set but the free space tree has no root item");
            return;
        }
        var groups = walk.BlockGroups;
        var ranges = walk.ExtentRanges;
        if (groups == null || ranges == null)
        {
            report.Notes.Add("free space tree not verified: the extent phase did not finish");
            return;
        }
        int sectorSize = ctx.Image.SectorSize;
        var bgIndex = new Dictionary<ulong, int>(groups.Count);
        for (int k = 0; k < groups.Count; k++) bgIndex.TryAdd(groups[k].Start, k);
        var infos = new Info?[groups.Count];
        var src = new LeafSource(ctx.Image);
        Info? cur = null;
        bool curStale = false;
        const ulong T = ObjectIds.FreeSpaceTree;

        foreach (ulong leafNr in LeafSource.LeavesOf(walk, T))
        {
            var buf = src.Read(leafNr);
            if (buf == null) continue;
            var leaf = new Leaf(buf);
            int n = leaf.NrItems;
            for (int i = 0; i < n; i++)
            {
                var t = leaf.KeyType(i);
                ulong oid = leaf.KeyObjectId(i), off = leaf.KeyOffset(i);
                uint size = leaf.DataSize(i);
                string loc = $"root=10 block={leafNr} slot={i}";
                if (t == ItemType.FreeSpaceInfo)
                {
                    cur = null;
                    curStale = false;
                    if (!bgIndex.TryGetValue(oid, out int k) || groups[k].Length != off)
                    {
                        curStale = true;
                        report.Notes.Add($"free space info ({oid} {off}) belongs to no block group (stale entry)");
                        continue;
                    }
                    if (size != 8)
                    {
                        report.Add(FindingCode.FreeSpaceInfoInvalid, T, leafNr, i, $"corrupt leaf: {loc}, invalid free space info size {size}");
                        curStale = true;
                        continue;
                    }
                    var d = leaf.Data(i);
                    cur = new Info { Start = oid, Length = off, Leaf = leafNr, Slot = i, ExtentCount = Le.U32(d, 0), Flags = Le.U32(d, 4) };
                    if ((cur.Flags & ~1u) != 0)
                        report.Add(FindingCode.FreeSpaceInfoInvalid, T, leafNr, i, $"corrupt leaf: {loc}, unknown free space info flags 0x{cur.Flags:x}");
                    if (infos[k] != null)
                        report.Add(FindingCode.FreeSpaceInfoInvalid, T, leafNr, i, $"block group {oid}: second free space info");
                    infos[k] = cur;
                }
                else if (t is ItemType.FreeSpaceExtent or ItemType.FreeSpaceBitmap)
                {
                    if (curStale) continue;
                    if (cur == null || oid < cur.Start || oid + off > cur.Start + cur.Length || off == 0 || oid + off < oid)
                    {
                        report.Add(FindingCode.FreeSpaceMismatch, T, leafNr, i, $"free space {(t == ItemType.FreeSpaceExtent ? "extent" : "bitmap")} [{oid} {off}] ({loc}) is outside the preceding free space info");
                        continue;
                    }
                    bool bitmaps = (cur.Flags & 1) != 0;
                    if (bitmaps != (t == ItemType.FreeSpaceBitmap))
                        report.Add(FindingCode.FreeSpaceInfoInvalid, T, leafNr, i, $"block group {cur.Start}: {(bitmaps ? "extent" : "bitmap")} item in a group using {(bitmaps ? "bitmaps" : "extents")} ({loc})");
                    if (t == ItemType.FreeSpaceExtent)
                    {
                        if (size != 0) report.Add(FindingCode.FreeSpaceInfoInvalid, T, leafNr, i, $"corrupt leaf: {loc}, free space extent item size {size} != 0");
                        cur.Entries++;
                        cur.AddRun(oid, oid + off);
                    }
                    else
                    {
                        ulong bits = off / (ulong)sectorSize;
                        if (off % (ulong)sectorSize != 0 || (ulong)size != (bits + 7) / 8)
                        {
                            report.Add(FindingCode.FreeSpaceInfoInvalid, T, leafNr, i, $"corrupt leaf: {loc}, bitmap size {size} does not cover {off} bytes");
                            continue;
                        }
                        var d = leaf.Data(i);
                        ulong runStart = 0;
                        bool inRun = false;
                        for (ulong b = 0; b <= bits; b++)
                        {
                            bool set = b < bits && (d[(int)(b >> 3)] & (1 << (int)(b & 7))) != 0;
                            if (set && !inRun) { inRun = true; runStart = b; }
                            else if (!set && inRun)
                            {
                                inRun = false;
                                ulong s = oid + runStart * (ulong)sectorSize, e = oid + b * (ulong)sectorSize;
                                bool continues = cur.Runs.Count > 0 && cur.Runs[^1].End == s;
                                if (!continues) cur.Entries++;
                                cur.AddRun(s, e);
                            }
                        }
                    }
                }
            }
        }

        // Expected free space per group: group range minus allocated extents (ranges sorted by start).
        int r = 0;
        var expected = new List<(ulong Start, ulong End)>();
        for (int k = 0; k < groups.Count; k++)
        {
            var (gs, gl, _) = groups[k];
            ulong ge = gs + gl;
            expected.Clear();
            while (r < ranges.Count && ranges[r].Start + ranges[r].Length <= gs) r++;
            ulong cursor = gs;
            for (int q = r; q < ranges.Count && ranges[q].Start < ge; q++)
            {
                ulong s = ranges[q].Start, e = Math.Min(ranges[q].Start + ranges[q].Length, ge);
                if (s > cursor) expected.Add((cursor, s));
                if (e > cursor) cursor = e;
            }
            if (cursor < ge) expected.Add((cursor, ge));

            var info = infos[k];
            if (info == null)
            {
                report.Add(FindingCode.FreeSpaceMismatch, T, rootBlock, -1, $"block group {gs} (length {gl}) has no free space info");
                continue;
            }
            if (info.ExtentCount != (uint)info.Entries)
                report.Add(FindingCode.FreeSpaceMismatch, T, info.Leaf, info.Slot, $"block group {gs}: free space info extent count {info.ExtentCount}, found {info.Entries} free space entries");
            int diff = FirstDifference(expected, info.Runs);
            if (diff >= 0)
            {
                string have = diff < info.Runs.Count ? $"[{info.Runs[diff].Start}, {info.Runs[diff].End})" : "nothing";
                string want = diff < expected.Count ? $"[{expected[diff].Start}, {expected[diff].End})" : "nothing";
                report.Add(FindingCode.FreeSpaceMismatch, T, info.Leaf, info.Slot,
                    $"block group {gs}: free space tree disagrees with the extent tree: free run {diff} is {have}, expected {want} (cache and tree mismatch)");
            }
        }
    }

    private static int FirstDifference(List<(ulong Start, ulong End)> a, List<(ulong Start, ulong End)> b)
    {
        int n = Math.Min(a.Count, b.Count);
        for (int i = 0; i < n; i++)
            if (a[i] != b[i]) return i;
        return a.Count == b.Count ? -1 : n;
    }
}
