using BtrfsLite.Format;
using BtrfsLite.Fs;
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
        if (c.First(extent))
        {
            do
            {
                if (c.Type == ItemType.BlockGroupItem)
                {
                    var bg = new BlockGroupItem(c.Data);
                    Allocator.AddGroup(c.ObjectId, c.Offset, bg.Flags, bg.Used, image.Chunks.Find(c.ObjectId), image.Device.Length);
                }
            } while (c.Next());
            c.First(extent);
            do
            {
                if (c.Type == ItemType.ExtentItem) Allocator.MarkAllocated(c.ObjectId, c.Offset, countUsed: false);
                else if (c.Type == ItemType.MetadataItem) Allocator.MarkAllocated(c.ObjectId, (ulong)image.NodeSize, countUsed: false);
            } while (c.Next());
        }
        foreach (var g in Allocator.Groups) g.AllocationChanged = false;
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
