namespace BtrfsLite.Format;

/// <summary>btrfs_inode_item (160 bytes): key (ino, INODE_ITEM, 0); also embedded in ROOT_ITEM.</summary>
public readonly ref struct InodeItem
{
    /// <summary>Bytes of a btrfs_inode_item: 160.</summary>
    public const int Size = 160;
    /// <summary>Byte offsets of btrfs_inode_item's fields; the integers there are little-endian.</summary>
    public static class Offsets
    {
        /// <summary>Offsets of generation, transid, size, nbytes, block_group, nlink, uid and gid.</summary>
        public const int Generation = 0, Transid = 8, Size = 16, NBytes = 24, BlockGroup = 32, NLink = 40, Uid = 44, Gid = 48;
        /// <summary>
        /// Offsets of mode, rdev, flags, sequence, the reserved area, and the atime, ctime, mtime and otime timespecs.
        /// </summary>
        public const int Mode = 52, Rdev = 56, Flags = 64, Sequence = 72, Reserved = 80, Atime = 112, Ctime = 124, Mtime = 136, Otime = 148;
    }
    private readonly Span<byte> _b;
    /// <summary>A view of the first 160 bytes of <paramref name="b"/>.</summary>
    /// <exception cref="InvalidDataException"><paramref name="b"/> is shorter than 160 bytes.</exception>
    public InodeItem(Span<byte> b)
    {
        if (b.Length < Size) throw new InvalidDataException($"inode item too short: {b.Length} < {Size}");
        _b = b[..Size];
    }
    /// <summary>btrfs_inode_item.generation: the transaction that created the inode.</summary>
    public ulong Generation { get => Le.U64(_b, Offsets.Generation); set => Le.U64(_b, Offsets.Generation, value); }
    /// <summary>btrfs_inode_item.transid: the transaction that last changed the inode.</summary>
    public ulong Transid { get => Le.U64(_b, Offsets.Transid); set => Le.U64(_b, Offsets.Transid, value); }
    /// <summary>
    /// btrfs_inode_item.size: the file size in bytes (for a directory, the sum of its entries' name lengths times two).
    /// </summary>
    public ulong FileSize { get => Le.U64(_b, Offsets.Size); set => Le.U64(_b, Offsets.Size, value); }
    /// <summary>
    /// btrfs_inode_item.nbytes: bytes of data the inode uses (file extents' num_bytes, or inline data length).
    /// </summary>
    public ulong NBytes { get => Le.U64(_b, Offsets.NBytes); set => Le.U64(_b, Offsets.NBytes, value); }
    /// <summary>btrfs_inode_item.block_group: an allocation hint, unused by current kernels.</summary>
    public ulong BlockGroup { get => Le.U64(_b, Offsets.BlockGroup); set => Le.U64(_b, Offsets.BlockGroup, value); }
    /// <summary>btrfs_inode_item.nlink: number of names of the inode.</summary>
    public uint NLink { get => Le.U32(_b, Offsets.NLink); set => Le.U32(_b, Offsets.NLink, value); }
    /// <summary>btrfs_inode_item.uid: owner user id.</summary>
    public uint Uid { get => Le.U32(_b, Offsets.Uid); set => Le.U32(_b, Offsets.Uid, value); }
    /// <summary>btrfs_inode_item.gid: owner group id.</summary>
    public uint Gid { get => Le.U32(_b, Offsets.Gid); set => Le.U32(_b, Offsets.Gid, value); }
    /// <summary>btrfs_inode_item.mode: st_mode, file type and permission bits.</summary>
    public uint Mode { get => Le.U32(_b, Offsets.Mode); set => Le.U32(_b, Offsets.Mode, value); }
    /// <summary>btrfs_inode_item.rdev: device number of a character or block device.</summary>
    public ulong Rdev { get => Le.U64(_b, Offsets.Rdev); set => Le.U64(_b, Offsets.Rdev, value); }
    /// <summary>btrfs_inode_item.flags: BTRFS_INODE_* flags.</summary>
    public InodeFlags Flags { get => (InodeFlags)Le.U64(_b, Offsets.Flags); set => Le.U64(_b, Offsets.Flags, (ulong)value); }
    /// <summary>btrfs_inode_item.sequence: the change counter (i_version).</summary>
    public ulong Sequence { get => Le.U64(_b, Offsets.Sequence); set => Le.U64(_b, Offsets.Sequence, value); }
    /// <summary>btrfs_inode_item.atime: last access time.</summary>
    public Timespec Atime { get => Timespec.Read(_b[Offsets.Atime..]); set => value.Write(_b[Offsets.Atime..]); }
    /// <summary>btrfs_inode_item.ctime: last inode change time.</summary>
    public Timespec Ctime { get => Timespec.Read(_b[Offsets.Ctime..]); set => value.Write(_b[Offsets.Ctime..]); }
    /// <summary>btrfs_inode_item.mtime: last data modification time.</summary>
    public Timespec Mtime { get => Timespec.Read(_b[Offsets.Mtime..]); set => value.Write(_b[Offsets.Mtime..]); }
    /// <summary>btrfs_inode_item.otime: creation time.</summary>
    public Timespec Otime { get => Timespec.Read(_b[Offsets.Otime..]); set => value.Write(_b[Offsets.Otime..]); }

    /// <summary>The S_IF* file type bits of st_mode (S_IFMT is their mask).</summary>
    public const uint SIfMt = 0xF000, SIfDir = 0x4000, SIfReg = 0x8000, SIfLnk = 0xA000, SIfIfo = 0x1000, SIfChr = 0x2000, SIfBlk = 0x6000, SIfSock = 0xC000;
    /// <summary>True when the mode is a directory (S_IFDIR).</summary>
    public bool IsDir => (Mode & SIfMt) == SIfDir;
    /// <summary>True when the mode is a regular file (S_IFREG).</summary>
    public bool IsReg => (Mode & SIfMt) == SIfReg;
    /// <summary>True when the mode is a symbolic link (S_IFLNK).</summary>
    public bool IsSymlink => (Mode & SIfMt) == SIfLnk;

    /// <summary>DIR_ITEM type implied by st_mode (0 when the mode has no valid type).</summary>
    public static DirEntryType TypeFromMode(uint mode) => (mode & SIfMt) switch
    {
        SIfReg => DirEntryType.RegFile,
        SIfDir => DirEntryType.Dir,
        SIfChr => DirEntryType.ChrDev,
        SIfBlk => DirEntryType.BlkDev,
        SIfIfo => DirEntryType.Fifo,
        SIfSock => DirEntryType.Sock,
        SIfLnk => DirEntryType.Symlink,
        _ => DirEntryType.Unknown,
    };
}

