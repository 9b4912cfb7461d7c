using BtrfsLite.Format;
namespace BtrfsLite.Qgroups;

public sealed partial class QgroupReservations
{
    private struct Qgroup
    {
        public ulong Id;
        public bool Live;
        public ulong Rfer, Excl;
        public ulong RsvData, RsvPertrans, RsvPrealloc;
        public ulong MaxRfer, MaxExcl;
        public QgroupLimitFlags Flags;
    }

    /// <summary>Per subvolume root: its inodes' maps and what it really reserved as metadata.</summary>
    private sealed class RootState(ulong id, int slot)
    {
        public readonly ulong Id = id;
        public readonly bool IsSubvolume = IsSubvolumeRoot(id);
        public int Slot = slot; // level-0 qgroup slot, -1 when it has none (destroyed or never created)
        public ulong MetaPrealloc, MetaPertrans;
        private readonly Dictionary<ulong, DataReservationMap> _inodes = new();
        private DataReservationMap? _last;
        private ulong _lastIno;

        public DataReservationMap Map(ulong ino, uint sectorSize)
        {
            if (_last != null && _lastIno == ino) return _last;
            if (!_inodes.TryGetValue(ino, out var m))
            {
                m = new DataReservationMap(sectorSize);
                _inodes.Add(ino, m);
            }
            _last = m;
            _lastIno = ino;
            return m;
        }

        public DataReservationMap? TryMap(ulong ino)
        {
            if (_last != null && _lastIno == ino) return _last;
            if (!_inodes.TryGetValue(ino, out var m)) return null;
            _last = m;
            _lastIno = ino;
            return m;
        }

        public DataReservationMap? RemoveMap(ulong ino)
        {
            if (!_inodes.Remove(ino, out var m)) return null;
            if (ReferenceEquals(_last, m)) _last = null;
            return m;
        }

        public void ClearAll()
        {
            foreach (var m in _inodes.Values) m.Clear();
            MetaPrealloc = MetaPertrans = 0;
        }

        public Dictionary<ulong, DataReservationMap>.KeyCollection Inodes => _inodes.Keys;
    }

    private Qgroup[] _q;
    private int _qCount;
    private readonly Stack<int> _freeSlots = new();
    private readonly Dictionary<ulong, int> _slotById = new();
    private List<int>?[] _parents;
    private List<int>?[] _members;

    // Closure (the qgroup plus all ancestors, each once) cached per slot, rebuilt after a relation change.
    private int[][] _closure;
    private int[] _closureLen;
    private int[] _closureVer;
    private int _relVersion = 1;
    private int[] _stamp;
    private int _stampGen;
    private int[] _queue;

    private readonly Dictionary<ulong, RootState> _roots = new();
    private RootState? _lastRoot;

    private RootState Root(ulong root)
    {
        var r = _lastRoot;
        if (r != null && r.Id == root) return r;
        if (!_roots.TryGetValue(root, out r))
        {
            r = new RootState(root, _slotById.TryGetValue(QgroupId.ForSubvolume(root), out var s) ? s : -1);
            _roots.Add(root, r);
        }
        _lastRoot = r;
        return r;
    }

    // ============================================================== qgroups

    /// <summary>Create a qgroup (level 0 for a subvolume, any higher level as a container).</summary>
    public QgroupStatus CreateQgroup(ulong qgroupId)
    {
        if (_slotById.ContainsKey(qgroupId)) return QgroupStatus.Exists;
        int slot;
        if (_freeSlots.Count > 0) slot = _freeSlots.Pop();
        else
        {
            if (_qCount == _q.Length) GrowSlots();
            slot = _qCount++;
        }
        _q[slot] = new Qgroup { Id = qgroupId, Live = true };
        _parents[slot] ??= new List<int>();
        _members[slot] ??= new List<int>();
        _parents[slot]!.Clear();
        _members[slot]!.Clear();
        _slotById.Add(qgroupId, slot);
        if (QgroupId.LevelOf(qgroupId) == 0 && _roots.TryGetValue(QgroupId.IdOf(qgroupId), out var rs)) rs.Slot = slot;
        _relVersion++;
        return QgroupStatus.Ok;
    }

