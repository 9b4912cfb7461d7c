using System.Buffers;
using BtrfsLite.Format;
using BtrfsLite.Images;
using BtrfsLite.IO;
using BtrfsLite.Trees;

namespace BtrfsLite.Transactions;

/// <summary>
/// One generation's changes. Nothing reaches the device before <see cref="Commit"/>: file data waits in memory
/// too (past <see cref="DataBufferLimit"/> it goes early, and only into its new, never-committed extents), so a
/// transaction that fails or is disposed without a commit leaves the image byte for byte as it was.
/// Commit order: delayed refs, block groups, free space tree and root items until nothing changes; then the file
/// data; every dirty tree block; flush; superblock (primary, then mirrors); flush. The superblock is the commit point.
/// </summary>
public sealed partial class Transaction : ITreeBlockStore, IDisposable
{
    private readonly BtrfsImage _image;
    private readonly WriteState? _state; // null: a read-only view (see ImageTransactions.BeginReadTransaction)
    private readonly Dictionary<ulong, byte[]> _dirty = new();
    private readonly Dictionary<ulong, CowTree> _trees = new();
    private readonly HashSet<ulong> _dropped = new(); // trees dropped in this transaction (their ROOT_ITEM is gone)
    private readonly DelayedRefs _refs = new();
    private readonly List<PendingChunk> _pendingChunks = new();
    private bool _done;

    internal Transaction(BtrfsImage image, WriteState? state)
    {
        _image = image;
        _state = state;
        Generation = image.Generation + 1;
        NodeSize = image.NodeSize;
        DelayedDirIndex = new DelayedDirIndex(this);
    }

    /// <summary>Directory index items waiting for the commit (off unless a session turns it on).</summary>
    public DelayedDirIndex DelayedDirIndex { get; }

    /// <summary>The image this transaction changes.</summary>
    public BtrfsImage Image => _image;
    /// <summary>
    /// The transaction id (transid): the image's last generation plus one, stamped on every block and item it changes.
    /// </summary>
    public ulong Generation { get; }
    /// <summary>The tree block size in bytes.</summary>
    public int NodeSize { get; }
    internal ExtentAllocator Allocator => State.Allocator;
    /// <summary>A read-only view of the committed state: reads work (on a read-only device too), changes throw.</summary>
    public bool IsReadOnly => _state == null;
    private WriteState State => _state ?? throw new InvalidOperationException("this is a read-only transaction: it cannot change the image");
    internal DelayedRefs DelayedRefs => _refs;
    /// <summary>Set when a tree change failed half-way (no space for a tree block): the transaction can only be disposed.</summary>
    public string? AbortReason { get; private set; }

    // ------------------------------------------------------------------ trees

    /// <summary>The tree <paramref name="treeId"/> as this transaction sees and changes it.</summary>
    public CowTree Tree(ulong treeId)
    {
        ThrowIfDone();
        if (_trees.TryGetValue(treeId, out var t)) return t;
        if (_dropped.Contains(treeId) || !_image.TryGetRoot(treeId, out var root))
            throw Corruption.Create($"tree {(long)treeId} has no ROOT_ITEM in the root tree", _image.RootTree.Bytenr, ObjectIds.RootTree);
        t = new CowTree(this, treeId, root.Bytenr, root.Level, root.Generation);
        _trees[treeId] = t;
        return t;
    }

    /// <summary>
    /// A count that grows with every change made in this transaction (items of any tree, trees created, snapshotted
    /// or dropped, data references, file data): equal before and after a call when the call changed nothing. A session
    /// compares it around an operation that failed, so that a failure never leaves half an operation to be committed.
    /// </summary>
    public long Changes
    {
        get
        {
            long n = _structureChanges;
            foreach (var t in _trees.Values) n += t.Changes; // no LINQ: read around every session operation
            return n;
        }
    }
    private long _structureChanges; // what Changes counts beyond the open trees' items (and the items of trees no longer open)
    internal void NoteChange() => _structureChanges++;

    /// <summary>Creates a new, empty tree (its ROOT_ITEM is written at commit by the caller's item).</summary>
    public CowTree CreateTree(ulong treeId)
    {
        ThrowIfReadOnly();
        _structureChanges++;
        var t = CowTree.CreateEmpty(this, treeId);
        _trees[treeId] = t;
        _dropped.Remove(treeId);
        return t;
    }

