namespace BtrfsLite.Format;

/// <summary>Well-known object ids (BTRFS_*_OBJECTID). Negative ids are 64-bit two's complement.</summary>
public static class ObjectIds
{
    /// <summary>BTRFS_DEV_STATS_OBJECTID: objectid of the device statistics items in the device tree.</summary>
    public const ulong DevStats = 0;
    /// <summary>BTRFS_ROOT_TREE_OBJECTID: the root tree, which holds the ROOT_ITEMs of the other trees.</summary>
    public const ulong RootTree = 1;
    /// <summary>BTRFS_DEV_ITEMS_OBJECTID: objectid of the DEV_ITEMs in the chunk tree.</summary>
    public const ulong DevItems = 1;
    /// <summary>BTRFS_EXTENT_TREE_OBJECTID: the extent tree (extent items, backrefs, block group items).</summary>
    public const ulong ExtentTree = 2;
    /// <summary>BTRFS_CHUNK_TREE_OBJECTID: the chunk tree (logical to physical mapping, device items).</summary>
    public const ulong ChunkTree = 3;
    /// <summary>BTRFS_DEV_TREE_OBJECTID: the device tree (dev extents, device statistics).</summary>
    public const ulong DevTree = 4;
    /// <summary>BTRFS_FS_TREE_OBJECTID: the top-level subvolume's tree.</summary>
    public const ulong FsTree = 5;
    /// <summary>
    /// BTRFS_ROOT_TREE_DIR_OBJECTID: the directory in the root tree whose "default" DIR_ITEM names the default
    /// subvolume.
    /// </summary>
    public const ulong RootTreeDir = 6;
    /// <summary>BTRFS_CSUM_TREE_OBJECTID: the checksum tree (EXTENT_CSUM items of data).</summary>
    public const ulong CsumTree = 7;
    /// <summary>BTRFS_QUOTA_TREE_OBJECTID: the quota tree (qgroup status, info, limit and relation items).</summary>
    public const ulong QuotaTree = 8;
    /// <summary>BTRFS_UUID_TREE_OBJECTID: the UUID tree (subvolume uuid to subvolume id).</summary>
    public const ulong UuidTree = 9;
    /// <summary>BTRFS_FREE_SPACE_TREE_OBJECTID: the free space tree.</summary>
    public const ulong FreeSpaceTree = 10;
    /// <summary>
    /// BTRFS_BLOCK_GROUP_TREE_OBJECTID: the block group tree (block group items outside the extent tree).
    /// </summary>
    public const ulong BlockGroupTree = 11;
    /// <summary>BTRFS_RAID_STRIPE_TREE_OBJECTID: the RAID stripe tree.</summary>
    public const ulong RaidStripeTree = 12;
    /// <summary>BTRFS_REMAP_TREE_OBJECTID: the remap tree.</summary>
    public const ulong RemapTree = 13;
    /// <summary>BTRFS_FIRST_FREE_OBJECTID: the first subvolume tree id and the first inode number for files.</summary>
    public const ulong FirstFree = 256;
    /// <summary>BTRFS_FIRST_CHUNK_TREE_OBJECTID: objectid of the CHUNK_ITEMs in the chunk tree.</summary>
    public const ulong FirstChunkTree = 256;
    /// <summary>BTRFS_LAST_FREE_OBJECTID (-256): the largest subvolume id and inode number.</summary>
    public const ulong LastFree = unchecked((ulong)-256L);
    /// <summary>BTRFS_BALANCE_OBJECTID (-4): the balance status item in the root tree.</summary>
    public const ulong Balance = unchecked((ulong)-4L);
    /// <summary>
    /// BTRFS_ORPHAN_OBJECTID (-5): objectid of ORPHAN_ITEMs (deleted subvolumes or inodes not yet cleaned up).
    /// </summary>
    public const ulong Orphan = unchecked((ulong)-5L);
    /// <summary>BTRFS_TREE_LOG_OBJECTID (-6): log trees for fsync.</summary>
    public const ulong TreeLog = unchecked((ulong)-6L);
    /// <summary>BTRFS_TREE_LOG_FIXUP_OBJECTID (-7): log tree replay fixups.</summary>
    public const ulong TreeLogFixup = unchecked((ulong)-7L);
    /// <summary>BTRFS_TREE_RELOC_OBJECTID (-8): relocation trees of balance.</summary>
    public const ulong TreeReloc = unchecked((ulong)-8L);
    /// <summary>BTRFS_DATA_RELOC_TREE_OBJECTID (-9): the data relocation tree of balance.</summary>
    public const ulong DataRelocTree = unchecked((ulong)-9L);
    /// <summary>BTRFS_EXTENT_CSUM_OBJECTID (-10): objectid of EXTENT_CSUM items in the checksum tree.</summary>
    public const ulong ExtentCsum = unchecked((ulong)-10L);
    /// <summary>BTRFS_FREE_SPACE_OBJECTID (-11): free space cache (v1) header items.</summary>
    public const ulong FreeSpace = unchecked((ulong)-11L);
    /// <summary>BTRFS_FREE_INO_OBJECTID (-12): the obsolete inode number cache.</summary>
    public const ulong FreeIno = unchecked((ulong)-12L);
    /// <summary>BTRFS_MULTIPLE_OBJECTIDS (-255): a placeholder for several objectids.</summary>
    public const ulong Multiple = unchecked((ulong)-255L);
    /// <summary>
    /// The first inode number a subvolume gives to a new file or directory (256, which is also its root directory).
    /// </summary>
    public const ulong FirstFreeInode = 256;

    /// <summary>Subvolume ("fs") trees: 5 and 256..LAST_FREE. Only they count for qgroups.</summary>
    public static bool IsFsTree(ulong id) => id == FsTree || (id >= FirstFree && id <= LastFree);
}