/// <summary>One btrfs_inode_ref entry: index u64, name_len u16, name. An item holds one or more.</summary>
public readonly ref struct InodeRefEntry
{
    /// <summary>Bytes before the name in one btrfs_inode_ref entry: 10 (index u64, name_len u16).</summary>
    public const int HeaderSize = 10;
    /// <summary>btrfs_inode_ref.index: the DIR_INDEX key offset of this name in the parent directory.</summary>
    public readonly ulong Index;
    /// <summary>The name bytes (name_len of them), not NUL-terminated.</summary>
    public readonly ReadOnlySpan<byte> Name;
    /// <summary>An entry with the given index and name.</summary>
    public InodeRefEntry(ulong index, ReadOnlySpan<byte> name) { Index = index; Name = name; }
    /// <summary>
    /// Writes one btrfs_inode_ref entry (index and name_len little-endian, then the name) at the start of
    /// <paramref name="b"/>.
    /// </summary>
    /// <returns>The bytes written: 10 plus the name length.</returns>
    public static int Write(Span<byte> b, ulong index, ReadOnlySpan<byte> name)
    {
        Le.U64(b, 0, index);
        Le.U16(b, 8, (ushort)name.Length);
        name.CopyTo(b[HeaderSize..]);
        return HeaderSize + name.Length;
    }
}

