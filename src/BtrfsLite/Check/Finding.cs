using BtrfsLite.Format;

namespace BtrfsLite.Check;

/// <summary>Every kind of problem the checker can report. Each has a corruption test that expects it.</summary>
public enum FindingCode
{
    // superblock
    SuperCsumMismatch,
    SuperMirrorMismatch,
    SuperInvalidField,
    SuperBytesUsedMismatch,
    SuperTotalBytesInvalid,
    SuperUnsupportedFeature,
    SuperGenerationMismatch,
    // tree blocks (block-local)
    BlockUnreadable,
    BlockCsumMismatch,
    BlockBytenrMismatch,
    BlockFsidMismatch,
    BlockGenerationTooNew,
    BlockTransidMismatch,
    BlockLevelMismatch,
    BlockOwnerMismatch,
    BlockKeyOrder,
    BlockItemOffsetInvalid,
    BlockFirstKeyMismatch,
    BlockNotWritten,
    BlockCrossesStripe,
    BlockDupCopyMismatch,
    BlockReferencedTwice,
    ItemInvalid,
    BlockNrItemsInvalid,
    TreeRootMissing,
    // chunks, device extents, block groups
    ChunkInvalid,
    ChunkWithoutDevExtent,
    DevExtentWithoutChunk,
    DevExtentOverlap,
    DevItemBytesUsedMismatch,
    ChunkWithoutBlockGroup,
    BlockGroupWithoutChunk,
    BlockGroupUsedMismatch,
    BlockGroupChunkMismatch,
    DevExtentMismatch,
    DevExtentOutsideDevice,
    // extent tree vs references
    ExtentItemMissing,
    ExtentRefCountMismatch,
    ExtentBackrefMissing,
    ExtentBackrefUnmatched,
    ExtentUnreferenced,
    ExtentOverlap,
    ExtentWrongBlockGroupType,
    ExtentOutsideBlockGroup,
    ExtentInlineRefOrder,
    ExtentItemMalformed,
    /// <summary>A tree block without FULL_BACKREF whose owner tree is gone (btrfs check: owner ref check failed).</summary>
    TreeBlockOwnerGone,
    /// <summary>A keyed backref naming a subvolume tree that no longer exists.</summary>
    BackrefRootGone,
    // free space tree
    FreeSpaceMismatch,
    FreeSpaceInfoInvalid,
    // checksums
    CsumMissing,
    CsumMismatch,
    CsumOutsideExtent,
    CsumUnexpected,
    // fs trees: inodes and directories
    InodeMissing,
    InodeInvalid,
    NlinkMismatch,
    DirItemMissing,
    DirIndexMissing,
    InodeRefMissing,
    DirEntryMismatch,
    NameHashMismatch,
    DirSizeMismatch,
    NbytesMismatch,
    FileExtentOverlap,
    FileExtentInvalid,
    FileExtentGap,
    InlineExtentInvalid,
    OrphanMissing,
    RootDirMissing,
    FsTreeUnreadable,
    // root tree refs
    RootRefMissing,
    RootBackrefMissing,
    RootRefMismatch,
    RootItemInvalid,
    RootItemMissing,
    FsTreeUnreferenced,
    // qgroups
    QgroupReferencedMismatch,
    QgroupExclusiveMismatch,
    QgroupInfoMissing,
    QgroupItemInvalid,
    QgroupStatusInvalid,
    // the checker could not finish a phase (bad input it could not get past)
    PhaseAborted,
}

/// <summary>One problem, located as btrfs-progs locates them: tree, block, slot.</summary>
public sealed record Finding(FindingCode Code, ulong Tree, ulong Bytenr, int Slot, string Message)
{
    public string Location =>
        $"root={Tree} block={Bytenr}{(Slot >= 0 ? $" slot={Slot}" : "")}";

    public override string ToString() => $"[{Code}] {Message} ({Location})";
}

/// <summary>What a check found; it never throws for corruption, it records.</summary>
public sealed class CheckReport
{
    private readonly List<Finding> _findings = new();
    public IReadOnlyList<Finding> Findings => _findings;
    public int ErrorCount => _findings.Count;
    public bool IsClean => _findings.Count == 0;

    /// <summary>Lines of the btrfs-progs style qgroup report (Counts for qgroup id: ...).</summary>
    public List<string> QgroupReport { get; } = new();
    /// <summary>The qgroup numbers of this check (null when the image has no quota tree or the phase did not run).</summary>
    public QgroupResult? Qgroups { get; internal set; }

    /// <summary>Informational notes (not errors), e.g. qgroups marked inconsistent so mismatches are expected.</summary>
    public List<string> Notes { get; } = new();

    // Totals printed at the end like btrfs check's summary.
    public ulong BytesUsed { get; set; }
    public ulong TotalCsumBytes { get; set; }
    public ulong TotalTreeBytes { get; set; }
    public ulong TotalFsTreeBytes { get; set; }
    public ulong TotalExtentTreeBytes { get; set; }
    public ulong BtreeSpaceWaste { get; set; }
    public ulong FileDataBlocksAllocated { get; set; }
    public ulong FileDataReferenced { get; set; }

    public void Add(Finding f) => _findings.Add(f);
    public void Add(FindingCode code, ulong tree, ulong bytenr, int slot, string message) => _findings.Add(new Finding(code, tree, bytenr, slot, message));

    /// <summary>Records an exception from reading corrupt bytes as a finding with its location.</summary>
    public void AddException(FindingCode code, Exception ex) =>
        Add(code, Corruption.Tree(ex), Corruption.Bytenr(ex), Corruption.Slot(ex), ex.Message);

    public int Count(FindingCode code) => _findings.Count(f => f.Code == code);
}