    /// <summary>
    /// Destroy a qgroup. EBUSY while it has members. Its parent relations are removed first (with
    /// the same quick update as <see cref="RemoveRelation"/>, so parents lose its usage and
    /// reservations). Afterwards a subvolume without a level-0 qgroup reserves nothing, and frees of
    /// what it had reserved before are no-ops.
    /// </summary>
    public QgroupStatus DestroyQgroup(ulong qgroupId)
    {
        if (!_slotById.TryGetValue(qgroupId, out int slot)) return QgroupStatus.NotFound;
        if (_members[slot]!.Count > 0) return QgroupStatus.Busy;
        while (_parents[slot]!.Count > 0)
            RemoveRelation(qgroupId, _q[_parents[slot]![^1]].Id);
        _slotById.Remove(qgroupId);
        _q[slot] = default;
        _freeSlots.Push(slot);
        if (QgroupId.LevelOf(qgroupId) == 0 && _roots.TryGetValue(QgroupId.IdOf(qgroupId), out var rs)) rs.Slot = -1;
        _relVersion++;
        return QgroupStatus.Ok;
    }

    /// <summary>True when qgroup <paramref name="qgroupId"/> exists in the engine.</summary>
    public bool QgroupExists(ulong qgroupId) => _slotById.ContainsKey(qgroupId);

    /// <summary>Set max_rfer/max_excl and the limit flags. Takes effect on the next reservation; outstanding ones stay.</summary>
    public QgroupStatus SetLimit(ulong qgroupId, QgroupLimitFlags flags, ulong maxReferenced, ulong maxExclusive)
    {
        if (!_slotById.TryGetValue(qgroupId, out int slot)) return QgroupStatus.NotFound;
        ref var q = ref _q[slot];
        q.Flags = flags;
        q.MaxRfer = maxReferenced;
        q.MaxExcl = maxExclusive;
        return QgroupStatus.Ok;
    }

    /// <summary>Set referenced/exclusive outright (loaded from the quota tree, or after a rescan).</summary>
    public QgroupStatus SetUsage(ulong qgroupId, ulong referenced, ulong exclusive)
    {
        if (!_slotById.TryGetValue(qgroupId, out int slot)) return QgroupStatus.NotFound;
        _q[slot].Rfer = referenced;
        _q[slot].Excl = exclusive;
        return QgroupStatus.Ok;
    }

    /// <summary>
    /// Commit accounting's per-qgroup result (the accounting layer already resolved which qgroups of
    /// the closure change): add the deltas to this one qgroup, clamping at zero.
    /// </summary>
    public QgroupStatus ApplyAccounting(ulong qgroupId, long deltaReferenced, long deltaExclusive)
    {
        if (!_slotById.TryGetValue(qgroupId, out int slot)) return QgroupStatus.NotFound;
        ref var q = ref _q[slot];
        q.Rfer = AddClamped(q.Rfer, deltaReferenced);
        q.Excl = AddClamped(q.Excl, deltaExclusive);
        return QgroupStatus.Ok;
    }

    /// <summary>The counters of qgroup <paramref name="qgroupId"/>; false when it does not exist.</summary>
    public bool TryGetCounters(ulong qgroupId, out QgroupCounters counters)
    {
        if (!_slotById.TryGetValue(qgroupId, out int slot))
        {
            counters = default;
            return false;
        }
        ref readonly var q = ref _q[slot];
        counters = new QgroupCounters(q.Id, q.Rfer, q.Excl, q.RsvData, q.RsvPertrans, q.RsvPrealloc, q.MaxRfer, q.MaxExcl, q.Flags);
        return true;
    }

    /// <summary>sysfs-like snapshot of one qgroup.</summary>
    public QgroupCounters GetCounters(ulong qgroupId) =>
        TryGetCounters(qgroupId, out var c) ? c : throw new KeyNotFoundException($"no qgroup {QgroupId.Format(qgroupId)}");

    /// <summary>All qgroup ids, sorted (allocates).</summary>
    public ulong[] GetQgroupIds()
    {
        var ids = _slotById.Keys.ToArray();
        Array.Sort(ids);
        return ids;
    }

    /// <summary>Direct parents of a qgroup in the order they were related (the kernel's list order; allocates).</summary>
    public ulong[] GetParentsInRelationOrder(ulong qgroupId) =>
        _slotById.TryGetValue(qgroupId, out int slot) ? _parents[slot]!.Select(p => _q[p].Id).ToArray() : [];

