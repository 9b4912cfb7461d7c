namespace BtrfsLite.Format;

/// <summary>btrfs_qgroup_status_item: (0, QGROUP_STATUS, 0); 32 bytes (40 with enable_gen, kernel &gt;= 6.7).</summary>
public readonly ref struct QgroupStatusItem
{
    /// <summary>Bytes of a btrfs_qgroup_status_item without enable_gen: 32.</summary>
    public const int Size = 32;
    /// <summary>Bytes of a btrfs_qgroup_status_item with enable_gen: 40.</summary>
    public const int SizeWithEnableGen = 40;
    /// <summary>BTRFS_QGROUP_STATUS_VERSION: 1.</summary>
    public const ulong CurrentVersion = 1;
    /// <summary>Byte offsets of btrfs_qgroup_status_item's fields; the integers there are little-endian.</summary>
    public static class Offsets
    {
        /// <summary>Offsets of version, generation, flags, rescan and enable_gen.</summary>
        public const int Version = 0, Generation = 8, Flags = 16, Rescan = 24, EnableGen = 32;
    }
    private readonly Span<byte> _b;
    /// <summary>A view of the whole item <paramref name="b"/> (32 or 40 bytes).</summary>
    /// <exception cref="InvalidDataException"><paramref name="b"/> is shorter than 32 bytes.</exception>
    public QgroupStatusItem(Span<byte> b)
    {
        if (b.Length < Size) throw new InvalidDataException($"qgroup status item too short: {b.Length} < {Size}");
        _b = b;
    }
    /// <summary>btrfs_qgroup_status_item.version: 1.</summary>
    public ulong Version { get => Le.U64(_b, Offsets.Version); set => Le.U64(_b, Offsets.Version, value); }
    /// <summary>
    /// btrfs_qgroup_status_item.generation: updated at every commit with quotas on; a kernel that finds it differing
    /// from the superblock's generation at mount marks the numbers inconsistent.
    /// </summary>
    public ulong Generation { get => Le.U64(_b, Offsets.Generation); set => Le.U64(_b, Offsets.Generation, value); }
    /// <summary>btrfs_qgroup_status_item.flags: ON, RESCAN, INCONSISTENT, SIMPLE_MODE.</summary>
    public QgroupStatusFlags Flags { get => (QgroupStatusFlags)Le.U64(_b, Offsets.Flags); set => Le.U64(_b, Offsets.Flags, (ulong)value); }
    /// <summary>btrfs_qgroup_status_item.rescan: the objectid where a running rescan continues.</summary>
    public ulong Rescan { get => Le.U64(_b, Offsets.Rescan); set => Le.U64(_b, Offsets.Rescan, value); }
    /// <summary>True when the item is 40 bytes, with enable_gen.</summary>
    public bool HasEnableGen => _b.Length >= SizeWithEnableGen;
    /// <summary>
    /// btrfs_qgroup_status_item.enable_gen: the transaction simple quotas were enabled in; 0 when the item has no such
    /// field.
    /// </summary>
    public ulong EnableGen { get => HasEnableGen ? Le.U64(_b, Offsets.EnableGen) : 0; set => Le.U64(_b, Offsets.EnableGen, value); }
}

/// <summary>btrfs_qgroup_info_item (40 bytes): (0, QGROUP_INFO, qgroupid).</summary>
public readonly ref struct QgroupInfoItem
{
    /// <summary>Bytes of a btrfs_qgroup_info_item: 40.</summary>
    public const int Size = 40;
    /// <summary>Byte offsets of btrfs_qgroup_info_item's fields; the integers there are little-endian.</summary>
    public static class Offsets
    {
        /// <summary>Offsets of generation, rfer, rfer_cmpr, excl and excl_cmpr.</summary>
        public const int Generation = 0, Rfer = 8, RferCmpr = 16, Excl = 24, ExclCmpr = 32;
    }
    private readonly Span<byte> _b;
    /// <summary>A view of the whole item <paramref name="b"/>.</summary>
    /// <exception cref="InvalidDataException"><paramref name="b"/> is shorter than 40 bytes.</exception>
    public QgroupInfoItem(Span<byte> b)
    {
        if (b.Length < Size) throw new InvalidDataException($"qgroup info item too short: {b.Length} < {Size}");
        _b = b;
    }
    /// <summary>btrfs_qgroup_info_item.generation: the transaction that last changed the numbers.</summary>
    public ulong Generation { get => Le.U64(_b, Offsets.Generation); set => Le.U64(_b, Offsets.Generation, value); }
    /// <summary>btrfs_qgroup_info_item.rfer: bytes referenced by the qgroup.</summary>
    public ulong Rfer { get => Le.U64(_b, Offsets.Rfer); set => Le.U64(_b, Offsets.Rfer, value); }
    /// <summary>
    /// btrfs_qgroup_info_item.rfer_cmpr: referenced bytes after compression (BtrfsLite writes it equal to rfer).
    /// </summary>
    public ulong RferCmpr { get => Le.U64(_b, Offsets.RferCmpr); set => Le.U64(_b, Offsets.RferCmpr, value); }
    /// <summary>btrfs_qgroup_info_item.excl: bytes referenced by this qgroup alone.</summary>
    public ulong Excl { get => Le.U64(_b, Offsets.Excl); set => Le.U64(_b, Offsets.Excl, value); }
    /// <summary>
    /// btrfs_qgroup_info_item.excl_cmpr: exclusive bytes after compression (BtrfsLite writes it equal to excl).
    /// </summary>
    public ulong ExclCmpr { get => Le.U64(_b, Offsets.ExclCmpr); set => Le.U64(_b, Offsets.ExclCmpr, value); }
}

