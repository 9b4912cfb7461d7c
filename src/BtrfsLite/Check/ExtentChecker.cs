using BtrfsLite.Format;

namespace BtrfsLite.Check;

/// <summary>
/// Phase "checking extents": chunks ↔ dev extents ↔ block groups (1:1, same start/length/type; dev extents inside the
/// device, not overlapping; DEV_ITEM.bytes_used in the chunk tree and the superblock = sum of dev extents); the extent
/// tree against the references the walker found (every tree block and data extent has an item; refs = the references;
/// every backref, inline or keyed, matches one found; nothing unreferenced; no overlap; right block-group type;
/// inline ref order; malformed items); BLOCK_GROUP.used = sum of extents inside; super bytes_used = sum of used.
/// Single pass over each system tree; sorted merges and bytenr dictionaries, no per-item allocation.
/// </summary>
internal static class ExtentChecker
{
    private struct ExtentRec
    {
        public ulong Bytenr, Length, Refs, DiskTotal, ExpectedTotal;
        public ExtentFlags Flags;
        public int Level; // tree blocks; -1 for data
        public ulong Leaf;
        public int Slot;
        public bool Malformed, Tree;
    }

    /// <summary>A backref: on disk (with its location) or expected from the walk. A = root or parent, B = inode, C = offset.</summary>
    private struct RefRec
    {
        public ulong Bytenr;
        public byte Type;
        public ulong A, B, C;
        public ulong Count;
        public ulong Leaf;
        public int Slot;
    }

    private static int CompareRef(RefRec x, RefRec y)
    {
        int c = x.Bytenr.CompareTo(y.Bytenr);
        if (c != 0) return c;
        c = x.Type.CompareTo(y.Type);
        if (c != 0) return c;
        c = x.A.CompareTo(y.A);
        if (c != 0) return c;
        c = x.B.CompareTo(y.B);
        return c != 0 ? c : x.C.CompareTo(y.C);
    }

    private static bool SameRef(in RefRec x, in RefRec y) => x.Bytenr == y.Bytenr && x.Type == y.Type && x.A == y.A && x.B == y.B && x.C == y.C;

    private readonly record struct ChunkRec(ulong Start, ulong Length, BlockGroupFlags Type, int NumStripes, ulong Phys0, ulong Phys1, ulong Leaf, int Slot);
    private readonly record struct BgRec(ulong Start, ulong Length, ulong Used, BlockGroupFlags Flags, ulong Leaf, int Slot, ulong Tree);

