using BtrfsLite.Format;

namespace BtrfsLite.Check;

/// <summary>Every kind of problem the checker can report. Each has a corruption test that expects it.</summary>
public enum FindingCode
{
    // superblock
    /// <summary>The primary superblock's checksum does not match its bytes.</summary>
    SuperCsumMismatch,
    /// <summary>
    /// A superblock mirror cannot be read, has a bad checksum or bytenr, or differs from the primary.
    /// </summary>
    SuperMirrorMismatch,
    /// <summary>
    /// A superblock field is invalid: magic, bytenr, flags, sector, node, leaf or stripe size, a root's alignment or
    /// level, MIXED_BACKREF or FREE_SPACE_TREE_VALID; also a primary superblock that cannot be read.
    /// </summary>
    SuperInvalidField,
    /// <summary>
    /// btrfs_super_block.bytes_used differs from the sum of the block groups' used bytes (or is below 6 nodes).
    /// </summary>
    SuperBytesUsedMismatch,
    /// <summary>
    /// total_bytes is not sector aligned, larger than the device, or smaller than the dev_item's total_bytes (or that
    /// is larger than the device).
    /// </summary>
    SuperTotalBytesInvalid,
    /// <summary>
    /// The image uses what this library does not handle: another checksum type, an unsupported feature flag, or more
    /// than one device.
    /// </summary>
    SuperUnsupportedFeature,
    /// <summary>chunk_root_generation or cache_generation is newer than the superblock's generation.</summary>
    SuperGenerationMismatch,
    // tree blocks (block-local)
    /// <summary>
    /// A tree block pointer is not sector aligned, lies outside every chunk, or the block cannot be read.
    /// </summary>
    BlockUnreadable,
    /// <summary>A tree block's checksum does not match its bytes.</summary>
    BlockCsumMismatch,
    /// <summary>A tree block's header bytenr is not its address.</summary>
    BlockBytenrMismatch,
    /// <summary>A tree block's header fsid is not the file system's.</summary>
    BlockFsidMismatch,
    /// <summary>A tree block's generation is newer than the superblock's.</summary>
    BlockGenerationTooNew,
    /// <summary>
    /// A tree block's generation differs from the one its parent's key pointer records (parent transid verify failed).
    /// </summary>
    BlockTransidMismatch,
    /// <summary>
    /// A tree block's level is not the one its parent (or the root item) implies, or a root level is out of range.
    /// </summary>
    BlockLevelMismatch,
    /// <summary>A tree block's owner does not fit the tree it was reached from.</summary>
    BlockOwnerMismatch,
    /// <summary>Keys in a leaf or node are not in strictly increasing order.</summary>
    BlockKeyOrder,
    /// <summary>A leaf item's data offset or size is out of place, or a node has a zero block pointer.</summary>
    BlockItemOffsetInvalid,
    /// <summary>A tree block's first key differs from its parent's key for it.</summary>
    BlockFirstKeyMismatch,
    /// <summary>A tree block lacks the WRITTEN header flag.</summary>
    BlockNotWritten,
    /// <summary>A tree block crosses a 64 KiB stripe boundary.</summary>
    BlockCrossesStripe,
    /// <summary>The two copies of a tree block in a DUP chunk differ.</summary>
    BlockDupCopyMismatch,
    /// <summary>A tree block is referenced more than once in one tree (or points to itself).</summary>
    BlockReferencedTwice,
    /// <summary>
    /// An item fails its type's rules: size, key fields, names, overlaps (for example a ROOT_ITEM of the wrong size or
    /// a second one for a tree).
    /// </summary>
    ItemInvalid,
    /// <summary>A tree block's nritems is out of range, or a leaf is empty where it must not be.</summary>
    BlockNrItemsInvalid,
    /// <summary>A tree the file system needs has no ROOT_ITEM in the root tree.</summary>
    TreeRootMissing,
    // chunks, device extents, block groups
    /// <summary>A CHUNK_ITEM is malformed: item size, stripe count for its profile, or key.</summary>
    ChunkInvalid,
    /// <summary>A chunk stripe has no DEV_EXTENT at its physical offset.</summary>
    ChunkWithoutDevExtent,
    /// <summary>A DEV_EXTENT starts where no chunk stripe does.</summary>
    DevExtentWithoutChunk,
    /// <summary>Two DEV_EXTENTs overlap.</summary>
    DevExtentOverlap,
    /// <summary>A dev item's bytes_used differs from the sum of its DEV_EXTENTs (or exceeds its total_bytes).</summary>
    DevItemBytesUsedMismatch,
    /// <summary>A chunk has no BLOCK_GROUP_ITEM.</summary>
    ChunkWithoutBlockGroup,
    /// <summary>A BLOCK_GROUP_ITEM has no chunk.</summary>
    BlockGroupWithoutChunk,
    /// <summary>A block group's used differs from the bytes its extent items cover.</summary>
    BlockGroupUsedMismatch,
    /// <summary>A block group's type and profile differ from its chunk's.</summary>
    BlockGroupChunkMismatch,
    /// <summary>
    /// A DEV_EXTENT names a device that does not exist, or does not match its chunk's stripe (chunk offset or length).
    /// </summary>
    DevExtentMismatch,
    /// <summary>A DEV_EXTENT lies beyond the end of the device.</summary>
    DevExtentOutsideDevice,
    // extent tree vs references
    /// <summary>
    /// A tree block or data extent in use has no extent item, or the extent item's range differs from the file
    /// extent's.
    /// </summary>
    ExtentItemMissing,
    /// <summary>
    /// An extent item's refs differs from the references found in the trees, or from the sum of its backrefs.
    /// </summary>
    ExtentRefCountMismatch,
    /// <summary>
    /// A reference found in the trees has no backref in the extent tree, or its backref counts fewer references.
    /// </summary>
    ExtentBackrefMissing,
    /// <summary>
    /// A backref (or a keyed backref item without an extent item) has no matching reference in any tree, or counts
    /// more.
    /// </summary>
    ExtentBackrefUnmatched,
    /// <summary>An extent item that no tree references.</summary>
    ExtentUnreferenced,
    /// <summary>Two extent items overlap, or one extent has two items.</summary>
    ExtentOverlap,
    /// <summary>
    /// An extent lies in a block group of the wrong type (data outside DATA, tree blocks outside METADATA or SYSTEM).
    /// </summary>
    ExtentWrongBlockGroupType,
    /// <summary>An extent lies outside every block group.</summary>
    ExtentOutsideBlockGroup,
    /// <summary>Inline backrefs of an extent item are not in the kernel's order.</summary>
    ExtentInlineRefOrder,
    /// <summary>
    /// An extent item is malformed: duplicate backrefs, tree block flags or level that do not match the block.
    /// </summary>
    ExtentItemMalformed,
    /// <summary>A tree block without FULL_BACKREF whose owner tree is gone (btrfs check: owner ref check failed).</summary>
    TreeBlockOwnerGone,
    /// <summary>A keyed backref naming a subvolume tree that no longer exists.</summary>
    BackrefRootGone,
    // free space tree
    /// <summary>
    /// The free space tree disagrees with the extent tree, or a block group has no FREE_SPACE_INFO, or its extent count
    /// is wrong.
    /// </summary>
    FreeSpaceMismatch,
    /// <summary>
    /// A free space tree item is malformed: its size, or an extent item in a group using bitmaps (or the reverse).
    /// </summary>
    FreeSpaceInfoInvalid,
    // checksums
    /// <summary>Part of a checksummed data extent has no csum.</summary>
    CsumMissing,
    /// <summary>
    /// A data sector's crc32c differs from its csum (with <see cref="CheckOptions.CheckDataCsum"/>), or the data cannot
    /// be read.
    /// </summary>
    CsumMismatch,
    /// <summary>A csum item covers bytes outside every data extent (or outside every chunk).</summary>
    CsumOutsideExtent,
    /// <summary>A NODATASUM or prealloc file extent has csums.</summary>
    CsumUnexpected,
    // fs trees: inodes and directories
    /// <summary>An inode that directory entries or refs name has no INODE_ITEM.</summary>
    InodeMissing,
    /// <summary>An inode item is invalid: its mode, a directory's nlink, or an xattr item of the wrong type.</summary>
    InodeInvalid,
    /// <summary>An inode's nlink differs from the names found for it.</summary>
    NlinkMismatch,
    /// <summary>A name (INODE_REF or DIR_INDEX) has no DIR_ITEM.</summary>
    DirItemMissing,
    /// <summary>A name (INODE_REF or DIR_ITEM) has no DIR_INDEX.</summary>
    DirIndexMissing,
    /// <summary>A directory entry has no INODE_REF.</summary>
    InodeRefMissing,
    /// <summary>
    /// Directory entries disagree: duplicate names or indexes, an odd dir item, a file type that differs from the
    /// inode's, or a root directory ref that is not '..'.
    /// </summary>
    DirEntryMismatch,
    /// <summary>A DIR_ITEM, XATTR_ITEM or INODE_EXTREF key offset is not the hash of its name.</summary>
    NameHashMismatch,
    /// <summary>A directory's size is not twice the sum of its names' lengths.</summary>
    DirSizeMismatch,
    /// <summary>An inode's nbytes differs from the bytes its file extents cover.</summary>
    NbytesMismatch,
    /// <summary>File extent items of one inode overlap.</summary>
    FileExtentOverlap,
    /// <summary>A file extent item is invalid: odd fields, a bad type or range, or unaligned offsets.</summary>
    FileExtentInvalid,
    /// <summary>A gap between file extent items without the NO_HOLES feature.</summary>
    FileExtentGap,
    /// <summary>An inline file extent is too large or its ram_bytes does not match its data.</summary>
    InlineExtentInvalid,
    /// <summary>An inode with no names (or a deleted subvolume) has no ORPHAN_ITEM.</summary>
    OrphanMissing,
    /// <summary>A subvolume's root directory is missing, not a directory, or lacks its '..' INODE_REF.</summary>
    RootDirMissing,
    /// <summary>A subvolume tree cannot be walked.</summary>
    FsTreeUnreadable,
    // root tree refs
    /// <summary>A subvolume's name has no ROOT_REF.</summary>
    RootRefMissing,
    /// <summary>A subvolume's name has no ROOT_BACKREF.</summary>
    RootBackrefMissing,
    /// <summary>
    /// ROOT_REF, ROOT_BACKREF and the directory entry of a subvolume disagree (name, index, or a duplicate).
    /// </summary>
    RootRefMismatch,
    /// <summary>A ROOT_ITEM is invalid (objectid, refs, flags, levels...).</summary>
    RootItemInvalid,
    /// <summary>A directory entry or root ref names a subvolume that has no ROOT_ITEM.</summary>
    RootItemMissing,
    /// <summary>A subvolume tree that no directory entry or root ref names.</summary>
    FsTreeUnreferenced,
    // qgroups
    /// <summary>A qgroup's referenced bytes differ from the recomputed number.</summary>
    QgroupReferencedMismatch,
    /// <summary>A qgroup's exclusive bytes differ from the recomputed number.</summary>
    QgroupExclusiveMismatch,
    /// <summary>A QGROUP_LIMIT or QGROUP_RELATION item names a qgroup that has no QGROUP_INFO item.</summary>
    QgroupInfoMissing,
    /// <summary>
    /// A qgroup item is malformed (size, key objectid, a second INFO), or the quota tree cannot be read.
    /// </summary>
    QgroupItemInvalid,
    /// <summary>The quota tree has no QGROUP_STATUS item, or it has the wrong size.</summary>
    QgroupStatusInvalid,
    // the checker could not finish a phase (bad input it could not get past)
    /// <summary>A phase stopped at bad bytes it could not get past; the message names the phase and why.</summary>
    PhaseAborted,
}

