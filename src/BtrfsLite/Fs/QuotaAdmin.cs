using BtrfsLite.Format;
using BtrfsLite.Qgroups;
using BtrfsLite.Transactions;
using BtrfsLite.Trees;

namespace BtrfsLite.Fs;

/// <summary>
/// Quota and qgroup administration inside a running write transaction, as the kernel's quota ioctls do it
/// (fs/btrfs/qgroup.c: btrfs_quota_enable/disable, btrfs_create_qgroup, btrfs_remove_qgroup,
/// btrfs_add/del_qgroup_relation, btrfs_limit_qgroup). Nothing here commits: the caller does, and the commit
/// (<see cref="Transaction.Commit"/>) moves referenced/exclusive by every changed extent.
/// Refusals are <see cref="FsException"/>s carrying the kernel's errno name; a refused call changes nothing.
/// </summary>
public static class QuotaAdmin
{
    /// <summary>
    /// Creates the quota tree (tree 8): its ROOT_ITEM, the status item (version 1, ON, rescan 0) and INFO + LIMIT for
    /// 0/5 and every subvolume with a ROOT_ITEM. The numbers are filled at commit. Already enabled: nothing happens.
    /// </summary>
    public static void Enable(Transaction tx)
    {
        if (tx.HasTree(ObjectIds.QuotaTree)) return;
        tx.Image.QgroupNoAccounting = false;
        var subvolumes = new SortedSet<ulong> { ObjectIds.FsTree };
        var c = tx.NewCursor();
        if (c.Seek(tx.CurrentRoot(ObjectIds.RootTree), new Key(ObjectIds.FirstFree, 0, 0)))
            do
            {
                if (c.ObjectId > ObjectIds.LastFree) break;
                if (c.Type == ItemType.RootItem) subvolumes.Add(c.ObjectId);
            } while (c.Next());

        var qt = tx.CreateTree(ObjectIds.QuotaTree);
        // The kernel's btrfs_create_tree: refs 1, bytes_used one node, zero inode and uuid; the commit keeps
        // bytenr/level/generation current.
        var rd = tx.Tree(ObjectIds.RootTree).Insert(new Key(ObjectIds.QuotaTree, ItemType.RootItem, 0), RootItem.Size);
        rd.Clear();
        var ri = new RootItem(rd);
        ri.Bytenr = qt.RootBytenr;
        ri.Level = (byte)qt.RootLevel;
        ri.Generation = qt.RootGeneration;
        ri.GenerationV2 = qt.RootGeneration;
        ri.Refs = 1;
        ri.BytesUsed = (ulong)tx.NodeSize;

        // 40 bytes like kernels since 6.7 (enable_gen stays 0 for full qgroups).
        var sd = qt.Insert(new Key(0, ItemType.QgroupStatus, 0), QgroupStatusItem.SizeWithEnableGen);
        sd.Clear();
        var status = new QgroupStatusItem(sd);
        status.Version = QgroupStatusItem.CurrentVersion;
        status.Generation = tx.Generation;
        status.Flags = QgroupStatusFlags.On;
        status.Rescan = 0;
        foreach (var id in subvolumes) Quota.CreateQgroupItems(tx, QgroupId.ForSubvolume(id));
    }

    /// <summary>Removes the quota tree: its ROOT_ITEM goes, every block of it is freed at commit. Not enabled: nothing happens.</summary>
    public static void Disable(Transaction tx)
    {
        if (!tx.HasTree(ObjectIds.QuotaTree)) return;
        tx.Image.QgroupNoAccounting = false;
        var c = tx.NewCursor();
        if (c.SeekPrefix(tx.CurrentRoot(ObjectIds.RootTree), ObjectIds.QuotaTree, ItemType.RootItem))
            tx.Tree(ObjectIds.RootTree).Delete(c.Key);
        tx.DropTree(ObjectIds.QuotaTree);
    }

    /// <summary>
    /// Asks for a recomputation of every qgroup: clears INCONSISTENT (and RESCAN) and records a finished scan
    /// (progress all-ones, as the kernel leaves it). The numbers themselves are written by the commit hook.
    /// </summary>
    public static void Rescan(Transaction tx)
    {
        var qt = RequireEnabled(tx);
        if (!qt.TryGetForWrite(new Key(0, ItemType.QgroupStatus, 0), out var d))
            throw Corruption.Create("the quota tree has no QGROUP_STATUS item", 0, ObjectIds.QuotaTree);
        var s = new QgroupStatusItem(d);
        s.Flags &= ~(QgroupStatusFlags.Inconsistent | QgroupStatusFlags.Rescan);
        s.Rescan = ulong.MaxValue;
        tx.Image.QgroupNoAccounting = false;
        tx.QgroupRescanRequested = true;
    }