    public static void Run(CheckContext ctx)
    {
        var walk = ctx.Walk;
        if (walk == null) return; // the walk phase did not run: nothing to compare with
        var img = ctx.Image;
        var report = ctx.Report;
        var src = new LeafSource(img);
        int nodeSize = img.NodeSize, sectorSize = img.SectorSize;
        var sb = img.Super;
        bool skinny = (sb.IncompatFlags & IncompatFlags.SkinnyMetadata) != 0;
        bool bgTree = (sb.CompatRoFlags & CompatRoFlags.BlockGroupTree) != 0;

        // ---- chunk tree: chunks and the DEV_ITEM ----
        var chunks = new List<ChunkRec>();
        ulong devItemUsed = 0, devItemTotal = 0;
        ulong devItemLeaf = 0;
        int devItemSlot = -1;
        foreach (ulong leafNr in LeafSource.LeavesOf(walk, ObjectIds.ChunkTree))
        {
            var buf = src.Read(leafNr);
            if (buf == null) continue;
            var leaf = new Leaf(buf);
            int n = leaf.NrItems;
            for (int i = 0; i < n; i++)
            {
                var t = leaf.KeyType(i);
                var data = leaf.Data(i);
                if (t == ItemType.ChunkItem)
                {
                    ulong start = leaf.KeyOffset(i);
                    string loc = $"chunk [{start}]: corrupt leaf: root=3 block={leafNr} slot={i}";
                    if (data.Length < ChunkItem.Size) { report.Add(FindingCode.ChunkInvalid, 3, leafNr, i, $"{loc}, item size {data.Length} too small"); continue; }
                    var c = new ChunkItem(data);
                    int ns = c.NumStripes;
                    var profile = c.Type & BlockGroupFlags.ProfileMask;
                    int want = profile == BlockGroupFlags.Dup ? 2 : 1;
                    if (data.Length != ChunkItem.SizeWith(ns)) { report.Add(FindingCode.ChunkInvalid, 3, leafNr, i, $"{loc}, item size {data.Length} does not match {ns} stripes"); continue; }
                    if (ns != want) { report.Add(FindingCode.ChunkInvalid, 3, leafNr, i, $"{loc}, num_stripes {ns} does not match profile {IO.ChunkMap.ProfileName(profile)}"); continue; }
                    if (leaf.KeyObjectId(i) != ObjectIds.FirstChunkTree) report.Add(FindingCode.ChunkInvalid, 3, leafNr, i, $"{loc}, key objectid {leaf.KeyObjectId(i)} != 256");
                    if (c.Length == 0 || c.Length % (ulong)sectorSize != 0 || start % (ulong)sectorSize != 0)
                        report.Add(FindingCode.ChunkInvalid, 3, leafNr, i, $"{loc}, unaligned or zero start/length {start}/{c.Length}");
                    if (c.StripeLen != 65536) report.Add(FindingCode.ChunkInvalid, 3, leafNr, i, $"{loc}, stripe_len {c.StripeLen} != 65536");
                    if (c.SectorSize != (uint)sectorSize) report.Add(FindingCode.ChunkInvalid, 3, leafNr, i, $"{loc}, sector_size {c.SectorSize} != {sectorSize}");
                    var type = c.Type & BlockGroupFlags.TypeMask;
                    if (((ulong)c.Type & ~(ulong)(BlockGroupFlags.TypeMask | BlockGroupFlags.ProfileMask)) != 0 || type == 0
                        || ((type & BlockGroupFlags.System) != 0 && type != BlockGroupFlags.System))
                        report.Add(FindingCode.ChunkInvalid, 3, leafNr, i, $"{loc}, invalid type 0x{(ulong)c.Type:x}");
                    chunks.Add(new ChunkRec(start, c.Length, c.Type, ns, c.Stripe(0).Offset, ns > 1 ? c.Stripe(1).Offset : 0, leafNr, i));
                }
                else if (t == ItemType.DevItem)
                {
                    if (data.Length != DevItem.Size) { report.Add(FindingCode.ItemInvalid, 3, leafNr, i, $"corrupt leaf: root=3 block={leafNr} slot={i}, invalid dev item size {data.Length}"); continue; }
                    var d = new DevItem(data);
                    devItemUsed = d.BytesUsed; devItemTotal = d.TotalBytes; devItemLeaf = leafNr; devItemSlot = i;
                    if (d.DevId != leaf.KeyOffset(i)) report.Add(FindingCode.ItemInvalid, 3, leafNr, i, $"corrupt leaf: root=3 block={leafNr} slot={i}, devid {d.DevId} != key offset {leaf.KeyOffset(i)}");
                }
            }
        }
        if (devItemSlot < 0) report.Add(FindingCode.ItemInvalid, 3, walk.TreeRoots.GetValueOrDefault(ObjectIds.ChunkTree), -1, "chunk tree has no DEV_ITEM");

        // ---- dev tree: dev extents ----
        var stripeAt = new Dictionary<ulong, (int Chunk, int Stripe)>(chunks.Count * 2);
        var stripeMatched = new bool[chunks.Count, 2];
        for (int k = 0; k < chunks.Count; k++)
        {
            stripeAt.TryAdd(chunks[k].Phys0, (k, 0));
            if (chunks[k].NumStripes > 1) stripeAt.TryAdd(chunks[k].Phys1, (k, 1));
        }
        ulong devExtentSum = 0, prevDevEnd = 0;
        ulong devLimit = devItemSlot >= 0 ? devItemTotal : sb.DevItem.TotalBytes;
        ulong devLen = (ulong)img.Device.Length;
        foreach (ulong leafNr in LeafSource.LeavesOf(walk, ObjectIds.DevTree))
        {
            var buf = src.Read(leafNr);
            if (buf == null) continue;
            var leaf = new Leaf(buf);
            int n = leaf.NrItems;
            for (int i = 0; i < n; i++)
            {
                if (leaf.KeyType(i) != ItemType.DevExtent) continue;
                var data = leaf.Data(i);
                ulong phys = leaf.KeyOffset(i);
                string loc = $"dev extent [{phys}]: root=4 block={leafNr} slot={i}";
                if (data.Length != DevExtent.Size) { report.Add(FindingCode.ItemInvalid, 4, leafNr, i, $"corrupt leaf: {loc}, invalid dev extent size {data.Length}"); continue; }
                var de = new DevExtent(data);
                ulong len = de.Length;
                if (leaf.KeyObjectId(i) != img.Super.DevItem.DevId)
                    report.Add(FindingCode.DevExtentMismatch, 4, leafNr, i, $"{loc}, on device {leaf.KeyObjectId(i)}, which does not exist (the device is {img.Super.DevItem.DevId})");
                devExtentSum += len;
                if (phys < prevDevEnd) report.Add(FindingCode.DevExtentOverlap, 4, leafNr, i, $"{loc}, overlaps the previous dev extent ending at {prevDevEnd}");
                prevDevEnd = Math.Max(prevDevEnd, phys + len);
                if (phys + len > devLimit || phys + len > devLen || phys + len < phys)
                    report.Add(FindingCode.DevExtentOutsideDevice, 4, leafNr, i, $"{loc}, [{phys}, {phys + len}) is beyond the device end {Math.Min(devLimit, devLen)}");
                if (!stripeAt.TryGetValue(phys, out var st))
                {
                    report.Add(FindingCode.DevExtentWithoutChunk, 4, leafNr, i, $"{loc}, length {len}: no chunk stripe starts at physical {phys}");
                    continue;
                }
                var ch = chunks[st.Chunk];
                stripeMatched[st.Chunk, st.Stripe] = true;
                if (de.ChunkOffset != ch.Start || len != ch.Length || de.ChunkTree != ObjectIds.ChunkTree || de.ChunkObjectId != ObjectIds.FirstChunkTree)
                    report.Add(FindingCode.DevExtentMismatch, 4, leafNr, i,
                        $"{loc}: dev extent (chunk_offset {de.ChunkOffset}, length {len}) does not match chunk [{ch.Start}, {ch.Length}] stripe {st.Stripe}");
            }
        }
        for (int k = 0; k < chunks.Count; k++)
            for (int s = 0; s < chunks[k].NumStripes; s++)
                if (!stripeMatched[k, s])
                    report.Add(FindingCode.ChunkWithoutDevExtent, 3, chunks[k].Leaf, chunks[k].Slot,
                        $"chunk [{chunks[k].Start} {chunks[k].Length}] stripe {s} at physical {(s == 0 ? chunks[k].Phys0 : chunks[k].Phys1)} has no dev extent");
        if (devItemSlot >= 0 && devItemUsed != devExtentSum)
            report.Add(FindingCode.DevItemBytesUsedMismatch, 3, devItemLeaf, devItemSlot, $"Dev extent's total-byte({devExtentSum}) is not equal to byte-used({devItemUsed}) in dev item of the chunk tree");
        if (sb.DevItem.BytesUsed != devExtentSum)
            report.Add(FindingCode.DevItemBytesUsedMismatch, 0, (ulong)Superblock.PrimaryOffset, -1, $"Dev extent's total-byte({devExtentSum}) is not equal to byte-used({sb.DevItem.BytesUsed}) in the superblock's dev item");

        // ---- extent tree (and block group tree): one pass ----
        var bgs = new List<BgRec>();
        var extents = new List<ExtentRec>(Math.Max(16, walk.Blocks.Count + walk.DataRefs.Count));
        var disk = new List<RefRec>(extents.Capacity + 16);
        int cur = -1; // index of the extent item keyed refs attach to
        foreach (ulong leafNr in LeafSource.LeavesOf(walk, ObjectIds.ExtentTree))
        {
            var buf = src.Read(leafNr);
            if (buf == null) continue;
            var leaf = new Leaf(buf);
            int n = leaf.NrItems;
            for (int i = 0; i < n; i++)
            {
                var t = leaf.KeyType(i);
                ulong oid = leaf.KeyObjectId(i), off = leaf.KeyOffset(i);
                var data = leaf.Data(i);
                switch (t)
                {
                    case ItemType.BlockGroupItem:
                        if (!bgTree) ReadBg(report, bgs, leaf, i, leafNr, ObjectIds.ExtentTree);
                        break;
                    case ItemType.ExtentItem:
                    case ItemType.MetadataItem:
                        cur = extents.Count;
                        extents.Add(ParseExtent(report, disk, data, t, oid, off, leafNr, i, nodeSize, sectorSize, skinny, sb.Generation));
                        break;
                    case ItemType.TreeBlockRef:
                    case ItemType.SharedBlockRef:
                    case ItemType.ExtentDataRef:
                    case ItemType.SharedDataRef:
                        if (cur < 0 || extents[cur].Bytenr != oid)
                        {
                            report.Add(FindingCode.ExtentBackrefUnmatched, 2, leafNr, i, $"corrupt leaf: root=2 block={leafNr} slot={i}, keyed backref ({oid} {t} {off}) without an extent item");
                            break;
                        }
                        var e = extents[cur];
                        ParseKeyed(report, disk, ref e, data, t, oid, off, leafNr, i);
                        extents[cur] = e;
                        break;
                }
            }
        }
        if (bgTree)
            foreach (ulong leafNr in LeafSource.LeavesOf(walk, ObjectIds.BlockGroupTree))
            {
                var buf = src.Read(leafNr);
                if (buf == null) continue;
                var leaf = new Leaf(buf);
                for (int i = 0; i < leaf.NrItems; i++)
                    if (leaf.KeyType(i) == ItemType.BlockGroupItem) ReadBg(report, bgs, leaf, i, leafNr, ObjectIds.BlockGroupTree);
            }

        // ---- block groups ↔ chunks ----
        var chunkByStart = new Dictionary<ulong, int>(chunks.Count);
        for (int k = 0; k < chunks.Count; k++) chunkByStart.TryAdd(chunks[k].Start, k);
        var chunkHasBg = new bool[chunks.Count];
        foreach (var bg in bgs)
        {
            if (!chunkByStart.TryGetValue(bg.Start, out int k))
            {
                report.Add(FindingCode.BlockGroupWithoutChunk, bg.Tree, bg.Leaf, bg.Slot, $"block group [{bg.Start} {bg.Length}] has no chunk");
                continue;
            }
            chunkHasBg[k] = true;
            var ch = chunks[k];
            if (ch.Length != bg.Length || ch.Type != bg.Flags)
                report.Add(FindingCode.BlockGroupChunkMismatch, bg.Tree, bg.Leaf, bg.Slot,
                    $"block group [{bg.Start} {bg.Length}] type 0x{(ulong)bg.Flags:x} does not match chunk [{ch.Start} {ch.Length}] type 0x{(ulong)ch.Type:x}");
        }
        for (int k = 0; k < chunks.Count; k++)
            if (!chunkHasBg[k])
                report.Add(FindingCode.ChunkWithoutBlockGroup, 3, chunks[k].Leaf, chunks[k].Slot, $"chunk [{chunks[k].Start} {chunks[k].Length}] has no block group");

        // ---- expected backrefs from the walk ----
        var index = new Dictionary<ulong, int>(extents.Count);
        for (int k = 0; k < extents.Count; k++)
            if (!index.TryAdd(extents[k].Bytenr, k))
                report.Add(FindingCode.ExtentOverlap, 2, extents[k].Leaf, extents[k].Slot, $"extent {extents[k].Bytenr} has two extent items");
        var expected = new List<RefRec>(walk.Edges.Count + walk.DataRefs.Count);
        foreach (var edge in walk.Edges)
        {
            var r = new RefRec { Bytenr = edge.Child, Count = 1 };
            if (edge.Parent == 0)
            {
                if (edge.RootId == ObjectIds.TreeReloc) { r.Type = (byte)ItemType.SharedBlockRef; r.A = edge.Child; }
                else { r.Type = (byte)ItemType.TreeBlockRef; r.A = edge.RootId; }
            }
            else if (index.TryGetValue(edge.Parent, out int pi) && (extents[pi].Flags & ExtentFlags.FullBackref) != 0)
            { r.Type = (byte)ItemType.SharedBlockRef; r.A = edge.Parent; }
            else { r.Type = (byte)ItemType.TreeBlockRef; r.A = edge.ParentOwner; }
            expected.Add(r);
        }
        foreach (var d in walk.DataRefs)
        {
            var r = new RefRec { Bytenr = d.DiskBytenr, Count = 1, Leaf = d.Leaf, Slot = d.Slot };
            if (index.TryGetValue(d.Leaf, out int li) && (extents[li].Flags & ExtentFlags.FullBackref) != 0)
            { r.Type = (byte)ItemType.SharedDataRef; r.A = d.Leaf; }
            else { r.Type = (byte)ItemType.ExtentDataRef; r.A = d.Root; r.B = d.Inode; r.C = d.Offset; }
            expected.Add(r);
        }
        var exp = expected.ToArray();
        Array.Sort(exp, CompareRef);
        var dsk = disk.ToArray();
        Array.Sort(dsk, CompareRef);
        bool complete = walk.Complete;
        int suppressed = 0;

        // Merge-join: groups of equal refs on each side.
        int a = 0, b = 0;
        while (a < exp.Length || b < dsk.Length)
        {
            int c = a >= exp.Length ? 1 : b >= dsk.Length ? -1 : CompareRef(exp[a], dsk[b]);
            if (c < 0)
            {
                var r = exp[a];
                ulong cnt = 0;
                while (a < exp.Length && SameRef(exp[a], r)) cnt += exp[a++].Count;
                if (index.TryGetValue(r.Bytenr, out int ei))
                {
                    var e = extents[ei];
                    e.ExpectedTotal += cnt;
                    extents[ei] = e;
                    if (!e.Malformed)
                        report.Add(FindingCode.ExtentBackrefMissing, 2, e.Leaf, e.Slot, $"backpointer mismatch on [{e.Bytenr} {e.Length}]: {Describe(r)} not found in the extent tree (referenced {cnt} time(s))");
                }
                // no extent item at all: reported below, once per extent
            }
            else if (c > 0)
            {
                var r = dsk[b];
                ulong cnt = 0;
                bool dup = false;
                int first = b;
                while (b < dsk.Length && SameRef(dsk[b], r)) { cnt += dsk[b++].Count; dup |= b - first > 1; }
                if (dup) report.Add(FindingCode.ExtentItemMalformed, 2, r.Leaf, r.Slot, $"extent [{r.Bytenr}]: duplicate backref {Describe(r)}");
                if (complete) report.Add(FindingCode.ExtentBackrefUnmatched, 2, r.Leaf, r.Slot, $"backpointer mismatch on [{r.Bytenr}]: {Describe(r)} (count {cnt}) has no matching reference in any tree");
                else suppressed++;
            }
            else
            {
                var r = dsk[b];
                ulong ce = 0, cd = 0;
                int first = b;
                while (a < exp.Length && SameRef(exp[a], r)) ce += exp[a++].Count;
                while (b < dsk.Length && SameRef(dsk[b], r)) cd += dsk[b++].Count;
                if (b - first > 1) report.Add(FindingCode.ExtentItemMalformed, 2, r.Leaf, r.Slot, $"extent [{r.Bytenr}]: duplicate backref {Describe(r)}");
                if (index.TryGetValue(r.Bytenr, out int ei)) { var e = extents[ei]; e.ExpectedTotal += ce; extents[ei] = e; }
                if (cd < ce)
                    report.Add(FindingCode.ExtentBackrefMissing, 2, r.Leaf, r.Slot, $"backpointer mismatch on [{r.Bytenr}]: {Describe(r)} count {cd} on disk, found {ce} references");
                else if (cd > ce && complete)
                    report.Add(FindingCode.ExtentBackrefUnmatched, 2, r.Leaf, r.Slot, $"backpointer mismatch on [{r.Bytenr}]: {Describe(r)} count {cd} on disk, found {ce} references");
            }
        }

        // ---- referenced extents without an item ----
        // When the extent tree itself could not be read, every extent would be "missing": the walker reported the cause.
        bool extentTreeRead = walk.TreeRoots.TryGetValue(ObjectIds.ExtentTree, out ulong extRoot)
                              && walk.Blocks.TryGetValue(extRoot, out var extRootBlock) && extRootBlock.Readable;
        if (!extentTreeRead) report.Notes.Add("extent tree unreadable: extent items not compared with the references found");
        foreach (var blk in walk.Blocks.Values)
        {
            if (!extentTreeRead) break;
            if (!index.TryGetValue(blk.Bytenr, out int ei))
            {
                report.Add(FindingCode.ExtentItemMissing, blk.Tree, blk.Bytenr, -1, $"tree block [{blk.Bytenr} {nodeSize}] (owner {blk.Owner}, tree {blk.Tree}) has no extent item");
                continue;
            }
            var e = extents[ei];
            e.Tree = true;
            extents[ei] = e;
            if (e.Malformed) continue;
            if ((e.Flags & ExtentFlags.TreeBlock) == 0)
                report.Add(FindingCode.ExtentItemMalformed, 2, e.Leaf, e.Slot, $"extent [{e.Bytenr} {e.Length}] is a tree block but its extent item has flags 0x{(ulong)e.Flags:x}");
            else if (blk.Readable && e.Level >= 0 && e.Level != blk.Level)
                report.Add(FindingCode.ExtentItemMalformed, 2, e.Leaf, e.Slot, $"extent [{e.Bytenr} {e.Length}]: extent item level {e.Level}, tree block level {blk.Level}");
        }
        // ---- sharing after a snapshot drop: owners and referencing roots that no longer exist ----
        // A block without FULL_BACKREF is referenced through its owner's root: a dropped owner leaves it unreachable by
        // the backref walk (btrfs check: "owner ref check failed"); keyed refs naming a dropped root are stale.
        if (extentTreeRead)
        {
            foreach (var blk in walk.Blocks.Values)
            {
                if (!blk.Readable || !ObjectIds.IsFsTree(blk.Owner) || img.TryGetRoot(blk.Owner, out _)) continue;
                if (!index.TryGetValue(blk.Bytenr, out int ei) || (extents[ei].Flags & ExtentFlags.FullBackref) != 0) continue;
                report.Add(FindingCode.TreeBlockOwnerGone, blk.Tree, blk.Bytenr, -1,
                    $"owner ref check failed [{blk.Bytenr} {nodeSize}]: its owner, tree {blk.Owner}, no longer exists and the block has no FULL_BACKREF (tree {blk.Tree} still uses it)");
            }
            foreach (var r in dsk)
            {
                if (r.Type is not ((byte)ItemType.TreeBlockRef or (byte)ItemType.ExtentDataRef)) continue;
                if (!ObjectIds.IsFsTree(r.A) || img.TryGetRoot(r.A, out _)) continue;
                report.Add(FindingCode.BackrefRootGone, 2, r.Leaf, r.Slot, $"extent [{r.Bytenr}]: backref {Describe(r)} names root {r.A}, which no longer exists");
            }
        }

        ulong lastMissing = 0;
        foreach (var d in walk.DataRefs)
        {
            if (!extentTreeRead) break;
            if (!index.TryGetValue(d.DiskBytenr, out int ei))
            {
                if (d.DiskBytenr != lastMissing)
                    report.Add(FindingCode.ExtentItemMissing, d.Tree, d.Leaf, d.Slot, $"data extent [{d.DiskBytenr} {d.DiskNumBytes}] referenced by inode {d.Inode} (root {d.Root}) has no extent item");
                lastMissing = d.DiskBytenr;
                continue;
            }
            var e = extents[ei];
            if (e.Malformed) continue;
            if ((e.Flags & ExtentFlags.Data) == 0)
                report.Add(FindingCode.ExtentItemMalformed, 2, e.Leaf, e.Slot, $"extent [{e.Bytenr} {e.Length}] is referenced as data by inode {d.Inode} (root {d.Root}) but its item has flags 0x{(ulong)e.Flags:x}");
            else if (e.Length != d.DiskNumBytes)
                report.Add(FindingCode.ExtentItemMissing, d.Tree, d.Leaf, d.Slot, $"file extent of inode {d.Inode} (root {d.Root}) points to [{d.DiskBytenr} {d.DiskNumBytes}] but the extent item is [{e.Bytenr} {e.Length}]");
        }

        // ---- per extent: refs, overlap, block group, used ----
        var used = new ulong[bgs.Count];
        ulong prevEnd = 0, prevStart = 0;
        int g = 0;
        var ranges = new List<(ulong, ulong, bool)>(extents.Count);
        for (int k = 0; k < extents.Count; k++)
        {
            var e = extents[k];
            ulong len = e.Length;
            ulong end = e.Bytenr + len;
            ranges.Add((e.Bytenr, len, (e.Flags & ExtentFlags.Data) != 0));
            if (k > 0 && e.Bytenr < prevEnd)
                report.Add(FindingCode.ExtentOverlap, 2, e.Leaf, e.Slot, $"extent [{e.Bytenr} {len}] overlaps extent [{prevStart} {prevEnd - prevStart}]");
            if (end > prevEnd) { prevEnd = end; prevStart = e.Bytenr; }

            if (!e.Malformed)
            {
                if (e.ExpectedTotal == 0)
                {
                    if (complete) report.Add(FindingCode.ExtentUnreferenced, 2, e.Leaf, e.Slot, $"extent [{e.Bytenr} {len}] (refs {e.Refs}) is not referenced by any tree");
                    else suppressed++;
                }
                else if (e.Refs != e.ExpectedTotal && (complete || e.Refs < e.ExpectedTotal))
                    report.Add(FindingCode.ExtentRefCountMismatch, 2, e.Leaf, e.Slot, $"ref mismatch on [{e.Bytenr} {len}] extent item {e.Refs}, found {e.ExpectedTotal}");
                else if (e.Refs != e.DiskTotal)
                    report.Add(FindingCode.ExtentRefCountMismatch, 2, e.Leaf, e.Slot, $"ref mismatch on [{e.Bytenr} {len}] extent item {e.Refs}, backrefs on disk total {e.DiskTotal}");
            }

            while (g < bgs.Count && bgs[g].Start + bgs[g].Length <= e.Bytenr) g++;
            if (g >= bgs.Count || e.Bytenr < bgs[g].Start || end > bgs[g].Start + bgs[g].Length)
            {
                report.Add(FindingCode.ExtentOutsideBlockGroup, 2, e.Leaf, e.Slot, $"extent [{e.Bytenr} {len}] is not inside a block group");
                continue;
            }
            var bg = bgs[g];
            used[g] += len;
            var type = bg.Flags & BlockGroupFlags.TypeMask;
            bool isData = (e.Flags & ExtentFlags.Data) != 0;
            bool chunkBlock = e.Tree && walk.Blocks.TryGetValue(e.Bytenr, out var tb) && tb.Tree == ObjectIds.ChunkTree;
            string? wrong = null;
            if (isData && (type & BlockGroupFlags.Data) == 0) wrong = "data extent outside a DATA block group";
            else if (!isData && (e.Flags & ExtentFlags.TreeBlock) != 0)
            {
                if (chunkBlock && (type & BlockGroupFlags.System) == 0) wrong = "chunk tree block outside a SYSTEM block group";
                else if (!chunkBlock && e.Tree && (type & BlockGroupFlags.Metadata) == 0) wrong = "tree block outside a METADATA block group";
                else if (!e.Tree && (type & (BlockGroupFlags.Metadata | BlockGroupFlags.System)) == 0) wrong = "tree block extent in a DATA block group";
            }
            if (wrong != null)
                report.Add(FindingCode.ExtentWrongBlockGroupType, 2, e.Leaf, e.Slot, $"extent [{e.Bytenr} {len}]: {wrong} (block group {bg.Start} type 0x{(ulong)bg.Flags:x})");
        }
        ulong usedSum = 0;
        for (int k = 0; k < bgs.Count; k++)
        {
            usedSum += bgs[k].Used;
            if (bgs[k].Used != used[k])
                report.Add(FindingCode.BlockGroupUsedMismatch, bgs[k].Tree, bgs[k].Leaf, bgs[k].Slot,
                    $"block group [{bgs[k].Start} {bgs[k].Length}] used {bgs[k].Used} but extent items used {used[k]}");
        }
        if (sb.BytesUsed != usedSum)
            report.Add(FindingCode.SuperBytesUsedMismatch, 0, (ulong)Superblock.PrimaryOffset, -1, $"super bytes used {sb.BytesUsed} mismatches actual used {usedSum}");
        report.BytesUsed = usedSum;
        walk.ExtentRanges = ranges;
        var groups = new List<(ulong, ulong, BlockGroupFlags)>(bgs.Count);
        foreach (var bg in bgs) groups.Add((bg.Start, bg.Length, bg.Flags));
        walk.BlockGroups = groups;
        if (suppressed > 0)
            report.Notes.Add($"{suppressed} unreferenced extent(s) or backref(s) not reported: some trees could not be walked completely");
    }

