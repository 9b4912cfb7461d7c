using System.Runtime.InteropServices;
using BtrfsLite.Format;
using Microsoft.Win32.SafeHandles;

namespace BtrfsLite.IO;

/// <summary>An image file or a block device (loop devices included), through <see cref="RandomAccess"/>.</summary>
public sealed class FileBlockDevice : IBlockDevice
{
    private readonly SafeFileHandle _handle;
    // A loop device's backing file, locked like the device itself so that a writer on the file and one on the loop device exclude each other.
    private readonly SafeFileHandle? _backingLock;
    /// <summary>The path that was opened.</summary>
    public string Name { get; }
    /// <summary>True when opened for writing (exclusive lock held).</summary>
    public bool CanWrite { get; }
    /// <summary>
    /// The size in bytes: the file's length (as <see cref="Recreate"/> last set it), or BLKGETSIZE64 of a block device.
    /// </summary>
    public long Length { get; private set; }
    /// <summary>True when the path is a block device (a loop device included).</summary>
    public bool IsBlockDevice { get; }
    /// <summary>Set when a read-only open was allowed on a mounted image (<see cref="DeviceOpenOptions.AllowMounted"/>): how it is mounted.</summary>
    public string? MountedWarning { get; }

    private FileBlockDevice(SafeFileHandle handle, SafeFileHandle? backingLock, string name, bool canWrite, long length, bool isBlock, string? mounted)
    {
        _handle = handle; _backingLock = backingLock; Name = name; CanWrite = canWrite; Length = length; IsBlockDevice = isBlock;
        MountedWarning = mounted;
    }

    /// <summary>
    /// Opens <paramref name="path"/> read-only or read-write, failing at once when another program holds it; see
    /// <see cref="Open(string, DeviceOpenOptions)"/>.
    /// </summary>
    public static FileBlockDevice Open(string path, bool writable) => Open(path, new DeviceOpenOptions(writable));

    /// <summary>
    /// Opens an image file or block device safely: a writer takes an exclusive open file description lock (and on a
    /// block device also the kernel's exclusive open, O_EXCL), a reader a shared one; a mounted image is refused for
    /// writing always and for reading unless <see cref="DeviceOpenOptions.AllowMounted"/>. Throws
    /// <see cref="ImageInUseException"/> when another program holds the image (or waits, with <see cref="DeviceOpenOptions.Wait"/>).
    /// </summary>
    public static FileBlockDevice Open(string path, DeviceOpenOptions options)
    {
        if (Directory.Exists(path)) throw new IOException($"{path} is a directory, not an image file or block device");
        var id = Native.Stat(path);
        var handle = OpenHandle(path, id, options.Writable, options.Wait, create: false);
        return Finish(handle, path, id, options);
    }

    /// <summary>
    /// Creates an image file of the given size, or resizes an existing one to it (mkfs): the file is locked and checked
    /// not to be mounted before anything in it changes.
    /// </summary>
    public static FileBlockDevice Create(string path, long size, bool wait = false)
    {
        var dev = OpenForCreate(path, wait);
        try
        {
            dev.Recreate(size);
            return dev;
        }
        catch
        {
            dev.Dispose();
            throw;
        }
    }

    /// <summary>
    /// mkfs' open: the file (created when missing) or block device, locked exclusively and checked not to be mounted,
    /// unchanged so far: probe it, then <see cref="Recreate"/> a file.
    /// </summary>
    public static FileBlockDevice OpenForCreate(string path, bool wait = false)
    {
        if (Directory.Exists(path)) throw new IOException($"{path} is a directory, not an image file or block device");
        var handle = OpenHandle(path, Native.Stat(path), writable: true, wait, create: true);
        return Finish(handle, path, null, new DeviceOpenOptions(Writable: true, Wait: wait));
    }

    /// <summary>An image file emptied and made sparse at <paramref name="size"/>: nothing of an old image survives.</summary>
    public void Recreate(long size)
    {
        if (IsBlockDevice) throw new InvalidOperationException($"{Name} is a block device: it keeps its size");
        RandomAccess.SetLength(_handle, 0);
        RandomAccess.SetLength(_handle, size);
        Length = size;
    }

