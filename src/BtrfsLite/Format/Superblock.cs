namespace BtrfsLite.Format;

/// <summary>btrfs_super_block: 4096 bytes at 64 KiB (primary) and the mirrors.</summary>
public readonly ref struct Superblock
{
    /// <summary>Superblock flags (btrfs_super_block.flags): a btrfs-image dump carries METADUMP or METADUMP_V2.</summary>
    public const ulong FlagMetadump = 1UL << 33, FlagMetadumpV2 = 1UL << 34;

    /// <summary>Bytes of a btrfs_super_block: 4096.</summary>
    public const int Size = 4096;
    /// <summary>Byte offset of the primary superblock on the device: 64 KiB.</summary>
    public const long PrimaryOffset = 0x10000;
    /// <summary>BTRFS_MAGIC, "_BHRfS_M" read as a little-endian u64.</summary>
    public const ulong MagicValue = 0x4D5F53665248425F; // "_BHRfS_M"
    /// <summary>BTRFS_SYSTEM_CHUNK_ARRAY_SIZE: bytes reserved for sys_chunk_array, 2048.</summary>
    public const int SysChunkArrayMax = 2048;
    /// <summary>BTRFS_NUM_BACKUP_ROOTS: backup root slots in the superblock, 4.</summary>
    public const int BackupRootCount = 4;
    /// <summary>BTRFS_LABEL_SIZE: bytes of the label field, 256 (at most 255 used).</summary>
    public const int LabelSize = 256;

    /// <summary>Byte offsets of btrfs_super_block's fields; the integers there are little-endian.</summary>
    public static class Offsets
    {
        /// <summary>Offset of csum (32 bytes, crc32c in the first 4).</summary>
        public const int Csum = 0x000;
        /// <summary>Offset of fsid.</summary>
        public const int Fsid = 0x020;
        /// <summary>Offset of bytenr.</summary>
        public const int Bytenr = 0x030;
        /// <summary>Offset of flags.</summary>
        public const int Flags = 0x038;
        /// <summary>Offset of magic.</summary>
        public const int Magic = 0x040;
        /// <summary>Offset of generation.</summary>
        public const int Generation = 0x048;
        /// <summary>Offset of root (the root tree's root block).</summary>
        public const int Root = 0x050;
        /// <summary>Offset of chunk_root.</summary>
        public const int ChunkRoot = 0x058;
        /// <summary>Offset of log_root.</summary>
        public const int LogRoot = 0x060;
        /// <summary>Offset of __unused_log_root_transid.</summary>
        public const int LogRootTransid = 0x068;
        /// <summary>Offset of total_bytes.</summary>
        public const int TotalBytes = 0x070;
        /// <summary>Offset of bytes_used.</summary>
        public const int BytesUsed = 0x078;
        /// <summary>Offset of root_dir_objectid.</summary>
        public const int RootDirObjectId = 0x080;
        /// <summary>Offset of num_devices.</summary>
        public const int NumDevices = 0x088;
        /// <summary>Offset of sectorsize.</summary>
        public const int SectorSize = 0x090;
        /// <summary>Offset of nodesize.</summary>
        public const int NodeSize = 0x094;
        /// <summary>Offset of __unused_leafsize.</summary>
        public const int LeafSize = 0x098;
        /// <summary>Offset of stripesize.</summary>
        public const int StripeSize = 0x09C;
        /// <summary>Offset of sys_chunk_array_size.</summary>
        public const int SysChunkArraySize = 0x0A0;
        /// <summary>Offset of chunk_root_generation.</summary>
        public const int ChunkRootGeneration = 0x0A4;
        /// <summary>Offset of compat_flags.</summary>
        public const int CompatFlags = 0x0AC;
        /// <summary>Offset of compat_ro_flags.</summary>
        public const int CompatRoFlags = 0x0B4;
        /// <summary>Offset of incompat_flags.</summary>
        public const int IncompatFlags = 0x0BC;
        /// <summary>Offset of csum_type.</summary>
        public const int CsumType = 0x0C4;
        /// <summary>Offset of root_level.</summary>
        public const int RootLevel = 0x0C6;
        /// <summary>Offset of chunk_root_level.</summary>
        public const int ChunkRootLevel = 0x0C7;
        /// <summary>Offset of log_root_level.</summary>
        public const int LogRootLevel = 0x0C8;
        /// <summary>Offset of dev_item (a btrfs_dev_item).</summary>
        public const int DevItem = 0x0C9;
        /// <summary>Offset of label.</summary>
        public const int Label = 0x12B;
        /// <summary>Offset of cache_generation.</summary>
        public const int CacheGeneration = 0x22B;
        /// <summary>Offset of uuid_tree_generation.</summary>
        public const int UuidTreeGeneration = 0x233;
        /// <summary>Offset of metadata_uuid.</summary>
        public const int MetadataUuid = 0x23B;
        /// <summary>Offset of nr_global_roots.</summary>
        public const int NrGlobalRoots = 0x24B;
        /// <summary>Offset of the reserved area.</summary>
        public const int Reserved = 0x253;
        /// <summary>Offset of sys_chunk_array.</summary>
        public const int SysChunkArray = 0x32B;
        /// <summary>Offset of super_roots (four btrfs_root_backup).</summary>
        public const int SuperRoots = 0xB2B;
        /// <summary>Offset of the padding up to 4096 bytes.</summary>
        public const int Padding = 0xDCB;
    }

    private readonly Span<byte> _b;
    /// <summary>A view of the first 4096 bytes of <paramref name="b"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="b"/> is shorter than 4096 bytes.</exception>
    public Superblock(Span<byte> b)
    {
        if (b.Length < Size) throw new ArgumentException($"superblock needs {Size} bytes, got {b.Length}");
        _b = b[..Size];
    }
    /// <summary>The 4096 bytes of the superblock.</summary>
    public Span<byte> Bytes => _b;

    /// <summary>Mirror i offset: 16 KiB &lt;&lt; (12 i), i.e. 64 KiB, 64 MiB, 256 GiB.</summary>
    public static long MirrorOffset(int i) => i == 0 ? PrimaryOffset : 0x4000L << (12 * i);

    /// <summary>btrfs_super_block.csum: the stored crc32c of bytes 0x20 to 4096.</summary>
    public uint Csum { get => Le.U32(_b, Offsets.Csum); }
    /// <summary>btrfs_super_block.fsid: the file system's uuid.</summary>
    public Guid Fsid { get => Le.Uuid(_b, Offsets.Fsid); set => Le.Uuid(_b, Offsets.Fsid, value); }
    /// <summary>btrfs_super_block.bytenr: this copy's own byte offset on the device.</summary>
    public ulong Bytenr { get => Le.U64(_b, Offsets.Bytenr); set => Le.U64(_b, Offsets.Bytenr, value); }
    /// <summary>btrfs_super_block.flags: BTRFS_SUPER_FLAG_* (see <see cref="FlagMetadump"/>).</summary>
    public ulong Flags { get => Le.U64(_b, Offsets.Flags); set => Le.U64(_b, Offsets.Flags, value); }
    /// <summary>btrfs_super_block.magic: <see cref="MagicValue"/> in a valid superblock.</summary>
    public ulong Magic { get => Le.U64(_b, Offsets.Magic); set => Le.U64(_b, Offsets.Magic, value); }
    /// <summary>btrfs_super_block.generation: the transaction of the last commit.</summary>
    public ulong Generation { get => Le.U64(_b, Offsets.Generation); set => Le.U64(_b, Offsets.Generation, value); }
    /// <summary>btrfs_super_block.root: logical address of the root tree's root block.</summary>
    public ulong Root { get => Le.U64(_b, Offsets.Root); set => Le.U64(_b, Offsets.Root, value); }
    /// <summary>btrfs_super_block.chunk_root: logical address of the chunk tree's root block.</summary>
    public ulong ChunkRoot { get => Le.U64(_b, Offsets.ChunkRoot); set => Le.U64(_b, Offsets.ChunkRoot, value); }
    /// <summary>
    /// btrfs_super_block.log_root: logical address of the log tree root block; 0 when there is no log to replay.
    /// </summary>
    public ulong LogRoot { get => Le.U64(_b, Offsets.LogRoot); set => Le.U64(_b, Offsets.LogRoot, value); }
    /// <summary>btrfs_super_block.__unused_log_root_transid.</summary>
    public ulong LogRootTransid { get => Le.U64(_b, Offsets.LogRootTransid); set => Le.U64(_b, Offsets.LogRootTransid, value); }
    /// <summary>btrfs_super_block.total_bytes: the file system's size in bytes.</summary>
    public ulong TotalBytes { get => Le.U64(_b, Offsets.TotalBytes); set => Le.U64(_b, Offsets.TotalBytes, value); }
    /// <summary>btrfs_super_block.bytes_used: bytes allocated to data and tree block extents.</summary>
    public ulong BytesUsed { get => Le.U64(_b, Offsets.BytesUsed); set => Le.U64(_b, Offsets.BytesUsed, value); }
    /// <summary>btrfs_super_block.root_dir_objectid: 6, <see cref="ObjectIds.RootTreeDir"/>.</summary>
    public ulong RootDirObjectId { get => Le.U64(_b, Offsets.RootDirObjectId); set => Le.U64(_b, Offsets.RootDirObjectId, value); }
    /// <summary>btrfs_super_block.num_devices: the number of devices.</summary>
    public ulong NumDevices { get => Le.U64(_b, Offsets.NumDevices); set => Le.U64(_b, Offsets.NumDevices, value); }
    /// <summary>btrfs_super_block.sectorsize: the data block size in bytes.</summary>
    public uint SectorSize { get => Le.U32(_b, Offsets.SectorSize); set => Le.U32(_b, Offsets.SectorSize, value); }
    /// <summary>btrfs_super_block.nodesize: the tree block size in bytes.</summary>
    public uint NodeSize { get => Le.U32(_b, Offsets.NodeSize); set => Le.U32(_b, Offsets.NodeSize, value); }
    /// <summary>btrfs_super_block.__unused_leafsize: equal to nodesize.</summary>
    public uint LeafSize { get => Le.U32(_b, Offsets.LeafSize); set => Le.U32(_b, Offsets.LeafSize, value); }
    /// <summary>btrfs_super_block.stripesize.</summary>
    public uint StripeSize { get => Le.U32(_b, Offsets.StripeSize); set => Le.U32(_b, Offsets.StripeSize, value); }
    /// <summary>btrfs_super_block.sys_chunk_array_size: bytes used in sys_chunk_array.</summary>
    public uint SysChunkArraySize { get => Le.U32(_b, Offsets.SysChunkArraySize); set => Le.U32(_b, Offsets.SysChunkArraySize, value); }
    /// <summary>btrfs_super_block.chunk_root_generation: the transaction that wrote the chunk root.</summary>
    public ulong ChunkRootGeneration { get => Le.U64(_b, Offsets.ChunkRootGeneration); set => Le.U64(_b, Offsets.ChunkRootGeneration, value); }
    /// <summary>btrfs_super_block.compat_flags (no compat feature is defined).</summary>
    public ulong CompatFlags { get => Le.U64(_b, Offsets.CompatFlags); set => Le.U64(_b, Offsets.CompatFlags, value); }
    /// <summary>btrfs_super_block.compat_ro_flags.</summary>
    public CompatRoFlags CompatRoFlags { get => (CompatRoFlags)Le.U64(_b, Offsets.CompatRoFlags); set => Le.U64(_b, Offsets.CompatRoFlags, (ulong)value); }
    /// <summary>btrfs_super_block.incompat_flags.</summary>
    public IncompatFlags IncompatFlags { get => (IncompatFlags)Le.U64(_b, Offsets.IncompatFlags); set => Le.U64(_b, Offsets.IncompatFlags, (ulong)value); }
    /// <summary>btrfs_super_block.csum_type: 0 for crc32c.</summary>
    public ushort CsumType { get => Le.U16(_b, Offsets.CsumType); set => Le.U16(_b, Offsets.CsumType, value); }
    /// <summary>btrfs_super_block.root_level: the root tree's root level.</summary>
    public byte RootLevel { get => _b[Offsets.RootLevel]; set => _b[Offsets.RootLevel] = value; }
    /// <summary>btrfs_super_block.chunk_root_level: the chunk tree's root level.</summary>
    public byte ChunkRootLevel { get => _b[Offsets.ChunkRootLevel]; set => _b[Offsets.ChunkRootLevel] = value; }
    /// <summary>btrfs_super_block.log_root_level: the log tree's root level.</summary>
    public byte LogRootLevel { get => _b[Offsets.LogRootLevel]; set => _b[Offsets.LogRootLevel] = value; }
    /// <summary>btrfs_super_block.dev_item: a copy of this device's DEV_ITEM.</summary>
    public DevItem DevItem => new(_b.Slice(Offsets.DevItem, DevItem.Size));
    /// <summary>The 256 raw bytes of btrfs_super_block.label.</summary>
    public Span<byte> LabelBytes => _b.Slice(Offsets.Label, LabelSize);
    /// <summary>
    /// btrfs_super_block.label as UTF-8, up to the first NUL; the setter throws <see cref="ArgumentException"/> for 256
    /// bytes or more.
    /// </summary>
    public string Label
    {
        get
        {
            var raw = LabelBytes;
            int n = raw.IndexOf((byte)0);
            return System.Text.Encoding.UTF8.GetString(n < 0 ? raw : raw[..n]);
        }
        set
        {
            LabelBytes.Clear();
            int n = System.Text.Encoding.UTF8.GetBytes(value, LabelBytes);
            if (n >= LabelSize) throw new ArgumentException("label longer than 255 bytes");
        }
    }
    /// <summary>
    /// btrfs_super_block.cache_generation: the v1 space cache's generation (0 or 2^64-1 with the free space tree).
    /// </summary>
    public ulong CacheGeneration { get => Le.U64(_b, Offsets.CacheGeneration); set => Le.U64(_b, Offsets.CacheGeneration, value); }
    /// <summary>
    /// btrfs_super_block.uuid_tree_generation: the transaction that last made the uuid tree consistent.
    /// </summary>
    public ulong UuidTreeGeneration { get => Le.U64(_b, Offsets.UuidTreeGeneration); set => Le.U64(_b, Offsets.UuidTreeGeneration, value); }
    /// <summary>btrfs_super_block.metadata_uuid: the uuid tree blocks carry when METADATA_UUID is set.</summary>
    public Guid MetadataUuid { get => Le.Uuid(_b, Offsets.MetadataUuid); set => Le.Uuid(_b, Offsets.MetadataUuid, value); }
    /// <summary>btrfs_super_block.nr_global_roots (extent tree v2).</summary>
    public ulong NrGlobalRoots { get => Le.U64(_b, Offsets.NrGlobalRoots); set => Le.U64(_b, Offsets.NrGlobalRoots, value); }
    /// <summary>
    /// The 2048 bytes of btrfs_super_block.sys_chunk_array: (key, btrfs_chunk) pairs of the SYSTEM chunks,
    /// sys_chunk_array_size of them used.
    /// </summary>
    public Span<byte> SysChunkArray => _b.Slice(Offsets.SysChunkArray, SysChunkArrayMax);
    /// <summary>Backup root slot <paramref name="i"/> (0 to 3) of btrfs_super_block.super_roots.</summary>
    public BackupRoot BackupRoot(int i) => new(_b.Slice(Offsets.SuperRoots + i * Format.BackupRoot.Size, Format.BackupRoot.Size));

    /// <summary>Compares the stored csum with the crc32c of bytes 0x20 to 4096.</summary>
    /// <returns>True when they match; <paramref name="stored"/> and <paramref name="computed"/> are set either
    /// way.</returns>
    public bool CsumMatches(out uint stored, out uint computed) => Checksums.VerifyBlockCsum(_b, out stored, out computed);
    /// <summary>Stores the crc32c of bytes 0x20 to 4096 in csum (after zeroing the 32-byte csum field).</summary>
    public void StampCsum() => Checksums.StampBlockCsum(_b);
}

