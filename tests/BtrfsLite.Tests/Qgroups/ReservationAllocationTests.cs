using BtrfsLite.Format;
using BtrfsLite.Qgroups;

namespace BtrfsLite.Tests.Qgroups;

/// <summary>Hot paths allocate nothing once pools and caches are warm (design.md performance principles).</summary>
public class ReservationAllocationTests
{
    private const ulong S = 4096, MiB = 1 << 20;

    private static void Workload(QgroupReservations q, DataReservationMap map, ChangeSet cs, ulong seed, int n)
    {
        ulong x = seed;
        for (int i = 0; i < n; i++)
        {
            x = x * 6364136223846793005UL + 1442695040888963407UL;
            ulong root = (x >> 60) % 2 == 0 ? 5UL : 256UL;
            ulong start = (x >> 20) % 4096 * S;
            ulong len = ((x >> 8) % 16 + 1) * S;
            q.ReserveData(root, 257, 0, 2 * MiB); // the seed's rewrite
            q.ReserveData(root, 258, start, len);
            var rec = q.ReleaseData(root, 258, start + S, len);
            q.FreeData(root, 258, start, 2 * S);
            q.FreeRecord(rec);
            cs.Clear();
            q.ReserveData(root, 259, start, len, cs);
            q.FreeData(root, 259, cs);
            q.ReserveMetaPrealloc(root, 16384);
            q.ConvertMetaPreallocToPertrans(root, 16384);
            if (i % 64 == 0) q.FreeAllMetaPertrans();
            if (i % 97 == 0) q.ReserveData(root, 260, 0, 1 << 30); // EDQUOT under the limit below
            cs.Clear();
            map.Reserve(start, len, cs);
            map.Release((x >> 33) % 4096 * S, len);
        }
    }

    [Fact]
    public void Reserve_release_free_and_metadata_allocate_nothing_in_steady_state()
    {
        var q = new QgroupReservations();
        foreach (var id in new ulong[] { 5, 256, QgroupId.Make(1, 1), QgroupId.Make(2, 1) }) q.CreateQgroup(id);
        q.AddRelation(5, QgroupId.Make(1, 1));
        q.AddRelation(256, QgroupId.Make(1, 1));
        q.AddRelation(QgroupId.Make(1, 1), QgroupId.Make(2, 1));
        q.SetLimit(QgroupId.Make(2, 1), QgroupLimitFlags.MaxRfer, 0, 0);
        q.SetLimit(QgroupId.Make(2, 1), QgroupLimitFlags.MaxExcl, 0, 512 * MiB);
        var map = new DataReservationMap();
        var cs = new ChangeSet(64);

        Workload(q, map, cs, 1, 20_000); // warm-up: pools, dictionaries, closures, JIT
        long before = GC.GetAllocatedBytesForCurrentThread();
        Workload(q, map, cs, 2, 20_000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.True(q.GetCounters(QgroupId.Make(2, 1)).RsvData > 0); // the workload really reserved
        Assert.True(map.RangeCount > 100);
    }
}
