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

public static class QgroupErrno
{
    public const int EDQUOT = 122;
    public const int ENOENT = 2;
    public const int EEXIST = 17;
    public const int EBUSY = 16;
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
public readonly record struct ReserveResult(QgroupStatus Status, ulong Bytes)
{
    public bool Succeeded => Status is QgroupStatus.Ok or QgroupStatus.MetadataOnly;
    public bool IsEdquot => Status == QgroupStatus.Edquot;
    internal static ReserveResult Ok(ulong bytes) => new(QgroupStatus.Ok, bytes);
    internal static readonly ReserveResult Edquot = new(QgroupStatus.Edquot, 0);
}

/// <summary>The three in-memory reservation types (kernel enum btrfs_qgroup_rsv_type).</summary>
public enum QgroupRsvType
{
    Data = 0,
    MetaPertrans = 1,
    MetaPrealloc = 2,
}

/// <summary>
/// Data bytes released from an inode at writeback, still charged to the qgroups. The transaction
/// attaches it to the new extent's delayed-ref head / qgroup extent record and hands it back
/// through <see cref="QgroupReservations.FreeRecord"/> when that extent is accounted at commit
/// (or when the ordered extent fails).
/// </summary>
public readonly record struct QgroupReservedRecord(ulong Root, ulong Bytes)
{
    public bool IsEmpty => Bytes == 0;
}

/// <summary>A qgroup's numbers as the kernel exposes them (sysfs and the qgroup items).</summary>
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
    public ulong RsvTotal => RsvData + RsvMetaPertrans + RsvMetaPrealloc;
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
    void FlushAndCommit(ulong rootId);
}

/// <summary>A half-open byte range [Start, End) of a file.</summary>
public readonly record struct FileRange(ulong Start, ulong End)
{
    public ulong Length => End - Start;
    public override string ToString() => $"[{Start}, {End})";
}
