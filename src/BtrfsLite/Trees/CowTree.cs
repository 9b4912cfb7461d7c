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
/// Policy, as the kernel's ctree.c: a leaf without room for an insert first pushes items into its right sibling,
/// then its left one (push_leaf_right/left, same parent), then splits by split_leaf's rules (the middle item, the
/// slot, an empty leaf for a key at an edge, push_for_double_split before a 3-way split). Nodes are balanced on the
/// way down, as btrfs_search_slot's setup_nodes_for_search does: for an insert (or a growing item) every node on
/// the path with 3 pointers or fewer to spare first pushes into its left sibling, then its right one
/// (push_nodes_for_insert), and splits in the middle only if it is still that full (split_node; a root gets a new
/// root above it first). For a delete (or a shrinking item) a node root with one child is replaced by that child,
/// and a node with a quarter of its capacity or less empties into its left sibling, takes in its right one and keeps
/// at least 2 pointers (balance_level). The delete itself only frees an emptied leaf and removes its pointer: the
/// nodes above wait for the next delete that passes through them. An emptied non-root leaf is freed; one under a
/// third of its data area pushes into its left sibling and then, all or nothing, into its right one, and is freed
/// when that empties it.
/// </para>
/// </summary>
public sealed class CowTree
{
    private const int MaxDepth = NodeHeader.MaxLevel;
    private const int I = ItemHeader.Size;

    private readonly ITreeBlockStore _store;
    private readonly int _dataArea, _maxPtrs;

    // The current path, leaf at index 0. Valid after Descend until a structural change.
    private readonly ulong[] _pathBytenr = new ulong[MaxDepth + 1];
    private readonly byte[][] _pathBuf = new byte[MaxDepth + 1][];
    private readonly int[] _pathSlot = new int[MaxDepth + 1];
    private bool _pathDirty;   // every block on the path is dirty (CowPath done)
    private bool _cursorValid; // write cursor positioned on an item

    /// <summary>
    /// A tree <paramref name="treeId"/> whose root block is at <paramref name="rootBytenr"/> (level
    /// <paramref name="rootLevel"/>, written in transaction <paramref name="rootGeneration"/>), changed through
    /// <paramref name="store"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rootLevel"/> is not 0 to 7.</exception>
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

    /// <summary>The tree's id (root objectid: 1 root tree, 2 extent tree, 5 or 256 and up for subvolumes...).</summary>
    public ulong TreeId { get; }
    /// <summary>The tree block size in bytes (the store's nodesize).</summary>
    public int NodeSize { get; }
    /// <summary>The root block's logical address.</summary>
    public ulong RootBytenr { get; private set; }
    /// <summary>The root block's level (0: the root is a leaf).</summary>
    public int RootLevel { get; private set; }
    /// <summary>The generation (transid) of the root block.</summary>
    public ulong RootGeneration { get; private set; }
    /// <summary>The root block changed (CoW, growth, collapse, or a new tree): the owner must record the new root (ROOT_ITEM / superblock).</summary>
    public bool RootChanged { get; private set; }
    /// <summary>Clears <see cref="RootChanged"/> once the new root has been recorded.</summary>
    public void AcknowledgeRootChange() => RootChanged = false;

    /// <summary>
    /// How many item changes this tree has had (inserts, resizes, deletes, payloads handed out for writing): the
    /// transaction sums them, so that a caller can tell whether a failed operation changed anything.
    /// </summary>
    public long Changes { get; private set; }
    /// <summary>The current root as a <see cref="TreeRoot"/>.</summary>
    public TreeRoot Root => new(TreeId, RootBytenr, (byte)RootLevel, RootGeneration);

    /// <summary>Largest payload one item can have (nodesize - header - item header; 16258 for 16 KiB).</summary>
    public int MaxItemSize => _dataArea - I;

    // ================================================================ lookups without CoW

    /// <summary>True when the tree has an item with exactly <paramref name="key"/> (nothing is CoWed).</summary>
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
    public bool TryGetForWrite(scoped in Key key, out Span<byte> data) => TryGetWritable(key, forDelete: false, out data);

    /// <summary>
    /// Like <see cref="TryGetForWrite"/>, but the path's nodes are balanced as for a delete (a search with ins_len -1:
    /// the kernel's lookups of an item it updates and may delete next, btrfs_lookup_inode with mod -1).
    /// </summary>
    public bool TryGetForDelete(scoped in Key key, out Span<byte> data) => TryGetWritable(key, forDelete: true, out data);

