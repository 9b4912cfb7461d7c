using System.Text;
using BtrfsLite.Format;
using BtrfsLite.Transactions;

namespace BtrfsLite.Fs;

/// <summary>How <see cref="HostTreeImporter"/> runs.</summary>
public sealed record HostImportOptions
{
    /// <summary>Commit after this many imported entries (bounds the dirty metadata held in memory).</summary>
    public int BatchEntries { get; init; } = 20_000;
    /// <summary>Commit after this many bytes of file data. Data never waits for the commit in memory (see
    /// <see cref="Transaction.DataBufferLimit"/>); what grows is only its csum items, ~1 KiB per MiB, so this is large:
    /// commits flush, and a flush mid-import stalls the reads.</summary>
    public long BatchBytes { get; init; } = 4L << 30;
    /// <summary>File data goes to the device as it is read (<see cref="Transaction.DataBufferLimit"/> 0): for a new
    /// image, where a failed import leaves no file system to keep. Otherwise a transaction holds up to its limit.</summary>
    public bool WriteThrough { get; init; }
    /// <summary>
    /// Host times that differ between two imports of the same tree are replaced: ctime is the file system's clock (a
    /// host ctime cannot be set, so every extraction of the tree would differ) and atime is mtime (listing a directory
    /// may move its host atime).
    /// </summary>
    public bool Deterministic { get; init; }
    /// <summary>Sockets are left out (a note names each) instead of becoming socket nodes.</summary>
    public bool SkipSockets { get; init; }
    /// <summary>Called after every imported entry and every buffer of file data (cheap: the caller throttles rendering).</summary>
    public Action<HostImportProgress>? Progress { get; init; }
    /// <summary>Totals for <see cref="HostImportProgress"/> (from <see cref="HostTreeImporter.Scan"/>), if known.</summary>
    public HostTreeScan? Totals { get; init; }
}

/// <summary>Entries and file bytes imported so far, and the totals when a scan gave them (else 0).</summary>
/// <param name="Entries">Entries (names) imported so far.</param>
/// <param name="Bytes">File data bytes read from the host so far.</param>
/// <param name="TotalEntries">Entries the scan counted (0 without a scan).</param>
/// <param name="TotalBytes">Data bytes the scan counted (0 without a scan).</param>
public readonly record struct HostImportProgress(long Entries, long Bytes, long TotalEntries, long TotalBytes);

/// <summary>
/// What a host path holds, as far as sizing an image for it goes (one pass of lstat/listxattr, no data read). The path
/// itself is not among <see cref="Entries"/> (it is the import's target directory, or one more name) but is among
/// <see cref="Inodes"/>; sockets are counted apart, hard links once; data bytes are what will be stored (sector
/// rounded, sparse files by SEEK_DATA).
/// </summary>
/// <param name="Entries">Names below the path, sockets excluded.</param>
/// <param name="Inodes">Inodes, the path itself included and hard links counted once.</param>
/// <param name="Directories">Directories below the path.</param>
/// <param name="RegularFiles">Regular files.</param>
/// <param name="InlineFiles">Regular files small enough to be stored inline.</param>
/// <param name="Symlinks">Symbolic links.</param>
/// <param name="Specials">Fifos and device nodes.</param>
/// <param name="Sockets">Sockets (not among the entries).</param>
/// <param name="DataBytes">Bytes of file data to store, sector rounded, holes of sparse files excluded.</param>
/// <param name="DataExtents">Data extents the files need (at most 128 MiB each).</param>
/// <param name="MetadataItemBytes">An estimate of the bytes of tree items (headers and payloads) the import
/// adds.</param>
public sealed record HostTreeScan(
    long Entries, long Inodes, long Directories, long RegularFiles, long InlineFiles, long Symlinks, long Specials,
    long Sockets, long DataBytes, long DataExtents, long MetadataItemBytes);

