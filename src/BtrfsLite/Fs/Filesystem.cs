using System.Text;
using BtrfsLite.Format;
using BtrfsLite.Images;
using BtrfsLite.Transactions;

namespace BtrfsLite.Fs;

/// <summary>Options of a writable file-system handle.</summary>
public sealed record FilesystemOptions
{
    /// <summary>Timestamps for new and changed inodes (default: now; deterministic images pass a fixed time).</summary>
    public Func<DateTimeOffset>? Clock { get; init; }
    /// <summary>UUIDs for new subvolumes (default: random; deterministic images pass a seeded generator).</summary>
    public Func<Guid>? NewUuid { get; init; }
    /// <summary>Bytes of file data copied per write call when streaming (the dirty threshold of a buffered write).</summary>
    public int WriteChunk { get; init; } = 8 << 20;
}

/// <summary>Where a path leads: a subvolume tree and an inode in it.</summary>
/// <param name="Tree">The subvolume tree id.</param>
/// <param name="Ino">The inode number in that tree.</param>
public readonly record struct FsLocation(ulong Tree, ulong Ino);

/// <summary>
/// A btrfs image opened for changes, with path-based operations (paths relative to the top-level subvolume, '/'
/// separated). Every operation is one transaction: it commits or leaves the image as it was.
/// </summary>
public sealed class Filesystem : IDisposable
{
    private readonly FilesystemOptions _options;
    // The next inode number per subvolume tree while this handle is open (root->free_objectid).
    private readonly Dictionary<ulong, ulong> _freeObjectIds = new();

    /// <summary>
    /// A handle on <paramref name="image"/> (opened writable for changes, read-only for reads); disposing it disposes
    /// the image.
    /// </summary>
    public Filesystem(BtrfsImage image, FilesystemOptions? options = null)
    {
        Image = image;
        _options = options ?? new FilesystemOptions();
    }

    /// <summary>Opens an image for changes: exclusively locked, refused when mounted (<see cref="BtrfsImage.Open(string, BtrfsImage.OpenOptions?)"/>).</summary>
    /// <param name="path">The image file or block device.</param>
    /// <param name="options">Clock, UUIDs and write chunk of the handle (defaults when null).</param>
    /// <param name="wait">Wait for another program's lock instead of failing with <see cref="ImageInUseException"/>.</param>
    public static Filesystem Open(string path, FilesystemOptions? options = null, bool wait = false) =>
        new(BtrfsImage.Open(path, new BtrfsImage.OpenOptions(Writable: true, Wait: wait)), options);

    /// <summary>Opens an image read-only: reads (ReadAll, ReadTo, Stat, List, ReadLink, ListSubvolumes) only.</summary>
    /// <param name="path">The image file or block device.</param>
    /// <param name="options">Options of the handle (defaults when null); reads use only WriteChunk, as the ReadTo
    /// buffer size.</param>
    /// <param name="wait">Wait for a writer's lock instead of failing with <see cref="ImageInUseException"/>.</param>
    /// <param name="allowMounted">Read an image a mounted file system uses (its state may be inconsistent; a warning says so).</param>
    public static Filesystem OpenReadOnly(string path, FilesystemOptions? options = null, bool wait = false, bool allowMounted = false) =>
        new(BtrfsImage.Open(path, new BtrfsImage.OpenOptions(Writable: false, Wait: wait, AllowMounted: allowMounted)), options);

    /// <summary>The open image.</summary>
    public BtrfsImage Image { get; }

    private Timespec Now() => Timespec.FromDateTimeOffset(_options.Clock?.Invoke() ?? DateTimeOffset.UtcNow);
    internal Guid NewUuid() => _options.NewUuid?.Invoke() ?? Guid.NewGuid();

    /// <summary>Runs <paramref name="work"/> in one transaction and commits it; an exception aborts it.</summary>
    public T Run<T>(Func<Transaction, T> work)
    {
        using var tx = BeginTransaction();
        var result = work(tx);
        tx.Commit();
        return result;
    }

    /// <summary>A write transaction set up as <see cref="Run{T}"/> does (qgroup accounting at commit); the caller commits it.</summary>
    public Transaction BeginTransaction()
    {
        return Image.BeginTransaction(); // qgroup accounting is installed by the image
    }

    /// <summary>
    /// Runs <paramref name="work"/> in one transaction and commits it; an exception aborts it and the image stays as it
    /// was.
    /// </summary>
    public void Run(Action<Transaction> work) => Run(tx => { work(tx); return 0; });

