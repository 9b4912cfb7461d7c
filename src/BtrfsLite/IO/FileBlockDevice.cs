using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace BtrfsLite.IO;

/// <summary>An image file or a block device (loop devices included), through <see cref="RandomAccess"/>.</summary>
public sealed class FileBlockDevice : IBlockDevice
{
    private readonly SafeFileHandle _handle;
    public string Name { get; }
    public bool CanWrite { get; }
    public long Length { get; }
    public bool IsBlockDevice { get; }

    private FileBlockDevice(SafeFileHandle handle, string name, bool canWrite, long length, bool isBlock)
    { _handle = handle; Name = name; CanWrite = canWrite; Length = length; IsBlockDevice = isBlock; }

    public static FileBlockDevice Open(string path, bool writable)
    {
        var handle = File.OpenHandle(path, FileMode.Open, writable ? FileAccess.ReadWrite : FileAccess.Read,
            writable ? FileShare.Read : FileShare.ReadWrite);
        try
        {
            long len = RandomAccess.GetLength(handle);
            bool isBlock = false;
            if (len == 0 && TryGetBlockDeviceSize(handle, out long devLen))
            {
                len = devLen;
                isBlock = true;
            }
            return new FileBlockDevice(handle, path, writable, len, isBlock);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Creates (or truncates) an image file of the given size.</summary>
    public static FileBlockDevice Create(string path, long size)
    {
        var handle = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read);
        RandomAccess.SetLength(handle, size);
        return new FileBlockDevice(handle, path, true, size, false);
    }

    public void Read(Span<byte> buffer, long offset)
    {
        if (offset < 0 || offset + buffer.Length > Length)
            throw new EndOfStreamException($"{Name}: read of {buffer.Length} bytes at {offset} is past the device end {Length}");
        int done = 0;
        while (done < buffer.Length)
        {
            int n = RandomAccess.Read(_handle, buffer[done..], offset + done);
            if (n <= 0) throw new EndOfStreamException($"{Name}: short read at {offset + done} (device end {Length})");
            done += n;
        }
    }

    public void Write(ReadOnlySpan<byte> buffer, long offset)
    {
        if (!CanWrite) throw new InvalidOperationException($"{Name} is open read-only");
        if (offset < 0 || offset + buffer.Length > Length)
            throw new IOException($"{Name}: write of {buffer.Length} bytes at {offset} is past the device end {Length}");
        RandomAccess.Write(_handle, buffer, offset);
    }

    public void Flush()
    {
        if (CanWrite) RandomAccess.FlushToDisk(_handle);
    }

    public void Dispose() => _handle.Dispose();

    private const ulong BlkGetSize64 = 0x80081272;

    [DllImport("libc", SetLastError = true, EntryPoint = "ioctl")]
    private static extern int Ioctl(SafeFileHandle fd, ulong request, out ulong value);

    // st_size of a block device is 0: ask the kernel for the device size instead.
    private static bool TryGetBlockDeviceSize(SafeFileHandle handle, out long size)
    {
        size = 0;
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            if (Ioctl(handle, BlkGetSize64, out ulong v) != 0) return false;
            size = (long)v;
            return true;
        }
        catch (DllNotFoundException) { return false; }
        catch (EntryPointNotFoundException) { return false; }
    }
}

/// <summary>An in-memory device, for tests and for building images before they are written out.</summary>
public sealed class MemoryBlockDevice : IBlockDevice
{
    private readonly byte[] _data;
    public MemoryBlockDevice(long size) => _data = new byte[size];
    public MemoryBlockDevice(byte[] data) => _data = data;
    public byte[] Data => _data;
    public string Name => "memory";
    public bool CanWrite => true;
    public long Length => _data.Length;
    public void Read(Span<byte> buffer, long offset)
    {
        if (offset < 0 || offset + buffer.Length > _data.Length)
            throw new EndOfStreamException($"memory: read of {buffer.Length} bytes at {offset} is past the device end {_data.Length}");
        _data.AsSpan((int)offset, buffer.Length).CopyTo(buffer);
    }
    public void Write(ReadOnlySpan<byte> buffer, long offset)
    {
        if (offset < 0 || offset + buffer.Length > _data.Length)
            throw new IOException($"memory: write of {buffer.Length} bytes at {offset} is past the device end {_data.Length}");
        buffer.CopyTo(_data.AsSpan((int)offset));
    }
    public void Flush() { }
    public void Dispose() { }
}
