namespace BtrfsLite.IO;

/// <summary>
/// Copy-on-write in memory over another device: writes land in 4 KiB pages kept here, reads see them over the base,
/// and the base is never written. For trying a change without touching the image (fuzzing, tests, dry runs) and for
/// asking afterwards whether anything would have changed.
/// </summary>
public sealed class OverlayBlockDevice : IBlockDevice
{
    private const int Page = 4096;
    private readonly IBlockDevice _base;
    private readonly Dictionary<long, byte[]> _pages = new();

    /// <summary>An overlay on <paramref name="baseDevice"/>, which is only ever read.</summary>
    public OverlayBlockDevice(IBlockDevice baseDevice) => _base = baseDevice;

    /// <summary>The base device's size in bytes.</summary>
    public long Length => _base.Length;
    /// <summary>Always true: writes land in the overlay.</summary>
    public bool CanWrite => true;
    /// <summary>The base device's name.</summary>
    public string Name => _base.Name;
    /// <summary>Does nothing: the overlay is in memory.</summary>
    public void Flush() { }
    /// <summary>Does nothing; the base device is not disposed.</summary>
    public void Dispose() { }

    /// <summary>Drops every write: the device reads as its base again.</summary>
    public void Reset() => _pages.Clear();

    /// <summary>Whether a write left any byte different from the base (writing the same bytes back is no change).</summary>
    public bool Changed => ChangedPages().Any();

    /// <summary>Offsets of the pages a write left different from the base.</summary>
    public IEnumerable<long> ChangedPages()
    {
        var orig = new byte[Page];
        foreach (var (page, bytes) in _pages)
        {
            int n = (int)Math.Min(Page, _base.Length - page * Page);
            _base.Read(orig.AsSpan(0, n), page * Page);
            if (!orig.AsSpan(0, n).SequenceEqual(bytes.AsSpan(0, n))) yield return page * Page;
        }
    }

    /// <inheritdoc/>
    /// <exception cref="EndOfStreamException">The range lies past the end of the device.</exception>
    public void Read(Span<byte> buffer, long offset)
    {
        if (offset < 0 || offset + buffer.Length > Length)
            throw new EndOfStreamException($"{Name}: read of {buffer.Length} bytes at {offset} is past the device end {Length}");
        for (int done = 0, n; done < buffer.Length; done += n)
        {
            n = Piece(offset + done, buffer.Length - done, out long page, out int inPage);
            if (_pages.TryGetValue(page, out var p)) p.AsSpan(inPage, n).CopyTo(buffer.Slice(done, n));
            else _base.Read(buffer.Slice(done, n), offset + done);
        }
    }

    /// <summary>
    /// Writes into the overlay's pages (copying a page from the base on its first write); the base is untouched.
    /// </summary>
    /// <exception cref="IOException">The range lies past the end of the device.</exception>
    public void Write(ReadOnlySpan<byte> buffer, long offset)
    {
        if (offset < 0 || offset + buffer.Length > Length)
            throw new IOException($"{Name}: write of {buffer.Length} bytes at {offset} is past the device end {Length}");
        for (int done = 0, n; done < buffer.Length; done += n)
        {
            n = Piece(offset + done, buffer.Length - done, out long page, out int inPage);
            if (!_pages.TryGetValue(page, out var p))
            {
                _pages[page] = p = new byte[Page];
                _base.Read(p.AsSpan(0, (int)Math.Min(Page, Length - page * Page)), page * Page);
            }
            buffer.Slice(done, n).CopyTo(p.AsSpan(inPage));
        }
    }

    /// <summary>The part of [pos, pos + left) inside one page: its page, where in it, and how many bytes.</summary>
    private static int Piece(long pos, int left, out long page, out int inPage)
    {
        page = pos / Page;
        inPage = (int)(pos % Page);
        return Math.Min(Page - inPage, left);
    }
}
