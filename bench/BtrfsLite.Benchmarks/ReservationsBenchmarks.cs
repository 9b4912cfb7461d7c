using BenchmarkDotNet.Attributes;
using BtrfsLite.Qgroups;
using static BtrfsLite.Benchmarks.ReservationsSetup;

namespace BtrfsLite.Benchmarks;

/// <summary>
/// The reservation engine's hot paths, each in both modes. Every benchmark runs a batch of
/// <see cref="Batch"/> operations per invocation; BenchmarkDotNet reports the mean per operation.
/// </summary>
[Config(typeof(ReservationsConfig))]
public class ReservationsBenchmarks
{
    public const int Batch = 4096;
    private const ulong Ino = 257;

    [Params(QgroupReservationMode.Default, QgroupReservationMode.Legacy)]
    public QgroupReservationMode Mode;

    private QgroupReservations _q = null!;
    private ulong _append;
    private ulong[] _starts = null!, _lens = null!;

    [GlobalSetup]
    public void Setup()
    {
        _q = Engine(Mode);
        _q.ReserveData(FsRoot, Ino, 0, 2 << 20);
        _append = 0;
        (_starts, _lens) = Windows(Batch, 1UL << 18, 7);
        // Release/punch files: 1 GiB of 64 KiB dirty blocks with 4 KiB gaps (15420 live ranges).
        for (ulong off = 0; off + BlockBytes <= 1UL << 30; off += BlockBytes + Sector)
            _q.ReserveData(FsRoot, Ino + 2, off, BlockBytes);
    }

    private const ulong BlockBytes = 64 * 1024;

    /// <summary>The seed pattern: re-dirty the same 2 MiB range (Default: nothing new to charge; Legacy: 2 MiB each time).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public ulong SeedRewrite2MiB()
    {
        ulong sum = 0;
        for (int i = 0; i < Batch; i++) sum += _q.ReserveData(FsRoot, Ino, 0, 2 << 20).Bytes;
        return sum;
    }

    /// <summary>Sequential 4 KiB appends (the map keeps one growing range).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public ulong SequentialAppend4KiB()
    {
        ulong sum = 0, off = _append;
        for (int i = 0; i < Batch; i++, off += Sector) sum += _q.ReserveData(FsRoot, Ino + 1, off, Sector).Bytes;
        _append = off;
        return sum;
    }

    /// <summary>
    /// Writeback of a 4–64 KiB piece of a dirty block: release into a record, free the record at
    /// commit, re-dirty it so the state is the same for the next operation (3 engine calls per op).
    /// </summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public ulong ReleaseAtWriteback()
    {
        ulong sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            var (s, l) = InsideBlock(i);
            var rec = _q.ReleaseData(FsRoot, Ino + 2, s, l);
            _q.FreeRecord(rec);
            sum += _q.ReserveData(FsRoot, Ino + 2, s, l).Bytes;
        }
        return sum;
    }

    /// <summary>Punch of 4–64 KiB of dirty data: free at once, then re-dirty (2 engine calls per op).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public ulong FreeOnPunch()
    {
        ulong sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            var (s, l) = InsideBlock(i);
            sum += _q.FreeData(FsRoot, Ino + 2, s, l);
            _q.ReserveData(FsRoot, Ino + 2, s, l);
        }
        return sum;
    }

    private (ulong start, ulong len) InsideBlock(int i)
    {
        // A random 64 KiB block of the 1 GiB file, a 4–64 KiB piece of it.
        ulong block = _starts[i] / Sector % 15420;
        ulong len = _lens[i];
        ulong within = (_starts[i] / Sector / 15420) % ((BlockBytes - len) / Sector + 1) * Sector;
        return (block * (BlockBytes + Sector) + within, len);
    }
}
