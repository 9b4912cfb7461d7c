using BtrfsLite.Format;
using BtrfsLite.IO;
using BtrfsLite.Trees;

namespace BtrfsLite.Qgroups;

/// <summary>
/// Which subvolumes reach an extent in one state of the trees (the committed one, or a transaction's), found from
/// the extent's backrefs as the kernel's btrfs_find_all_roots does: a keyed tree-block ref of root R is resolved by
/// searching R's tree for the block's first key down to the parent level; a keyed data ref (R, inode, offset) by
/// searching R for that inode's file extent items pointing at the extent; shared refs name the parent block. The
/// parents' roots are found the same way, up to the root blocks. Only subvolume trees count. Results are cached per
/// block, so one commit resolves each shared parent once.
/// </summary>
public sealed class ExtentRoots
{
    private readonly INodeSource _nodes;
    private readonly TreeRoot _extentRoot;
    private readonly Func<ulong, TreeRoot?> _rootOf;
    private readonly TreeCursor _cursor;
    private readonly Dictionary<ulong, ulong[]> _blockRoots = new();
    private readonly HashSet<ulong> _resolving = new();

    private readonly record struct Backref(ItemType Type, ulong Root, ulong ObjectId, ulong Offset, ulong Count);

    /// <param name="nodes">Reads the blocks of this state.</param>
    /// <param name="extentRoot">The extent tree's root in this state.</param>
    /// <param name="rootOf">The root block of a tree in this state, or null when the tree does not exist in it.</param>
    public ExtentRoots(INodeSource nodes, TreeRoot extentRoot, Func<ulong, TreeRoot?> rootOf)
    {
        _nodes = nodes;
        _extentRoot = extentRoot;
        _rootOf = rootOf;
        _cursor = new TreeCursor(nodes);
    }

    /// <summary>
    /// The subvolumes reaching the extent at <paramref name="bytenr"/> (ascending) and its size, or an empty set when
    /// no extent starts there in this state. A tree block that belongs to no subvolume tree has no roots.
    /// </summary>
    public ulong[] Resolve(ulong bytenr, out ulong numBytes, out bool isData)
    {
        var refs = new List<Backref>();
        if (!ReadBackrefs(bytenr, refs, out numBytes, out isData, out int level)) return [];
        return isData ? DataRoots(bytenr, refs) : BlockRoots(bytenr, level, refs);
    }

    /// <summary>Reads the extent item at <paramref name="bytenr"/> (inline refs) and the keyed refs after it.</summary>
    private bool ReadBackrefs(ulong bytenr, List<Backref> refs, out ulong numBytes, out bool isData, out int level)
    {
        numBytes = 0; isData = false; level = 0;
        bool found = false;
        var c = _cursor;
        if (!c.Seek(_extentRoot, new Key(bytenr, ItemType.ExtentItem, 0))) return false;
        do
        {
            if (c.ObjectId != bytenr) break;
            var t = c.Type;
            if (t is ItemType.ExtentItem or ItemType.MetadataItem)
            {
                if (found) break;
                found = true;
                var data = c.Data;
                if (data.Length < ExtentItem.Size)
                    throw Corruption.Create($"extent item {c.Key}: {data.Length} bytes", c.LeafBytenr, ObjectIds.ExtentTree, c.Slot);
                var ei = new ExtentItem(data);
                isData = (ei.Flags & ExtentFlags.Data) != 0;
                if (t == ItemType.MetadataItem) level = (int)c.Offset;
                else if (!isData) level = data.Length > ExtentItem.Size + Key.Size ? data[ExtentItem.Size + Key.Size] : 0;
                numBytes = t == ItemType.MetadataItem ? 0 : c.Offset;
                var r = new InlineRefReader(data, ExtentItem.InlineRefStart(t, ei.Flags));
                while (r.Next(out var ir))
                    refs.Add(new Backref(ir.Type, ir.Offset, ir.ObjectId, ir.FileOffset, ir.Count));
                if (r.Malformed) throw Corruption.Create($"extent item {c.Key}: {r.Error}", c.LeafBytenr, ObjectIds.ExtentTree, c.Slot);
                continue;
            }
            switch (t)
            {
                case ItemType.TreeBlockRef or ItemType.SharedBlockRef:
                    refs.Add(new Backref(t, c.Offset, 0, 0, 1));
                    break;
                case ItemType.SharedDataRef:
                    refs.Add(new Backref(t, c.Offset, 0, 0, new SharedDataRef(c.Data).Count));
                    break;
                case ItemType.ExtentDataRef:
                    var dr = new ExtentDataRef(c.Data);
                    refs.Add(new Backref(t, dr.Root, dr.ObjectId, dr.Offset, dr.Count));
                    break;
            }
        } while (c.Next());
        return found;
    }