    /// <summary>Direct parents of a qgroup (allocates).</summary>
    public ulong[] GetParents(ulong qgroupId) =>
        _slotById.TryGetValue(qgroupId, out int slot) ? _parents[slot]!.Select(p => _q[p].Id).Order().ToArray() : [];

    // ============================================================== relations

    /// <summary>
    /// Make <paramref name="child"/> a member of <paramref name="parent"/> (parent level must be higher).
    /// Quick update when child rfer == excl: the qgroups that become ancestors of the child gain the
    /// child's exclusive bytes in rfer and excl, and every qgroup that newly lies above a level-0
    /// qgroup under the child gains that level-0 qgroup's outstanding reservations (all three types),
    /// so later frees by the member do not underflow them. Otherwise the qgroups are marked
    /// inconsistent and nothing moves.
    /// </summary>
    /// <remarks>
    /// The kernel adds the child's own reservations to the parent and its ancestors. That is the same
    /// in a tree; moving per level-0 contributor also stays exact when a level-0 qgroup already
    /// reaches an ancestor through another path of the DAG (it is charged once there, not twice).
    /// </remarks>
    public QgroupStatus AddRelation(ulong child, ulong parent)
    {
        if (!_slotById.TryGetValue(child, out int c) || !_slotById.TryGetValue(parent, out int p)) return QgroupStatus.NotFound;
        if (QgroupId.LevelOf(parent) <= QgroupId.LevelOf(child)) return QgroupStatus.Invalid;
        if (_parents[c]!.Contains(p)) return QgroupStatus.Exists;
        ChangeRelation(c, p, add: true);
        return QgroupStatus.Ok;
    }

    /// <summary>Remove a membership; the reverse of <see cref="AddRelation"/> (usage and reservations leave the lost ancestors).</summary>
    public QgroupStatus RemoveRelation(ulong child, ulong parent)
    {
        if (!_slotById.TryGetValue(child, out int c) || !_slotById.TryGetValue(parent, out int p)) return QgroupStatus.NotFound;
        if (!_parents[c]!.Contains(p)) return QgroupStatus.NotFound;
        ChangeRelation(c, p, add: false);
        return QgroupStatus.Ok;
    }

    private void ChangeRelation(int c, int p, bool add)
    {
        var leaves = Level0Below(c);
        var leafBefore = new int[leaves.Count][];
        for (int i = 0; i < leaves.Count; i++) leafBefore[i] = Closure(leaves[i]).ToArray();
        var childBefore = Closure(c).ToArray();

        if (add)
        {
            _parents[c]!.Add(p);
            _members[p]!.Add(c);
        }
        else
        {
            _parents[c]!.Remove(p);
            _members[p]!.Remove(c);
        }
        _relVersion++;

        ref readonly var child = ref _q[c];
        if (child.Rfer != child.Excl)
        {
            Inconsistent = true;
            return;
        }
        ulong excl = child.Excl;
        ApplyDifference(childBefore, Closure(c).ToArray(), add, excl, excl, 0, 0, 0);
        for (int i = 0; i < leaves.Count; i++)
        {
            ref readonly var l = ref _q[leaves[i]];
            ApplyDifference(leafBefore[i], Closure(leaves[i]).ToArray(), add, 0, 0, l.RsvData, l.RsvPertrans, l.RsvPrealloc);
        }
    }

    /// <summary>Add (or subtract) the amounts to every slot in one closure but not the other.</summary>
    private void ApplyDifference(int[] before, int[] after, bool add, ulong rfer, ulong excl, ulong data, ulong pertrans, ulong prealloc)
    {
        var gained = add ? after : before;
        var kept = add ? before : after;
        foreach (int a in gained)
        {
            if (Array.IndexOf(kept, a) >= 0) continue;
            ref var q = ref _q[a];
            if (add)
            {
                q.Rfer += rfer; q.Excl += excl;
                q.RsvData += data; q.RsvPertrans += pertrans; q.RsvPrealloc += prealloc;
            }
            else
            {
                q.Rfer = Sub(q.Rfer, rfer); q.Excl = Sub(q.Excl, excl);
                q.RsvData = Sub(q.RsvData, data); q.RsvPertrans = Sub(q.RsvPertrans, pertrans); q.RsvPrealloc = Sub(q.RsvPrealloc, prealloc);
            }
        }
    }

