using BtrfsLite.Format;
using System.Text;
using BtrfsLite.Qgroups;
using CsCheck;

namespace BtrfsLite.Tests.Qgroups;

/// <summary>
/// Random operation sequences run against the engine and against a naive model: a set of sectors
/// per inode, a ledger per level-0 qgroup (higher levels summed from the level-0 qgroups below them
/// on every read), records in a list. After every step the two must agree, and the invariants of
/// qgroup-semantics.md §9 must hold on the engine by itself.
/// </summary>
public class QgroupReservationsModelTests
{
    private const ulong S = 4096, Node = 16384;
    private const int FileSectors = 48;
    private static readonly ulong[] Roots = [5, 256, 257, 7]; // 7 (csum tree) is not a subvolume
    private static readonly ulong[] Inodes = [257, 258];
    private static readonly ulong[] Level0 = [5, 256, 257];
    private static readonly ulong[] Higher = [QgroupId.Make(1, 1), QgroupId.Make(1, 2), QgroupId.Make(2, 1)];
    private static readonly ulong[] All = [.. Level0, .. Higher];
    private static readonly (ulong Child, ulong Parent)[] Pairs =
        [.. from c in Level0 from p in Higher select (c, p), (Higher[0], Higher[2]), (Higher[1], Higher[2])];

    private enum K
    {
        Reserve, ReserveInPlace, ErrorPath, Release, Writeback, Free, FreeRecord, Evict,
        MetaPrealloc, MetaPertrans, FreeMetaPrealloc, Convert, Commit, SetLimit, SetUsage, Assign, Unassign,
    }

    private readonly record struct Op(K Kind, int A, int B, int C, int D, int E)
    {
        public ulong Root => Roots[A];
        public ulong Ino => Inodes[B];
        public ulong Start => (ulong)C * S + (E % 4 == 0 ? (ulong)E : 0);
        public ulong Len => (ulong)D * S - (E % 4 == 0 ? (ulong)E / 3 : 0);
        public override string ToString() => Kind switch
        {
            K.SetLimit => $"SetLimit({QgroupId.Format(All[C % All.Length])}, {(QgroupLimitFlags)(D % 4)}, {LimitValue})",
            K.SetUsage => $"SetUsage({Level0[A % 3]}, {(ulong)(E % 32) * Node})",
            K.Assign or K.Unassign => $"{Kind}({QgroupId.Format(Pairs[C % Pairs.Length].Child)}, {QgroupId.Format(Pairs[C % Pairs.Length].Parent)})",
            K.MetaPrealloc or K.MetaPertrans or K.FreeMetaPrealloc or K.Convert => $"{Kind}({Root}, {MetaBytes})",
            K.Commit or K.FreeRecord => $"{Kind}({C})",
            _ => $"{Kind}({Root}, {Ino}, {Start}, {Len})",
        };
        public ulong LimitValue => (ulong)(E % 100) * 8192;
        public ulong MetaBytes => (ulong)(D % 4 + 1) * Node;
    }

    private static K KindOf(int w) => w switch
    {
        < 28 => K.Reserve, < 33 => K.ReserveInPlace, < 38 => K.ErrorPath, < 46 => K.Release, < 50 => K.Writeback,
        < 58 => K.Free, < 66 => K.FreeRecord, < 68 => K.Evict, < 74 => K.MetaPrealloc, < 77 => K.MetaPertrans,
        < 81 => K.FreeMetaPrealloc, < 85 => K.Convert, < 88 => K.Commit, < 93 => K.SetLimit, < 95 => K.SetUsage,
        < 98 => K.Assign, _ => K.Unassign,
    };

    private static readonly Gen<Op> OpGen =
        Gen.Select(Gen.Int[0, 99], Gen.Int[0, 3], Gen.Int[0, 1], Gen.Int[0, FileSectors - 1], Gen.Int[1, 16], Gen.Int[0, 4095],
            (w, a, b, c, d, e) => new Op(KindOf(w), a, b, c, d, e));

