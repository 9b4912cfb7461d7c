namespace BtrfsLite.Format;

/// <summary>btrfs_dev_item (98 bytes): key (1, DEV_ITEM, devid) in the chunk tree; a copy in the superblock.</summary>
public readonly ref struct DevItem
{
    /// <summary>Bytes of a btrfs_dev_item: 98.</summary>
    public const int Size = 98;
    /// <summary>Byte offsets of btrfs_dev_item's fields; the integers there are little-endian.</summary>
    public static class Offsets
    {
        /// <summary>Offsets of devid, total_bytes, bytes_used, io_align, io_width, sector_size and type.</summary>
        public const int DevId = 0, TotalBytes = 8, BytesUsed = 16, IoAlign = 24, IoWidth = 28, SectorSize = 32, Type = 36;
        /// <summary>Offsets of generation, start_offset, dev_group, seek_speed, bandwidth, uuid and fsid.</summary>
        public const int Generation = 44, StartOffset = 52, DevGroup = 60, SeekSpeed = 64, Bandwidth = 65, Uuid = 66, Fsid = 82;
    }
    private readonly Span<byte> _b;
    /// <summary>A view of the first 98 bytes of <paramref name="b"/>.</summary>
    public DevItem(Span<byte> b) => _b = b[..Size];
    /// <summary>btrfs_dev_item.devid: the device id.</summary>
    public ulong DevId { get => Le.U64(_b, Offsets.DevId); set => Le.U64(_b, Offsets.DevId, value); }
    /// <summary>btrfs_dev_item.total_bytes: the device's usable size in bytes.</summary>
    public ulong TotalBytes { get => Le.U64(_b, Offsets.TotalBytes); set => Le.U64(_b, Offsets.TotalBytes, value); }
    /// <summary>btrfs_dev_item.bytes_used: bytes of the device allocated to dev extents.</summary>
    public ulong BytesUsed { get => Le.U64(_b, Offsets.BytesUsed); set => Le.U64(_b, Offsets.BytesUsed, value); }
    /// <summary>btrfs_dev_item.io_align (the sector size).</summary>
    public uint IoAlign { get => Le.U32(_b, Offsets.IoAlign); set => Le.U32(_b, Offsets.IoAlign, value); }
    /// <summary>btrfs_dev_item.io_width (the sector size).</summary>
    public uint IoWidth { get => Le.U32(_b, Offsets.IoWidth); set => Le.U32(_b, Offsets.IoWidth, value); }
    /// <summary>btrfs_dev_item.sector_size.</summary>
    public uint SectorSize { get => Le.U32(_b, Offsets.SectorSize); set => Le.U32(_b, Offsets.SectorSize, value); }
    /// <summary>btrfs_dev_item.type (unused, 0).</summary>
    public ulong Type { get => Le.U64(_b, Offsets.Type); set => Le.U64(_b, Offsets.Type, value); }
    /// <summary>btrfs_dev_item.generation (unused by the kernel, 0).</summary>
    public ulong Generation { get => Le.U64(_b, Offsets.Generation); set => Le.U64(_b, Offsets.Generation, value); }
    /// <summary>btrfs_dev_item.start_offset (unused, 0).</summary>
    public ulong StartOffset { get => Le.U64(_b, Offsets.StartOffset); set => Le.U64(_b, Offsets.StartOffset, value); }
    /// <summary>btrfs_dev_item.dev_group (unused, 0).</summary>
    public uint DevGroup { get => Le.U32(_b, Offsets.DevGroup); set => Le.U32(_b, Offsets.DevGroup, value); }
    /// <summary>btrfs_dev_item.seek_speed (unused, 0).</summary>
    public byte SeekSpeed { get => _b[Offsets.SeekSpeed]; set => _b[Offsets.SeekSpeed] = value; }
    /// <summary>btrfs_dev_item.bandwidth (unused, 0).</summary>
    public byte Bandwidth { get => _b[Offsets.Bandwidth]; set => _b[Offsets.Bandwidth] = value; }
    /// <summary>btrfs_dev_item.uuid: the device's uuid.</summary>
    public Guid Uuid { get => Le.Uuid(_b, Offsets.Uuid); set => Le.Uuid(_b, Offsets.Uuid, value); }
    /// <summary>btrfs_dev_item.fsid: the uuid of the file system the device belongs to.</summary>
    public Guid Fsid { get => Le.Uuid(_b, Offsets.Fsid); set => Le.Uuid(_b, Offsets.Fsid, value); }
}

