namespace BtrfsLite.Format;

/// <summary>
/// btrfs_super_block.incompat_flags (BTRFS_FEATURE_INCOMPAT_*): features a kernel must know to mount at all.
/// </summary>
[Flags]
public enum IncompatFlags : ulong
{
    /// <summary>No incompat feature.</summary>
    None = 0,
    /// <summary>MIXED_BACKREF: backrefs by root or by parent block (set by every current mkfs.btrfs).</summary>
    MixedBackref = 0x1,
    /// <summary>DEFAULT_SUBVOL: the default subvolume was changed.</summary>
    DefaultSubvol = 0x2,
    /// <summary>MIXED_GROUPS: data and metadata share block groups.</summary>
    MixedGroups = 0x4,
    /// <summary>COMPRESS_LZO: LZO-compressed extents may exist.</summary>
    CompressLzo = 0x8,
    /// <summary>COMPRESS_ZSTD: zstd-compressed extents may exist.</summary>
    CompressZstd = 0x10,
    /// <summary>BIG_METADATA: tree blocks larger than the page size.</summary>
    BigMetadata = 0x20,
    /// <summary>EXTENDED_IREF: INODE_EXTREF items for inodes with many hard links.</summary>
    ExtendedIref = 0x40,
    /// <summary>RAID56: RAID5 or RAID6 block groups.</summary>
    Raid56 = 0x80,
    /// <summary>SKINNY_METADATA: tree blocks have METADATA_ITEMs keyed by level instead of EXTENT_ITEMs.</summary>
    SkinnyMetadata = 0x100,
    /// <summary>NO_HOLES: holes in files have no EXTENT_DATA items.</summary>
    NoHoles = 0x200,
    /// <summary>METADATA_UUID: tree blocks carry btrfs_super_block.metadata_uuid instead of the fsid.</summary>
    MetadataUuid = 0x400,
    /// <summary>RAID1C34: RAID1C3 or RAID1C4 block groups.</summary>
    Raid1C34 = 0x800,
    /// <summary>ZONED: zoned block device layout.</summary>
    Zoned = 0x1000,
    /// <summary>EXTENT_TREE_V2: the experimental extent tree v2.</summary>
    ExtentTreeV2 = 0x2000,
    /// <summary>RAID_STRIPE_TREE: the RAID stripe tree exists.</summary>
    RaidStripeTree = 0x4000,
    /// <summary>SIMPLE_QUOTA: squota, qgroups accounted by extent owner.</summary>
    SimpleQuota = 0x10000,
}

/// <summary>
/// btrfs_super_block.compat_ro_flags (BTRFS_FEATURE_COMPAT_RO_*): features a kernel must know to mount read-write.
/// </summary>
[Flags]
public enum CompatRoFlags : ulong
{
    /// <summary>No compat_ro feature.</summary>
    None = 0,
    /// <summary>FREE_SPACE_TREE: free space is tracked in the free space tree (space cache v2).</summary>
    FreeSpaceTree = 0x1,
    /// <summary>FREE_SPACE_TREE_VALID: the free space tree is complete and consistent.</summary>
    FreeSpaceTreeValid = 0x2,
    /// <summary>VERITY: fs-verity files may exist.</summary>
    Verity = 0x4,
    /// <summary>BLOCK_GROUP_TREE: block group items live in the block group tree instead of the extent tree.</summary>
    BlockGroupTree = 0x8,
}

/// <summary>
/// BTRFS_BLOCK_GROUP_*: the type and RAID profile of a chunk or block group (btrfs_chunk.type,
/// btrfs_block_group_item.flags).
/// </summary>
[Flags]
public enum BlockGroupFlags : ulong
{
    /// <summary>No flag (single profile, no type).</summary>
    None = 0,
    /// <summary>DATA: file data.</summary>
    Data = 0x1,
    /// <summary>SYSTEM: the chunk tree.</summary>
    System = 0x2,
    /// <summary>METADATA: tree blocks.</summary>
    Metadata = 0x4,
    /// <summary>RAID0 profile.</summary>
    Raid0 = 0x8,
    /// <summary>RAID1 profile (two copies).</summary>
    Raid1 = 0x10,
    /// <summary>DUP profile (two copies on one device).</summary>
    Dup = 0x20,
    /// <summary>RAID10 profile.</summary>
    Raid10 = 0x40,
    /// <summary>RAID5 profile.</summary>
    Raid5 = 0x80,
    /// <summary>RAID6 profile.</summary>
    Raid6 = 0x100,
    /// <summary>RAID1C3 profile (three copies).</summary>
    Raid1C3 = 0x200,
    /// <summary>RAID1C4 profile (four copies).</summary>
    Raid1C4 = 0x400,
    /// <summary>The type bits: DATA, SYSTEM and METADATA.</summary>
    TypeMask = Data | System | Metadata,
    /// <summary>The profile bits (none set: single).</summary>
    ProfileMask = Raid0 | Raid1 | Dup | Raid10 | Raid5 | Raid6 | Raid1C3 | Raid1C4,
}

