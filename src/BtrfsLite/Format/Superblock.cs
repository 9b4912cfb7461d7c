namespace BtrfsLite.Format;

/// <summary>btrfs_super_block: 4096 bytes at 64 KiB (primary) and the mirrors.</summary>
public readonly ref struct Superblock
{
    /// <summary>Superblock flags (btrfs_super_block.flags): a btrfs-image dump carries METADUMP or METADUMP_V2.</summary>
    public const ulong FlagMetadump = 1UL << 33, FlagMetadumpV2 = 1UL << 34;

    public const int Size = 4096;
    public const long PrimaryOffset = 0x10000;
    public const ulong MagicValue = 0x4D5F53665248425F; // "_BHRfS_M"
    public const int SysChunkArrayMax = 2048;
    public const int BackupRootCount = 4;
    public const int LabelSize = 256;

    public static class Offsets
    {
        public const int Csum = 0x000;
        public const int Fsid = 0x020;
        public const int Bytenr = 0x030;
        public const int Flags = 0x038;
        public const int Magic = 0x040;
        public const int Generation = 0x048;
        public const int Root = 0x050;
        public const int ChunkRoot = 0x058;
        public const int LogRoot = 0x060;
        public const int LogRootTransid = 0x068;
        public const int TotalBytes = 0x070;
        public const int BytesUsed = 0x078;
        public const int RootDirObjectId = 0x080;
        public const int NumDevices = 0x088;
        public const int SectorSize = 0x090;
        public const int NodeSize = 0x094;
        public const int LeafSize = 0x098;
        public const int StripeSize = 0x09C;
        public const int SysChunkArraySize = 0x0A0;
        public const int ChunkRootGeneration = 0x0A4;
        public const int CompatFlags = 0x0AC;
        public const int CompatRoFlags = 0x0B4;
        public const int IncompatFlags = 0x0BC;
        public const int CsumType = 0x0C4;
        public const int RootLevel = 0x0C6;
        public const int ChunkRootLevel = 0x0C7;
        public const int LogRootLevel = 0x0C8;
        public const int DevItem = 0x0C9;
        public const int Label = 0x12B;
        public const int CacheGeneration = 0x22B;
        public const int UuidTreeGeneration = 0x233;
        public const int MetadataUuid = 0x23B;
        public const int NrGlobalRoots = 0x24B;
        public const int Reserved = 0x253;
        public const int SysChunkArray = 0x32B;
        public const int SuperRoots = 0xB2B;
        public const int Padding = 0xDCB;
    }

    private readonly Span<byte> _b;
    public Superblock(Span<byte> b)
    {
        if (b.Length < Size) throw new ArgumentException($"superblock needs {Size} bytes, got {b.Length}");
        _b = b[..Size];
    }
    public Span<byte> Bytes => _b;

    /// <summary>Mirror i offset: 16 KiB &lt;&lt; (12 i), i.e. 64 KiB, 64 MiB, 256 GiB.</summary>
    public static long MirrorOffset(int i) => i == 0 ? PrimaryOffset : 0x4000L << (12 * i);

    public uint Csum { get => Le.U32(_b, Offsets.Csum); }
    public Guid Fsid { get => Le.Uuid(_b, Offsets.Fsid); set => Le.Uuid(_b, Offsets.Fsid, value); }
    public ulong Bytenr { get => Le.U64(_b, Offsets.Bytenr); set => Le.U64(_b, Offsets.Bytenr, value); }
    public ulong Flags { get => Le.U64(_b, Offsets.Flags); set => Le.U64(_b, Offsets.Flags, value); }
    public ulong Magic { get => Le.U64(_b, Offsets.Magic); set => Le.U64(_b, Offsets.Magic, value); }
    public ulong Generation { get => Le.U64(_b, Offsets.Generation); set => Le.U64(_b, Offsets.Generation, value); }
    public ulong Root { get => Le.U64(_b, Offsets.Root); set => Le.U64(_b, Offsets.Root, value); }
    public ulong ChunkRoot { get => Le.U64(_b, Offsets.ChunkRoot); set => Le.U64(_b, Offsets.ChunkRoot, value); }
    public ulong LogRoot { get => Le.U64(_b, Offsets.LogRoot); set => Le.U64(_b, Offsets.LogRoot, value); }
    public ulong LogRootTransid { get => Le.U64(_b, Offsets.LogRootTransid); set => Le.U64(_b, Offsets.LogRootTransid, value); }
    public ulong TotalBytes { get => Le.U64(_b, Offsets.TotalBytes); set => Le.U64(_b, Offsets.TotalBytes, value); }
    public ulong BytesUsed { get => Le.U64(_b, Offsets.BytesUsed); set => Le.U64(_b, Offsets.BytesUsed, value); }
    public ulong RootDirObjectId { get => Le.U64(_b, Offsets.RootDirObjectId); set => Le.U64(_b, Offsets.RootDirObjectId, value); }
    public ulong NumDevices { get => Le.U64(_b, Offsets.NumDevices); set => Le.U64(_b, Offsets.NumDevices, value); }
    public uint SectorSize { get => Le.U32(_b, Offsets.SectorSize); set => Le.U32(_b, Offsets.SectorSize, value); }
    public uint NodeSize { get => Le.U32(_b, Offsets.NodeSize); set => Le.U32(_b, Offsets.NodeSize, value); }
    public uint LeafSize { get => Le.U32(_b, Offsets.LeafSize); set => Le.U32(_b, Offsets.LeafSize, value); }
    public uint StripeSize { get => Le.U32(_b, Offsets.StripeSize); set => Le.U32(_b, Offsets.StripeSize, value); }
    public uint SysChunkArraySize { get => Le.U32(_b, Offsets.SysChunkArraySize); set => Le.U32(_b, Offsets.SysChunkArraySize, value); }
    public ulong ChunkRootGeneration { get => Le.U64(_b, Offsets.ChunkRootGeneration); set => Le.U64(_b, Offsets.ChunkRootGeneration, value); }
    public ulong CompatFlags { get => Le.U64(_b, Offsets.CompatFlags); set => Le.U64(_b, Offsets.CompatFlags, value); }
    public CompatRoFlags CompatRoFlags { get => (CompatRoFlags)Le.U64(_b, Offsets.CompatRoFlags); set => Le.U64(_b, Offsets.CompatRoFlags, (ulong)value); }
    public IncompatFlags IncompatFlags { get => (IncompatFlags)Le.U64(_b, Offsets.IncompatFlags); set => Le.U64(_b, Offsets.IncompatFlags, (ulong)value); }
    public ushort CsumType { get => Le.U16(_b, Offsets.CsumType); set => Le.U16(_b, Offsets.CsumType, value); }
    public byte RootLevel { get => _b[Offsets.RootLevel]; set => _b[Offsets.RootLevel] = value; }
    public byte ChunkRootLevel { get => _b[Offsets.ChunkRootLevel]; set => _b[Offsets.ChunkRootLevel] = value; }
    public byte LogRootLevel { get => _b[Offsets.LogRootLevel]; set => _b[Offsets.LogRootLevel] = value; }
    public DevItem DevItem => new(_b.Slice(Offsets.DevItem, DevItem.Size));
    public Span<byte> LabelBytes => _b.Slice(Offsets.Label, LabelSize);
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
    public ulong CacheGeneration { get => Le.U64(_b, Offsets.CacheGeneration); set => Le.U64(_b, Offsets.CacheGeneration, value); }
    public ulong UuidTreeGeneration { get => Le.U64(_b, Offsets.UuidTreeGeneration); set => Le.U64(_b, Offsets.UuidTreeGeneration, value); }
    public Guid MetadataUuid { get => Le.Uuid(_b, Offsets.MetadataUuid); set => Le.Uuid(_b, Offsets.MetadataUuid, value); }
    public ulong NrGlobalRoots { get => Le.U64(_b, Offsets.NrGlobalRoots); set => Le.U64(_b, Offsets.NrGlobalRoots, value); }
    public Span<byte> SysChunkArray => _b.Slice(Offsets.SysChunkArray, SysChunkArrayMax);
    public BackupRoot BackupRoot(int i) => new(_b.Slice(Offsets.SuperRoots + i * Format.BackupRoot.Size, Format.BackupRoot.Size));

    public bool CsumMatches(out uint stored, out uint computed) => Checksums.VerifyBlockCsum(_b, out stored, out computed);
    public void StampCsum() => Checksums.StampBlockCsum(_b);
}

