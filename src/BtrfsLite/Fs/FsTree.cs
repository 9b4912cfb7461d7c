using System.Text;
using BtrfsLite.Format;
using BtrfsLite.Transactions;
using BtrfsLite.Trees;

namespace BtrfsLite.Fs;

/// <summary>Linux errno-style failures of file-system operations (ENOENT, EEXIST, ENOTDIR, ...).</summary>
public sealed class FsException : IOException
{
    /// <summary>The errno name: "ENOENT", "EEXIST", "ENOTDIR"...</summary>
    public string Errno { get; }
    /// <summary>
    /// An error <paramref name="errno"/> (an errno name); the message is "<paramref name="errno"/>:
    /// <paramref name="message"/>".
    /// </summary>
    public FsException(string errno, string message) : base($"{errno}: {message}") => Errno = errno;

    /// <summary>A data operation on <paramref name="what"/>, not a regular file: EISDIR for a directory (as the VFS), else EINVAL.</summary>
    public static FsException NotRegular(InodeInfo info, string what) =>
        info.IsDir ? new("EISDIR", $"{what} is a directory") : new("EINVAL", $"{what} is not a regular file");
}

/// <summary>
/// Inodes, directories and file extents of one subvolume tree, changed inside a transaction. Keeps every
/// invariant btrfs check verifies: nlink = names, DIR_ITEM ↔ DIR_INDEX ↔ INODE_REF, directory sizes, nbytes,
/// non-overlapping sector-aligned extents, csums for checksummed data, data backrefs.
/// </summary>
public sealed partial class FsTree
{
    /// <summary>The inode number of every subvolume's root directory (BTRFS_FIRST_FREE_OBJECTID, 256).</summary>
    public const ulong RootDirIno = 256;
    /// <summary>
    /// BTRFS_EMPTY_SUBVOL_DIR_OBJECTID: what an entry for a subvolume this tree does not own leads to (a snapshot's
    /// entry for a subvolume nested in its source): an empty, read-only directory that exists only in memory.
    /// </summary>
    public const ulong EmptySubvolDirIno = 2;
    /// <summary>
    /// The largest file data stored inline in bytes (the kernel's default max_inline, 2048); inline data must also be
    /// shorter than a sector.
    /// </summary>
    public const int MaxInline = 2048; // the kernel's default max_inline
    private readonly Transaction _tx;
    private readonly Dictionary<ulong, ulong>? _freeObjectIds;
    private ulong _nextIno;

    /// <summary>
    /// Subvolume tree <paramref name="rootId"/> as transaction <paramref name="tx"/> sees and changes it;
    /// <paramref name="clock"/> gives the timestamps of changed inodes. <paramref name="freeObjectIds"/>: the next
    /// inode number of each tree, kept by the handle for as long as it is open (the kernel's root->free_objectid: an
    /// inode number freed by a removal is not handed out again before the next mount); without it, the tree's
    /// highest inode number decides each time.
    /// </summary>
    public FsTree(Transaction tx, ulong rootId, Func<Timespec> clock, Dictionary<ulong, ulong>? freeObjectIds = null)
    {
        _tx = tx;
        RootId = rootId;
        Clock = clock;
        _freeObjectIds = freeObjectIds;
    }

    /// <summary>The subvolume's tree id.</summary>
    public ulong RootId { get; }
    /// <summary>The clock that stamps changed inodes.</summary>
    public Func<Timespec> Clock { get; }
    /// <summary>The transaction this tree changes in.</summary>
    public Transaction Tx => _tx;
    private bool _writable;

    /// <summary>The tree for a change: EROFS in a read-only subvolume (a read-only snapshot), as the kernel's permission check.</summary>
    private CowTree Tree
    {
        get
        {
            RequireWritable();
            return _tx.Tree(RootId);
        }
    }

    /// <summary>EROFS when this subvolume is read-only (checked once per instance).</summary>
    public void RequireWritable()
    {
        if (_writable) return;
        if (Subvolumes.IsReadOnly(_tx, RootId)) throw new FsException("EROFS", $"subvolume {RootId} is read-only");
        _writable = true;
    }
    private TreeRoot Root => _tx.CurrentRoot(RootId);
    private ulong SectorSize => (ulong)_tx.Image.SectorSize;

    // ------------------------------------------------------------------ inodes

