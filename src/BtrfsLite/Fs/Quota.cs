using BtrfsLite.Format;
using BtrfsLite.Transactions;
using BtrfsLite.Trees;

namespace BtrfsLite.Fs;

/// <summary>Quota tree items kept consistent by the writer (the full quota commands come with the quota issue).</summary>
public static class Quota
{
    /// <summary>
    /// Inserts the QGROUP_INFO (zero usage, this transaction's generation) and QGROUP_LIMIT (no limits) items of qgroup
    /// <paramref name="qgroupId"/>.
    /// </summary>
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

    /// <summary>
    /// Deletes the QGROUP_INFO and QGROUP_LIMIT items of qgroup <paramref name="qgroupId"/> and its QGROUP_RELATION
    /// items in both directions.
    /// </summary>
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
        // A dropped subvolume's extents leave the parents its qgroup had when it went (the kernel accounts the drop
        // before it removes the qgroup), which may be relations made in this very transaction.
        var parents = rel.Where(k => QgroupId.LevelOf(k.Offset) > QgroupId.LevelOf(qgroupId)).Select(k => k.Offset).ToList();
        if (QgroupId.LevelOf(qgroupId) == 0) tx.RemovedQgroupParents[qgroupId] = parents;
    }
}