    // ================================================================== the naive model

    private sealed class Ledger
    {
        public ulong Rfer, Excl, Data, Pertrans, Prealloc, MaxRfer, MaxExcl;
        public QgroupLimitFlags Flags;
    }

    private sealed class Model(QgroupReservationMode mode, bool flusher)
    {
        public readonly Dictionary<(ulong, ulong), SortedSet<ulong>> Sectors = new();
        public readonly Dictionary<ulong, Ledger> Led = All.ToDictionary(q => q, _ => new Ledger());
        public readonly Dictionary<ulong, HashSet<ulong>> Parents = All.ToDictionary(q => q, _ => new HashSet<ulong>());
        public readonly Dictionary<ulong, (ulong Prealloc, ulong Pertrans)> RootMeta = new();
        public readonly List<QgroupReservedRecord> Records = new();
        public int Flushes;

        private static bool IsSubvol(ulong root) => root == 5 || root >= 256;
        private SortedSet<ulong> Set(ulong root, ulong ino) =>
            Sectors.TryGetValue((root, ino), out var s) ? s : Sectors[(root, ino)] = new SortedSet<ulong>();

        public HashSet<ulong> Closure(ulong q)
        {
            var seen = new HashSet<ulong> { q };
            var todo = new Stack<ulong>([q]);
            while (todo.Count > 0) foreach (var p in Parents[todo.Pop()]) if (seen.Add(p)) todo.Push(p);
            return seen;
        }

        // Higher-level reservations are not kept: they are the sum over the level-0 qgroups below.
        public ulong Rsv(ulong q, Func<Ledger, ulong> pick) =>
            QgroupId.LevelOf(q) == 0 ? pick(Led[q]) : Level0.Where(l => Closure(l).Contains(q)).Aggregate(0UL, (a, l) => a + pick(Led[l]));

        public ulong RsvAll(ulong q) => Rsv(q, l => l.Data) + Rsv(q, l => l.Pertrans) + Rsv(q, l => l.Prealloc);

        private bool Fits(ulong root, ulong bytes)
        {
            if (bytes == 0) return true;
            foreach (var q in Closure(root))
            {
                var l = Led[q];
                ulong used = RsvAll(q) + bytes;
                if (l.Flags.HasFlag(QgroupLimitFlags.MaxRfer) && used + l.Rfer > l.MaxRfer) return false;
                if (l.Flags.HasFlag(QgroupLimitFlags.MaxExcl) && used + l.Excl > l.MaxExcl) return false;
            }
            return true;
        }

        private bool CanFlush => mode == QgroupReservationMode.Default && flusher;

        public (QgroupStatus, ulong, List<ulong> fresh) ReserveData(ulong root, ulong ino, ulong start, ulong len)
        {
            if (!IsSubvol(root) || len == 0) return (QgroupStatus.Ok, 0, []);
            ulong a = start / S, b = (start + len + S - 1) / S;
            for (int attempt = 0; ; attempt++)
            {
                var set = Set(root, ino);
                var fresh = new List<ulong>();
                for (ulong x = a; x < b; x++) if (!set.Contains(x)) fresh.Add(x);
                ulong charge = mode == QgroupReservationMode.Legacy ? (b - a) * S : (ulong)fresh.Count * S;
                if (Fits(root, charge))
                {
                    foreach (var x in fresh) set.Add(x);
                    Led[root].Data += charge;
                    return (QgroupStatus.Ok, charge, fresh);
                }
                if (attempt > 0 || !CanFlush) return (QgroupStatus.Edquot, 0, []);
                Flush(root);
            }
        }

        public ulong Clear(ulong root, ulong ino, IEnumerable<ulong> sectors)
        {
            if (!IsSubvol(root)) return 0;
            var set = Set(root, ino);
            ulong n = 0;
            foreach (var x in sectors.ToList()) if (set.Remove(x)) n += S;
            return n;
        }

        public static IEnumerable<ulong> Range(ulong start, ulong len) { for (ulong x = start / S; x < (start + len + S - 1) / S; x++) yield return x; }

