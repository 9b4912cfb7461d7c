using BtrfsLite.Format;
using BtrfsLite.IO;
using BtrfsLite.Images;

namespace BtrfsLite.Check;

/// <summary>
/// Phase "checking root items": walks every tree reachable from the superblock (chunk tree, root tree, then every
/// ROOT_ITEM's tree, snapshots included), reading blocks raw and verifying them here so that corruption becomes
/// findings: checksum, bytenr, fsid, generation, parent transid, level, owner, WRITTEN, 64 KiB stripe crossing, DUP
/// copies, nritems, item layout, key order, first key. A block shared by several trees is read once and records every
/// edge to it. Recursion is bounded: levels strictly decrease from at most 7, and a block reached twice within one tree
/// (a cycle or a double pointer) is reported and not descended again.
/// </summary>
internal static class TreeBlockWalker
{
    public static void Run(CheckContext ctx)
    {
        var w = new Walker(ctx);
        ctx.Walk = w.Result;
        w.WalkAll();
        var r = ctx.Report;
        var res = w.Result;
        r.TotalTreeBytes = res.TotalTreeBytes;
        r.TotalFsTreeBytes = res.TotalFsTreeBytes;
        r.TotalExtentTreeBytes = res.TotalExtentTreeBytes;
        r.BtreeSpaceWaste = res.BtreeSpaceWaste;
        r.FileDataBlocksAllocated = res.DataBytesAllocated;
        r.FileDataReferenced = res.DataBytesReferenced;
    }

    /// <summary>Trees whose blocks must be owned by the tree itself and whose leaves later phases iterate.</summary>
    internal static bool IsSystemTree(ulong id) => id is ObjectIds.RootTree or ObjectIds.ExtentTree or ObjectIds.ChunkTree
        or ObjectIds.DevTree or ObjectIds.CsumTree or ObjectIds.QuotaTree or ObjectIds.UuidTree or ObjectIds.FreeSpaceTree
        or ObjectIds.BlockGroupTree;

    private readonly record struct PendingRoot(ulong TreeId, ulong KeyOffset, ulong Bytenr, int Level, ulong Generation, uint Refs, ulong DropObjectId, ulong Leaf, int Slot, RootItemInfo Info, ulong TreeBytes);

    private sealed class Walker
    {
        private readonly CheckContext _ctx;
        private readonly BtrfsImage _img;
        private readonly CheckReport _report;
        private readonly ChunkMap _chunks;
        private readonly Guid _fsid;
        private readonly int _nodeSize, _sectorSize;
        private readonly ulong _superGen;
        private readonly byte[][] _bufs = new byte[NodeHeader.MaxLevel + 2][];
        private readonly byte[] _dup;
        private readonly int _maxLeafItems, _maxPtrs;
        // Walk number (one per tree root walked) that last reached each block: a block reached twice in one walk is a
        // loop or a double reference. Not the tree id, as relocation trees share one (-8) and each walks separately.
        private readonly Dictionary<ulong, int> _lastWalk = new();
        private int _walk;
        private readonly List<PendingRoot> _pending = new();
        private ulong _tree;
        private List<ulong>? _leaves;
        private bool _fsLike;
        private bool _knownHit;
        private bool _fsTree;
        private FsRootChecker.TreeCheck? _fsCheck;
        private bool _fsCheckFailed;

        public TreeWalkResult Result { get; }

        public Walker(CheckContext ctx)
        {
            _ctx = ctx;
            _img = ctx.Image;
            _report = ctx.Report;
            _chunks = _img.Chunks;
            _fsid = _img.Fsid;
            _nodeSize = _img.NodeSize;
            _sectorSize = _img.SectorSize;
            _superGen = _img.Generation;
            for (int i = 0; i < _bufs.Length; i++) _bufs[i] = new byte[_nodeSize];
            _dup = new byte[_nodeSize];
            _maxLeafItems = Leaf.MaxItems(_nodeSize);
            _maxPtrs = InternalNode.MaxItems(_nodeSize);
            Result = new TreeWalkResult { NodeSize = _nodeSize, SectorSize = _sectorSize };
        }

