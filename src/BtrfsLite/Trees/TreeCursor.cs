using BtrfsLite.Format;
using BtrfsLite.IO;

namespace BtrfsLite.Trees;

/// <summary>
/// A path from a tree's root to one leaf slot: search by key, then walk items in order. Reuse one cursor;
/// moving it allocates nothing. <see cref="Data"/> is valid until the cursor moves.
/// </summary>
public sealed class TreeCursor
{
    private readonly INodeSource _cache;
    private readonly ulong[] _bytenr = new ulong[NodeHeader.MaxLevel];
    private readonly ulong[] _gen = new ulong[NodeHeader.MaxLevel];
    // The parent's key for each block below the root: its first key must be that (btrfs_verify_level_key).
    private readonly Key[] _firstKey = new Key[NodeHeader.MaxLevel];
    private readonly bool[] _hasFirstKey = new bool[NodeHeader.MaxLevel];
    private readonly int[] _slot = new int[NodeHeader.MaxLevel];
    private byte[] _leaf = Array.Empty<byte>();
    private TreeRoot _root;
    private bool _valid;

    /// <summary>A cursor that reads verified tree blocks from <paramref name="source"/>.</summary>
    public TreeCursor(INodeSource source) => _cache = source;

    /// <summary>The root of the tree last sought.</summary>
    public TreeRoot Root => _root;
    /// <summary>True while the cursor is on an item; false after moving past either end.</summary>
    public bool IsValid => _valid;
    /// <summary>The item's slot in its leaf.</summary>
    public int Slot => _slot[0];
    /// <summary>The logical address of the leaf the cursor is in.</summary>
    public ulong LeafBytenr => _bytenr[0];
    /// <summary>The leaf the cursor is in.</summary>
    public Leaf Leaf => new(_leaf);
    /// <summary>The item's key.</summary>
    public Key Key => new Leaf(_leaf).Key(_slot[0]);
    /// <summary>The item key's objectid.</summary>
    public ulong ObjectId => new Leaf(_leaf).KeyObjectId(_slot[0]);
    /// <summary>The item key's type.</summary>
    public ItemType Type => new Leaf(_leaf).KeyType(_slot[0]);
    /// <summary>The item key's offset.</summary>
    public ulong Offset => new Leaf(_leaf).KeyOffset(_slot[0]);
    /// <summary>The item's payload (read-only for the caller; valid until the cursor moves).</summary>
    public Span<byte> Data => new Leaf(_leaf).Data(_slot[0]);
    /// <summary>The item's payload size in bytes.</summary>
    public int DataSize => (int)new Leaf(_leaf).DataSize(_slot[0]);

    private byte[] Node(int level) =>
        _cache.Read(_bytenr[level], new NodeExpectation(_gen[level], level, 0, _firstKey[level], _hasFirstKey[level]));

    /// <summary>Positions at the first item with key &gt;= <paramref name="key"/>. Returns false when there is none.</summary>
    public bool Seek(in TreeRoot root, in Key key)
    {
        _root = root;
        int level = root.Level;
        if (level >= NodeHeader.MaxLevel) Throw.Corrupt($"tree {root.TreeId}: root level {level} out of range", root.Bytenr, root.TreeId);
        _bytenr[level] = root.Bytenr;
        _gen[level] = root.Generation;
        _hasFirstKey[level] = false;
        var buf = Node(level);
        while (level > 0)
        {
            var node = new InternalNode(buf);
            int s = node.ChildSlot(key, out _);
            _slot[level] = s;
            _bytenr[level - 1] = node.BlockPtr(s);
            _gen[level - 1] = node.PtrGeneration(s);
            _firstKey[level - 1] = node.Key(s);
            _hasFirstKey[level - 1] = true;
            level--;
            buf = Node(level);
        }
        _leaf = buf;
        int slot = new Leaf(buf).Search(key);
        _slot[0] = slot >= 0 ? slot : ~slot;
        _valid = true;
        if (_slot[0] >= new Leaf(_leaf).NrItems) return NextLeaf();
        return true;
    }

