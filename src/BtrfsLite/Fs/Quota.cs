using BtrfsLite.Format;
using BtrfsLite.Transactions;
using BtrfsLite.Trees;

namespace BtrfsLite.Fs;

/// <summary>Quota tree items kept consistent by the writer (the full quota commands come with the quota issue).</summary>
public static class Quota
{
    public static void CreateQgroupItems(Transaction tx, ulong qgroupId)
    {
        var qt = tx.Tree(ObjectIds.QuotaTree);
        var info = new QgroupInfoItem(qt.Insert(new Key(0, ItemType.QgroupInfo, qgroupId), QgroupInfoItem.Size));
        info.Generation = tx.Generation;
        new QgroupLimitItem(qt.Insert(new Key(0, ItemType.QgroupLimit, qgroupId), QgroupLimitItem.Size));
    }

    /// <summary>A snapshot's level-0 qgroup takes its source's limits (flags, max_rfer, max_excl), as btrfs_qgroup_inherit does.</summary>
    public static void CopyLimit(Transaction tx, ulong fromQgroup, ulong toQgroup)
    {
        var qt = tx.Tree(ObjectIds.QuotaTree);
        var c = tx.NewCursor();
        if (!c.Find(tx.CurrentRoot(ObjectIds.QuotaTree), new Key(0, ItemType.QgroupLimit, fromQgroup)) || c.Data.Length < QgroupLimitItem.Size) return;
        var src = c.Data[..QgroupLimitItem.Size].ToArray();
        var key = new Key(0, ItemType.QgroupLimit, toQgroup);
        if (!qt.TryGetForWrite(key, out var d)) d = qt.Insert(key, QgroupLimitItem.Size);
        src.CopyTo(d);
    }

    public static void DeleteQgroupItems(Transaction tx, ulong qgroupId)
    {
        var qt = tx.Tree(ObjectIds.QuotaTree);
        qt.Delete(new Key(0, ItemType.QgroupInfo, qgroupId));
        qt.Delete(new Key(0, ItemType.QgroupLimit, qgroupId));
        // Relations in both directions.
        var c = tx.NewCursor();
        var rel = new List<Key>();
        if (c.SeekPrefix(tx.CurrentRoot(ObjectIds.QuotaTree), qgroupId, ItemType.QgroupRelation))
            do
            {
                if (c.ObjectId != qgroupId || c.Type != ItemType.QgroupRelation) break;
                rel.Add(c.Key);
            } while (c.Next());
        foreach (var k in rel)
        {
            qt.Delete(k);
            qt.Delete(new Key(k.Offset, ItemType.QgroupRelation, k.ObjectId));
        }
    }

    /// <summary>
    /// The commit hook of the write path until incremental accounting lands: recomputes referenced/exclusive of every
    /// qgroup from the extent tree's backrefs (the checker's own algorithm, run on this transaction's trees) and
    /// writes the INFO items that differ. Exact, O(extent tree) per commit. While accounting is off
    /// (<see cref="BtrfsImage.QgroupNoAccounting"/>) nothing is written.
    /// </summary>
    public static void RescanAccounting(Transaction tx)
    {
        if (!tx.HasTree(ObjectIds.QuotaTree) || tx.Image.QgroupNoAccounting) return;
        var qt = tx.Tree(ObjectIds.QuotaTree);
        foreach (var (qgroupId, (rfer, excl)) in Compute(tx))
        {
            if (!qt.TryGetForWrite(new Key(0, ItemType.QgroupInfo, qgroupId), out var d)) continue;
            var info = new QgroupInfoItem(d);
            info.Generation = tx.Generation;
            info.Rfer = rfer; info.RferCmpr = rfer;
            info.Excl = excl; info.ExclCmpr = excl;
        }
    }

    /// <summary>Referenced/exclusive of every qgroup as the trees of <paramref name="tx"/> hold them.</summary>
    private static Dictionary<ulong, (ulong Rfer, ulong Excl)> Compute(Transaction tx)
    {
        var qgroups = new List<ulong>();
        var parents = new Dictionary<ulong, List<ulong>>();
        var c = tx.NewCursor();
        if (c.First(tx.CurrentRoot(ObjectIds.QuotaTree)))
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
        if (c.First(tx.CurrentRoot(ObjectIds.RootTree)))
            do
            {
                if (c.Type == ItemType.RootItem && ObjectIds.IsFsTree(c.ObjectId)) fsRoots.Add(tx.CurrentRoot(c.ObjectId));
            } while (c.Next());
        return Qgroups.QgroupAccounting.Rescan(tx, tx.Image.NodeSize, fsRoots, qgroups, parents);
    }
}