        private void Add(FindingCode code, ulong tree, ulong bytenr, int slot, string msg) => _report.Add(code, tree, bytenr, slot, msg);

        public void WalkAll()
        {
            var sb = _img.Super;
            WalkTreeTracked(ObjectIds.ChunkTree, sb.ChunkRoot, sb.ChunkRootLevel, sb.ChunkRootGeneration, null, 0);
            WalkTreeTracked(ObjectIds.RootTree, sb.Root, sb.RootLevel, sb.Generation, null, 0);
            if (sb.LogRoot != 0)
                _report.Notes.Add($"log tree at {sb.LogRoot} (transid {sb.LogRootTransid}) is not replayed and was not checked");

            var seen = new HashSet<ulong>();
            foreach (var p in _pending)
            {
                if (p.TreeId == ObjectIds.TreeLog) { _report.Notes.Add($"log tree root item {p.TreeId} at {p.Bytenr} not checked"); continue; }
                if (p.TreeId == ObjectIds.RootTree || p.TreeId == ObjectIds.ChunkTree)
                {
                    Add(FindingCode.ItemInvalid, ObjectIds.RootTree, p.Leaf, p.Slot, $"corrupt leaf: root=1 block={p.Leaf} slot={p.Slot}, ROOT_ITEM for tree {p.TreeId} which has no root item");
                    continue;
                }
                if (p.TreeId != ObjectIds.TreeReloc && !seen.Add(p.TreeId))
                {
                    Add(FindingCode.ItemInvalid, ObjectIds.RootTree, p.Leaf, p.Slot, $"corrupt leaf: root=1 block={p.Leaf} slot={p.Slot}, second ROOT_ITEM for tree {p.TreeId}");
                    continue;
                }
                if (p.Refs == 0 && p.DropObjectId != 0)
                {
                    // A subvolume being deleted: only part of it is left; its extents are half freed.
                    _report.Notes.Add($"tree {p.TreeId} is being deleted (drop in progress); not checked");
                    Result.Complete = false;
                    continue;
                }
                if (p.TreeId == ObjectIds.TreeReloc) _report.Notes.Add($"relocation tree for {p.KeyOffset} found (balance was interrupted)");
                WalkTreeTracked(p.TreeId, p.Bytenr, p.Level, p.Generation, p.Info, p.TreeBytes);
            }

            foreach (ulong required in new[] { ObjectIds.ExtentTree, ObjectIds.DevTree, ObjectIds.FsTree, ObjectIds.CsumTree })
                if (!Result.TreeRoots.ContainsKey(required))
                {
                    Add(FindingCode.TreeRootMissing, ObjectIds.RootTree, _img.Super.Root, -1, $"root item for tree {required} not found in the root tree");
                    Result.Complete = false;
                }
            if (!Result.TreeRoots.ContainsKey(ObjectIds.DataRelocTree))
                _report.Notes.Add("data relocation tree (-9) missing: the kernel will refuse to mount");
        }

        /// <summary>
        /// Walks one tree and notes whether it was clean: no finding while walking it and no block already reached from
        /// another tree. Then a tree cursor over it would read exactly the blocks walked here, in this order, and verify
        /// them without error, so the leaves can be handed to the fs-root check now (once, while in memory) instead of
        /// being read again. A tree that is not clean is checked by the later phases the slow way, as before.
        /// </summary>
        private void WalkTreeTracked(ulong treeId, ulong bytenr, int level, ulong generation, RootItemInfo? info, ulong treeBytes)
        {
            int before = _report.ErrorCount;
            _knownHit = false;
            _fsCheckFailed = false;
            _fsCheck = info is { } ri && FsCheckState.IsCheckedFsTree(treeId) && ri.ItemSize >= RootItem.LegacySize
                ? FsRootChecker.NewLeafFed(_ctx, ri, treeBytes) : null;
            WalkTree(treeId, bytenr, level, generation);
            bool clean = _report.ErrorCount == before && !_knownHit;
            if (clean) Result.CleanTrees.Add(treeId);
            var fc = _fsCheck;
            _fsCheck = null;
            if (fc != null && clean && !_fsCheckFailed)
            {
                try
                {
                    fc.Finish();
                    Result.FsChecks[treeId] = fc;
                }
                catch (Exception)
                {
                    // The fs-root phase walks this tree itself and meets the same problem there.
                }
            }
        }

