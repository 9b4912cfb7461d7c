using BtrfsLite.Format;
using BtrfsLite.IO;
using BtrfsLite.Trees;

namespace BtrfsLite.Transactions;

public sealed partial class Transaction
{
    /// <summary>A chunk created in this transaction whose items are inserted during the commit (never from inside a tree operation).</summary>
    private sealed record PendingChunk(ulong Logical, ulong Length, BlockGroupFlags Type, ulong[] Physical);

    private ulong AllocateTreeBlockSpace(ulong owner)
    {
        var type = owner == ObjectIds.ChunkTree ? BlockGroupFlags.System : BlockGroupFlags.Metadata;
        ulong ns = (ulong)NodeSize;
        try { FaultPlan.Current?.BeforeAllocation($"tree block of tree {owner}"); }
        catch (NoSpaceException injected) { AbortReason ??= injected.Message; throw; }
        for (int attempt = 0; attempt < 2; attempt++)
        {
            if (Allocator.TryAllocate(type, ns, ns) is ulong at) return at;
            if (!TryCreateChunk(type, ns)) break;
        }
        var ex = new NoSpaceException($"no free {(type == BlockGroupFlags.System ? "system" : "metadata")} space left on the device");
        // A tree change stops half-way: this transaction can only be dropped.
        AbortReason ??= ex.Message;
        throw ex;
    }

    /// <summary>
    /// Creates a chunk of <paramref name="type"/> in unused device space, usable at once. Its chunk item, device
    /// extent, block group item and device item update are inserted during the commit.
    /// </summary>
    private bool TryCreateChunk(BlockGroupFlags type, ulong minSize)
    {
        var sb = _image.Super;
        ulong devSize = sb.DevItem.TotalBytes;
        // The device profile of the kind we extend (DUP metadata stays DUP); data is always SINGLE.
        var profile = type == BlockGroupFlags.Data ? 0 : (_image.Chunks.Chunks.FirstOrDefault(c => (c.Type & type) != 0)?.Type & BlockGroupFlags.ProfileMask ?? 0);
        int copies = profile == BlockGroupFlags.Dup ? 2 : 1;
        // The kernel's size (init_alloc_chunk_ctl_policy_regular, decide_stripe_size_regular): at most 10% of the
        // device or the type's chunk size (data 10 GiB, metadata 256 MiB (1 GiB past 50 GiB), system 32 MiB), that
        // rounded up to 16 MiB, at most 1 GiB per stripe; less when the largest free hole is smaller. 112 MiB on 1 GiB.
        ulong cap = type switch
        {
            BlockGroupFlags.Data => 10UL << 30,
            BlockGroupFlags.Metadata => devSize > 50UL << 30 ? 1UL << 30 : 256UL << 20,
            _ => 32UL << 20,
        };
        const ulong sixteen = 16UL << 20;
        ulong want = Math.Min((Math.Min(devSize / 10, cap) + sixteen - 1) / sixteen * sixteen, 1UL << 30);
        const ulong align = 1UL << 20;
        // Chunk lengths must be sector aligned (btrfs check and the kernel's tree checker); ours are whole MiBs.
        want = Math.Max(want / align * align, (minSize + align - 1) / align * align);

        // Free device space: [1 MiB, device size) minus existing stripes.
        var free = new RangeSet();
        free.Add(1UL << 20, devSize / align * align);
        foreach (var c in _image.Chunks.Chunks)
            foreach (var p in c.PhysicalStripes) free.Remove(p, p + c.Length);
        // A smaller hole gives a smaller chunk (the kernel takes the largest hole's size).
        ulong hole = 0;
        foreach (var (s, e) in free.Ranges) hole = Math.Max(hole, (e - s) / (ulong)copies / align * align);
        want = Math.Min(want, hole);
        ulong size = want;
        while (size >= Math.Max(minSize, align))
        {
            var phys = new ulong[copies];
            var trial = new RangeSet();
            foreach (var (s, e) in free.Ranges) trial.Add(s, e);
            bool ok = true;
            for (int i = 0; i < copies && ok; i++)
            {
                ok = trial.TryFind(size, align, 0, out phys[i]);
                if (ok) trial.Remove(phys[i], phys[i] + size);
            }
            if (ok)
            {
                ulong logical = _image.Chunks.Chunks.Count == 0 ? align : _image.Chunks.Chunks.Max(c => c.End);
                logical = (logical + align - 1) / align * align;
                var chunkBytes = new byte[ChunkItem.SizeWith(copies)];
                var item = new ChunkItem(chunkBytes);
                item.Length = size;
                item.Owner = ObjectIds.ExtentTree;
                item.StripeLen = 65536;
                item.Type = type | profile;
                item.IoAlign = 65536; item.IoWidth = 65536; item.SectorSize = (uint)_image.SectorSize;
                item.NumStripes = (ushort)copies;
                item.SubStripes = 1;
                for (int i = 0; i < copies; i++)
                {
                    var st = item.Stripe(i);
                    st.DevId = sb.DevItem.DevId; st.Offset = phys[i]; st.DevUuid = sb.DevItem.Uuid;
                }
                var mapping = _image.Chunks.Add(logical, item);
                var g = Allocator.AddGroup(logical, size, type | profile, 0, mapping, _image.Device.Length);
                g.IsNew = true;
                g.Loaded = true;
                g.AllocationChanged = true;
                _pendingChunks.Add(new PendingChunk(logical, size, type | profile, phys));
                MadeBlockGroup = true;
                State.NewChunkItems[logical] = chunkBytes;
                return true;
            }
            size = size / 2 / align * align;
        }
        return false;
    }