    /// <summary>
    /// qgroup_mark_inconsistent: the status says INCONSISTENT and, until a rescan, no commit of this open image accounts
    /// any extent (the kernel's runtime NO_ACCOUNTING): the numbers stay where they are.
    /// </summary>
    public static void MarkInconsistent(Transaction tx)
    {
        var qt = RequireEnabled(tx);
        if (qt.TryGetForWrite(new Key(0, ItemType.QgroupStatus, 0), out var sd))
        {
            var s = new QgroupStatusItem(sd);
            s.Flags |= QgroupStatusFlags.Inconsistent;
        }
        tx.Image.QgroupNoAccounting = true;
    }

    /// <summary>
    /// btrfs_qgroup_inherit for a new subvolume (<paramref name="source"/> 0) or snapshot, after its qgroup was created:
    /// membership in <paramref name="inherit"/> (relation items only, no quick update). A snapshot's qgroup starts with
    /// the source's referenced and one node exclusive, and so does the source's exclusive (the commit's accounting
    /// corrects both, unless accounting is off). A rescan is needed, and the status marked INCONSISTENT, when the
    /// source has parents and the snapshot joins none, or when the snapshot joins a qgroup that is not the source's
    /// only parent or whose referenced differs from its exclusive (qgroup_snapshot_quick_inherit); otherwise that
    /// parent and its ancestors grow by one node. Returns whether it marked INCONSISTENT.
    /// </summary>
    public static bool Inherit(Transaction tx, ulong source, ulong qgroupId, ulong? inherit)
    {
        var qt = RequireEnabled(tx);
        if (inherit is ulong parent)
        {
            AddRelationItems(qt, qgroupId, parent);
        }
        if (source == 0) return false;
        ulong node = (ulong)tx.NodeSize;
        SetQuickNumbers(tx, qt, source, qgroupId);
        var srcParents = Relations(tx, source, below: false);
        bool rescan;
        if (inherit is not ulong p) rescan = srcParents.Count > 0;
        else if (srcParents.Count != 1 || srcParents[0] != p) rescan = true;
        else
        {
            var (rfer, excl) = qt.TryGet(new Key(0, ItemType.QgroupInfo, p), out var pd)
                ? (Le.U64(pd, QgroupInfoItem.Offsets.Rfer), Le.U64(pd, QgroupInfoItem.Offsets.Excl)) : (0UL, 0UL);
            rescan = rfer != excl;
            if (!rescan) AddToAncestors(tx, qt, p, node, +1);
        }
        if (rescan) MarkInconsistent(tx);
        return rescan;
    }

    /// <summary>
    /// The quick inherit of a snapshot made without <c>-i</c> when it is exact (the source's qgroup exists and has no
    /// parents); returns false, changing nothing, otherwise: the commit then traces the source's tree instead of marking
    /// the numbers inconsistent as the kernel would (the one-transaction API keeps exact numbers).
    /// </summary>
    public static bool TryQuickInherit(Transaction tx, ulong source, ulong qgroupId)
    {
        var qt = RequireEnabled(tx);
        if (Relations(tx, source, below: false).Count > 0) return false;
        return SetQuickNumbers(tx, qt, source, qgroupId);
    }

