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
        return t;
    }

    /// <summary>Drops a whole tree: its root loses the tree's reference; blocks and data no longer referenced are freed at commit.</summary>
    public void DropTree(ulong treeId)
    {
        ThrowIfReadOnly();
        var root = CurrentRoot(treeId);
        var head = GetTreeHead(root.Bytenr, root.Level);
        head.Add(BackrefKey.TreeBlock(treeId), -1);
        _trees.Remove(treeId);
        _dropped.Add(treeId);
    }
}