    /// <summary>
    /// The inode <paramref name="ino"/>; false when it has no INODE_ITEM (<see cref="EmptySubvolDirIno"/> always
    /// exists: an empty read-only directory).
    /// </summary>
    public bool TryReadInode(ulong ino, out InodeInfo info)
    {
        if (ino == EmptySubvolDirIno)
        {
            // new_simple_dir: S_IFDIR | 0555, one link, empty.
            info = new InodeInfo(ino, 0, 0, 1, InodeItem.SIfDir | 0x16D, 0, 0, 0, 0, default, default, default, 0);
            return true;
        }
        var c = _tx.NewCursor();
        if (!c.Find(Root, new Key(ino, ItemType.InodeItem, 0))) { info = default; return false; }
        info = InodeInfo.From(ino, new InodeItem(c.Data));
        return true;
    }

    /// <summary>The inode <paramref name="ino"/>.</summary>
    /// <exception cref="FsException">ENOENT when it has no INODE_ITEM.</exception>
    public InodeInfo ReadInode(ulong ino) =>
        TryReadInode(ino, out var i) ? i : throw new FsException("ENOENT", $"inode {ino} not found in tree {RootId}");

    /// <summary>Changes an inode item in place.</summary>
    public void EditInode(ulong ino, InodeEdit edit)
    {
        if (!Tree.TryGetForWrite(new Key(ino, ItemType.InodeItem, 0), out var d))
            throw new FsException("ENOENT", $"inode {ino} not found in tree {RootId}");
        var item = new InodeItem(d);
        edit(item);
        item.Transid = _tx.Generation;
    }

    /// <summary>Changes fields of an inode item in place (see <see cref="EditInode"/>).</summary>
    public delegate void InodeEdit(InodeItem item);

    private ulong NextInodeNumber()
    {
        if (_nextIno == 0 && _freeObjectIds != null) _freeObjectIds.TryGetValue(RootId, out _nextIno);
        if (_nextIno == 0)
        {
            var c = _tx.NewCursor();
            ulong max = RootDirIno;
            // The highest item below the special (negative) objectids belongs to the highest inode.
            if (c.SeekBefore(Root, new Key(ObjectIds.LastFree + 1, 0, 0)) && c.ObjectId <= ObjectIds.LastFree)
                max = Math.Max(max, c.ObjectId);
            _nextIno = max + 1;
        }
        if (_freeObjectIds != null) _freeObjectIds[RootId] = _nextIno + 1;
        return _nextIno++;
    }

    /// <summary>Creates an inode item (nlink 0 until it is linked).</summary>
    public ulong CreateInode(uint mode, uint uid = 0, uint gid = 0, ulong rdev = 0, InodeFlags flags = 0, Timespec? time = null)
    {
        ulong ino = NextInodeNumber();
        InitInode(new InodeItem(Tree.Insert(new Key(ino, ItemType.InodeItem, 0), InodeItem.Size)), mode, uid, gid, rdev, flags, time ?? Clock());
        return ino;
    }

    private void InitInode(InodeItem item, uint mode, uint uid, uint gid, ulong rdev, InodeFlags flags, Timespec t)
    {
        item.Generation = _tx.Generation;
        item.Transid = _tx.Generation;
        item.Mode = mode;
        item.Uid = uid;
        item.Gid = gid;
        item.Rdev = rdev;
        item.Flags = flags;
        item.Atime = t; item.Ctime = t; item.Mtime = t; item.Otime = t;
    }

    // ------------------------------------------------------------------ directories

    /// <summary>Looks a name up in a directory: the entry's location (inode or subvolume root) and type.</summary>
    public bool TryLookup(ulong dir, ReadOnlySpan<byte> name, out Key location, out DirEntryType type)
    {
        location = default; type = 0;
        if (dir == EmptySubvolDirIno) return false;
        var c = _tx.NewCursor();
        if (!c.Find(Root, new Key(dir, ItemType.DirItem, Checksums.NameHash(name)))) return false;
        var r = new DirEntryReader(c.Data);
        while (r.Next(out var e))
            if (e.Name.SequenceEqual(name)) { location = e.Location; type = e.Type; return true; }
        return false;
    }

    /// <summary>A directory entry naming a subvolume (location its ROOT_ITEM; no INODE_REF, as the kernel writes it).</summary>
    internal ulong AddSubvolumeEntry(ulong dir, ReadOnlySpan<byte> name, ulong subvolId)
    {
        ValidateName(name);
        ulong index = NextDirIndex(dir);
        AddDirEntries(dir, name, new Key(subvolId, ItemType.RootItem, ulong.MaxValue), DirEntryType.Dir, index);
        return index;
    }