    /// <summary>
    /// The snapshot's qgroup starts with the source's referenced and one node exclusive, and the source keeps one node
    /// exclusive (its root: everything else is shared now). Only where the source's qgroup exists (the kernel skips the
    /// numbers otherwise; the commit traces the source's tree then). The commit's per-extent accounting starts from
    /// these numbers, with the snapshot reaching whatever its source reached.
    /// </summary>
    private static bool SetQuickNumbers(Transaction tx, CowTree qt, ulong source, ulong qgroupId)
    {
        if (!qt.TryGet(new Key(0, ItemType.QgroupInfo, source), out var sdata) || sdata.Length < QgroupInfoItem.Size) return false;
        ulong srcRfer = Le.U64(sdata, QgroupInfoItem.Offsets.Rfer), node = (ulong)tx.NodeSize;
        SetInfo(qt, qgroupId, srcRfer, node);
        SetInfo(qt, source, srcRfer, node);
        tx.QuickInheritedSnapshots.Add(qgroupId);
        return true;

        static void SetInfo(CowTree qt, ulong q, ulong rfer, ulong excl)
        {
            if (!qt.TryGetForWrite(new Key(0, ItemType.QgroupInfo, q), out var d)) return;
            var info = new QgroupInfoItem(d);
            info.Rfer = rfer; info.RferCmpr = rfer;
            info.Excl = excl; info.ExclCmpr = excl;
        }
    }

    /// <summary>Creates qgroup <paramref name="qgroupId"/> (INFO + LIMIT, all zero). EEXIST when it exists.</summary>
    public static void CreateQgroup(Transaction tx, ulong qgroupId)
    {
        RefuseSubvolumeQgroupCreate(qgroupId);
        var qt = RequireEnabled(tx);
        if (Exists(qt, qgroupId)) throw new FsException("EEXIST", $"qgroup {QgroupId.Format(qgroupId)} exists");
        Quota.CreateQgroupItems(tx, qgroupId);
    }

    /// <summary>
    /// btrfs_ioctl_qgroup_create refuses the id 0 and every level-0 qgroup of a subvolume id (one is made with its
    /// subvolume) with EINVAL before anything else, an existing one included (measured on Linux 6.18.44: 0/5, 0/300 and
    /// the qgroup of a removed subvolume; workload rm-cleaner).
    /// </summary>
    public static void RefuseSubvolumeQgroupCreate(ulong qgroupId)
    {
        ulong id = QgroupId.IdOf(qgroupId);
        if (qgroupId == 0 || QgroupId.LevelOf(qgroupId) == 0 && (id == ObjectIds.FsTree || id >= ObjectIds.FirstFree))
            throw new FsException("EINVAL", $"qgroup {QgroupId.Format(qgroupId)}: a subvolume's level-0 qgroup is made with the subvolume");
    }

    /// <summary>
    /// Destroys a qgroup: ENOENT when missing; EBUSY for a higher-level qgroup that still has members, and for a
    /// level-0 qgroup whose subvolume still exists (Linux 6.18 refuses both; 0/5 included). Its relations to parents
    /// go first, each updating the parent's numbers as <see cref="Remove"/> does.
    /// </summary>
    public static void DestroyQgroup(Transaction tx, ulong qgroupId)
    {
        var qt = RequireEnabled(tx);
        string name = QgroupId.Format(qgroupId);
        if (!Exists(qt, qgroupId)) throw new FsException("ENOENT", $"qgroup {name} does not exist");
        if (QgroupId.LevelOf(qgroupId) == 0)
        {
            var c = tx.NewCursor();
            if (c.SeekPrefix(tx.CurrentRoot(ObjectIds.RootTree), qgroupId, ItemType.RootItem))
                throw new FsException("EBUSY", $"qgroup {name} belongs to an existing subvolume");
        }
        else if (Relations(tx, qgroupId, below: true).Count > 0)
            throw new FsException("EBUSY", $"qgroup {name} still has members");
        foreach (var parent in Relations(tx, qgroupId, below: false)) RemoveRelation(tx, qt, qgroupId, parent);
        Quota.DeleteQgroupItems(tx, qgroupId);
    }

    /// <summary>
    /// Makes <paramref name="child"/> a member of <paramref name="parent"/> (RELATION items both ways). EINVAL when
    /// the parent's level is not above the child's, or when either is missing (Linux 6.18 answers EINVAL there too);
    /// EEXIST when related already. When the child's referenced equals its exclusive, its exclusive bytes are added
    /// to the parent and every ancestor; otherwise the status is marked INCONSISTENT. Returns true when a rescan is
    /// needed: the quick update did not apply, or the status was INCONSISTENT already.
    /// </summary>
    public static bool Assign(Transaction tx, ulong child, ulong parent)
    {
        CheckLevels(child, parent);
        var qt = RequireEnabled(tx);
        foreach (var q in new[] { child, parent })
            if (!Exists(qt, q)) throw new FsException("EINVAL", $"qgroup {QgroupId.Format(q)} does not exist");
        if (qt.Contains(new Key(child, ItemType.QgroupRelation, parent)))
            throw new FsException("EEXIST", $"{QgroupId.Format(child)} is already a member of {QgroupId.Format(parent)}");
        bool inconsistent = IsInconsistent(qt);
        AddRelationItems(qt, child, parent);
        // Linux 6.18 asks for a rescan whenever the status already says INCONSISTENT, even where the quick update
        // applies (measured, workload relation-inconsistent).
        return !QuickUpdate(tx, qt, child, parent, +1) || inconsistent;
    }