        public void FreeData(ulong root, ulong bytes) { if (IsSubvol(root)) Led[root].Data -= bytes; }

        public (QgroupStatus, ulong) ReserveMeta(ulong root, ulong bytes, bool prealloc)
        {
            if (!IsSubvol(root)) return (QgroupStatus.Ok, 0);
            for (int attempt = 0; ; attempt++)
            {
                if (Fits(root, bytes))
                {
                    var m = RootMeta.GetValueOrDefault(root);
                    if (prealloc) { Led[root].Prealloc += bytes; RootMeta[root] = (m.Prealloc + bytes, m.Pertrans); }
                    else { Led[root].Pertrans += bytes; RootMeta[root] = (m.Prealloc, m.Pertrans + bytes); }
                    return (QgroupStatus.Ok, bytes);
                }
                if (attempt > 0 || !prealloc || !CanFlush) return (QgroupStatus.Edquot, 0);
                Flush(root);
            }
        }

        public void FreeMetaPrealloc(ulong root, ulong bytes)
        {
            if (!IsSubvol(root)) return;
            var m = RootMeta.GetValueOrDefault(root);
            ulong b = Math.Min(bytes, m.Prealloc);
            RootMeta[root] = (m.Prealloc - b, m.Pertrans);
            Led[root].Prealloc -= b;
        }

        public void Convert(ulong root, ulong bytes)
        {
            if (!IsSubvol(root)) return;
            var m = RootMeta.GetValueOrDefault(root);
            ulong b = Math.Min(bytes, m.Prealloc);
            RootMeta[root] = (m.Prealloc - b, m.Pertrans + b);
            Led[root].Prealloc -= b;
            Led[root].Pertrans += b;
        }

        public void Commit()
        {
            foreach (var r in Records) FreeData(r.Root, r.Bytes);
            Records.Clear();
            foreach (var root in RootMeta.Keys.ToList()) RootMeta[root] = (RootMeta[root].Prealloc, 0);
            foreach (var l in Level0) Led[l].Pertrans = 0;
        }

        public void Flush(ulong root)
        {
            Flushes++;
            foreach (var ino in Inodes)
            {
                var set = Set(root, ino);
                Records.Add(new QgroupReservedRecord(root, (ulong)set.Count * S));
                set.Clear();
            }
            Convert(root, ulong.MaxValue);
            Commit();
        }

        /// <summary>Clamped subtractions of usage (only possible after SetUsage changed a member behind its parents' back).</summary>
        public long Underflows;

        public QgroupStatus Relation(ulong c, ulong p, bool add)
        {
            if (add == Parents[c].Contains(p)) return add ? QgroupStatus.Exists : QgroupStatus.NotFound;
            var before = Closure(c);
            if (add) Parents[c].Add(p); else Parents[c].Remove(p);
            var after = Closure(c);
            var child = Led[c];
            Assert.Equal(child.Rfer, child.Excl); // the generator keeps the quick update applicable
            foreach (var q in add ? after.Except(before) : before.Except(after))
            {
                if (add) { Led[q].Rfer += child.Excl; Led[q].Excl += child.Excl; }
                else
                {
                    // A parent can hold less than the member now has (committed usage was set directly after the
                    // assignment): the engine clamps at zero (and counts an underflow), as the kernel does.
                    if (Led[q].Rfer < child.Excl) Underflows++;
                    if (Led[q].Excl < child.Excl) Underflows++;
                    Led[q].Rfer = Led[q].Rfer >= child.Excl ? Led[q].Rfer - child.Excl : 0;
                    Led[q].Excl = Led[q].Excl >= child.Excl ? Led[q].Excl - child.Excl : 0;
                }
            }
            return QgroupStatus.Ok;
        }
    }

    /// <summary>What the test's file system does on a flush: write back the root's inodes, complete (convert metadata), commit.</summary>
    private sealed class Harness(QgroupReservations e) : IQgroupFlusher
    {
        public readonly List<QgroupReservedRecord> Records = new();