    /// <summary>True once the transaction changed a tree block, a reference or the chunk layout.</summary>
    public bool HasChanges => _dirty.Count != 0 || _refs.Count != 0 || _pendingChunks.Count != 0 || !DelayedDirIndex.IsEmpty;

    /// <summary>Makes every change durable: the superblock written last is the commit point.</summary>
    public void Commit()
    {
        ThrowIfReadOnly();
        if (AbortReason != null) throw new InvalidOperationException($"the transaction cannot commit: a tree change failed half-way ({AbortReason}); dispose it");
        DelayedDirIndex.Flush(); // btrfs_run_delayed_items, first thing in btrfs_commit_transaction
        // Nothing changed: no new generation (a superblock of generation N+1 over a root tree of generation N
        // would fail the parent transid check of every reader), and the image stays byte for byte as it was.
        if (!HasChanges)
        {
            EndWithoutWriting();
            return;
        }
        bool accounted = false;
        for (int round = 0; ; round++)
        {
            if (round > 200) throw new InvalidOperationException("commit did not converge (delayed refs keep changing the trees)");
            bool changed = InsertPendingChunks();
            changed |= RunDelayedRefs();
            changed |= UpdateBlockGroupItems();
            changed |= UpdateFreeSpaceTree();
            if (!accounted)
            {
                _accountingStarted = true;
                AccountQgroups();
                UpdateQgroupStatusGeneration();
                accounted = true;
                changed = true;
            }
            changed |= UpdateRootItems();
            if (!changed && _refs.Count == 0 && _pendingChunks.Count == 0) break;
        }
        if (_dirty.Count == 0 && !State.SysChunkArrayDirty) EndWithoutWriting(); // changes that cancelled out: as above
        else WriteOut();
    }

    private void EndWithoutWriting()
    {
        _done = true;
        DropPendingData(); // whatever data there was ended up unreferenced
        State.EndTransaction(this, committed: true);
    }