    private static bool IsInconsistent(CowTree qt) =>
        qt.TryGet(new Key(0, ItemType.QgroupStatus, 0), out var d) && d.Length >= QgroupStatusItem.Size &&
        ((QgroupStatusFlags)Le.U64(d, QgroupStatusItem.Offsets.Flags) & QgroupStatusFlags.Inconsistent) != 0;

    /// <summary>
    /// Ends the membership of <paramref name="child"/> in <paramref name="parent"/>: ENOENT when neither RELATION item
    /// exists (a half relation is cleaned up); EINVAL for a pair whose levels cannot be related (btrfs-progs refuses
    /// it before asking the kernel). Parent numbers are updated like <see cref="Assign"/>, with the opposite sign.
    /// </summary>
    public static bool Remove(Transaction tx, ulong child, ulong parent)
    {
        CheckLevels(child, parent);
        var qt = RequireEnabled(tx);
        bool inconsistent = IsInconsistent(qt);
        return RemoveRelation(tx, qt, child, parent) || inconsistent;
    }

    /// <summary>
    /// Sets (<paramref name="maxBytes"/> given) or clears (null) the MAX_EXCL (<paramref name="exclusive"/>) or
    /// MAX_RFER limit of a qgroup; ENOENT when it does not exist. The other limit is left as it is.
    /// </summary>
    public static void Limit(Transaction tx, ulong qgroupId, bool exclusive, ulong? maxBytes)
    {
        var qt = RequireEnabled(tx);
        if (!Exists(qt, qgroupId)) throw new FsException("ENOENT", $"qgroup {QgroupId.Format(qgroupId)} does not exist");
        var key = new Key(0, ItemType.QgroupLimit, qgroupId);
        if (!qt.TryGetForWrite(key, out var d))
        {
            d = qt.Insert(key, QgroupLimitItem.Size);
            d.Clear();
        }
        var l = new QgroupLimitItem(d);
        var flag = exclusive ? QgroupLimitFlags.MaxExcl : QgroupLimitFlags.MaxRfer;
        if (maxBytes is ulong max) l.Flags |= flag;
        else l.Flags &= ~flag;
        if (exclusive) l.MaxExcl = maxBytes ?? 0;
        else l.MaxRfer = maxBytes ?? 0;
    }

    /// <summary>The quota state as this transaction sees it (its own changes included); null when quotas are off.</summary>
    public static QuotaState? Read(Transaction tx) =>
        tx.HasTree(ObjectIds.QuotaTree) ? QgroupTree.Read(tx.NewCursor(), tx.CurrentRoot(ObjectIds.QuotaTree)) : null;

    // ------------------------------------------------------------------ helpers

    private static CowTree RequireEnabled(Transaction tx)
    {
        if (!tx.HasTree(ObjectIds.QuotaTree)) throw new FsException("ENOTCONN", "quotas are not enabled");
        return tx.Tree(ObjectIds.QuotaTree);
    }

    private static void CheckLevels(ulong child, ulong parent)
    {
        if (QgroupId.LevelOf(parent) <= QgroupId.LevelOf(child))
            throw new FsException("EINVAL", $"bad relation: the level of {QgroupId.Format(parent)} must be above that of {QgroupId.Format(child)}");
    }

    /// <summary>The RELATION items of a membership, both ways (add_qgroup_relation_item twice).</summary>
    private static void AddRelationItems(CowTree qt, ulong child, ulong parent)
    {
        qt.TryInsert(new Key(child, ItemType.QgroupRelation, parent), 0, out _);
        qt.TryInsert(new Key(parent, ItemType.QgroupRelation, child), 0, out _);
    }