/// <summary>One problem, located as btrfs-progs locates them: tree, block, slot.</summary>
/// <param name="Code">What kind of problem.</param>
/// <param name="Tree">The tree it was found in (0: none, as for the superblock).</param>
/// <param name="Bytenr">The tree block (or superblock copy) where it is; 0 when unknown.</param>
/// <param name="Slot">The item slot in that block; -1 when none.</param>
/// <param name="Message">What is wrong, in btrfs check's words where it has them.</param>
public sealed record Finding(FindingCode Code, ulong Tree, ulong Bytenr, int Slot, string Message)
{
    /// <summary>"root=TREE block=BYTENR" and " slot=SLOT" when there is one, as btrfs-progs locates problems.</summary>
    public string Location =>
        $"root={Tree} block={Bytenr}{(Slot >= 0 ? $" slot={Slot}" : "")}";

    /// <summary>"[Code] Message (Location)".</summary>
    public override string ToString() => $"[{Code}] {Message} ({Location})";
}

/// <summary>What a check found; it never throws for corruption, it records.</summary>
public sealed class CheckReport
{
    private readonly List<Finding> _findings = new();
    /// <summary>Every finding, in the order found.</summary>
    public IReadOnlyList<Finding> Findings => _findings;
    /// <summary>The number of findings.</summary>
    public int ErrorCount => _findings.Count;
    /// <summary>True when nothing was found.</summary>
    public bool IsClean => _findings.Count == 0;

