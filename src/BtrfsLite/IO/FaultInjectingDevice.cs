namespace BtrfsLite.IO;

/// <summary>
/// Wraps a device to simulate power loss and I/O errors, for crash tests. Every write goes through to the inner
/// device until a fault is armed; the inner device then holds exactly "what reached the disk".
/// <list type="bullet">
/// <item><see cref="CutPowerAfter"/>: the next <c>n</c> writes reach the disk (the last one possibly torn: only a
/// sector-aligned prefix of it lands); every later write is dropped silently and flushes do nothing.</item>
/// <item><see cref="FailWritesAfter"/> / <see cref="FailNextWrite"/> / <see cref="FailFlush"/>: the device reports an
/// <see cref="IOException"/>; a failed write leaves the disk unchanged.</item>
/// </list>
/// Counts are "seen by this wrapper": writes and flushes that were attempted, whether or not they reached the disk.
/// </summary>
public sealed class FaultInjectingDevice : IBlockDevice
{
    private readonly IBlockDevice _inner;
    private readonly bool _ownsInner;
    private readonly Random _random;
    // Write number (1-based, in Writes) after which power is cut; long.MaxValue when no cut is armed.
    private long _cutAfter = long.MaxValue;
    private bool _tearLast;
    private int? _tearBytes;
    private long _failAfter = long.MaxValue;
    private int _failFlushes;

    /// <param name="inner">The device that receives what reaches the disk.</param>
    /// <param name="ownsInner">Dispose the inner device with this one.</param>
    /// <param name="seed">Seed of the random torn-write prefix lengths (deterministic tests).</param>
    public FaultInjectingDevice(IBlockDevice inner, bool ownsInner = false, int seed = 0)
    {
        _inner = inner;
        _ownsInner = ownsInner;
        _random = new Random(seed);
    }

    /// <summary>The device that holds what reached the disk.</summary>
    public IBlockDevice Inner => _inner;
    /// <summary>"fault(" and the inner device's name ")".</summary>
    public string Name => $"fault({_inner.Name})";
    /// <summary>The inner device's size in bytes.</summary>
    public long Length => _inner.Length;
    /// <summary>Whether the inner device is writable.</summary>
    public bool CanWrite => _inner.CanWrite;

    /// <summary>Writes seen (attempted), including dropped, torn and failed ones.</summary>
    public long Writes { get; private set; }
    /// <summary>Writes that reached the inner device in full.</summary>
    public long WritesReachedDisk { get; private set; }
    /// <summary>Writes dropped after a power cut.</summary>
    public long WritesDropped { get; private set; }
    /// <summary>Writes that threw an <see cref="IOException"/>.</summary>
    public long WritesFailed { get; private set; }
    /// <summary>Flushes seen (attempted), including ones after a power cut and failed ones.</summary>
    public long Flushes { get; private set; }
    /// <summary>Bytes of the torn write that reached the disk (-1: no write was torn).</summary>
    public int TornBytes { get; private set; } = -1;
    /// <summary>Power has been cut: nothing written from now on reaches the disk.</summary>
    public bool PowerCut { get; private set; }
    /// <summary>Unit of a torn write: a torn write lands as a whole number of these (default 512, a disk sector).</summary>
    public int TearSectorSize { get; set; } = 512;

    /// <summary>Called for every write seen, before the fault logic: (1-based write number, offset, length).</summary>
    public Action<long, long, int>? OnWrite { get; set; }