    private ulong NextDirIndex(ulong dir)
    {
        var c = _tx.NewCursor();
        ulong next = 2;
        if (c.SeekBefore(Root, new Key(dir, ItemType.DirIndex, ulong.MaxValue)) && c.ObjectId == dir && c.Type == ItemType.DirIndex)
            next = c.Offset + 1;
        // Indexes waiting in the delayed items count too (a deleted one is not used again while its delete waits).
        next = Math.Max(next, _tx.DelayedDirIndex.MaxIndex(RootId, dir) + 1);
        return Math.Max(next, 2);
    }

    /// <summary>Adds name → inode in a directory (DIR_ITEM, DIR_INDEX, INODE_REF/EXTREF; sizes, nlink, times).</summary>
    public ulong Link(ulong dir, ReadOnlySpan<byte> name, ulong ino, DirEntryType type)
    {
        RefuseStub(dir, "EPERM");
        ValidateName(name);
        var dirInfo = ReadInode(dir);
        if (!dirInfo.IsDir) throw new FsException("ENOTDIR", $"inode {dir} is not a directory");
        if (TryLookup(dir, name, out _, out _)) throw new FsException("EEXIST", $"'{Encoding.UTF8.GetString(name)}' exists in directory {dir}");
        ulong index = NextDirIndex(dir);
        var location = new Key(ino, ItemType.InodeItem, 0);
        AddDirEntries(dir, name, location, type, index);
        AddInodeRef(ino, dir, index, name);
        var now = Clock();
        EditInode(ino, i => { i.NLink += 1; i.Ctime = now; });
        return index;
    }

    internal void AddDirEntries(ulong dir, ReadOnlySpan<byte> name, in Key location, DirEntryType type, ulong index)
    {
        int entrySize = DirEntry.HeaderSize + name.Length;
        var itemKey = new Key(dir, ItemType.DirItem, Checksums.NameHash(name));
        scoped Span<byte> d;
        if (Tree.TryGetForWrite(itemKey, out var existing))
        {
            int old = existing.Length; // a hash collision: append the entry to the item
            d = Tree.Resize(itemKey, old + entrySize)[old..];
        }
        else d = Tree.Insert(itemKey, entrySize);
        DirEntry.Write(d, location, _tx.Generation, type, name, default);
        if (_tx.DelayedDirIndex.Enabled)
        {
            // btrfs_insert_delayed_dir_index: the index item waits for the commit.
            byte[] entry = new byte[entrySize];
            DirEntry.Write(entry, location, _tx.Generation, type, name, default);
            _tx.DelayedDirIndex.Insert(RootId, dir, index, entry);
        }
        else DirEntry.Write(Tree.Insert(new Key(dir, ItemType.DirIndex, index), entrySize), location, _tx.Generation, type, name, default);
        var now = Clock();
        ulong grow = (ulong)(2 * name.Length);
        EditInode(dir, i => { i.FileSize += grow; i.Mtime = now; i.Ctime = now; });
    }

    // An INODE_REF item holds every name of the inode in one directory; past the item size limit, INODE_EXTREF.
    private void AddInodeRef(ulong ino, ulong dir, ulong index, ReadOnlySpan<byte> name)
    {
        int entry = InodeRefEntry.HeaderSize + name.Length;
        var key = new Key(ino, ItemType.InodeRef, dir);
        int max = MaxItemPayload;
        if (Tree.TryGetForWrite(key, out var existing))
        {
            int old = existing.Length;
            if (old + entry <= max)
            {
                InodeRefEntry.Write(Tree.Resize(key, old + entry)[old..], index, name);
                return;
            }
            var xkey = new Key(ino, ItemType.InodeExtref, Checksums.ExtrefHash(dir, name));
            int xe = InodeExtrefEntry.HeaderSize + name.Length;
            if (Tree.TryGetForWrite(xkey, out var x))
            {
                int o = x.Length;
                InodeExtrefEntry.Write(Tree.Resize(xkey, o + xe)[o..], dir, index, name);
            }
            else InodeExtrefEntry.Write(Tree.Insert(xkey, xe), dir, index, name);
            return;
        }
        InodeRefEntry.Write(Tree.Insert(key, entry), index, name);
    }

    private int MaxItemPayload => _tx.Image.NodeSize - NodeHeader.Size - ItemHeader.Size;