/// <summary>btrfs_chunk (48 bytes + 32 per stripe): key (256, CHUNK_ITEM, logical start).</summary>
public readonly ref struct ChunkItem
{
    /// <summary>Bytes of a btrfs_chunk without its stripes: 48.</summary>
    public const int Size = 48; // without stripes
    /// <summary>Byte offsets of btrfs_chunk's fields; the integers there are little-endian.</summary>
    public static class Offsets
    {
        /// <summary>
        /// Offsets of length, owner, stripe_len, type, io_align, io_width, sector_size, num_stripes, sub_stripes and
        /// the first stripe.
        /// </summary>
        public const int Length = 0, Owner = 8, StripeLen = 16, Type = 24, IoAlign = 32, IoWidth = 36, SectorSize = 40, NumStripes = 44, SubStripes = 46, Stripes = 48;
    }
    private readonly Span<byte> _b;
    /// <summary>A view of the whole item <paramref name="b"/> (header and stripes).</summary>
    /// <exception cref="InvalidDataException"><paramref name="b"/> is shorter than 48 bytes.</exception>
    public ChunkItem(Span<byte> b)
    {
        if (b.Length < Size) throw new InvalidDataException($"chunk item too short: {b.Length} < {Size}");
        _b = b;
    }
    /// <summary>Bytes of a btrfs_chunk with <paramref name="stripes"/> stripes.</summary>
    public static int SizeWith(int stripes) => Size + stripes * Format.Stripe.Size;
    /// <summary>btrfs_chunk.length: the chunk's size in logical bytes.</summary>
    public ulong Length { get => Le.U64(_b, Offsets.Length); set => Le.U64(_b, Offsets.Length, value); }
    /// <summary>btrfs_chunk.owner: the extent tree's id (2).</summary>
    public ulong Owner { get => Le.U64(_b, Offsets.Owner); set => Le.U64(_b, Offsets.Owner, value); }
    /// <summary>btrfs_chunk.stripe_len: the stripe length in bytes (64 KiB).</summary>
    public ulong StripeLen { get => Le.U64(_b, Offsets.StripeLen); set => Le.U64(_b, Offsets.StripeLen, value); }
    /// <summary>btrfs_chunk.type: the block group type and profile.</summary>
    public BlockGroupFlags Type { get => (BlockGroupFlags)Le.U64(_b, Offsets.Type); set => Le.U64(_b, Offsets.Type, (ulong)value); }
    /// <summary>btrfs_chunk.io_align (the sector size).</summary>
    public uint IoAlign { get => Le.U32(_b, Offsets.IoAlign); set => Le.U32(_b, Offsets.IoAlign, value); }
    /// <summary>btrfs_chunk.io_width (the sector size).</summary>
    public uint IoWidth { get => Le.U32(_b, Offsets.IoWidth); set => Le.U32(_b, Offsets.IoWidth, value); }
    /// <summary>btrfs_chunk.sector_size.</summary>
    public uint SectorSize { get => Le.U32(_b, Offsets.SectorSize); set => Le.U32(_b, Offsets.SectorSize, value); }
    /// <summary>btrfs_chunk.num_stripes: the number of stripes that follow.</summary>
    public ushort NumStripes { get => Le.U16(_b, Offsets.NumStripes); set => Le.U16(_b, Offsets.NumStripes, value); }
    /// <summary>btrfs_chunk.sub_stripes: stripes per mirror group (RAID10), else 1 or 0.</summary>
    public ushort SubStripes { get => Le.U16(_b, Offsets.SubStripes); set => Le.U16(_b, Offsets.SubStripes, value); }
    /// <summary>Stripes actually present in the buffer (never trusts num_stripes past the item).</summary>
    public int StripesInItem => (_b.Length - Size) / Format.Stripe.Size;
    /// <summary>
    /// Stripe <paramref name="i"/> of the chunk (no bounds check against <see cref="StripesInItem"/>).
    /// </summary>
    public Stripe Stripe(int i) => new(_b.Slice(Size + i * Format.Stripe.Size, Format.Stripe.Size));
}

/// <summary>btrfs_stripe (32 bytes).</summary>
public readonly ref struct Stripe
{
    /// <summary>Bytes of a btrfs_stripe: 32.</summary>
    public const int Size = 32;
    /// <summary>Byte offsets of btrfs_stripe's fields; the integers there are little-endian.</summary>
    public static class Offsets
    {
        /// <summary>Offsets of devid, offset and dev_uuid.</summary>
        public const int DevId = 0, Offset = 8, DevUuid = 16;
    }
    private readonly Span<byte> _b;
    /// <summary>A view of the first 32 bytes of <paramref name="b"/>.</summary>
    public Stripe(Span<byte> b) => _b = b[..Size];
    /// <summary>btrfs_stripe.devid: the device holding the stripe.</summary>
    public ulong DevId { get => Le.U64(_b, Offsets.DevId); set => Le.U64(_b, Offsets.DevId, value); }
    /// <summary>btrfs_stripe.offset: the stripe's physical byte offset on that device.</summary>
    public ulong Offset { get => Le.U64(_b, Offsets.Offset); set => Le.U64(_b, Offsets.Offset, value); }
    /// <summary>btrfs_stripe.dev_uuid: that device's uuid.</summary>
    public Guid DevUuid { get => Le.Uuid(_b, Offsets.DevUuid); set => Le.Uuid(_b, Offsets.DevUuid, value); }
}