    private bool TryGetWritable(scoped in Key key, bool forDelete, out Span<byte> data)
    {
        if (!Descend(key)) { data = default; return false; }
        if (forDelete) CowPathForDelete(); else CowPath();
        Changes++;
        data = LeafOps.Data(_pathBuf[0], _pathSlot[0]);
        return true;
    }

    /// <summary>
    /// One round of btrfs_truncate_inode_items: a delete's search for <paramref name="last"/>, then the items from
    /// there back to <paramref name="first"/> that share its leaf go in one btrfs_del_items. Returns how many (0: no
    /// item of the range is left). Call until 0 to delete the range from its end, a leaf at a time.
    /// </summary>
    public int DeleteLastRun(Key first, Key last)
    {
        _cursorValid = false;
        bool found = Descend(last);
        int s = found ? _pathSlot[0] : _pathSlot[0] - 1;
        if (s < 0) return 0;
        var l = new Leaf(_pathBuf[0]);
        if (Key.CompareRaw(l.RawKey(s), first) < 0) return 0;
        int e = s;
        while (e > 0 && Key.CompareRaw(l.RawKey(e - 1), first) >= 0) e--;
        CowPathForDelete();
        LeafOps.DeleteItems(_pathBuf[0], e, s - e + 1);
        AfterLeafDelete(e);
        return s - e + 1;
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
        CowPathForInsert();
        data = InsertAtPath(key, size);
        return true;
    }

    /// <summary>
    /// btrfs_insert_empty_items: inserts <paramref name="keys"/> (ascending, none of them or anything between them in
    /// the tree) with zeroed payloads of <paramref name="sizes"/> bytes side by side in one leaf, making room for all of
    /// them at once (one split decision for the batch, as the kernel's delayed directory index items get). The write
    /// cursor is left on the first of them: fill them with <see cref="CurrentData"/> and <see cref="MoveNext"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The keys are not ascending, the counts differ, or the batch does not fit one leaf.</exception>
    /// <exception cref="InvalidDataException">The first key exists already (the structures that led here say it is absent).</exception>
    public void InsertBatch(ReadOnlySpan<Key> keys, ReadOnlySpan<int> sizes)
    {
        if (keys.Length != sizes.Length || keys.Length == 0) throw new ArgumentException("one size per key, at least one key");
        int total = 0;
        for (int i = 0; i < keys.Length; i++)
        {
            CheckSize(sizes[i]);
            if (i > 0 && keys[i - 1] >= keys[i]) throw new ArgumentException($"batch keys not ascending at {i}");
            total += sizes[i] + I;
        }
        if (total > _dataArea) throw new ArgumentException($"batch of {total} bytes does not fit a leaf");
        if (Descend(keys[0])) ThrowDuplicate(keys[0]);
        // The item after the batch's place must come after its last key (checked before anything changes).
        bool inside = _pathSlot[0] < LeafOps.Nr(_pathBuf[0])
            ? Key.CompareRaw(new Leaf(_pathBuf[0]).RawKey(_pathSlot[0]), keys[^1]) <= 0
            : NextLeafKey(out var next) && next <= keys[^1];
        if (inside) throw new ArgumentException($"tree {TreeId}: an item lies inside the batch {keys[0]}..{keys[^1]}");
        CowPathForInsert();
        Changes++;
        MakeRoom(keys[0], total, extend: false);
        byte[] leaf = _pathBuf[0];
        int slot = _pathSlot[0];
        for (int i = 0; i < keys.Length; i++) LeafOps.InsertItem(leaf, slot + i, keys[i], sizes[i]);
        if (slot == 0) FixKeys(1, keys[0]);
        _cursorValid = true;
    }

    /// <summary>
    /// btrfs_batch_delete_items: deletes <paramref name="keys"/>[0] and, in one btrfs_del_items, the keys after it that
    /// follow it directly in its leaf (stopping at the first that does not). Returns how many went (0: the first is
    /// absent, nothing CoWed).
    /// </summary>
    public int DeleteAdjacent(ReadOnlySpan<Key> keys)
    {
        if (keys.Length == 0 || !Descend(keys[0])) return 0;
        CowPathForDelete();
        byte[] leaf = _pathBuf[0];
        int slot = _pathSlot[0], n = LeafOps.Nr(leaf), count = 1;
        var l = new Leaf(leaf);
        while (count < keys.Length && slot + count < n && l.Key(slot + count) == keys[count]) count++;
        LeafOps.DeleteItems(leaf, slot, count);
        AfterLeafDelete(slot);
        return count;
    }