/// <summary>btrfs_root_backup: 168 bytes, four slots in the superblock.</summary>
public readonly ref struct BackupRoot
{
    public const int Size = 168;
    public static class Offsets
    {
        public const int TreeRoot = 0, TreeRootGen = 8, ChunkRoot = 16, ChunkRootGen = 24, ExtentRoot = 32, ExtentRootGen = 40;
        public const int FsRoot = 48, FsRootGen = 56, DevRoot = 64, DevRootGen = 72, CsumRoot = 80, CsumRootGen = 88;
        public const int TotalBytes = 96, BytesUsed = 104, NumDevices = 112, Unused = 120;
        public const int TreeRootLevel = 152, ChunkRootLevel = 153, ExtentRootLevel = 154, FsRootLevel = 155, DevRootLevel = 156, CsumRootLevel = 157;
    }
    private readonly Span<byte> _b;
    public BackupRoot(Span<byte> b) => _b = b[..Size];
    public ulong TreeRoot { get => Le.U64(_b, Offsets.TreeRoot); set => Le.U64(_b, Offsets.TreeRoot, value); }
    public ulong TreeRootGen { get => Le.U64(_b, Offsets.TreeRootGen); set => Le.U64(_b, Offsets.TreeRootGen, value); }
    public ulong ChunkRoot { get => Le.U64(_b, Offsets.ChunkRoot); set => Le.U64(_b, Offsets.ChunkRoot, value); }
    public ulong ChunkRootGen { get => Le.U64(_b, Offsets.ChunkRootGen); set => Le.U64(_b, Offsets.ChunkRootGen, value); }
    public ulong ExtentRoot { get => Le.U64(_b, Offsets.ExtentRoot); set => Le.U64(_b, Offsets.ExtentRoot, value); }
    public ulong ExtentRootGen { get => Le.U64(_b, Offsets.ExtentRootGen); set => Le.U64(_b, Offsets.ExtentRootGen, value); }
    public ulong FsRoot { get => Le.U64(_b, Offsets.FsRoot); set => Le.U64(_b, Offsets.FsRoot, value); }
    public ulong FsRootGen { get => Le.U64(_b, Offsets.FsRootGen); set => Le.U64(_b, Offsets.FsRootGen, value); }
    public ulong DevRoot { get => Le.U64(_b, Offsets.DevRoot); set => Le.U64(_b, Offsets.DevRoot, value); }
    public ulong DevRootGen { get => Le.U64(_b, Offsets.DevRootGen); set => Le.U64(_b, Offsets.DevRootGen, value); }
    public ulong CsumRoot { get => Le.U64(_b, Offsets.CsumRoot); set => Le.U64(_b, Offsets.CsumRoot, value); }
    public ulong CsumRootGen { get => Le.U64(_b, Offsets.CsumRootGen); set => Le.U64(_b, Offsets.CsumRootGen, value); }
    public ulong TotalBytes { get => Le.U64(_b, Offsets.TotalBytes); set => Le.U64(_b, Offsets.TotalBytes, value); }
    public ulong BytesUsed { get => Le.U64(_b, Offsets.BytesUsed); set => Le.U64(_b, Offsets.BytesUsed, value); }
    public ulong NumDevices { get => Le.U64(_b, Offsets.NumDevices); set => Le.U64(_b, Offsets.NumDevices, value); }
    public byte TreeRootLevel { get => _b[Offsets.TreeRootLevel]; set => _b[Offsets.TreeRootLevel] = value; }
    public byte ChunkRootLevel { get => _b[Offsets.ChunkRootLevel]; set => _b[Offsets.ChunkRootLevel] = value; }
    public byte ExtentRootLevel { get => _b[Offsets.ExtentRootLevel]; set => _b[Offsets.ExtentRootLevel] = value; }
    public byte FsRootLevel { get => _b[Offsets.FsRootLevel]; set => _b[Offsets.FsRootLevel] = value; }
    public byte DevRootLevel { get => _b[Offsets.DevRootLevel]; set => _b[Offsets.DevRootLevel] = value; }
    public byte CsumRootLevel { get => _b[Offsets.CsumRootLevel]; set => _b[Offsets.CsumRootLevel] = value; }
}