/// <summary>btrfs_dev_extent (48 bytes): key (devid, DEV_EXTENT, physical start).</summary>
public readonly ref struct DevExtent
{
    /// <summary>Bytes of a btrfs_dev_extent: 48.</summary>
    public const int Size = 48;
    /// <summary>Byte offsets of btrfs_dev_extent's fields; the integers there are little-endian.</summary>
    public static class Offsets
    {
        /// <summary>Offsets of chunk_tree, chunk_objectid, chunk_offset, length and chunk_tree_uuid.</summary>
        public const int ChunkTree = 0, ChunkObjectId = 8, ChunkOffset = 16, Length = 24, ChunkTreeUuid = 32;
    }
    private readonly Span<byte> _b;
    /// <summary>A view of the first 48 bytes of <paramref name="b"/>.</summary>
    public DevExtent(Span<byte> b) => _b = b[..Size];
    /// <summary>btrfs_dev_extent.chunk_tree: the chunk tree's id (3).</summary>
    public ulong ChunkTree { get => Le.U64(_b, Offsets.ChunkTree); set => Le.U64(_b, Offsets.ChunkTree, value); }
    /// <summary>btrfs_dev_extent.chunk_objectid: 256, the objectid of chunk items.</summary>
    public ulong ChunkObjectId { get => Le.U64(_b, Offsets.ChunkObjectId); set => Le.U64(_b, Offsets.ChunkObjectId, value); }
    /// <summary>btrfs_dev_extent.chunk_offset: the logical start of the chunk this physical range belongs to.</summary>
    public ulong ChunkOffset { get => Le.U64(_b, Offsets.ChunkOffset); set => Le.U64(_b, Offsets.ChunkOffset, value); }
    /// <summary>btrfs_dev_extent.length: the range's size in bytes.</summary>
    public ulong Length { get => Le.U64(_b, Offsets.Length); set => Le.U64(_b, Offsets.Length, value); }
    /// <summary>btrfs_dev_extent.chunk_tree_uuid: the chunk tree's uuid.</summary>
    public Guid ChunkTreeUuid { get => Le.Uuid(_b, Offsets.ChunkTreeUuid); set => Le.Uuid(_b, Offsets.ChunkTreeUuid, value); }
}

/// <summary>btrfs_block_group_item (24 bytes): key (chunk start, BLOCK_GROUP_ITEM, length).</summary>
public readonly ref struct BlockGroupItem
{
    /// <summary>Bytes of a btrfs_block_group_item: 24.</summary>
    public const int Size = 24;
    /// <summary>Byte offsets of btrfs_block_group_item's fields; the integers there are little-endian.</summary>
    public static class Offsets
    {
        /// <summary>Offsets of used, chunk_objectid and flags.</summary>
        public const int Used = 0, ChunkObjectId = 8, Flags = 16;
    }
    private readonly Span<byte> _b;
    /// <summary>A view of the first 24 bytes of <paramref name="b"/>.</summary>
    public BlockGroupItem(Span<byte> b) => _b = b[..Size];
    /// <summary>btrfs_block_group_item.used: bytes allocated in the block group.</summary>
    public ulong Used { get => Le.U64(_b, Offsets.Used); set => Le.U64(_b, Offsets.Used, value); }
    /// <summary>btrfs_block_group_item.chunk_objectid: 256, the objectid of chunk items.</summary>
    public ulong ChunkObjectId { get => Le.U64(_b, Offsets.ChunkObjectId); set => Le.U64(_b, Offsets.ChunkObjectId, value); }
    /// <summary>btrfs_block_group_item.flags: the block group type and profile.</summary>
    public BlockGroupFlags Flags { get => (BlockGroupFlags)Le.U64(_b, Offsets.Flags); set => Le.U64(_b, Offsets.Flags, (ulong)value); }
}

/// <summary>btrfs_dev_stats_item: five u64 counters (write, read, flush, corruption, generation errors).</summary>
public readonly ref struct DevStatsItem
{
    /// <summary>Bytes of a btrfs_dev_stats_item with its five counters: 40.</summary>
    public const int Size = 40;
    private readonly Span<byte> _b;
    /// <summary>A view of the whole item <paramref name="b"/>.</summary>
    public DevStatsItem(Span<byte> b) => _b = b;
    /// <summary>The number of u64 counters in the item.</summary>
    public int Count => _b.Length / 8;
    /// <summary>
    /// Counter <paramref name="i"/>: write, read, flush, corruption or generation errors (BTRFS_DEV_STAT_*),
    /// little-endian.
    /// </summary>
    public ulong Value(int i) => Le.U64(_b, i * 8);
}