        private void WalkTree(ulong treeId, ulong bytenr, int level, ulong generation)
        {
            _tree = treeId;
            _walk++;
            _fsLike = !IsSystemTree(treeId) || treeId == ObjectIds.RootTree;
            _fsTree = ObjectIds.IsFsTree(treeId);
            _leaves = IsSystemTree(treeId) ? new List<ulong>() : null;
            if (_leaves != null) Result.Leaves[treeId] = _leaves;
            Result.TreeRoots[treeId] = bytenr;
            if (level >= NodeHeader.MaxLevel)
            {
                Add(FindingCode.BlockLevelMismatch, treeId, bytenr, -1, $"tree {treeId}: root level {level} is out of range (max {NodeHeader.MaxLevel - 1})");
                Result.Complete = false;
                return;
            }
            Visit(bytenr, level, generation, hasFirstKey: false, default, 0, 0, treeId, 0);
        }

        private void Visit(ulong bytenr, int expLevel, ulong expGen, bool hasFirstKey, in Key expFirstKey,
            ulong parent, ulong parentOwner, ulong rootId, int depth)
        {
            ulong tree = _tree;
            string where = parent == 0 ? $"root of tree {rootId}" : $"pointed to by node {parent}";
            if (Result.Blocks.TryGetValue(bytenr, out var known))
            {
                _knownHit = true;
                if (_lastWalk.TryGetValue(bytenr, out int last) && last == _walk)
                {
                    Add(FindingCode.BlockReferencedTwice, tree, parent, -1,
                        $"tree block {bytenr} ({where}) is referenced more than once in tree {tree}{(parent == bytenr ? " (points to itself)" : "")}");
                    return;
                }
                _lastWalk[bytenr] = _walk;
                AddEdge(known, bytenr, parent, parentOwner, rootId);
                if (known.Readable)
                {
                    if (known.Level != expLevel)
                        Add(FindingCode.BlockLevelMismatch, tree, bytenr, -1, $"bad tree block {bytenr}, level mismatch, want={expLevel} have={known.Level} ({where})");
                    if (expGen != 0 && known.Generation != expGen)
                        Add(FindingCode.BlockTransidMismatch, tree, bytenr, -1, $"parent transid verify failed on {bytenr} wanted {expGen} found {known.Generation} ({where})");
                    if (hasFirstKey && known.NrItems > 0 && known.FirstKey != expFirstKey)
                        Add(FindingCode.BlockFirstKeyMismatch, tree, bytenr, -1, $"tree block {bytenr} first key {known.FirstKey} does not match parent key {expFirstKey} ({where})");
                }
                return;
            }

            if (bytenr == 0 || bytenr % (ulong)_sectorSize != 0)
            {
                Add(FindingCode.BlockUnreadable, tree, parent == 0 ? bytenr : parent, -1, $"invalid tree block pointer {bytenr} ({where}): not sector aligned");
                Result.Complete = false;
                return;
            }
            var chunk = _chunks.Find(bytenr);
            if (chunk == null || bytenr + (ulong)_nodeSize > chunk.End)
            {
                Add(FindingCode.BlockUnreadable, tree, bytenr, -1, $"tree block {bytenr} ({where}) is not inside a chunk");
                Result.Complete = false;
                return;
            }
            if ((bytenr >> 16) != ((bytenr + (ulong)_nodeSize - 1) >> 16))
                Add(FindingCode.BlockCrossesStripe, tree, bytenr, -1, $"tree block {bytenr} crosses a 64KiB stripe boundary");

            var buf = _bufs[depth];
            if (!TryRead(bytenr, buf, 0, out string? err))
            {
                Add(FindingCode.BlockUnreadable, tree, bytenr, -1, $"cannot read tree block {bytenr} ({where}): {err}");
                RecordUnreadable(bytenr, expLevel, parent, parentOwner, rootId);
                return;
            }
            bool csumOk = Checksums.VerifyBlockCsum(buf, out uint stored, out uint computed);
            if (chunk.IsDup && TryRead(bytenr, _dup, 1, out _))
            {
                if (!buf.AsSpan().SequenceEqual(_dup))
                {
                    if (!csumOk && Checksums.VerifyBlockCsum(_dup, out _, out _))
                    {
                        // As btrfs check (and the kernel) do: the good copy is used; the bad one is named, not an error.
                        _report.Notes.Add($"tree block {bytenr} (tree {(long)tree}): copy 1 fails its checksum (wanted 0x{computed:x8} found 0x{stored:x8}); copy 2 is good and was used");
                        _dup.CopyTo(buf, 0);
                        csumOk = true;
                        stored = computed = 0;
                    }
                    else Add(FindingCode.BlockDupCopyMismatch, tree, bytenr, -1, $"tree block {bytenr}: the two DUP copies differ");
                }
            }
            if (!csumOk && stored != computed)
                Add(FindingCode.BlockCsumMismatch, tree, bytenr, -1, $"checksum verify failed on {bytenr} wanted 0x{computed:x8} found 0x{stored:x8}");

            var h = new NodeHeader(buf);
            ulong owner = h.Owner;
            if (h.Bytenr != bytenr)
            {
                Add(FindingCode.BlockBytenrMismatch, tree, bytenr, -1, $"bad tree block {bytenr}, bytenr mismatch, want={bytenr} have={h.Bytenr}");
                RecordUnreadable(bytenr, expLevel, parent, parentOwner, rootId);
                return;
            }
            if (!h.FsidMatches(_fsid))
            {
                Add(FindingCode.BlockFsidMismatch, tree, bytenr, -1, $"bad tree block {bytenr}, fsid mismatch, want={_fsid} have={h.Fsid}");
                RecordUnreadable(bytenr, expLevel, parent, parentOwner, rootId);
                return;
            }
            int level = h.Level;
            if (level != expLevel)
            {
                Add(FindingCode.BlockLevelMismatch, tree, bytenr, -1, $"bad tree block {bytenr}, level mismatch, want={expLevel} have={level} ({where})");
                RecordUnreadable(bytenr, expLevel, parent, parentOwner, rootId);
                return;
            }
            ulong gen = h.Generation;
            if (gen > _superGen)
                Add(FindingCode.BlockGenerationTooNew, tree, bytenr, -1, $"tree block {bytenr} generation {gen} is newer than the superblock generation {_superGen}");
            if (expGen != 0 && gen != expGen)
                Add(FindingCode.BlockTransidMismatch, tree, bytenr, -1, $"parent transid verify failed on {bytenr} wanted {expGen} found {gen} ({where})");
            CheckOwner(tree, bytenr, owner);
            if ((h.Flags & NodeHeader.FlagWritten) == 0)
                Add(FindingCode.BlockNotWritten, tree, bytenr, -1, $"tree block {bytenr} does not have the WRITTEN flag (flags 0x{h.Flags:x})");

            uint nr = h.NrItems;
            string kind = level == 0 ? "leaf" : "node";
            bool usable = true;
            if (level == 0 ? nr > (uint)_maxLeafItems : nr == 0 || nr > (uint)_maxPtrs)
            {
                Add(FindingCode.BlockNrItemsInvalid, tree, bytenr, -1,
                    $"corrupt {kind}: root={owner} block={bytenr}, invalid nritems {nr}, expect [{(level == 0 ? 0 : 1)}, {(level == 0 ? _maxLeafItems : _maxPtrs)}]");
                usable = false;
                nr = 0;
            }
            else if (level == 0 && nr == 0 && (parent != 0 || tree is ObjectIds.RootTree or ObjectIds.ChunkTree or ObjectIds.DevTree
                         or ObjectIds.ExtentTree or ObjectIds.FsTree or ObjectIds.DataRelocTree))
            {
                Add(FindingCode.BlockNrItemsInvalid, tree, bytenr, -1, $"corrupt leaf: root={owner} block={bytenr}, empty leaf{(parent != 0 ? " below a node" : $" as root of tree {tree}")}");
            }

            if (usable && level == 0) usable = ValidateLeaf(buf, (int)nr, tree, owner, bytenr);
            if (usable && level == 0)
            {
                // The kernel's tree-checker item rules (inode flags, modes, generations, item sizes...): findings, the
                // leaf stays usable as btrfs check goes on.
                var leaf = new Leaf(buf);
                var tc = new TreeChecker.Context(_superGen, (uint)_img.SectorSize);
                for (int i = 0; i < (int)nr; i++)
                {
                    if (TreeChecker.CheckItem(leaf.Key(i), leaf.Data(i), tc) is string bad)
                        Add(FindingCode.ItemInvalid, tree, bytenr, i, $"corrupt leaf: root={owner} block={bytenr} slot={i}, {bad}");
                    // btrfs check's "odd inode flags": a symlink cannot be immutable or append-only.
                    else if (leaf.KeyType(i) == ItemType.InodeItem && leaf.DataSize(i) == InodeItem.Size
                             && (Le.U32(leaf.Data(i), InodeItem.Offsets.Mode) & InodeItem.SIfMt) == InodeItem.SIfLnk
                             && (Le.U64(leaf.Data(i), InodeItem.Offsets.Flags) & (ulong)(InodeFlags.Immutable | InodeFlags.Append)) != 0)
                        Add(FindingCode.ItemInvalid, tree, bytenr, i, $"corrupt leaf: root={owner} block={bytenr} slot={i}, odd inode flags: a symlink marked immutable or append-only");
                }
            }
            else if (usable) usable = ValidateNode(buf, (int)nr, tree, owner, bytenr);

            var firstKey = nr > 0 ? Key.Read(buf.AsSpan(NodeHeader.Size)) : default;
            if (hasFirstKey && nr > 0 && firstKey != expFirstKey)
                Add(FindingCode.BlockFirstKeyMismatch, tree, bytenr, -1, $"tree block {bytenr} first key {firstKey} does not match parent key {expFirstKey} ({where})");

            var info = new TreeBlockInfo
            {
                Bytenr = bytenr, Level = level, Owner = owner, Generation = gen, FirstKey = firstKey, NrItems = (int)nr,
                Tree = tree, Readable = usable,
            };
            Result.Blocks[bytenr] = info;
            _lastWalk[bytenr] = _walk;
            AddEdge(info, bytenr, parent, parentOwner, rootId);
            Result.TotalTreeBytes += (ulong)_nodeSize;
            // By the block's owner, as btrfs check counts: relocation trees' own blocks are fs-tree bytes too.
            if (ObjectIds.IsFsTree(owner) || owner is ObjectIds.DataRelocTree or ObjectIds.TreeReloc) Result.TotalFsTreeBytes += (ulong)_nodeSize;
            if (tree == ObjectIds.ExtentTree) Result.TotalExtentTreeBytes += (ulong)_nodeSize;
            if (!usable) { Result.Complete = false; return; }

            if (level == 0)
            {
                var leaf = new Leaf(buf);
                Result.BtreeSpaceWaste += (ulong)Math.Max(0, leaf.FreeSpace);
                _leaves?.Add(bytenr);
                ProcessLeaf(leaf, (int)nr, bytenr, owner);
                if (_fsCheck != null && !_fsCheckFailed)
                {
                    try { _fsCheck.LeafSeen(leaf, (int)nr, bytenr); }
                    catch (Exception) { _fsCheckFailed = true; } // redone (and reported) by the fs-root phase
                }
                return;
            }
            Result.BtreeSpaceWaste += (ulong)((_maxPtrs - (int)nr) * KeyPtr.Size);
            for (int i = 0; i < (int)nr; i++)
            {
                // Re-read from the buffer each time: children use deeper buffers, this one stays intact.
                var node = new InternalNode(_bufs[depth]);
                ulong child = node.BlockPtr(i);
                ulong cgen = node.PtrGeneration(i);
                var key = node.Key(i);
                Visit(child, level - 1, cgen, true, key, bytenr, owner, rootId, depth + 1);
                _tree = tree;
            }
        }

