namespace BtrfsLite.Format;

/// <summary>Well-known object ids (BTRFS_*_OBJECTID). Negative ids are 64-bit two's complement.</summary>
public static class ObjectIds
{
    public const ulong DevStats = 0;
    public const ulong RootTree = 1;
    public const ulong DevItems = 1;
    public const ulong ExtentTree = 2;
    public const ulong ChunkTree = 3;
    public const ulong DevTree = 4;
    public const ulong FsTree = 5;
    public const ulong RootTreeDir = 6;
    public const ulong CsumTree = 7;
    public const ulong QuotaTree = 8;
    public const ulong UuidTree = 9;
    public const ulong FreeSpaceTree = 10;
    public const ulong BlockGroupTree = 11;
    public const ulong RaidStripeTree = 12;
    public const ulong RemapTree = 13;
    public const ulong FirstFree = 256;
    public const ulong FirstChunkTree = 256;
    public const ulong LastFree = unchecked((ulong)-256L);
    public const ulong Balance = unchecked((ulong)-4L);
    public const ulong Orphan = unchecked((ulong)-5L);
    public const ulong TreeLog = unchecked((ulong)-6L);
    public const ulong TreeLogFixup = unchecked((ulong)-7L);
    public const ulong TreeReloc = unchecked((ulong)-8L);
    public const ulong DataRelocTree = unchecked((ulong)-9L);
    public const ulong ExtentCsum = unchecked((ulong)-10L);
    public const ulong FreeSpace = unchecked((ulong)-11L);
    public const ulong FreeIno = unchecked((ulong)-12L);
    public const ulong Multiple = unchecked((ulong)-255L);
    public const ulong FirstFreeInode = 256;

    /// <summary>Subvolume ("fs") trees: 5 and 256..LAST_FREE. Only they count for qgroups.</summary>
    public static bool IsFsTree(ulong id) => id == FsTree || (id >= FirstFree && id <= LastFree);
}
