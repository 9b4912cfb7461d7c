using BtrfsLite.Qgroups;
using CsCheck;

namespace BtrfsLite.Tests.Qgroups;

public class DataReservationMapTests
{
    private const ulong S = 4096;

    [Fact]
    public void Reserve_reports_only_new_sectors_and_rewrite_costs_nothing()
    {
        var m = new DataReservationMap();
        var cs = new ChangeSet();
        Assert.Equal(2UL << 20, m.Reserve(0, 2 << 20, cs));
        Assert.Equal(new[] { new FileRange(0, 2 << 20) }, cs.Ranges.ToArray());
        cs.Clear();
        for (int i = 0; i < 10; i++) Assert.Equal(0UL, m.Reserve(0, 2 << 20, cs));
        Assert.Equal(0, cs.Count);
        Assert.Equal(2UL << 20, m.ReservedBytes);
        Assert.Equal(1, m.RangeCount);
    }

    [Fact]
    public void Unaligned_writes_charge_whole_sectors_once()
    {
        var m = new DataReservationMap();
        // 2 bytes across a sector boundary: two sectors (8 KiB), as observed on Linux 6.18.
        Assert.Equal(2 * S, m.Reserve(S - 1, 2));
        // Entirely inside reserved sectors: nothing.
        Assert.Equal(0UL, m.Reserve(10, 100));
        Assert.Equal(0UL, m.Reserve(S + 5, S - 10));
        // [S+1, 3S) overlaps sector 1 (reserved) and sector 2 (new): only sector 2 is charged.
        Assert.Equal(S, m.Reserve(S + 1, 2 * S - 1));
        Assert.Equal(3 * S, m.ReservedBytes);
        Assert.Null(m.Validate());
    }

    [Fact]
    public void Reserve_fills_gaps_and_merges_neighbours()
    {
        var m = new DataReservationMap();
        m.Reserve(0, S);
        m.Reserve(2 * S, S);
        m.Reserve(4 * S, S);
        Assert.Equal(3, m.RangeCount);
        var cs = new ChangeSet();
        Assert.Equal(3 * S, m.Reserve(0, 6 * S, cs)); // gaps at 1, 3, 5
        Assert.Equal(new[] { new FileRange(S, 2 * S), new FileRange(3 * S, 4 * S), new FileRange(5 * S, 6 * S) }, cs.Ranges.ToArray());
        Assert.Equal(3 * S, cs.BytesChanged);
        Assert.Equal(new[] { new FileRange(0, 6 * S) }, m.ToArray());
        // Touching ranges join too.
        m.Reserve(6 * S, S);
        Assert.Equal(1, m.RangeCount);
    }

    [Fact]
    public void Release_splits_a_range_and_returns_the_bytes_once()
    {
        var m = new DataReservationMap();
        m.Reserve(0, 10 * S);
        Assert.Equal(2 * S, m.Release(4 * S, 2 * S));
        Assert.Equal(new[] { new FileRange(0, 4 * S), new FileRange(6 * S, 10 * S) }, m.ToArray());
        Assert.Equal(0UL, m.Release(4 * S, 2 * S)); // twice is harmless
        Assert.Equal(4 * S + 4 * S, m.Free(0, 100 * S));
        Assert.Equal(0UL, m.ReservedBytes);
        Assert.Equal(0, m.RangeCount);
    }

    [Fact]
    public void Truncate_keeps_the_tail_sector_whole()
    {
        // 4 MiB dirty, truncate to 100 KiB: 102400 stays reserved (Linux 6.18 observation).
        var m = new DataReservationMap();
        m.Reserve(0, 4 << 20);
        ulong newSize = 100 * 1024;
        ulong from = (newSize + S - 1) / S * S; // the partial last sector stays
        Assert.Equal((4UL << 20) - from, m.Free(from, (4UL << 20) - from));
        Assert.Equal(102400UL, m.ReservedBytes);
    }

    [Fact]
    public void Free_of_a_changeset_frees_only_its_ranges()
    {
        var m = new DataReservationMap();
        m.Reserve(2 * S, 2 * S); // someone else's
        var mine = new ChangeSet();
        Assert.Equal(4 * S, m.Reserve(0, 6 * S, mine));
        Assert.Equal(4 * S, m.Free(mine));
        Assert.Equal(new[] { new FileRange(2 * S, 4 * S) }, m.ToArray());
    }

    [Fact]
    public void Many_ranges_build_a_deep_tree_and_survive_bulk_clears()
    {
        var m = new DataReservationMap();
        const int n = 100_000; // every other sector: n separate ranges, height 3+
        for (int i = 0; i < n; i++) m.Reserve((ulong)i * 2 * S, S);
        Assert.Equal(n, m.RangeCount);
        Assert.True(m.Height >= 2);
        Assert.Null(m.Validate());
        // Filling a window that spans many leaves merges it into one range.
        ulong added = m.Reserve(1000 * 2 * S, 50_000 * 2 * S);
        Assert.Equal(50_000UL * S, added);
        Assert.Null(m.Validate());
        // Clearing across leaves.
        m.Free(500 * 2 * S, 60_000 * 2 * S);
        Assert.Null(m.Validate());
        Assert.Equal(m.ToArray().Aggregate(0UL, (a, r) => a + r.Length), m.ReservedBytes);
        m.Free(0, ulong.MaxValue / 2);
        Assert.Equal(0, m.RangeCount);
        Assert.Null(m.Validate());
    }