    private static SafeFileHandle OpenHandle(string path, Native.FileId? id, bool writable, bool wait, bool create)
    {
        if (id is { IsBlockDevice: true } && writable && Native.Available)
        {
            // The kernel's exclusive open: EBUSY while a mounted file system (or another exclusive opener) holds the device.
            while (true)
            {
                var h = Native.OpenExclusive(path, writable: true, out int errno);
                if (h != null) return h;
                if (errno == Native.EBUSY)
                {
                    if (MountCheck.FindMount(path, id.Value) is string m)
                        throw new ImageInUseException(path, mounted: true, $"{path} is in use: {m}; unmount it first");
                    if (wait) { Thread.Sleep(100); continue; }
                    throw new ImageInUseException(path, mounted: false, $"{path} is in use: another program has the device open exclusively (use --wait to wait for it)");
                }
                if (errno == Native.ENOENT) throw new FileNotFoundException($"{path}: no such file", path);
                if (errno == Native.EACCES) throw new UnauthorizedAccessException($"{path}: permission denied");
                throw new IOException($"{path}: cannot open (errno {errno})");
            }
        }
        return File.OpenHandle(path, create ? FileMode.OpenOrCreate : FileMode.Open, writable ? FileAccess.ReadWrite : FileAccess.Read, FileShare.ReadWrite);
    }

    private static FileBlockDevice Finish(SafeFileHandle handle, string path, Native.FileId? id, DeviceOpenOptions o)
    {
        SafeFileHandle? backing = null;
        try
        {
            id ??= Native.Stat(handle);
            if (Native.Available)
            {
                TakeLock(handle, path, o);
                // A loop device: its backing file is the same image; lock it too.
                if (id is { IsBlockDevice: true } d && MountCheck.LoopBackingFile(d) is string file && File.Exists(file))
                {
                    // A write lock needs a descriptor open for writing; nothing is written through it.
                    backing = File.OpenHandle(file, FileMode.Open, o.Writable ? FileAccess.ReadWrite : FileAccess.Read, FileShare.ReadWrite);
                    TakeLock(backing, $"{path} (backing file {file})", o);
                }
            }
            string? mounted = id is { } i ? MountCheck.FindMount(path, i) : null;
            if (mounted != null && (o.Writable || !o.AllowMounted))
                throw new ImageInUseException(path, mounted: true, o.Writable
                    ? $"{path} is in use: {mounted}; btrfslite never writes under a mounted file system"
                    : $"{path} is in use: {mounted}; reading it now may give inconsistent results (--force reads anyway)");
            long len = RandomAccess.GetLength(handle);
            bool isBlock = id?.IsBlockDevice ?? false;
            if (len == 0 && TryGetBlockDeviceSize(handle, out long devLen))
            {
                len = devLen;
                isBlock = true;
            }
            return new FileBlockDevice(handle, backing, path, o.Writable, len, isBlock, mounted);
        }
        catch
        {
            backing?.Dispose();
            handle.Dispose();
            throw;
        }
    }

    private static void TakeLock(SafeFileHandle h, string what, DeviceOpenOptions o)
    {
        int e = Native.Lock(h, exclusive: o.Writable, wait: o.Wait);
        // A lock can outlive its holder by a moment: a child forked by another thread shares the holder's descriptions
        // until it execs. Retry for a quarter of a second before calling the image busy.
        for (int i = 0; i < 25 && e is Native.EAGAIN or Native.EACCES; i++)
        {
            Thread.Sleep(10);
            e = Native.Lock(h, exclusive: o.Writable, wait: false);
        }
        if (e == 0) return;
        if (e is Native.EAGAIN or Native.EACCES)
            throw new ImageInUseException(what, mounted: false, o.Writable
                ? $"{what} is in use: another program has it open (a btrfslite command or library handle holds its lock); use --wait to wait for it"
                : $"{what} is in use: a writer holds its lock; use --wait to wait for it");
        // Locks unsupported by the file system (some FUSE or network file systems): go on unlocked rather than refuse.
        if (e is not (Native.ENOLCK or Native.EINVAL or Native.EOPNOTSUPP))
            throw new IOException($"{what}: cannot lock it (errno {e})");
    }

