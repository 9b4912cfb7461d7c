namespace BtrfsLite.IO;

/// <summary>Positional I/O over an image file, a block device or memory. No shared position.</summary>
public interface IBlockDevice : IDisposable
{
    /// <summary>Size in bytes (for a block device: the device's size, not st_size).</summary>
    long Length { get; }
    bool CanWrite { get; }
    /// <summary>Reads exactly buffer.Length bytes at offset; throws when the device ends first.</summary>
    void Read(Span<byte> buffer, long offset);
    void Write(ReadOnlySpan<byte> buffer, long offset);
    /// <summary>Makes every completed write durable (fsync / BLKFLSBUF semantics).</summary>
    void Flush();
    /// <summary>Human name for messages ("path" or "memory").</summary>
    string Name { get; }
}
