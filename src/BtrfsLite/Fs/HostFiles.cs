using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace BtrfsLite.Fs;

/// <summary>What <c>statx(2)</c> says about a host path (never following a final symlink).</summary>
internal readonly record struct HostStat(
    uint Mode, uint NLink, uint Uid, uint Gid, ulong Ino, ulong Size, ulong Blocks,
    long AtimeSec, uint AtimeNsec, long MtimeSec, uint MtimeNsec, long CtimeSec, uint CtimeNsec,
    uint RdevMajor, uint RdevMinor, uint DevMajor, uint DevMinor)
{
    public const uint SIfMt = 0xF000, SIfDir = 0x4000, SIfReg = 0x8000, SIfLnk = 0xA000, SIfSock = 0xC000;
    public uint Type => Mode & SIfMt;
    public bool IsDir => Type == SIfDir;
    public bool IsReg => Type == SIfReg;
    public bool IsSymlink => Type == SIfLnk;
    public bool IsSocket => Type == SIfSock;
    /// <summary>The device a host inode lives on and its number: what makes two names one hard-linked file.</summary>
    public (ulong Dev, ulong Ino) Identity => (((ulong)DevMajor << 32) | DevMinor, Ino);
    /// <summary>The kernel's dev_t (MKDEV: major &lt;&lt; 20 | minor), which is what btrfs keeps in an inode's rdev.</summary>
    public ulong KernelRdev => ((ulong)RdevMajor << 20) | RdevMinor;
}

