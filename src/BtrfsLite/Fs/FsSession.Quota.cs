using BtrfsLite.Format;

namespace BtrfsLite.Fs;

/// <summary>Quota administration on a live session: the quota tree changes in the running transaction and the reservation engine follows at once.</summary>
public sealed partial class FsSession
{
    /// <summary>btrfs quota enable: the quota tree and every subvolume's qgroup, numbers from a rescan; commits.</summary>
    public void QuotaEnable()
    {
        QuotaAdmin.Enable(Tx());
        Commit();
        ReloadQuota(); // dirty data written before quotas were on holds no reservation, as in the kernel
        foreach (var d in _dirty.Values) d.MetaReserved = 0;
    }

    /// <summary>btrfs quota disable: the quota tree goes; every reservation with it; commits.</summary>
    public void QuotaDisable()
    {
        QuotaAdmin.Disable(Tx());
        Qgroups = null;
        foreach (var d in _dirty.Values) d.MetaReserved = 0;
        Commit();
    }

    /// <summary>btrfs quota rescan -w: commits, referenced/exclusive recomputed from the backrefs.</summary>
    public void QuotaRescan()
    {
        QuotaAdmin.Rescan(Tx());
        Commit();
    }

    public void QgroupCreate(ulong qgroupId)
    {
        QuotaAdmin.CreateQgroup(Tx(), qgroupId);
        Qgroups?.CreateQgroup(qgroupId);
    }

    public void QgroupDestroy(ulong qgroupId)
    {
        QuotaAdmin.DestroyQgroup(Tx(), qgroupId);
        Qgroups?.DestroyQgroup(qgroupId);
    }

    /// <summary>qgroup assign: the relation, the engine's quick update (numbers and reservations move with the member), or a rescan when it does not apply.</summary>
    public void QgroupAssign(ulong child, ulong parent)
    {
        QuotaAdmin.Assign(Tx(), child, parent);
        Qgroups?.AddRelation(child, parent);
        RescanIfInconsistent();
    }

    public void QgroupRemove(ulong child, ulong parent)
    {
        QuotaAdmin.Remove(Tx(), child, parent);
        Qgroups?.RemoveRelation(child, parent);
        RescanIfInconsistent();
    }

    private void RescanIfInconsistent()
    {
        var state = QuotaAdmin.Read(Tx());
        if (state != null && (state.Status & QgroupStatusFlags.Inconsistent) != 0) QuotaRescan();
    }

    /// <summary>btrfs qgroup limit [-e] SIZE|none: enforced from the next reservation on.</summary>
    public void QgroupLimit(ulong qgroupId, bool exclusive, ulong? maxBytes)
    {
        QuotaAdmin.Limit(Tx(), qgroupId, exclusive, maxBytes);
        if (Qgroups == null || !Qgroups.TryGetCounters(qgroupId, out var c)) return;
        var flag = exclusive ? QgroupLimitFlags.MaxExcl : QgroupLimitFlags.MaxRfer;
        var flags = maxBytes == null ? c.LimitFlags & ~flag : c.LimitFlags | flag;
        ulong rfer = exclusive ? c.MaxReferenced : maxBytes ?? 0, excl = exclusive ? maxBytes ?? 0 : c.MaxExclusive;
        Qgroups.SetLimit(qgroupId, flags, rfer, excl);
    }
}