    /// <summary>
    /// Subvolume tree <paramref name="treeId"/> as <paramref name="tx"/> sees it, stamping changed inodes with this
    /// handle's clock.
    /// </summary>
    public FsTree TreeOf(Transaction tx, ulong treeId) => new(tx, treeId, Now, _freeObjectIds);

    // ------------------------------------------------------------------ paths

    private static byte[][] Split(string path) =>
        path.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(p => p != ".").Select(Encoding.UTF8.GetBytes).ToArray();

    /// <summary>Resolves a path (no symlinks followed): the tree and inode it names.</summary>
    public FsLocation Resolve(Transaction tx, string path)
    {
        var loc = new FsLocation(ObjectIds.FsTree, FsTree.RootDirIno);
        foreach (var part in Split(path))
        {
            var t = TreeOf(tx, loc.Tree);
            if (Encoding.UTF8.GetString(part) == "..")
            {
                loc = loc.Ino == FsTree.RootDirIno ? ParentOfSubvolume(tx, loc.Tree) : new FsLocation(loc.Tree, t.ParentOf(loc.Ino));
                continue;
            }
            if (!t.ReadInode(loc.Ino).IsDir) throw new FsException("ENOTDIR", $"'{path}': a component is not a directory");
            if (!t.TryLookup(loc.Ino, part, out var l, out _)) throw new FsException("ENOENT", $"'{path}' not found");
            loc = Enter(t, loc, part, l);
        }
        return loc;
    }

    /// <summary>
    /// Where a directory entry leads: an inode of this tree, the root directory of a subvolume this tree links, or —
    /// for a subvolume it does not own (a snapshot's copy of an entry nested in its source) — the empty stub directory.
    /// </summary>
    internal static FsLocation Enter(FsTree t, FsLocation dir, ReadOnlySpan<byte> name, Key entry) =>
        entry.Type != ItemType.RootItem ? new FsLocation(dir.Tree, entry.ObjectId)
        : t.OwnsSubvolume(dir.Ino, name, entry.ObjectId) ? new FsLocation(entry.ObjectId, FsTree.RootDirIno)
        : new FsLocation(dir.Tree, FsTree.EmptySubvolDirIno);

    private static FsLocation ParentOfSubvolume(Transaction tx, ulong tree)
    {
        if (tree == ObjectIds.FsTree) return new FsLocation(tree, FsTree.RootDirIno);
        var c = tx.NewCursor();
        if (!c.SeekPrefix(tx.CurrentRoot(ObjectIds.RootTree), tree, ItemType.RootBackref)) throw new FsException("ENOENT", $"subvolume {tree} has no parent");
        return new FsLocation(c.Offset, new RootRef(c.Data).DirId);
    }

    /// <summary>The directory holding the last component, and that component's name.</summary>
    public (FsLocation Dir, byte[] Name) ResolveParent(Transaction tx, string path)
    {
        var parts = Split(path);
        if (parts.Length == 0) throw new FsException("EINVAL", $"'{path}' names the top-level directory");
        var dirPath = string.Join('/', parts[..^1].Select(Encoding.UTF8.GetString));
        var dir = Resolve(tx, dirPath);
        if (!TreeOf(tx, dir.Tree).ReadInode(dir.Ino).IsDir) throw new FsException("ENOTDIR", $"'{dirPath}' is not a directory");
        return (dir, parts[^1]);
    }

    /// <summary>True when <paramref name="path"/> resolves in the last commit (symlinks are not followed).</summary>
    public bool Exists(string path) => ReadOnly(tx => { try { Resolve(tx, path); return true; } catch (FsException) { return false; } });

    /// <summary>A read-only look at the committed state (works on an image opened read-only).</summary>
    public T ReadOnly<T>(Func<Transaction, T> read)
    {
        // Not a write transaction: aborting one marks the writer's state stale and rebuilds it (a scan of the extent tree).
        using var tx = Image.BeginReadTransaction();
        return read(tx);
    }

    // ------------------------------------------------------------------ operations