        public void FlushAndCommit(ulong rootId)
        {
            foreach (var ino in Inodes) Records.Add(e.ReleaseData(rootId, ino, 0, 1UL << 40));
            e.ConvertMetaPreallocToPertrans(rootId, ulong.MaxValue);
            Commit();
        }

        public void Commit()
        {
            foreach (var r in Records) e.FreeRecord(r);
            Records.Clear();
            e.FreeAllMetaPertrans();
        }
    }

    // ================================================================== comparison and invariants

    private static string Dump(QgroupReservations e, List<QgroupReservedRecord> records)
    {
        var sb = new StringBuilder();
        foreach (var q in All)
        {
            var c = e.GetCounters(q);
            sb.AppendLine($"{QgroupId.Format(q)} rfer={c.Referenced} excl={c.Exclusive} data={c.RsvData} pertrans={c.RsvMetaPertrans} prealloc={c.RsvMetaPrealloc} lim={c.LimitFlags}/{c.MaxReferenced}/{c.MaxExclusive} parents={string.Join(",", e.GetParents(q).Select(QgroupId.Format))}");
        }
        foreach (var root in Roots)
        {
            var (pa, pt) = e.GetRootMeta(root);
            sb.AppendLine($"root {root} meta {pa}/{pt}");
            foreach (var ino in Inodes)
                sb.AppendLine($"  ino {ino}: {string.Join(" ", e.GetInodeMap(root, ino)?.ToArray().Select(r => $"{r.Start / S}-{r.End / S}") ?? [])}");
        }
        sb.AppendLine($"records {string.Join(" ", records.Select(r => $"{r.Root}:{r.Bytes}"))}");
        return sb.ToString();
    }

    private static string Dump(Model m)
    {
        var sb = new StringBuilder();
        foreach (var q in All)
        {
            var l = m.Led[q];
            sb.AppendLine($"{QgroupId.Format(q)} rfer={l.Rfer} excl={l.Excl} data={m.Rsv(q, x => x.Data)} pertrans={m.Rsv(q, x => x.Pertrans)} prealloc={m.Rsv(q, x => x.Prealloc)} lim={l.Flags}/{l.MaxRfer}/{l.MaxExcl} parents={string.Join(",", m.Parents[q].Order().Select(QgroupId.Format))}");
        }
        foreach (var root in Roots)
        {
            var (pa, pt) = m.RootMeta.GetValueOrDefault(root);
            sb.AppendLine($"root {root} meta {pa}/{pt}");
            foreach (var ino in Inodes)
            {
                var runs = new List<(ulong a, ulong b)>();
                foreach (var x in m.Sectors.GetValueOrDefault((root, ino)) ?? [])
                    if (runs.Count > 0 && runs[^1].b == x) runs[^1] = (runs[^1].a, x + 1); else runs.Add((x, x + 1));
                sb.AppendLine($"  ino {ino}: {string.Join(" ", runs.Select(r => $"{r.a}-{r.b}"))}");
            }
        }
        sb.AppendLine($"records {string.Join(" ", m.Records.Select(r => $"{r.Root}:{r.Bytes}"))}");
        return sb.ToString();
    }

    /// <summary>rsv of every qgroup == bytes in its subvolumes' maps + bytes in their outstanding records (data), and per-root records (metadata).</summary>
    private static void CheckConservation(QgroupReservations e, List<QgroupReservedRecord> records, Model m)
    {
        foreach (var q in All)
        {
            ulong data = 0, pa = 0, pt = 0;
            foreach (var l in Level0.Where(l => m.Closure(l).Contains(q)))
            {
                foreach (var ino in Inodes) data += e.GetInodeReserved(l, ino);
                data += records.Where(r => r.Root == l).Aggregate(0UL, (a, r) => a + r.Bytes);
                var meta = e.GetRootMeta(l);
                pa += meta.Prealloc;
                pt += meta.Pertrans;
            }
            var c = e.GetCounters(q);
            Assert.Equal((data, pa, pt), (c.RsvData, c.RsvMetaPrealloc, c.RsvMetaPertrans));
        }
    }

