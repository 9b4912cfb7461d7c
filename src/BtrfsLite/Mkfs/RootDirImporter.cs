using System.Text;
using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.IO;
using BtrfsLite.Images;
using BtrfsLite.Transactions;

namespace BtrfsLite.Mkfs;

/// <summary>How <see cref="RootDirImporter"/> runs.</summary>
public sealed record RootDirOptions
{
    /// <summary>Commit after this many imported inodes (bounds the dirty metadata held in memory).</summary>
    public int BatchInodes { get; init; } = 20_000;
    /// <summary>Commit after this many bytes of file data (data goes to the device at once; what grows is only its csum items, ~1 KiB per MiB, so this is large: commits flush, and a flush mid-import stalls the reads).</summary>
    public long BatchBytes { get; init; } = 4L << 30;
    /// <summary>Called after every imported entry (cheap: the caller throttles rendering).</summary>
    public Action<RootDirProgress>? Progress { get; init; }
    /// <summary>Totals for <see cref="RootDirProgress"/> (from <see cref="RootDirImporter.Scan"/>), if known.</summary>
    public RootDirScan? Totals { get; init; }
}

/// <summary>Entries and file bytes imported so far, and the totals when a scan gave them (else 0).</summary>
public readonly record struct RootDirProgress(long Entries, long Bytes, long TotalEntries, long TotalBytes);

/// <summary>What a directory tree holds, as far as sizing an image for it goes (one pass of lstat/listxattr, no data read).</summary>
public sealed record RootDirScan(
    long Entries, long Inodes, long Directories, long RegularFiles, long InlineFiles, long Symlinks, long Specials,
    long SkippedSockets, long DataBytes, long DataExtents, long MetadataItemBytes);

/// <summary>What <see cref="RootDirImporter.Import"/> did.</summary>
public sealed record RootDirResult(
    long Entries, long Inodes, long Directories, long RegularFiles, long InlineFiles, long Symlinks, long HardLinks,
    long Specials, long DataBytes, long Commits, IReadOnlyList<string> Notes);

/// <summary>
/// <c>mkfs --rootdir</c>: copies a host directory tree into a freshly built image, in the top-level subvolume.
/// </summary>
/// <remarks>
/// <para>What is kept: regular files (data streamed in extents of up to 128 MiB with crc32c csums; holes of sparse files
/// stay holes: only the ranges <c>lseek(SEEK_DATA/SEEK_HOLE)</c> reports as data are written; files of at most 2048 bytes
/// (and under a sector) inline), directories, symlinks (the target's bytes, never followed), hard links (names of one host
/// inode, by device and inode number, become names of one btrfs inode; nlink counts the names inside DIR), fifos and
/// character/block devices (rdev as the kernel's dev_t), extended attributes of every namespace the host lets us read
/// (user., security., trusted., system.posix_acl_*), permission bits including setuid/setgid/sticky, uid/gid, and the
/// attributes of DIR itself on the root directory (inode 256). Sockets are skipped (a note says which).</para>
/// <para>Times: mtime always from the host, with nanoseconds. Default mode: atime and ctime from the host too (mkfs.btrfs
/// 6.2 copies st_atime/st_ctime, seconds only), otime = the image clock (the inode is born in this filesystem).
/// Deterministic mode (<see cref="ImageOptions.Deterministic"/>, SOURCE_DATE_EPOCH): ctime and otime are the image
/// clock (a host ctime cannot be set, so it would make every extraction of the same tree differ), and atime = mtime
/// (listing a directory may move its host atime, so a second run would otherwise see different times).</para>
/// <para>Order: names are imported sorted by their bytes, depth first, so inode numbers, directory indexes and the
/// data layout depend only on the tree: two runs over the same tree give byte-identical images. Symlinks are never
/// followed (lstat, O_NOFOLLOW); DIR itself may be given through a link. Mount points inside DIR are crossed.</para>
/// <para>Memory: one transaction per <see cref="RootDirOptions.BatchInodes"/> inodes or
/// <see cref="RootDirOptions.BatchBytes"/> of data, so dirty metadata stays bounded; file data goes to the device
/// as it is read (never held whole).</para>
/// </remarks>
public sealed class RootDirImporter
{
    private const int BufferSize = 1 << 20;
    private readonly BtrfsImage _image;
    private readonly RootDirOptions _o;
    private readonly bool _deterministic;
    private readonly Timespec _clock;
    private readonly Dictionary<(ulong, ulong), ulong> _links = new();
    private readonly byte[] _buffer = new byte[BufferSize];
    private byte[] _xattrScratch = new byte[4096];
    private readonly List<string> _notes = new();
    private Transaction? _tx;
    private FsTree? _tree;
    private long _sinceCommitInodes, _sinceCommitBytes;
    private long _entries, _inodes, _dirs, _files, _inline, _symlinks, _hardlinks, _specials, _bytes, _commits;

