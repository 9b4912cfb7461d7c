using BtrfsLite.Trees;
using BtrfsLite.Format;

namespace BtrfsLite.Check;

/// <summary>
/// Phase "checking csums": EXTENT_CSUM items well formed (objectid -10, aligned start, size a multiple of 4, no
/// overlap) and inside data extents; every sector a REG file extent of an inode without NODATASUM references has a
/// csum, while prealloc and NODATASUM ranges have none; with <see cref="CheckOptions.CheckDataCsum"/> every csummed
/// data sector is read and its crc32c compared. NODATASUM comes from the INODE_ITEMs the walker saw.
/// </summary>
internal static class CsumChecker
{
    private const ulong T = ObjectIds.CsumTree;

    public static void Run(CheckContext ctx)
    {
        var walk = ctx.Walk;
        if (walk == null) return;
        var report = ctx.Report;
        ulong ss = (ulong)ctx.Image.SectorSize;

        // Csum coverage (merged) from well-formed items in key order.
        var cover = new List<(ulong Start, ulong End)>();
        ulong prevEnd = 0, total = 0;
        // The kernel's MAX_CSUM_ITEMS: what fits in a leaf next to two item headers, less one.
        int maxCsums = (ctx.Image.NodeSize - NodeHeader.Size - 2 * ItemHeader.Size) / Checksums.CsumSize - 1;
        foreach (var c in walk.CsumItems)
        {
            string loc = $"corrupt leaf: root=7 block={c.Leaf} slot={c.Slot}";
            if (!c.WellFormed)
            {
                report.Add(FindingCode.ItemInvalid, T, c.Leaf, c.Slot, $"{loc}, invalid csum item (must be (EXTENT_CSUM EXTENT_CSUM aligned-offset) with size a non-zero multiple of {Checksums.CsumSize})");
                continue;
            }
            ulong s = c.Start, e = c.Start + (ulong)c.Count * ss;
            if (c.Count > maxCsums)
                report.Add(FindingCode.ItemInvalid, T, c.Leaf, c.Slot, $"{loc}, csum item [{s}, {e}) holds {c.Count} csums, more than the {maxCsums} an item may hold");
            if (s < prevEnd)
                report.Add(FindingCode.ItemInvalid, T, c.Leaf, c.Slot, $"{loc}, csum item [{s}, {e}) overlaps the previous one ending at {prevEnd}");
            prevEnd = Math.Max(prevEnd, e);
            total += (ulong)c.Count * Checksums.CsumSize; // btrfs check: bytes of csum items
            if (cover.Count > 0 && cover[^1].End >= s) cover[^1] = (cover[^1].Start, Math.Max(cover[^1].End, e));
            else cover.Add((s, e));
        }
        report.TotalCsumBytes = total;

        // Data extents (merged), from the extent tree, else from the file extents.
        var data = new List<(ulong Start, ulong End)>();
        if (walk.ExtentRanges != null)
        {
            foreach (var r in walk.ExtentRanges)
                if (r.Data) AddMerged(data, r.Start, r.Start + r.Length);
        }
        else
        {
            var tmp = new List<(ulong, ulong)>(walk.DataRefs.Count);
            foreach (var d in walk.DataRefs) tmp.Add((d.DiskBytenr, d.DiskBytenr + d.DiskNumBytes));
            tmp.Sort();
            foreach (var (s, e) in tmp) AddMerged(data, s, e);
        }
        // Extents an unreplayed log tree references (fsync'ed data) have their csums already; the extent tree gets
        // them at the replay. btrfs check accepts those csums, and so do we.
        if (ctx.Image.Super.LogRoot != 0)
        {
            var logged = LoggedExtents(ctx);
            if (logged.Count > 0)
            {
                foreach (var r in data) logged.Add(r);
                logged.Sort();
                data = new List<(ulong Start, ulong End)>();
                foreach (var (s0, e0) in logged) AddMerged(data, s0, e0);
            }
        }
        int di = 0;
        foreach (var c in walk.CsumItems)
        {
            if (!c.WellFormed) continue;
            ulong s = c.Start, e = c.Start + (ulong)c.Count * ss;
            while (di < data.Count && data[di].End <= s) di++;
            if (di >= data.Count || data[di].Start > s || data[di].End < e)
                report.Add(FindingCode.CsumOutsideExtent, T, c.Leaf, c.Slot, $"csum item [{s}, {e}) (root=7 block={c.Leaf} slot={c.Slot}) is not inside a data extent");
        }

        // Required / forbidden coverage from the file extents.
        var need = new List<(ulong Start, ulong End, int Ref)>();
        var noCsum = new List<(ulong Start, ulong End, int Ref)>();
        var refs = walk.DataRefs;
        for (int k = 0; k < refs.Count; k++)
        {
            var d = refs[k];
            if (d.NumBytes == 0) continue;
            ulong s = d.DiskBytenr + d.ExtentOffset, e = s + d.NumBytes;
            bool nodatasum = walk.NoDataSumInodes.Contains((d.Tree, d.Inode)) || walk.NoDataSumInodes.Contains((d.Root, d.Inode));
            if (d.Type == FileExtentType.Regular && !nodatasum) need.Add((s, e, k));
            else noCsum.Add((s, e, k));
        }
        need.Sort();
        noCsum.Sort();
        var needMerged = new List<(ulong Start, ulong End)>();
        int ci = 0;
        foreach (var (s, e, k) in need)
        {
            AddMerged(needMerged, s, e);
            while (ci < cover.Count && cover[ci].End <= s) ci++;
            if (ci < cover.Count && cover[ci].Start <= s && cover[ci].End >= e) continue;
            var d = refs[k];
            ulong missing = MissingStart(cover, ci, s, e);
            report.Add(FindingCode.CsumMissing, d.Tree, d.Leaf, d.Slot,
                $"root {d.Root} inode {d.Inode} errors 1000, some csum missing: file extent at {d.FileOffset} [{s}, {e}) has no csum from {missing}");
        }
        ci = 0;
        int ni = 0;
        foreach (var (s, e, k) in noCsum)
        {
            while (ci < cover.Count && cover[ci].End <= s) ci++;
            if (ci >= cover.Count || cover[ci].Start >= e) continue; // no csum: as it should be
            while (ni < needMerged.Count && needMerged[ni].End <= s) ni++;
            if (ni < needMerged.Count && needMerged[ni].Start <= s && needMerged[ni].End >= e) continue; // written prealloc shared with a REG ref
            var d = refs[k];
            report.Add(FindingCode.CsumUnexpected, d.Tree, d.Leaf, d.Slot,
                $"root {d.Root} inode {d.Inode} errors 2000, odd csum item: {(d.Type == FileExtentType.Prealloc ? "prealloc" : "NODATASUM")} file extent at {d.FileOffset} [{s}, {e}) has csums");
        }

        if (ctx.Options.CheckDataCsum) VerifyData(ctx, walk);
    }

