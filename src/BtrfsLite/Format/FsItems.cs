namespace BtrfsLite.Format;

/// <summary>btrfs_inode_item (160 bytes): key (ino, INODE_ITEM, 0); also embedded in ROOT_ITEM.</summary>
public readonly ref struct InodeItem
{
    public const int Size = 160;
    public static class Offsets
    {
        public const int Generation = 0, Transid = 8, Size = 16, NBytes = 24, BlockGroup = 32, NLink = 40, Uid = 44, Gid = 48;
        public const int Mode = 52, Rdev = 56, Flags = 64, Sequence = 72, Reserved = 80, Atime = 112, Ctime = 124, Mtime = 136, Otime = 148;
    }
    private readonly Span<byte> _b;
    public InodeItem(Span<byte> b)
    {
        if (b.Length < Size) throw new InvalidDataException($"inode item too short: {b.Length} < {Size}");
        _b = b[..Size];
    }
    public ulong Generation { get => Le.U64(_b, Offsets.Generation); set => Le.U64(_b, Offsets.Generation, value); }
    public ulong Transid { get => Le.U64(_b, Offsets.Transid); set => Le.U64(_b, Offsets.Transid, value); }
    public ulong FileSize { get => Le.U64(_b, Offsets.Size); set => Le.U64(_b, Offsets.Size, value); }
    public ulong NBytes { get => Le.U64(_b, Offsets.NBytes); set => Le.U64(_b, Offsets.NBytes, value); }
    public ulong BlockGroup { get => Le.U64(_b, Offsets.BlockGroup); set => Le.U64(_b, Offsets.BlockGroup, value); }
    public uint NLink { get => Le.U32(_b, Offsets.NLink); set => Le.U32(_b, Offsets.NLink, value); }
    public uint Uid { get => Le.U32(_b, Offsets.Uid); set => Le.U32(_b, Offsets.Uid, value); }
    public uint Gid { get => Le.U32(_b, Offsets.Gid); set => Le.U32(_b, Offsets.Gid, value); }
    public uint Mode { get => Le.U32(_b, Offsets.Mode); set => Le.U32(_b, Offsets.Mode, value); }
    public ulong Rdev { get => Le.U64(_b, Offsets.Rdev); set => Le.U64(_b, Offsets.Rdev, value); }
    public InodeFlags Flags { get => (InodeFlags)Le.U64(_b, Offsets.Flags); set => Le.U64(_b, Offsets.Flags, (ulong)value); }
    public ulong Sequence { get => Le.U64(_b, Offsets.Sequence); set => Le.U64(_b, Offsets.Sequence, value); }
    public Timespec Atime { get => Timespec.Read(_b[Offsets.Atime..]); set => value.Write(_b[Offsets.Atime..]); }
    public Timespec Ctime { get => Timespec.Read(_b[Offsets.Ctime..]); set => value.Write(_b[Offsets.Ctime..]); }
    public Timespec Mtime { get => Timespec.Read(_b[Offsets.Mtime..]); set => value.Write(_b[Offsets.Mtime..]); }
    public Timespec Otime { get => Timespec.Read(_b[Offsets.Otime..]); set => value.Write(_b[Offsets.Otime..]); }

    public const uint SIfMt = 0xF000, SIfDir = 0x4000, SIfReg = 0x8000, SIfLnk = 0xA000, SIfIfo = 0x1000, SIfChr = 0x2000, SIfBlk = 0x6000, SIfSock = 0xC000;
    public bool IsDir => (Mode & SIfMt) == SIfDir;
    public bool IsReg => (Mode & SIfMt) == SIfReg;
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
    public const int HeaderSize = 10;
    public readonly ulong Index;
    public readonly ReadOnlySpan<byte> Name;
    public InodeRefEntry(ulong index, ReadOnlySpan<byte> name) { Index = index; Name = name; }
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
    public bool Malformed { get; private set; }
    public InodeRefReader(ReadOnlySpan<byte> item) { _b = item; _pos = 0; Malformed = false; }
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
    public const int HeaderSize = 18;
    public readonly ulong Parent;
    public readonly ulong Index;
    public readonly ReadOnlySpan<byte> Name;
    public InodeExtrefEntry(ulong parent, ulong index, ReadOnlySpan<byte> name) { Parent = parent; Index = index; Name = name; }
    public static int Write(Span<byte> b, ulong parent, ulong index, ReadOnlySpan<byte> name)
    {
        Le.U64(b, 0, parent);
        Le.U64(b, 8, index);
        Le.U16(b, 16, (ushort)name.Length);
        name.CopyTo(b[HeaderSize..]);
        return HeaderSize + name.Length;
    }
}