    /// <summary>
    /// True when tree <paramref name="treeId"/> exists as this transaction sees it: created or changed here, or
    /// committed and not dropped.
    /// </summary>
    public bool HasTree(ulong treeId) => _trees.ContainsKey(treeId) || (!_dropped.Contains(treeId) && _image.TryGetRoot(treeId, out _));

    /// <summary>The current root of a tree (changed or committed).</summary>
    public TreeRoot CurrentRoot(ulong treeId)
    {
        if (_trees.TryGetValue(treeId, out var t)) return new TreeRoot(treeId, t.RootBytenr, (byte)t.RootLevel, t.RootGeneration);
        if (_dropped.Contains(treeId)) throw new KeyNotFoundException($"tree {treeId} was dropped in this transaction");
        return _image.GetRoot(treeId);
    }

    /// <summary>A cursor that sees this transaction's changes.</summary>
    public TreeCursor NewCursor() => new(this);

    // ------------------------------------------------------------------ ITreeBlockStore

    /// <summary>
    /// The block at <paramref name="bytenr"/>: this transaction's dirty copy when it has one (only its level is
    /// checked), else the committed block read and verified through the image's node cache.
    /// </summary>
    public byte[] Read(ulong bytenr, in NodeExpectation expect)
    {
        if (_dirty.TryGetValue(bytenr, out var b))
        {
            var h = new NodeHeader(b);
            if (expect.Level >= 0 && h.Level != expect.Level)
                throw Corruption.Create($"dirty block {bytenr}: level {h.Level}, expected {expect.Level}", bytenr, h.Owner);
            return b;
        }
        return _image.Nodes.Read(bytenr, expect);
    }

    /// <inheritdoc/>
    public bool IsDirty(ulong bytenr) => _dirty.ContainsKey(bytenr);

    /// <inheritdoc/>
    public byte[] GetDirty(ulong bytenr) => _dirty[bytenr];

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The transaction is read-only.</exception>
    /// <exception cref="NoSpaceException">No metadata space is left for the block.</exception>
    public (ulong Bytenr, byte[] Buffer) Allocate(ulong owner, int level)
    {
        ThrowIfReadOnly();
        ulong bytenr = AllocateTreeBlockSpace(owner);
        var buf = new byte[NodeSize];
        var h = new NodeHeader(buf);
        h.Fsid = _image.Fsid;
        h.Bytenr = bytenr;
        h.Flags = NodeHeader.FlagWritten | (NodeHeader.MixedBackrefRev << NodeHeader.BackrefRevShift);
        h.ChunkTreeUuid = State.ChunkTreeUuid;
        h.Generation = Generation;
        h.Owner = owner;
        h.Level = (byte)level;
        _dirty[bytenr] = buf;
        var head = NewTreeHead(bytenr, level, isNew: true);
        head.Add(BackrefKey.TreeBlock(owner), +1);
        return (bytenr, buf);
    }

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The transaction is read-only.</exception>
    /// <exception cref="NoSpaceException">No metadata space is left for the copy.</exception>
    public (ulong Bytenr, byte[] Buffer) Cow(ulong bytenr, int level, ulong generation, ulong owner)
    {
        ThrowIfReadOnly();
        var old = Read(bytenr, new NodeExpectation(generation, level, 0));
        var oldHeader = new NodeHeader(old);
        ulong oldOwner = oldHeader.Owner;
        var (refs, flags) = CurrentTreeBlockRefs(bytenr, level);
        bool oldFull = (flags & ExtentFlags.FullBackref) != 0;

        var (newBytenr, buf) = Allocate(owner, level);
        old.AsSpan(NodeHeader.Size).CopyTo(buf.AsSpan(NodeHeader.Size));
        var nh = new NodeHeader(buf);
        nh.NrItems = oldHeader.NrItems;

        // The one reference that moves: the dirty parent's pointer (or the root pointer) of tree `owner`.
        var oldHead = GetTreeHead(bytenr, level);
        oldHead.Add(BackrefKey.TreeBlock(owner), -1);
        long remaining = refs - 1;

        if (remaining <= 0)
        {
            // The old block goes away: its edges to children vanish, the new block's appear.
            oldHead.ChildrenHandled = true;
            if (oldFull || oldOwner != owner)
            {
                ForEachEdge(old, level, e => AddEdge(e, OldRule(bytenr, oldOwner, oldFull), -1));
                ForEachEdge(buf, level, e => AddEdge(e, OldRule(newBytenr, owner, false), +1));
            }
        }
        else if (!oldFull && oldOwner == owner)
        {
            // Shared and copied by its owner: the old block switches to full backrefs (parent-based) so that the
            // two copies do not both claim "root `owner`" for the same children.
            oldHead.SetFullBackref = true;
            ForEachEdge(old, level, e => AddEdge(e, OldRule(bytenr, 0, true), +1));
        }
        else
        {
            // Shared and copied by another tree (a snapshot): the new copy adds its own references.
            ForEachEdge(buf, level, e => AddEdge(e, OldRule(newBytenr, owner, false), +1));
        }
        return (newBytenr, buf);
    }

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The transaction is read-only.</exception>
    public void Free(ulong bytenr, ulong owner, int level)
    {
        ThrowIfReadOnly();
        var head = GetTreeHead(bytenr, level);
        head.Add(BackrefKey.TreeBlock(owner), -1);
        head.ChildrenHandled = true; // emptied: its items or pointers were moved away or deleted
    }