/// <summary>
/// What an import did. <see cref="DataBytes"/> counts file bytes read from the host (holes excluded),
/// <see cref="StoredBytes"/> what they take in the image (sectors, inline bytes).
/// </summary>
/// <param name="Entries">Names imported.</param>
/// <param name="Inodes">Inodes created.</param>
/// <param name="Directories">Directories imported.</param>
/// <param name="RegularFiles">Regular files imported.</param>
/// <param name="InlineFiles">Files stored inline.</param>
/// <param name="Symlinks">Symbolic links imported.</param>
/// <param name="HardLinks">Extra names of an inode already imported.</param>
/// <param name="Specials">Fifos, sockets and device nodes imported.</param>
/// <param name="DataBytes">File bytes read from the host (holes excluded).</param>
/// <param name="StoredBytes">Bytes the file data takes in the image (whole sectors, inline bytes).</param>
/// <param name="Commits">Transactions committed.</param>
/// <param name="Notes">What was skipped or changed, one line each (an entry removed during the import, a socket left
/// out...).</param>
public sealed record HostImportResult(
    long Entries, long Inodes, long Directories, long RegularFiles, long InlineFiles, long Symlinks, long HardLinks,
    long Specials, long DataBytes, long StoredBytes, long Commits, IReadOnlyList<string> Notes);

/// <summary>
/// Copies a host file tree into an image: <see cref="ImportInto"/> (<c>mkfs --rootdir</c>: a directory's contents into
/// an existing directory, the host directory's attributes onto it) and <see cref="Copy"/> (<c>cp-in</c>, like
/// <c>cp -a</c>: a host path to a path in the image, merging into existing directories and replacing other entries).
/// </summary>
/// <remarks>
/// <para>What is kept: regular files (data streamed in extents of up to 128 MiB with crc32c csums; holes of sparse files
/// stay holes: only the ranges <c>lseek(SEEK_DATA/SEEK_HOLE)</c> reports as data are written; files of at most 2048 bytes
/// and under a sector inline), directories, symlinks (the target's bytes, never followed), hard links (names of one host
/// inode, by device and inode number, become names of one inode of the same subvolume), fifos, sockets and character/block
/// devices (rdev as the kernel's dev_t), extended attributes of every namespace the host lets us read (user., security.,
/// trusted., system.posix_acl_*), permission bits including setuid/setgid/sticky, uid/gid, and atime/mtime/ctime with
/// nanoseconds (as mkfs.btrfs 6.2 copies st_atime/st_ctime; see <see cref="HostImportOptions.Deterministic"/>). otime is
/// the file system's clock: the inode is born in this file system.</para>
/// <para>Order: names sorted by their bytes, depth first, so inode numbers, directory indexes and the data layout depend
/// only on the tree: two deterministic imports of the same tree into the same image give identical bytes. Symlinks are
/// never followed (lstat, O_NOFOLLOW); an entry removed while the tree is walked is skipped with a note. Mount points
/// inside the tree are crossed.</para>
/// <para>Transactions: one per <see cref="HostImportOptions.BatchEntries"/> entries or
/// <see cref="HostImportOptions.BatchBytes"/> of data, so dirty metadata stays bounded; file data is read through one
/// 64 KiB buffer, never held whole. After a failure <see cref="Commits"/> says how many batches stay committed; the
/// failed one changed nothing.</para>
/// <para>Linux only (statx, xattrs, SEEK_DATA).</para>
/// </remarks>
public sealed class HostTreeImporter
{
    // Small, and below the large object heap's 85,000 bytes: it is most of the import's own memory, and larger
    // reads gained nothing measurable (bench/README.md).
    private const int BufferSize = 64 << 10;
    private readonly Filesystem _fs;
    private readonly HostImportOptions _o;
    private readonly Dictionary<(ulong, ulong), FsLocation> _links = new();
    private readonly Dictionary<ulong, FsTree> _trees = new();
    private readonly byte[] _buffer = new byte[BufferSize];
    private byte[] _xattrScratch = new byte[4096];
    private readonly List<string> _notes = new();
    private Transaction? _tx;
    private long _sinceCommitEntries, _sinceCommitBytes;
    private long _entries, _inodes, _dirs, _files, _inline, _symlinks, _hardlinks, _specials, _bytes, _stored, _commits;

