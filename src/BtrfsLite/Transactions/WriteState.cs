using BtrfsLite.Format;
using BtrfsLite.Images;
using BtrfsLite.Trees;

namespace BtrfsLite.Transactions;

/// <summary>What a writable image keeps between transactions: free space, and the bookkeeping of one commit.</summary>
internal sealed class WriteState
{
    public WriteState(BtrfsImage image)
    {
        Allocator = new ExtentAllocator(image.NodeSize, image.SectorSize);
        var c = image.NewCursor();
        // The chunk tree uuid every new block header carries: take it from the chunk tree root.
        ChunkTreeUuid = new NodeHeader(image.Nodes.Read(image.ChunkTree.Bytenr, new IO.NodeExpectation(image.ChunkTree.Generation, image.ChunkTree.Level))).ChunkTreeUuid;
        var extent = image.GetRoot(ObjectIds.ExtentTree);
        var groups = new HashSet<ulong>();
        ulong used = 0;
        // As the kernel's btrfs_read_block_groups: search for the next BLOCK_GROUP_ITEM from the end of the last one
        // (a group's item sorts right after the extent at its start), not a walk over every extent.
        for (ulong pos = 0; c.Seek(extent, new Key(pos, ItemType.BlockGroupItem, 0)); )
        {
            while (c.Type != ItemType.BlockGroupItem && c.Next()) { }
            if (!c.IsValid || c.Type != ItemType.BlockGroupItem) break;
            pos = c.ObjectId + Math.Max(c.Offset, 1);
            var bg = new BlockGroupItem(c.Data);
            var chunk = image.Chunks.Find(c.ObjectId);
            // read_one_block_group: a block group exactly matches a chunk of the same type and profile.
            if (chunk == null || chunk.Logical != c.ObjectId || chunk.Length != c.Offset)
                Throw.Corrupt($"block group [{c.ObjectId}, +{c.Offset}) has no chunk of that range; refusing to write", c.LeafBytenr, ObjectIds.ExtentTree, c.Slot);
            const BlockGroupFlags kind = BlockGroupFlags.TypeMask | BlockGroupFlags.ProfileMask;
            if ((bg.Flags & kind) != (chunk.Type & kind))
                Throw.Corrupt($"block group {c.ObjectId} type flags 0x{(ulong)bg.Flags:x} mismatch with chunk type flags 0x{(ulong)chunk.Type:x}; refusing to write", c.LeafBytenr, ObjectIds.ExtentTree, c.Slot);
            groups.Add(c.ObjectId);
            used += bg.Used;
            Allocator.AddGroup(c.ObjectId, c.Offset, bg.Flags, bg.Used, chunk, image.Device.Length);
        }
        // A group's extents are read when it is first used, from the committed extent tree: a group changes only
        // through the allocator, which loads it first, so the last commit's items are its state.
        Allocator.Loader = g =>
        {
            var lc = image.NewCursor();
            if (!lc.Seek(image.GetRoot(ObjectIds.ExtentTree), new Key(g.Start, 0, 0))) return;
            do
            {
                if (lc.ObjectId >= g.End) break;
                if (lc.Type == ItemType.ExtentItem) Allocator.MarkCommitted(g, lc.ObjectId, lc.Offset);
                else if (lc.Type == ItemType.MetadataItem) Allocator.MarkCommitted(g, lc.ObjectId, (ulong)image.NodeSize);
            } while (lc.Next());
        };
        foreach (var g in Allocator.Groups) g.AllocationChanged = false;
        CheckInvariants(image, groups, used);
    }

