namespace BtrfsLite.Format;

[Flags]
public enum IncompatFlags : ulong
{
    None = 0,
    MixedBackref = 0x1,
    DefaultSubvol = 0x2,
    MixedGroups = 0x4,
    CompressLzo = 0x8,
    CompressZstd = 0x10,
    BigMetadata = 0x20,
    ExtendedIref = 0x40,
    Raid56 = 0x80,
    SkinnyMetadata = 0x100,
    NoHoles = 0x200,
    MetadataUuid = 0x400,
    Raid1C34 = 0x800,
    Zoned = 0x1000,
    ExtentTreeV2 = 0x2000,
    RaidStripeTree = 0x4000,
    SimpleQuota = 0x10000,
}

[Flags]
public enum CompatRoFlags : ulong
{
    None = 0,
    FreeSpaceTree = 0x1,
    FreeSpaceTreeValid = 0x2,
    Verity = 0x4,
    BlockGroupTree = 0x8,
}

[Flags]
public enum BlockGroupFlags : ulong
{
    None = 0,
    Data = 0x1,
    System = 0x2,
    Metadata = 0x4,
    Raid0 = 0x8,
    Raid1 = 0x10,
    Dup = 0x20,
    Raid10 = 0x40,
    Raid5 = 0x80,
    Raid6 = 0x100,
    Raid1C3 = 0x200,
    Raid1C4 = 0x400,
    TypeMask = Data | System | Metadata,
    ProfileMask = Raid0 | Raid1 | Dup | Raid10 | Raid5 | Raid6 | Raid1C3 | Raid1C4,
}

[Flags]
public enum ExtentFlags : ulong
{
    None = 0,
    Data = 0x1,
    TreeBlock = 0x2,
    FullBackref = 0x100,
}

[Flags]
public enum InodeFlags : ulong
{
    None = 0,
    NoDataSum = 0x1,
    NoDataCow = 0x2,
    ReadOnly = 0x4,
    NoCompress = 0x8,
    Prealloc = 0x10,
    Sync = 0x20,
    Immutable = 0x40,
    Append = 0x80,
    NoDump = 0x100,
    NoAtime = 0x200,
    DirSync = 0x400,
    Compress = 0x800,
    RootItemInit = 0x80000000,
}

public enum FileExtentType : byte { Inline = 0, Regular = 1, Prealloc = 2 }

public enum DirEntryType : byte { Unknown = 0, RegFile = 1, Dir = 2, ChrDev = 3, BlkDev = 4, Fifo = 5, Sock = 6, Symlink = 7, Xattr = 8 }

[Flags]
public enum QgroupStatusFlags : ulong { None = 0, On = 0x1, Rescan = 0x2, Inconsistent = 0x4, SimpleMode = 0x8 }

[Flags]
public enum QgroupLimitFlags : ulong { None = 0, MaxRfer = 0x1, MaxExcl = 0x2, RsvRfer = 0x4, RsvExcl = 0x8, RferCmpr = 0x10, ExclCmpr = 0x20 }

/// <summary>Which features this library reads (and which it refuses, by name).</summary>
public static class SupportedFeatures
{
    public const IncompatFlags Incompat = IncompatFlags.MixedBackref | IncompatFlags.BigMetadata | IncompatFlags.ExtendedIref
        | IncompatFlags.SkinnyMetadata | IncompatFlags.NoHoles | IncompatFlags.DefaultSubvol;
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

    public static string CompatRoName(CompatRoFlags f) => f switch
    {
        CompatRoFlags.FreeSpaceTree => "FREE_SPACE_TREE",
        CompatRoFlags.FreeSpaceTreeValid => "FREE_SPACE_TREE_VALID",
        CompatRoFlags.Verity => "VERITY",
        CompatRoFlags.BlockGroupTree => "BLOCK_GROUP_TREE",
        _ => f.ToString().ToUpperInvariant(),
    };
}