    private static string Describe(in RefRec r) => (ItemType)r.Type switch
    {
        ItemType.TreeBlockRef => $"TREE_BLOCK_REF root {r.A}",
        ItemType.SharedBlockRef => $"SHARED_BLOCK_REF parent {r.A}",
        ItemType.ExtentDataRef => $"EXTENT_DATA_REF root {r.A} objectid {r.B} offset {r.C}",
        ItemType.SharedDataRef => $"SHARED_DATA_REF parent {r.A}",
        _ => $"ref type {r.Type}",
    };

    private static void ReadBg(CheckReport report, List<BgRec> bgs, Leaf leaf, int i, ulong leafNr, ulong tree)
    {
        var data = leaf.Data(i);
        ulong start = leaf.KeyObjectId(i), len = leaf.KeyOffset(i);
        string loc = $"corrupt leaf: root={tree} block={leafNr} slot={i}";
        if (data.Length != BlockGroupItem.Size) { report.Add(FindingCode.ItemInvalid, tree, leafNr, i, $"{loc}, invalid block group item size {data.Length}"); return; }
        var bg = new BlockGroupItem(data);
        var type = bg.Flags & BlockGroupFlags.TypeMask;
        var profile = bg.Flags & BlockGroupFlags.ProfileMask;
        if (len == 0 || bg.ChunkObjectId != ObjectIds.FirstChunkTree || bg.Used > len
            || type is not (BlockGroupFlags.Data or BlockGroupFlags.Metadata or BlockGroupFlags.System)
            || (profile & (profile - 1)) != 0)
            report.Add(FindingCode.ItemInvalid, tree, leafNr, i, $"{loc}, invalid block group [{start} {len}] used {bg.Used} chunk_objectid {bg.ChunkObjectId} flags 0x{(ulong)bg.Flags:x}");
        if (bgs.Count > 0 && bgs[^1].Start + bgs[^1].Length > start)
            report.Add(FindingCode.ItemInvalid, tree, leafNr, i, $"{loc}, block group [{start} {len}] overlaps the previous one");
        bgs.Add(new BgRec(start, len, bg.Used, bg.Flags, leafNr, i, tree));
    }