    /// <summary>
    /// Creates directory <paramref name="path"/> (mode 0755, uid and gid 0) in one transaction; with
    /// <paramref name="parents"/>, missing parents are created and an existing directory is no error (mkdir -p).
    /// </summary>
    /// <exception cref="FsException">EEXIST when it exists (without <paramref name="parents"/>), ENOENT when a parent
    /// is missing, ENOTDIR when a component is not a directory.</exception>
    public void Mkdir(string path, bool parents = false) => Run(tx =>
    {
        var parts = Split(path);
        var loc = new FsLocation(ObjectIds.FsTree, FsTree.RootDirIno);
        for (int i = 0; i < parts.Length; i++)
        {
            var t = TreeOf(tx, loc.Tree);
            if (t.TryLookup(loc.Ino, parts[i], out var l, out var type))
            {
                if (i == parts.Length - 1 && !parents) throw new FsException("EEXIST", $"'{path}' exists");
                if (type != DirEntryType.Dir) throw new FsException("ENOTDIR", $"'{path}': a component is not a directory");
                loc = Enter(t, loc, parts[i], l);
                continue;
            }
            if (i < parts.Length - 1 && !parents) throw new FsException("ENOENT", $"'{path}': parent directory missing");
            loc = new FsLocation(loc.Tree, t.Mkdir(loc.Ino, parts[i]));
        }
    });

    /// <summary>Writes bytes at an offset, creating the file when it does not exist.</summary>
    public void Write(string path, ulong offset, ReadOnlySpan<byte> data)
    {
        var copy = data.ToArray();
        Run(tx =>
        {
            var (t, ino) = OpenOrCreateFile(tx, path);
            t.Write(ino, offset, copy);
        });
    }

    /// <summary>Streams <paramref name="source"/> into the file at <paramref name="offset"/> in chunks (never whole in memory).</summary>
    public ulong WriteFrom(string path, ulong offset, Stream source) => Run(tx =>
    {
        var (t, ino) = OpenOrCreateFile(tx, path);
        var buf = new byte[_options.WriteChunk];
        ulong total = 0;
        int n;
        while ((n = ReadFull(source, buf)) > 0)
        {
            t.Write(ino, offset + total, buf.AsSpan(0, n));
            total += (ulong)n;
        }
        return total;
    });

    private static int ReadFull(Stream s, byte[] buf)
    {
        int got = 0;
        while (got < buf.Length)
        {
            int n = s.Read(buf, got, buf.Length - got);
            if (n == 0) break;
            got += n;
        }
        return got;
    }

    private (FsTree Tree, ulong Ino) OpenOrCreateFile(Transaction tx, string path)
    {
        var (dir, name, ino) = LookupFile(tx, path);
        var t = TreeOf(tx, dir.Tree);
        return (t, ino ?? t.CreateFile(dir.Ino, name));
    }

    /// <summary>
    /// Where a regular file is or would be created: its directory, its name, and its inode when it exists (EISDIR for a
    /// directory or subvolume, EINVAL for anything else that is not a regular file).
    /// </summary>
    internal (FsLocation Dir, byte[] Name, ulong? Ino) LookupFile(Transaction tx, string path)
    {
        var (dir, name) = ResolveParent(tx, path);
        if (!TreeOf(tx, dir.Tree).TryLookup(dir.Ino, name, out var l, out var type)) return (dir, name, null);
        if (l.Type == ItemType.RootItem || type == DirEntryType.Dir) throw new FsException("EISDIR", $"'{path}' is a directory");
        if (type != DirEntryType.RegFile) throw new FsException("EINVAL", $"'{path}' is not a regular file");
        return (dir, name, l.ObjectId);
    }

    /// <summary>The whole content of file <paramref name="path"/> in the last commit.</summary>
    /// <exception cref="FsException">ENOENT when it does not exist, EISDIR for a directory, EFBIG past 2 GiB (use
    /// <see cref="ReadTo"/>).</exception>
    public byte[] ReadAll(string path) => ReadOnly(tx =>
    {
        var loc = Resolve(tx, path);
        var t = TreeOf(tx, loc.Tree);
        var info = t.ReadInode(loc.Ino);
        if (info.IsDir) throw new FsException("EISDIR", $"'{path}' is a directory");
        if (info.Size > int.MaxValue) throw new FsException("EFBIG", $"'{path}' is {info.Size} bytes; use ReadTo");
        var buf = new byte[info.Size];
        t.Read(loc.Ino, 0, buf);
        return buf;
    });

    /// <summary>Copies a file's bytes to a stream in chunks.</summary>
    public ulong ReadTo(string path, Stream destination) => ReadOnly(tx =>
    {
        var loc = Resolve(tx, path);
        var t = TreeOf(tx, loc.Tree);
        var info = t.ReadInode(loc.Ino);
        if (info.IsDir) throw new FsException("EISDIR", $"'{path}' is a directory");
        var buf = new byte[Math.Min((ulong)_options.WriteChunk, Math.Max(info.Size, 1))];
        ulong pos = 0;
        while (pos < info.Size)
        {
            int n = t.Read(loc.Ino, pos, buf);
            destination.Write(buf, 0, n);
            pos += (ulong)n;
        }
        return pos;
    });

