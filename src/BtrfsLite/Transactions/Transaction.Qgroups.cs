using BtrfsLite.Format;
using BtrfsLite.Qgroups;
using BtrfsLite.Trees;

namespace BtrfsLite.Transactions;

public sealed partial class Transaction
{
    /// <summary>
    /// The commit's qgroup accounting until incremental accounting lands: recomputes referenced/exclusive of every
    /// qgroup from the extent tree's backrefs (the checker's own algorithm, run on this transaction's trees) and
    /// writes the INFO items that differ. Exact, O(extent tree) per commit. Nothing without a quota tree, and nothing
    /// while accounting is off (<see cref="Images.BtrfsImage.QgroupNoAccounting"/>).
    /// </summary>
    private void AccountQgroups()
    {
        if (!HasTree(ObjectIds.QuotaTree) || _image.QgroupNoAccounting) return;
        var qt = Tree(ObjectIds.QuotaTree);
        foreach (var (qgroupId, (rfer, excl)) in ComputeQgroupUsage())
        {
            if (!qt.TryGetForWrite(new Key(0, ItemType.QgroupInfo, qgroupId), out var d)) continue;
            var info = new QgroupInfoItem(d);
            info.Generation = Generation;
            info.Rfer = rfer; info.RferCmpr = rfer;
            info.Excl = excl; info.ExclCmpr = excl;
        }
    }

    /// <summary>Referenced/exclusive of every qgroup as this transaction's trees hold them.</summary>
    private Dictionary<ulong, (ulong Rfer, ulong Excl)> ComputeQgroupUsage()
    {
        var qgroups = new List<ulong>();
        var parents = new Dictionary<ulong, List<ulong>>();
        var c = NewCursor();
        if (c.First(CurrentRoot(ObjectIds.QuotaTree)))
            do
            {
                if (c.Type == ItemType.QgroupInfo) qgroups.Add(c.Offset);
                else if (c.Type == ItemType.QgroupRelation && QgroupId.LevelOf(c.ObjectId) < QgroupId.LevelOf(c.Offset))
                {
                    if (!parents.TryGetValue(c.ObjectId, out var l)) parents[c.ObjectId] = l = new List<ulong>();
                    l.Add(c.Offset);
                }
            } while (c.Next());
        var fsRoots = new List<TreeRoot>();
        if (c.First(CurrentRoot(ObjectIds.RootTree)))
            do
            {
                if (c.Type == ItemType.RootItem && ObjectIds.IsFsTree(c.ObjectId)) fsRoots.Add(CurrentRoot(c.ObjectId));
            } while (c.Next());
        return QgroupAccounting.Rescan(this, NodeSize, fsRoots, qgroups, parents);
    }
}