    /// <summary>Removes name from a directory; returns the inode it named. Drops the inode when its last name goes.</summary>
    public ulong Unlink(ulong dir, ReadOnlySpan<byte> name, bool allowDirectory = false)
    {
        if (!TryLookup(dir, name, out var loc, out var type))
            throw new FsException("ENOENT", $"'{Encoding.UTF8.GetString(name)}' not found in directory {dir}");
        if (loc.Type != ItemType.InodeItem) throw new FsException("EISDIR", $"'{Encoding.UTF8.GetString(name)}' is a subvolume; delete it as one");
        ulong ino = loc.ObjectId;
        var info = ReadInode(ino);
        if (info.IsDir)
        {
            if (!allowDirectory) throw new FsException("EISDIR", $"'{Encoding.UTF8.GetString(name)}' is a directory");
            if (info.Size != 0) throw new FsException("ENOTEMPTY", $"directory '{Encoding.UTF8.GetString(name)}' is not empty");
        }
        if (info.IsDir || info.NLink <= 1)
        {
            UnlinkLast(dir, name, ino, info.IsDir);
            return ino;
        }
        ulong index = RemoveInodeRef(ino, dir, name);
        RemoveDirEntries(dir, name, index);
        var now = Clock();
        EditInode(ino, i => { i.NLink -= 1; i.Ctime = now; });
        return ino;
    }

    /// <summary>
    /// btrfs_unlink / btrfs_rmdir of an inode's only name and its eviction right after, in the kernel's order: the
    /// orphan item (before the unlink for a directory, after it for a file); the DIR_ITEM (the DIR_INDEX waits); then
    /// btrfs_evict_inode: the delayed inode is written (a delete's search) and its INODE_REF deleted with it (a single
    /// name's delete is delayed, btrfs_delayed_delete_inode_ref), the inode's items from its last back to its
    /// INODE_ITEM a leaf at a time (btrfs_truncate_inode_items, its data references dropped), and the orphan item.
    /// </summary>
    private void UnlinkLast(ulong dir, ReadOnlySpan<byte> name, ulong ino, bool isDir)
    {
        var orphan = new Key(ObjectIds.Orphan, ItemType.OrphanItem, ino);
        if (isDir) Tree.Insert(orphan, 0);
        ulong index = FindInodeRef(ino, dir, name, out var refKey);
        RemoveDirEntries(dir, name, index);
        var now = Clock();
        if (!isDir) Tree.Insert(orphan, 0);
        _tx.DelayedDirIndex.Forget(RootId, ino);
        // The delayed inode (nlink 0) written through a delete's search, the INODE_REF after it.
        if (!Tree.TryGetForDelete(new Key(ino, ItemType.InodeItem, 0), out var d))
            throw new FsException("ENOENT", $"inode {ino} not found in tree {RootId}");
        var item = new InodeItem(d);
        item.NLink -= 1;
        item.Ctime = now;
        item.Transid = _tx.Generation;
        Tree.Delete(refKey);
        foreach (var e in ReadExtents(ino)) DropDataRef(ino, e);
        while (Tree.DeleteLastRun(new Key(ino, 0, 0), new Key(ino, (ItemType)255, ulong.MaxValue)) > 0) { }
        Tree.Delete(orphan);
    }

    internal void RemoveDirEntries(ulong dir, ReadOnlySpan<byte> name, ulong index)
    {
        var itemKey = new Key(dir, ItemType.DirItem, Checksums.NameHash(name));
        RemoveNamedEntry(itemKey, name, DirEntryOffsets);
        if (_tx.DelayedDirIndex.Enabled) _tx.DelayedDirIndex.Delete(RootId, dir, index);
        else Tree.Delete(new Key(dir, ItemType.DirIndex, index));
        var now = Clock();
        ulong shrink = (ulong)(2 * name.Length);
        EditInode(dir, i => { i.FileSize -= shrink; i.Mtime = now; i.Ctime = now; });
    }

    private static int DirEntryOffsets(ReadOnlySpan<byte> item, int pos, out ReadOnlySpan<byte> name)
    {
        int nameLen = Le16(item, pos + DirEntry.Offsets.NameLen), dataLen = Le16(item, pos + DirEntry.Offsets.DataLen);
        name = item.Slice(pos + DirEntry.HeaderSize, nameLen);
        return DirEntry.HeaderSize + nameLen + dataLen;
    }

    private static int Le16(ReadOnlySpan<byte> b, int off) => b[off] | (b[off + 1] << 8);

    private delegate int EntryWalker(ReadOnlySpan<byte> item, int pos, out ReadOnlySpan<byte> name);