/// <summary>btrfs_extent_item.flags (BTRFS_EXTENT_FLAG_* and BTRFS_BLOCK_FLAG_FULL_BACKREF).</summary>
[Flags]
public enum ExtentFlags : ulong
{
    /// <summary>No flag.</summary>
    None = 0,
    /// <summary>EXTENT_FLAG_DATA: a data extent.</summary>
    Data = 0x1,
    /// <summary>EXTENT_FLAG_TREE_BLOCK: a tree block.</summary>
    TreeBlock = 0x2,
    /// <summary>
    /// BLOCK_FLAG_FULL_BACKREF: the tree block's children are referenced by parent (shared refs), not by root.
    /// </summary>
    FullBackref = 0x100,
}

/// <summary>btrfs_inode_item.flags (BTRFS_INODE_*).</summary>
[Flags]
public enum InodeFlags : ulong
{
    /// <summary>No flag.</summary>
    None = 0,
    /// <summary>NODATASUM: the file's data has no checksums.</summary>
    NoDataSum = 0x1,
    /// <summary>NODATACOW: the file's data is overwritten in place (chattr +C).</summary>
    NoDataCow = 0x2,
    /// <summary>READONLY.</summary>
    ReadOnly = 0x4,
    /// <summary>NOCOMPRESS: never compress the file's data.</summary>
    NoCompress = 0x8,
    /// <summary>PREALLOC: the file has preallocated extents.</summary>
    Prealloc = 0x10,
    /// <summary>SYNC: writes are synchronous (chattr +S).</summary>
    Sync = 0x20,
    /// <summary>IMMUTABLE (chattr +i).</summary>
    Immutable = 0x40,
    /// <summary>APPEND: append only (chattr +a).</summary>
    Append = 0x80,
    /// <summary>NODUMP (chattr +d).</summary>
    NoDump = 0x100,
    /// <summary>NOATIME (chattr +A).</summary>
    NoAtime = 0x200,
    /// <summary>DIRSYNC (chattr +D).</summary>
    DirSync = 0x400,
    /// <summary>COMPRESS: compress the file's data (chattr +c).</summary>
    Compress = 0x800,
    /// <summary>
    /// ROOT_ITEM_INIT: set in a root item's embedded inode once its extended fields were initialised.
    /// </summary>
    RootItemInit = 0x80000000,
}

/// <summary>btrfs_file_extent_item.type (BTRFS_FILE_EXTENT_*).</summary>
public enum FileExtentType : byte
{
    /// <summary>INLINE: the data is stored in the item itself.</summary>
    Inline = 0,
    /// <summary>REG: the item references a data extent.</summary>
    Regular = 1,
    /// <summary>PREALLOC: the item references a preallocated extent; it reads as zeros.</summary>
    Prealloc = 2,
}

/// <summary>btrfs_dir_item.type (BTRFS_FT_*): the file type a directory entry names.</summary>
public enum DirEntryType : byte
{
    /// <summary>FT_UNKNOWN.</summary>
    Unknown = 0,
    /// <summary>FT_REG_FILE: a regular file.</summary>
    RegFile = 1,
    /// <summary>FT_DIR: a directory (or a subvolume).</summary>
    Dir = 2,
    /// <summary>FT_CHRDEV: a character device.</summary>
    ChrDev = 3,
    /// <summary>FT_BLKDEV: a block device.</summary>
    BlkDev = 4,
    /// <summary>FT_FIFO: a named pipe.</summary>
    Fifo = 5,
    /// <summary>FT_SOCK: a socket.</summary>
    Sock = 6,
    /// <summary>FT_SYMLINK: a symbolic link.</summary>
    Symlink = 7,
    /// <summary>FT_XATTR: an extended attribute (XATTR_ITEM entries).</summary>
    Xattr = 8,
}

/// <summary>btrfs_qgroup_status_item.flags (BTRFS_QGROUP_STATUS_FLAG_*).</summary>
[Flags]
public enum QgroupStatusFlags : ulong
{
    /// <summary>No flag: quotas are off.</summary>
    None = 0,
    /// <summary>ON: quotas are enabled.</summary>
    On = 0x1,
    /// <summary>RESCAN: a rescan is in progress.</summary>
    Rescan = 0x2,
    /// <summary>INCONSISTENT: the qgroup numbers are known to be wrong until a rescan.</summary>
    Inconsistent = 0x4,
    /// <summary>SIMPLE_MODE: simple quotas (squota).</summary>
    SimpleMode = 0x8,
}