    /// <summary>
    /// The inode <paramref name="path"/> names in the last commit (symlinks not followed; a subvolume gives its root
    /// directory).
    /// </summary>
    /// <exception cref="FsException">ENOENT or ENOTDIR when the path does not resolve.</exception>
    public InodeInfo Stat(string path) => ReadOnly(tx => { var l = Resolve(tx, path); return TreeOf(tx, l.Tree).ReadInode(l.Ino); });

    /// <summary>
    /// The entries of directory <paramref name="path"/> in index order, each with the inode it leads to (a subvolume
    /// entry: the subvolume's root directory); for a path that is not a directory, that one entry (named by its last
    /// component, "/" for the top level).
    /// </summary>
    public List<(string Name, InodeInfo Info)> List(string path) => ReadOnly(tx =>
    {
        var loc = Resolve(tx, path);
        var t = TreeOf(tx, loc.Tree);
        if (!t.ReadInode(loc.Ino).IsDir) return new List<(string, InodeInfo)> { (Split(path).Length == 0 ? "/" : Encoding.UTF8.GetString(Split(path)[^1]), t.ReadInode(loc.Ino)) };
        var list = new List<(string, InodeInfo)>();
        foreach (var (name, l, _) in t.ReadDir(loc.Ino))
        {
            var to = Enter(t, loc, name, l);
            var info = TreeOf(tx, to.Tree).ReadInode(to.Ino);
            list.Add((Encoding.UTF8.GetString(name), info));
        }
        return list;
    });

    /// <summary>The target of symlink <paramref name="path"/>, as UTF-8.</summary>
    /// <exception cref="FsException">EINVAL when it is not a symlink.</exception>
    public string ReadLink(string path) => ReadOnly(tx =>
    {
        var l = Resolve(tx, path);
        var t = TreeOf(tx, l.Tree);
        var info = t.ReadInode(l.Ino);
        if (!info.IsSymlink) throw new FsException("EINVAL", $"'{path}' is not a symlink");
        // A target is at most PATH_MAX - 1 bytes, stored inline: a larger size is damage, not an allocation to try.
        if (info.Size >= 4096) throw Corruption.Create($"symlink inode {l.Ino} of tree {l.Tree} has size {info.Size}, more than a target can be", 0, l.Tree);
        var buf = new byte[info.Size];
        t.Read(l.Ino, 0, buf);
        return Encoding.UTF8.GetString(buf);
    });

    /// <summary>
    /// Removes <paramref name="path"/> in one transaction: a file, symlink or special file, an empty directory, or with
    /// <paramref name="recursive"/> a directory and all below it, and a subvolume (nested subvolumes first).
    /// </summary>
    /// <exception cref="FsException">ENOENT when it does not exist, ENOTEMPTY for a non-empty directory and EISDIR for
    /// a subvolume without <paramref name="recursive"/>.</exception>
    public void Remove(string path, bool recursive = false) => Run(tx => RemoveIn(tx, path, recursive));

    private void RemoveIn(Transaction tx, string path, bool recursive)
    {
        var (dir, name) = ResolveParent(tx, path);
        var t = TreeOf(tx, dir.Tree);
        if (!t.TryLookup(dir.Ino, name, out var l, out var type)) throw new FsException("ENOENT", $"'{path}' not found");
        if (l.Type == ItemType.RootItem)
        {
            if (!t.OwnsSubvolume(dir.Ino, name, l.ObjectId))
            {
                // A stub: rmdir drops the dangling entry (btrfs_rmdir of BTRFS_EMPTY_SUBVOL_DIR_OBJECTID).
                t.RemoveStubEntry(dir.Ino, name);
                return;
            }
            if (!recursive) throw new FsException("EISDIR", $"'{path}' is a subvolume (use subvolume delete or -r)");
            // As rm -r on Linux: what is inside goes first, subvolumes nested in it too, then the (empty) subvolume.
            foreach (var nested in NestedSubvolumeEntries(tx, l.ObjectId, FsTree.RootDirIno, path.TrimEnd('/')))
                RemoveIn(tx, nested, recursive: true);
            Subvolumes.Delete(t, dir.Ino, name);
            return;
        }
        if (type == DirEntryType.Dir)
        {
            if (!recursive && t.ReadInode(l.ObjectId).Size != 0) throw new FsException("ENOTEMPTY", $"'{path}' is not empty");
            foreach (var (child, _, _) in t.ReadDir(l.ObjectId))
                RemoveIn(tx, path.TrimEnd('/') + "/" + Encoding.UTF8.GetString(child), recursive);
            t.Unlink(dir.Ino, name, allowDirectory: true);
            return;
        }
        t.Unlink(dir.Ino, name);
    }