    /// <summary>Deletes the entry with <paramref name="name"/> from a multi-entry item (or the item when it was alone).</summary>
    private void RemoveNamedEntry(Key key, ReadOnlySpan<byte> name, EntryWalker walk)
    {
        if (!Tree.TryGetForWrite(key, out var d)) throw Corruption.Create($"tree {RootId}: item {key} missing", 0, RootId);
        int pos = 0;
        while (pos < d.Length)
        {
            int len = walk(d, pos, out var n);
            if (n.SequenceEqual(name))
            {
                if (len == d.Length) { Tree.Delete(key); return; }
                d[(pos + len)..].CopyTo(d[pos..]);
                Tree.Resize(key, d.Length - len);
                return;
            }
            pos += len;
        }
        throw Corruption.Create($"tree {RootId}: item {key} has no entry for the name", 0, RootId);
    }

    private ulong RemoveInodeRef(ulong ino, ulong dir, ReadOnlySpan<byte> name)
    {
        ulong index = FindInodeRef(ino, dir, name, out var key);
        if (key.Type == ItemType.InodeRef)
            RemoveNamedEntry(key, name, static (ReadOnlySpan<byte> item, int pos, out ReadOnlySpan<byte> n) =>
            {
                int l = Le16(item, pos + 8);
                n = item.Slice(pos + InodeRefEntry.HeaderSize, l);
                return InodeRefEntry.HeaderSize + l;
            });
        else
            RemoveNamedEntry(key, name, static (ReadOnlySpan<byte> item, int pos, out ReadOnlySpan<byte> n) =>
            {
                int l = Le16(item, pos + 16);
                n = item.Slice(pos + InodeExtrefEntry.HeaderSize, l);
                return InodeExtrefEntry.HeaderSize + l;
            });
        return index;
    }

    /// <summary>The directory index of the name <paramref name="name"/> in <paramref name="dir"/> and the INODE_REF or INODE_EXTREF item holding it.</summary>
    private ulong FindInodeRef(ulong ino, ulong dir, ReadOnlySpan<byte> name, out Key item)
    {
        var c = _tx.NewCursor();
        item = new Key(ino, ItemType.InodeRef, dir);
        if (c.Find(Root, item))
        {
            var r = new InodeRefReader(c.Data);
            while (r.Next(out var e))
                if (e.Name.SequenceEqual(name)) return e.Index;
        }
        item = new Key(ino, ItemType.InodeExtref, Checksums.ExtrefHash(dir, name));
        if (c.Find(Root, item))
        {
            var r = new InodeExtrefReader(c.Data);
            while (r.Next(out var e))
                if (e.Parent == dir && e.Name.SequenceEqual(name)) return e.Index;
        }
        throw Corruption.Create($"tree {RootId}: inode {ino} has no reference named in directory {dir}", 0, RootId);
    }

    /// <summary>Lists a directory in index order: (name, location, type).</summary>
    public List<(byte[] Name, Key Location, DirEntryType Type)> ReadDir(ulong dir)
    {
        var list = new List<(byte[], Key, DirEntryType)>();
        if (dir == EmptySubvolDirIno) return list;
        foreach (var (_, data) in DirIndexEntries(dir))
        {
            var r = new DirEntryReader(data);
            if (r.Next(out var e)) list.Add((e.Name.ToArray(), e.Location, e.Type));
        }
        return list;
    }

    /// <summary>
    /// The DIR_INDEX items of <paramref name="dir"/> in index order as this transaction sees them: the tree's, less
    /// those whose delete waits, merged with the inserts that wait (btrfs_readdir_get_delayed_items).
    /// </summary>
    private List<(ulong Index, byte[] Data)> DirIndexEntries(ulong dir)
    {
        var list = new List<(ulong, byte[])>();
        var c = _tx.NewCursor();
        if (c.SeekPrefix(Root, dir, ItemType.DirIndex))
            do
            {
                if (c.ObjectId != dir || c.Type != ItemType.DirIndex) break;
                if (!_tx.DelayedDirIndex.IsDeleted(RootId, dir, c.Offset)) list.Add((c.Offset, c.Data.ToArray()));
            } while (c.Next());
        int tree = list.Count;
        foreach (var (index, data) in _tx.DelayedDirIndex.Inserts(RootId, dir)) list.Add((index, data));
        if (list.Count > tree) list.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return list;
    }

    private static void ValidateName(ReadOnlySpan<byte> name)
    {
        if (name.Length == 0 || name.Length > 255) throw new FsException("ENAMETOOLONG", $"name length {name.Length} outside 1..255");
        if (name.IndexOf((byte)'/') >= 0 || name.IndexOf((byte)0) >= 0) throw new FsException("EINVAL", "name contains '/' or NUL");
        if (name.SequenceEqual("."u8) || name.SequenceEqual(".."u8)) throw new FsException("EINVAL", "'.' and '..' are not entries");
    }

    // ------------------------------------------------------------------ convenience