    private RootDirImporter(BtrfsImage image, ImageOptions o, RootDirOptions? options)
    {
        _image = image;
        _o = options ?? new RootDirOptions();
        _deterministic = o.Deterministic;
        _clock = Timespec.FromDateTimeOffset(o.ResolveTime());
    }

    /// <summary>Builds an empty filesystem on <paramref name="dev"/> (<see cref="ImageBuilder.Create"/>) and imports <paramref name="dir"/> into it.</summary>
    public static (ImageSummary Image, RootDirResult Import) Create(IBlockDevice dev, ImageOptions o, string dir, RootDirOptions? options = null)
    {
        CheckDir(dir);
        var summary = ImageBuilder.Create(dev, o);
        using var image = BtrfsImage.Open(dev, new BtrfsImage.OpenOptions(Writable: true, CacheNodes: 1024));
        var result = Import(image, o, dir, options);
        return (summary, result);
    }

    /// <summary>Imports <paramref name="dir"/> into the top-level subvolume of a new, empty, writable image.</summary>
    public static RootDirResult Import(BtrfsImage image, ImageOptions o, string dir, RootDirOptions? options = null)
    {
        CheckDir(dir);
        var imp = new RootDirImporter(image, o, options);
        imp.Run(Path.GetFullPath(dir));
        return new RootDirResult(imp._entries, imp._inodes, imp._dirs, imp._files, imp._inline, imp._symlinks, imp._hardlinks,
            imp._specials, imp._bytes, imp._commits, imp._notes);
    }

