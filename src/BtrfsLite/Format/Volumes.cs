namespace BtrfsLite.Format;

/// <summary>btrfs_dev_item (98 bytes): key (1, DEV_ITEM, devid) in the chunk tree; a copy in the superblock.</summary>
public readonly ref struct DevItem
{
    public const int Size = 98;
    public static class Offsets
    {
        public const int DevId = 0, TotalBytes = 8, BytesUsed = 16, IoAlign = 24, IoWidth = 28, SectorSize = 32, Type = 36;
        public const int Generation = 44, StartOffset = 52, DevGroup = 60, SeekSpeed = 64, Bandwidth = 65, Uuid = 66, Fsid = 82;
    }
    private readonly Span<byte> _b;
    public DevItem(Span<byte> b) => _b = b[..Size];
    public ulong DevId { get => Le.U64(_b, Offsets.DevId); set => Le.U64(_b, Offsets.DevId, value); }
    public ulong TotalBytes { get => Le.U64(_b, Offsets.TotalBytes); set => Le.U64(_b, Offsets.TotalBytes, value); }
    public ulong BytesUsed { get => Le.U64(_b, Offsets.BytesUsed); set => Le.U64(_b, Offsets.BytesUsed, value); }
    public uint IoAlign { get => Le.U32(_b, Offsets.IoAlign); set => Le.U32(_b, Offsets.IoAlign, value); }
    public uint IoWidth { get => Le.U32(_b, Offsets.IoWidth); set => Le.U32(_b, Offsets.IoWidth, value); }
    public uint SectorSize { get => Le.U32(_b, Offsets.SectorSize); set => Le.U32(_b, Offsets.SectorSize, value); }
    public ulong Type { get => Le.U64(_b, Offsets.Type); set => Le.U64(_b, Offsets.Type, value); }
    public ulong Generation { get => Le.U64(_b, Offsets.Generation); set => Le.U64(_b, Offsets.Generation, value); }
    public ulong StartOffset { get => Le.U64(_b, Offsets.StartOffset); set => Le.U64(_b, Offsets.StartOffset, value); }
    public uint DevGroup { get => Le.U32(_b, Offsets.DevGroup); set => Le.U32(_b, Offsets.DevGroup, value); }
    public byte SeekSpeed { get => _b[Offsets.SeekSpeed]; set => _b[Offsets.SeekSpeed] = value; }
    public byte Bandwidth { get => _b[Offsets.Bandwidth]; set => _b[Offsets.Bandwidth] = value; }
    public Guid Uuid { get => Le.Uuid(_b, Offsets.Uuid); set => Le.Uuid(_b, Offsets.Uuid, value); }
    public Guid Fsid { get => Le.Uuid(_b, Offsets.Fsid); set => Le.Uuid(_b, Offsets.Fsid, value); }
}

/// <summary>btrfs_chunk (48 bytes + 32 per stripe): key (256, CHUNK_ITEM, logical start).</summary>
public readonly ref struct ChunkItem
{
    public const int Size = 48; // without stripes
    public static class Offsets
    {
        public const int Length = 0, Owner = 8, StripeLen = 16, Type = 24, IoAlign = 32, IoWidth = 36, SectorSize = 40, NumStripes = 44, SubStripes = 46, Stripes = 48;
    }
    private readonly Span<byte> _b;
    public ChunkItem(Span<byte> b)
    {
        if (b.Length < Size) throw new InvalidDataException($"chunk item too short: {b.Length} < {Size}");
        _b = b;
    }
    public static int SizeWith(int stripes) => Size + stripes * Format.Stripe.Size;
    public ulong Length { get => Le.U64(_b, Offsets.Length); set => Le.U64(_b, Offsets.Length, value); }
    public ulong Owner { get => Le.U64(_b, Offsets.Owner); set => Le.U64(_b, Offsets.Owner, value); }
    public ulong StripeLen { get => Le.U64(_b, Offsets.StripeLen); set => Le.U64(_b, Offsets.StripeLen, value); }
    public BlockGroupFlags Type { get => (BlockGroupFlags)Le.U64(_b, Offsets.Type); set => Le.U64(_b, Offsets.Type, (ulong)value); }
    public uint IoAlign { get => Le.U32(_b, Offsets.IoAlign); set => Le.U32(_b, Offsets.IoAlign, value); }
    public uint IoWidth { get => Le.U32(_b, Offsets.IoWidth); set => Le.U32(_b, Offsets.IoWidth, value); }
    public uint SectorSize { get => Le.U32(_b, Offsets.SectorSize); set => Le.U32(_b, Offsets.SectorSize, value); }
    public ushort NumStripes { get => Le.U16(_b, Offsets.NumStripes); set => Le.U16(_b, Offsets.NumStripes, value); }
    public ushort SubStripes { get => Le.U16(_b, Offsets.SubStripes); set => Le.U16(_b, Offsets.SubStripes, value); }
    /// <summary>Stripes actually present in the buffer (never trusts num_stripes past the item).</summary>
    public int StripesInItem => (_b.Length - Size) / Format.Stripe.Size;
    public Stripe Stripe(int i) => new(_b.Slice(Size + i * Format.Stripe.Size, Format.Stripe.Size));
}