    /// <summary>
    /// The stub directory (the empty directory a snapshot shows for a subvolume it does not own) has no create, mkdir
    /// or link operations and no ioctls: the VFS answers EACCES (create), EPERM (mkdir, link, symlink) or ENOTTY
    /// (the subvolume ioctls), before any permission check and before anything changes.
    /// </summary>
    public static void RefuseStub(ulong dir, string errno)
    {
        if (dir == EmptySubvolDirIno) throw new FsException(errno, "the directory is the stub of a subvolume this snapshot does not own");
    }

    /// <summary>Removes a stub's directory entries (DIR_ITEM, DIR_INDEX) from <paramref name="dir"/>; nothing else refers to it.</summary>
    public void RemoveStubEntry(ulong dir, ReadOnlySpan<byte> name)
    {
        foreach (var (index, data) in DirIndexEntries(dir))
        {
            var r = new DirEntryReader(data);
            if (r.Next(out var e) && e.Name.SequenceEqual(name)) { RemoveDirEntries(dir, name, index); return; }
        }
        throw new FsException("ENOENT", "stub entry has no DIR_INDEX");
    }

    /// <summary>
    /// Whether the entry <paramref name="name"/> in <paramref name="dir"/> naming subvolume <paramref name="subvolId"/> is
    /// that subvolume's own link (a ROOT_REF from this tree with this dir and name), as fixup_tree_root_location asks;
    /// otherwise it is a stub (a snapshot's copy of the entry of a subvolume nested in its source).
    /// </summary>
    public bool OwnsSubvolume(ulong dir, ReadOnlySpan<byte> name, ulong subvolId)
    {
        var c = _tx.NewCursor();
        if (!c.Find(_tx.CurrentRoot(ObjectIds.RootTree), new Key(RootId, ItemType.RootRef, subvolId))) return false;
        var rr = new RootRef(c.Data);
        return rr.DirId == dir && c.Data.Length >= RootRef.HeaderSize + rr.NameLen && c.Data.Slice(RootRef.HeaderSize, rr.NameLen).SequenceEqual(name);
    }

    /// <summary>
    /// Creates a directory <paramref name="name"/> in directory <paramref name="parent"/> with permission bits
    /// <paramref name="perm"/> and owner <paramref name="uid"/>:<paramref name="gid"/>.
    /// </summary>
    /// <returns>The new inode number.</returns>
    public ulong Mkdir(ulong parent, ReadOnlySpan<byte> name, uint perm = 0x1ED /* 0755 */, uint uid = 0, uint gid = 0)
    {
        RefuseStub(parent, "EPERM");
        return CreateLinked(parent, name, InodeItem.SIfDir | (perm & 0xFFF), uid, gid, 0, DirEntryType.Dir);
    }

    /// <summary>
    /// Creates an empty regular file <paramref name="name"/> in directory <paramref name="parent"/> with permission
    /// bits <paramref name="perm"/>, owner <paramref name="uid"/>:<paramref name="gid"/> and inode
    /// <paramref name="flags"/>.
    /// </summary>
    /// <returns>The new inode number.</returns>
    public ulong CreateFile(ulong parent, ReadOnlySpan<byte> name, uint perm = 0x1A4 /* 0644 */, uint uid = 0, uint gid = 0, InodeFlags flags = 0)
    {
        RefuseStub(parent, "EACCES");
        return CreateLinked(parent, name, InodeItem.SIfReg | (perm & 0xFFF), uid, gid, flags, DirEntryType.RegFile);
    }

    /// <summary>
    /// btrfs_create_new_inode as the kernel orders it: the INODE_ITEM and its INODE_REF go in as one batch
    /// (btrfs_insert_empty_items), then the directory entry (btrfs_add_link). The inode has its one link from the start.
    /// </summary>
    private ulong CreateLinked(ulong parent, ReadOnlySpan<byte> name, uint mode, uint uid, uint gid, InodeFlags flags, DirEntryType type)
    {
        ValidateName(name);
        if (!ReadInode(parent).IsDir) throw new FsException("ENOTDIR", $"inode {parent} is not a directory");
        if (TryLookup(parent, name, out _, out _)) throw new FsException("EEXIST", $"'{Encoding.UTF8.GetString(name)}' exists in directory {parent}");
        ulong index = NextDirIndex(parent);
        ulong ino = NextInodeNumber();
        var inodeKey = new Key(ino, ItemType.InodeItem, 0);
        var refKey = new Key(ino, ItemType.InodeRef, parent);
        int refSize = InodeRefEntry.HeaderSize + name.Length;
        Tree.InsertBatch([inodeKey, refKey], [InodeItem.Size, refSize]);
        var item = new InodeItem(Tree.CurrentData);
        InitInode(item, mode, uid, gid, 0, flags, Clock());
        item.NLink = 1;
        Tree.MoveNext();
        InodeRefEntry.Write(Tree.CurrentData, index, name);
        AddDirEntries(parent, name, inodeKey, type, index);
        return ino;
    }

