using BtrfsLite.Format;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BtrfsLite.Qgroups;

namespace BtrfsLite.Benchmarks;

/// <summary>Short jobs: the machine is shared, the whole Reservations set must stay within a few minutes.</summary>
public sealed class ReservationsConfig : ManualConfig
{
    public ReservationsConfig()
    {
        AddJob(Job.ShortRun.WithWarmupCount(3).WithIterationCount(5).WithId("short"));
        AddDiagnoser(MemoryDiagnoser.Default);
    }
}

internal static class ReservationsSetup
{
    public const ulong Sector = 4096;
    public const ulong FsRoot = 5;

    /// <summary>0/5 alone, or 0/5 and 0/256 under 1/1 and 1/2, both under 2/1, limits at every level (never reached).</summary>
    public static QgroupReservations Engine(QgroupReservationMode mode, bool hierarchy = false)
    {
        var q = new QgroupReservations(mode);
        q.CreateQgroup(FsRoot);
        q.SetUsage(FsRoot, 16384, 16384);
        if (!hierarchy) return q;
        ulong l11 = QgroupId.Make(1, 1), l12 = QgroupId.Make(1, 2), l21 = QgroupId.Make(2, 1);
        foreach (var id in new[] { 256UL, l11, l12, l21 }) q.CreateQgroup(id);
        q.AddRelation(FsRoot, l11);
        q.AddRelation(256, l11);
        q.AddRelation(256, l12);
        q.AddRelation(l11, l21);
        q.AddRelation(l12, l21);
        foreach (var id in new[] { FsRoot, 256UL, l11, l12, l21 })
            q.SetLimit(id, QgroupLimitFlags.MaxRfer | QgroupLimitFlags.MaxExcl, ulong.MaxValue / 4, ulong.MaxValue / 4);
        return q;
    }

    /// <summary>Deterministic random windows: start sector in [0, spanSectors), length 4–64 KiB.</summary>
    public static (ulong[] starts, ulong[] lens) Windows(int count, ulong spanSectors, int seed)
    {
        var rnd = new Random(seed);
        var s = new ulong[count];
        var l = new ulong[count];
        for (int i = 0; i < count; i++)
        {
            s[i] = (ulong)rnd.NextInt64((long)spanSectors) * Sector;
            l[i] = (ulong)rnd.Next(1, 17) * Sector;
        }
        return (s, l);
    }
}
