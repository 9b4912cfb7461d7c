using BtrfsLite.Format;

namespace BtrfsLite.Qgroups;

/// <summary>
/// The kernel's per-extent qgroup update (qgroup_update_refcnt + qgroup_update_counters): for one extent whose
/// subvolumes change from <c>old</c> to <c>new</c>, every qgroup above either set gains or loses the extent's bytes
/// in referenced (reached by none before, by some after, or the reverse) and in exclusive (all of the extent's
/// subvolumes under it before or after, but not both). Qgroups above neither set keep their numbers.
/// </summary>
public sealed class ExtentAccounting
{
    private readonly IReadOnlyDictionary<ulong, IReadOnlyList<ulong>> _parents;
    private readonly IReadOnlyDictionary<ulong, List<ulong>> _removedParents;
    private readonly HashSet<ulong> _qgroups;
    private readonly Dictionary<ulong, ulong[]> _closure = new();
    private readonly Dictionary<ulong, (int Old, int New)> _counts = new();

    /// <summary>Deltas of referenced/exclusive per qgroup, summed over every extent passed to <see cref="Account"/>.</summary>
    public Dictionary<ulong, (long Rfer, long Excl)> Deltas { get; } = new();

    /// <summary>Extents whose subvolumes changed (the others cost nothing).</summary>
    public int ChangedExtents { get; private set; }

    /// <param name="quota">The qgroups and relations as the transaction leaves them.</param>
    /// <param name="removedParents">
    /// Level-0 qgroups removed in this transaction with the parents they had then: a dropped subvolume lost its qgroup
    /// and relations, yet its extents leave those parents (the kernel accounts the drop before the qgroup goes).
    /// </param>
    public ExtentAccounting(QuotaState quota, IReadOnlyDictionary<ulong, List<ulong>>? removedParents = null)
    {
        _qgroups = quota.Qgroups.Select(q => q.QgroupId).ToHashSet();
        _parents = quota.Qgroups.ToDictionary(q => q.QgroupId, q => q.Parents);
        _removedParents = removedParents ?? new Dictionary<ulong, List<ulong>>();
    }

    /// <summary>The extent of <paramref name="bytes"/> was reached by the subvolumes <paramref name="oldRoots"/> and now by <paramref name="newRoots"/>.</summary>
    public void Account(ReadOnlySpan<ulong> oldRoots, ReadOnlySpan<ulong> newRoots, ulong bytes)
    {
        if (oldRoots.SequenceEqual(newRoots) || bytes == 0) return;
        ChangedExtents++;
        _counts.Clear();
        foreach (var r in oldRoots)
            foreach (var q in Closure(r))
            {
                var (o, n) = _counts.GetValueOrDefault(q);
                _counts[q] = (o + 1, n);
            }
        foreach (var r in newRoots)
            foreach (var q in Closure(r))
            {
                var (o, n) = _counts.GetValueOrDefault(q);
                _counts[q] = (o, n + 1);
            }
        long b = (long)bytes;
        foreach (var (q, (o, n)) in _counts)
        {
            int rfer = (n > 0 ? 1 : 0) - (o > 0 ? 1 : 0);
            int excl = (n > 0 && n == newRoots.Length ? 1 : 0) - (o > 0 && o == oldRoots.Length ? 1 : 0);
            if (rfer == 0 && excl == 0) continue;
            var (dr, de) = Deltas.GetValueOrDefault(q);
            Deltas[q] = (dr + rfer * b, de + excl * b);
        }
    }

    /// <summary>The level-0 qgroup of subvolume <paramref name="root"/> and all its ancestors (none when it has no qgroup).</summary>
    private ulong[] Closure(ulong root)
    {
        if (_closure.TryGetValue(root, out var c)) return c;
        // As the rescan: relations are followed through any qgroup, only qgroups with an INFO item count.
        ulong q0 = QgroupId.ForSubvolume(root);
        var seen = new HashSet<ulong>();
        var todo = new Stack<ulong>();
        todo.Push(q0);
        if (!_qgroups.Contains(q0) && _removedParents.TryGetValue(q0, out var removed))
            foreach (var p in removed) todo.Push(p);
        while (todo.Count > 0)
        {
            var q = todo.Pop();
            if (!seen.Add(q)) continue;
            if (_parents.TryGetValue(q, out var ps))
                foreach (var p in ps) todo.Push(p);
        }
        seen.IntersectWith(_qgroups);
        return _closure[root] = seen.ToArray();
    }
}