    /// <summary>
    /// Creates symlink <paramref name="name"/> in directory <paramref name="parent"/> (mode 0777) whose target
    /// <paramref name="target"/> is stored inline.
    /// </summary>
    /// <returns>The new inode number.</returns>
    /// <exception cref="FsException">ENAMETOOLONG when the target is empty or longer than a sector minus one byte (at
    /// most 4095 bytes).</exception>
    public ulong Symlink(ulong parent, ReadOnlySpan<byte> name, ReadOnlySpan<byte> target, uint uid = 0, uint gid = 0)
    {
        RefuseStub(parent, "EPERM");
        if (target.Length == 0 || target.Length > Math.Min(MaxInline * 2 - 1, (int)SectorSize - 1))
            throw new FsException("ENAMETOOLONG", $"symlink target of {target.Length} bytes");
        ulong ino = CreateInode(InodeItem.SIfLnk | 0x1FF, uid, gid);
        WriteInline(ino, target);
        ulong len = (ulong)target.Length;
        EditInode(ino, i => { i.FileSize = len; i.NBytes = len; });
        Link(parent, name, ino, DirEntryType.Symlink);
        return ino;
    }

    /// <summary>
    /// Creates a fifo, socket or device node <paramref name="name"/> in directory <paramref name="parent"/> with
    /// st_mode <paramref name="mode"/> (type and permission bits) and device number <paramref name="rdev"/>.
    /// </summary>
    /// <returns>The new inode number.</returns>
    /// <exception cref="FsException">EINVAL for a mode of a directory, regular file, symlink or no type.</exception>
    public ulong Mknod(ulong parent, ReadOnlySpan<byte> name, uint mode, ulong rdev = 0, uint uid = 0, uint gid = 0)
    {
        var type = InodeItem.TypeFromMode(mode);
        if (type is DirEntryType.Unknown or DirEntryType.Dir or DirEntryType.RegFile or DirEntryType.Symlink)
            throw new FsException("EINVAL", $"mknod of mode 0{Convert.ToString(mode, 8)}");
        ulong ino = CreateInode(mode, uid, gid, rdev);
        Link(parent, name, ino, type);
        return ino;
    }

    /// <summary>Renames (moves) an entry, replacing a non-directory target like rename(2).</summary>
    public void Rename(ulong fromDir, ReadOnlySpan<byte> fromName, ulong toDir, ReadOnlySpan<byte> toName)
    {
        if (!TryLookup(fromDir, fromName, out var loc, out var type))
            throw new FsException("ENOENT", $"'{Encoding.UTF8.GetString(fromName)}' not found");
        if (loc.Type != ItemType.InodeItem) throw new FsException("EXDEV", "renaming subvolumes is not supported");
        if (fromDir == toDir && fromName.SequenceEqual(toName)) return;
        if (TryLookup(toDir, toName, out var existing, out var existingType))
        {
            if (existingType == DirEntryType.Dir || type == DirEntryType.Dir)
                throw new FsException("EEXIST", $"'{Encoding.UTF8.GetString(toName)}' exists");
            Unlink(toDir, toName);
        }
        ulong ino = loc.ObjectId;
        if (type == DirEntryType.Dir && IsAncestor(ino, toDir)) throw new FsException("EINVAL", "cannot move a directory into itself");
        ulong index = RemoveInodeRef(ino, fromDir, fromName);
        RemoveDirEntries(fromDir, fromName, index);
        ulong newIndex = NextDirIndex(toDir);
        AddDirEntries(toDir, toName, loc, type, newIndex);
        AddInodeRef(ino, toDir, newIndex, toName);
        var now = Clock();
        EditInode(ino, i => i.Ctime = now);
    }

    private bool IsAncestor(ulong dirIno, ulong of)
    {
        for (ulong cur = of, guard = 0; guard < 4096; guard++)
        {
            if (cur == dirIno) return true;
            if (cur == RootDirIno) return false;
            cur = ParentOf(cur);
        }
        return false;
    }

