using System.Buffers;
using BtrfsLite.Format;
using BtrfsLite.IO;

namespace BtrfsLite.Trees;

/// <summary>
/// One tree being changed in a transaction: btrfs_search_slot with a CoW path, item insert/resize/delete,
/// leaf and node splits, merges on delete, root growth and collapse. Blocks come from an
/// <see cref="ITreeBlockStore"/>; every block on a path that is about to change is made dirty top-down
/// (<see cref="ITreeBlockStore.Cow"/>) first, and the parent key pointer then gets the copy's bytenr and
/// generation.
/// <para>
/// Spans returned by this class point into dirty blocks and stay valid until the next call on this tree.
/// Nothing here allocates per call beyond the blocks the store hands out (a resize that has to move an item to
/// another leaf borrows a pooled buffer).
/// </para>
/// <para>
/// Policy. Insert: a leaf that lacks room is split (no push into siblings): in the middle by bytes, except
/// that ascending (descending) runs of inserts keep the full leaf and start a new one with the new item
/// (sequential inserts give full leaves). An item that fits in neither half of a 2-way split gets a leaf of its
/// own (3-way split). Full nodes split in the middle, or the same append way. A root that splits gets a new
/// root one level up. Delete: an emptied non-root leaf is freed; a leaf that falls under a quarter of its data
/// area is merged into its left sibling, else its right sibling into it, when the two fit in one leaf (same
/// parent only, like push_leaf_left/right). Nodes likewise at a quarter of their pointer capacity. A node root
/// left with one child is replaced by that child (CoWed first) until the root is a leaf or has two children.
/// </para>
/// </summary>
public sealed class CowTree
{
    private const int MaxDepth = NodeHeader.MaxLevel;
    private const int I = ItemHeader.Size;

    private readonly ITreeBlockStore _store;
    private readonly int _dataArea, _maxPtrs, _leafMergeBelow, _nodeMergeBelow;

    // The current path, leaf at index 0. Valid after Descend until a structural change.
    private readonly ulong[] _pathBytenr = new ulong[MaxDepth + 1];
    private readonly byte[][] _pathBuf = new byte[MaxDepth + 1][];
    private readonly int[] _pathSlot = new int[MaxDepth + 1];
    private bool _pathDirty;   // every block on the path is dirty (CowPath done)
    private bool _cursorValid; // write cursor positioned on an item
    private Key _lastInsert;
    private bool _haveLastInsert;