    /// <inheritdoc/>
    /// <exception cref="EndOfStreamException">The range lies past the end of the device, or the read came up
    /// short.</exception>
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

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The device was opened read-only.</exception>
    /// <exception cref="IOException">The range lies past the end of the device, or the write failed.</exception>
    public void Write(ReadOnlySpan<byte> buffer, long offset)
    {
        if (!CanWrite) throw new InvalidOperationException($"{Name} is open read-only");
        if (offset < 0 || offset + buffer.Length > Length)
            throw new IOException($"{Name}: write of {buffer.Length} bytes at {offset} is past the device end {Length}");
        var faults = FaultPlan.Current;
        faults?.BeforeWrite(Name, offset, buffer.Length);
        RandomAccess.Write(_handle, buffer, offset);
        faults?.AfterWrite(Name, offset, buffer.Length);
    }

    /// <summary>fsync: makes completed writes durable (nothing to do when read-only).</summary>
    public void Flush()
    {
        if (CanWrite) RandomAccess.FlushToDisk(_handle);
    }

    /// <summary>Closes the device, releasing its locks.</summary>
    public void Dispose()
    {
        _handle.Dispose();
        _backingLock?.Dispose();
    }

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

/// <summary>How <see cref="FileBlockDevice.Open(string, DeviceOpenOptions)"/> opens an image.</summary>
/// <param name="Writable">Open read-write: an exclusive lock, refused on a mounted image.</param>
/// <param name="Wait">Wait for another program's lock (or exclusive open) to go instead of failing at once. A mount is never waited for.</param>
/// <param name="AllowMounted">Read-only: open an image that a mounted file system uses (its state may be inconsistent; <see cref="FileBlockDevice.MountedWarning"/> says so).</param>
public sealed record DeviceOpenOptions(bool Writable = false, bool Wait = false, bool AllowMounted = false);

/// <summary>An in-memory device, for tests and for building images before they are written out.</summary>
public sealed class MemoryBlockDevice : IBlockDevice
{
    private readonly byte[] _data;
    /// <summary>A zero-filled device of <paramref name="size"/> bytes.</summary>
    public MemoryBlockDevice(long size) => _data = new byte[size];
    /// <summary>A device over <paramref name="data"/> itself (not copied): writes change the array.</summary>
    public MemoryBlockDevice(byte[] data) => _data = data;
    /// <summary>The bytes of the device (the live array, not a copy).</summary>
    public byte[] Data => _data;
    /// <summary>Always "memory".</summary>
    public string Name => "memory";
    /// <summary>Always true.</summary>
    public bool CanWrite => true;
    /// <summary>The array's length in bytes.</summary>
    public long Length => _data.Length;
    /// <inheritdoc/>
    /// <exception cref="EndOfStreamException">The range lies past the end of the array.</exception>
    public void Read(Span<byte> buffer, long offset)
    {
        if (offset < 0 || offset + buffer.Length > _data.Length)
            throw new EndOfStreamException($"memory: read of {buffer.Length} bytes at {offset} is past the device end {_data.Length}");
        _data.AsSpan((int)offset, buffer.Length).CopyTo(buffer);
    }
    /// <inheritdoc/>
    /// <exception cref="IOException">The range lies past the end of the array.</exception>
    public void Write(ReadOnlySpan<byte> buffer, long offset)
    {
        if (offset < 0 || offset + buffer.Length > _data.Length)
            throw new IOException($"memory: write of {buffer.Length} bytes at {offset} is past the device end {_data.Length}");
        buffer.CopyTo(_data.AsSpan((int)offset));
    }
    /// <summary>Does nothing: memory needs no flush.</summary>
    public void Flush() { }
    /// <summary>Does nothing.</summary>
    public void Dispose() { }
}