        private void AddEdge(TreeBlockInfo info, ulong bytenr, ulong parent, ulong parentOwner, ulong rootId)
        {
            info.EdgeIndexes.Add(Result.Edges.Count);
            Result.Edges.Add(new BlockEdge(bytenr, parent, parentOwner, parent == 0 ? rootId : 0));
        }

        private void RecordUnreadable(ulong bytenr, int level, ulong parent, ulong parentOwner, ulong rootId)
        {
            var info = new TreeBlockInfo { Bytenr = bytenr, Level = level, Owner = 0, Tree = _tree, Readable = false };
            Result.Blocks[bytenr] = info;
            _lastWalk[bytenr] = _walk;
            AddEdge(info, bytenr, parent, parentOwner, rootId);
            Result.Complete = false;
        }

        private bool TryRead(ulong bytenr, byte[] buf, int copy, out string? error)
        {
            error = null;
            try
            {
                _img.Nodes.ReadRaw(bytenr, buf, copy);
                return true;
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException or ArgumentException)
            {
                error = ex.Message;
                return false;
            }
        }

        private void CheckOwner(ulong tree, ulong bytenr, ulong owner)
        {
            bool ok;
            if (tree == ObjectIds.TreeReloc) ok = true;
            else if (ObjectIds.IsFsTree(tree)) ok = ObjectIds.IsFsTree(owner);
            else ok = owner == tree;
            if (!ok)
                Add(FindingCode.BlockOwnerMismatch, tree, bytenr, -1, $"tree block {bytenr} has bad owner {owner}, expect {(ObjectIds.IsFsTree(tree) ? "a subvolume tree id" : tree.ToString())} (tree {tree})");
        }