    private bool InsertPendingChunks()
    {
        if (_pendingChunks.Count == 0) return false;
        var pending = _pendingChunks.ToList();
        _pendingChunks.Clear();
        var chunkTree = Tree(ObjectIds.ChunkTree);
        var devTree = Tree(ObjectIds.DevTree);
        var extentTree = Tree(ObjectIds.ExtentTree);
        foreach (var p in pending)
        {
            var bytes = State.NewChunkItems[p.Logical];
            chunkTree.Insert(new Key(ObjectIds.FirstChunkTree, ItemType.ChunkItem, p.Logical), bytes.Length);
            chunkTree.TryGetForWrite(new Key(ObjectIds.FirstChunkTree, ItemType.ChunkItem, p.Logical), out var d);
            bytes.CopyTo(d);
            foreach (var phys in p.Physical)
            {
                var de = new DevExtent(devTree.Insert(new Key(_image.Super.DevItem.DevId, ItemType.DevExtent, phys), DevExtent.Size));
                de.ChunkTree = ObjectIds.ChunkTree;
                de.ChunkObjectId = ObjectIds.FirstChunkTree;
                de.ChunkOffset = p.Logical;
                de.Length = p.Length;
                de.ChunkTreeUuid = State.ChunkTreeUuid;
            }
            var bg = new BlockGroupItem(extentTree.Insert(new Key(p.Logical, ItemType.BlockGroupItem, p.Length), BlockGroupItem.Size));
            bg.Used = 0;
            bg.ChunkObjectId = ObjectIds.FirstChunkTree;
            bg.Flags = p.Type;
            Allocator.Find(p.Logical)!.UsedOnDisk = 0;
            // DEV_ITEM bytes_used, in the chunk tree (the superblock copy follows at write-out).
            if (chunkTree.TryGetForWrite(new Key(ObjectIds.DevItems, ItemType.DevItem, _image.Super.DevItem.DevId), out var di))
                new DevItem(di).BytesUsed += p.Length * (ulong)p.Physical.Length;
            if ((p.Type & BlockGroupFlags.System) != 0) State.SysChunkArrayDirty = true;
        }
        return true;
    }

    /// <summary>Folds every pending reference change into the extent tree. Returns true when anything ran.</summary>
    private bool RunDelayedRefs()
    {
        bool any = false;
        while (_refs.Count > 0)
        {
            any = true;
            foreach (var head in _refs.TakeAll()) RunHead(head);
        }
        return any;
    }