    /// <summary>Level-0 qgroups at or below a slot (following member lists).</summary>
    private List<int> Level0Below(int slot)
    {
        var result = new List<int>();
        var seen = new HashSet<int> { slot };
        var stack = new Stack<int>();
        stack.Push(slot);
        while (stack.Count > 0)
        {
            int s = stack.Pop();
            if (QgroupId.LevelOf(_q[s].Id) == 0) result.Add(s);
            foreach (int m in _members[s]!)
                if (seen.Add(m)) stack.Push(m);
        }
        return result;
    }

    // ============================================================== closure and counters

    /// <summary>The slot plus all its ancestors, each once (breadth-first). No allocation unless relations changed.</summary>
    private ReadOnlySpan<int> Closure(int slot)
    {
        if (_closureVer[slot] != _relVersion) BuildClosure(slot);
        return _closure[slot].AsSpan(0, _closureLen[slot]);
    }

    private void BuildClosure(int slot)
    {
        if (++_stampGen == int.MaxValue)
        {
            Array.Clear(_stamp);
            _stampGen = 1;
        }
        int head = 0, tail = 0;
        _queue[tail++] = slot;
        _stamp[slot] = _stampGen;
        while (head < tail)
        {
            int s = _queue[head++];
            foreach (int p in _parents[s]!)
            {
                if (_stamp[p] == _stampGen) continue;
                _stamp[p] = _stampGen;
                _queue[tail++] = p;
            }
        }
        if (_closure[slot] == null || _closure[slot].Length < tail) _closure[slot] = new int[Math.Max(4, tail)];
        Array.Copy(_queue, _closure[slot], tail);
        _closureLen[slot] = tail;
        _closureVer[slot] = _relVersion;
    }

    /// <summary>
    /// The kernel's qgroup_reserve: check every limited qgroup of the closure (all reserved types +
    /// committed usage + request, strictly greater than the max fails), then charge all or nothing.
    /// </summary>
    private bool TryCharge(int slot, ulong bytes, QgroupRsvType type, bool enforce = true)
    {
        if (slot < 0 || bytes == 0) return true;
        var cl = Closure(slot);
        var qs = _q;
        if (enforce && !QuotaOverride)
        {
            foreach (int i in cl)
            {
                ref readonly var q = ref qs[i];
                if (q.Flags == QgroupLimitFlags.None) continue;
                ulong used = q.RsvData + q.RsvPertrans + q.RsvPrealloc + bytes;
                if ((q.Flags & QgroupLimitFlags.MaxRfer) != 0 && used + q.Rfer > q.MaxRfer) return false;
                if ((q.Flags & QgroupLimitFlags.MaxExcl) != 0 && used + q.Excl > q.MaxExcl) return false;
            }
        }
        switch (type)
        {
            case QgroupRsvType.Data: foreach (int i in cl) qs[i].RsvData += bytes; break;
            case QgroupRsvType.MetaPertrans: foreach (int i in cl) qs[i].RsvPertrans += bytes; break;
            default: foreach (int i in cl) qs[i].RsvPrealloc += bytes; break;
        }
        return true;
    }

    /// <summary>Free from the closure as it is now; clamp at zero and count underflows.</summary>
    private void Uncharge(int slot, ulong bytes, QgroupRsvType type)
    {
        if (slot < 0 || bytes == 0) return;
        var qs = _q;
        foreach (int i in Closure(slot))
        {
            ref var q = ref qs[i];
            switch (type)
            {
                case QgroupRsvType.Data: q.RsvData = Sub(q.RsvData, bytes); break;
                case QgroupRsvType.MetaPertrans: q.RsvPertrans = Sub(q.RsvPertrans, bytes); break;
                default: q.RsvPrealloc = Sub(q.RsvPrealloc, bytes); break;
            }
        }
    }

    private ulong Sub(ulong v, ulong d)
    {
        if (v >= d) return v - d;
        UnderflowCount++;
        return 0;
    }

    private ulong AddClamped(ulong v, long d)
    {
        if (d >= 0) return v + (ulong)d;
        return Sub(v, (ulong)(-d));
    }

    private void GrowSlots()
    {
        int n = _q.Length * 2;
        Array.Resize(ref _q, n);
        Array.Resize(ref _parents, n);
        Array.Resize(ref _members, n);
        Array.Resize(ref _closure, n);
        Array.Resize(ref _closureLen, n);
        Array.Resize(ref _closureVer, n);
        Array.Resize(ref _stamp, n);
        Array.Resize(ref _queue, n);
    }
}
