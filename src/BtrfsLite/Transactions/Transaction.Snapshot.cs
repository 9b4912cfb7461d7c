using BtrfsLite.Format;
using BtrfsLite.IO;
using BtrfsLite.Trees;

namespace BtrfsLite.Transactions;

public sealed partial class Transaction
{
    /// <summary>
    /// Creates tree <paramref name="newTreeId"/> as a snapshot of <paramref name="sourceTreeId"/>: a copy of the
    /// source's root block owned by the new tree, whose children gain a reference from it. The source must not
    /// have been changed in this transaction (commit first), so the shared blocks are committed blocks.
    /// </summary>
    public CowTree SnapshotTree(ulong sourceTreeId, ulong newTreeId)
    {
        ThrowIfReadOnly();
        _structureChanges++;
        if (_trees.TryGetValue(sourceTreeId, out var open) && IsDirty(open.RootBytenr))
            throw new InvalidOperationException($"tree {sourceTreeId} changed in this transaction: commit before snapshotting it");
        var src = CurrentRoot(sourceTreeId);
        var old = Read(src.Bytenr, new NodeExpectation(src.Generation, src.Level, 0));
        var (bytenr, buf) = Allocate(newTreeId, src.Level);
        old.AsSpan(NodeHeader.Size).CopyTo(buf.AsSpan(NodeHeader.Size));
        new NodeHeader(buf).NrItems = new NodeHeader(old).NrItems;
        ForEachEdge(buf, src.Level, e => AddEdge(e, OldRule(bytenr, newTreeId, false), +1));
        var t = new CowTree(this, newTreeId, bytenr, src.Level, Generation);
        _trees[newTreeId] = t;
        _snapshots.Add(new SnapshotRecord(sourceTreeId, newTreeId, bytenr));
        return t;
    }

    /// <summary>A snapshot taken in this transaction: source tree, new tree and the new tree's first root block.</summary>
    /// <param name="Source">The id of the subvolume tree that was snapshotted.</param>
    /// <param name="Snapshot">The new snapshot's tree id.</param>
    /// <param name="SnapshotRoot">The logical address of the snapshot's first root block (a copy of the source's
    /// root).</param>
    public readonly record struct SnapshotRecord(ulong Source, ulong Snapshot, ulong SnapshotRoot);

    private readonly List<SnapshotRecord> _snapshots = new();
    private readonly HashSet<ulong> _changedExtents = new();
    private bool _accountingStarted;

    /// <summary>Snapshots taken in this transaction, in order (qgroup accounting treats their sharing).</summary>
    public IReadOnlyList<SnapshotRecord> Snapshots => _snapshots;

    /// <summary>Trees dropped in this transaction.</summary>
    public IReadOnlyCollection<ulong> DroppedTrees => _dropped;

    /// <summary>
    /// Start of every extent (data or tree block) whose references changed in this transaction, from its delayed-ref
    /// heads, as far as the commit has run them: qgroup accounting (the commit's hook) reads the complete set.
    /// </summary>
    public IReadOnlyCollection<ulong> ChangedExtents => _changedExtents;

    /// <summary>Snapshots (tree ids) whose qgroups took the quick inherit: their numbers are set, their sharing is not traced.</summary>
    public HashSet<ulong> QuickInheritedSnapshots { get; } = new();

    /// <summary>
    /// Level-0 qgroups removed in this transaction (their subvolume dropped) with the parents they had when removed:
    /// the dropped extents are accounted against those.
    /// </summary>
    public Dictionary<ulong, List<ulong>> RemovedQgroupParents { get; } = new();

    /// <summary>A qgroup rescan was asked for in this transaction: the commit recomputes every qgroup from the trees.</summary>
    public bool QgroupRescanRequested { get; set; }

    /// <summary>Drops a whole tree: its root loses the tree's reference; blocks and data no longer referenced are freed at commit.</summary>
    public void DropTree(ulong treeId)
    {
        ThrowIfReadOnly();
        var root = CurrentRoot(treeId);
        var head = GetTreeHead(root.Bytenr, root.Level);
        head.Add(BackrefKey.TreeBlock(treeId), -1);
        DelayedDirIndex.ForgetTree(treeId);
        if (_trees.Remove(treeId, out var gone)) _structureChanges += gone.Changes;
        _structureChanges++;
        _dropped.Add(treeId);
    }
}