    private void RunHead(DelayedRefHead head)
    {
        // Qgroup accounting looks at every extent whose references changed before it ran (later rounds only touch
        // the extent, root and quota trees, which no qgroup counts).
        if (!_accountingStarted) _changedExtents.Add(head.Bytenr);
        // The seed's hand-off: bytes reserved for this extent's data are accounted with it.
        if (head.QgroupReserved != 0) _accountedReservations.Add((head.QgroupReservedRoot, head.QgroupReserved));
        var extentTree = Tree(ObjectIds.ExtentTree);
        var itemKey = head.IsData
            ? new Key(head.Bytenr, ItemType.ExtentItem, head.NumBytes)
            : new Key(head.Bytenr, ItemType.MetadataItem, (ulong)head.Level);
        // Current references: the item's inline refs plus keyed refs after it.
        var refs = new Dictionary<BackrefKey, long>();
        ulong generation = head.Generation;
        ExtentFlags flags = head.IsData ? ExtentFlags.Data : ExtentFlags.TreeBlock;
        bool exists = false;
        var keyed = new List<Key>();
        var c = NewCursor();
        if (c.Seek(CurrentRoot(ObjectIds.ExtentTree), new Key(head.Bytenr, ItemType.ExtentItem, 0)))
        {
            do
            {
                if (c.ObjectId != head.Bytenr) break;
                var t = c.Type;
                if (t == itemKey.Type && c.Offset == itemKey.Offset)
                {
                    exists = true;
                    var ei = new ExtentItem(c.Data);
                    generation = ei.Generation;
                    flags = ei.Flags;
                    var r = new InlineRefReader(c.Data, ExtentItem.InlineRefStart(t, ei.Flags));
                    while (r.Next(out var ir))
                        Accumulate(refs, ir.Type switch
                        {
                            ItemType.TreeBlockRef => BackrefKey.TreeBlock(ir.Offset),
                            ItemType.SharedBlockRef => BackrefKey.SharedBlock(ir.Offset),
                            ItemType.ExtentDataRef => BackrefKey.Data(ir.Offset, ir.ObjectId, ir.FileOffset),
                            _ => BackrefKey.SharedData(ir.Offset),
                        }, ir.Count);
                    if (r.Malformed) throw Corruption.Create($"extent item {head.Bytenr}: {r.Error}", c.LeafBytenr, ObjectIds.ExtentTree, c.Slot);
                }
                else if (t is ItemType.TreeBlockRef or ItemType.SharedBlockRef or ItemType.ExtentDataRef or ItemType.SharedDataRef)
                {
                    keyed.Add(c.Key);
                    var d = c.Data;
                    switch (t)
                    {
                        case ItemType.TreeBlockRef: Accumulate(refs, BackrefKey.TreeBlock(c.Offset), 1); break;
                        case ItemType.SharedBlockRef: Accumulate(refs, BackrefKey.SharedBlock(c.Offset), 1); break;
                        case ItemType.SharedDataRef: Accumulate(refs, BackrefKey.SharedData(c.Offset), new SharedDataRef(d).Count); break;
                        case ItemType.ExtentDataRef:
                            var dr = new ExtentDataRef(d);
                            Accumulate(refs, BackrefKey.Data(dr.Root, dr.ObjectId, dr.Offset), dr.Count);
                            break;
                    }
                }
                else if (t is ItemType.ExtentItem or ItemType.MetadataItem) break; // another extent at the same start? no: next extent
            } while (c.Next());
        }
        if (!exists && !head.IsNew && head.Deltas.Count > 0)
            throw Corruption.Create($"extent {head.Bytenr}: no extent item to change references of", head.Bytenr, ObjectIds.ExtentTree);

        foreach (var (k, d) in head.Deltas) Accumulate(refs, k, d);
        long total = 0;
        foreach (var (k, v) in refs)
        {
            // The reference to drop is not in the extent tree: a damaged extent tree (the kernel aborts with EUCLEAN).
            if (v < 0) throw Corruption.Create($"extent {head.Bytenr}: reference {k} to drop is not in the extent tree ({v})", head.Bytenr, ObjectIds.ExtentTree);
            total += v;
        }
        if (head.SetFullBackref) flags |= ExtentFlags.FullBackref;

        // Remove what is there; write it back in canonical form (or not at all).
        foreach (var k in keyed) extentTree.Delete(k);
        if (exists) extentTree.Delete(itemKey);

        if (total == 0)
        {
            if (exists || head.IsNew)
            {
                // A block losing its last reference without having been emptied (a dropped tree's root, committed or
                // made in this transaction) takes its edges with it; read it before it leaves the dirty set.
                byte[]? block = !head.IsData && !head.ChildrenHandled ? Read(head.Bytenr, new NodeExpectation(0, head.Level, 0)) : null;
                Allocator.Free(head.Bytenr, head.NumBytes, head.IsNew);
                _dirty.Remove(head.Bytenr);
                State.FreedThisCommit.Add(head.Bytenr);
                if (head.IsData) DeleteCsums(head.Bytenr, head.NumBytes);
                else if (block != null)
                {
                    ulong owner = new NodeHeader(block).Owner;
                    bool full = (flags & ExtentFlags.FullBackref) != 0;
                    var rule = OldRule(head.Bytenr, owner, full);
                    ForEachEdge(block, head.Level, e => AddEdge(e, rule, -1));
                }
            }
            return;
        }
        if (!head.IsData && _dropped.Count > 0 && (flags & ExtentFlags.FullBackref) == 0 && head.Deltas.Any(d => d.Value < 0))
            flags |= ConvertDroppedOwner(head);
        WriteExtentItem(extentTree, itemKey, head.IsData, generation, flags, refs, total);
    }

    /// <summary>
    /// The kernel's snapshot drop (walk_down_proc): a block that a dropped tree owns and another tree still uses (a
    /// later snapshot shares it) switches to full backrefs: its children are then referenced by this block, not by
    /// the dropped root, whose keyed references go. Returns the flag to set (or none when the owner lives).
    /// </summary>
    private ExtentFlags ConvertDroppedOwner(DelayedRefHead head)
    {
        var block = Read(head.Bytenr, new NodeExpectation(0, head.Level, 0));
        ulong owner = new NodeHeader(block).Owner;
        if (!_dropped.Contains(owner)) return 0;
        ForEachEdge(block, head.Level, e => AddEdge(e, OldRule(head.Bytenr, 0, true), +1));
        ForEachEdge(block, head.Level, e => AddEdge(e, OldRule(head.Bytenr, owner, false), -1));
        return ExtentFlags.FullBackref;
    }