    // ------------------------------------------------------------------ references

    /// <summary>How an edge out of a block is recorded: parent-based when the block has FULL_BACKREF, else by its owner.</summary>
    private readonly record struct EdgeRule(bool Shared, ulong ParentOrOwner);

    private static EdgeRule OldRule(ulong bytenr, ulong owner, bool full) => full ? new EdgeRule(true, bytenr) : new EdgeRule(false, owner);

    /// <summary>An edge: a child tree block, or a data extent referenced by a file extent item.</summary>
    private readonly record struct Edge(bool IsData, ulong Bytenr, int Level, ulong NumBytes, ulong Ino, ulong Offset);

    private void AddEdge(in Edge e, in EdgeRule rule, long delta)
    {
        if (e.IsData)
        {
            var head = GetDataHead(e.Bytenr, e.NumBytes);
            head.Add(rule.Shared ? BackrefKey.SharedData(rule.ParentOrOwner) : BackrefKey.Data(rule.ParentOrOwner, e.Ino, e.Offset), delta);
        }
        else
        {
            var head = GetTreeHead(e.Bytenr, e.Level);
            head.Add(rule.Shared ? BackrefKey.SharedBlock(rule.ParentOrOwner) : BackrefKey.TreeBlock(rule.ParentOrOwner), delta);
        }
    }

    private static void ForEachEdge(byte[] block, int level, Action<Edge> f)
    {
        if (level > 0)
        {
            var node = new InternalNode(block);
            for (int i = 0; i < node.NrItems; i++) f(new Edge(false, node.BlockPtr(i), level - 1, 0, 0, 0));
            return;
        }
        var leaf = new Leaf(block);
        for (int i = 0; i < leaf.NrItems; i++)
        {
            if (leaf.KeyType(i) != ItemType.ExtentData || !FileExtentItem.TryGetDataRef(leaf.Data(i), out ulong bytenr, out ulong numBytes, out ulong extentOffset)) continue;
            f(new Edge(true, bytenr, 0, numBytes, leaf.KeyObjectId(i), leaf.KeyOffset(i) - extentOffset));
        }
    }

    private DelayedRefHead NewTreeHead(ulong bytenr, int level, bool isNew) =>
        _refs.GetOrAdd(bytenr, () => new DelayedRefHead { Bytenr = bytenr, NumBytes = (ulong)NodeSize, Level = level, IsNew = isNew, Generation = Generation });

    private DelayedRefHead GetTreeHead(ulong bytenr, int level) => NewTreeHead(bytenr, level, isNew: false);

    private DelayedRefHead GetDataHead(ulong bytenr, ulong numBytes) =>
        _refs.GetOrAdd(bytenr, () => new DelayedRefHead { Bytenr = bytenr, NumBytes = numBytes, IsData = true, Generation = Generation });

    /// <summary>Total references of a tree block now: its extent item plus pending changes; and its flags.</summary>
    private (long Refs, ExtentFlags Flags) CurrentTreeBlockRefs(ulong bytenr, int level)
    {
        long refs = 0;
        ExtentFlags flags = 0;
        var c = NewCursor();
        if (c.Find(CurrentRoot(ObjectIds.ExtentTree), new Key(bytenr, ItemType.MetadataItem, (ulong)level)))
        {
            var ei = new ExtentItem(c.Data);
            refs = (long)ei.Refs;
            flags = ei.Flags;
        }
        if (_refs.TryGet(bytenr, out var head))
        {
            refs += head.NetDelta;
            if (head.SetFullBackref) flags |= ExtentFlags.FullBackref;
        }
        return (refs, flags);
    }