        /// <summary>Item headers: payloads contiguous from the block end, clear of the item array; keys strictly increasing.</summary>
        private bool ValidateLeaf(byte[] buf, int nr, ulong tree, ulong owner, ulong bytenr)
        {
            var leaf = new Leaf(buf);
            int dataArea = leaf.DataAreaSize;
            long expectedEnd = dataArea;
            long headersEnd = (long)nr * ItemHeader.Size;
            bool ok = true;
            for (int i = 0; i < nr; i++)
            {
                long off = leaf.DataOffset(i), size = leaf.DataSize(i);
                if (off + size != expectedEnd)
                {
                    Add(FindingCode.BlockItemOffsetInvalid, tree, bytenr, i, $"corrupt leaf: root={owner} block={bytenr} slot={i}, unexpected item end, have {off + size} expect {expectedEnd}");
                    return false;
                }
                if (off < headersEnd)
                {
                    Add(FindingCode.BlockItemOffsetInvalid, tree, bytenr, i, $"corrupt leaf: root={owner} block={bytenr} slot={i}, item data offset {off} overlaps the item headers (end {headersEnd})");
                    return false;
                }
                expectedEnd = off;
                if (ok && i > 0 && Key.CompareRaw(leaf.RawKey(i - 1), leaf.Key(i)) >= 0)
                {
                    Add(FindingCode.BlockKeyOrder, tree, bytenr, i, $"corrupt leaf: root={owner} block={bytenr} slot={i}, bad key order, prev {leaf.Key(i - 1)} current {leaf.Key(i)}");
                    ok = false; // items are still individually readable
                }
            }
            return true;
        }