    /// <summary>
    /// Lets the next <paramref name="n"/> writes through, then cuts power: later writes are dropped silently and
    /// flushes do nothing. With <paramref name="tearLast"/> the n-th write is torn: only a sector-aligned prefix
    /// (<paramref name="tearBytes"/>, or a random number of whole sectors shorter than the write) lands.
    /// <c>n = 0</c> cuts power at once.
    /// </summary>
    public void CutPowerAfter(int n, bool tearLast = false, int? tearBytes = null)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n));
        if (tearBytes is int t && (t < 0 || t % TearSectorSize != 0))
            throw new ArgumentException($"a torn write lands in whole sectors of {TearSectorSize} bytes", nameof(tearBytes));
        _cutAfter = Writes + n;
        _tearLast = tearLast && n > 0;
        _tearBytes = tearBytes;
        if (n == 0) PowerCut = true;
    }

    /// <summary>The next <paramref name="n"/> writes succeed; every later one throws <see cref="IOException"/> (until <see cref="Heal"/>).</summary>
    public void FailWritesAfter(int n)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n));
        _failAfter = Writes + n;
    }

    /// <summary>The next write throws <see cref="IOException"/>; the ones after it succeed.</summary>
    public void FailNextWrite() => _failNext = true;
    private bool _failNext;

    /// <summary>The next <paramref name="count"/> flushes throw <see cref="IOException"/>.</summary>
    public void FailFlush(int count = 1) { _flushesBeforeFailure = 0; _failFlushes = count; }

    /// <summary>The next <paramref name="n"/> flushes succeed; the one after them throws <see cref="IOException"/>.</summary>
    public void FailFlushAfter(int n) { _flushesBeforeFailure = n; _failFlushes = 1; }
    private int _flushesBeforeFailure;

    /// <summary>Disarms every failure (not a power cut: power does not come back to a write that was dropped).</summary>
    public void Heal()
    {
        _failAfter = long.MaxValue;
        _failNext = false;
        _failFlushes = 0;
        _flushesBeforeFailure = 0;
    }

    /// <summary>Reads from the inner device (what reached the disk); reads never fail.</summary>
    public void Read(Span<byte> buffer, long offset) => _inner.Read(buffer, offset);

    /// <summary>
    /// A write seen by the wrapper: it reaches the inner device, is torn, dropped after a power cut, or throws
    /// <see cref="IOException"/>, as armed.
    /// </summary>
    public void Write(ReadOnlySpan<byte> buffer, long offset)
    {
        long number = ++Writes;
        OnWrite?.Invoke(number, offset, buffer.Length);
        if (number > _cutAfter || PowerCut)
        {
            PowerCut = true;
            WritesDropped++;
            return;
        }
        if (_failNext || number > _failAfter)
        {
            _failNext = false;
            WritesFailed++;
            throw new IOException($"{Name}: injected write error (write #{number}, {buffer.Length} bytes at {offset})");
        }
        if (number == _cutAfter)
        {
            PowerCut = true;
            if (_tearLast)
            {
                int len = _tearBytes ?? RandomTear(buffer.Length);
                len = Math.Min(len, buffer.Length);
                TornBytes = len;
                if (len > 0) _inner.Write(buffer[..len], offset);
                return;
            }
        }
        _inner.Write(buffer, offset);
        WritesReachedDisk++;
    }

    // A whole number of sectors, at least one and at least one short of the write when it spans two sectors or more.
    private int RandomTear(int length)
    {
        int sectors = length / TearSectorSize;
        if (sectors < 2) return 0;
        return _random.Next(1, sectors) * TearSectorSize;
    }

    /// <summary>
    /// A flush seen by the wrapper: does nothing after a power cut, throws <see cref="IOException"/> when a flush
    /// failure is armed, else flushes the inner device.
    /// </summary>
    public void Flush()
    {
        Flushes++;
        if (PowerCut) return;
        if (_failFlushes > 0 && _flushesBeforeFailure > 0) _flushesBeforeFailure--;
        else if (_failFlushes > 0)
        {
            _failFlushes--;
            throw new IOException($"{Name}: injected flush error (flush #{Flushes})");
        }
        _inner.Flush();
    }

    /// <summary>Copies what reached the disk into <paramref name="destination"/> (at least <see cref="Length"/> bytes; reuse it across calls).</summary>
    public void CopyDiskTo(byte[] destination)
    {
        if (destination.LongLength < Length) throw new ArgumentException("destination is smaller than the device", nameof(destination));
        if (_inner is MemoryBlockDevice m) { Buffer.BlockCopy(m.Data, 0, destination, 0, m.Data.Length); return; }
        const int chunk = 1 << 20;
        for (long off = 0; off < Length; off += chunk)
            _inner.Read(destination.AsSpan((int)off, (int)Math.Min(chunk, Length - off)), off);
    }

    /// <summary>What reached the disk, as a new array.</summary>
    public byte[] CaptureDisk()
    {
        var b = new byte[Length];
        CopyDiskTo(b);
        return b;
    }

    /// <summary>Writes what reached the disk to an image file (for the real tools).</summary>
    public void SaveDiskTo(string path)
    {
        using var f = new FileStream(path, FileMode.Create, FileAccess.Write);
        var buf = new byte[1 << 20];
        for (long off = 0; off < Length; off += buf.Length)
        {
            int n = (int)Math.Min(buf.Length, Length - off);
            _inner.Read(buf.AsSpan(0, n), off);
            f.Write(buf, 0, n);
        }
    }

    /// <summary>Disposes the inner device when this wrapper owns it.</summary>
    public void Dispose()
    {
        if (_ownsInner) _inner.Dispose();
    }
}