    private static void Accumulate(Dictionary<BackrefKey, long> refs, in BackrefKey k, long delta)
    {
        long v = refs.GetValueOrDefault(k) + delta;
        if (v == 0) refs.Remove(k); else refs[k] = v;
    }

    // The kernel keeps an extent item at most ((leaf data size) >> 4) - 25 bytes; further refs are keyed items.
    private int MaxExtentItemSize => ((NodeSize - NodeHeader.Size) >> 4) - ItemHeader.Size;

    private void WriteExtentItem(CowTree extentTree, Key itemKey, bool isData, ulong generation, ExtentFlags flags,
        Dictionary<BackrefKey, long> refs, long total)
    {
        var ordered = refs.OrderBy(r => (byte)r.Key.Type).ThenByDescending(r => r.Key.SortValue).ToList();
        int size = ExtentItem.Size;
        int inlineCount = 0;
        foreach (var r in ordered)
        {
            int s = InlineRef.SizeOf(r.Key.Type);
            // A tree block ref stands for one reference; a data ref carries a count.
            if (size + s > MaxExtentItemSize) break;
            size += s;
            inlineCount++;
        }
        var data = extentTree.Insert(itemKey, size);
        var ei = new ExtentItem(data);
        ei.Refs = (ulong)total;
        ei.Generation = generation;
        ei.Flags = flags;
        int pos = ExtentItem.Size;
        for (int i = 0; i < inlineCount; i++)
        {
            var (k, v) = (ordered[i].Key, ordered[i].Value);
            pos += InlineRef.Write(data[pos..], k.Type, k.Root, k.ObjectId, k.Offset, (uint)v);
        }
        for (int i = inlineCount; i < ordered.Count; i++)
        {
            var (k, v) = (ordered[i].Key, ordered[i].Value);
            switch (k.Type)
            {
                case ItemType.TreeBlockRef:
                case ItemType.SharedBlockRef:
                    extentTree.Insert(new Key(itemKey.ObjectId, k.Type, k.Root), 0);
                    break;
                case ItemType.SharedDataRef:
                    new SharedDataRef(extentTree.Insert(new Key(itemKey.ObjectId, k.Type, k.Root), SharedDataRef.Size)).Count = (uint)v;
                    break;
                case ItemType.ExtentDataRef:
                    ulong hash = Checksums.ExtentDataRefHash(k.Root, k.ObjectId, k.Offset);
                    while (extentTree.Contains(new Key(itemKey.ObjectId, k.Type, hash))) hash++; // collision: next offset, as the kernel does
                    var dr = new ExtentDataRef(extentTree.Insert(new Key(itemKey.ObjectId, k.Type, hash), ExtentDataRef.Size));
                    dr.Root = k.Root; dr.ObjectId = k.ObjectId; dr.Offset = k.Offset; dr.Count = (uint)v;
                    break;
            }
        }
    }