/// <summary>
/// The few Linux calls <see cref="HostTreeImporter"/> needs that .NET does not expose: <c>statx</c> (inode number, link count, owner,
/// device numbers, nanosecond times; a stable struct layout on every architecture, glibc ≥ 2.28, unlike
/// <c>struct stat</c>), <c>open</c> with O_NOFOLLOW|O_NOATIME, <c>lseek</c> SEEK_DATA/SEEK_HOLE, <c>readlink</c>
/// (the target's raw bytes), <c>llistxattr</c>/<c>lgetxattr</c>. Linux only.
/// </summary>
internal static class HostFiles
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7FF;
    private const int ORdOnly = 0, ONoFollow = 0x20000, ONoAtime = 0x40000, OCloExec = 0x80000;
    private const int SeekData = 3, SeekHole = 4;
    private const int ENOENT = 2, EPERM = 1, ENXIO = 6, ERANGE = 34, ENOTSUP = 95, ENODATA = 61;

    [DllImport("libc", SetLastError = true)]
    private static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buf);

    [DllImport("libc", SetLastError = true, EntryPoint = "open")]
    private static extern int open_(byte[] path, int flags, int mode);

    [DllImport("libc", SetLastError = true)]
    private static extern long lseek(SafeFileHandle fd, long offset, int whence);

    [DllImport("libc", SetLastError = true)]
    private static extern nint readlink([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buf, nint size);

    [DllImport("libc", SetLastError = true)]
    private static extern nint llistxattr([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[]? list, nint size);

    [DllImport("libc", SetLastError = true)]
    private static extern nint lgetxattr([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] name, byte[]? value, nint size);

    private static IOException Error(string what, string path, int errno) =>
        new($"{what} '{path}': {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");

    private static readonly ThreadLocal<byte[]> StatxBuf = new(() => new byte[256]);

    public static HostStat Lstat(string path)
    {
        var b = StatxBuf.Value!;
        if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, b) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            // Its own type: an entry removed while a tree is walked is skipped, not an error.
            if (errno == ENOENT) throw new FileNotFoundException($"{path}: no such file or directory", path);
            throw Error("statx", path, errno);
        }
        static uint U32(byte[] b, int o) => BitConverter.ToUInt32(b, o);
        static ulong U64(byte[] b, int o) => BitConverter.ToUInt64(b, o);
        static long S64(byte[] b, int o) => BitConverter.ToInt64(b, o);
        // struct statx: nlink@16 uid@20 gid@24 mode(u16)@28 ino@32 size@40 blocks@48; timestamps {s64 sec; u32 nsec; s32}
        // atime@64 btime@80 ctime@96 mtime@112; rdev_major@128 rdev_minor@132 dev_major@136 dev_minor@140.
        return new HostStat(
            Mode: BitConverter.ToUInt16(b, 28), NLink: U32(b, 16), Uid: U32(b, 20), Gid: U32(b, 24),
            Ino: U64(b, 32), Size: U64(b, 40), Blocks: U64(b, 48),
            AtimeSec: S64(b, 64), AtimeNsec: U32(b, 72), MtimeSec: S64(b, 112), MtimeNsec: U32(b, 120),
            CtimeSec: S64(b, 96), CtimeNsec: U32(b, 104),
            RdevMajor: U32(b, 128), RdevMinor: U32(b, 132), DevMajor: U32(b, 136), DevMinor: U32(b, 140));
    }

    /// <summary>
    /// Opens a regular file for reading without following a symlink (a file replaced by a link meanwhile is an
    /// error, never a way out of the tree) and, when allowed (owner or root), without touching its atime.
    /// </summary>
    public static SafeFileHandle OpenRead(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        int fd = open_(bytes, ORdOnly | ONoFollow | OCloExec | ONoAtime, 0);
        if (fd < 0 && Marshal.GetLastPInvokeError() == EPERM) fd = open_(bytes, ORdOnly | ONoFollow | OCloExec, 0);
        if (fd < 0) throw Error("open", path, Marshal.GetLastPInvokeError());
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>
    /// The data ranges of an open file in [0, size) by SEEK_DATA/SEEK_HOLE: holes are what the host file system
    /// reports as unallocated. A file system without hole reporting returns the whole file as one range.
    /// </summary>
    public static List<(long Start, long End)> DataRanges(SafeFileHandle fd, long size)
    {
        var list = new List<(long, long)>();
        long pos = 0;
        while (pos < size)
        {
            long d = lseek(fd, pos, SeekData);
            if (d < 0)
            {
                int e = Marshal.GetLastPInvokeError();
                if (e == ENXIO) break; // no data past pos: the rest is a hole
                if (e is 22 /* EINVAL */ or ENOTSUP) { list.Add((pos, size)); break; } // no SEEK_DATA support
                throw new IOException($"lseek(SEEK_DATA): errno {e}");
            }
            if (d >= size) break;
            long h = lseek(fd, d, SeekHole);
            if (h < 0) throw new IOException($"lseek(SEEK_HOLE): errno {Marshal.GetLastPInvokeError()}");
            h = Math.Min(h, size);
            list.Add((d, h));
            pos = h;
        }
        return list;
    }

    /// <summary>A symlink's target exactly as stored (bytes, not decoded).</summary>
    public static byte[] ReadLink(string path)
    {
        var buf = new byte[4096];
        nint n = readlink(path, buf, buf.Length);
        if (n < 0) throw Error("readlink", path, Marshal.GetLastPInvokeError());
        return buf.AsSpan(0, (int)n).ToArray();
    }

    /// <summary>Every extended attribute of a path (not following a final symlink), sorted by name; none when unsupported.</summary>
    public static List<(byte[] Name, byte[] Value)> Xattrs(string path, ref byte[] scratch)
    {
        var result = new List<(byte[], byte[])>();
        nint n;
        while (true)
        {
            n = llistxattr(path, scratch, scratch.Length);
            if (n >= 0) break;
            int e = Marshal.GetLastPInvokeError();
            if (e == ERANGE) { scratch = new byte[Math.Max(scratch.Length * 2, (int)llistxattr(path, null, 0))]; continue; }
            if (e is ENOTSUP or ENOENT) return result;
            throw Error("llistxattr", path, e);
        }
        if (n == 0) return result;
        var names = new List<byte[]>();
        int start = 0;
        for (int i = 0; i < n; i++)
            if (scratch[i] == 0) { if (i > start) names.Add(scratch.AsSpan(start, i - start).ToArray()); start = i + 1; }
        names.Sort((a, b) => a.AsSpan().SequenceCompareTo(b));
        foreach (var name in names)
        {
            var z = new byte[name.Length + 1];
            name.CopyTo(z, 0);
            byte[] value = new byte[256];
            while (true)
            {
                nint v = lgetxattr(path, z, value, value.Length);
                if (v >= 0) { result.Add((name, value.AsSpan(0, (int)v).ToArray())); break; }
                int e = Marshal.GetLastPInvokeError();
                if (e == ERANGE) { value = new byte[Math.Max(value.Length * 4, (int)lgetxattr(path, z, null, 0))]; continue; }
                if (e == ENODATA) break; // removed meanwhile
                throw Error("lgetxattr", path, e);
            }
        }
        return result;
    }
}
