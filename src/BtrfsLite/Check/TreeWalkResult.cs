using BtrfsLite.Format;

namespace BtrfsLite.Check;

/// <summary>
/// One edge of the block graph: <see cref="Child"/> is referenced by <see cref="Parent"/> (a node, owner
/// <see cref="ParentOwner"/>), or, when <see cref="Parent"/> is 0, it is the root block of tree <see cref="RootId"/>.
/// The backref btrfs keeps for the edge follows from it (see <see cref="TreeWalkResult"/>).
/// </summary>
internal readonly record struct BlockEdge(ulong Child, ulong Parent, ulong ParentOwner, ulong RootId);

/// <summary>A tree block reached from the superblock, recorded once however many trees share it.</summary>
internal sealed class TreeBlockInfo
{
    public ulong Bytenr { get; init; }
    public int Level { get; init; }
    /// <summary>Header owner.</summary>
    public ulong Owner { get; init; }
    public ulong Generation { get; init; }
    public Key FirstKey { get; init; }
    public int NrItems { get; init; }
    /// <summary>Tree whose walk reached the block first (the tree it was checked in).</summary>
    public ulong Tree { get; init; }
    /// <summary>False when the block could not be read or verified well enough to descend into it.</summary>
    public bool Readable { get; init; }
    /// <summary>Indexes into <see cref="TreeWalkResult.Edges"/> of every reference to this block.</summary>
    internal List<int> EdgeIndexes { get; } = new(1);
}

/// <summary>
/// One reference of a regular/prealloc file extent item (disk_bytenr != 0) to its data extent. <see cref="Root"/>
/// is the header owner of the leaf holding the item (the root btrfs names in EXTENT_DATA_REF), <see cref="Tree"/> the
/// tree whose walk reached the leaf first; <see cref="Offset"/> = key.offset - extent offset.
/// </summary>
internal readonly record struct DataRef(
    ulong DiskBytenr, ulong DiskNumBytes, ulong Root, ulong Tree, ulong Inode, ulong FileOffset, ulong Offset,
    ulong ExtentOffset, ulong NumBytes, FileExtentType Type, ulong Leaf, int Slot);

/// <summary>One EXTENT_CSUM item as found in the csum tree: covers [Start, Start + Count × sectorsize).</summary>
internal readonly record struct CsumItemRef(ulong Start, int Count, ulong Leaf, int Slot, bool WellFormed);

/// <summary>
/// What <see cref="TreeBlockWalker"/> found: every tree block reachable from the superblock (visited once), every edge
/// to it, every data reference, the csum items, and the leaves of the non-subvolume trees in key order so later
/// phases iterate them without another tree walk.
/// <para>
/// Expected backrefs, as btrfs stores them (btrfs-progs check: parent = block if its extent item has FULL_BACKREF):
/// for an edge parent P → child C, C has SHARED_BLOCK_REF(P) when P's extent item has FULL_BACKREF, else
/// TREE_BLOCK_REF(owner of P); a tree's root block has TREE_BLOCK_REF(tree id). A data reference from leaf L is
/// SHARED_DATA_REF(L) when L has FULL_BACKREF, else EXTENT_DATA_REF(owner of L, inode, key.offset - offset),
/// counted once per file extent item.
/// </para>
/// </summary>
internal sealed class TreeWalkResult
{
    public int NodeSize { get; init; }
    public int SectorSize { get; init; }

    /// <summary>Every block, by bytenr.</summary>
    public Dictionary<ulong, TreeBlockInfo> Blocks { get; } = new();
    /// <summary>Every reference to a tree block (root pointers and node pointers).</summary>
    public List<BlockEdge> Edges { get; } = new();
    /// <summary>Every REG/PREALLOC file extent item with disk_bytenr != 0, in walk order.</summary>
    public List<DataRef> DataRefs { get; } = new();
    /// <summary>EXTENT_CSUM items in key order.</summary>
    public List<CsumItemRef> CsumItems { get; } = new();
    /// <summary>(tree, inode) pairs whose INODE_ITEM has NODATASUM, for every tree the inode item was read in.</summary>
    public HashSet<(ulong Tree, ulong Inode)> NoDataSumInodes { get; } = new();
    /// <summary>Trees walked: tree id → root block (ROOT_ITEM or superblock).</summary>
    public Dictionary<ulong, ulong> TreeRoots { get; } = new();
    /// <summary>Readable leaves of the non-subvolume trees (root, extent, chunk, dev, csum, free space, block group, quota, uuid), in key order.</summary>
    public Dictionary<ulong, List<ulong>> Leaves { get; } = new();

