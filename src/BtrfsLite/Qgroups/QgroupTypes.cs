using BtrfsLite.Format;
namespace BtrfsLite.Qgroups;

/// <summary>How data reservations behave for one file-system handle.</summary>
public enum QgroupReservationMode
{
    /// <summary>
    /// The merged design: per-inode reserved ranges, only newly reserved sectors are charged,
    /// released bytes travel with the extent record, flush-and-retry once on EDQUOT.
    /// </summary>
    Default,

    /// <summary>
    /// The 2015 behaviour the seed fixed: every write charges its full sector-rounded length,
    /// the reservation is given back once per extent at commit (so rewrites of dirty data
    /// leak until the handle is closed) and EDQUOT is final (no flush and retry).
    /// </summary>
    Legacy,
}

/// <summary>Outcome of an engine call. Errors are values, not exceptions: EDQUOT is a normal hot-path result.</summary>
public enum QgroupStatus
{
    /// <summary>Success.</summary>
    Ok = 0,
    /// <summary>Data reservation failed but the caller said the range can be written in place: go on with metadata only.</summary>
    MetadataOnly,
    /// <summary>EDQUOT: a limit would be exceeded. Nothing changed.</summary>
    Edquot,
    /// <summary>ENOENT: no such qgroup or relation.</summary>
    NotFound,
    /// <summary>EEXIST: qgroup or relation already exists.</summary>
    Exists,
    /// <summary>EBUSY: the qgroup still has members.</summary>
    Busy,
    /// <summary>EINVAL: e.g. a relation whose parent is not at a higher level.</summary>
    Invalid,
}

/// <summary>
/// The errno values the kernel returns for qgroup operations, and conversions from <see cref="QgroupStatus"/>.
/// </summary>
public static class QgroupErrno
{
    /// <summary>EDQUOT (122): a quota limit would be exceeded.</summary>
    public const int EDQUOT = 122;
    /// <summary>ENOENT (2): no such qgroup or relation.</summary>
    public const int ENOENT = 2;
    /// <summary>EEXIST (17): the qgroup or relation already exists.</summary>
    public const int EEXIST = 17;
    /// <summary>EBUSY (16): the qgroup still has members.</summary>
    public const int EBUSY = 16;
    /// <summary>EINVAL (22): an invalid argument.</summary>
    public const int EINVAL = 22;

    /// <summary>The errno name the kernel would return ("EDQUOT", ...), empty for success.</summary>
    public static string Name(this QgroupStatus status) => status switch
    {
        QgroupStatus.Edquot => "EDQUOT",
        QgroupStatus.NotFound => "ENOENT",
        QgroupStatus.Exists => "EEXIST",
        QgroupStatus.Busy => "EBUSY",
        QgroupStatus.Invalid => "EINVAL",
        _ => "",
    };

    /// <summary>Negative errno as the kernel returns it, 0 for success.</summary>
    public static int ToErrno(this QgroupStatus status) => status switch
    {
        QgroupStatus.Edquot => -EDQUOT,
        QgroupStatus.NotFound => -ENOENT,
        QgroupStatus.Exists => -EEXIST,
        QgroupStatus.Busy => -EBUSY,
        QgroupStatus.Invalid => -EINVAL,
        _ => 0,
    };
}

/// <summary>Result of a reservation: status plus the bytes actually charged to the qgroups.</summary>
/// <param name="Status">The outcome.</param>
/// <param name="Bytes">The bytes charged to the qgroups (for data, only sectors not reserved before).</param>
public readonly record struct ReserveResult(QgroupStatus Status, ulong Bytes)
{
    /// <summary>True for <see cref="QgroupStatus.Ok"/> and <see cref="QgroupStatus.MetadataOnly"/>.</summary>
    public bool Succeeded => Status is QgroupStatus.Ok or QgroupStatus.MetadataOnly;
    /// <summary>True when a limit refused the reservation (EDQUOT).</summary>
    public bool IsEdquot => Status == QgroupStatus.Edquot;
    internal static ReserveResult Ok(ulong bytes) => new(QgroupStatus.Ok, bytes);
    internal static readonly ReserveResult Edquot = new(QgroupStatus.Edquot, 0);
}