    // The kernel keeps a qgroup in memory for an INFO or a LIMIT item.
    private static bool Exists(CowTree qt, ulong qgroupId) =>
        qt.Contains(new Key(0, ItemType.QgroupInfo, qgroupId)) || qt.Contains(new Key(0, ItemType.QgroupLimit, qgroupId));

    /// <summary>The members (<paramref name="below"/>) or the parents of a qgroup, from its RELATION items.</summary>
    private static List<ulong> Relations(Transaction tx, ulong qgroupId, bool below)
    {
        var list = new List<ulong>();
        var c = tx.NewCursor();
        if (c.SeekPrefix(tx.CurrentRoot(ObjectIds.QuotaTree), qgroupId, ItemType.QgroupRelation))
            do
            {
                if (c.ObjectId != qgroupId || c.Type != ItemType.QgroupRelation) break;
                ushort other = QgroupId.LevelOf(c.Offset), me = QgroupId.LevelOf(qgroupId);
                if (below ? other < me : other > me) list.Add(c.Offset);
            } while (c.Next());
        return list;
    }

    /// <summary>
    /// Deletes both RELATION items of <paramref name="child"/> in <paramref name="parent"/> with the kernel's quick
    /// update (__del_qgroup_relation); true when it did not apply (the status is then INCONSISTENT).
    /// </summary>
    internal static bool RemoveRelation(Transaction tx, CowTree qt, ulong child, ulong parent)
    {
        bool up = qt.Contains(new Key(child, ItemType.QgroupRelation, parent));
        bool down = qt.Contains(new Key(parent, ItemType.QgroupRelation, child));
        if (!up && !down)
            throw new FsException("ENOENT", $"{QgroupId.Format(child)} is not a member of {QgroupId.Format(parent)}");
        if (up) qt.Delete(new Key(child, ItemType.QgroupRelation, parent));
        if (down) qt.Delete(new Key(parent, ItemType.QgroupRelation, child));
        // The kernel knows the relation (and updates numbers) only when both qgroups exist and the member's item was there.
        return up && Exists(qt, child) && Exists(qt, parent) && !QuickUpdate(tx, qt, child, parent, -1);
    }

    /// <summary>
    /// The kernel's quick_update_accounting: when the member's rfer equals its excl, add (or subtract) its excl to
    /// rfer and excl of the parent and of every ancestor of the parent, each once; otherwise mark INCONSISTENT.
    /// </summary>
    private static bool QuickUpdate(Transaction tx, CowTree qt, ulong child, ulong parent, int sign)
    {
        ulong rfer = 0, excl = 0;
        if (qt.TryGet(new Key(0, ItemType.QgroupInfo, child), out var cd) && cd.Length >= QgroupInfoItem.Size)
        {
            rfer = Le.U64(cd, QgroupInfoItem.Offsets.Rfer);
            excl = Le.U64(cd, QgroupInfoItem.Offsets.Excl);
        }
        if (rfer != excl)
        {
            MarkInconsistent(tx);
            return false;
        }
        AddToAncestors(tx, qt, parent, excl, sign);
        return true;
    }

    /// <summary>Adds (or subtracts) <paramref name="bytes"/> to rfer and excl of <paramref name="parent"/> and of each of its ancestors once.</summary>
    private static void AddToAncestors(Transaction tx, CowTree qt, ulong parent, ulong bytes, int sign)
    {
        if (bytes == 0) return;
        var seen = new HashSet<ulong>();
        var todo = new Queue<ulong>();
        todo.Enqueue(parent);
        while (todo.Count > 0)
        {
            var q = todo.Dequeue();
            if (!seen.Add(q)) continue;
            if (qt.TryGetForWrite(new Key(0, ItemType.QgroupInfo, q), out var d))
            {
                var info = new QgroupInfoItem(d);
                info.Rfer = Apply(info.Rfer, bytes, sign); info.RferCmpr = Apply(info.RferCmpr, bytes, sign);
                info.Excl = Apply(info.Excl, bytes, sign); info.ExclCmpr = Apply(info.ExclCmpr, bytes, sign);
            }
            foreach (var p in Relations(tx, q, below: false)) todo.Enqueue(p);
        }
    }

    // u64 arithmetic as the kernel's __qgroup_excl_accounting: stale numbers (accounting off) can wrap below zero, and
    // the kernel writes and shows them so.
    private static ulong Apply(ulong value, ulong bytes, int sign) => unchecked(sign > 0 ? value + bytes : value - bytes);
}