    // ------------------------------------------------------------------ data extents

    /// <summary>
    /// Allocates a data extent of up to <paramref name="maxLen"/> bytes (sector multiple) as btrfs_reserve_extent does:
    /// find_free_extent's passes over the size classes, a new chunk before a group of another class, and only when
    /// all fail a smaller extent (half, at most the largest free run; the caller writes the rest into another extent).
    /// </summary>
    public (ulong Bytenr, ulong Length) AllocateData(ulong maxLen)
    {
        ThrowIfReadOnly();
        ulong sector = (ulong)_image.SectorSize;
        ulong want = Math.Min(maxLen, MaxExtentSize);
        FaultPlan.Current?.BeforeAllocation($"data extent of up to {want} bytes");
        while (true)
        {
            var at = Allocator.TryAllocateData(want, sector, SizeClassPass.Exact)
                ?? Allocator.TryAllocateData(want, sector, SizeClassPass.Unset)
                ?? (TryCreateChunk(BlockGroupFlags.Data, sector) ? Allocator.TryAllocateData(want, sector, SizeClassPass.Unset) : null)
                ?? Allocator.TryAllocateData(want, sector, SizeClassPass.Wrong);
            if (at is ulong a) return Track(a, want);
            ulong largest = Allocator.LargestFree(BlockGroupFlags.Data, sector);
            if (want <= sector || largest == 0) throw new NoSpaceException("no free data space left on the device");
            want = Math.Max(sector, Math.Min(want / 2 / sector * sector, largest));
        }

        (ulong, ulong) Track(ulong bytenr, ulong len)
        {
            _refs.GetOrAdd(bytenr, () => new DelayedRefHead { Bytenr = bytenr, NumBytes = len, IsData = true, IsNew = true, Generation = Generation });
            return (bytenr, len);
        }
    }

    /// <summary>
    /// A data space reservation (btrfs_reserve_data_bytes) of <paramref name="bytes"/> on top of
    /// <paramref name="mayUse"/> bytes reserved already (the dirty pages): data never overcommits, so when they do
    /// not fit beside what the data groups hold, the kernel's reclaim allocates data chunks at once (ALLOC_CHUNK_FORCE)
    /// in the running transaction. Nothing is held: the caller's dirty pages are the reservation.
    /// </summary>
    public void ReserveDataSpace(ulong mayUse, ulong bytes)
    {
        ThrowIfReadOnly();
        while (true)
        {
            var (total, used) = Allocator.DataSpace();
            if (used + mayUse + bytes <= total || !TryCreateChunk(BlockGroupFlags.Data, (ulong)_image.SectorSize)) return;
        }
    }

    /// <summary>A block group was made in this transaction: btrfs_make_block_group marks the log for a full commit.</summary>
    public bool MadeBlockGroup { get; private set; }

    /// <summary>btrfs' maximum extent size for uncompressed data.</summary>
    public const ulong MaxExtentSize = 128UL << 20;

    /// <summary>Adds or drops an EXTENT_DATA_REF of a data extent (a file extent item inserted into or deleted from a leaf of tree <paramref name="root"/>).</summary>
    public void AddDataRef(ulong bytenr, ulong numBytes, ulong root, ulong ino, ulong offset, long delta)
    {
        _structureChanges++;
        GetDataHead(bytenr, numBytes).Add(BackrefKey.Data(root, ino, offset), delta);
    }

    /// <summary>Attaches the qgroup bytes reserved for writing this new extent (freed when it is accounted at commit).</summary>
    public void AttachQgroupReserved(ulong bytenr, ulong root, ulong bytes)
    {
        if (bytes == 0) return;
        if (_refs.TryGet(bytenr, out var h) && (h.QgroupReserved == 0 || h.QgroupReservedRoot == root)) { h.QgroupReserved += bytes; h.QgroupReservedRoot = root; }
        else _accountedReservations.Add((root, bytes)); // no head of its own: still freed at this commit
    }

    private readonly List<(ulong Root, ulong Bytes)> _accountedReservations = new();

    /// <summary>
    /// After <see cref="Commit"/>: the reserved bytes the delayed-ref heads of this transaction carried, now accounted
    /// (the caller gives them back to the qgroups). After an abort: what was attached, to be freed as well.
    /// </summary>
    public IReadOnlyList<(ulong Root, ulong Bytes)> AccountedReservations
    {
        get
        {
            if (!_done) throw new InvalidOperationException("the transaction is still running");
            return _accountedReservations;
        }
    }

