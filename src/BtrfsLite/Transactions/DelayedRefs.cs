using BtrfsLite.Format;

namespace BtrfsLite.Transactions;

/// <summary>
/// One backref of an extent: TREE_BLOCK_REF(root), SHARED_BLOCK_REF(parent), EXTENT_DATA_REF(root, ino, offset)
/// or SHARED_DATA_REF(parent). <see cref="Root"/> holds the root or the parent bytenr.
/// </summary>
internal readonly record struct BackrefKey(ItemType Type, ulong Root, ulong ObjectId = 0, ulong Offset = 0)
{
    public static BackrefKey TreeBlock(ulong root) => new(ItemType.TreeBlockRef, root);
    public static BackrefKey SharedBlock(ulong parent) => new(ItemType.SharedBlockRef, parent);
    public static BackrefKey Data(ulong root, ulong ino, ulong offset) => new(ItemType.ExtentDataRef, root, ino, offset);
    public static BackrefKey SharedData(ulong parent) => new(ItemType.SharedDataRef, parent);
    public bool IsData => Type is ItemType.ExtentDataRef or ItemType.SharedDataRef;

    /// <summary>The kernel's order inside an extent item: type ascending, then this value descending.</summary>
    public ulong SortValue => Type == ItemType.ExtentDataRef ? Checksums.ExtentDataRefHash(Root, ObjectId, Offset) : Root;
}

/// <summary>
/// All pending reference changes of one extent in the running transaction (btrfs_delayed_ref_head): they are
/// folded into its EXTENT_ITEM / METADATA_ITEM at commit. Also carries what the qgroup code needs.
/// </summary>
internal sealed class DelayedRefHead
{
    public ulong Bytenr { get; init; }
    public ulong NumBytes { get; init; }
    public bool IsData { get; init; }
    /// <summary>Tree blocks: level (the METADATA_ITEM key offset).</summary>
    public int Level { get; init; }
    /// <summary>The extent was allocated in this transaction (no item on disk yet).</summary>
    public bool IsNew { get; init; }
    /// <summary>Generation to write into a new extent item.</summary>
    public ulong Generation { get; init; }
    /// <summary>Set FULL_BACKREF on the extent item (a shared block copied by its owner).</summary>
    public bool SetFullBackref { get; set; }
    /// <summary>
    /// When the extent's references drop to zero, its own outgoing edges (children pointers, data refs of a leaf)
    /// were already accounted for by the copy-on-write that dropped it; otherwise they must be dropped too.
    /// </summary>
    public bool ChildrenHandled { get; set; }
    /// <summary>Qgroup bytes reserved for this data extent's write, freed when it is accounted (the seed's hand-off).</summary>
    public ulong QgroupReserved { get; set; }
    public ulong QgroupReservedRoot { get; set; }

    public Dictionary<BackrefKey, long> Deltas { get; } = new();

    public void Add(in BackrefKey k, long delta)
    {
        long v = Deltas.GetValueOrDefault(k) + delta;
        if (v == 0) Deltas.Remove(k); else Deltas[k] = v;
    }

    public long NetDelta
    {
        get { long s = 0; foreach (var v in Deltas.Values) s += v; return s; }
    }
}

/// <summary>The delayed ref heads of one transaction, by extent start.</summary>
internal sealed class DelayedRefs
{
    private readonly Dictionary<ulong, DelayedRefHead> _heads = new();

    public int Count => _heads.Count;
    public bool TryGet(ulong bytenr, out DelayedRefHead head) => _heads.TryGetValue(bytenr, out head!);

    public DelayedRefHead GetOrAdd(ulong bytenr, Func<DelayedRefHead> create)
    {
        if (!_heads.TryGetValue(bytenr, out var h)) _heads[bytenr] = h = create();
        return h;
    }

    /// <summary>Takes every head (running them may queue new ones).</summary>
    public List<DelayedRefHead> TakeAll()
    {
        var list = _heads.Values.OrderBy(h => h.Bytenr).ToList();
        _heads.Clear();
        return list;
    }
}
