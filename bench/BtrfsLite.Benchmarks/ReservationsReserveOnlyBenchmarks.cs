using BenchmarkDotNet.Attributes;
using BtrfsLite.Qgroups;
using static BtrfsLite.Benchmarks.ReservationsSetup;

namespace BtrfsLite.Benchmarks;

/// <summary>
/// ReserveData alone for random 4–64 KiB windows. The file starts with <see cref="LiveRanges"/>
/// 4 KiB ranges on every other sector and is rebuilt before every iteration (one invocation of
/// <see cref="Batch"/> reserves each); the windows merge ranges as they go, so the map shrinks by
/// up to ~25% during an iteration (262144 → about 200k ranges at the end).
/// </summary>
[Config(typeof(ReservationsConfig))]
public class ReservationsReserveOnlyBenchmarks
{
    public const int Batch = 16384;
    private const ulong Ino = 300;

    [Params(QgroupReservationMode.Default, QgroupReservationMode.Legacy)]
    public QgroupReservationMode Mode;

    [Params(1024, 262144, 1048576)]
    public int LiveRanges;

    private QgroupReservations _q = null!;
    private ulong[] _starts = null!, _lens = null!;

    [GlobalSetup]
    public void Setup() => (_starts, _lens) = Windows(Batch, (ulong)LiveRanges * 2, 17);

    [IterationSetup]
    public void Rebuild()
    {
        _q = Engine(Mode);
        for (int i = 0; i < LiveRanges; i++) _q.ReserveData(FsRoot, Ino, (ulong)i * 2 * Sector, Sector);
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    [InvocationCount(1, 1)]
    public ulong RandomReserveOnly()
    {
        ulong sum = 0;
        for (int i = 0; i < Batch; i++) sum += _q.ReserveData(FsRoot, Ino, _starts[i], _lens[i]).Bytes;
        return sum;
    }
}
