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
    /// Removes the level-0 qgroup of a subvolume whose tree is dropped, as the kernel's cleaner does after the drop
    /// (btrfs_qgroup_cleanup_dropped_subvolume, btrfs_remove_qgroup). While accounting runs the drop moves the qgroup to
    /// zero first and everything goes (<see cref="DeleteQgroupItems"/>). While it does not (INCONSISTENT within this
    /// open image) the numbers are stale: the INFO and LIMIT items go, then each parent relation in
    /// <paramref name="parentOrder"/> (the kernel's list order; on-disk order when null) goes with the kernel's quick
    /// update: a qgroup whose referenced equals its exclusive takes its exclusive bytes out of the parent and every
    /// ancestor (u64 arithmetic, wrapping like the kernel's); where they differ the kernel's removal stops at the first
    /// parent and returns true: the qgroup stays in memory (sysfs lists it until unmount). The kernel also leaves the
    /// later parent relations on disk, which btrfs check rejects ("failed to add qgroup relation"); these go here, as
    /// the kernel's next mount skips them anyway ("orphan qgroup relation").
    /// </summary>
    public static bool RemoveDroppedSubvolumeQgroup(Transaction tx, ulong qgroupId, IReadOnlyList<ulong>? parentOrder = null)
    {
        if (!tx.Image.QgroupNoAccounting)
        {
            DeleteQgroupItems(tx, qgroupId);
            return false;
        }
        var qt = tx.Tree(ObjectIds.QuotaTree);
        var onDisk = RelationKeys(tx, qgroupId).Where(k => QgroupId.LevelOf(k.Offset) > 0).Select(k => k.Offset).ToList();
        var parents = parentOrder?.Where(onDisk.Contains).ToList() ?? onDisk;
        // btrfs_remove_qgroup deletes INFO and LIMIT first; the quick update reads the numbers, so the relations go
        // first here (one transaction: the same items in the end).
        bool stays = false;
        foreach (var parent in parents) stays |= QuotaAdmin.RemoveRelation(tx, qt, qgroupId, parent);
        qt.Delete(new Key(0, ItemType.QgroupInfo, qgroupId));
        qt.Delete(new Key(0, ItemType.QgroupLimit, qgroupId));
        return stays;
    }

    private static List<Key> RelationKeys(Transaction tx, ulong qgroupId)
    {
        var c = tx.NewCursor();
        var rel = new List<Key>();
        if (c.SeekPrefix(tx.CurrentRoot(ObjectIds.QuotaTree), qgroupId, ItemType.QgroupRelation))
            do
            {
                if (c.ObjectId != qgroupId || c.Type != ItemType.QgroupRelation) break;
                rel.Add(c.Key);
            } while (c.Next());
        return rel;
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
        var rel = RelationKeys(tx, qgroupId);
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
