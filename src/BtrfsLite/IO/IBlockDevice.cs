namespace BtrfsLite.IO;

/// <summary>Positional I/O over an image file, a block device or memory. No shared position.</summary>
public interface IBlockDevice : IDisposable
{
    /// <summary>Size in bytes (for a block device: the device's size, not st_size).</summary>
    long Length { get; }
    /// <summary>True when <see cref="Write"/> is allowed.</summary>
    bool CanWrite { get; }
    /// <summary>Reads exactly buffer.Length bytes at offset; throws when the device ends first.</summary>
    void Read(Span<byte> buffer, long offset);
    /// <summary>
    /// Writes all of <paramref name="buffer"/> at byte <paramref name="offset"/>; throws when the range lies past the
    /// end or the device is read-only.
    /// </summary>
    void Write(ReadOnlySpan<byte> buffer, long offset);
    /// <summary>Makes every completed write durable (fsync / BLKFLSBUF semantics).</summary>
    void Flush();
    /// <summary>Human name for messages ("path" or "memory").</summary>
    string Name { get; }
}