    private static void CheckDir(string dir)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("--rootdir needs Linux (statx, xattrs, SEEK_DATA)");
        if (!Directory.Exists(dir)) throw new ArgumentException($"--rootdir '{dir}' is not a directory");
    }

    // ------------------------------------------------------------------ walk

    private FsTree Tree
    {
        get
        {
            if (_tree != null) return _tree;
            // Data goes straight to the device: a failed mkfs leaves no file system to keep, and memory stays low.
            _tx = _image.BeginTransaction();
            _tx.DataBufferLimit = 0;
            _tree = new FsTree(_tx, ObjectIds.FsTree, () => _clock);
            return _tree;
        }
    }

    private void CommitIfDue()
    {
        if (_sinceCommitInodes >= _o.BatchInodes || _sinceCommitBytes >= _o.BatchBytes) Commit();
    }

    private void Commit()
    {
        if (_tx == null) return;
        _tx.Commit();
        _tx.Dispose();
        _tx = null;
        _tree = null;
        _commits++;
        _sinceCommitInodes = _sinceCommitBytes = 0;
    }

    private void Run(string root)
    {
        try
        {
            // DIR itself: follow it if it is a link (the user named it), then its attributes go onto inode 256.
            var rootReal = new DirectoryInfo(root).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? root;
            var st = HostFiles.Lstat(rootReal);
            ImportDirectory(rootReal, FsTree.RootDirIno);
            FinishInode(FsTree.RootDirIno, rootReal, st, isRoot: true);
            Commit();
        }
        finally
        {
            _tx?.Dispose();
        }
    }

    /// <summary>Names of a directory, sorted by their UTF-8 bytes.</summary>
    private static List<(byte[] Name, string Path)> SortedEntries(string dir)
    {
        var list = new List<(byte[], string)>();
        foreach (var path in Directory.EnumerateFileSystemEntries(dir, "*", new EnumerationOptions
        {
            RecurseSubdirectories = false, AttributesToSkip = 0, IgnoreInaccessible = false, ReturnSpecialDirectories = false,
            MatchType = MatchType.Win32,
        }))
            list.Add((Encoding.UTF8.GetBytes(Path.GetFileName(path)), path));
        list.Sort((a, b) => a.Item1.AsSpan().SequenceCompareTo(b.Item1));
        return list;
    }

    private void ImportDirectory(string hostDir, ulong dirIno)
    {
        foreach (var (name, path) in SortedEntries(hostDir))
        {
            var st = HostFiles.Lstat(path);
            if (st.IsSocket)
            {
                _notes.Add($"skipped socket '{path}'");
                continue;
            }
            var t = Tree;
            _entries++;
            if (!st.IsDir && st.NLink > 1 && _links.TryGetValue(st.Identity, out ulong existing))
            {
                t.Link(dirIno, name, existing, DirEntryTypeOf(st.Mode));
                var ctime = CtimeOf(st);
                t.EditInode(existing, i => i.Ctime = ctime);
                _hardlinks++;
                Report();
                continue;
            }
            ulong ino = t.CreateInode(st.Mode, st.Uid, st.Gid, st.IsReg || st.IsDir || st.IsSymlink ? 0 : st.KernelRdev, 0, _clock);
            t.Link(dirIno, name, ino, DirEntryTypeOf(st.Mode));
            _inodes++;
            _sinceCommitInodes++;
            if (!st.IsDir && st.NLink > 1) _links[st.Identity] = ino;
            if (st.IsDir)
            {
                _dirs++;
                ImportDirectory(path, ino);
                FinishInode(ino, path, st, isRoot: false);
            }
            else
            {
                ulong size = 0, nbytes = 0;
                if (st.IsReg)
                {
                    _files++;
                    (size, nbytes) = ImportFile(t, ino, path, st);
                }
                else if (st.IsSymlink)
                {
                    _symlinks++;
                    var target = HostFiles.ReadLink(path);
                    if (target.Length == 0) throw new IOException($"symlink '{path}' has an empty target");
                    if (target.Length > FsTree.MaxInline * 2 - 1 || target.Length >= _image.SectorSize)
                        throw new IOException($"symlink '{path}': target of {target.Length} bytes is longer than btrfs allows ({Math.Min(FsTree.MaxInline * 2, _image.SectorSize) - 1})");
                    t.WriteInline(ino, target);
                    size = nbytes = (ulong)target.Length;
                }
                else _specials++;
                SetAttributes(ino, path, st, size, nbytes);
            }
            Report();
            CommitIfDue();
        }
    }

    private (ulong Size, ulong NBytes) ImportFile(FsTree t, ulong ino, string path, in HostStat st)
    {
        ulong size = st.Size;
        if (size == 0) return (0, 0);
        using var fd = HostFiles.OpenRead(path);
        var ranges = HostFiles.DataRanges(fd, (long)size);
        if (ranges.Count == 0) return (size, 0); // all hole
        ulong sector = (ulong)_image.SectorSize;
        if (size <= FsTree.MaxInline && size < sector)
        {
            var data = _buffer.AsSpan(0, (int)size);
            int got = 0;
            while (got < data.Length)
            {
                int n = RandomAccess.Read(fd, data[got..], got);
                if (n <= 0) break;
                got += n;
            }
            data[got..].Clear();
            t.WriteInline(ino, data);
            _inline++;
            _bytes += (long)size;
            return (size, size);
        }
        ulong nbytes = 0;
        ulong alignedSize = (size + sector - 1) / sector * sector;
        ulong prevEnd = 0;
        FsTree.DataSource read = (span, off) => RandomAccess.Read(fd, span, (long)off);
        foreach (var (s, e) in ranges)
        {
            // Host holes are block aligned on the host; round out to our sectors (a hole reads as zeros anyway).
            ulong a = Math.Max((ulong)s / sector * sector, prevEnd);
            ulong b = Math.Min(((ulong)e + sector - 1) / sector * sector, alignedSize);
            if (b <= a) continue;
            ulong len = Math.Min(b, size) - a;
            nbytes += t.ImportData(ino, a, len, read, _buffer);
            prevEnd = b;
        }
        _bytes += (long)nbytes;
        _sinceCommitBytes += (long)nbytes;
        return (size, nbytes);
    }

    private Timespec CtimeOf(in HostStat st) => _deterministic ? _clock : new Timespec(st.CtimeSec, st.CtimeNsec);

    /// <summary>Xattrs, then the final inode fields (after every change that moves times).</summary>
    private void SetAttributes(ulong ino, string path, in HostStat st, ulong size, ulong nbytes)
    {
        var t = Tree;
        foreach (var (name, value) in HostFiles.Xattrs(path, ref _xattrScratch))
        {
            try { t.SetXattr(ino, name, value); }
            catch (FsException ex) { throw new IOException($"'{path}': xattr {Encoding.UTF8.GetString(name)} ({value.Length} bytes) cannot be stored: {ex.Message}"); }
        }
        var mtime = new Timespec(st.MtimeSec, st.MtimeNsec);
        var atime = _deterministic ? mtime : new Timespec(st.AtimeSec, st.AtimeNsec);
        var ctime = CtimeOf(st);
        uint mode = st.Mode, uid = st.Uid, gid = st.Gid;
        bool file = !st.IsDir;
        t.EditInode(ino, i =>
        {
            i.Mode = mode; i.Uid = uid; i.Gid = gid;
            if (file) { i.FileSize = size; i.NBytes = nbytes; }
            i.Atime = atime; i.Mtime = mtime; i.Ctime = ctime;
        });
    }

    private void FinishInode(ulong ino, string path, in HostStat st, bool isRoot)
    {
        SetAttributes(ino, path, st, 0, 0);
        if (isRoot) Report();
    }

    private void Report()
    {
        if (_o.Progress is { } p)
            p(new RootDirProgress(_entries, _bytes, _o.Totals?.Entries ?? 0, _o.Totals?.DataBytes ?? 0));
    }

    private static DirEntryType DirEntryTypeOf(uint mode) => InodeItem.TypeFromMode(mode);

    // ------------------------------------------------------------------ sizing

    /// <summary>
    /// One pass over the tree without reading data: entry and inode counts (hard links once), data bytes as they will
    /// be stored (sector rounded; sparse files by SEEK_DATA), and the bytes of the metadata items the import will write.
    /// </summary>
    public static RootDirScan Scan(string dir, int sectorSize = 4096)
    {
        CheckDir(dir);
        var root = Path.GetFullPath(dir);
        root = new DirectoryInfo(root).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? root;
        var seen = new HashSet<(ulong, ulong)>();
        long entries = 0, inodes = 1, dirs = 0, files = 0, inl = 0, links = 0, specials = 0, sockets = 0, data = 0, extents = 0, meta = 0;
        byte[] scratch = new byte[4096];
        ulong sector = (ulong)sectorSize;
        const int Item = ItemHeader.Size;
        meta += XattrBytes(root, ref scratch);
        var stack = new Stack<string>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var d = stack.Pop();
            foreach (var path in Directory.EnumerateFileSystemEntries(d))
            {
                var st = HostFiles.Lstat(path);
                if (st.IsSocket) { sockets++; continue; }
                entries++;
                int nameLen = Encoding.UTF8.GetByteCount(Path.GetFileName(path));
                // DIR_ITEM + DIR_INDEX + INODE_REF
                meta += 2 * (Item + DirEntry.HeaderSize + nameLen) + Item + InodeRefEntry.HeaderSize + nameLen;
                if (!st.IsDir && st.NLink > 1 && !seen.Add(st.Identity)) continue;
                inodes++;
                meta += Item + InodeItem.Size + XattrBytes(path, ref scratch);
                if (st.IsDir) { dirs++; stack.Push(path); continue; }
                if (st.IsSymlink) { links++; meta += Item + FileExtentItem.HeaderSize + (long)st.Size; continue; }
                if (!st.IsReg) { specials++; continue; }
                files++;
                if (st.Size == 0) continue;
                if (st.Size <= FsTree.MaxInline && st.Size < sector) { inl++; meta += Item + FileExtentItem.HeaderSize + (long)st.Size; continue; }
                ulong stored = (st.Size + sector - 1) / sector * sector;
                long nExtents = (long)((stored + Transaction.MaxExtentSize - 1) / Transaction.MaxExtentSize);
                if (st.Blocks * 512 < st.Size)
                {
                    // Sparse (or compressed on the host): count what SEEK_DATA reports.
                    using var fd = HostFiles.OpenRead(path);
                    stored = 0; nExtents = 0;
                    foreach (var (s, e) in HostFiles.DataRanges(fd, (long)st.Size))
                    {
                        ulong len = ((ulong)e + sector - 1) / sector * sector - (ulong)s / sector * sector;
                        stored += len;
                        nExtents += (long)((len + Transaction.MaxExtentSize - 1) / Transaction.MaxExtentSize);
                    }
                }
                data += (long)stored;
                extents += nExtents;
                // EXTENT_DATA + extent item with one inline data ref + csum items
                meta += nExtents * (Item + FileExtentItem.Size + Item + ExtentItem.Size + 29 + Item) + (long)(stored / sector) * Checksums.CsumSize;
            }
        }
        return new RootDirScan(entries, inodes, dirs, files, inl, links, specials, sockets, data, extents, meta);
    }

    private static long XattrBytes(string path, ref byte[] scratch)
    {
        long n = 0;
        foreach (var (name, value) in HostFiles.Xattrs(path, ref scratch)) n += ItemHeader.Size + DirEntry.HeaderSize + name.Length + value.Length;
        return n;
    }

    /// <summary>
    /// The image size <c>mkfs --rootdir</c> picks when no size is given:
    /// 1 MiB (reserved) + system chunk(s) (4 MiB; DUP 2 × 8 MiB) + data (sector rounded) + 1/64 of the data and 16 MiB
    /// for chunk rounding + metadata budget (3 × the scanned item bytes, for half-full leaves and the copies a commit
    /// keeps until the next, + 32 MiB; × 2 for DUP), rounded up to a MiB, at least 128 MiB.
    /// </summary>
    public static long EstimateSize(RootDirScan scan, ImageOptions o)
    {
        const long MiB = 1L << 20;
        bool dup = o.MetadataProfile == MetadataProfile.Dup;
        long system = dup ? 16 * MiB : 4 * MiB;
        long meta = 3 * scan.MetadataItemBytes + 32 * MiB;
        if (dup) meta *= 2;
        long total = MiB + system + scan.DataBytes + scan.DataBytes / 64 + 16 * MiB + meta;
        total = (total + MiB - 1) / MiB * MiB;
        return Math.Max(total, ImageOptions.MinimumSize);
    }
}