/// <summary>Walks the entries of an INODE_REF item; reports a malformed tail instead of reading past it.</summary>
public ref struct InodeRefReader
{
    private readonly ReadOnlySpan<byte> _b;
    private int _pos;
    /// <summary>True after <see cref="Next"/> stopped at an entry whose header or name runs past the item.</summary>
    public bool Malformed { get; private set; }
    /// <summary>A reader over the payload of one INODE_REF item.</summary>
    public InodeRefReader(ReadOnlySpan<byte> item) { _b = item; _pos = 0; Malformed = false; }
    /// <summary>Reads the next entry.</summary>
    /// <returns>False at the end of the item or at a malformed entry (then <see cref="Malformed"/> is set).</returns>
    public bool Next(out InodeRefEntry e)
    {
        e = default;
        if (_pos >= _b.Length) return false;
        if (_b.Length - _pos < InodeRefEntry.HeaderSize) { Malformed = true; return false; }
        ulong index = Le.U64(_b, _pos);
        int len = Le.U16(_b, _pos + 8);
        if (_b.Length - _pos - InodeRefEntry.HeaderSize < len) { Malformed = true; return false; }
        e = new InodeRefEntry(index, _b.Slice(_pos + InodeRefEntry.HeaderSize, len));
        _pos += InodeRefEntry.HeaderSize + len;
        return true;
    }
}

/// <summary>One btrfs_inode_extref entry: parent u64, index u64, name_len u16, name.</summary>
public readonly ref struct InodeExtrefEntry
{
    /// <summary>
    /// Bytes before the name in one btrfs_inode_extref entry: 18 (parent_objectid u64, index u64, name_len u16).
    /// </summary>
    public const int HeaderSize = 18;
    /// <summary>btrfs_inode_extref.parent_objectid: the inode number of the directory holding the name.</summary>
    public readonly ulong Parent;
    /// <summary>btrfs_inode_extref.index: the DIR_INDEX key offset of this name in the parent directory.</summary>
    public readonly ulong Index;
    /// <summary>The name bytes (name_len of them), not NUL-terminated.</summary>
    public readonly ReadOnlySpan<byte> Name;
    /// <summary>An entry with the given parent directory, index and name.</summary>
    public InodeExtrefEntry(ulong parent, ulong index, ReadOnlySpan<byte> name) { Parent = parent; Index = index; Name = name; }
    /// <summary>
    /// Writes one btrfs_inode_extref entry (parent, index and name_len little-endian, then the name) at the start of
    /// <paramref name="b"/>.
    /// </summary>
    /// <returns>The bytes written: 18 plus the name length.</returns>
    public static int Write(Span<byte> b, ulong parent, ulong index, ReadOnlySpan<byte> name)
    {
        Le.U64(b, 0, parent);
        Le.U64(b, 8, index);
        Le.U16(b, 16, (ushort)name.Length);
        name.CopyTo(b[HeaderSize..]);
        return HeaderSize + name.Length;
    }
}

/// <summary>Walks the entries of an INODE_EXTREF item; reports a malformed tail instead of reading past it.</summary>
public ref struct InodeExtrefReader
{
    private readonly ReadOnlySpan<byte> _b;
    private int _pos;
    /// <summary>True after <see cref="Next"/> stopped at an entry whose header or name runs past the item.</summary>
    public bool Malformed { get; private set; }
    /// <summary>A reader over the payload of one INODE_EXTREF item.</summary>
    public InodeExtrefReader(ReadOnlySpan<byte> item) { _b = item; _pos = 0; Malformed = false; }
    /// <summary>Reads the next entry.</summary>
    /// <returns>False at the end of the item or at a malformed entry (then <see cref="Malformed"/> is set).</returns>
    public bool Next(out InodeExtrefEntry e)
    {
        e = default;
        if (_pos >= _b.Length) return false;
        if (_b.Length - _pos < InodeExtrefEntry.HeaderSize) { Malformed = true; return false; }
        ulong parent = Le.U64(_b, _pos), index = Le.U64(_b, _pos + 8);
        int len = Le.U16(_b, _pos + 16);
        if (_b.Length - _pos - InodeExtrefEntry.HeaderSize < len) { Malformed = true; return false; }
        e = new InodeExtrefEntry(parent, index, _b.Slice(_pos + InodeExtrefEntry.HeaderSize, len));
        _pos += InodeExtrefEntry.HeaderSize + len;
        return true;
    }
}