    /// <summary>Paths of the subvolume entries a subvolume's tree links (under <paramref name="dirIno"/>), depth first.</summary>
    private List<string> NestedSubvolumeEntries(Transaction tx, ulong tree, ulong dirIno, string path)
    {
        var found = new List<string>();
        var t = TreeOf(tx, tree);
        foreach (var (name, l, type) in t.ReadDir(dirIno))
        {
            string p = path + "/" + Encoding.UTF8.GetString(name);
            if (l.Type == ItemType.RootItem) found.Add(p);
            else if (type == DirEntryType.Dir) found.AddRange(NestedSubvolumeEntries(tx, tree, l.ObjectId, p));
        }
        return found;
    }

    /// <summary>
    /// Renames <paramref name="from"/> to <paramref name="to"/> in one transaction, replacing a non-directory target
    /// like rename(2).
    /// </summary>
    /// <exception cref="FsException">EXDEV when the two lie in different subvolumes or <paramref name="from"/> is a
    /// subvolume.</exception>
    public void Rename(string from, string to) => Run(tx =>
    {
        var (fd, fname) = ResolveParent(tx, from);
        var (td, tname) = ResolveParent(tx, to);
        if (fd.Tree != td.Tree) throw new FsException("EXDEV", "rename across subvolumes");
        TreeOf(tx, fd.Tree).Rename(fd.Ino, fname, td.Ino, tname);
    });

    /// <summary>
    /// Adds the name <paramref name="newPath"/> for the inode of <paramref name="existing"/> in one transaction.
    /// </summary>
    /// <exception cref="FsException">EXDEV across subvolumes, EPERM for a directory.</exception>
    public void HardLink(string existing, string newPath) => Run(tx =>
    {
        var src = Resolve(tx, existing);
        var (dir, name) = ResolveParent(tx, newPath);
        if (src.Tree != dir.Tree) throw new FsException("EXDEV", "hard link across subvolumes");
        var t = TreeOf(tx, dir.Tree);
        var info = t.ReadInode(src.Ino);
        if (info.IsDir) throw new FsException("EPERM", $"'{existing}' is a directory");
        t.Link(dir.Ino, name, src.Ino, InodeItem.TypeFromMode(info.Mode));
    });

    /// <summary>
    /// Creates symlink <paramref name="linkPath"/> to <paramref name="target"/> (stored inline) in one transaction.
    /// </summary>
    /// <exception cref="FsException">ENAMETOOLONG when the target is empty or longer than a sector minus one byte (at
    /// most 4095 bytes).</exception>
    public void Symlink(string target, string linkPath) => Run(tx =>
    {
        var (dir, name) = ResolveParent(tx, linkPath);
        TreeOf(tx, dir.Tree).Symlink(dir.Ino, name, Encoding.UTF8.GetBytes(target));
    });

    /// <summary>
    /// Sets the size of file <paramref name="path"/> to <paramref name="size"/> bytes in one transaction: shrinking
    /// drops the data past it (zeroing the rest of the last sector), growing leaves a hole.
    /// </summary>
    public void Truncate(string path, ulong size) => Run(tx => { var l = Resolve(tx, path); TreeOf(tx, l.Tree).Truncate(l.Ino, size); });

    /// <summary>
    /// Punches a hole of <paramref name="length"/> bytes at <paramref name="offset"/> in one transaction: whole sectors
    /// are dropped, partial edge sectors zeroed; the size stays.
    /// </summary>
    public void PunchHole(string path, ulong offset, ulong length) => Run(tx => { var l = Resolve(tx, path); TreeOf(tx, l.Tree).PunchHole(l.Ino, offset, length); });

    /// <summary>
    /// Preallocates the holes of [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>),
    /// sector aligned outward, as PREALLOC extents in one transaction, creating the file when missing; the size grows
    /// unless <paramref name="keepSize"/>.
    /// </summary>
    public void Fallocate(string path, ulong offset, ulong length, bool keepSize = false) => Run(tx =>
    {
        var (t, ino) = OpenOrCreateFile(tx, path);
        t.Fallocate(ino, offset, length, keepSize);
    });