/// <summary>The three in-memory reservation types (kernel enum btrfs_qgroup_rsv_type).</summary>
internal enum QgroupRsvType
{
    /// <summary>BTRFS_QGROUP_RSV_DATA: data reserved for writes not yet on disk.</summary>
    Data = 0,
    /// <summary>
    /// BTRFS_QGROUP_RSV_META_PERTRANS: metadata reserved for the running transaction, freed at its commit.
    /// </summary>
    MetaPertrans = 1,
    /// <summary>
    /// BTRFS_QGROUP_RSV_META_PREALLOC: metadata reserved ahead for delayed items, converted to per-transaction when
    /// used.
    /// </summary>
    MetaPrealloc = 2,
}

/// <summary>
/// Data bytes released from an inode at writeback, still charged to the qgroups. The transaction
/// attaches it to the new extent's delayed-ref head / qgroup extent record and hands it back
/// through <see cref="QgroupReservations.FreeRecord"/> when that extent is accounted at commit
/// (or when the ordered extent fails).
/// </summary>
/// <param name="Root">The subvolume (root id) whose qgroups the bytes are charged to.</param>
/// <param name="Bytes">The data bytes still charged.</param>
public readonly record struct QgroupReservedRecord(ulong Root, ulong Bytes)
{
    /// <summary>True when no bytes are carried.</summary>
    public bool IsEmpty => Bytes == 0;
}

/// <summary>A qgroup's numbers as the kernel exposes them (sysfs and the qgroup items).</summary>
/// <param name="QgroupId">The 64-bit qgroup id.</param>
/// <param name="Referenced">Referenced bytes (btrfs_qgroup_info_item.rfer).</param>
/// <param name="Exclusive">Exclusive bytes (btrfs_qgroup_info_item.excl).</param>
/// <param name="RsvData">Bytes reserved for data not yet written.</param>
/// <param name="RsvMetaPertrans">Bytes of metadata reserved for the running transaction.</param>
/// <param name="RsvMetaPrealloc">Bytes of metadata reserved ahead.</param>
/// <param name="MaxReferenced">The referenced limit in bytes (btrfs_qgroup_limit_item.max_rfer).</param>
/// <param name="MaxExclusive">The exclusive limit in bytes (btrfs_qgroup_limit_item.max_excl).</param>
/// <param name="LimitFlags">Which limits are set.</param>
public readonly record struct QgroupCounters(
    ulong QgroupId,
    ulong Referenced,
    ulong Exclusive,
    ulong RsvData,
    ulong RsvMetaPertrans,
    ulong RsvMetaPrealloc,
    ulong MaxReferenced,
    ulong MaxExclusive,
    QgroupLimitFlags LimitFlags)
{
    /// <summary>The sum of the three reservation counters in bytes.</summary>
    public ulong RsvTotal => RsvData + RsvMetaPertrans + RsvMetaPrealloc;
    /// <summary>The counters in one line: "level/id rfer=... excl=... rsv_data=... ... flags=...".</summary>
    public override string ToString() =>
        $"{Format.QgroupId.Format(QgroupId)} rfer={Referenced} excl={Exclusive} rsv_data={RsvData} " +
        $"rsv_meta_pertrans={RsvMetaPertrans} rsv_meta_prealloc={RsvMetaPrealloc} " +
        $"max_rfer={MaxReferenced} max_excl={MaxExclusive} flags={LimitFlags}";
}

/// <summary>
/// Set by the file system: write back all delalloc of a subvolume, wait for it and commit the
/// running transaction. The engine calls it once when a reservation hits EDQUOT and retries once.
/// </summary>
public interface IQgroupFlusher
{
    /// <summary>
    /// Writes back all dirty data of subvolume <paramref name="rootId"/>, waits for it and commits the running
    /// transaction.
    /// </summary>
    void FlushAndCommit(ulong rootId);
}

/// <summary>A half-open byte range [Start, End) of a file.</summary>
/// <param name="Start">The first byte.</param>
/// <param name="End">The byte after the last one.</param>
public readonly record struct FileRange(ulong Start, ulong End)
{
    /// <summary>End minus Start, in bytes.</summary>
    public ulong Length => End - Start;
    /// <summary>"[Start, End)".</summary>
    public override string ToString() => $"[{Start}, {End})";
}
