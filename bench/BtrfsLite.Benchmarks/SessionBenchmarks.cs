using BenchmarkDotNet.Attributes;
using BtrfsLite.Fs;
using BtrfsLite.IO;
using BtrfsLite.Images;
using BtrfsLite.Mkfs;
using BtrfsLite.Qgroups;

namespace BtrfsLite.Benchmarks;

/// <summary>
/// Buffered-write calls through <see cref="FsSession"/> (path lookup, data reservation, metadata reservation, page-cache
/// copy) on an in-memory image: 4 KiB writes cycling over a 64 MiB window of one file, so after the first pass every
/// call re-dirties a dirty page (the seed's pattern at file-system level). Quota off, on (the fix), and legacy.
/// </summary>
[Config(typeof(ReservationsConfig))]
public class SessionBenchmarks
{
    public const int Batch = 4096;
    private const int Window = 16384; // pages: 64 MiB

    public enum Quota { Off, Default, Legacy }

    [Params(Quota.Off, Quota.Default, Quota.Legacy)]
    public Quota Mode;

    private FsSession _s = null!;
    private readonly byte[] _page = new byte[4096];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var dev = new MemoryBlockDevice(1L << 30);
        ImageBuilder.Create(dev, new ImageOptions { Size = 1L << 30, Quota = Mode != Quota.Off });
        var image = BtrfsImage.Open(dev, new BtrfsImage.OpenOptions(Writable: true));
        _s = new FsSession(new Filesystem(image), new FsSessionOptions
        {
            Reservations = Mode == Quota.Legacy ? QgroupReservationMode.Legacy : QgroupReservationMode.Default,
            DirtyThreshold = 1L << 30,
        });
        new Random(1).NextBytes(_page);
        for (int i = 0; i < Window; i++) _s.Write("f", (ulong)i * 4096, _page); // every page dirty: the steady state
    }

    [GlobalCleanup]
    public void Cleanup() => _s.Dispose();

    [Benchmark(OperationsPerInvoke = Batch)]
    public ulong BufferedWrite4K()
    {
        ulong sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            sum += _s.Write("f", (ulong)_next * 4096, _page).Written;
            _next = (_next + 7919) % Window;
        }
        return sum;
    }
}