    /// <summary>Removes the checksums of [start, start+len) from the csum tree (a data extent was freed).</summary>
    public void DeleteCsums(ulong start, ulong len)
    {
        var csum = Tree(ObjectIds.CsumTree);
        ulong end = start + len;
        ulong sector = (ulong)_image.SectorSize;
        // Items are keyed by their first sector; one may begin before `start` and reach into the range, but no
        // item spans more sectors than one leaf can hold checksums for.
        ulong maxSpan = (ulong)((NodeSize - NodeHeader.Size - ItemHeader.Size) / Checksums.CsumSize) * sector;
        var c = NewCursor();
        var hits = new List<(Key Key, byte[] Data)>();
        if (c.Seek(CurrentRoot(ObjectIds.CsumTree), new Key(ObjectIds.ExtentCsum, ItemType.ExtentCsum, start > maxSpan ? start - maxSpan : 0)))
        {
            do
            {
                if (c.ObjectId != ObjectIds.ExtentCsum || c.Type != ItemType.ExtentCsum) break;
                ulong s = c.Offset, e = s + (ulong)(c.DataSize / Checksums.CsumSize) * sector;
                if (s >= end) break;
                if (e > start) hits.Add((c.Key, c.Data.ToArray()));
            } while (c.Next());
        }
        foreach (var (key, data) in hits)
        {
            ulong s = key.Offset, e = s + (ulong)(data.Length / Checksums.CsumSize) * sector;
            csum.Delete(key);
            if (s < start)
            {
                int n = (int)((start - s) / sector) * Checksums.CsumSize;
                data.AsSpan(0, n).CopyTo(csum.Insert(new Key(ObjectIds.ExtentCsum, ItemType.ExtentCsum, s), n));
            }
            if (e > end)
            {
                int skip = (int)((end - s) / sector) * Checksums.CsumSize;
                data.AsSpan(skip).CopyTo(csum.Insert(new Key(ObjectIds.ExtentCsum, ItemType.ExtentCsum, end), data.Length - skip));
            }
        }
    }

    private bool UpdateBlockGroupItems()
    {
        bool any = false;
        foreach (var g in Allocator.Groups)
        {
            if (g.Used == g.UsedOnDisk) continue;
            var extentTree = Tree(ObjectIds.ExtentTree);
            if (!extentTree.TryGetForWrite(new Key(g.Start, ItemType.BlockGroupItem, g.Length), out var d))
                throw Corruption.Create($"block group {g.Start} has no BLOCK_GROUP_ITEM", g.Start, ObjectIds.ExtentTree);
            new BlockGroupItem(d).Used = g.Used;
            g.UsedOnDisk = g.Used;
            any = true;
        }
        return any;
    }

    /// <summary>Rewrites the free space tree entries of every block group whose allocation changed.</summary>
    private bool UpdateFreeSpaceTree()
    {
        if ((_image.Super.CompatRoFlags & CompatRoFlags.FreeSpaceTree) == 0) return false;
        bool any = false;
        foreach (var g in Allocator.Groups)
        {
            if (!g.AllocationChanged) continue;
            g.AllocationChanged = false;
            any = true;
            var fst = Tree(ObjectIds.FreeSpaceTree);
            // Drop the group's entries (info, extents, bitmaps), then write info + one extent per free run.
            var old = new List<Key>();
            var c = NewCursor();
            if (c.Seek(CurrentRoot(ObjectIds.FreeSpaceTree), new Key(g.Start, 0, 0)))
                do
                {
                    if (c.ObjectId >= g.End) break;
                    if (c.Type is ItemType.FreeSpaceInfo or ItemType.FreeSpaceExtent or ItemType.FreeSpaceBitmap) old.Add(c.Key);
                } while (c.Next());
            foreach (var k in old) fst.Delete(k);
            var free = new RangeSet();
            free.Add(g.Start, g.End);
            foreach (var (s, e) in g.Allocated.Ranges) free.Remove(s, e);
            var info = new FreeSpaceInfoItem(fst.Insert(new Key(g.Start, ItemType.FreeSpaceInfo, g.Length), FreeSpaceInfoItem.Size));
            info.ExtentCount = (uint)free.Count;
            info.Flags = 0;
            foreach (var (s, e) in free.Ranges) fst.Insert(new Key(s, ItemType.FreeSpaceExtent, e - s), 0);
        }
        return any;
    }

    private void UpdateQgroupStatusGeneration()
    {
        if (!HasTree(ObjectIds.QuotaTree)) return;
        if (Tree(ObjectIds.QuotaTree).TryGetForWrite(new Key(0, ItemType.QgroupStatus, 0), out var d))
            new QgroupStatusItem(d).Generation = Generation;
    }

