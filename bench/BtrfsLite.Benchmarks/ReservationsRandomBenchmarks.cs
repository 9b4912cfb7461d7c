using BenchmarkDotNet.Attributes;
using BtrfsLite.Qgroups;
using static BtrfsLite.Benchmarks.ReservationsSetup;

namespace BtrfsLite.Benchmarks;

/// <summary>
/// Random 4–64 KiB overwrites into a file that already holds <see cref="LiveRanges"/> reserved
/// 4 KiB ranges (every other sector, so none touch: 131072 ranges fill 1 GiB, 262144 need 2 GiB).
/// One operation = ReserveData of the window (fills the gaps, merges up to 9 ranges) and the
/// error-path FreeData of its change set (splits them again), so the map size stays constant.
/// Also the scaling series: 1k, 128k, 256k, 1M live ranges.
/// </summary>
[Config(typeof(ReservationsConfig))]
public class ReservationsRandomBenchmarks
{
    public const int Batch = 4096;
    private const ulong Ino = 300;

    [Params(QgroupReservationMode.Default, QgroupReservationMode.Legacy)]
    public QgroupReservationMode Mode;

    [Params(1024, 131072, 262144, 1048576)]
    public int LiveRanges;

    private QgroupReservations _q = null!;
    private readonly ChangeSet _cs = new(64);
    private ulong[] _starts = null!, _lens = null!;

    [GlobalSetup]
    public void Setup()
    {
        _q = Engine(Mode);
        for (int i = 0; i < LiveRanges; i++) _q.ReserveData(FsRoot, Ino, (ulong)i * 2 * Sector, Sector);
        (_starts, _lens) = Windows(Batch, (ulong)LiveRanges * 2, 11);
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public ulong RandomOverwrite()
    {
        ulong sum = 0;
        var cs = _cs;
        for (int i = 0; i < Batch; i++)
        {
            cs.Clear();
            sum += _q.ReserveData(FsRoot, Ino, _starts[i], _lens[i], cs).Bytes;
            _q.FreeData(FsRoot, Ino, cs);
        }
        return sum;
    }
}

/// <summary>
/// The same random overwrite under a 3-level hierarchy with limits at every level (0/5 and 0/256
/// under 1/1 and 1/2, both under 2/1): every charge and free walks and checks the closure.
/// </summary>
[Config(typeof(ReservationsConfig))]
public class ReservationsHierarchyBenchmarks
{
    public const int Batch = 4096;
    private const ulong Ino = 300;

    [Params(QgroupReservationMode.Default, QgroupReservationMode.Legacy)]
    public QgroupReservationMode Mode;

    private QgroupReservations _q = null!;
    private readonly ChangeSet _cs = new(64);
    private ulong[] _starts = null!, _lens = null!;

    [GlobalSetup]
    public void Setup()
    {
        _q = Engine(Mode, hierarchy: true);
        for (int i = 0; i < 1024; i++) _q.ReserveData(256, Ino, (ulong)i * 2 * Sector, Sector);
        (_starts, _lens) = Windows(Batch, 2048, 13);
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public ulong ThreeLevelReserveAndFree()
    {
        ulong sum = 0;
        var cs = _cs;
        for (int i = 0; i < Batch; i++)
        {
            cs.Clear();
            sum += _q.ReserveData(256, Ino, _starts[i], _lens[i], cs).Bytes;
            _q.FreeData(256, Ino, cs);
        }
        return sum;
    }
}