/// <summary>One btrfs_dir_item entry (DIR_ITEM, DIR_INDEX, XATTR_ITEM): 30-byte header, name, data.</summary>
public readonly ref struct DirEntry
{
    /// <summary>Bytes of a btrfs_dir_item header before the name: 30.</summary>
    public const int HeaderSize = 30;
    /// <summary>Byte offsets of btrfs_dir_item's fields; the integers there are little-endian.</summary>
    public static class Offsets
    {
        /// <summary>Offsets of location (the key), transid, data_len, name_len and type.</summary>
        public const int Location = 0, Transid = 17, DataLen = 25, NameLen = 27, Type = 29;
    }
    /// <summary>
    /// btrfs_dir_item.location: the key of what the entry names, (ino, INODE_ITEM, 0) or (subvolume id, ROOT_ITEM,
    /// 2^64-1).
    /// </summary>
    public readonly Key Location;
    /// <summary>btrfs_dir_item.transid: the transaction that created the entry.</summary>
    public readonly ulong Transid;
    /// <summary>btrfs_dir_item.type: the BTRFS_FT_* file type of the target (XATTR for an xattr item).</summary>
    public readonly DirEntryType Type;
    /// <summary>The name bytes (name_len of them); for an XATTR_ITEM, the attribute name.</summary>
    public readonly ReadOnlySpan<byte> Name;
    /// <summary>
    /// The data bytes after the name (data_len of them): an xattr's value, empty for directory entries.
    /// </summary>
    public readonly ReadOnlySpan<byte> Data;
    /// <summary>An entry with the given fields.</summary>
    public DirEntry(Key location, ulong transid, DirEntryType type, ReadOnlySpan<byte> name, ReadOnlySpan<byte> data)
    { Location = location; Transid = transid; Type = type; Name = name; Data = data; }
    /// <summary>Bytes of this entry in the item: header, name and data.</summary>
    public int TotalSize => HeaderSize + Name.Length + Data.Length;
    /// <summary>
    /// Writes one btrfs_dir_item (location key, transid, data_len, name_len, type, then name and data) at the start of
    /// <paramref name="b"/>.
    /// </summary>
    /// <returns>The bytes written: 30 plus name and data lengths.</returns>
    public static int Write(Span<byte> b, in Key location, ulong transid, DirEntryType type, ReadOnlySpan<byte> name, ReadOnlySpan<byte> data)
    {
        location.Write(b);
        Le.U64(b, Offsets.Transid, transid);
        Le.U16(b, Offsets.DataLen, (ushort)data.Length);
        Le.U16(b, Offsets.NameLen, (ushort)name.Length);
        b[Offsets.Type] = (byte)type;
        name.CopyTo(b[HeaderSize..]);
        data.CopyTo(b[(HeaderSize + name.Length)..]);
        return HeaderSize + name.Length + data.Length;
    }
}

/// <summary>
/// Walks the btrfs_dir_item entries of a DIR_ITEM, DIR_INDEX or XATTR_ITEM item; reports a malformed tail instead of
/// reading past it.
/// </summary>
public ref struct DirEntryReader
{
    private readonly ReadOnlySpan<byte> _b;
    private int _pos;
    /// <summary>
    /// True after <see cref="Next"/> stopped at an entry whose header, name or data runs past the item.
    /// </summary>
    public bool Malformed { get; private set; }
    /// <summary>A reader over the payload of one DIR_ITEM, DIR_INDEX or XATTR_ITEM item.</summary>
    public DirEntryReader(ReadOnlySpan<byte> item) { _b = item; _pos = 0; Malformed = false; }
    /// <summary>Reads the next entry.</summary>
    /// <returns>False at the end of the item or at a malformed entry (then <see cref="Malformed"/> is set).</returns>
    public bool Next(out DirEntry e)
    {
        e = default;
        if (_pos >= _b.Length) return false;
        if (_b.Length - _pos < DirEntry.HeaderSize) { Malformed = true; return false; }
        var h = _b[_pos..];
        int dataLen = Le.U16(h, DirEntry.Offsets.DataLen), nameLen = Le.U16(h, DirEntry.Offsets.NameLen);
        if (h.Length - DirEntry.HeaderSize < nameLen + dataLen) { Malformed = true; return false; }
        e = new DirEntry(Key.Read(h), Le.U64(h, DirEntry.Offsets.Transid), (DirEntryType)h[DirEntry.Offsets.Type],
            h.Slice(DirEntry.HeaderSize, nameLen), h.Slice(DirEntry.HeaderSize + nameLen, dataLen));
        _pos += DirEntry.HeaderSize + nameLen + dataLen;
        return true;
    }
}

