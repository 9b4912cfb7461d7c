using BtrfsLite.Format;
using BtrfsLite.Images;

namespace BtrfsLite.Qgroups;

/// <summary>One qgroup as the quota tree stores it (INFO, LIMIT and RELATION items).</summary>
/// <param name="QgroupId">The 64-bit qgroup id (the QGROUP_INFO key offset).</param>
/// <param name="Referenced">btrfs_qgroup_info_item.rfer in bytes.</param>
/// <param name="Exclusive">btrfs_qgroup_info_item.excl in bytes.</param>
/// <param name="LimitFlags">btrfs_qgroup_limit_item.flags (none without a QGROUP_LIMIT item).</param>
/// <param name="MaxReferenced">btrfs_qgroup_limit_item.max_rfer in bytes.</param>
/// <param name="MaxExclusive">btrfs_qgroup_limit_item.max_excl in bytes.</param>
/// <param name="Parents">The qgroups this one is a member of (its QGROUP_RELATION items towards higher levels).</param>
public sealed record QgroupEntry(ulong QgroupId, ulong Referenced, ulong Exclusive, QgroupLimitFlags LimitFlags,
    ulong MaxReferenced, ulong MaxExclusive, IReadOnlyList<ulong> Parents)
{
    /// <summary>The qgroup id as "level/id".</summary>
    public string Id => Format.QgroupId.Format(QgroupId);
}

/// <summary>The persisted quota state of an image: status, every qgroup, and the relations.</summary>
/// <param name="Status">btrfs_qgroup_status_item.flags.</param>
/// <param name="StatusGeneration">btrfs_qgroup_status_item.generation.</param>
/// <param name="Qgroups">Every qgroup with a QGROUP_INFO item, by id.</param>
public sealed record QuotaState(QgroupStatusFlags Status, ulong StatusGeneration, IReadOnlyList<QgroupEntry> Qgroups)
{
    /// <summary>The entry of qgroup <paramref name="qgroupId"/>; null when there is none.</summary>
    public QgroupEntry? Find(ulong qgroupId) => Qgroups.FirstOrDefault(q => q.QgroupId == qgroupId);

    /// <summary>An engine primed with these qgroups, limits, relations and committed usage.</summary>
    public QgroupReservations ToEngine(QgroupReservationMode mode, uint sectorSize, uint nodeSize)
    {
        var engine = new QgroupReservations(mode, sectorSize, nodeSize);
        foreach (var q in Qgroups.OrderBy(q => QgroupId.LevelOf(q.QgroupId)))
        {
            engine.CreateQgroup(q.QgroupId);
            engine.SetUsage(q.QgroupId, q.Referenced, q.Exclusive);
            engine.SetLimit(q.QgroupId, q.LimitFlags, q.MaxReferenced, q.MaxExclusive);
        }
        foreach (var q in Qgroups)
            foreach (var p in q.Parents) engine.AddRelation(q.QgroupId, p);
        // Relations were added after the usage was set: put back the committed numbers the quick update moved.
        foreach (var q in Qgroups) engine.SetUsage(q.QgroupId, q.Referenced, q.Exclusive);
        engine.MarkConsistent();
        return engine;
    }
}

/// <summary>Reads the quota tree (tree 8) of an image.</summary>
public static class QgroupTree
{
    /// <summary>The quota state, or null when quotas are not enabled (no quota tree or no status item).</summary>
    public static QuotaState? Read(BtrfsImage image)
    {
        if (!image.TryGetRoot(ObjectIds.QuotaTree, out var root)) return null;
        return Read(image.NewCursor(), root);
    }

    /// <summary>The quota state in the tree at <paramref name="root"/>, read through <paramref name="cur"/> (a transaction's cursor sees its changes).</summary>
    public static QuotaState? Read(Trees.TreeCursor cur, Trees.TreeRoot root)
    {
        QgroupStatusFlags status = 0;
        ulong statusGen = 0;
        bool haveStatus = false;
        var info = new SortedDictionary<ulong, (ulong Rfer, ulong Excl)>();
        var limits = new Dictionary<ulong, (QgroupLimitFlags F, ulong R, ulong E)>();
        var parents = new Dictionary<ulong, List<ulong>>();
        if (cur.First(root))
        {
            do
            {
                var data = cur.Data;
                switch (cur.Type)
                {
                    case ItemType.QgroupStatus when data.Length >= QgroupStatusItem.Size:
                        var s = new QgroupStatusItem(data);
                        status = s.Flags; statusGen = s.Generation; haveStatus = true;
                        break;
                    case ItemType.QgroupInfo when data.Length >= QgroupInfoItem.Size:
                        var i = new QgroupInfoItem(data);
                        info[cur.Offset] = (i.Rfer, i.Excl);
                        break;
                    case ItemType.QgroupLimit when data.Length >= QgroupLimitItem.Size:
                        var l = new QgroupLimitItem(data);
                        limits[cur.Offset] = (l.Flags, l.MaxRfer, l.MaxExcl);
                        break;
                    // Both directions are stored; (child, REL, parent) has child < parent's level.
                    case ItemType.QgroupRelation when QgroupId.LevelOf(cur.ObjectId) < QgroupId.LevelOf(cur.Offset):
                        if (!parents.TryGetValue(cur.ObjectId, out var list)) parents[cur.ObjectId] = list = new List<ulong>();
                        list.Add(cur.Offset);
                        break;
                }
            } while (cur.Next());
        }
        if (!haveStatus) return null;
        var entries = new List<QgroupEntry>(info.Count);
        foreach (var (id, (rfer, excl)) in info)
        {
            limits.TryGetValue(id, out var lim);
            entries.Add(new QgroupEntry(id, rfer, excl, lim.F, lim.R, lim.E,
                parents.TryGetValue(id, out var p) ? p : (IReadOnlyList<ulong>)Array.Empty<ulong>()));
        }
        return new QuotaState(status, statusGen, entries);
    }
}