    private static void Run(QgroupReservationMode mode, bool withFlusher, Op[] ops)
    {
        var e = new QgroupReservations(mode);
        var h = new Harness(e);
        if (withFlusher) e.Flusher = h;
        var m = new Model(mode, withFlusher);
        foreach (var q in All) Assert.Equal(QgroupStatus.Ok, e.CreateQgroup(q));
        var cs = new ChangeSet();

        for (int step = 0; step < ops.Length; step++)
        {
            var op = ops[step];
            string before = Dump(e, h.Records);
            long flushesBefore = e.FlushCount;
            ReserveResult r = default;
            switch (op.Kind)
            {
                case K.Reserve:
                case K.ReserveInPlace:
                case K.ErrorPath:
                {
                    cs.Clear();
                    bool inPlace = op.Kind == K.ReserveInPlace && op.E % 2 == 0;
                    r = op.Kind == K.ReserveInPlace
                        ? e.ReserveDataOrInPlace(op.Root, op.Ino, op.Start, op.Len, inPlace, cs)
                        : e.ReserveData(op.Root, op.Ino, op.Start, op.Len, cs);
                    var (st, bytes, fresh) = m.ReserveData(op.Root, op.Ino, op.Start, op.Len);
                    if (st == QgroupStatus.Edquot && inPlace) st = QgroupStatus.MetadataOnly;
                    Assert.Equal(new ReserveResult(st, bytes), r);
                    Assert.Equal(fresh, cs.Ranges.ToArray().SelectMany(x => Model.Range(x.Start, x.Length)).ToList());
                    if (op.Kind == K.ErrorPath && r.Succeeded)
                    {
                        // The operation fails after reserving: free exactly its change set.
                        ulong freed = e.FreeData(op.Root, op.Ino, cs);
                        ulong mf = m.Clear(op.Root, op.Ino, fresh);
                        m.FreeData(op.Root, mf);
                        Assert.Equal(mf, freed);
                    }
                    break;
                }
                case K.Release:
                case K.Writeback:
                {
                    ulong start = op.Kind == K.Writeback ? 0 : op.Start, len = op.Kind == K.Writeback ? 1UL << 40 : op.Len;
                    var rec = e.ReleaseData(op.Root, op.Ino, start, len);
                    ulong bytes = m.Clear(op.Root, op.Ino, op.Kind == K.Writeback ? Enumerable.Range(0, FileSectors + 20).Select(x => (ulong)x) : Model.Range(start, len));
                    Assert.Equal(new QgroupReservedRecord(op.Root, bytes), rec);
                    h.Records.Add(rec);
                    m.Records.Add(rec);
                    break;
                }
                case K.Free:
                {
                    ulong bytes = m.Clear(op.Root, op.Ino, Model.Range(op.Start, op.Len));
                    m.FreeData(op.Root, bytes);
                    Assert.Equal(bytes, e.FreeData(op.Root, op.Ino, op.Start, op.Len));
                    break;
                }
                case K.FreeRecord:
                    if (h.Records.Count > 0)
                    {
                        int i = op.C % h.Records.Count;
                        e.FreeRecord(h.Records[i]);
                        m.FreeData(m.Records[i].Root, m.Records[i].Bytes);
                        h.Records.RemoveAt(i);
                        m.Records.RemoveAt(i);
                    }
                    break;
                case K.Evict:
                {
                    ulong bytes = m.Clear(op.Root, op.Ino, Enumerable.Range(0, FileSectors + 20).Select(x => (ulong)x));
                    m.FreeData(op.Root, bytes);
                    Assert.Equal(bytes, e.FreeInode(op.Root, op.Ino));
                    break;
                }
                case K.MetaPrealloc:
                case K.MetaPertrans:
                {
                    bool pre = op.Kind == K.MetaPrealloc;
                    r = pre ? e.ReserveMetaPrealloc(op.Root, op.MetaBytes) : e.ReserveMetaPertrans(op.Root, op.MetaBytes);
                    var (st, b) = m.ReserveMeta(op.Root, op.MetaBytes, pre);
                    Assert.Equal(new ReserveResult(st, b), r);
                    break;
                }
                case K.FreeMetaPrealloc:
                    e.FreeMetaPrealloc(op.Root, op.MetaBytes);
                    m.FreeMetaPrealloc(op.Root, op.MetaBytes);
                    break;
                case K.Convert:
                    e.ConvertMetaPreallocToPertrans(op.Root, op.MetaBytes);
                    m.Convert(op.Root, op.MetaBytes);
                    break;
                case K.Commit:
                    h.Commit();
                    m.Commit();
                    break;
                case K.SetLimit:
                {
                    var q = All[op.C % All.Length];
                    var flags = (QgroupLimitFlags)(op.D % 4);
                    e.SetLimit(q, flags, op.LimitValue, op.LimitValue);
                    m.Led[q].Flags = flags;
                    m.Led[q].MaxRfer = m.Led[q].MaxExcl = op.LimitValue;
                    break;
                }
                case K.SetUsage:
                {
                    var q = Level0[op.A % 3];
                    ulong v = (ulong)(op.E % 32) * Node;
                    // Only level-0 usage is set; keep rfer == excl everywhere so assignment's quick update applies.
                    if (m.Parents[q].Count > 0) break;
                    e.SetUsage(q, v, v);
                    m.Led[q].Rfer = m.Led[q].Excl = v;
                    break;
                }
                case K.Assign:
                case K.Unassign:
                {
                    var (c, p) = Pairs[op.C % Pairs.Length];
                    bool add = op.Kind == K.Assign;
                    var st = add ? e.AddRelation(c, p) : e.RemoveRelation(c, p);
                    Assert.Equal(m.Relation(c, p, add), st);
                    break;
                }
            }

            Assert.Equal(Dump(m), Dump(e, h.Records));
            Assert.Equal(m.Flushes, e.FlushCount);
            Assert.Equal(m.Underflows, e.UnderflowCount);
            Assert.False(e.Inconsistent);
            if (mode == QgroupReservationMode.Default) CheckConservation(e, h.Records, m);
            if (r.IsEdquot && e.FlushCount == flushesBefore)
                Assert.Equal(before, Dump(e, h.Records)); // EDQUOT changed nothing
        }

        // Release and free everything: every counter goes to zero (Legacy: the leak, until Close).
        foreach (var root in Roots)
        {
            foreach (var ino in Inodes) h.Records.Add(e.ReleaseData(root, ino, 0, 1UL << 40));
            e.FreeMetaPrealloc(root, ulong.MaxValue);
        }
        h.Commit();
        ulong leaked = e.Close();
        if (mode == QgroupReservationMode.Default) Assert.Equal(0UL, leaked);
        foreach (var q in All) Assert.Equal(0UL, e.GetCounters(q).RsvTotal);
        Assert.Equal(m.Underflows, e.UnderflowCount); // reservations themselves never underflow
    }

    private static readonly Gen<(QgroupReservationMode, bool, Op[])> Sequences =
        Gen.Select(Gen.Bool, Gen.Bool, OpGen.Array[1, 80])
            .Select(t => (t.Item1 ? QgroupReservationMode.Legacy : QgroupReservationMode.Default, t.Item2, t.Item3));

    [Fact]
    public void Engine_matches_the_naive_model_on_random_operation_sequences() =>
        Sequences.Sample(t => Run(t.Item1, t.Item2, t.Item3), iter: 400,
            print: t => $"{t.Item1} flusher={t.Item2}\n  " + string.Join("\n  ", t.Item3));

    [Fact]
    public void Default_mode_with_flusher_matches_the_model_on_long_sequences() =>
        OpGen.Array[200, 400].Sample(ops => Run(QgroupReservationMode.Default, true, ops), iter: 40,
            print: ops => string.Join("\n  ", ops));
}