/// <summary>btrfs_qgroup_limit_item (40 bytes): (0, QGROUP_LIMIT, qgroupid).</summary>
public readonly ref struct QgroupLimitItem
{
    /// <summary>Bytes of a btrfs_qgroup_limit_item: 40.</summary>
    public const int Size = 40;
    /// <summary>Byte offsets of btrfs_qgroup_limit_item's fields; the integers there are little-endian.</summary>
    public static class Offsets
    {
        /// <summary>Offsets of flags, max_rfer, max_excl, rsv_rfer and rsv_excl.</summary>
        public const int Flags = 0, MaxRfer = 8, MaxExcl = 16, RsvRfer = 24, RsvExcl = 32;
    }
    private readonly Span<byte> _b;
    /// <summary>A view of the whole item <paramref name="b"/>.</summary>
    /// <exception cref="InvalidDataException"><paramref name="b"/> is shorter than 40 bytes.</exception>
    public QgroupLimitItem(Span<byte> b)
    {
        if (b.Length < Size) throw new InvalidDataException($"qgroup limit item too short: {b.Length} < {Size}");
        _b = b;
    }
    /// <summary>btrfs_qgroup_limit_item.flags: which limits are set.</summary>
    public QgroupLimitFlags Flags { get => (QgroupLimitFlags)Le.U64(_b, Offsets.Flags); set => Le.U64(_b, Offsets.Flags, (ulong)value); }
    /// <summary>btrfs_qgroup_limit_item.max_rfer: the referenced-bytes limit.</summary>
    public ulong MaxRfer { get => Le.U64(_b, Offsets.MaxRfer); set => Le.U64(_b, Offsets.MaxRfer, value); }
    /// <summary>btrfs_qgroup_limit_item.max_excl: the exclusive-bytes limit.</summary>
    public ulong MaxExcl { get => Le.U64(_b, Offsets.MaxExcl); set => Le.U64(_b, Offsets.MaxExcl, value); }
    /// <summary>btrfs_qgroup_limit_item.rsv_rfer: unused by the kernel.</summary>
    public ulong RsvRfer { get => Le.U64(_b, Offsets.RsvRfer); set => Le.U64(_b, Offsets.RsvRfer, value); }
    /// <summary>btrfs_qgroup_limit_item.rsv_excl: unused by the kernel.</summary>
    public ulong RsvExcl { get => Le.U64(_b, Offsets.RsvExcl); set => Le.U64(_b, Offsets.RsvExcl, value); }
}

/// <summary>btrfs_free_space_info (8 bytes): (bg start, FREE_SPACE_INFO, bg length).</summary>
public readonly ref struct FreeSpaceInfoItem
{
    /// <summary>Bytes of a btrfs_free_space_info: 8.</summary>
    public const int Size = 8;
    /// <summary>BTRFS_FREE_SPACE_USING_BITMAPS: the block group's free space is in FREE_SPACE_BITMAP items.</summary>
    public const uint FlagUsingBitmaps = 0x1;
    private readonly Span<byte> _b;
    /// <summary>A view of the whole item <paramref name="b"/>.</summary>
    /// <exception cref="InvalidDataException"><paramref name="b"/> is shorter than 8 bytes.</exception>
    public FreeSpaceInfoItem(Span<byte> b)
    {
        if (b.Length < Size) throw new InvalidDataException($"free space info too short: {b.Length} < {Size}");
        _b = b;
    }
    /// <summary>btrfs_free_space_info.extent_count: the number of free extents in the block group.</summary>
    public uint ExtentCount { get => Le.U32(_b, 0); set => Le.U32(_b, 0, value); }
    /// <summary>btrfs_free_space_info.flags: <see cref="FlagUsingBitmaps"/> or 0.</summary>
    public uint Flags { get => Le.U32(_b, 4); set => Le.U32(_b, 4, value); }
}

/// <summary>UUID tree item: (uuid bytes 0..7 LE, 251|252, uuid bytes 8..15 LE) → array of u64 subvolume ids.</summary>
public static class UuidItem
{
    /// <summary>
    /// The uuid tree key of <paramref name="uuid"/>: its first 8 bytes little-endian as objectid, the last 8 as offset.
    /// </summary>
    public static Key KeyFor(Guid uuid, ItemType type)
    {
        Span<byte> b = stackalloc byte[16];
        Le.Uuid(b, 0, uuid);
        return new Key(Le.U64(b, 0), type, Le.U64(b, 8));
    }
    /// <summary>The uuid a uuid tree key encodes (the inverse of <see cref="KeyFor"/>).</summary>
    public static Guid UuidOf(in Key k)
    {
        Span<byte> b = stackalloc byte[16];
        Le.U64(b, 0, k.ObjectId);
        Le.U64(b, 8, k.Offset);
        return Le.Uuid(b, 0);
    }
    /// <summary>The number of subvolume ids in the item (8 bytes each).</summary>
    public static int Count(ReadOnlySpan<byte> item) => item.Length / 8;
    /// <summary>Subvolume id <paramref name="i"/> of the item, little-endian.</summary>
    public static ulong SubvolId(ReadOnlySpan<byte> item, int i) => Le.U64(item, i * 8);
}