public ref struct InodeExtrefReader
{
    private readonly ReadOnlySpan<byte> _b;
    private int _pos;
    public bool Malformed { get; private set; }
    public InodeExtrefReader(ReadOnlySpan<byte> item) { _b = item; _pos = 0; Malformed = false; }
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
    public const int HeaderSize = 30;
    public static class Offsets { public const int Location = 0, Transid = 17, DataLen = 25, NameLen = 27, Type = 29; }
    public readonly Key Location;
    public readonly ulong Transid;
    public readonly DirEntryType Type;
    public readonly ReadOnlySpan<byte> Name;
    public readonly ReadOnlySpan<byte> Data;
    public DirEntry(Key location, ulong transid, DirEntryType type, ReadOnlySpan<byte> name, ReadOnlySpan<byte> data)
    { Location = location; Transid = transid; Type = type; Name = name; Data = data; }
    public int TotalSize => HeaderSize + Name.Length + Data.Length;
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

public ref struct DirEntryReader
{
    private readonly ReadOnlySpan<byte> _b;
    private int _pos;
    public bool Malformed { get; private set; }
    public DirEntryReader(ReadOnlySpan<byte> item) { _b = item; _pos = 0; Malformed = false; }
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
    public const int HeaderSize = 21;
    public const int Size = 53;
    public static class Offsets
    {
        public const int Generation = 0, RamBytes = 8, Compression = 16, Encryption = 17, OtherEncoding = 18, Type = 20;
        public const int DiskBytenr = 21, DiskNumBytes = 29, Offset = 37, NumBytes = 45;
    }
    private readonly Span<byte> _b;
    public FileExtentItem(Span<byte> b)
    {
        if (b.Length < HeaderSize) throw new InvalidDataException($"file extent item too short: {b.Length} < {HeaderSize}");
        _b = b;
    }
    public int ItemSize => _b.Length;
    public ulong Generation { get => Le.U64(_b, Offsets.Generation); set => Le.U64(_b, Offsets.Generation, value); }
    public ulong RamBytes { get => Le.U64(_b, Offsets.RamBytes); set => Le.U64(_b, Offsets.RamBytes, value); }
    public byte Compression { get => _b[Offsets.Compression]; set => _b[Offsets.Compression] = value; }
    public byte Encryption { get => _b[Offsets.Encryption]; set => _b[Offsets.Encryption] = value; }
    public ushort OtherEncoding { get => Le.U16(_b, Offsets.OtherEncoding); set => Le.U16(_b, Offsets.OtherEncoding, value); }
    public FileExtentType Type { get => (FileExtentType)_b[Offsets.Type]; set => _b[Offsets.Type] = (byte)value; }
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
    public ulong DiskBytenr { get => Le.U64(_b, Offsets.DiskBytenr); set => Le.U64(_b, Offsets.DiskBytenr, value); }
    public ulong DiskNumBytes { get => Le.U64(_b, Offsets.DiskNumBytes); set => Le.U64(_b, Offsets.DiskNumBytes, value); }
    public ulong Offset { get => Le.U64(_b, Offsets.Offset); set => Le.U64(_b, Offsets.Offset, value); }
    public ulong NumBytes { get => Le.U64(_b, Offsets.NumBytes); set => Le.U64(_b, Offsets.NumBytes, value); }
    public Span<byte> InlineData => _b[HeaderSize..];
}

/// <summary>btrfs_root_item (439 bytes; 239 for the legacy layout): key (tree id, ROOT_ITEM, 0 or snapshot transid).</summary>
public readonly ref struct RootItem
{
    public const int Size = 439;
    public const int LegacySize = 239;
    public const ulong FlagReadOnly = 0x1;
    public static class Offsets
    {
        public const int Inode = 0, Generation = 160, RootDirId = 168, Bytenr = 176, ByteLimit = 184, BytesUsed = 192;
        public const int LastSnapshot = 200, Flags = 208, Refs = 216, DropProgress = 220, DropLevel = 237, Level = 238;
        public const int GenerationV2 = 239, Uuid = 247, ParentUuid = 263, ReceivedUuid = 279;
        public const int Ctransid = 295, Otransid = 303, Stransid = 311, Rtransid = 319;
        public const int Ctime = 327, Otime = 339, Stime = 351, Rtime = 363, Reserved = 375;
    }
    private readonly Span<byte> _b;
    public RootItem(Span<byte> b)
    {
        if (b.Length < LegacySize) throw new InvalidDataException($"root item too short: {b.Length} < {LegacySize}");
        _b = b;
    }
    public bool IsLegacy => _b.Length < Size;
    public InodeItem Inode => new(_b[..InodeItem.Size]);
    public ulong Generation { get => Le.U64(_b, Offsets.Generation); set => Le.U64(_b, Offsets.Generation, value); }
    public ulong RootDirId { get => Le.U64(_b, Offsets.RootDirId); set => Le.U64(_b, Offsets.RootDirId, value); }
    public ulong Bytenr { get => Le.U64(_b, Offsets.Bytenr); set => Le.U64(_b, Offsets.Bytenr, value); }
    public ulong ByteLimit { get => Le.U64(_b, Offsets.ByteLimit); set => Le.U64(_b, Offsets.ByteLimit, value); }
    public ulong BytesUsed { get => Le.U64(_b, Offsets.BytesUsed); set => Le.U64(_b, Offsets.BytesUsed, value); }
    public ulong LastSnapshot { get => Le.U64(_b, Offsets.LastSnapshot); set => Le.U64(_b, Offsets.LastSnapshot, value); }
    public ulong Flags { get => Le.U64(_b, Offsets.Flags); set => Le.U64(_b, Offsets.Flags, value); }
    public uint Refs { get => Le.U32(_b, Offsets.Refs); set => Le.U32(_b, Offsets.Refs, value); }
    public Key DropProgress { get => Key.Read(_b[Offsets.DropProgress..]); set => value.Write(_b[Offsets.DropProgress..]); }
    public byte DropLevel { get => _b[Offsets.DropLevel]; set => _b[Offsets.DropLevel] = value; }
    public byte Level { get => _b[Offsets.Level]; set => _b[Offsets.Level] = value; }
    public ulong GenerationV2 { get => IsLegacy ? 0 : Le.U64(_b, Offsets.GenerationV2); set => Le.U64(_b, Offsets.GenerationV2, value); }
    public Guid Uuid { get => IsLegacy ? Guid.Empty : Le.Uuid(_b, Offsets.Uuid); set => Le.Uuid(_b, Offsets.Uuid, value); }
    public Guid ParentUuid { get => IsLegacy ? Guid.Empty : Le.Uuid(_b, Offsets.ParentUuid); set => Le.Uuid(_b, Offsets.ParentUuid, value); }
    public Guid ReceivedUuid { get => IsLegacy ? Guid.Empty : Le.Uuid(_b, Offsets.ReceivedUuid); set => Le.Uuid(_b, Offsets.ReceivedUuid, value); }
    public ulong Ctransid { get => IsLegacy ? 0 : Le.U64(_b, Offsets.Ctransid); set => Le.U64(_b, Offsets.Ctransid, value); }
    public ulong Otransid { get => IsLegacy ? 0 : Le.U64(_b, Offsets.Otransid); set => Le.U64(_b, Offsets.Otransid, value); }
    public ulong Stransid { get => IsLegacy ? 0 : Le.U64(_b, Offsets.Stransid); set => Le.U64(_b, Offsets.Stransid, value); }
    public ulong Rtransid { get => IsLegacy ? 0 : Le.U64(_b, Offsets.Rtransid); set => Le.U64(_b, Offsets.Rtransid, value); }
    public Timespec Ctime { get => IsLegacy ? default : Timespec.Read(_b[Offsets.Ctime..]); set => value.Write(_b[Offsets.Ctime..]); }
    public Timespec Otime { get => IsLegacy ? default : Timespec.Read(_b[Offsets.Otime..]); set => value.Write(_b[Offsets.Otime..]); }
    public Timespec Stime { get => IsLegacy ? default : Timespec.Read(_b[Offsets.Stime..]); set => value.Write(_b[Offsets.Stime..]); }
    public Timespec Rtime { get => IsLegacy ? default : Timespec.Read(_b[Offsets.Rtime..]); set => value.Write(_b[Offsets.Rtime..]); }
}

/// <summary>btrfs_root_ref (ROOT_REF and ROOT_BACKREF): dirid u64, sequence u64, name_len u16, name.</summary>
public readonly ref struct RootRef
{
    public const int HeaderSize = 18;
    public static class Offsets { public const int DirId = 0, Sequence = 8, NameLen = 16, Name = 18; }
    private readonly Span<byte> _b;
    public RootRef(Span<byte> b)
    {
        if (b.Length < HeaderSize) throw new InvalidDataException($"root ref too short: {b.Length} < {HeaderSize}");
        _b = b;
    }
    public ulong DirId { get => Le.U64(_b, Offsets.DirId); set => Le.U64(_b, Offsets.DirId, value); }
    public ulong Sequence { get => Le.U64(_b, Offsets.Sequence); set => Le.U64(_b, Offsets.Sequence, value); }
    public ushort NameLen { get => Le.U16(_b, Offsets.NameLen); set => Le.U16(_b, Offsets.NameLen, value); }
    /// <summary>The name, clamped to the item (a corrupt name_len never reads past it).</summary>
    public ReadOnlySpan<byte> Name => _b.Slice(HeaderSize, Math.Min(NameLen, _b.Length - HeaderSize));
    public bool NameFits => HeaderSize + NameLen <= _b.Length;
}