    /// <summary>The directory holding a directory inode (its single INODE_REF's key offset).</summary>
    public ulong ParentOf(ulong dirIno)
    {
        var c = _tx.NewCursor();
        if (c.SeekPrefix(Root, dirIno, ItemType.InodeRef)) return c.Offset;
        throw Corruption.Create($"tree {RootId}: directory {dirIno} has no INODE_REF", 0, RootId);
    }

    /// <summary>The path of a directory inode from this tree's root directory ("" for the root), through its INODE_REFs.</summary>
    public string PathOf(ulong dirIno)
    {
        var parts = new List<string>();
        var c = _tx.NewCursor();
        for (ulong cur = dirIno, guard = 0; cur != RootDirIno && guard < 4096; guard++)
        {
            if (!c.SeekPrefix(Root, cur, ItemType.InodeRef) || c.ObjectId != cur || c.Type != ItemType.InodeRef)
                throw Corruption.Create($"tree {RootId}: directory {cur} has no INODE_REF", 0, RootId);
            var r = new InodeRefReader(c.Data);
            if (!r.Next(out var e)) throw Corruption.Create($"tree {RootId}: empty INODE_REF of {cur}", 0, RootId);
            parts.Add(Encoding.UTF8.GetString(e.Name));
            cur = c.Offset;
        }
        parts.Reverse();
        return string.Join('/', parts);
    }

    /// <summary>Sets (or replaces) an extended attribute.</summary>
    public void SetXattr(ulong ino, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        if (name.Length == 0 || name.Length > 255) throw new FsException("ERANGE", "xattr name length");
        if (DirEntry.HeaderSize + name.Length + value.Length > MaxItemPayload - 0) throw new FsException("E2BIG", "xattr too large for a leaf");
        var key = new Key(ino, ItemType.XattrItem, Checksums.NameHash(name));
        if (Tree.Contains(key)) RemoveNamedEntry(key, name, DirEntryOffsets);
        int size = DirEntry.HeaderSize + name.Length + value.Length;
        scoped Span<byte> d;
        if (Tree.TryGetForWrite(key, out var existing)) { int old = existing.Length; d = Tree.Resize(key, old + size)[old..]; }
        else d = Tree.Insert(key, size);
        DirEntry.Write(d, default, _tx.Generation, DirEntryType.Xattr, name, value);
        var now = Clock();
        EditInode(ino, i => i.Ctime = now);
    }
}

/// <summary>What an inode item says, copied out.</summary>
/// <param name="Ino">The inode number.</param>
/// <param name="Size">btrfs_inode_item.size in bytes.</param>
/// <param name="NBytes">btrfs_inode_item.nbytes in bytes.</param>
/// <param name="NLink">btrfs_inode_item.nlink.</param>
/// <param name="Mode">btrfs_inode_item.mode (st_mode).</param>
/// <param name="Uid">btrfs_inode_item.uid.</param>
/// <param name="Gid">btrfs_inode_item.gid.</param>
/// <param name="Rdev">btrfs_inode_item.rdev.</param>
/// <param name="Flags">btrfs_inode_item.flags.</param>
/// <param name="Atime">btrfs_inode_item.atime.</param>
/// <param name="Mtime">btrfs_inode_item.mtime.</param>
/// <param name="Ctime">btrfs_inode_item.ctime.</param>
/// <param name="Generation">btrfs_inode_item.generation: the transaction that created the inode.</param>
/// <param name="Transid">btrfs_inode_item.transid: the last transaction that changed the inode.</param>
public readonly record struct InodeInfo(ulong Ino, ulong Size, ulong NBytes, uint NLink, uint Mode, uint Uid, uint Gid, ulong Rdev,
    InodeFlags Flags, Timespec Atime, Timespec Mtime, Timespec Ctime, ulong Generation, ulong Transid = 0)
{
    /// <summary>True for a directory (S_IFDIR).</summary>
    public bool IsDir => (Mode & InodeItem.SIfMt) == InodeItem.SIfDir;
    /// <summary>True for a regular file (S_IFREG).</summary>
    public bool IsReg => (Mode & InodeItem.SIfMt) == InodeItem.SIfReg;
    /// <summary>True for a symbolic link (S_IFLNK).</summary>
    public bool IsSymlink => (Mode & InodeItem.SIfMt) == InodeItem.SIfLnk;
    /// <summary>The fields of inode item <paramref name="i"/> of inode <paramref name="ino"/>.</summary>
    public static InodeInfo From(ulong ino, InodeItem i) =>
        new(ino, i.FileSize, i.NBytes, i.NLink, i.Mode, i.Uid, i.Gid, i.Rdev, i.Flags, i.Atime, i.Mtime, i.Ctime, i.Generation, i.Transid);
}