/// <summary>btrfs_file_extent_item: 21-byte header; inline data follows it, regular/prealloc carry 32 more bytes.</summary>
public readonly ref struct FileExtentItem
{
    /// <summary>
    /// Bytes of the btrfs_file_extent_item header (generation to type): 21; an inline extent's data follows it.
    /// </summary>
    public const int HeaderSize = 21;
    /// <summary>Bytes of a regular or prealloc btrfs_file_extent_item: 53.</summary>
    public const int Size = 53;
    /// <summary>Byte offsets of btrfs_file_extent_item's fields; the integers there are little-endian.</summary>
    public static class Offsets
    {
        /// <summary>Offsets of generation, ram_bytes, compression, encryption, other_encoding and type.</summary>
        public const int Generation = 0, RamBytes = 8, Compression = 16, Encryption = 17, OtherEncoding = 18, Type = 20;
        /// <summary>
        /// Offsets of disk_bytenr, disk_num_bytes, offset and num_bytes (regular and prealloc extents only).
        /// </summary>
        public const int DiskBytenr = 21, DiskNumBytes = 29, Offset = 37, NumBytes = 45;
    }
    private readonly Span<byte> _b;
    /// <summary>A view of the whole item <paramref name="b"/>.</summary>
    /// <exception cref="InvalidDataException"><paramref name="b"/> is shorter than the 21-byte header.</exception>
    public FileExtentItem(Span<byte> b)
    {
        if (b.Length < HeaderSize) throw new InvalidDataException($"file extent item too short: {b.Length} < {HeaderSize}");
        _b = b;
    }
    /// <summary>The item's size in bytes (for an inline extent, 21 plus the inline data).</summary>
    public int ItemSize => _b.Length;
    /// <summary>btrfs_file_extent_item.generation: the transaction that wrote the extent.</summary>
    public ulong Generation { get => Le.U64(_b, Offsets.Generation); set => Le.U64(_b, Offsets.Generation, value); }
    /// <summary>
    /// btrfs_file_extent_item.ram_bytes: the extent's uncompressed size in bytes (for inline, the data length).
    /// </summary>
    public ulong RamBytes { get => Le.U64(_b, Offsets.RamBytes); set => Le.U64(_b, Offsets.RamBytes, value); }
    /// <summary>btrfs_file_extent_item.compression: BTRFS_COMPRESS_* (0 none).</summary>
    public byte Compression { get => _b[Offsets.Compression]; set => _b[Offsets.Compression] = value; }
    /// <summary>btrfs_file_extent_item.encryption: always 0.</summary>
    public byte Encryption { get => _b[Offsets.Encryption]; set => _b[Offsets.Encryption] = value; }
    /// <summary>btrfs_file_extent_item.other_encoding: always 0.</summary>
    public ushort OtherEncoding { get => Le.U16(_b, Offsets.OtherEncoding); set => Le.U16(_b, Offsets.OtherEncoding, value); }
    /// <summary>btrfs_file_extent_item.type: inline, regular or prealloc.</summary>
    public FileExtentType Type { get => (FileExtentType)_b[Offsets.Type]; set => _b[Offsets.Type] = (byte)value; }
    /// <summary>True when the item is long enough (53 bytes) to hold the disk_bytenr to num_bytes fields.</summary>
    public bool HasBody => _b.Length >= Size;

    /// <summary>
    /// The data extent an EXTENT_DATA item references: false for an inline extent, a hole (bytenr 0) or an item too
    /// short to hold one. <paramref name="extentOffset"/> is the item's offset into the extent (the backref's file
    /// offset is the key offset minus it).
    /// </summary>
    public static bool TryGetDataRef(Span<byte> item, out ulong diskBytenr, out ulong diskNumBytes, out ulong extentOffset)
    {
        diskBytenr = diskNumBytes = extentOffset = 0;
        if (item.Length < Size) return false;
        var fe = new FileExtentItem(item);
        if (fe.Type == FileExtentType.Inline || fe.DiskBytenr == 0) return false;
        (diskBytenr, diskNumBytes, extentOffset) = (fe.DiskBytenr, fe.DiskNumBytes, fe.Offset);
        return true;
    }
    /// <summary>
    /// btrfs_file_extent_item.disk_bytenr: logical address of the data extent in bytes; 0 for a hole.
    /// </summary>
    public ulong DiskBytenr { get => Le.U64(_b, Offsets.DiskBytenr); set => Le.U64(_b, Offsets.DiskBytenr, value); }
    /// <summary>btrfs_file_extent_item.disk_num_bytes: size of the data extent on disk in bytes.</summary>
    public ulong DiskNumBytes { get => Le.U64(_b, Offsets.DiskNumBytes); set => Le.U64(_b, Offsets.DiskNumBytes, value); }
    /// <summary>
    /// btrfs_file_extent_item.offset: where in the extent (bytes, uncompressed) this file range starts.
    /// </summary>
    public ulong Offset { get => Le.U64(_b, Offsets.Offset); set => Le.U64(_b, Offsets.Offset, value); }
    /// <summary>btrfs_file_extent_item.num_bytes: bytes of the file this item covers.</summary>
    public ulong NumBytes { get => Le.U64(_b, Offsets.NumBytes); set => Le.U64(_b, Offsets.NumBytes, value); }
    /// <summary>The inline data: every byte after the 21-byte header.</summary>
    public Span<byte> InlineData => _b[HeaderSize..];
}