    /// <summary>Points every changed tree's ROOT_ITEM at its new root. Returns true when any item changed.</summary>
    private bool UpdateRootItems()
    {
        bool any = false;
        foreach (var t in _trees.Values.ToList())
        {
            if (t.TreeId is ObjectIds.RootTree or ObjectIds.ChunkTree) continue;
            var rootTree = Tree(ObjectIds.RootTree);
            var c = NewCursor();
            if (!c.SeekPrefix(CurrentRoot(ObjectIds.RootTree), t.TreeId, ItemType.RootItem))
                throw new InvalidOperationException($"tree {t.TreeId} changed but has no ROOT_ITEM");
            var key = c.Key;
            var ri = new RootItem(c.Data);
            if (ri.Bytenr == t.RootBytenr && ri.Level == t.RootLevel && ri.Generation == t.RootGeneration) continue;
            rootTree.TryGetForWrite(key, out var d);
            var w = new RootItem(d);
            w.Bytenr = t.RootBytenr;
            w.Level = (byte)t.RootLevel;
            w.Generation = t.RootGeneration;
            if (!w.IsLegacy) w.GenerationV2 = t.RootGeneration;
            any = true;
        }
        return any;
    }

    /// <summary>Writes every dirty block, then the superblocks; the device is flushed before and after.</summary>
    private void WriteOut()
    {
        var dev = _image.Device;
        WritePendingData();
        foreach (var (bytenr, buf) in _dirty.OrderBy(kv => kv.Key))
        {
            Checksums.StampBlockCsum(buf);
            var chunk = _image.Chunks.Find(bytenr) ?? throw new InvalidOperationException($"dirty block {bytenr} is not mapped");
            foreach (var phys in chunk.PhysicalStripes)
                dev.Write(buf, (long)(phys + (bytenr - chunk.Logical)));
        }
        dev.Flush();

        var super = _image.SuperBytes.ToArray();
        var sb = new Superblock(super);
        var root = CurrentRoot(ObjectIds.RootTree);
        var chunkRoot = CurrentRoot(ObjectIds.ChunkTree);
        sb.Generation = Generation;
        sb.Root = root.Bytenr;
        sb.RootLevel = root.Level;
        if (_trees.ContainsKey(ObjectIds.ChunkTree))
        {
            sb.ChunkRoot = chunkRoot.Bytenr;
            sb.ChunkRootLevel = chunkRoot.Level;
            sb.ChunkRootGeneration = chunkRoot.Generation;
        }
        sb.BytesUsed = Allocator.TotalUsed;
        if (HasTree(ObjectIds.UuidTree)) sb.UuidTreeGeneration = Generation;
        // The superblock's DEV_ITEM copy equals the chunk tree's.
        var c = NewCursor();
        if (c.Find(chunkRoot, new Key(ObjectIds.DevItems, ItemType.DevItem, sb.DevItem.DevId)))
            c.Data[..DevItem.Size].CopyTo(super.AsSpan(Superblock.Offsets.DevItem, DevItem.Size));
        if (State.SysChunkArrayDirty) RebuildSysChunkArray(sb, chunkRoot);
        FillBackupRoot(sb);

        // The primary superblock is the commit point. Once its write has begun, a failure leaves the outcome unknown
        // (it may be on disk): the in-memory state can no longer be trusted either way (rolled back, the next
        // transaction would reuse blocks the new generation may be using), so the handle refuses to go on.
        sb.Bytenr = (ulong)Superblock.PrimaryOffset;
        sb.StampCsum();
        try
        {
            dev.Write(super, Superblock.PrimaryOffset);
            dev.Flush();
        }
        catch (IOException ex)
        {
            _image.FailWrites($"the commit of generation {Generation} failed at its superblock ({ex.Message})");
            throw new IOException($"{dev.Name}: writing the superblock of generation {Generation} failed; the commit may or may not be on disk. Reopen the device to continue.", ex);
        }

        // The commit is durable. Mirrors are redundancy: like the kernel, a failure to write one is not the commit's
        // failure (the primary is authoritative; the next commit rewrites the mirrors).
        for (int m = 1; m < 3; m++)
        {
            long off = Superblock.MirrorOffset(m);
            if (off + Superblock.Size > dev.Length) break;
            sb.Bytenr = (ulong)off;
            sb.StampCsum();
            try { dev.Write(super, off); }
            catch (IOException ex) { _image.Warnings.Add($"generation {Generation}: superblock mirror {m} at {off} not written: {ex.Message}"); }
        }
        try { dev.Flush(); }
        catch (IOException ex) { _image.Warnings.Add($"generation {Generation}: flushing the superblock mirrors failed: {ex.Message}"); }
        sb.Bytenr = (ulong)Superblock.PrimaryOffset;
        sb.StampCsum();

        _done = true;
        var roots = new Dictionary<ulong, TreeRoot>();
        foreach (var t in _trees.Values) roots[t.TreeId] = new TreeRoot(t.TreeId, t.RootBytenr, (byte)t.RootLevel, t.RootGeneration);
        var dropped = _dropped.Where(id => !_trees.ContainsKey(id)).ToList();
        foreach (var b in _dirty.Keys) _image.Nodes.Invalidate(b);
        foreach (var b in State.FreedThisCommit) _image.Nodes.Invalidate(b);
        State.FreedThisCommit.Clear();
        State.SysChunkArrayDirty = false;
        State.NewChunkItems.Clear();
        Allocator.Unpin();
        foreach (var g in Allocator.Groups) g.IsNew = false;
        _image.ApplyCommit(super, roots, dropped);
        State.EndTransaction(this, committed: true);
    }

