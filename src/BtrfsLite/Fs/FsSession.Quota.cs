using BtrfsLite.Format;

namespace BtrfsLite.Fs;

/// <summary>Quota administration on a live session: the quota tree changes in the running transaction and the reservation engine follows at once.</summary>
public sealed partial class FsSession
{
    /// <summary>btrfs quota enable: the quota tree and every subvolume's qgroup, numbers from a rescan; commits.</summary>
    public void QuotaEnable()
    {
        var mark = Mark();
        try
        {
            QuotaAdmin.Enable(Tx());
            Commit();
            ReloadQuota(); // dirty data written before quotas were on holds no reservation, as in the kernel
            _dirtyInodeReserved.Clear();
            foreach (var d in _dirty.Values) d.MetaReserved = 0;
        }
        catch (Exception ex) when (AbortOn(ex, mark)) { throw PartialChange(ex); }
    }

    /// <summary>btrfs quota disable: the quota tree goes; every reservation with it; commits.</summary>
    public void QuotaDisable()
    {
        var mark = Mark();
        try
        {
            QuotaAdmin.Disable(Tx());
            Qgroups = null;
            _dirtyInodeReserved.Clear();
            _ghostQgroups.Clear();
            _cleanerQgroups.Clear();
            _cleanerReady.Clear();
            foreach (var d in _dirty.Values) d.MetaReserved = 0;
            Commit();
        }
        catch (Exception ex) when (AbortOn(ex, mark)) { throw PartialChange(ex); }
    }

    /// <summary>btrfs quota rescan -w: commits, referenced/exclusive recomputed from the backrefs.</summary>
    public void QuotaRescan()
    {
        var mark = Mark();
        try
        {
            QuotaAdmin.Rescan(Tx());
            Commit();
            if (_ghostQgroups.Count == 0 || Qgroups == null) return;
            // The rescan zeroes every qgroup in memory and marks it dirty, items or not. The rescan worker's own commit
            // cannot write a ghost's INFO item, so the kernel stops accounting from then on (measured: workload
            // ghost-qgroup). It also clears INCONSISTENT again as the scan ends, leaving numbers on disk that btrfs
            // check rejects; ours stay marked INCONSISTENT, so the image says what it holds.
            foreach (var q in _ghostQgroups) Qgroups.SetUsage(q, 0, 0);
            QuotaAdmin.MarkInconsistent(Tx());
        }
        catch (Exception ex) when (AbortOn(ex, mark)) { throw PartialChange(ex); }
    }

    /// <summary>
    /// Creates qgroup <paramref name="qgroupId"/> in the running transaction, after reserving qgroup metadata for two
    /// items on the top-level subvolume (as btrfs_ioctl_qgroup_create).
    /// </summary>
    public void QgroupCreate(ulong qgroupId)
    {
        var mark = Mark();
        try
        {
            QuotaAdmin.RefuseSubvolumeQgroupCreate(qgroupId); // before the transaction, as the ioctl
            // btrfs_ioctl_qgroup_create starts a transaction of 2 items on the top level (the harness' mount point):
            // its qgroup metadata reservation fails with EDQUOT when 0/5 is over a limit.
            ReserveMetaItems(ObjectIds.FsTree, 2);
            QuotaAdmin.CreateQgroup(Tx(), qgroupId); // (a ghost is a level-0 qgroup: refused above)
            Qgroups?.CreateQgroup(qgroupId);
        }
        catch (Exception ex) when (AbortOn(ex, mark)) { throw PartialChange(ex); }
    }

    /// <summary>
    /// Destroys qgroup <paramref name="qgroupId"/> in the running transaction, after the same two-item metadata
    /// reservation as <see cref="QgroupCreate"/>.
    /// </summary>
    public void QgroupDestroy(ulong qgroupId)
    {
        var mark = Mark();
        try
        {
            ReserveMetaItems(ObjectIds.FsTree, 2); // the same ioctl as create
            QuotaAdmin.DestroyQgroup(Tx(), qgroupId);
            Qgroups?.DestroyQgroup(qgroupId);
        }
        catch (Exception ex) when (AbortOn(ex, mark)) { throw PartialChange(ex); }
    }

    /// <summary>qgroup assign: the relation, the engine's quick update (numbers and reservations move with the member), or a rescan when it does not apply.</summary>
    public void QgroupAssign(ulong child, ulong parent)
    {
        var mark = Mark();
        try
        {
            ReserveMetaItems(ObjectIds.FsTree, 2); // the ioctl's transaction: 2 RELATION items, on the top level
            bool rescan = QuotaAdmin.Assign(Tx(), child, parent);
            Qgroups?.AddRelation(child, parent);
            // btrfs-progs rescans when the ioctl says the quick update did not apply.
            if (rescan) QuotaRescan();
        }
        catch (Exception ex) when (AbortOn(ex, mark)) { throw PartialChange(ex); }
    }

    /// <summary>
    /// qgroup remove: drops the relation of <paramref name="child"/> to <paramref name="parent"/> in the running
    /// transaction with the engine's quick update, or rescans when it does not apply.
    /// </summary>
    public void QgroupRemove(ulong child, ulong parent)
    {
        var mark = Mark();
        try
        {
            ReserveMetaItems(ObjectIds.FsTree, 2);
            bool rescan = QuotaAdmin.Remove(Tx(), child, parent);
            Qgroups?.RemoveRelation(child, parent);
            if (rescan) QuotaRescan();
        }
        catch (Exception ex) when (AbortOn(ex, mark)) { throw PartialChange(ex); }
    }

    /// <summary>btrfs qgroup limit [-e] SIZE|none: enforced from the next reservation on.</summary>
    public void QgroupLimit(ulong qgroupId, bool exclusive, ulong? maxBytes)
    {
        var mark = Mark();
        try
        {
            // btrfs_ioctl_qgroup_limit: a transaction of 1 item on the top level, so even clearing a limit can fail
            // with EDQUOT while 0/5 is over one.
            ReserveMetaItems(ObjectIds.FsTree, 1);
            bool ghost = _ghostQgroups.Contains(qgroupId);
            if (!ghost) QuotaAdmin.Limit(Tx(), qgroupId, exclusive, maxBytes);
            if (Qgroups != null && Qgroups.TryGetCounters(qgroupId, out var c))
            {
                var flag = exclusive ? QgroupLimitFlags.MaxExcl : QgroupLimitFlags.MaxRfer;
                var flags = maxBytes == null ? c.LimitFlags & ~flag : c.LimitFlags | flag;
                ulong rfer = exclusive ? c.MaxReferenced : maxBytes ?? 0, excl = exclusive ? maxBytes ?? 0 : c.MaxExclusive;
                Qgroups.SetLimit(qgroupId, flags, rfer, excl);
            }
            if (!ghost) return;
            // A ghost has no LIMIT item: btrfs_limit_qgroup sets the limit in memory, fails to update the item, marks
            // the qgroups INCONSISTENT and returns ENOENT (seeds 10177, 12133, 14186).
            using (new KeptChanges(this)) QuotaAdmin.MarkInconsistent(Tx());
            throw new FsException("ENOENT", $"qgroup {QgroupId.Format(qgroupId)} has no items (its subvolume was dropped)");
        }
        catch (Exception ex) when (AbortOn(ex, mark)) { throw PartialChange(ex); }
    }
}