    /// <summary>Trees whose walk added no finding and reached no block already reached from another tree.</summary>
    internal HashSet<ulong> CleanTrees { get; } = new();
    /// <summary>Fs-root checks of clean fs trees, done while the walker held their leaves (reported by the fs-roots phase).</summary>
    internal Dictionary<ulong, FsRootChecker.TreeCheck> FsChecks { get; } = new();

    /// <summary>(data extent, leaf) for every non-inline file extent item with disk_bytenr != 0 in a subvolume tree (5, 256+).</summary>
    internal List<(ulong Disk, ulong Leaf)> FsDataPointers { get; } = new();

    /// <summary>
    /// True when every subvolume tree of <paramref name="roots"/> (and no other) was walked from that root and clean: then
    /// the walk reached each of their blocks once, and <see cref="Edges"/> and <see cref="FsDataPointers"/> hold what a
    /// fresh walk of them through the node cache would find, without error.
    /// </summary>
    internal bool FsTreesCleanFor(IReadOnlyDictionary<ulong, Trees.TreeRoot> roots)
    {
        int n = 0;
        foreach (var (id, root) in roots)
        {
            if (!ObjectIds.IsFsTree(id)) continue;
            n++;
            if (!CleanTrees.Contains(id) || !TreeRoots.TryGetValue(id, out ulong b) || b != root.Bytenr) return false;
        }
        foreach (ulong id in TreeRoots.Keys)
            if (ObjectIds.IsFsTree(id)) n--;
        return n == 0;
    }

    /// <summary>False when some block could not be read or descended into: reference counts are then incomplete.</summary>
    public bool Complete { get; internal set; } = true;

    // Summary numbers (btrfs check's closing block).
    public ulong TotalTreeBytes { get; internal set; }
    public ulong TotalFsTreeBytes { get; internal set; }
    public ulong TotalExtentTreeBytes { get; internal set; }
    public ulong BtreeSpaceWaste { get; internal set; }
    public ulong DataBytesAllocated { get; internal set; }
    public ulong DataBytesReferenced { get; internal set; }

    /// <summary>
    /// Allocated ranges from the extent tree (start, length, is-data), sorted; set by <see cref="ExtentChecker"/> for
    /// the free-space and csum phases (null when that phase did not get that far).
    /// </summary>
    public List<(ulong Start, ulong Length, bool Data)>? ExtentRanges { get; internal set; }

    /// <summary>Block groups (start, length, flags) sorted by start; set by <see cref="ExtentChecker"/>.</summary>
    public List<(ulong Start, ulong Length, BlockGroupFlags Flags)>? BlockGroups { get; internal set; }

    /// <summary>The references to <paramref name="bytenr"/> (empty when the block was not reached).</summary>
    public IEnumerable<BlockEdge> EdgesTo(ulong bytenr)
    {
        if (!Blocks.TryGetValue(bytenr, out var b)) yield break;
        foreach (int i in b.EdgeIndexes) yield return Edges[i];
    }

    private Dictionary<ulong, ulong[]>? _roots;

    /// <summary>
    /// Ids of every tree that reaches <paramref name="bytenr"/> (through any chain of parents), as qgroup accounting needs.
    /// Memoised; cycles (corrupt images) are cut.
    /// </summary>
    public IReadOnlyList<ulong> RootsReaching(ulong bytenr)
    {
        _roots ??= new Dictionary<ulong, ulong[]>();
        return Resolve(bytenr, 0);
    }

    private ulong[] Resolve(ulong bytenr, int depth)
    {
        if (_roots!.TryGetValue(bytenr, out var r)) return r;
        if (!Blocks.TryGetValue(bytenr, out var b) || depth > NodeHeader.MaxLevel + 1) return Array.Empty<ulong>();
        _roots[bytenr] = Array.Empty<ulong>(); // cycle guard
        var set = new SortedSet<ulong>();
        foreach (int i in b.EdgeIndexes)
        {
            var e = Edges[i];
            if (e.Parent == 0) set.Add(e.RootId);
            else foreach (var x in Resolve(e.Parent, depth + 1)) set.Add(x);
        }
        r = set.ToArray();
        _roots[bytenr] = r;
        return r;
    }
}