    /// <summary>Lines of the btrfs-progs style qgroup report (Counts for qgroup id: ...).</summary>
    public List<string> QgroupReport { get; } = new();
    /// <summary>The qgroup numbers of this check (null when the image has no quota tree or the phase did not run).</summary>
    public QgroupResult? Qgroups { get; internal set; }

    /// <summary>Informational notes (not errors), e.g. qgroups marked inconsistent so mismatches are expected.</summary>
    public List<string> Notes { get; } = new();

    // Totals printed at the end like btrfs check's summary.
    /// <summary>btrfs check's "found N bytes used": the sum of the block groups' used bytes.</summary>
    public ulong BytesUsed { get; set; }
    /// <summary>
    /// btrfs check's "total csum bytes": bytes of the checksums in the csum items (4 per data sector).
    /// </summary>
    public ulong TotalCsumBytes { get; set; }
    /// <summary>btrfs check's "total tree bytes": bytes of all tree blocks.</summary>
    public ulong TotalTreeBytes { get; set; }
    /// <summary>btrfs check's "total fs tree bytes": bytes of subvolume tree blocks.</summary>
    public ulong TotalFsTreeBytes { get; set; }
    /// <summary>btrfs check's "total extent tree bytes": bytes of extent tree blocks.</summary>
    public ulong TotalExtentTreeBytes { get; set; }
    /// <summary>
    /// btrfs check's "btree space waste bytes": unused bytes in tree blocks (free leaf space, empty key pointer slots).
    /// </summary>
    public ulong BtreeSpaceWaste { get; set; }
    /// <summary>
    /// btrfs check's "file data blocks allocated": disk_num_bytes of every regular or prealloc file extent item (holes
    /// excluded), summed.
    /// </summary>
    public ulong FileDataBlocksAllocated { get; set; }
    /// <summary>
    /// btrfs check's "referenced": num_bytes of every regular or prealloc file extent item (holes excluded), summed.
    /// </summary>
    public ulong FileDataReferenced { get; set; }

    /// <summary>Records <paramref name="f"/>.</summary>
    public void Add(Finding f) => _findings.Add(f);
    /// <summary>
    /// Records a finding of <paramref name="code"/> at tree <paramref name="tree"/>, block <paramref name="bytenr"/>,
    /// slot <paramref name="slot"/> (-1: none).
    /// </summary>
    public void Add(FindingCode code, ulong tree, ulong bytenr, int slot, string message) => _findings.Add(new Finding(code, tree, bytenr, slot, message));

    /// <summary>Records an exception from reading corrupt bytes as a finding with its location.</summary>
    public void AddException(FindingCode code, Exception ex) =>
        Add(code, Corruption.Tree(ex), Corruption.Bytenr(ex), Corruption.Slot(ex), ex.Message);

    /// <summary>The number of findings of <paramref name="code"/>.</summary>
    public int Count(FindingCode code) => _findings.Count(f => f.Code == code);
}