    /// <summary>Reflinks a whole file (creating or replacing the destination's content, like cp --reflink).</summary>
    public void Reflink(string src, string dst) => Run(tx =>
    {
        var s = Resolve(tx, src);
        var (dt, dino) = OpenOrCreateFile(tx, dst);
        if (s.Tree == dt.RootId && s.Ino == dino) throw new FsException("EINVAL", $"'{src}' and '{dst}' are the same file");
        // The old content goes first: a longer destination must not keep its tail.
        dt.Truncate(dino, 0);
        dt.Clone(TreeOf(tx, s.Tree), s.Ino, 0, 0, dino, 0);
    });

    /// <summary>Clones [srcOffset, srcOffset+length) of src to dstOffset of dst (length 0: to the source's end).</summary>
    public void CloneRange(string src, ulong srcOffset, ulong length, string dst, ulong dstOffset) => Run(tx =>
    {
        var s = Resolve(tx, src);
        var (dt, dino) = OpenOrCreateFile(tx, dst);
        dt.Clone(TreeOf(tx, s.Tree), s.Ino, srcOffset, length, dino, dstOffset);
    });

    /// <summary>Creates an empty subvolume at <paramref name="path"/> in one transaction.</summary>
    /// <returns>The new subvolume's id.</returns>
    public ulong CreateSubvolume(string path) => Run(tx =>
    {
        var (dir, name) = ResolveParent(tx, path);
        return Subvolumes.Create(TreeOf(tx, dir.Tree), dir.Ino, name, NewUuid);
    });

    /// <summary>
    /// Snapshots subvolume <paramref name="source"/> as <paramref name="path"/> (read-only with
    /// <paramref name="readOnly"/>) in one transaction; with quotas on, the snapshot's qgroup takes the source's
    /// numbers when the quick inherit applies.
    /// </summary>
    /// <returns>The snapshot's subvolume id.</returns>
    /// <exception cref="FsException">EINVAL when <paramref name="source"/> is not a subvolume.</exception>
    public ulong Snapshot(string source, string path, bool readOnly = false) => Run(tx =>
    {
        var src = Resolve(tx, source);
        if (src.Ino != FsTree.RootDirIno) throw new FsException("EINVAL", $"'{source}' is not a subvolume");
        var (dir, name) = ResolveParent(tx, path);
        ulong id = Subvolumes.Snapshot(TreeOf(tx, dir.Tree), dir.Ino, name, src.Tree, readOnly, NewUuid);
        if (tx.HasTree(ObjectIds.QuotaTree)) QuotaAdmin.TryQuickInherit(tx, QgroupId.ForSubvolume(src.Tree), QgroupId.ForSubvolume(id));
        return id;
    });

    /// <summary>
    /// Deletes the subvolume at <paramref name="path"/> in one transaction: its entry, root refs, ROOT_ITEM, UUID item
    /// and qgroup items; its tree is dropped at commit.
    /// </summary>
    /// <exception cref="FsException">ENOENT when <paramref name="path"/> is not a subvolume, ENOTEMPTY when it contains
    /// subvolumes.</exception>
    public void DeleteSubvolume(string path) => Run(tx =>
    {
        var (dir, name) = ResolveParent(tx, path);
        Subvolumes.Delete(TreeOf(tx, dir.Tree), dir.Ino, name);
    });

    /// <summary>
    /// Every subvolume below the top level with its parent and name (like <c>btrfs subvolume list</c>), from the last
    /// commit.
    /// </summary>
    public List<SubvolumeInfo> ListSubvolumes() => Subvolumes.List(Image.NewCursor(), Image.RootTree);

    /// <summary>
    /// Sets extended attribute <paramref name="name"/> of <paramref name="path"/> to <paramref name="value"/> in one
    /// transaction, replacing an existing value.
    /// </summary>
    /// <exception cref="FsException">ERANGE for an empty name or one over 255 bytes, E2BIG when the attribute does not
    /// fit in a leaf.</exception>
    public void SetXattr(string path, string name, ReadOnlySpan<byte> value)
    {
        var v = value.ToArray();
        Run(tx => { var l = Resolve(tx, path); TreeOf(tx, l.Tree).SetXattr(l.Ino, Encoding.UTF8.GetBytes(name), v); });
    }

    /// <summary>Disposes the image, which closes the device when the image opened it.</summary>
    public void Dispose() => Image.Dispose();
}