    public CowTree(ITreeBlockStore store, ulong treeId, ulong rootBytenr, int rootLevel, ulong rootGeneration)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (rootLevel < 0 || rootLevel >= MaxDepth) throw new ArgumentOutOfRangeException(nameof(rootLevel));
        _store = store;
        TreeId = treeId;
        RootBytenr = rootBytenr;
        RootLevel = rootLevel;
        RootGeneration = rootGeneration;
        NodeSize = store.NodeSize;
        _dataArea = NodeSize - NodeHeader.Size;
        _maxPtrs = InternalNode.MaxItems(NodeSize);
        _leafMergeBelow = _dataArea / 4;
        _nodeMergeBelow = _maxPtrs / 4;
        for (int i = 0; i < _pathBuf.Length; i++) _pathBuf[i] = Array.Empty<byte>();
    }

    /// <summary>A new tree whose root is one empty leaf.</summary>
    public static CowTree CreateEmpty(ITreeBlockStore store, ulong treeId)
    {
        ArgumentNullException.ThrowIfNull(store);
        var (bytenr, _) = store.Allocate(treeId, 0);
        var t = new CowTree(store, treeId, bytenr, 0, store.Generation) { RootChanged = true };
        return t;
    }

    public ulong TreeId { get; }
    public int NodeSize { get; }
    public ulong RootBytenr { get; private set; }
    public int RootLevel { get; private set; }
    public ulong RootGeneration { get; private set; }
    /// <summary>The root block changed (CoW, growth, collapse, or a new tree): the owner must record the new root (ROOT_ITEM / superblock).</summary>
    public bool RootChanged { get; private set; }
    public void AcknowledgeRootChange() => RootChanged = false;
    public TreeRoot Root => new(TreeId, RootBytenr, (byte)RootLevel, RootGeneration);

    /// <summary>Largest payload one item can have (nodesize - header - item header; 16258 for 16 KiB).</summary>
    public int MaxItemSize => _dataArea - I;

    // ================================================================ lookups without CoW

    public bool Contains(in Key key) => Descend(key);

    /// <summary>Read-only lookup; the span is valid until the next call on this tree.</summary>
    public bool TryGet(scoped in Key key, out ReadOnlySpan<byte> data)
    {
        if (!Descend(key)) { data = default; return false; }
        data = LeafOps.Data(_pathBuf[0], _pathSlot[0]);
        return true;
    }

    // ================================================================ point writes

    /// <summary>CoWs the path to <paramref name="key"/> and returns its payload writable (nothing is CoWed when absent).</summary>
    public bool TryGetForWrite(scoped in Key key, out Span<byte> data)
    {
        if (!Descend(key)) { data = default; return false; }
        CowPath();
        data = LeafOps.Data(_pathBuf[0], _pathSlot[0]);
        return true;
    }

    /// <summary>Inserts a new item with a zeroed payload of <paramref name="size"/> bytes and returns the payload to fill.</summary>
    /// <exception cref="InvalidOperationException">The key exists already (use <see cref="TryInsert"/> to test).</exception>
    public Span<byte> Insert(scoped in Key key, int size)
    {
        if (!TryInsert(key, size, out var data)) ThrowDuplicate(key);
        return data;
    }

    /// <summary>Like <see cref="Insert"/>, but false (and nothing changed or CoWed) when the key exists.</summary>
    public bool TryInsert(scoped in Key key, int size, out Span<byte> data)
    {
        CheckSize(size);
        if (Descend(key)) { data = default; return false; }
        CowPath();
        data = InsertAtPath(key, size);
        return true;
    }

    /// <summary>The payload of <paramref name="key"/> resized to <paramref name="size"/> (bytes kept from the start, new bytes zero), or a new zeroed item.</summary>
    public Span<byte> InsertOrResize(scoped in Key key, int size)
    {
        CheckSize(size);
        bool found = Descend(key);
        CowPath();
        return found ? ResizeAtPath(key, size) : InsertAtPath(key, size);
    }

    /// <summary>
    /// btrfs_extend_item / btrfs_truncate_item (from the end): the payload keeps its first bytes, grows with zeroes or
    /// loses its tail. An item that no longer fits its leaf moves (split).
    /// </summary>
    /// <exception cref="KeyNotFoundException">No such item.</exception>
    public Span<byte> Resize(scoped in Key key, int newSize)
    {
        CheckSize(newSize);
        if (!Descend(key)) ThrowNotFound(key);
        CowPath();
        return ResizeAtPath(key, newSize);
    }

    /// <summary>Deletes one item; false when absent (nothing CoWed).</summary>
    public bool Delete(in Key key)
    {
        if (!Descend(key)) return false;
        CowPath();
        int slot = _pathSlot[0];
        LeafOps.DeleteItems(_pathBuf[0], slot, 1);
        AfterLeafDelete(slot);
        return true;
    }

    /// <summary>
    /// Deletes every item with <paramref name="from"/> &lt;= key &lt;= <paramref name="toInclusive"/>; returns how many.
    /// Works a leaf at a time (one btrfs_del_items per leaf); leaves outside the range are not CoWed.
    /// </summary>
    public int DeleteRange(Key from, Key toInclusive)
    {
        _cursorValid = false;
        if (from > toInclusive) return 0;
        int count = 0;
        Key cur = from;
        while (true)
        {
            Descend(cur);
            byte[] leaf = _pathBuf[0];
            int s = _pathSlot[0];
            if (s >= LeafOps.Nr(leaf))
            {
                if (!NextLeafKey(out var next)) break;
                cur = next; // no item in [cur, next) exists
                continue;
            }
            if (Key.CompareRaw(new Leaf(leaf).RawKey(s), toInclusive) > 0) break;
            CowPath();
            leaf = _pathBuf[0];
            int n = LeafOps.Nr(leaf);
            int e = s + 1;
            var l = new Leaf(leaf);
            while (e < n && Key.CompareRaw(l.RawKey(e), toInclusive) <= 0) e++;
            LeafOps.DeleteItems(leaf, s, e - s);
            count += e - s;
            AfterLeafDelete(s);
            if (e < n) break; // the leaf still held a key beyond the range
        }
        _pathDirty = false;
        return count;
    }

    // ================================================================ write cursor

    /// <summary>
    /// Positions the write cursor at the first item &gt;= <paramref name="key"/>, its leaf CoWed; false at the end.
    /// Any other call on this tree ends the cursor.
    /// </summary>
    public bool Seek(in Key key)
    {
        Descend(key);
        if (_pathSlot[0] >= LeafOps.Nr(_pathBuf[0]))
        {
            if (!NextLeafKey(out var next)) { _cursorValid = false; return false; }
            Descend(next);
        }
        CowPath();
        _cursorValid = true;
        return true;
    }

    public bool CursorValid => _cursorValid;
    public Key CurrentKey { get { EnsureCursor(); return new Leaf(_pathBuf[0]).Key(_pathSlot[0]); } }
    /// <summary>The current item's payload, writable.</summary>
    public Span<byte> CurrentData { get { EnsureCursor(); return LeafOps.Data(_pathBuf[0], _pathSlot[0]); } }
    public int CurrentSize { get { EnsureCursor(); return LeafOps.Size(_pathBuf[0], _pathSlot[0]); } }

    /// <summary>Moves to the next item (CoWing the next leaf's path when the cursor crosses leaves).</summary>
    public bool MoveNext()
    {
        EnsureCursor();
        if (++_pathSlot[0] < LeafOps.Nr(_pathBuf[0])) return true;
        if (!NextLeafKey(out var next)) { _cursorValid = false; return false; }
        Descend(next);
        CowPath();
        _cursorValid = true;
        return true;
    }

    /// <summary>Deletes the current item; the cursor moves to the next one (false when none is left).</summary>
    public bool DeleteCurrent()
    {
        EnsureCursor();
        byte[] leaf = _pathBuf[0];
        int slot = _pathSlot[0];
        var key = new Leaf(leaf).Key(slot);
        LeafOps.DeleteItems(leaf, slot, 1);
        if (AfterLeafDelete(slot) && slot < LeafOps.Nr(leaf))
        {
            _cursorValid = true;
            return true;
        }
        return Seek(key);
    }

    /// <summary>Resizes the current item (see <see cref="Resize"/>); the cursor stays on it.</summary>
    public Span<byte> ResizeCurrent(int newSize)
    {
        EnsureCursor();
        CheckSize(newSize);
        var key = new Leaf(_pathBuf[0]).Key(_pathSlot[0]);
        var data = ResizeAtPath(key, newSize);
        _cursorValid = true;
        return data;
    }

    // ================================================================ search

    /// <summary>btrfs_search_slot without CoW: fills the path; slot 0 = the item or its insertion point.</summary>
    private bool Descend(in Key key)
    {
        _cursorValid = false;
        _pathDirty = false;
        int level = RootLevel;
        ulong bytenr = RootBytenr;
        byte[] buf = _store.Read(bytenr, new NodeExpectation(RootGeneration, level, 0));
        while (level > 0)
        {
            _pathBytenr[level] = bytenr;
            _pathBuf[level] = buf;
            var node = new InternalNode(buf);
            int s = node.ChildSlot(key, out _);
            _pathSlot[level] = s;
            bytenr = node.BlockPtr(s);
            buf = _store.Read(bytenr, new NodeExpectation(node.PtrGeneration(s), level - 1, 0, node.Key(s), true));
            level--;
        }
        _pathBytenr[0] = bytenr;
        _pathBuf[0] = buf;
        int slot = new Leaf(buf).Search(key);
        _pathSlot[0] = slot >= 0 ? slot : ~slot;
        return slot >= 0;
    }

    /// <summary>btrfs_cow_block top-down along the path found by <see cref="Descend"/>.</summary>
    private void CowPath()
    {
        if (_pathDirty) return;
        int level = RootLevel;
        if (_store.IsDirty(RootBytenr))
        {
            _pathBuf[level] = _store.GetDirty(RootBytenr);
        }
        else
        {
            var (nb, buf) = _store.Cow(RootBytenr, level, RootGeneration, TreeId);
            SetRoot(nb, level);
            _pathBuf[level] = buf;
        }
        _pathBytenr[level] = RootBytenr;
        for (; level > 0; level--)
        {
            var (b, buf) = CowChild(level, _pathSlot[level]);
            _pathBytenr[level - 1] = b;
            _pathBuf[level - 1] = buf;
        }
        _pathDirty = true;
    }

    /// <summary>The child at <paramref name="slot"/> of the dirty path node at <paramref name="level"/>, made dirty.</summary>
    private (ulong Bytenr, byte[] Buffer) CowChild(int level, int slot)
    {
        byte[] parent = _pathBuf[level];
        ulong child = NodeOps.BlockPtr(parent, slot);
        if (_store.IsDirty(child)) return (child, _store.GetDirty(child));
        var (nb, buf) = _store.Cow(child, level - 1, NodeOps.PtrGeneration(parent, slot), TreeId);
        NodeOps.SetChild(parent, slot, nb, _store.Generation);
        return (nb, buf);
    }

    /// <summary>A child of the path node at <paramref name="level"/>, read only (to decide before CoWing it).</summary>
    private byte[] ReadChild(int level, int slot)
    {
        byte[] parent = _pathBuf[level];
        return _store.Read(NodeOps.BlockPtr(parent, slot), new NodeExpectation(NodeOps.PtrGeneration(parent, slot), level - 1, 0, new InternalNode(parent).Key(slot), true));
    }

    /// <summary>First key of the leaf after the path's leaf (from the lowest node with a next pointer).</summary>
    private bool NextLeafKey(out Key key)
    {
        for (int level = 1; level <= RootLevel; level++)
        {
            byte[] node = _pathBuf[level];
            int s = _pathSlot[level] + 1;
            if (s < NodeOps.Nr(node)) { key = NodeOps.KeyAt(node, s); return true; }
        }
        key = default;
        return false;
    }

    private void SetRoot(ulong bytenr, int level)
    {
        RootBytenr = bytenr;
        RootLevel = level;
        RootGeneration = _store.Generation;
        RootChanged = true;
    }

    /// <summary>fixup_low_keys: the first key of the path block at <paramref name="level"/> - 1 changed.</summary>
    private void FixKeys(int level, in Key key)
    {
        for (; level <= RootLevel; level++)
        {
            int s = _pathSlot[level];
            NodeOps.SetKey(_pathBuf[level], s, key);
            if (s != 0) break;
        }
    }

    // ================================================================ insert and split

    /// <summary>Inserts at the dirty path's insertion point, splitting as needed; returns the payload.</summary>
    private Span<byte> InsertAtPath(scoped in Key key, int size)
    {
        int need = size + I;
        bool sequential = false;
        while (true)
        {
            byte[] leaf = _pathBuf[0];
            int slot = _pathSlot[0];
            if (LeafOps.FreeSpace(leaf) >= need)
            {
                var data = LeafOps.InsertItem(leaf, slot, key, size);
                if (slot == 0) FixKeys(1, key);
                _lastInsert = key;
                _haveLastInsert = true;
                return data;
            }
            int n = LeafOps.Nr(leaf);
            // ascending / descending run: the previous insert landed right next to this one at the leaf's edge
            sequential |= _haveLastInsert && n > 0 &&
                ((slot == n && new Leaf(leaf).Key(n - 1) == _lastInsert) || (slot == 0 && new Leaf(leaf).Key(0) == _lastInsert));
            if (SplitLeaf(key, size, sequential))
            {
                Descend(key);
                CowPath(); // all dirty already: no copies
                _lastInsert = key;
                _haveLastInsert = true;
                return LeafOps.Data(_pathBuf[0], _pathSlot[0]);
            }
            Descend(key);
            CowPath();
        }
    }

    /// <summary>
    /// split_leaf: the path's leaf cannot take the new item. Splits it (2-way, the new item included) and returns
    /// true, or, when the new item fits in neither half, splits the real items at the insertion point and returns
    /// false (the caller searches again and then finds an edge slot, where a 2-way split always fits).
    /// </summary>
    private bool SplitLeaf(in Key key, int size, bool sequential)
    {
        byte[] leaf = _pathBuf[0];
        int slot = _pathSlot[0];
        int n = LeafOps.Nr(leaf);
        int need = size + I;
        int used = LeafOps.Used(leaf);
        int total = used + need;
        int m = -1; // virtual split: items [0, m) of the sequence with the new item at 'slot' stay left
        if (sequential && slot == n) m = n;
        else if (sequential && slot == 0) m = 1;
        else
        {
            long bestDiff = long.MaxValue;
            int left = 0;
            for (int v = 1; v <= n; v++)
            {
                int j = v - 1; // virtual item v-1 joins the left part
                left += j == slot ? need : j < slot ? LeafOps.RangeUsed(leaf, j, 1) : LeafOps.RangeUsed(leaf, j - 1, 1);
                if (left > _dataArea) break;
                if (total - left > _dataArea) continue;
                long diff = Math.Abs(2L * left - total);
                if (diff < bestDiff) { bestDiff = diff; m = v; }
            }
        }
        if (m < 0)
        {
            // 3-way: 0 < slot < n here (an edge slot always has a fitting 2-way split)
            MoveTailToNewLeaf(slot, out ulong rb, out byte[] rbuf);
            InsertPtr(1, _pathSlot[1] + 1, new Leaf(rbuf).Key(0), rb, append: false);
            return false;
        }
        int r = m <= slot ? m : m - 1; // real items [r, n) move right
        MoveTailToNewLeaf(r, out ulong rBytenr, out byte[] rBuf);
        if (m <= slot)
        {
            LeafOps.InsertItem(rBuf, slot - r, key, size);
        }
        else
        {
            LeafOps.InsertItem(leaf, slot, key, size);
            if (slot == 0) FixKeys(1, key);
        }
        InsertPtr(1, _pathSlot[1] + 1, new Leaf(rBuf).Key(0), rBytenr, append: sequential && slot == n);
        return true;
    }

    private void MoveTailToNewLeaf(int from, out ulong bytenr, out byte[] buf)
    {
        byte[] leaf = _pathBuf[0];
        int n = LeafOps.Nr(leaf);
        (bytenr, buf) = _store.Allocate(TreeId, 0);
        LeafOps.AppendItems(buf, leaf, from, n - from);
        LeafOps.DeleteItems(leaf, from, n - from);
    }

    /// <summary>
    /// insert_ptr into the dirty path node at <paramref name="level"/> (its path slot + 1 is the usual place), splitting
    /// full nodes upwards (split_node) and growing the tree (insert_new_root). Leaves the path stale.
    /// </summary>
    private void InsertPtr(int level, int pos, in Key key, ulong bytenr, bool append)
    {
        ulong gen = _store.Generation;
        if (level > RootLevel)
        {
            if (level >= MaxDepth) throw new InvalidOperationException($"tree {TreeId}: would grow past level {MaxDepth - 1}");
            byte[] below = _pathBuf[level - 1];
            var firstKey = level - 1 == 0 ? new Leaf(below).Key(0) : NodeOps.KeyAt(below, 0);
            var (nb, nbuf) = _store.Allocate(TreeId, level);
            NodeOps.InsertPtr(nbuf, 0, firstKey, _pathBytenr[level - 1], gen);
            NodeOps.InsertPtr(nbuf, 1, key, bytenr, gen);
            SetRoot(nb, level);
            _pathBytenr[level] = nb;
            _pathBuf[level] = nbuf;
            _pathSlot[level] = 0;
            return;
        }
        byte[] node = _pathBuf[level];
        int n = NodeOps.Nr(node);
        if (n < _maxPtrs)
        {
            NodeOps.InsertPtr(node, pos, key, bytenr, gen);
            return;
        }
        bool appendSplit = append && pos == n;
        int mid = appendSplit ? n : (n + 1) / 2;
        var (rb, rbuf) = _store.Allocate(TreeId, level);
        NodeOps.AppendPtrs(rbuf, node, mid, n - mid);
        NodeOps.RemovePtrs(node, mid, n - mid);
        if (!appendSplit && pos <= mid) NodeOps.InsertPtr(node, pos, key, bytenr, gen);
        else NodeOps.InsertPtr(rbuf, pos - mid, key, bytenr, gen);
        InsertPtr(level + 1, _pathSlot[level + 1] + 1, NodeOps.KeyAt(rbuf, 0), rb, append);
    }

    // ================================================================ resize

    private Span<byte> ResizeAtPath(scoped in Key key, int newSize)
    {
        byte[] leaf = _pathBuf[0];
        int slot = _pathSlot[0];
        int old = LeafOps.Size(leaf, slot);
        if (newSize < old) LeafOps.Truncate(leaf, slot, newSize);
        else if (newSize > old)
        {
            if (LeafOps.FreeSpace(leaf) >= newSize - old) LeafOps.Extend(leaf, slot, newSize - old);
            else return MoveResized(key, old, newSize);
        }
        return LeafOps.Data(leaf, slot);
    }

    /// <summary>The item outgrew its leaf: take it out and insert it again at its new size (splitting as an insert does).</summary>
    private Span<byte> MoveResized(scoped in Key key, int old, int newSize)
    {
        byte[] tmp = ArrayPool<byte>.Shared.Rent(Math.Max(old, 1));
        try
        {
            LeafOps.Data(_pathBuf[0], _pathSlot[0]).CopyTo(tmp);
            int slot = _pathSlot[0];
            LeafOps.DeleteItems(_pathBuf[0], slot, 1);
            AfterLeafDelete(slot);
            Descend(key);
            CowPath();
            bool haveLast = _haveLastInsert;
            var lastInsert = _lastInsert;
            var data = InsertAtPath(key, newSize);
            _haveLastInsert = haveLast;
            _lastInsert = lastInsert;
            tmp.AsSpan(0, old).CopyTo(data);
            return data;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(tmp);
        }
    }

    // ================================================================ delete and merge

    /// <summary>
    /// After items at <paramref name="slot"/> left the dirty path leaf: fix the parent keys, then free an emptied
    /// leaf or merge an under-filled one. True when the path is still valid (nothing structural happened).
    /// </summary>
    private bool AfterLeafDelete(int slot)
    {
        if (RootLevel == 0) return true;
        byte[] leaf = _pathBuf[0];
        int n = LeafOps.Nr(leaf);
        if (n > 0)
        {
            if (slot == 0) FixKeys(1, new Leaf(leaf).Key(0));
            if (LeafOps.Used(leaf) >= _leafMergeBelow) return true;
        }
        if (!Rebalance(0)) return true;
        _pathDirty = false;
        return false;
    }

    private bool UnderFilled(int level, byte[] buf) =>
        level == 0 ? LeafOps.Used(buf) < _leafMergeBelow : NodeOps.Nr(buf) < _nodeMergeBelow;

    /// <summary>
    /// The dirty path block at <paramref name="level"/> lost items. An empty block is freed and its pointer
    /// removed (btrfs_del_leaf / del_ptr); an under-filled one is merged with a same-parent sibling as long as the
    /// two fit in one block and the result is still under-filled; then the parent, which lost a pointer, gets the
    /// same treatment, up to the root, which collapses while it is a node with one child. False when nothing changed.
    /// </summary>
    private bool Rebalance(int level)
    {
        bool changed = false;
        while (true)
        {
            byte[] buf = _pathBuf[level];
            if (level == RootLevel)
            {
                if (level > 0 && NodeOps.Nr(buf) == 1) { CollapseRoot(); changed = true; }
                return changed;
            }
            int n = level == 0 ? LeafOps.Nr(buf) : NodeOps.Nr(buf);
            byte[] parent = _pathBuf[level + 1];
            int ps = _pathSlot[level + 1];
            if (n == 0)
            {
                _store.Free(_pathBytenr[level], TreeId, level);
                NodeOps.RemovePtrs(parent, ps, 1);
                if (ps == 0 && NodeOps.Nr(parent) > 0) FixKeys(level + 2, NodeOps.KeyAt(parent, 0));
                changed = true;
                level++;
                continue;
            }
            bool merged = false;
            while (UnderFilled(level, buf) && TryMergeOnce(level)) { merged = true; buf = _pathBuf[level]; }
            if (!merged) return changed;
            changed = true;
            level++; // the parent lost a pointer (never its first: merges keep the left block)
            if (level < RootLevel && !UnderFilled(level, _pathBuf[level])) return true;
        }
    }

    /// <summary>
    /// push_leaf_left/right (or balance_level for nodes) when everything fits: the path block at
    /// <paramref name="level"/> goes into its left sibling, else its right sibling comes into it. The emptied block
    /// is freed, its pointer removed without rebalancing the parent, and the path follows the surviving block.
    /// </summary>
    private bool TryMergeOnce(int level)
    {
        byte[] cur = _pathBuf[level];
        byte[] parent = _pathBuf[level + 1];
        int ps = _pathSlot[level + 1];
        if (ps > 0 && FitsTogether(level, ReadChild(level + 1, ps - 1), cur))
        {
            var (lb, left) = CowChild(level + 1, ps - 1);
            Append(level, left, cur);
            _store.Free(_pathBytenr[level], TreeId, level);
            NodeOps.RemovePtrs(parent, ps, 1);
            _pathSlot[level + 1] = ps - 1;
            _pathBuf[level] = left;
            _pathBytenr[level] = lb;
            return true;
        }
        if (ps + 1 < NodeOps.Nr(parent) && FitsTogether(level, cur, ReadChild(level + 1, ps + 1)))
        {
            var (rb, right) = CowChild(level + 1, ps + 1);
            Append(level, cur, right);
            _store.Free(rb, TreeId, level);
            NodeOps.RemovePtrs(parent, ps + 1, 1);
            return true;
        }
        return false;
    }

    private bool FitsTogether(int level, byte[] a, byte[] b) =>
        level == 0
            ? LeafOps.Used(a) + LeafOps.Used(b) <= _dataArea
            : NodeOps.Nr(a) + NodeOps.Nr(b) <= _maxPtrs;

    private static void Append(int level, byte[] dst, byte[] src)
    {
        if (level == 0) LeafOps.AppendItems(dst, src, 0, LeafOps.Nr(src));
        else NodeOps.AppendPtrs(dst, src, 0, NodeOps.Nr(src));
    }

    /// <summary>A node root with one child: the child (CoWed) becomes the root, repeatedly.</summary>
    private void CollapseRoot()
    {
        while (RootLevel > 0)
        {
            byte[] root = _store.GetDirty(RootBytenr);
            if (NodeOps.Nr(root) != 1) return;
            ulong child = NodeOps.BlockPtr(root, 0);
            int level = RootLevel;
            if (!_store.IsDirty(child))
                (child, _) = _store.Cow(child, level - 1, NodeOps.PtrGeneration(root, 0), TreeId);
            _store.Free(RootBytenr, TreeId, level);
            SetRoot(child, level - 1);
        }
    }

    // ================================================================ helpers

    private void CheckSize(int size)
    {
        if ((uint)size > (uint)MaxItemSize)
            throw new ArgumentOutOfRangeException(nameof(size), size, $"item payload must be 0..{MaxItemSize} bytes");
    }

    private void EnsureCursor()
    {
        if (!_cursorValid) throw new InvalidOperationException("the write cursor is not positioned (Seek first; other calls end it)");
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    // The tree holds an item that the structures pointing at it say is absent (a csum for data no extent covers...):
    // damage, as the kernel's EEXIST aborts are.
    private void ThrowDuplicate(in Key key) => throw Corruption.Create($"tree {(long)TreeId}: item {key} exists already", 0, TreeId);

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void ThrowNotFound(in Key key) => throw new KeyNotFoundException($"tree {TreeId}: no item {key}");
}