/// <summary>btrfs_root_item (439 bytes; 239 for the legacy layout): key (tree id, ROOT_ITEM, 0 or snapshot transid).</summary>
public readonly ref struct RootItem
{
    /// <summary>Bytes of the current btrfs_root_item: 439.</summary>
    public const int Size = 439;
    /// <summary>Bytes of the legacy btrfs_root_item, before generation_v2 and the uuid and time fields: 239.</summary>
    public const int LegacySize = 239;
    /// <summary>BTRFS_ROOT_SUBVOL_RDONLY in btrfs_root_item.flags: a read-only subvolume.</summary>
    public const ulong FlagReadOnly = 0x1;
    /// <summary>Byte offsets of btrfs_root_item's fields; the integers there are little-endian.</summary>
    public static class Offsets
    {
        /// <summary>
        /// Offsets of the embedded inode item, generation, root_dirid, bytenr, byte_limit and bytes_used.
        /// </summary>
        public const int Inode = 0, Generation = 160, RootDirId = 168, Bytenr = 176, ByteLimit = 184, BytesUsed = 192;
        /// <summary>Offsets of last_snapshot, flags, refs, drop_progress, drop_level and level.</summary>
        public const int LastSnapshot = 200, Flags = 208, Refs = 216, DropProgress = 220, DropLevel = 237, Level = 238;
        /// <summary>Offsets of generation_v2 and the uuid, parent_uuid and received_uuid fields.</summary>
        public const int GenerationV2 = 239, Uuid = 247, ParentUuid = 263, ReceivedUuid = 279;
        /// <summary>Offsets of ctransid, otransid, stransid and rtransid.</summary>
        public const int Ctransid = 295, Otransid = 303, Stransid = 311, Rtransid = 319;
        /// <summary>Offsets of the ctime, otime, stime and rtime timespecs and the reserved area.</summary>
        public const int Ctime = 327, Otime = 339, Stime = 351, Rtime = 363, Reserved = 375;
    }
    private readonly Span<byte> _b;
    /// <summary>A view of the whole item <paramref name="b"/> (legacy or current layout).</summary>
    /// <exception cref="InvalidDataException"><paramref name="b"/> is shorter than 239 bytes.</exception>
    public RootItem(Span<byte> b)
    {
        if (b.Length < LegacySize) throw new InvalidDataException($"root item too short: {b.Length} < {LegacySize}");
        _b = b;
    }
    /// <summary>True for the legacy 239-byte layout; its extended fields then read as zero.</summary>
    public bool IsLegacy => _b.Length < Size;
    /// <summary>btrfs_root_item.inode: the embedded inode item (only its flags matter to the kernel).</summary>
    public InodeItem Inode => new(_b[..InodeItem.Size]);
    /// <summary>btrfs_root_item.generation: the transaction that last changed the root.</summary>
    public ulong Generation { get => Le.U64(_b, Offsets.Generation); set => Le.U64(_b, Offsets.Generation, value); }
    /// <summary>
    /// btrfs_root_item.root_dirid: the inode number of the tree's root directory (256 for subvolumes).
    /// </summary>
    public ulong RootDirId { get => Le.U64(_b, Offsets.RootDirId); set => Le.U64(_b, Offsets.RootDirId, value); }
    /// <summary>btrfs_root_item.bytenr: logical address of the tree's root block.</summary>
    public ulong Bytenr { get => Le.U64(_b, Offsets.Bytenr); set => Le.U64(_b, Offsets.Bytenr, value); }
    /// <summary>btrfs_root_item.byte_limit: unused.</summary>
    public ulong ByteLimit { get => Le.U64(_b, Offsets.ByteLimit); set => Le.U64(_b, Offsets.ByteLimit, value); }
    /// <summary>btrfs_root_item.bytes_used: bytes of tree blocks the tree owns.</summary>
    public ulong BytesUsed { get => Le.U64(_b, Offsets.BytesUsed); set => Le.U64(_b, Offsets.BytesUsed, value); }
    /// <summary>btrfs_root_item.last_snapshot: the generation of the last snapshot taken of this tree.</summary>
    public ulong LastSnapshot { get => Le.U64(_b, Offsets.LastSnapshot); set => Le.U64(_b, Offsets.LastSnapshot, value); }
    /// <summary>btrfs_root_item.flags: BTRFS_ROOT_SUBVOL_RDONLY and the other root flags.</summary>
    public ulong Flags { get => Le.U64(_b, Offsets.Flags); set => Le.U64(_b, Offsets.Flags, value); }
    /// <summary>btrfs_root_item.refs: 1 for a live subvolume, 0 once deleted.</summary>
    public uint Refs { get => Le.U32(_b, Offsets.Refs); set => Le.U32(_b, Offsets.Refs, value); }
    /// <summary>btrfs_root_item.drop_progress: the key where an interrupted subvolume deletion resumes.</summary>
    public Key DropProgress { get => Key.Read(_b[Offsets.DropProgress..]); set => value.Write(_b[Offsets.DropProgress..]); }
    /// <summary>btrfs_root_item.drop_level: the tree level where an interrupted subvolume deletion resumes.</summary>
    public byte DropLevel { get => _b[Offsets.DropLevel]; set => _b[Offsets.DropLevel] = value; }
    /// <summary>btrfs_root_item.level: the level of the root block.</summary>
    public byte Level { get => _b[Offsets.Level]; set => _b[Offsets.Level] = value; }
    /// <summary>
    /// btrfs_root_item.generation_v2: equal to generation when the extended fields are valid; 0 for the legacy layout.
    /// </summary>
    public ulong GenerationV2 { get => IsLegacy ? 0 : Le.U64(_b, Offsets.GenerationV2); set => Le.U64(_b, Offsets.GenerationV2, value); }
    /// <summary>btrfs_root_item.uuid: the subvolume's uuid; empty for the legacy layout.</summary>
    public Guid Uuid { get => IsLegacy ? Guid.Empty : Le.Uuid(_b, Offsets.Uuid); set => Le.Uuid(_b, Offsets.Uuid, value); }
    /// <summary>
    /// btrfs_root_item.parent_uuid: the uuid of the subvolume a snapshot was taken of; empty otherwise.
    /// </summary>
    public Guid ParentUuid { get => IsLegacy ? Guid.Empty : Le.Uuid(_b, Offsets.ParentUuid); set => Le.Uuid(_b, Offsets.ParentUuid, value); }
    /// <summary>btrfs_root_item.received_uuid: set by btrfs receive; empty otherwise.</summary>
    public Guid ReceivedUuid { get => IsLegacy ? Guid.Empty : Le.Uuid(_b, Offsets.ReceivedUuid); set => Le.Uuid(_b, Offsets.ReceivedUuid, value); }
    /// <summary>
    /// btrfs_root_item.ctransid: the transaction of the last change in the subvolume; 0 for the legacy layout.
    /// </summary>
    public ulong Ctransid { get => IsLegacy ? 0 : Le.U64(_b, Offsets.Ctransid); set => Le.U64(_b, Offsets.Ctransid, value); }
    /// <summary>
    /// btrfs_root_item.otransid: the transaction that created the subvolume; 0 for the legacy layout.
    /// </summary>
    public ulong Otransid { get => IsLegacy ? 0 : Le.U64(_b, Offsets.Otransid); set => Le.U64(_b, Offsets.Otransid, value); }
    /// <summary>btrfs_root_item.stransid: the send transaction (btrfs receive); 0 otherwise.</summary>
    public ulong Stransid { get => IsLegacy ? 0 : Le.U64(_b, Offsets.Stransid); set => Le.U64(_b, Offsets.Stransid, value); }
    /// <summary>btrfs_root_item.rtransid: the receive transaction (btrfs receive); 0 otherwise.</summary>
    public ulong Rtransid { get => IsLegacy ? 0 : Le.U64(_b, Offsets.Rtransid); set => Le.U64(_b, Offsets.Rtransid, value); }
    /// <summary>btrfs_root_item.ctime: time of the last change in the subvolume; zero for the legacy layout.</summary>
    public Timespec Ctime { get => IsLegacy ? default : Timespec.Read(_b[Offsets.Ctime..]); set => value.Write(_b[Offsets.Ctime..]); }
    /// <summary>btrfs_root_item.otime: creation time of the subvolume; zero for the legacy layout.</summary>
    public Timespec Otime { get => IsLegacy ? default : Timespec.Read(_b[Offsets.Otime..]); set => value.Write(_b[Offsets.Otime..]); }
    /// <summary>btrfs_root_item.stime: send time (btrfs receive); zero otherwise.</summary>
    public Timespec Stime { get => IsLegacy ? default : Timespec.Read(_b[Offsets.Stime..]); set => value.Write(_b[Offsets.Stime..]); }
    /// <summary>btrfs_root_item.rtime: receive time (btrfs receive); zero otherwise.</summary>
    public Timespec Rtime { get => IsLegacy ? default : Timespec.Read(_b[Offsets.Rtime..]); set => value.Write(_b[Offsets.Rtime..]); }
}