    // ------------------------------------------------------------------ model-based

    private enum MapOp { Reserve, Release, Free, FreeChangeSet, CountReserved }

    private readonly record struct Step(MapOp Op, ulong Start, ulong Len);

    private static Gen<Step> StepGen(int universeSectors, int maxLenSectors) =>
        Gen.Select(Gen.Int[0, 9], Gen.Int[0, universeSectors - 1], Gen.Int[1, maxLenSectors], Gen.Int[0, 3], Gen.Int[0, 4095],
            (k, sec, lenSec, jitter, j) =>
            {
                var op = k switch { <= 4 => MapOp.Reserve, 5 or 6 => MapOp.Release, 7 => MapOp.Free, 8 => MapOp.FreeChangeSet, _ => MapOp.CountReserved };
                // A quarter of the steps are unaligned at both ends.
                ulong start = (ulong)sec * S + (jitter == 0 ? (ulong)j : 0);
                ulong len = (ulong)lenSec * S - (jitter == 0 ? (ulong)j / 2 : 0);
                return new Step(op, start, len);
            });

    private static (ulong first, ulong end) Sectors(ulong start, ulong len) => (start / S, (start + len + S - 1) / S);

    private static void RunAgainstModel(Step[] steps)
    {
        var m = new DataReservationMap();
        var model = new HashSet<ulong>();
        var cs = new ChangeSet();
        var last = new ChangeSet();
        foreach (var st in steps)
        {
            var (a, b) = Sectors(st.Start, st.Len);
            switch (st.Op)
            {
                case MapOp.Reserve:
                {
                    cs.Clear();
                    ulong expected = 0;
                    var fresh = new List<ulong>();
                    for (ulong x = a; x < b; x++) if (model.Add(x)) { expected += S; fresh.Add(x); }
                    Assert.Equal(expected, m.Reserve(st.Start, st.Len, cs));
                    Assert.Equal(expected, cs.BytesChanged);
                    // The change set lists exactly the fresh sectors, in order.
                    var listed = cs.Ranges.ToArray().SelectMany(r => Enumerable.Range(0, (int)(r.Length / S)).Select(i => r.Start / S + (ulong)i)).ToList();
                    Assert.Equal(fresh, listed);
                    last.Clear();
                    foreach (var r in cs.Ranges) last.Add(r.Start, r.End);
                    break;
                }
                case MapOp.Release:
                case MapOp.Free:
                {
                    ulong expected = 0;
                    for (ulong x = a; x < b; x++) if (model.Remove(x)) expected += S;
                    ulong got = st.Op == MapOp.Release ? m.Release(st.Start, st.Len) : m.Free(st.Start, st.Len);
                    Assert.Equal(expected, got);
                    break;
                }
                case MapOp.FreeChangeSet:
                {
                    ulong expected = 0;
                    foreach (var r in last.Ranges)
                        for (ulong x = r.Start / S; x < r.End / S; x++) if (model.Remove(x)) expected += S;
                    Assert.Equal(expected, m.Free(last));
                    last.Clear();
                    break;
                }
                case MapOp.CountReserved:
                {
                    ulong expected = 0;
                    for (ulong x = a; x < b; x++) if (model.Contains(x)) expected += S;
                    Assert.Equal(expected, m.CountReserved(st.Start, st.Len));
                    Assert.Equal(expected == (b - a) * S, m.IsReserved(st.Start, st.Len));
                    break;
                }
            }
            Assert.Null(m.Validate());
            Assert.Equal((ulong)model.Count * S, m.ReservedBytes);
        }
        // Final content: maximal runs of the model's sectors.
        var sorted = model.Order().ToArray();
        var runs = new List<FileRange>();
        foreach (var x in sorted)
        {
            if (runs.Count > 0 && runs[^1].End == x * S) runs[^1] = new FileRange(runs[^1].Start, (x + 1) * S);
            else runs.Add(new FileRange(x * S, (x + 1) * S));
        }
        Assert.Equal(runs, m.ToArray());
    }

    [Fact]
    public void Matches_a_set_of_sectors_on_random_sequences() =>
        StepGen(64, 12).Array[1, 80].Sample(RunAgainstModel, iter: 400);

    [Fact]
    public void Matches_a_set_of_sectors_with_thousands_of_ranges()
    {
        // Short ranges over a wide file: leaf and inner-node splits, merges across leaves, empty-leaf removal.
        StepGen(20_000, 3).Array[3000, 6000].Sample(RunAgainstModel, iter: 6);
        // Long windows over many small ranges.
        Gen.Select(StepGen(20_000, 2).Array[4000], StepGen(20_000, 3000).Array[50])
            .Select(t => t.Item1.Concat(t.Item2).ToArray())
            .Sample(RunAgainstModel, iter: 4);
    }
}