    /// <summary>Positions at the first item of the tree; false when the tree is empty.</summary>
    public bool First(in TreeRoot root) => Seek(root, Key.Min);

    /// <summary>Moves to the next item in key order; false at the end of the tree.</summary>
    public bool Next()
    {
        if (!_valid) return false;
        _slot[0]++;
        if (_slot[0] < new Leaf(_leaf).NrItems) return true;
        return NextLeaf();
    }

    private bool NextLeaf()
    {
        int level = 1;
        while (true)
        {
            if (level > _root.Level) { _valid = false; return false; }
            var node = new InternalNode(Node(level));
            if (_slot[level] + 1 < node.NrItems) { _slot[level]++; break; }
            level++;
        }
        while (level > 0)
        {
            var node = new InternalNode(Node(level));
            int s = _slot[level];
            _bytenr[level - 1] = node.BlockPtr(s);
            _gen[level - 1] = node.PtrGeneration(s);
            _firstKey[level - 1] = node.Key(s);
            _hasFirstKey[level - 1] = true;
            level--;
            _slot[level] = 0;
        }
        _leaf = Node(0);
        if (new Leaf(_leaf).NrItems == 0) return NextLeaf(); // only an empty root leaf can be empty; be safe
        return true;
    }

    /// <summary>Moves to the previous item; false before the first.</summary>
    public bool Prev()
    {
        if (!_valid) return false;
        if (_slot[0] > 0) { _slot[0]--; return true; }
        int level = 1;
        while (true)
        {
            if (level > _root.Level) { _valid = false; return false; }
            if (_slot[level] > 0) { _slot[level]--; break; }
            level++;
        }
        while (level > 0)
        {
            var node = new InternalNode(Node(level));
            int s = _slot[level];
            _bytenr[level - 1] = node.BlockPtr(s);
            _gen[level - 1] = node.PtrGeneration(s);
            _firstKey[level - 1] = node.Key(s);
            _hasFirstKey[level - 1] = true;
            level--;
            var child = Node(level);
            _slot[level] = (level == 0 ? new Leaf(child).NrItems : new InternalNode(child).NrItems) - 1;
        }
        _leaf = Node(0);
        if (_slot[0] < 0) return Prev();
        return true;
    }

    /// <summary>Positions at the last item of the tree; false when the tree is empty.</summary>
    public bool Last(in TreeRoot root)
    {
        _root = root;
        int level = root.Level;
        if (level >= NodeHeader.MaxLevel) Throw.Corrupt($"tree {root.TreeId}: root level {level} out of range", root.Bytenr, root.TreeId);
        _bytenr[level] = root.Bytenr;
        _gen[level] = root.Generation;
        _hasFirstKey[level] = false;
        var buf = Node(level);
        while (level > 0)
        {
            var node = new InternalNode(buf);
            int s = node.NrItems - 1;
            _slot[level] = s;
            _bytenr[level - 1] = node.BlockPtr(s);
            _gen[level - 1] = node.PtrGeneration(s);
            _firstKey[level - 1] = node.Key(s);
            _hasFirstKey[level - 1] = true;
            level--;
            buf = Node(level);
        }
        _leaf = buf;
        _slot[0] = new Leaf(buf).NrItems - 1;
        _valid = true;
        if (_slot[0] < 0) return Prev();
        return true;
    }

    /// <summary>Positions at the last item with key &lt; <paramref name="key"/>; false when there is none.</summary>
    public bool SeekBefore(in TreeRoot root, in Key key) => Seek(root, key) ? Prev() : Last(root);

    /// <summary>Exact lookup: true and positioned when the key exists.</summary>
    public bool Find(in TreeRoot root, in Key key) =>
        Seek(root, key) && Key.CompareRaw(new Leaf(_leaf).RawKey(_slot[0]), key) == 0;

    /// <summary>Seeks to the first item of (objectid, type) with offset &gt;= <paramref name="offset"/>; false if none of that objectid/type.</summary>
    public bool SeekPrefix(in TreeRoot root, ulong objectId, ItemType type, ulong offset = 0) =>
        Seek(root, new Key(objectId, type, offset)) && ObjectId == objectId && Type == type;
}
