using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace BtrfsLite.Cli;

/// <summary>lstat of a host file, as statx(2) reports it (the struct statx layout is the same on every Linux architecture).</summary>
internal readonly record struct HostStat(uint Mode, uint NLink, uint Uid, uint Gid, ulong Ino, ulong Dev, ulong Size,
    (long Sec, uint Nsec) Atime, (long Sec, uint Nsec) Mtime, (long Sec, uint Nsec) Ctime, uint RdevMajor, uint RdevMinor)
{
    public uint Type => Mode & 0xF000;
    public bool IsDir => Type == 0x4000;
    public bool IsReg => Type == 0x8000;
    public bool IsSymlink => Type == 0xA000;
}

/// <summary>The few POSIX calls .NET does not expose: lstat with inode numbers and owners, SEEK_DATA/SEEK_HOLE, xattrs.</summary>
internal static class HostFiles
{
    private const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7ff;
    private const int SeekData = 3, SeekHole = 4;
    private const int ENXIO = 6;

    [DllImport("libc", SetLastError = true)]
    private static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buf);

    [DllImport("libc", SetLastError = true)]
    private static extern long lseek(int fd, long offset, int whence);

    [DllImport("libc", SetLastError = true)]
    private static extern nint llistxattr([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[]? list, nuint size);

    [DllImport("libc", SetLastError = true)]
    private static extern nint lgetxattr([MarshalAs(UnmanagedType.LPUTF8Str)] string path, [MarshalAs(UnmanagedType.LPUTF8Str)] string name, byte[]? value, nuint size);

    public static bool Supported => OperatingSystem.IsLinux();

    /// <summary>lstat: never follows a symlink.</summary>
    public static HostStat LStat(string path)
    {
        var b = new byte[256];
        if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, b) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == 2) throw new FileNotFoundException($"{path}: no such file or directory", path);
            throw new IOException($"{path}: statx failed: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        (long, uint) Ts(int off) => (BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(off)), BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(off + 8)));
        uint U32(int off) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(off));
        ulong U64(int off) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(off));
        return new HostStat(
            Mode: BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(28)),
            NLink: U32(16), Uid: U32(20), Gid: U32(24), Ino: U64(32),
            Dev: ((ulong)U32(136) << 32) | U32(140),
            Size: U64(40),
            Atime: Ts(64), Ctime: Ts(96), Mtime: Ts(112),
            RdevMajor: U32(128), RdevMinor: U32(132));
    }

    /// <summary>The data ranges of an open file (SEEK_DATA/SEEK_HOLE); the whole file when the host cannot tell.</summary>
    public static List<(long Start, long End)> DataRanges(SafeFileHandle handle, long size)
    {
        var list = new List<(long, long)>();
        if (size == 0) return list;
        int fd = (int)handle.DangerousGetHandle();
        long pos = 0;
        while (pos < size)
        {
            long data = lseek(fd, pos, SeekData);
            if (data < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == ENXIO) break; // only a hole is left
                return new List<(long, long)> { (0, size) };
            }
            if (data >= size) break;
            long hole = lseek(fd, data, SeekHole);
            if (hole < 0) return new List<(long, long)> { (0, size) };
            hole = Math.Min(hole, size);
            list.Add((data, hole));
            pos = hole;
        }
        return list;
    }

    /// <summary>The extended attributes of a path (not following a symlink); empty when the host file system has none.</summary>
    public static List<(string Name, byte[] Value)> XattrsOf(string path)
    {
        var result = new List<(string, byte[])>();
        nint n = llistxattr(path, null, 0);
        if (n <= 0) return result;
        var names = new byte[n];
        n = llistxattr(path, names, (nuint)names.Length);
        if (n <= 0) return result;
        foreach (var name in Encoding.UTF8.GetString(names, 0, (int)n).Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            nint len = lgetxattr(path, name, null, 0);
            if (len < 0) continue; // gone meanwhile, or not readable
            var value = new byte[len];
            if (len > 0 && lgetxattr(path, name, value, (nuint)value.Length) != len) continue;
            result.Add((name, value));
        }
        return result;
    }
}