    /// <summary>An importer into <paramref name="fs"/> (a handle opened for changes).</summary>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    public HostTreeImporter(Filesystem fs, HostImportOptions? options = null)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("importing a host tree needs Linux (statx, xattrs, SEEK_DATA)");
        _fs = fs;
        _o = options ?? new HostImportOptions();
    }

    /// <summary>Transactions committed so far (after a failure: the batches that stay in the image).</summary>
    public long Commits => _commits;

    /// <summary>What was imported so far.</summary>
    public HostImportResult Result => new(_entries, _inodes, _dirs, _files, _inline, _symlinks, _hardlinks, _specials, _bytes, _stored, _commits, _notes.ToList());

    /// <summary>
    /// Imports the contents of <paramref name="hostDir"/> into the directory <paramref name="dir"/> (names there are
    /// merged or replaced as <see cref="Copy"/> does), then gives it <paramref name="hostDir"/>'s attributes and xattrs.
    /// <paramref name="hostDir"/> may be given through a symlink.
    /// </summary>
    public HostImportResult ImportInto(string hostDir, FsLocation dir)
    {
        var full = Path.GetFullPath(hostDir);
        var real = new DirectoryInfo(full).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? full;
        var st = HostFiles.Lstat(real);
        if (!st.IsDir) throw new ArgumentException($"'{hostDir}' is not a directory");
        Run(() =>
        {
            FsTree.RefuseStub(dir.Ino, "EPERM");
            ImportChildren(real, dir, dirIsNew: false);
            SetAttributes(dir, real, st, 0, 0);
            Report();
        });
        return Result;
    }

    /// <summary>
    /// Copies <paramref name="hostPath"/> (a file, directory or symlink, never followed) to <paramref name="imagePath"/>,
    /// like <c>cp -a</c>: when that is an existing directory the copy goes inside it (imagePath/basename). Existing
    /// directories are merged, other existing entries replaced; a directory is never replaced by a non-directory (EISDIR).
    /// </summary>
    public HostImportResult Copy(string hostPath, string imagePath)
    {
        var top = HostFiles.Lstat(hostPath); // a missing host path fails before a transaction starts
        Run(() =>
        {
            var (dir, name) = Destination(hostPath, imagePath);
            CopyEntry(hostPath, top, dir, name, dirIsNew: false);
        });
        return Result;
    }

    private void Run(Action work)
    {
        try
        {
            work();
            Commit();
        }
        finally
        {
            _tx?.Dispose();
            _tx = null;
            _trees.Clear();
        }
    }

    // ------------------------------------------------------------------ transactions

    private Transaction Tx
    {
        get
        {
            if (_tx != null) return _tx;
            _tx = _fs.BeginTransaction();
            if (_o.WriteThrough) _tx.DataBufferLimit = 0;
            return _tx;
        }
    }

    /// <summary>The tree as the running transaction sees it (a commit replaces the transaction: fetch after one).</summary>
    private FsTree Tree(ulong id)
    {
        var tx = Tx;
        if (!_trees.TryGetValue(id, out var t)) _trees[id] = t = _fs.TreeOf(tx, id);
        return t;
    }

    private void Commit()
    {
        if (_tx == null) return;
        _tx.Commit();
        _tx.Dispose();
        _tx = null;
        _trees.Clear();
        _commits++;
        _sinceCommitEntries = _sinceCommitBytes = 0;
    }

    /// <summary>After each entry: report, and commit when the batch is full.</summary>
    private void Counted(long data)
    {
        _entries++;
        _sinceCommitEntries++;
        _sinceCommitBytes += data;
        Report();
        if (_sinceCommitEntries >= _o.BatchEntries || _sinceCommitBytes >= _o.BatchBytes) Commit();
    }

    private void Report()
    {
        if (_o.Progress is { } p)
            p(new HostImportProgress(_entries, _bytes, _o.Totals?.Entries ?? 0, _o.Totals?.DataBytes ?? 0));
    }

    // ------------------------------------------------------------------ walk

    /// <summary>The directory and name the copy of HOSTPATH gets: inside IMAGEPATH when that is a directory.</summary>
    private (FsLocation Dir, byte[] Name) Destination(string hostPath, string imagePath)
    {
        try
        {
            var loc = _fs.Resolve(Tx, imagePath);
            if (Tree(loc.Tree).ReadInode(loc.Ino).IsDir)
            {
                var baseName = Path.GetFileName(Path.TrimEndingDirectorySeparator(hostPath));
                if (baseName.Length == 0 || baseName is "." or "..")
                    throw new FsException("EINVAL", $"'{hostPath}' has no name to copy into '{imagePath}'; name the destination instead");
                return (loc, Encoding.UTF8.GetBytes(baseName));
            }
        }
        catch (FsException ex) when (ex.Errno == "ENOENT") { }
        return _fs.ResolveParent(Tx, imagePath);
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

    /// <summary>
    /// Imports every entry of host directory <paramref name="hostDir"/> into directory <paramref name="dir"/>.
    /// </summary>
    /// <param name="hostDir">The host directory whose entries are imported.</param>
    /// <param name="dir">The directory of the image they go into.</param>
    /// <param name="dirIsNew">The directory was created by this import: no name there can exist yet.</param>
    private void ImportChildren(string hostDir, FsLocation dir, bool dirIsNew)
    {
        foreach (var (name, path) in SortedEntries(hostDir))
        {
            HostStat st;
            try { st = HostFiles.Lstat(path); }
            catch (FileNotFoundException)
            {
                _notes.Add($"'{path}' was removed during the import");
                continue;
            }
            CopyEntry(path, st, dir, name, dirIsNew);
        }
    }

    private void CopyEntry(string hostPath, in HostStat st, FsLocation dir, byte[] name, bool dirIsNew)
    {
        if (st.IsSocket && _o.SkipSockets)
        {
            _notes.Add($"skipped socket '{hostPath}'");
            return;
        }
        var t = Tree(dir.Tree);
        FsLocation? existing = null;
        if (!dirIsNew && t.TryLookup(dir.Ino, name, out var entry, out var type))
        {
            if (type == DirEntryType.Dir && !st.IsDir)
                throw new FsException("EISDIR", $"cannot overwrite directory '{Encoding.UTF8.GetString(name)}' with non-directory '{hostPath}'");
            if (type == DirEntryType.Dir) existing = Filesystem.Enter(t, dir, name, entry);
            else t.Unlink(dir.Ino, name); // like cp --remove-destination
        }

        if (st.IsDir)
        {
            var here = existing ?? NewInode(t, dir, name, st);
            _dirs++;
            Counted(0);
            ImportChildren(hostPath, here, dirIsNew: existing == null);
            // After the children (they changed its mtime): the directory's own attributes.
            SetAttributes(here, hostPath, st, 0, 0);
            return;
        }

        if (st.NLink > 1 && _links.TryGetValue(st.Identity, out var first) && first.Tree == dir.Tree)
        {
            t.Link(dir.Ino, name, first.Ino, InodeItem.TypeFromMode(st.Mode));
            var ctime = CtimeOf(t, st);
            t.EditInode(first.Ino, i => i.Ctime = ctime);
            _hardlinks++;
            Counted(0);
            return;
        }

        var loc = NewInode(t, dir, name, st);
        if (st.NLink > 1) _links[st.Identity] = loc;
        ulong size = 0, nbytes = 0;
        long read = 0;
        if (st.IsReg)
        {
            _files++;
            long before = _bytes;
            (size, nbytes) = ImportFile(t, loc.Ino, hostPath, st);
            read = _bytes - before;
            _stored += (long)nbytes;
        }
        else if (st.IsSymlink)
        {
            _symlinks++;
            var target = HostFiles.ReadLink(hostPath);
            if (target.Length == 0) throw new IOException($"symlink '{hostPath}' has an empty target");
            int max = Math.Min(FsTree.MaxInline * 2, _fs.Image.SectorSize) - 1;
            if (target.Length > max)
                throw new IOException($"symlink '{hostPath}': target of {target.Length} bytes is longer than btrfs allows ({max})");
            t.WriteInline(loc.Ino, target);
            size = nbytes = (ulong)target.Length;
        }
        else _specials++;
        SetAttributes(loc, hostPath, st, size, nbytes);
        Counted(read);
    }

    private FsLocation NewInode(FsTree t, FsLocation dir, byte[] name, in HostStat st)
    {
        FsTree.RefuseStub(dir.Ino, st.IsReg ? "EACCES" : "EPERM");
        ulong rdev = st.IsReg || st.IsDir || st.IsSymlink ? 0 : st.KernelRdev;
        ulong ino = t.CreateInode(st.Mode, st.Uid, st.Gid, rdev);
        t.Link(dir.Ino, name, ino, InodeItem.TypeFromMode(st.Mode));
        _inodes++;
        return new FsLocation(dir.Tree, ino);
    }

    private (ulong Size, ulong NBytes) ImportFile(FsTree t, ulong ino, string path, in HostStat st)
    {
        ulong size = st.Size;
        if (size == 0) return (0, 0);
        using var fd = HostFiles.OpenRead(path);
        var ranges = HostFiles.DataRanges(fd, (long)size);
        if (ranges.Count == 0) return (size, 0); // all hole
        ulong sector = (ulong)_fs.Image.SectorSize;
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
            _bytes += got;
            Report();
            return (size, size);
        }
        ulong nbytes = 0;
        ulong alignedSize = (size + sector - 1) / sector * sector;
        ulong prevEnd = 0;
        FsTree.DataSource read = (span, off) =>
        {
            int n = RandomAccess.Read(fd, span, (long)off);
            if (n > 0) { _bytes += n; Report(); }
            return n;
        };
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
        return (size, nbytes);
    }

    private Timespec CtimeOf(FsTree t, in HostStat st) => _o.Deterministic ? t.Clock() : new Timespec(st.CtimeSec, st.CtimeNsec);

    /// <summary>Xattrs, then the final inode fields (after every change that moves times).</summary>
    private void SetAttributes(FsLocation loc, string path, in HostStat st, ulong size, ulong nbytes)
    {
        var t = Tree(loc.Tree);
        foreach (var (name, value) in HostFiles.Xattrs(path, ref _xattrScratch))
        {
            try { t.SetXattr(loc.Ino, name, value); }
            catch (FsException ex) { throw new IOException($"'{path}': xattr {Encoding.UTF8.GetString(name)} ({value.Length} bytes) cannot be stored: {ex.Message}"); }
        }
        var mtime = new Timespec(st.MtimeSec, st.MtimeNsec);
        var atime = _o.Deterministic ? mtime : new Timespec(st.AtimeSec, st.AtimeNsec);
        var ctime = CtimeOf(t, st);
        uint mode = st.Mode, uid = st.Uid, gid = st.Gid;
        bool file = !st.IsDir;
        t.EditInode(loc.Ino, i =>
        {
            i.Mode = mode; i.Uid = uid; i.Gid = gid;
            if (file) { i.FileSize = size; i.NBytes = nbytes; }
            i.Atime = atime; i.Mtime = mtime; i.Ctime = ctime;
        });
    }

    // ------------------------------------------------------------------ sizing

    /// <summary>
    /// One pass over <paramref name="hostPath"/> without reading data (a symlink is one entry, never followed): entry
    /// and inode counts (hard links once), data bytes as they will be stored (sector rounded; sparse files by
    /// SEEK_DATA), and the bytes of the metadata items an import writes.
    /// </summary>
    public static HostTreeScan Scan(string hostPath, int sectorSize = 4096)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("scanning a host tree needs Linux (statx, xattrs, SEEK_DATA)");
        var seen = new HashSet<(ulong, ulong)>();
        long entries = 0, inodes = 1, dirs = 0, files = 0, inl = 0, links = 0, specials = 0, sockets = 0, data = 0, extents = 0, meta = 0;
        byte[] scratch = new byte[4096];
        ulong sector = (ulong)sectorSize;
        const int Item = ItemHeader.Size;
        var top = HostFiles.Lstat(hostPath);
        meta += XattrBytes(hostPath, ref scratch);
        var stack = new Stack<string>();
        if (top.IsDir) stack.Push(hostPath);
        else Count(hostPath, top);
        while (stack.Count > 0)
        {
            var d = stack.Pop();
            foreach (var path in Directory.EnumerateFileSystemEntries(d))
            {
                HostStat st;
                try { st = HostFiles.Lstat(path); }
                catch (FileNotFoundException) { continue; }
                if (st.IsSocket) { sockets++; continue; }
                entries++;
                int nameLen = Encoding.UTF8.GetByteCount(Path.GetFileName(path));
                // DIR_ITEM + DIR_INDEX + INODE_REF
                meta += 2 * (Item + DirEntry.HeaderSize + nameLen) + Item + InodeRefEntry.HeaderSize + nameLen;
                if (!st.IsDir && st.NLink > 1 && !seen.Add(st.Identity)) continue;
                inodes++;
                meta += Item + InodeItem.Size + XattrBytes(path, ref scratch);
                if (st.IsDir) { dirs++; stack.Push(path); continue; }
                Count(path, st);
            }
        }
        return new HostTreeScan(entries, inodes, dirs, files, inl, links, specials, sockets, data, extents, meta);

        // A non-directory inode's data and extent items.
        void Count(string path, in HostStat st)
        {
            if (st.IsSymlink) { links++; meta += Item + FileExtentItem.HeaderSize + (long)st.Size; return; }
            if (st.IsSocket) { sockets++; return; }
            if (!st.IsReg) { specials++; return; }
            files++;
            if (st.Size == 0) return;
            if (st.Size <= FsTree.MaxInline && st.Size < sector) { inl++; meta += Item + FileExtentItem.HeaderSize + (long)st.Size; return; }
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

    private static long XattrBytes(string path, ref byte[] scratch)
    {
        long n = 0;
        foreach (var (name, value) in HostFiles.Xattrs(path, ref scratch)) n += ItemHeader.Size + DirEntry.HeaderSize + name.Length + value.Length;
        return n;
    }
}
