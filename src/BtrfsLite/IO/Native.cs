using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace BtrfsLite.IO;

/// <summary>
/// The few Linux calls the device layer needs that .NET does not expose: statx (file type, device and inode
/// numbers, with one layout on every architecture), open(O_EXCL) of a block device, and open file description locks.
/// </summary>
internal static class Native
{
    public const int ENOENT = 2, EINTR = 4, EAGAIN = 11, EACCES = 13, EBUSY = 16, EINVAL = 22, ENOLCK = 37, EOPNOTSUPP = 95;
    private const int AtFdCwd = -100, AtEmptyPath = 0x1000, StatxBasicStats = 0x7ff;
    private const int ORdOnly = 0, ORdWr = 2, OExcl = 0x80, OCloexec = 0x80000;
    private const int FOfdGetlk = 36, FOfdSetlk = 37, FOfdSetlkw = 38;
    public const short FRdlck = 0, FWrlck = 1;
    public const uint SIfmt = 0xF000, SIfblk = 0x6000, SIfreg = 0x8000, SIfdir = 0x4000;

    /// <summary>What statx tells about one file: its type, the device holding it, its inode, and for a device node its number.</summary>
    public readonly record struct FileId(uint Mode, uint DevMajor, uint DevMinor, ulong Ino, uint RdevMajor, uint RdevMinor, ulong Size)
    {
        public bool IsBlockDevice => (Mode & SIfmt) == SIfblk;
        public bool IsRegular => (Mode & SIfmt) == SIfreg;
        public bool IsDirectory => (Mode & SIfmt) == SIfdir;
        public bool SameFile(FileId o) => DevMajor == o.DevMajor && DevMinor == o.DevMinor && Ino == o.Ino;
        public string Rdev => $"{RdevMajor}:{RdevMinor}";
    }

    [DllImport("libc", EntryPoint = "statx", SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false)]
    private static extern int StatxPath(int dirfd, string path, int flags, uint mask, byte[] buf);

    [DllImport("libc", EntryPoint = "statx", SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false)]
    private static extern int StatxFd(SafeFileHandle fd, string empty, int flags, uint mask, byte[] buf);

    [DllImport("libc", EntryPoint = "open", SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false)]
    private static extern int Open(string path, int flags, int mode);

    [DllImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static extern int Fcntl(SafeFileHandle fd, int cmd, ref Flock lk);

    // struct flock on 64-bit Linux (x86-64 and arm64): l_type, l_whence, padding, l_start, l_len, l_pid, padding.
    [StructLayout(LayoutKind.Sequential)]
    private struct Flock
    {
        public short Type;
        public short Whence;
        public long Start;
        public long Len;
        public int Pid;
    }

    public static bool Available => OperatingSystem.IsLinux() && IntPtr.Size == 8;

    /// <summary>statx of a path (symlinks followed); null when it does not exist or statx is unavailable.</summary>
    public static FileId? Stat(string path)
    {
        if (!Available) return null;
        var b = new byte[256];
        try
        {
            if (StatxPath(AtFdCwd, path, 0, StatxBasicStats, b) != 0) return null;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException) { return null; }
        return Decode(b);
    }

    /// <summary>statx of an open handle.</summary>
    public static FileId? Stat(SafeFileHandle fd)
    {
        if (!Available) return null;
        var b = new byte[256];
        try
        {
            if (StatxFd(fd, "", AtEmptyPath, StatxBasicStats, b) != 0) return null;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException) { return null; }
        return Decode(b);
    }

    // struct statx: stx_mode u16 @28, stx_ino u64 @32, stx_size u64 @40, stx_rdev_major/minor u32 @128/@132,
    // stx_dev_major/minor u32 @136/@140 (the same on every architecture).
    private static FileId Decode(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt16LittleEndian(b[28..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[136..]), BinaryPrimitives.ReadUInt32LittleEndian(b[140..]),
        BinaryPrimitives.ReadUInt64LittleEndian(b[32..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[128..]), BinaryPrimitives.ReadUInt32LittleEndian(b[132..]),
        BinaryPrimitives.ReadUInt64LittleEndian(b[40..]));

    /// <summary>
    /// open(2) with O_EXCL for a block device: the kernel refuses (EBUSY) while a mounted file system or another
    /// exclusive opener holds it, as btrfs-progs relies on. Returns the errno on failure.
    /// </summary>
    public static SafeFileHandle? OpenExclusive(string path, bool writable, out int errno)
    {
        int fd = Open(path, (writable ? ORdWr : ORdOnly) | OExcl | OCloexec, 0);
        errno = fd < 0 ? Marshal.GetLastWin32Error() : 0;
        return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>
    /// Takes an open file description lock on the whole file (F_OFD_SETLK, or F_OFD_SETLKW to wait): shared for
    /// readers, exclusive for a writer. It belongs to this handle and goes with it. Returns 0 or the errno.
    /// </summary>
    public static int Lock(SafeFileHandle fd, bool exclusive, bool wait)
    {
        var lk = new Flock { Type = exclusive ? FWrlck : FRdlck, Whence = 0, Start = 0, Len = 0, Pid = 0 };
        while (true)
        {
            if (Fcntl(fd, wait ? FOfdSetlkw : FOfdSetlk, ref lk) == 0) return 0;
            int e = Marshal.GetLastWin32Error();
            if (e != EINTR) return e;
        }
    }

    /// <summary>The pid of a process holding a conflicting lock, when the kernel can tell (-1 for OFD locks, 0: none).</summary>
    public static int ConflictingLockPid(SafeFileHandle fd, bool exclusive)
    {
        var lk = new Flock { Type = exclusive ? FWrlck : FRdlck };
        return Fcntl(fd, FOfdGetlk, ref lk) == 0 && lk.Type != 2 ? lk.Pid : 0;
    }
}
