namespace BtrfsLite.Format;

/// <summary>btrfs_qgroup_status_item: (0, QGROUP_STATUS, 0); 32 bytes (40 with enable_gen, kernel &gt;= 6.7).</summary>
public readonly ref struct QgroupStatusItem
{
    public const int Size = 32;
    public const int SizeWithEnableGen = 40;
    public const ulong CurrentVersion = 1;
    public static class Offsets { public const int Version = 0, Generation = 8, Flags = 16, Rescan = 24, EnableGen = 32; }
    private readonly Span<byte> _b;
    public QgroupStatusItem(Span<byte> b)
    {
        if (b.Length < Size) throw new InvalidDataException($"qgroup status item too short: {b.Length} < {Size}");
        _b = b;
    }
    public ulong Version { get => Le.U64(_b, Offsets.Version); set => Le.U64(_b, Offsets.Version, value); }
    public ulong Generation { get => Le.U64(_b, Offsets.Generation); set => Le.U64(_b, Offsets.Generation, value); }
    public QgroupStatusFlags Flags { get => (QgroupStatusFlags)Le.U64(_b, Offsets.Flags); set => Le.U64(_b, Offsets.Flags, (ulong)value); }
    public ulong Rescan { get => Le.U64(_b, Offsets.Rescan); set => Le.U64(_b, Offsets.Rescan, value); }
    public bool HasEnableGen => _b.Length >= SizeWithEnableGen;
    public ulong EnableGen { get => HasEnableGen ? Le.U64(_b, Offsets.EnableGen) : 0; set => Le.U64(_b, Offsets.EnableGen, value); }
}

/// <summary>btrfs_qgroup_info_item (40 bytes): (0, QGROUP_INFO, qgroupid).</summary>
public readonly ref struct QgroupInfoItem
{
    public const int Size = 40;
    public static class Offsets { public const int Generation = 0, Rfer = 8, RferCmpr = 16, Excl = 24, ExclCmpr = 32; }
    private readonly Span<byte> _b;
    public QgroupInfoItem(Span<byte> b)
    {
        if (b.Length < Size) throw new InvalidDataException($"qgroup info item too short: {b.Length} < {Size}");
        _b = b;
    }
    public ulong Generation { get => Le.U64(_b, Offsets.Generation); set => Le.U64(_b, Offsets.Generation, value); }
    public ulong Rfer { get => Le.U64(_b, Offsets.Rfer); set => Le.U64(_b, Offsets.Rfer, value); }
    public ulong RferCmpr { get => Le.U64(_b, Offsets.RferCmpr); set => Le.U64(_b, Offsets.RferCmpr, value); }
    public ulong Excl { get => Le.U64(_b, Offsets.Excl); set => Le.U64(_b, Offsets.Excl, value); }
    public ulong ExclCmpr { get => Le.U64(_b, Offsets.ExclCmpr); set => Le.U64(_b, Offsets.ExclCmpr, value); }
}

/// <summary>btrfs_qgroup_limit_item (40 bytes): (0, QGROUP_LIMIT, qgroupid).</summary>
public readonly ref struct QgroupLimitItem
{
    public const int Size = 40;
    public static class Offsets { public const int Flags = 0, MaxRfer = 8, MaxExcl = 16, RsvRfer = 24, RsvExcl = 32; }
    private readonly Span<byte> _b;
    public QgroupLimitItem(Span<byte> b)
    {
        if (b.Length < Size) throw new InvalidDataException($"qgroup limit item too short: {b.Length} < {Size}");
        _b = b;
    }
    public QgroupLimitFlags Flags { get => (QgroupLimitFlags)Le.U64(_b, Offsets.Flags); set => Le.U64(_b, Offsets.Flags, (ulong)value); }
    public ulong MaxRfer { get => Le.U64(_b, Offsets.MaxRfer); set => Le.U64(_b, Offsets.MaxRfer, value); }
    public ulong MaxExcl { get => Le.U64(_b, Offsets.MaxExcl); set => Le.U64(_b, Offsets.MaxExcl, value); }
    public ulong RsvRfer { get => Le.U64(_b, Offsets.RsvRfer); set => Le.U64(_b, Offsets.RsvRfer, value); }
    public ulong RsvExcl { get => Le.U64(_b, Offsets.RsvExcl); set => Le.U64(_b, Offsets.RsvExcl, value); }
}

/// <summary>btrfs_free_space_info (8 bytes): (bg start, FREE_SPACE_INFO, bg length).</summary>
public readonly ref struct FreeSpaceInfoItem
{
    public const int Size = 8;
    public const uint FlagUsingBitmaps = 0x1;
    private readonly Span<byte> _b;
    public FreeSpaceInfoItem(Span<byte> b)
    {
        if (b.Length < Size) throw new InvalidDataException($"free space info too short: {b.Length} < {Size}");
        _b = b;
    }
    public uint ExtentCount { get => Le.U32(_b, 0); set => Le.U32(_b, 0, value); }
    public uint Flags { get => Le.U32(_b, 4); set => Le.U32(_b, 4, value); }
}

/// <summary>UUID tree item: (uuid bytes 0..7 LE, 251|252, uuid bytes 8..15 LE) → array of u64 subvolume ids.</summary>
public static class UuidItem
{
    public static Key KeyFor(Guid uuid, ItemType type)
    {
        Span<byte> b = stackalloc byte[16];
        Le.Uuid(b, 0, uuid);
        return new Key(Le.U64(b, 0), type, Le.U64(b, 8));
    }
    public static Guid UuidOf(in Key k)
    {
        Span<byte> b = stackalloc byte[16];
        Le.U64(b, 0, k.ObjectId);
        Le.U64(b, 8, k.Offset);
        return Le.Uuid(b, 0);
    }
    public static int Count(ReadOnlySpan<byte> item) => item.Length / 8;
    public static ulong SubvolId(ReadOnlySpan<byte> item, int i) => Le.U64(item, i * 8);
}