    /// <summary>
    /// What the writer relies on and the kernel verifies at mount (check_chunk_block_group_mappings,
    /// btrfs_verify_dev_extents), plus the superblock's bytes_used that each commit carries forward: a damaged file
    /// system is refused for writing (corrupt, naming what), before anything changes.
    /// </summary>
    private static void CheckInvariants(BtrfsImage image, HashSet<ulong> groups, ulong used)
    {
        // The trees every mount needs (open_ctree fails without them).
        foreach (ulong tree in new[] { ObjectIds.ExtentTree, ObjectIds.DevTree, ObjectIds.FsTree, ObjectIds.CsumTree })
            if (!image.TryGetRoot(tree, out _))
                Throw.Corrupt($"the root tree has no ROOT_ITEM for tree {tree}; refusing to write", image.RootTree.Bytenr, ObjectIds.RootTree);
        if ((image.Super.CompatRoFlags & CompatRoFlags.FreeSpaceTree) != 0 && !image.TryGetRoot(ObjectIds.FreeSpaceTree, out _))
            Throw.Corrupt("the free space tree is enabled but has no ROOT_ITEM; refusing to write", image.RootTree.Bytenr, ObjectIds.RootTree);
        foreach (var chunk in image.Chunks.Chunks)
            if (!groups.Contains(chunk.Logical))
                Throw.Corrupt($"chunk [{chunk.Logical}, +{chunk.Length}) has no block group; refusing to write", chunk.Logical, ObjectIds.ChunkTree);
        if (image.Super.BytesUsed != used)
            Throw.Corrupt($"superblock bytes_used {image.Super.BytesUsed} differs from the block groups' used bytes {used}; refusing to write", (ulong)Superblock.PrimaryOffset);
        // Every stripe of every chunk has its dev extent, and every dev extent is such a stripe, inside the device.
        var stripes = new Dictionary<ulong, (ulong Chunk, ulong Length)>();
        foreach (var chunk in image.Chunks.Chunks)
            foreach (var phys in chunk.PhysicalStripes) stripes[phys] = (chunk.Logical, chunk.Length);
        ulong devId = image.Super.DevItem.DevId, devBytes = image.Super.DevItem.TotalBytes;
        var c = image.NewCursor();
        int found = 0;
        if (image.TryGetRoot(ObjectIds.DevTree, out var dev) && c.First(dev))
            do
            {
                if (c.Type != ItemType.DevExtent) continue;
                if (c.ObjectId != devId)
                    Throw.Corrupt($"dev extent at physical {c.Offset} is on device {c.ObjectId}, which does not exist (the device is {devId}); refusing to write", c.LeafBytenr, ObjectIds.DevTree, c.Slot);
                ulong chunkOffset = Le.U64(c.Data, 16), length = Le.U64(c.Data, 24);
                if (!stripes.TryGetValue(c.Offset, out var s) || s.Chunk != chunkOffset || s.Length != length)
                    Throw.Corrupt($"dev extent [{c.Offset}, +{length}) for chunk {chunkOffset} matches no stripe of that chunk; refusing to write", c.LeafBytenr, ObjectIds.DevTree, c.Slot);
                if (c.Offset + length > devBytes)
                    Throw.Corrupt($"dev extent [{c.Offset}, +{length}) ends past the device's total_bytes {devBytes}; refusing to write", c.LeafBytenr, ObjectIds.DevTree, c.Slot);
                found++;
            } while (c.Next());
        if (found != stripes.Count)
            Throw.Corrupt($"{stripes.Count} chunk stripes but {found} dev extents; refusing to write", 0, ObjectIds.DevTree);
    }

    public ExtentAllocator Allocator { get; }
    public Guid ChunkTreeUuid { get; }
    public Transaction? Current { get; private set; }
    public Dictionary<ulong, byte[]> NewChunkItems { get; } = new();
    public HashSet<ulong> FreedThisCommit { get; } = new();
    public bool SysChunkArrayDirty { get; set; }
    /// <summary>An aborted transaction left in-memory state (allocator, chunk map) that no longer matches the disk.</summary>
    public bool Stale { get; private set; }

    public void BeginTransaction(Transaction tx)
    {
        if (Current != null) throw new InvalidOperationException("a transaction is already running on this image");
        Current = tx;
    }

    public void EndTransaction(Transaction tx, bool committed)
    {
        if (Current == tx) Current = null;
        if (!committed) Stale = true;
    }
}