/// <summary>btrfs_stripe (32 bytes).</summary>
public readonly ref struct Stripe
{
    public const int Size = 32;
    public static class Offsets { public const int DevId = 0, Offset = 8, DevUuid = 16; }
    private readonly Span<byte> _b;
    public Stripe(Span<byte> b) => _b = b[..Size];
    public ulong DevId { get => Le.U64(_b, Offsets.DevId); set => Le.U64(_b, Offsets.DevId, value); }
    public ulong Offset { get => Le.U64(_b, Offsets.Offset); set => Le.U64(_b, Offsets.Offset, value); }
    public Guid DevUuid { get => Le.Uuid(_b, Offsets.DevUuid); set => Le.Uuid(_b, Offsets.DevUuid, value); }
}

/// <summary>btrfs_dev_extent (48 bytes): key (devid, DEV_EXTENT, physical start).</summary>
public readonly ref struct DevExtent
{
    public const int Size = 48;
    public static class Offsets { public const int ChunkTree = 0, ChunkObjectId = 8, ChunkOffset = 16, Length = 24, ChunkTreeUuid = 32; }
    private readonly Span<byte> _b;
    public DevExtent(Span<byte> b) => _b = b[..Size];
    public ulong ChunkTree { get => Le.U64(_b, Offsets.ChunkTree); set => Le.U64(_b, Offsets.ChunkTree, value); }
    public ulong ChunkObjectId { get => Le.U64(_b, Offsets.ChunkObjectId); set => Le.U64(_b, Offsets.ChunkObjectId, value); }
    public ulong ChunkOffset { get => Le.U64(_b, Offsets.ChunkOffset); set => Le.U64(_b, Offsets.ChunkOffset, value); }
    public ulong Length { get => Le.U64(_b, Offsets.Length); set => Le.U64(_b, Offsets.Length, value); }
    public Guid ChunkTreeUuid { get => Le.Uuid(_b, Offsets.ChunkTreeUuid); set => Le.Uuid(_b, Offsets.ChunkTreeUuid, value); }
}

/// <summary>btrfs_block_group_item (24 bytes): key (chunk start, BLOCK_GROUP_ITEM, length).</summary>
public readonly ref struct BlockGroupItem
{
    public const int Size = 24;
    public static class Offsets { public const int Used = 0, ChunkObjectId = 8, Flags = 16; }
    private readonly Span<byte> _b;
    public BlockGroupItem(Span<byte> b) => _b = b[..Size];
    public ulong Used { get => Le.U64(_b, Offsets.Used); set => Le.U64(_b, Offsets.Used, value); }
    public ulong ChunkObjectId { get => Le.U64(_b, Offsets.ChunkObjectId); set => Le.U64(_b, Offsets.ChunkObjectId, value); }
    public BlockGroupFlags Flags { get => (BlockGroupFlags)Le.U64(_b, Offsets.Flags); set => Le.U64(_b, Offsets.Flags, (ulong)value); }
}

/// <summary>btrfs_dev_stats_item: five u64 counters (write, read, flush, corruption, generation errors).</summary>
public readonly ref struct DevStatsItem
{
    public const int Size = 40;
    private readonly Span<byte> _b;
    public DevStatsItem(Span<byte> b) => _b = b;
    public int Count => _b.Length / 8;
    public ulong Value(int i) => Le.U64(_b, i * 8);
}