    /// <summary>The default of <see cref="DataBufferLimit"/>.</summary>
    public const long DefaultDataBufferLimit = 64L << 20;

    /// <summary>File data this transaction holds in memory before it writes it early (a failure after that has written
    /// free space, never committed bytes). 0 writes through: for mkfs, where a failure leaves no file system to keep.</summary>
    public long DataBufferLimit { get; set; } = DefaultDataBufferLimit;

    // Held data in the order written; the buffers are rented (file data is the write path's bulk) and go back to the
    // pool once written or dropped.
    private readonly List<(ulong Logical, byte[] Buffer, int Length)> _pendingData = new();
    private long _pendingDataBytes;

    /// <summary>Writes file data at a logical address inside a data extent allocated in this transaction: held until
    /// the commit (see <see cref="DataBufferLimit"/>).</summary>
    public void WriteData(ulong logical, ReadOnlySpan<byte> data)
    {
        ThrowIfReadOnly();
        _structureChanges++;
        var chunk = _image.Chunks.Find(logical) ?? throw new InvalidOperationException($"logical {logical} is not mapped");
        if (logical + (ulong)data.Length > chunk.End) throw new InvalidOperationException("data write crosses a chunk end");
        if (_pendingDataBytes + data.Length > DataBufferLimit)
        {
            // Past the buffer: what is held goes first (the order of writes stays), then this, without a copy.
            WritePendingData();
            WriteToDevice(chunk, logical, data);
            return;
        }
        var buf = ArrayPool<byte>.Shared.Rent(data.Length);
        data.CopyTo(buf);
        _pendingData.Add((logical, buf, data.Length));
        _pendingDataBytes += data.Length;
    }

    private void WriteToDevice(ChunkMapping chunk, ulong logical, ReadOnlySpan<byte> data)
    {
        foreach (var phys in chunk.PhysicalStripes)
            _image.Device.Write(data, (long)(phys + (logical - chunk.Logical)));
    }

    private void WritePendingData()
    {
        foreach (var (logical, buf, length) in _pendingData)
            WriteToDevice(_image.Chunks.Find(logical)!, logical, buf.AsSpan(0, length));
        DropPendingData();
    }

    private void DropPendingData()
    {
        foreach (var (_, buf, _) in _pendingData) ArrayPool<byte>.Shared.Return(buf);
        _pendingData.Clear();
        _pendingDataBytes = 0;
    }

    /// <summary>Reads data at a logical address (committed or written in this transaction).</summary>
    public void ReadData(ulong logical, Span<byte> buffer)
    {
        var chunk = _image.Chunks.Find(logical) ?? throw Corruption.Create($"logical {logical} is not inside any chunk", logical);
        if (logical + (ulong)buffer.Length > chunk.End)
            Throw.Corrupt($"data [{logical}, +{buffer.Length}) runs past the end of its chunk at {chunk.Logical} (length {chunk.Length})", logical);
        ulong phys = chunk.PhysicalStripes[0] + (logical - chunk.Logical);
        // A chunk mapped past the device end is damage, not an I/O error.
        if (phys + (ulong)buffer.Length > (ulong)_image.Device.Length)
            Throw.Corrupt($"data at logical {logical} maps to physical {phys}, past the device end {_image.Device.Length} (chunk {chunk.Logical})", logical);
        _image.Device.Read(buffer, (long)phys);
        // Data this transaction wrote and still holds, in the order written (a later write wins).
        foreach (var (at, data, length) in _pendingData)
        {
            ulong lo = Math.Max(at, logical), hi = Math.Min(at + (ulong)length, logical + (ulong)buffer.Length);
            if (lo < hi) data.AsSpan((int)(lo - at), (int)(hi - lo)).CopyTo(buffer[(int)(lo - logical)..]);
        }
    }

    private void ThrowIfDone()
    {
        if (_done) throw new InvalidOperationException("the transaction has already been committed or aborted");
    }

    private void ThrowIfReadOnly()
    {
        ThrowIfDone();
        _ = State;
    }

    /// <summary>Abort: drop every change, the data held for the commit too.</summary>
    public void Dispose()
    {
        if (_done) return;
        _done = true;
        DropPendingData();
        foreach (var h in _refs.TakeAll()) if (h.QgroupReserved != 0) _accountedReservations.Add((h.QgroupReservedRoot, h.QgroupReserved));
        _state?.EndTransaction(this, committed: false);
    }
}