    /// <summary>The payload of <paramref name="key"/> resized to <paramref name="size"/> (bytes kept from the start, new bytes zero), or a new zeroed item.</summary>
    public Span<byte> InsertOrResize(scoped in Key key, int size)
    {
        CheckSize(size);
        bool found = Descend(key);
        if (!found) { CowPathForInsert(); return InsertAtPath(key, size); }
        CowPath();
        BalanceForResize(size);
        return ResizeAtPath(key, size);
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
        BalanceForResize(newSize);
        return ResizeAtPath(key, newSize);
    }

    /// <summary>Deletes one item; false when absent (nothing CoWed).</summary>
    public bool Delete(in Key key)
    {
        if (!Descend(key)) return false;
        CowPathForDelete();
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
            CowPathForDelete();
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

    /// <summary>True while the write cursor (<see cref="Seek"/>, <see cref="MoveNext"/>) is on an item.</summary>
    public bool CursorValid => _cursorValid;
    /// <summary>The key of the item under the write cursor.</summary>
    /// <exception cref="InvalidOperationException">The cursor is not on an item.</exception>
    public Key CurrentKey { get { EnsureCursor(); return new Leaf(_pathBuf[0]).Key(_pathSlot[0]); } }
    /// <summary>The current item's payload, writable.</summary>
    public Span<byte> CurrentData { get { EnsureCursor(); return LeafOps.Data(_pathBuf[0], _pathSlot[0]); } }
    /// <summary>The payload size in bytes of the item under the write cursor.</summary>
    /// <exception cref="InvalidOperationException">The cursor is not on an item.</exception>
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
        BalanceNodesForDelete();
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
        BalanceForResize(newSize);
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

    /// <summary>
    /// Inserts at the dirty path's insertion point and returns the payload; a leaf without room is handled as the
    /// kernel's split_leaf does: push into the right sibling, else the left one, then split by its rules.
    /// </summary>
    private Span<byte> InsertAtPath(scoped in Key key, int size)
    {
        Changes++;
        MakeRoom(key, size + I, extend: false);
        byte[] leaf = _pathBuf[0];
        int slot = _pathSlot[0];
        var data = LeafOps.InsertItem(leaf, slot, key, size);
        if (slot == 0) FixKeys(1, key);
        return data;
    }

    /// <summary>
    /// split_leaf until the path's leaf has <paramref name="need"/> bytes free at the path slot (for a new item, or
    /// <paramref name="extend"/>: for the item at the slot to grow by that much): push right, else left, then split.
    /// </summary>
    private void MakeRoom(scoped in Key key, int need, bool extend)
    {
        bool pushed = false, triedDouble = false;
        while (true)
        {
            byte[] leaf = _pathBuf[0];
            int slot = _pathSlot[0];
            if (LeafOps.FreeSpace(leaf) >= need) return;
            if (!pushed)
            {
                pushed = true;
                if (RootLevel > 0)
                {
                    // split_leaf: first make room by pushing right, then left.
                    int n = LeafOps.Nr(leaf);
                    int spaceNeeded = need;
                    if (slot < n) spaceNeeded -= LeafOps.FreeSpace(leaf);
                    if (!PushLeafRight(spaceNeeded, spaceNeeded, empty: false, minSlot: 0))
                    {
                        spaceNeeded = need;
                        if (_pathSlot[0] > 0) spaceNeeded -= LeafOps.FreeSpace(_pathBuf[0]);
                        PushLeafLeft(spaceNeeded, spaceNeeded, empty: false, maxSlot: int.MaxValue);
                    }
                    continue;
                }
            }
            SplitLeaf(key, need, extend, ref triedDouble);
        }
    }

    /// <summary>
    /// One round of split_leaf's "again" loop on the path's leaf, which lacks <paramref name="need"/> bytes at the
    /// path slot: split at the middle item, or at the slot, or (at an edge) give the new key an empty leaf of its own,
    /// or first try push_for_double_split. Leaves a valid dirty path whose slot is where the key goes.
    /// </summary>
    private void SplitLeaf(in Key key, int need, bool extend, ref bool triedDouble)
    {
        if (RootLevel == 0) InsertNewRoot(0);
        byte[] leaf = _pathBuf[0];
        int slot = _pathSlot[0];
        int n = LeafOps.Nr(leaf);
        int mid = (n + 1) / 2;
        int split = 1;
        bool pushForDouble = false;
        if (mid <= slot)
        {
            if (n == 1 || LeafOps.RangeUsed(leaf, mid, n - mid) + need > _dataArea)
            {
                if (slot >= n) split = 0;
                else
                {
                    mid = slot;
                    if (mid != n && LeafOps.RangeUsed(leaf, mid, n - mid) + need > _dataArea)
                    {
                        if (!triedDouble) pushForDouble = true;
                        split = 2;
                    }
                }
            }
        }
        else if (LeafOps.RangeUsed(leaf, 0, mid) + need > _dataArea)
        {
            if (slot == 0 && !extend) split = 0;
            else if (slot == 0) mid = 1;
            else
            {
                mid = slot;
                if (mid != n && LeafOps.RangeUsed(leaf, mid, n - mid) + need > _dataArea)
                {
                    if (!triedDouble) pushForDouble = true;
                    split = 2;
                }
            }
        }
        if (pushForDouble)
        {
            triedDouble = true;
            PushForDoubleSplit(need);
            return;
        }
        int ps = _pathSlot[1];
        if (split == 0)
        {
            // The new key alone in a new, empty leaf (after the leaf, or before it when the key comes first).
            var (eb, _) = _store.Allocate(TreeId, 0);
            if (mid <= slot) InsertPtr(1, ps + 1, key, eb);
            else
            {
                if (ps == 0) FixKeys(2, key);
                InsertPtr(1, ps, key, eb);
            }
            Descend(key); // lands on the empty leaf: its pointer's key is the key
            CowPath();
            return;
        }
        MoveTailToNewLeaf(mid, out ulong rBytenr, out byte[] rBuf);
        var rightKey = new Leaf(rBuf).Key(0);
        var leftKey = new Leaf(leaf).Key(0);
        InsertPtr(1, ps + 1, rightKey, rBytenr);
        // The path above may be stale (a node split): find the leaf that takes the key again by one of its keys.
        if (mid <= slot) { Descend(rightKey); _pathSlot[0] = slot - mid; }
        else { Descend(leftKey); _pathSlot[0] = slot; }
        CowPath();
    }

    /// <summary>insert_new_root: the root (the dirty path block at <paramref name="level"/>) gets a parent with one pointer.</summary>
    private void InsertNewRoot(int level)
    {
        if (level + 1 >= MaxDepth) throw new InvalidOperationException($"tree {TreeId}: would grow past level {MaxDepth - 1}");
        var (nb, nbuf) = _store.Allocate(TreeId, level + 1);
        byte[] below = _pathBuf[level];
        var firstKey = level > 0 ? NodeOps.KeyAt(below, 0) : LeafOps.Nr(below) > 0 ? new Leaf(below).Key(0) : default;
        NodeOps.InsertPtr(nbuf, 0, firstKey, _pathBytenr[level], _store.Generation);
        SetRoot(nb, level + 1);
        _pathBytenr[level + 1] = nb;
        _pathBuf[level + 1] = nbuf;
        _pathSlot[level + 1] = 0;
    }

    /// <summary>push_for_double_split: try to get the slot to an edge of its leaf by pushing the items after it right
    /// and those before it left.</summary>
    private void PushForDoubleSplit(int need)
    {
        int slot = _pathSlot[0];
        int spaceNeeded = need;
        if (slot < LeafOps.Nr(_pathBuf[0])) spaceNeeded -= LeafOps.FreeSpace(_pathBuf[0]);
        PushLeafRight(1, spaceNeeded, empty: false, minSlot: slot);
        int nr = LeafOps.Nr(_pathBuf[0]);
        if (_pathSlot[0] == 0 || _pathSlot[0] == nr) return;
        if (LeafOps.FreeSpace(_pathBuf[0]) >= need) return;
        slot = _pathSlot[0];
        spaceNeeded = need;
        if (slot > 0) spaceNeeded -= LeafOps.FreeSpace(_pathBuf[0]);
        PushLeafLeft(1, spaceNeeded, empty: false, maxSlot: slot);
    }

    /// <summary>
    /// push_leaf_right: moves items from the end of the path's leaf to the front of its right sibling (same parent),
    /// which is CoWed once it has <paramref name="dataSize"/> bytes free, even if nothing moves. A key going after every
    /// item simply moves the path to the sibling. The path follows the slot. True when it made room (moved or items).
    /// </summary>
    private bool PushLeafRight(int minDataSize, int dataSize, bool empty, int minSlot)
    {
        if (RootLevel == 0) return false;
        byte[] upper = _pathBuf[1];
        int ps = _pathSlot[1];
        if (ps >= NodeOps.Nr(upper) - 1) return false;
        if (LeafOps.FreeSpace(ReadChild(1, ps + 1)) < dataSize) return false;
        var (rb, right) = CowChild(1, ps + 1);
        int freeSpace = LeafOps.FreeSpace(right);
        if (freeSpace < dataSize) return false;
        byte[] left = _pathBuf[0];
        int leftN = LeafOps.Nr(left);
        if (leftN == 0) return false;
        int slot = _pathSlot[0];
        if (slot == leftN && !empty)
        {
            _pathBuf[0] = right;
            _pathBytenr[0] = rb;
            _pathSlot[0] = 0;
            _pathSlot[1] = ps + 1;
            return true;
        }
        int nr = empty ? 0 : Math.Max(1, minSlot);
        int pushSpace = 0, pushItems = 0;
        if (slot >= leftN) pushSpace += minDataSize;
        for (int i = leftN - 1; i >= nr; i--)
        {
            if (!empty && pushItems > 0)
            {
                if (slot > i) break;
                if (slot == i && LeafOps.FreeSpace(left) + pushSpace * 2 > freeSpace) break;
            }
            if (slot == i) pushSpace += minDataSize;
            int itemSize = LeafOps.Size(left, i);
            if (itemSize + I + pushSpace > freeSpace) break;
            pushItems++;
            pushSpace += itemSize + I;
        }
        if (pushItems == 0) return false;
        byte[] scratch = ArrayPool<byte>.Shared.Rent(NodeSize);
        try { LeafOps.PrependItems(right, left, leftN - pushItems, pushItems, scratch.AsSpan(0, NodeSize)); }
        finally { ArrayPool<byte>.Shared.Return(scratch); }
        LeafOps.DeleteItems(left, leftN - pushItems, pushItems);
        NodeOps.SetKey(upper, ps + 1, new Leaf(right).Key(0));
        leftN -= pushItems;
        if (slot >= leftN)
        {
            _pathBuf[0] = right;
            _pathBytenr[0] = rb;
            _pathSlot[0] = slot - leftN;
            _pathSlot[1] = ps + 1;
        }
        return true;
    }

    /// <summary>
    /// push_leaf_left: moves items from the front of the path's leaf to the end of its left sibling (same parent),
    /// CoWed once it has <paramref name="dataSize"/> bytes free. The path follows the slot. True when items moved.
    /// </summary>
    private bool PushLeafLeft(int minDataSize, int dataSize, bool empty, int maxSlot)
    {
        if (RootLevel == 0) return false;
        int ps = _pathSlot[1];
        if (ps == 0) return false;
        byte[] right = _pathBuf[0];
        int rightN = LeafOps.Nr(right);
        if (rightN == 0) return false;
        if (LeafOps.FreeSpace(ReadChild(1, ps - 1)) < dataSize) return false;
        var (lb, left) = CowChild(1, ps - 1);
        int freeSpace = LeafOps.FreeSpace(left);
        if (freeSpace < dataSize) return false;
        int slot = _pathSlot[0];
        int nr = empty ? Math.Min(rightN, maxSlot) : Math.Min(rightN - 1, maxSlot);
        int pushSpace = 0, pushItems = 0;
        for (int i = 0; i < nr; i++)
        {
            if (!empty && pushItems > 0)
            {
                if (slot < i) break;
                if (slot == i && LeafOps.FreeSpace(right) + pushSpace * 2 > freeSpace) break;
            }
            if (slot == i) pushSpace += minDataSize;
            int itemSize = LeafOps.Size(right, i);
            if (itemSize + I + pushSpace > freeSpace) break;
            pushItems++;
            pushSpace += itemSize + I;
        }
        if (pushItems == 0) return false;
        int oldLeftN = LeafOps.Nr(left);
        LeafOps.AppendItems(left, right, 0, pushItems);
        LeafOps.DeleteItems(right, 0, pushItems);
        if (LeafOps.Nr(right) > 0) FixKeys(1, new Leaf(right).Key(0));
        if (slot < pushItems)
        {
            _pathBuf[0] = left;
            _pathBytenr[0] = lb;
            _pathSlot[0] = slot + oldLeftN;
            _pathSlot[1] = ps - 1;
        }
        else _pathSlot[0] = slot - pushItems;
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
    /// insert_ptr into the dirty path node at <paramref name="level"/>, which has room: every node on an insert's path
    /// was left with 3 pointers to spare on the way down (<see cref="SplitNodesForInsert"/>), and a leaf split adds
    /// at most 2.
    /// </summary>
    private void InsertPtr(int level, int pos, in Key key, ulong bytenr)
    {
        byte[] node = _pathBuf[level];
        if (NodeOps.Nr(node) >= _maxPtrs) throw new InvalidOperationException($"tree {TreeId}: node at level {level} is full (not split on the way down)");
        NodeOps.InsertPtr(node, pos, key, bytenr, _store.Generation);
    }

    // ================================================================ nodes on the way down

    /// <summary>CoWs the path for an insert (or a growing item): setup_nodes_for_search with ins_len &gt; 0.</summary>
    private void CowPathForInsert()
    {
        CowPath();
        SplitNodesForInsert();
    }

    /// <summary>CoWs the path for a delete: setup_nodes_for_search with ins_len &lt; 0.</summary>
    private void CowPathForDelete()
    {
        CowPath();
        BalanceNodesForDelete();
    }

    /// <summary>An item is about to get <paramref name="newSize"/> bytes: the path's nodes are set up as for an insert
    /// when it grows, as for a delete when it shrinks (the kernel's callers search with ins_len &gt; 0 to extend an
    /// item and -1 to truncate one).</summary>
    private void BalanceForResize(int newSize)
    {
        int old = LeafOps.Size(_pathBuf[0], _pathSlot[0]);
        if (newSize > old) SplitNodesForInsert();
        else if (newSize < old) BalanceNodesForDelete();
    }

    /// <summary>
    /// Top-down over the dirty path: a node with 3 pointers or fewer to spare makes room (split_node), so that the
    /// splits below never find a full parent.
    /// </summary>
    private void SplitNodesForInsert()
    {
        for (int level = RootLevel; level >= 1; level--)
            if (NodeOps.Nr(_pathBuf[level]) >= _maxPtrs - 3) SplitNode(level);
    }

    /// <summary>
    /// split_node: a root first gets a new root above it; any other node first tries to push pointers into its
    /// siblings and is done when that left it with room. Otherwise it splits at (n + 1) / 2. The path follows its slot.
    /// </summary>
    private void SplitNode(int level)
    {
        if (level == RootLevel) InsertNewRoot(level);
        else if (PushNodesForInsert(level) && NodeOps.Nr(_pathBuf[level]) < _maxPtrs - 3) return;
        byte[] c = _pathBuf[level];
        int n = NodeOps.Nr(c);
        int mid = (n + 1) / 2;
        var (sb, split) = _store.Allocate(TreeId, level);
        NodeOps.AppendPtrs(split, c, mid, n - mid);
        NodeOps.RemovePtrs(c, mid, n - mid);
        InsertPtr(level + 1, _pathSlot[level + 1] + 1, NodeOps.KeyAt(split, 0), sb);
        if (_pathSlot[level] >= mid)
        {
            _pathSlot[level] -= mid;
            _pathBuf[level] = split;
            _pathBytenr[level] = sb;
            _pathSlot[level + 1]++;
        }
    }

    /// <summary>
    /// push_nodes_for_insert: the path node at <paramref name="level"/> gives its first pointers (all but 8) to its
    /// left sibling if that is not (nearly) full, else up to half of them to its right sibling. True when it pushed.
    /// </summary>
    private bool PushNodesForInsert(int level)
    {
        byte[] parent = _pathBuf[level + 1];
        int ps = _pathSlot[level + 1];
        byte[] mid = _pathBuf[level];
        int slot = _pathSlot[level];
        if (ps > 0 && NodeOps.Nr(ReadChild(level + 1, ps - 1)) < _maxPtrs - 1)
        {
            var (lb, left) = CowChild(level + 1, ps - 1);
            int leftNr = NodeOps.Nr(left);
            if (PushNodeLeft(left, mid, empty: false))
            {
                NodeOps.SetKey(parent, ps, NodeOps.KeyAt(mid, 0));
                int orig = slot + leftNr;
                if (NodeOps.Nr(left) > orig)
                {
                    _pathBuf[level] = left;
                    _pathBytenr[level] = lb;
                    _pathSlot[level + 1] = ps - 1;
                    _pathSlot[level] = orig;
                }
                else _pathSlot[level] = orig - NodeOps.Nr(left);
                return true;
            }
        }
        if (ps + 1 < NodeOps.Nr(parent) && NodeOps.Nr(ReadChild(level + 1, ps + 1)) < _maxPtrs - 1)
        {
            var (rb, right) = CowChild(level + 1, ps + 1);
            if (BalanceNodeRight(right, mid))
            {
                NodeOps.SetKey(parent, ps + 1, NodeOps.KeyAt(right, 0));
                int midNr = NodeOps.Nr(mid);
                if (midNr <= slot)
                {
                    _pathBuf[level] = right;
                    _pathBytenr[level] = rb;
                    _pathSlot[level + 1] = ps + 1;
                    _pathSlot[level] = slot - midNr;
                }
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Top-down over the dirty path for a delete (setup_nodes_for_search with ins_len &lt; 0): a node root with one
    /// child gives way to it (repeatedly); a node under half full is balanced with its siblings (balance_level).
    /// The path's leaf and slot stay as they are.
    /// </summary>
    private void BalanceNodesForDelete()
    {
        for (int level = RootLevel; level >= 1; level--)
        {
            if (NodeOps.Nr(_pathBuf[level]) >= _maxPtrs / 2) continue;
            if (level == RootLevel)
            {
                if (NodeOps.Nr(_pathBuf[level]) == 1) { CollapseRoot(); level = RootLevel + 1; }
                continue;
            }
            BalanceLevel(level);
        }
    }

    /// <summary>
    /// balance_level for the non-root path node at <paramref name="level"/>: with a quarter of its capacity or less, it
    /// pushes what fits into its left sibling, takes in what fits of its right sibling (freed once empty), and when
    /// one pointer is left takes some back from the left; emptied, it is freed. The path follows its slot.
    /// </summary>
    private void BalanceLevel(int level)
    {
        byte[] mid = _pathBuf[level];
        if (NodeOps.Nr(mid) > _maxPtrs / 4) return;
        byte[] parent = _pathBuf[level + 1];
        int ps = _pathSlot[level + 1];
        int orig = _pathSlot[level];
        ulong midBytenr = _pathBytenr[level];
        ulong lb = 0, rb = 0;
        byte[]? left = null, right = null;
        if (ps > 0) (lb, left) = CowChild(level + 1, ps - 1);
        if (ps + 1 < NodeOps.Nr(parent)) (rb, right) = CowChild(level + 1, ps + 1);
        if (left != null)
        {
            orig += NodeOps.Nr(left);
            PushNodeLeft(left, mid, empty: true);
        }
        if (right != null)
        {
            PushNodeLeft(mid, right, empty: true);
            if (NodeOps.Nr(right) == 0)
            {
                _store.Free(rb, TreeId, level);
                NodeOps.RemovePtrs(parent, ps + 1, 1);
            }
            else NodeOps.SetKey(parent, ps + 1, NodeOps.KeyAt(right, 0));
        }
        if (NodeOps.Nr(mid) == 1)
        {
            // Never one pointer in a node during a delete: a left sibling exists, or the right one would have come in.
            if (left == null) throw Corruption.Create($"tree {(long)TreeId}: node {midBytenr} level {level} keeps one pointer and has no left sibling", midBytenr, TreeId);
            if (!BalanceNodeRight(mid, left)) PushNodeLeft(left, mid, empty: true);
        }
        if (NodeOps.Nr(mid) == 0)
        {
            _store.Free(midBytenr, TreeId, level);
            NodeOps.RemovePtrs(parent, ps, 1); // ps > 0: mid went into its left sibling
        }
        else NodeOps.SetKey(parent, ps, NodeOps.KeyAt(mid, 0));
        if (left != null)
        {
            int leftNr = NodeOps.Nr(left);
            if (leftNr > orig)
            {
                _pathBuf[level] = left;
                _pathBytenr[level] = lb;
                _pathSlot[level + 1] = ps - 1;
                _pathSlot[level] = orig;
            }
            else _pathSlot[level] = orig - leftNr;
        }
    }

    /// <summary>
    /// push_node_left: moves pointers from the front of <paramref name="src"/> to the end of <paramref name="dst"/>,
    /// its left sibling. <paramref name="empty"/>: as many as fit, leaving none or at least 8; otherwise all but 8.
    /// False when nothing moved.
    /// </summary>
    private bool PushNodeLeft(byte[] dst, byte[] src, bool empty)
    {
        int srcN = NodeOps.Nr(src), dstN = NodeOps.Nr(dst);
        int push = _maxPtrs - dstN;
        if (!empty && srcN <= 8) return false;
        if (push <= 0) return false;
        if (empty)
        {
            push = Math.Min(srcN, push);
            if (push < srcN && srcN - push < 8)
            {
                if (push <= 8) return false;
                push -= 8;
            }
        }
        else push = Math.Min(srcN - 8, push);
        NodeOps.AppendPtrs(dst, src, 0, push);
        NodeOps.RemovePtrs(src, 0, push);
        return true;
    }

    /// <summary>
    /// balance_node_right: moves up to half (+1) of <paramref name="src"/>'s last pointers to the front of
    /// <paramref name="dst"/>, its right sibling, never emptying it and only from 4 pointers up. False when nothing
    /// moved.
    /// </summary>
    private bool BalanceNodeRight(byte[] dst, byte[] src)
    {
        int srcN = NodeOps.Nr(src), dstN = NodeOps.Nr(dst);
        int push = _maxPtrs - dstN;
        if (push <= 0 || srcN < 4) return false;
        int maxPush = srcN / 2 + 1;
        if (maxPush >= srcN) return false;
        push = Math.Min(push, maxPush);
        NodeOps.PrependPtrs(dst, src, srcN - push, push);
        NodeOps.RemovePtrs(src, srcN - push, push);
        return true;
    }

    // ================================================================ resize

    private Span<byte> ResizeAtPath(scoped in Key key, int newSize)
    {
        Changes++;
        int old = LeafOps.Size(_pathBuf[0], _pathSlot[0]);
        if (newSize < old) LeafOps.Truncate(_pathBuf[0], _pathSlot[0], newSize);
        else if (newSize > old)
        {
            // btrfs_extend_item after a search that made room: the leaf splits around the item, which stays whole.
            MakeRoom(key, newSize - old, extend: true);
            LeafOps.Extend(_pathBuf[0], _pathSlot[0], newSize - old);
        }
        return LeafOps.Data(_pathBuf[0], _pathSlot[0]);
    }

    // ================================================================ delete and merge

    /// <summary>
    /// After items at <paramref name="slot"/> left the dirty path leaf, as btrfs_del_items goes on: fix the parent
    /// keys; an emptied leaf is freed; one under a third of its data area full pushes its items into the left
    /// sibling, and what is left into the right one if all of it fits there, and is freed once empty. Nodes are not
    /// rebalanced here (the next delete's way down does that). True when the path is still valid (nothing moved).
    /// </summary>
    private bool AfterLeafDelete(int slot)
    {
        Changes++;
        if (RootLevel == 0) return true;
        byte[] leaf = _pathBuf[0];
        int n = LeafOps.Nr(leaf);
        if (n > 0)
        {
            if (slot == 0) FixKeys(1, new Leaf(leaf).Key(0));
            if (LeafOps.Used(leaf) >= _dataArea / 3) return true;
            ulong leafBytenr = _pathBytenr[0];
            int ps = _pathSlot[1];
            bool moved = PushLeafLeft(0, I + LeafOps.Size(leaf, 0), empty: true, maxSlot: int.MaxValue);
            if (_pathBytenr[0] == leafBytenr && LeafOps.Nr(leaf) > 0)
                moved |= PushLeafRight(0, LeafOps.Used(leaf), empty: true, minSlot: 0);
            if (LeafOps.Nr(leaf) > 0)
            {
                if (!moved) return true;
                _pathDirty = false;
                return false;
            }
            // Emptied: back onto it, to free it.
            _pathBuf[0] = leaf;
            _pathBytenr[0] = leafBytenr;
            _pathSlot[1] = ps;
            _pathSlot[0] = 0;
        }
        DelLeaf();
        _pathDirty = false;
        return false;
    }

    /// <summary>
    /// btrfs_del_leaf: frees the path's empty leaf and removes its pointer (btrfs_del_ptr), fixing the keys above
    /// when it was the first. A delete's way down left a node root with 2 pointers or more, so the parent keeps one.
    /// </summary>
    private void DelLeaf()
    {
        byte[] parent = _pathBuf[1];
        int ps = _pathSlot[1];
        if (NodeOps.Nr(parent) == 1)
            throw new InvalidOperationException($"tree {TreeId}: the last leaf under a node would go (not balanced on the way down)");
        _store.Free(_pathBytenr[0], TreeId, 0);
        NodeOps.RemovePtrs(parent, ps, 1);
        if (ps == 0) FixKeys(2, NodeOps.KeyAt(parent, 0));
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