/// <summary>btrfs_root_ref (ROOT_REF and ROOT_BACKREF): dirid u64, sequence u64, name_len u16, name.</summary>
public readonly ref struct RootRef
{
    /// <summary>Bytes of a btrfs_root_ref before the name: 18.</summary>
    public const int HeaderSize = 18;
    /// <summary>Byte offsets of btrfs_root_ref's fields; the integers there are little-endian.</summary>
    public static class Offsets
    {
        /// <summary>Offsets of dirid, sequence, name_len and the name.</summary>
        public const int DirId = 0, Sequence = 8, NameLen = 16, Name = 18;
    }
    private readonly Span<byte> _b;
    /// <summary>A view of the whole item <paramref name="b"/>.</summary>
    /// <exception cref="InvalidDataException"><paramref name="b"/> is shorter than 18 bytes.</exception>
    public RootRef(Span<byte> b)
    {
        if (b.Length < HeaderSize) throw new InvalidDataException($"root ref too short: {b.Length} < {HeaderSize}");
        _b = b;
    }
    /// <summary>
    /// btrfs_root_ref.dirid: the inode number of the directory, in the parent subvolume, that holds the subvolume's
    /// name.
    /// </summary>
    public ulong DirId { get => Le.U64(_b, Offsets.DirId); set => Le.U64(_b, Offsets.DirId, value); }
    /// <summary>btrfs_root_ref.sequence: the DIR_INDEX key offset of that name.</summary>
    public ulong Sequence { get => Le.U64(_b, Offsets.Sequence); set => Le.U64(_b, Offsets.Sequence, value); }
    /// <summary>btrfs_root_ref.name_len: the name's length in bytes.</summary>
    public ushort NameLen { get => Le.U16(_b, Offsets.NameLen); set => Le.U16(_b, Offsets.NameLen, value); }
    /// <summary>The name, clamped to the item (a corrupt name_len never reads past it).</summary>
    public ReadOnlySpan<byte> Name => _b.Slice(HeaderSize, Math.Min(NameLen, _b.Length - HeaderSize));
    /// <summary>True when name_len fits in the item.</summary>
    public bool NameFits => HeaderSize + NameLen <= _b.Length;
}