/// <summary>btrfs_root_backup: 168 bytes, four slots in the superblock.</summary>
public readonly ref struct BackupRoot
{
    /// <summary>Bytes of a btrfs_root_backup: 168.</summary>
    public const int Size = 168;
    /// <summary>Byte offsets of btrfs_root_backup's fields; the integers there are little-endian.</summary>
    public static class Offsets
    {
        /// <summary>
        /// Offsets of tree_root, tree_root_gen, chunk_root, chunk_root_gen, extent_root and extent_root_gen.
        /// </summary>
        public const int TreeRoot = 0, TreeRootGen = 8, ChunkRoot = 16, ChunkRootGen = 24, ExtentRoot = 32, ExtentRootGen = 40;
        /// <summary>Offsets of fs_root, fs_root_gen, dev_root, dev_root_gen, csum_root and csum_root_gen.</summary>
        public const int FsRoot = 48, FsRootGen = 56, DevRoot = 64, DevRootGen = 72, CsumRoot = 80, CsumRootGen = 88;
        /// <summary>Offsets of total_bytes, bytes_used, num_devices and the unused area.</summary>
        public const int TotalBytes = 96, BytesUsed = 104, NumDevices = 112, Unused = 120;
        /// <summary>Offsets of the root levels: tree, chunk, extent, fs, dev and csum.</summary>
        public const int TreeRootLevel = 152, ChunkRootLevel = 153, ExtentRootLevel = 154, FsRootLevel = 155, DevRootLevel = 156, CsumRootLevel = 157;
    }
    private readonly Span<byte> _b;
    /// <summary>A view of the first 168 bytes of <paramref name="b"/>.</summary>
    public BackupRoot(Span<byte> b) => _b = b[..Size];
    /// <summary>btrfs_root_backup.tree_root: logical address of the root tree's root block.</summary>
    public ulong TreeRoot { get => Le.U64(_b, Offsets.TreeRoot); set => Le.U64(_b, Offsets.TreeRoot, value); }
    /// <summary>btrfs_root_backup.tree_root_gen: its generation (the backed-up commit's transaction).</summary>
    public ulong TreeRootGen { get => Le.U64(_b, Offsets.TreeRootGen); set => Le.U64(_b, Offsets.TreeRootGen, value); }
    /// <summary>btrfs_root_backup.chunk_root: logical address of the chunk tree's root block.</summary>
    public ulong ChunkRoot { get => Le.U64(_b, Offsets.ChunkRoot); set => Le.U64(_b, Offsets.ChunkRoot, value); }
    /// <summary>btrfs_root_backup.chunk_root_gen: its generation.</summary>
    public ulong ChunkRootGen { get => Le.U64(_b, Offsets.ChunkRootGen); set => Le.U64(_b, Offsets.ChunkRootGen, value); }
    /// <summary>btrfs_root_backup.extent_root: logical address of the extent tree's root block.</summary>
    public ulong ExtentRoot { get => Le.U64(_b, Offsets.ExtentRoot); set => Le.U64(_b, Offsets.ExtentRoot, value); }
    /// <summary>btrfs_root_backup.extent_root_gen: its generation.</summary>
    public ulong ExtentRootGen { get => Le.U64(_b, Offsets.ExtentRootGen); set => Le.U64(_b, Offsets.ExtentRootGen, value); }
    /// <summary>btrfs_root_backup.fs_root: logical address of the top-level subvolume tree's root block.</summary>
    public ulong FsRoot { get => Le.U64(_b, Offsets.FsRoot); set => Le.U64(_b, Offsets.FsRoot, value); }
    /// <summary>btrfs_root_backup.fs_root_gen: its generation.</summary>
    public ulong FsRootGen { get => Le.U64(_b, Offsets.FsRootGen); set => Le.U64(_b, Offsets.FsRootGen, value); }
    /// <summary>btrfs_root_backup.dev_root: logical address of the device tree's root block.</summary>
    public ulong DevRoot { get => Le.U64(_b, Offsets.DevRoot); set => Le.U64(_b, Offsets.DevRoot, value); }
    /// <summary>btrfs_root_backup.dev_root_gen: its generation.</summary>
    public ulong DevRootGen { get => Le.U64(_b, Offsets.DevRootGen); set => Le.U64(_b, Offsets.DevRootGen, value); }
    /// <summary>btrfs_root_backup.csum_root: logical address of the checksum tree's root block.</summary>
    public ulong CsumRoot { get => Le.U64(_b, Offsets.CsumRoot); set => Le.U64(_b, Offsets.CsumRoot, value); }
    /// <summary>btrfs_root_backup.csum_root_gen: its generation.</summary>
    public ulong CsumRootGen { get => Le.U64(_b, Offsets.CsumRootGen); set => Le.U64(_b, Offsets.CsumRootGen, value); }
    /// <summary>btrfs_root_backup.total_bytes: the superblock's total_bytes at that commit.</summary>
    public ulong TotalBytes { get => Le.U64(_b, Offsets.TotalBytes); set => Le.U64(_b, Offsets.TotalBytes, value); }
    /// <summary>btrfs_root_backup.bytes_used: the superblock's bytes_used at that commit.</summary>
    public ulong BytesUsed { get => Le.U64(_b, Offsets.BytesUsed); set => Le.U64(_b, Offsets.BytesUsed, value); }
    /// <summary>btrfs_root_backup.num_devices: the superblock's num_devices at that commit.</summary>
    public ulong NumDevices { get => Le.U64(_b, Offsets.NumDevices); set => Le.U64(_b, Offsets.NumDevices, value); }
    /// <summary>btrfs_root_backup.tree_root_level.</summary>
    public byte TreeRootLevel { get => _b[Offsets.TreeRootLevel]; set => _b[Offsets.TreeRootLevel] = value; }
    /// <summary>btrfs_root_backup.chunk_root_level.</summary>
    public byte ChunkRootLevel { get => _b[Offsets.ChunkRootLevel]; set => _b[Offsets.ChunkRootLevel] = value; }
    /// <summary>btrfs_root_backup.extent_root_level.</summary>
    public byte ExtentRootLevel { get => _b[Offsets.ExtentRootLevel]; set => _b[Offsets.ExtentRootLevel] = value; }
    /// <summary>btrfs_root_backup.fs_root_level.</summary>
    public byte FsRootLevel { get => _b[Offsets.FsRootLevel]; set => _b[Offsets.FsRootLevel] = value; }
    /// <summary>btrfs_root_backup.dev_root_level.</summary>
    public byte DevRootLevel { get => _b[Offsets.DevRootLevel]; set => _b[Offsets.DevRootLevel] = value; }
    /// <summary>btrfs_root_backup.csum_root_level.</summary>
    public byte CsumRootLevel { get => _b[Offsets.CsumRootLevel]; set => _b[Offsets.CsumRootLevel] = value; }
}