        private bool ValidateNode(byte[] buf, int nr, ulong tree, ulong owner, ulong bytenr)
        {
            var node = new InternalNode(buf);
            bool ok = true;
            for (int i = 0; i < nr; i++)
            {
                ulong p = node.BlockPtr(i);
                if (p == 0 || p % (ulong)_sectorSize != 0)
                {
                    Add(FindingCode.BlockItemOffsetInvalid, tree, bytenr, i, $"corrupt node: root={owner} block={bytenr} slot={i}, invalid blockptr {p}");
                    ok = false;
                }
                if (i > 0 && Key.CompareRaw(node.RawKey(i - 1), node.Key(i)) >= 0)
                {
                    Add(FindingCode.BlockKeyOrder, tree, bytenr, i, $"corrupt node: root={owner} block={bytenr} slot={i}, bad key order, prev {node.Key(i - 1)} current {node.Key(i)}");
                }
            }
            return ok;
        }

        private void ProcessLeaf(Leaf leaf, int nr, ulong bytenr, ulong owner)
        {
            ulong tree = _tree;
            for (int i = 0; i < nr; i++)
            {
                var type = leaf.KeyType(i);
                if (tree == ObjectIds.CsumTree)
                {
                    uint size = leaf.DataSize(i);
                    ulong start = leaf.KeyOffset(i);
                    bool good = type == ItemType.ExtentCsum && leaf.KeyObjectId(i) == ObjectIds.ExtentCsum
                                && size % Checksums.CsumSize == 0 && size > 0 && start % (ulong)_sectorSize == 0;
                    Result.CsumItems.Add(new CsumItemRef(start, (int)(size / Checksums.CsumSize), bytenr, i, good));
                    continue;
                }
                switch (type)
                {
                    case ItemType.RootItem when tree == ObjectIds.RootTree:
                    {
                        var data = leaf.Data(i);
                        if (data.Length != RootItem.Size && data.Length != RootItem.LegacySize)
                        {
                            Add(FindingCode.ItemInvalid, tree, bytenr, i, $"corrupt leaf: root={owner} block={bytenr} slot={i}, invalid root item size, have {data.Length} expect {RootItem.Size} or {RootItem.LegacySize}");
                            Result.Complete = false;
                            break;
                        }
                        var ri = new RootItem(data);
                        ulong id = leaf.KeyObjectId(i);
                        _pending.Add(new PendingRoot(id, leaf.KeyOffset(i), ri.Bytenr, ri.Level, ri.Generation, ri.Refs, ri.DropProgress.ObjectId, bytenr, i,
                            RootItemInfo.Parse(id, leaf.KeyOffset(i), data, bytenr, i), ri.BytesUsed));
                        break;
                    }
                    case ItemType.InodeItem when _fsLike:
                    {
                        var data = leaf.Data(i);
                        if (data.Length >= InodeItem.Size && (Le.U64(data, InodeItem.Offsets.Flags) & (ulong)InodeFlags.NoDataSum) != 0)
                            Result.NoDataSumInodes.Add((tree, leaf.KeyObjectId(i)));
                        break;
                    }
                    case ItemType.ExtentData when _fsLike:
                    {
                        var data = leaf.Data(i);
                        if (data.Length < FileExtentItem.Size) break; // inline or malformed: the fs-root phase judges it
                        var fe = new FileExtentItem(data);
                        // What the qgroup phase counts as a leaf's reference to a data extent (any non-inline type).
                        if (_fsTree && fe.Type != FileExtentType.Inline && fe.DiskBytenr != 0)
                            Result.FsDataPointers.Add((fe.DiskBytenr, bytenr));
                        if (fe.Type is not (FileExtentType.Regular or FileExtentType.Prealloc)) break;
                        ulong disk = fe.DiskBytenr;
                        if (disk == 0) break;
                        ulong keyOff = leaf.KeyOffset(i);
                        Result.DataBytesAllocated += fe.DiskNumBytes;
                        Result.DataBytesReferenced += fe.NumBytes;
                        Result.DataRefs.Add(new DataRef(disk, fe.DiskNumBytes, owner, tree, leaf.KeyObjectId(i), keyOff,
                            keyOff - fe.Offset, fe.Offset, fe.NumBytes, fe.Type, bytenr, i));
                        break;
                    }
                }
            }
        }
    }
}