    private static ExtentRec ParseExtent(CheckReport report, List<RefRec> disk, Span<byte> data, ItemType t, ulong oid, ulong off,
        ulong leafNr, int slot, int nodeSize, int sectorSize, bool skinny, ulong superGen)
    {
        var e = new ExtentRec { Bytenr = oid, Leaf = leafNr, Slot = slot, Level = -1 };
        string Loc() => $"corrupt leaf: root=2 block={leafNr} slot={slot}, extent [{oid}]"; // built only for a finding
        void Bad(string msg) { report.Add(FindingCode.ExtentItemMalformed, 2, leafNr, slot, $"{Loc()}, {msg}"); e.Malformed = true; }

        e.Length = t == ItemType.MetadataItem ? (ulong)nodeSize : off;
        if (oid % (ulong)sectorSize != 0) Bad($"bytenr not aligned to {sectorSize}");
        if (t == ItemType.MetadataItem && !skinny) Bad("METADATA_ITEM without the SKINNY_METADATA feature");
        if (data.Length < ExtentItem.Size) { Bad($"item size {data.Length} < {ExtentItem.Size}"); return e; }
        var ei = new ExtentItem(data);
        e.Refs = ei.Refs;
        e.Flags = ei.Flags;
        ulong flags = (ulong)ei.Flags;
        bool isData = (flags & (ulong)ExtentFlags.Data) != 0, isTree = (flags & (ulong)ExtentFlags.TreeBlock) != 0;
        if (isData == isTree) { Bad($"invalid flags 0x{flags:x}: exactly one of DATA and TREE_BLOCK"); return e; }
        if ((flags & ~(ulong)(ExtentFlags.Data | ExtentFlags.TreeBlock | ExtentFlags.FullBackref)) != 0) Bad($"unknown flags 0x{flags:x}");
        if (isData && (flags & (ulong)ExtentFlags.FullBackref) != 0) Bad("FULL_BACKREF on a data extent");
        if (ei.Generation > superGen + 1) Bad($"generation {ei.Generation} newer than super generation {superGen}");
        if (ei.Refs == 0) Bad("refs is 0");
        if (isData)
        {
            if (t != ItemType.ExtentItem) Bad("data extent keyed METADATA_ITEM");
            if (off == 0 || off % (ulong)sectorSize != 0) Bad($"invalid data extent length {off}");
        }
        else if (t == ItemType.MetadataItem)
        {
            if (off >= NodeHeader.MaxLevel) Bad($"invalid tree level {off}");
            e.Level = (int)Math.Min(off, 255);
        }
        else
        {
            if (off != (ulong)nodeSize) Bad($"tree block extent length {off} != nodesize {nodeSize}");
            if (data.Length < ExtentItem.Size + ExtentItem.TreeBlockInfoSize) { Bad("tree block info missing"); return e; }
            e.Level = data[ExtentItem.Size + Key.Size];
        }
        if (e.Malformed) return e;

        var rd = new InlineRefReader(data, ExtentItem.InlineRefStart(t, ei.Flags));
        int lastType = 0;
        ulong lastSeq = ulong.MaxValue;
        ulong inlineTotal = 0;
        while (rd.Next(out var r))
        {
            int rt = (int)r.Type;
            bool ok = isData ? r.Type is ItemType.ExtentDataRef or ItemType.SharedDataRef : r.Type is ItemType.TreeBlockRef or ItemType.SharedBlockRef;
            if (!ok) { Bad($"inline ref type {r.Type} at offset {r.Position} does not belong to a {(isData ? "data" : "tree block")} extent"); return e; }
            if (r.Count == 0) { Bad($"inline ref {r.Type} at offset {r.Position} has count 0"); return e; }
            ulong seq = r.SortValue;
            if (rt < lastType || (rt == lastType && seq > lastSeq))
                report.Add(FindingCode.ExtentInlineRefOrder, 2, leafNr, slot,
                    $"{Loc()}, inline ref out-of-order: has type {rt} seq 0x{seq:x}, prev type {lastType} seq 0x{lastSeq:x}");
            if (rt > lastType) lastSeq = ulong.MaxValue;
            lastType = rt;
            lastSeq = seq;
            inlineTotal += r.Count;
            disk.Add(new RefRec { Bytenr = oid, Type = (byte)r.Type, A = r.Offset, B = r.ObjectId, C = r.FileOffset, Count = r.Count, Leaf = leafNr, Slot = slot });
        }
        if (rd.Malformed) { Bad(rd.Error ?? "malformed inline refs"); return e; }
        if (inlineTotal > ei.Refs) report.Add(FindingCode.ExtentRefCountMismatch, 2, leafNr, slot, $"{Loc()}, inline ref counts {inlineTotal} exceed refs {ei.Refs}");
        e.DiskTotal = inlineTotal;
        return e;
    }