    private ulong[] BlockRoots(ulong bytenr, int level, List<Backref> refs)
    {
        if (_blockRoots.TryGetValue(bytenr, out var cached)) return cached;
        // A damaged image could make parents loop: a block reached again while it is resolved adds nothing.
        if (!_resolving.Add(bytenr)) return [];
        var roots = new SortedSet<ulong>();
        Key firstKey = default;
        bool haveKey = false;
        foreach (var r in refs)
        {
            if (r.Type == ItemType.SharedBlockRef)
            {
                AddAll(roots, ParentRoots(r.Root));
                continue;
            }
            if (r.Type != ItemType.TreeBlockRef || !ObjectIds.IsFsTree(r.Root) || _rootOf(r.Root) is not TreeRoot tree) continue;
            if (tree.Bytenr == bytenr)
            {
                roots.Add(r.Root);
                continue;
            }
            if (!haveKey)
            {
                var block = _nodes.Read(bytenr, new NodeExpectation(0, level, 0));
                if (new NodeHeader(block).NrItems == 0) continue; // an empty block can only be a root
                firstKey = level == 0 ? new Leaf(block).Key(0) : new InternalNode(block).Key(0);
                haveKey = true;
            }
            if (FindParent(tree, bytenr, level, firstKey) is ulong parent) AddAll(roots, ParentRoots(parent));
        }
        _resolving.Remove(bytenr);
        var result = roots.ToArray();
        _blockRoots[bytenr] = result;
        return result;
    }

    private ulong[] ParentRoots(ulong parent)
    {
        if (_blockRoots.TryGetValue(parent, out var cached)) return cached;
        var refs = new List<Backref>();
        if (!ReadBackrefs(parent, refs, out _, out bool isData, out int level) || isData) return [];
        return BlockRoots(parent, level, refs);
    }

    /// <summary>The block of <paramref name="tree"/> at level + 1 that points at <paramref name="bytenr"/>, found by its first key.</summary>
    private ulong? FindParent(TreeRoot tree, ulong bytenr, int level, Key firstKey)
    {
        if (tree.Level <= level) return null;
        ulong at = tree.Bytenr;
        var expect = new NodeExpectation(0, tree.Level, 0);
        for (int l = tree.Level; ; l--)
        {
            var node = new InternalNode(_nodes.Read(at, expect));
            if (l == level + 1)
            {
                for (int i = 0; i < node.NrItems; i++)
                    if (node.BlockPtr(i) == bytenr) return at;
                return null;
            }
            int s = node.ChildSlot(firstKey, out _);
            at = node.BlockPtr(s);
            expect = new NodeExpectation(0, l - 1, 0);
        }
    }

    private ulong[] DataRoots(ulong bytenr, List<Backref> refs)
    {
        var roots = new SortedSet<ulong>();
        foreach (var r in refs)
        {
            if (r.Type == ItemType.SharedDataRef)
            {
                AddAll(roots, ParentRoots(r.Root));
                continue;
            }
            if (r.Type != ItemType.ExtentDataRef || !ObjectIds.IsFsTree(r.Root) || _rootOf(r.Root) is not TreeRoot tree) continue;
            // The leaves of R holding this inode's items that point at the extent from file offset - extent offset = r.Offset.
            var leaves = new List<ulong>();
            ulong seen = 0;
            var c = _cursor;
            // A clone that starts before the extent's data (file offset < extent offset) stores the difference
            // wrapped: such a ref can only be searched for from the inode's first item (backref.c does the same).
            ulong from = r.Offset >= long.MaxValue ? 0 : r.Offset;
            if (c.Seek(tree, new Key(r.ObjectId, ItemType.ExtentData, from)))
                do
                {
                    if (c.ObjectId != r.ObjectId || c.Type != ItemType.ExtentData) break;
                    if (!FileExtentItem.TryGetDataRef(c.Data, out ulong b, out _, out ulong extentOffset) || b != bytenr || c.Offset - extentOffset != r.Offset) continue;
                    if (leaves.Count == 0 || leaves[^1] != c.LeafBytenr) leaves.Add(c.LeafBytenr);
                    if (++seen >= r.Count) break;
                } while (c.Next());
            foreach (var leaf in leaves) AddAll(roots, ParentRoots(leaf));
        }
        return roots.ToArray();
    }

    private static void AddAll(SortedSet<ulong> into, ulong[] from)
    {
        foreach (var x in from) into.Add(x);
    }
}