    private static ulong MissingStart(List<(ulong Start, ulong End)> cover, int ci, ulong s, ulong e)
    {
        ulong pos = s;
        for (int i = ci; i < cover.Count && cover[i].Start <= pos && pos < e; i++) pos = Math.Max(pos, cover[i].End);
        return pos;
    }

    private static void AddMerged(List<(ulong Start, ulong End)> list, ulong s, ulong e)
    {
        if (list.Count > 0 && list[^1].End >= s) { if (e > list[^1].End) list[^1] = (list[^1].Start, e); }
        else list.Add((s, e));
    }

    /// <summary>Reads every csummed sector (in runs of up to 1 MiB, through the chunk map) and compares crc32c.</summary>
    private static void VerifyData(CheckContext ctx, TreeWalkResult walk)
    {
        var img = ctx.Image;
        var report = ctx.Report;
        int ss = img.SectorSize;
        const int maxSectors = 256;
        var buf = new byte[maxSectors * ss];
        var src = new LeafSource(img);
        ulong leafNr = ulong.MaxValue;
        byte[]? leafBuf = null;
        foreach (var c in walk.CsumItems)
        {
            if (!c.WellFormed) continue;
            if (c.Leaf != leafNr) { leafNr = c.Leaf; leafBuf = src.Read(leafNr); }
            if (leafBuf == null) continue;
            var leaf = new Leaf(leafBuf);
            if (c.Slot >= leaf.NrItems) continue;
            var sums = leaf.Data(c.Slot);
            int i = 0;
            while (i < c.Count)
            {
                int n = Math.Min(maxSectors, c.Count - i);
                ulong logical = c.Start + (ulong)i * (ulong)ss;
                var chunk = img.Chunks.Find(logical);
                if (chunk == null) { report.Add(FindingCode.CsumOutsideExtent, T, c.Leaf, c.Slot, $"csummed data at {logical} is not inside any chunk"); break; }
                n = (int)Math.Min((ulong)n, (chunk.End - logical) / (ulong)ss);
                if (n <= 0) break;
                var span = buf.AsSpan(0, n * ss);
                bool read = true;
                try
                {
                    img.Device.Read(span, img.Chunks.Map(logical, span.Length));
                }
                catch (Exception ex) when (ex is IOException or InvalidDataException)
                {
                    report.Add(FindingCode.CsumMismatch, T, c.Leaf, c.Slot, $"cannot read data [{logical}, {logical + (ulong)span.Length}): {ex.Message}");
                    read = false;
                }
                for (int k = 0; read && k < n; k++)
                {
                    uint want = Le.U32(sums, (i + k) * Checksums.CsumSize);
                    uint got = Checksums.Crc32C(span.Slice(k * ss, ss));
                    if (want != got) // every bad sector counts, as in btrfs check
                        report.Add(FindingCode.CsumMismatch, T, c.Leaf, c.Slot,
                            $"mirror 1 bytenr {logical + (ulong)k * (ulong)ss} csum 0x{got:x8} expected csum 0x{want:x8}");
                }
                i += n;
            }
        }
    }

    /// <summary>Data extents the log trees reference (regular and preallocated file extents); unreadable parts are a note.</summary>
    private static List<(ulong Start, ulong End)> LoggedExtents(CheckContext ctx)
    {
        var list = new List<(ulong Start, ulong End)>();
        var sb = ctx.Image.Super;
        try
        {
            var c = ctx.Image.NewCursor();
            var roots = new List<TreeRoot>();
            if (c.First(new TreeRoot(ObjectIds.TreeLog, sb.LogRoot, sb.LogRootLevel, 0)))
                do
                {
                    if (c.Type == ItemType.RootItem && c.DataSize >= RootItem.LegacySize)
                    {
                        var ri = new RootItem(c.Data);
                        roots.Add(new TreeRoot(ObjectIds.TreeLog, ri.Bytenr, ri.Level, 0));
                    }
                } while (c.Next());
            foreach (var root in roots)
                if (c.First(root))
                    do
                    {
                        if (c.Type != ItemType.ExtentData || c.DataSize != FileExtentItem.Size) continue;
                        var fe = new FileExtentItem(c.Data);
                        if (fe.Type != FileExtentType.Inline && fe.DiskBytenr != 0) list.Add((fe.DiskBytenr, fe.DiskBytenr + fe.DiskNumBytes));
                    } while (c.Next());
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException)
        {
            ctx.Report.Notes.Add($"log tree at {sb.LogRoot} could not be read ({ex.Message}); csums of logged extents not matched");
        }
        return list;
    }
}
