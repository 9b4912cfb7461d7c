namespace BtrfsLite.Format;

/// <summary>Key types (btrfs_key.type), kernel names PascalCased.</summary>
public enum ItemType : byte
{
    /// <summary>No item type (0); not used on disk.</summary>
    Unknown = 0,
    /// <summary>INODE_ITEM (1): btrfs_inode_item, key (ino, 1, 0).</summary>
    InodeItem = 1,
    /// <summary>INODE_REF (12): names of an inode, key (ino, 12, parent directory ino).</summary>
    InodeRef = 12,
    /// <summary>
    /// INODE_EXTREF (13): names of an inode, key (ino, 13, hash of parent and name), with the extended_iref feature.
    /// </summary>
    InodeExtref = 13,
    /// <summary>XATTR_ITEM (24): extended attributes, key (ino, 24, name hash).</summary>
    XattrItem = 24,
    /// <summary>VERITY_DESC_ITEM (36): fs-verity descriptor.</summary>
    VerityDescItem = 36,
    /// <summary>VERITY_MERKLE_ITEM (37): fs-verity Merkle tree.</summary>
    VerityMerkleItem = 37,
    /// <summary>ORPHAN_ITEM (48): an inode or subvolume pending cleanup.</summary>
    OrphanItem = 48,
    /// <summary>DIR_LOG_ITEM (60): directory range logged in a log tree.</summary>
    DirLogItem = 60,
    /// <summary>DIR_LOG_INDEX (72): directory index range logged in a log tree.</summary>
    DirLogIndex = 72,
    /// <summary>DIR_ITEM (84): directory entries by name, key (dir ino, 84, name hash).</summary>
    DirItem = 84,
    /// <summary>DIR_INDEX (96): directory entries in creation order, key (dir ino, 96, index).</summary>
    DirIndex = 96,
    /// <summary>EXTENT_DATA (108): btrfs_file_extent_item, key (ino, 108, file offset).</summary>
    ExtentData = 108,
    /// <summary>EXTENT_CSUM (128): data checksums, key (-10, 128, logical start).</summary>
    ExtentCsum = 128,
    /// <summary>ROOT_ITEM (132): btrfs_root_item in the root tree, key (tree id, 132, 0 or snapshot transid).</summary>
    RootItem = 132,
    /// <summary>ROOT_BACKREF (144): btrfs_root_ref, key (subvolume id, 144, parent subvolume id).</summary>
    RootBackref = 144,
    /// <summary>ROOT_REF (156): btrfs_root_ref, key (parent subvolume id, 156, subvolume id).</summary>
    RootRef = 156,
    /// <summary>EXTENT_ITEM (168): btrfs_extent_item, key (bytenr, 168, length in bytes).</summary>
    ExtentItem = 168,
    /// <summary>METADATA_ITEM (169): skinny tree block extent item, key (bytenr, 169, level).</summary>
    MetadataItem = 169,
    /// <summary>EXTENT_OWNER_REF (172): the owner of a data extent with simple quotas.</summary>
    ExtentOwnerRef = 172,
    /// <summary>TREE_BLOCK_REF (176): a tree block backref by root, key (bytenr, 176, root id) or inline.</summary>
    TreeBlockRef = 176,
    /// <summary>
    /// EXTENT_DATA_REF (178): a data backref by root/inode/offset, key (bytenr, 178, hash) or inline.
    /// </summary>
    ExtentDataRef = 178,
    /// <summary>
    /// SHARED_BLOCK_REF (182): a tree block backref by parent block, key (bytenr, 182, parent bytenr) or inline.
    /// </summary>
    SharedBlockRef = 182,
    /// <summary>
    /// SHARED_DATA_REF (184): a data backref by parent leaf, key (bytenr, 184, parent bytenr) or inline.
    /// </summary>
    SharedDataRef = 184,
    /// <summary>BLOCK_GROUP_ITEM (192): btrfs_block_group_item, key (start, 192, length).</summary>
    BlockGroupItem = 192,
    /// <summary>FREE_SPACE_INFO (198): free space tree header of a block group, key (start, 198, length).</summary>
    FreeSpaceInfo = 198,
    /// <summary>FREE_SPACE_EXTENT (199): a free range in the free space tree, key (start, 199, length).</summary>
    FreeSpaceExtent = 199,
    /// <summary>FREE_SPACE_BITMAP (200): a free space bitmap, key (start, 200, length).</summary>
    FreeSpaceBitmap = 200,
    /// <summary>DEV_EXTENT (204): btrfs_dev_extent, key (devid, 204, physical start).</summary>
    DevExtent = 204,
    /// <summary>DEV_ITEM (216): btrfs_dev_item, key (1, 216, devid).</summary>
    DevItem = 216,
    /// <summary>CHUNK_ITEM (228): btrfs_chunk, key (256, 228, logical start).</summary>
    ChunkItem = 228,
    /// <summary>RAID_STRIPE (230): an item of the RAID stripe tree.</summary>
    RaidStripe = 230,
    /// <summary>QGROUP_STATUS (240): btrfs_qgroup_status_item, key (0, 240, 0).</summary>
    QgroupStatus = 240,
    /// <summary>QGROUP_INFO (242): btrfs_qgroup_info_item, key (0, 242, qgroup id).</summary>
    QgroupInfo = 242,
    /// <summary>QGROUP_LIMIT (244): btrfs_qgroup_limit_item, key (0, 244, qgroup id).</summary>
    QgroupLimit = 244,
    /// <summary>QGROUP_RELATION (246): key (member, 246, parent) and (parent, 246, member), no payload.</summary>
    QgroupRelation = 246,
    /// <summary>TEMPORARY_ITEM (248): the balance item and other temporary state.</summary>
    TemporaryItem = 248,
    /// <summary>PERSISTENT_ITEM (249): device statistics, key (0, 249, devid).</summary>
    PersistentItem = 249,
    /// <summary>DEV_REPLACE (250): device replace state.</summary>
    DevReplace = 250,
    /// <summary>UUID_KEY_SUBVOL (251): uuid tree entry from a subvolume uuid to its ids.</summary>
    UuidKeySubvol = 251,
    /// <summary>UUID_KEY_RECEIVED_SUBVOL (252): uuid tree entry from a received uuid to its ids.</summary>
    UuidKeyReceivedSubvol = 252,
    /// <summary>STRING_ITEM (253): a string, for debugging.</summary>
    StringItem = 253,
}