    private void RebuildSysChunkArray(Superblock sb, TreeRoot chunkRoot)
    {
        var arr = sb.SysChunkArray;
        arr.Clear();
        int pos = 0;
        var c = NewCursor();
        if (c.SeekPrefix(chunkRoot, ObjectIds.FirstChunkTree, ItemType.ChunkItem))
        {
            do
            {
                if (c.Type != ItemType.ChunkItem) continue;
                var chunk = new ChunkItem(c.Data);
                if ((chunk.Type & BlockGroupFlags.System) == 0) continue;
                int need = Key.Size + c.DataSize;
                if (pos + need > Superblock.SysChunkArrayMax) throw new NoSpaceException("sys_chunk_array is full");
                c.Key.Write(arr[pos..]);
                c.Data.CopyTo(arr[(pos + Key.Size)..]);
                pos += need;
            } while (c.Next());
        }
        sb.SysChunkArraySize = (uint)pos;
    }

    // Backup root slots are filled round robin, like the kernel: the slot after the newest one.
    private void FillBackupRoot(Superblock sb)
    {
        int newest = -1;
        ulong newestGen = 0;
        for (int i = 0; i < Superblock.BackupRootCount; i++)
        {
            var br = sb.BackupRoot(i);
            if (br.TreeRootGen >= newestGen && br.TreeRoot != 0) { newestGen = br.TreeRootGen; newest = i; }
        }
        var slot = sb.BackupRoot((newest + 1) % Superblock.BackupRootCount);
        TreeRoot R(ulong id) => HasTree(id) ? CurrentRoot(id) : default;
        var r = R(ObjectIds.RootTree); slot.TreeRoot = r.Bytenr; slot.TreeRootGen = r.Generation; slot.TreeRootLevel = r.Level;
        r = R(ObjectIds.ChunkTree); slot.ChunkRoot = r.Bytenr; slot.ChunkRootGen = r.Generation; slot.ChunkRootLevel = r.Level;
        r = R(ObjectIds.ExtentTree); slot.ExtentRoot = r.Bytenr; slot.ExtentRootGen = r.Generation; slot.ExtentRootLevel = r.Level;
        r = R(ObjectIds.FsTree); slot.FsRoot = r.Bytenr; slot.FsRootGen = r.Generation; slot.FsRootLevel = r.Level;
        r = R(ObjectIds.DevTree); slot.DevRoot = r.Bytenr; slot.DevRootGen = r.Generation; slot.DevRootLevel = r.Level;
        r = R(ObjectIds.CsumTree); slot.CsumRoot = r.Bytenr; slot.CsumRootGen = r.Generation; slot.CsumRootLevel = r.Level;
        slot.TotalBytes = sb.TotalBytes;
        slot.BytesUsed = sb.BytesUsed;
        slot.NumDevices = sb.NumDevices;
    }
}