    private static void ParseKeyed(CheckReport report, List<RefRec> disk, ref ExtentRec e, Span<byte> data, ItemType t, ulong oid, ulong off, ulong leafNr, int slot)
    {
        string Loc() => $"corrupt leaf: root=2 block={leafNr} slot={slot}, keyed {t} of extent [{oid}]"; // built only for a finding
        bool isData = (e.Flags & ExtentFlags.Data) != 0;
        bool typeOk = isData ? t is ItemType.ExtentDataRef or ItemType.SharedDataRef : t is ItemType.TreeBlockRef or ItemType.SharedBlockRef;
        if (!typeOk && !e.Malformed) { report.Add(FindingCode.ExtentItemMalformed, 2, leafNr, slot, $"{Loc()}: wrong kind for a {(isData ? "data" : "tree block")} extent"); return; }
        switch (t)
        {
            case ItemType.TreeBlockRef:
            case ItemType.SharedBlockRef:
                if (data.Length != 0) { report.Add(FindingCode.ExtentItemMalformed, 2, leafNr, slot, $"{Loc()}: item size {data.Length} != 0"); return; }
                disk.Add(new RefRec { Bytenr = oid, Type = (byte)t, A = off, Count = 1, Leaf = leafNr, Slot = slot });
                e.DiskTotal += 1;
                break;
            case ItemType.SharedDataRef:
                if (data.Length != SharedDataRef.Size) { report.Add(FindingCode.ExtentItemMalformed, 2, leafNr, slot, $"{Loc()}: item size {data.Length} != 4"); return; }
                uint c = new SharedDataRef(data).Count;
                if (c == 0) { report.Add(FindingCode.ExtentItemMalformed, 2, leafNr, slot, $"{Loc()}: count 0"); return; }
                disk.Add(new RefRec { Bytenr = oid, Type = (byte)t, A = off, Count = c, Leaf = leafNr, Slot = slot });
                e.DiskTotal += c;
                break;
            case ItemType.ExtentDataRef:
                if (data.Length == 0 || data.Length % ExtentDataRef.Size != 0) { report.Add(FindingCode.ExtentItemMalformed, 2, leafNr, slot, $"{Loc()}: item size {data.Length} not a multiple of 28"); return; }
                for (int p = 0; p < data.Length; p += ExtentDataRef.Size)
                {
                    var d = new ExtentDataRef(data[p..]);
                    if (d.Count == 0) { report.Add(FindingCode.ExtentItemMalformed, 2, leafNr, slot, $"{Loc()}: count 0"); continue; }
                    ulong h = Checksums.ExtentDataRefHash(d.Root, d.ObjectId, d.Offset);
                    if (data.Length == ExtentDataRef.Size && h != off)
                        report.Add(FindingCode.ExtentItemMalformed, 2, leafNr, slot, $"{Loc()}: key offset 0x{off:x} != hash 0x{h:x} of (root {d.Root}, objectid {d.ObjectId}, offset {d.Offset})");
                    disk.Add(new RefRec { Bytenr = oid, Type = (byte)t, A = d.Root, B = d.ObjectId, C = d.Offset, Count = d.Count, Leaf = leafNr, Slot = slot });
                    e.DiskTotal += d.Count;
                }
                break;
        }
    }
}