/// <summary>btrfs_qgroup_limit_item.flags (BTRFS_QGROUP_LIMIT_*): which limits are set.</summary>
[Flags]
public enum QgroupLimitFlags : ulong
{
    /// <summary>No limit.</summary>
    None = 0,
    /// <summary>MAX_RFER: max_rfer limits the referenced bytes.</summary>
    MaxRfer = 0x1,
    /// <summary>MAX_EXCL: max_excl limits the exclusive bytes.</summary>
    MaxExcl = 0x2,
    /// <summary>RSV_RFER: rsv_rfer is set (unused by the kernel).</summary>
    RsvRfer = 0x4,
    /// <summary>RSV_EXCL: rsv_excl is set (unused by the kernel).</summary>
    RsvExcl = 0x8,
    /// <summary>RFER_CMPR: the referenced limit counts compressed bytes.</summary>
    RferCmpr = 0x10,
    /// <summary>EXCL_CMPR: the exclusive limit counts compressed bytes.</summary>
    ExclCmpr = 0x20,
}

/// <summary>Which features this library reads (and which it refuses, by name).</summary>
public static class SupportedFeatures
{
    /// <summary>
    /// The incompat features this library reads and writes: MIXED_BACKREF, BIG_METADATA, EXTENDED_IREF,
    /// SKINNY_METADATA, NO_HOLES and DEFAULT_SUBVOL.
    /// </summary>
    public const IncompatFlags Incompat = IncompatFlags.MixedBackref | IncompatFlags.BigMetadata | IncompatFlags.ExtendedIref
        | IncompatFlags.SkinnyMetadata | IncompatFlags.NoHoles | IncompatFlags.DefaultSubvol;
    /// <summary>
    /// The compat_ro features this library reads and writes: FREE_SPACE_TREE, FREE_SPACE_TREE_VALID and
    /// BLOCK_GROUP_TREE.
    /// </summary>
    public const CompatRoFlags CompatRo = CompatRoFlags.FreeSpaceTree | CompatRoFlags.FreeSpaceTreeValid | CompatRoFlags.BlockGroupTree;

    /// <summary>Names of the set bits this library does not support (empty when all are).</summary>
    public static IEnumerable<string> Unsupported(IncompatFlags incompat, CompatRoFlags compatRo, ulong compat)
    {
        foreach (IncompatFlags f in Enum.GetValues<IncompatFlags>())
            if (f != 0 && (incompat & f) == f && (Incompat & f) == 0) yield return "incompat " + IncompatName(f);
        ulong unknownIncompat = (ulong)incompat & ~AllKnown<IncompatFlags>();
        if (unknownIncompat != 0) yield return $"incompat unknown bits 0x{unknownIncompat:x}";
        foreach (CompatRoFlags f in Enum.GetValues<CompatRoFlags>())
            if (f != 0 && (compatRo & f) == f && (CompatRo & f) == 0) yield return "compat_ro " + CompatRoName(f);
        ulong unknownRo = (ulong)compatRo & ~AllKnown<CompatRoFlags>();
        if (unknownRo != 0) yield return $"compat_ro unknown bits 0x{unknownRo:x}";
        if (compat != 0) yield return $"compat bits 0x{compat:x}";
    }

    private static ulong AllKnown<T>() where T : struct, Enum
    {
        ulong all = 0;
        foreach (T f in Enum.GetValues<T>()) all |= Convert.ToUInt64(f);
        return all;
    }

    /// <summary>btrfs-progs' names (dump-super prints them in upper case).</summary>
    public static string IncompatName(IncompatFlags f) => f switch
    {
        IncompatFlags.MixedBackref => "MIXED_BACKREF",
        IncompatFlags.DefaultSubvol => "DEFAULT_SUBVOL",
        IncompatFlags.MixedGroups => "MIXED_GROUPS",
        IncompatFlags.CompressLzo => "COMPRESS_LZO",
        IncompatFlags.CompressZstd => "COMPRESS_ZSTD",
        IncompatFlags.BigMetadata => "BIG_METADATA",
        IncompatFlags.ExtendedIref => "EXTENDED_IREF",
        IncompatFlags.Raid56 => "RAID56",
        IncompatFlags.SkinnyMetadata => "SKINNY_METADATA",
        IncompatFlags.NoHoles => "NO_HOLES",
        IncompatFlags.MetadataUuid => "METADATA_UUID",
        IncompatFlags.Raid1C34 => "RAID1C34",
        IncompatFlags.Zoned => "ZONED",
        IncompatFlags.ExtentTreeV2 => "EXTENT_TREE_V2",
        IncompatFlags.RaidStripeTree => "RAID_STRIPE_TREE",
        IncompatFlags.SimpleQuota => "SIMPLE_QUOTA",
        _ => f.ToString().ToUpperInvariant(),
    };

    /// <summary>
    /// btrfs-progs' name of a compat_ro flag (upper case); an unknown flag gets its enum name in upper case.
    /// </summary>
    public static string CompatRoName(CompatRoFlags f) => f switch
    {
        CompatRoFlags.FreeSpaceTree => "FREE_SPACE_TREE",
        CompatRoFlags.FreeSpaceTreeValid => "FREE_SPACE_TREE_VALID",
        CompatRoFlags.Verity => "VERITY",
        CompatRoFlags.BlockGroupTree => "BLOCK_GROUP_TREE",
        _ => f.ToString().ToUpperInvariant(),
    };
}
