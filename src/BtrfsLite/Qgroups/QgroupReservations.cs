using BtrfsLite.Format;
namespace BtrfsLite.Qgroups;

/// <summary>
/// In-memory qgroup reservation engine of one file-system handle: the qgroup hierarchy with its
/// limits and usage, per-inode data reservation maps, per-root metadata reservations, the limit
/// check with its flush-and-retry, and the hand-off of written data's reservation to the extent
/// record that is freed at commit. Semantics follow shared/docs/qgroup-semantics.md.
/// </summary>
/// <remarks>Single-threaded: the file system serialises calls (the kernel holds its qgroup lock).</remarks>
public sealed partial class QgroupReservations
{
    /// <summary>First subvolume object id (BTRFS_FIRST_FREE_OBJECTID); 5 is the top-level tree.</summary>
    public const ulong FirstFreeObjectId = 256;
    /// <summary>BTRFS_LAST_FREE_OBJECTID (-256 as u64).</summary>
    public const ulong LastFreeObjectId = unchecked((ulong)-256L);
    /// <summary>BTRFS_FS_TREE_OBJECTID: the top-level subvolume (5).</summary>
    public const ulong FsTreeObjectId = 5;

    private readonly uint _sectorSize;
    private readonly ChangeSet _scratch = new(16);
    private bool _flushing;

    /// <summary>
    /// An engine with no qgroups for one file system of <paramref name="sectorSize"/>-byte sectors and
    /// <paramref name="nodeSize"/>-byte tree blocks.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="sectorSize"/> is not a power of two.</exception>
    public QgroupReservations(QgroupReservationMode mode = QgroupReservationMode.Default, uint sectorSize = 4096, uint nodeSize = 16384)
    {
        if (sectorSize == 0 || (sectorSize & (sectorSize - 1)) != 0) throw new ArgumentOutOfRangeException(nameof(sectorSize));
        Mode = mode;
        _sectorSize = sectorSize;
        NodeSize = nodeSize;
        _stamp = new int[8];
        _queue = new int[8];
        _q = new Qgroup[8];
        _parents = new List<int>?[8];
        _members = new List<int>?[8];
        _closure = new int[8][];
        _closureLen = new int[8];
        _closureVer = new int[8];
    }

    /// <summary>How data reservations behave (set at construction).</summary>
    public QgroupReservationMode Mode { get; }
    /// <summary>The sector size in bytes: data reservations are rounded to it.</summary>
    public uint SectorSize => _sectorSize;
    /// <summary>The tree block size in bytes: the unit of metadata reservations.</summary>
    public uint NodeSize { get; }

    /// <summary>Called once on EDQUOT before the single retry (default mode only).</summary>
    public IQgroupFlusher? Flusher { get; set; }

    /// <summary>When set, limits are not enforced (sysfs quota_override with CAP_SYS_RESOURCE); reservations are still recorded.</summary>
    public bool QuotaOverride { get; set; }

    /// <summary>How many frees would have taken a counter below zero and were clamped (the kernel warns).</summary>
    public long UnderflowCount { get; private set; }

    /// <summary>How many times the flush hook was called.</summary>
    public long FlushCount { get; private set; }

    /// <summary>Set when a relation change could not be applied by the quick update (a rescan is needed).</summary>
    public bool Inconsistent { get; private set; }

    /// <summary>A rescan recomputed referenced/exclusive (it never touches reservations).</summary>
    public void MarkConsistent() => Inconsistent = false;

    /// <summary>Only the top-level tree (5) and subvolume trees (256 and up) are charged.</summary>
    public static bool IsSubvolumeRoot(ulong rootId) =>
        rootId == FsTreeObjectId || (rootId >= FirstFreeObjectId && rootId <= LastFreeObjectId);

    // ============================================================== data

    /// <summary>
    /// Reserve data for a write to [start, start+len) of an inode (widened to whole sectors).
    /// Only sectors not yet reserved are charged, to the root's qgroup and every ancestor, after
    /// checking every limited qgroup of that closure. On EDQUOT nothing changes; in default mode the
    /// flush hook runs once and the reservation is retried once. The sub-ranges this call reserved
    /// are appended to <paramref name="reserved"/> when given (the caller frees exactly them with
    /// <see cref="FreeData(ulong, ulong, ChangeSet)"/> if its operation fails later). <paramref name="noFlush"/>: fail
    /// at once instead of flushing (a caller that tries a whole range before going page by page).
    /// </summary>
    public ReserveResult ReserveData(ulong root, ulong inode, ulong start, ulong len, ChangeSet? reserved = null, bool noFlush = false)
    {
        if (len == 0) return ReserveResult.Ok(0);
        var rs = Root(root);
        if (!rs.IsSubvolume) return ReserveResult.Ok(0);
        var cs = reserved;
        if (cs == null)
        {
            cs = _scratch;
            cs.Clear();
        }

        for (int attempt = 0; ; attempt++)
        {
            var map = rs.Map(inode, _sectorSize);
            int mark = cs.Mark();
            ulong newly = map.Reserve(start, len, cs);
            // Legacy: the whole (sector-rounded) write is charged again, dirty or not.
            ulong charge = Mode == QgroupReservationMode.Legacy ? RoundedLength(start, len) : newly;
            if (TryCharge(rs.Slot, charge, QgroupRsvType.Data)) return ReserveResult.Ok(charge);

            // Undo exactly what this attempt marked, so others' reservations in the range stay.
            map.Free(cs, mark);
            cs.Truncate(mark);
            if (attempt > 0 || noFlush || !TryFlush(root)) return ReserveResult.Edquot;
        }
    }

    /// <summary>
    /// A write whose target may be written in place (prealloc extent or NODATACOW inode): reserve
    /// data like any write; if that fails with EDQUOT and the caller says the range can be written
    /// in place, succeed with <see cref="QgroupStatus.MetadataOnly"/> and charge nothing.
    /// </summary>
    public ReserveResult ReserveDataOrInPlace(ulong root, ulong inode, ulong start, ulong len, bool canWriteInPlace, ChangeSet? reserved = null)
    {
        var r = ReserveData(root, inode, start, len, reserved);
        if (r.IsEdquot && canWriteInPlace) return new ReserveResult(QgroupStatus.MetadataOnly, 0);
        return r;
    }

    /// <summary>
    /// Same as <see cref="ReserveDataOrInPlace(ulong, ulong, ulong, ulong, bool, ChangeSet?)"/> with the
    /// (expensive) in-place check asked only after a failure, as the kernel does.
    /// </summary>
    public ReserveResult ReserveDataOrInPlace(ulong root, ulong inode, ulong start, ulong len, Func<ulong, ulong, bool> canWriteInPlace, ChangeSet? reserved = null)
    {
        ArgumentNullException.ThrowIfNull(canWriteInPlace);
        var r = ReserveData(root, inode, start, len, reserved);
        if (r.IsEdquot && canWriteInPlace(start, len)) return new ReserveResult(QgroupStatus.MetadataOnly, 0);
        return r;
    }

    /// <summary>
    /// fallocate: reserve only the sub-ranges that will get a new preallocated extent (holes, and
    /// ranges past EOF not yet preallocated). All or nothing: on EDQUOT for any piece, everything
    /// this call reserved is freed again. Ranges already allocated must not be passed (they cost nothing).
    /// </summary>
    public ReserveResult ReserveFallocate(ulong root, ulong inode, ReadOnlySpan<FileRange> newExtentRanges, ChangeSet? reserved = null)
    {
        var cs = reserved ?? new ChangeSet();
        int mark = cs.Count;
        ulong total = 0;
        foreach (var r in newExtentRanges)
        {
            if (r.End <= r.Start) continue;
            var res = ReserveData(root, inode, r.Start, r.End - r.Start, cs);
            if (!res.Succeeded)
            {
                FreeChangedSince(root, inode, cs, mark);
                cs.Truncate(mark);
                return res;
            }
            total += res.Bytes;
        }
        return ReserveResult.Ok(total);
    }

    /// <summary>
    /// Writeback created a (COW) extent for [start, start+len): clear the range and return the bytes
    /// that were reserved there as a record for the extent's delayed-ref head. The qgroups stay
    /// charged until <see cref="FreeRecord"/> at commit accounting. Releasing twice returns 0 the second time.
    /// </summary>
    public QgroupReservedRecord ReleaseData(ulong root, ulong inode, ulong start, ulong len)
    {
        var rs = Root(root);
        if (!rs.IsSubvolume) return new QgroupReservedRecord(root, 0);
        var map = rs.TryMap(inode);
        ulong bytes = map == null ? 0 : map.Release(start, len);
        return new QgroupReservedRecord(root, bytes);
    }

    /// <summary>
    /// Dirty data dropped (truncate, invalidate, punch of dirty pages, eviction) or written in place
    /// (prealloc/NODATACOW target): clear the range and give its bytes back to the qgroups at once.
    /// </summary>
    public ulong FreeData(ulong root, ulong inode, ulong start, ulong len)
    {
        var rs = Root(root);
        if (!rs.IsSubvolume) return 0;
        var map = rs.TryMap(inode);
        if (map == null) return 0;
        ulong bytes = map.Free(start, len);
        Uncharge(rs.Slot, bytes, QgroupRsvType.Data);
        return bytes;
    }

    /// <summary>
    /// Error path: free only what the failing call itself reserved (its change set), so reservations
    /// made by others in the same range survive. Ranges already released/freed cost nothing.
    /// </summary>
    public ulong FreeData(ulong root, ulong inode, ChangeSet reserved)
    {
        ArgumentNullException.ThrowIfNull(reserved);
        return FreeChangedSince(root, inode, reserved, 0);
    }

    private ulong FreeChangedSince(ulong root, ulong inode, ChangeSet cs, int from)
    {
        var rs = Root(root);
        if (!rs.IsSubvolume) return 0;
        var map = rs.TryMap(inode);
        if (map == null) return 0;
        ulong bytes = map.Free(cs, from);
        Uncharge(rs.Slot, bytes, QgroupRsvType.Data);
        return bytes;
    }

    /// <summary>
    /// Commit accounting reached the extent that carries this record (or its ordered extent failed):
    /// give the bytes back to the closure of the root they were reserved in. Call this before the
    /// referenced/exclusive update of the same extent.
    /// </summary>
    public void FreeRecord(QgroupReservedRecord record)
    {
        if (record.Bytes == 0) return;
        var rs = Root(record.Root);
        if (!rs.IsSubvolume) return;
        Uncharge(rs.Slot, record.Bytes, QgroupRsvType.Data);
    }

    /// <summary>Inode evicted: any range still reserved is a leak the kernel reports; free it. Returns the bytes.</summary>
    public ulong FreeInode(ulong root, ulong inode)
    {
        var rs = Root(root);
        var map = rs.RemoveMap(inode);
        if (map == null) return 0;
        ulong bytes = map.Clear();
        Uncharge(rs.Slot, bytes, QgroupRsvType.Data);
        return bytes;
    }

    /// <summary>Bytes currently reserved in the inode's map (not counting released records).</summary>
    public ulong GetInodeReserved(ulong root, ulong inode) => Root(root).TryMap(inode)?.ReservedBytes ?? 0;

    /// <summary>The inode's reservation map (diagnostics/tests), or null if it never reserved.</summary>
    public DataReservationMap? GetInodeMap(ulong root, ulong inode) => Root(root).TryMap(inode);

    private ulong RoundedLength(ulong start, ulong len)
    {
        ulong mask = _sectorSize - 1UL;
        ulong s = start & ~mask;
        ulong e = ((start + len - 1) | mask) + 1;
        return e - s;
    }

    // ============================================================== metadata

    /// <summary>
    /// Reserve metadata of type PREALLOC (delalloc extents, transaction start before joining,
    /// subvolume operations). Enforces limits; on EDQUOT flushes once and retries unless
    /// <paramref name="noFlush"/> (the caller holds a transaction or locks).
    /// </summary>
    public ReserveResult ReserveMetaPrealloc(ulong root, ulong bytes, bool enforce = true, bool noFlush = false) =>
        ReserveMeta(root, bytes, QgroupRsvType.MetaPrealloc, enforce, noFlush);

    /// <summary>Reserve metadata for the running transaction (freed at commit by <see cref="FreeAllMetaPertrans"/>).</summary>
    public ReserveResult ReserveMetaPertrans(ulong root, ulong bytes, bool enforce = true, bool noFlush = true) =>
        ReserveMeta(root, bytes, QgroupRsvType.MetaPertrans, enforce, noFlush);

    private ReserveResult ReserveMeta(ulong root, ulong bytes, QgroupRsvType type, bool enforce, bool noFlush)
    {
        if (bytes == 0) return ReserveResult.Ok(0);
        var rs = Root(root);
        if (!rs.IsSubvolume) return ReserveResult.Ok(0);
        for (int attempt = 0; ; attempt++)
        {
            if (TryCharge(rs.Slot, bytes, type, enforce))
            {
                // The root remembers what it really reserved, so later frees never exceed it.
                if (type == QgroupRsvType.MetaPrealloc) rs.MetaPrealloc += bytes;
                else rs.MetaPertrans += bytes;
                return ReserveResult.Ok(bytes);
            }
            if (attempt > 0 || noFlush || !TryFlush(root)) return ReserveResult.Edquot;
        }
    }

    /// <summary>Give back PREALLOC metadata (over-reservation, error paths); clamped to what the root holds. Returns the bytes freed.</summary>
    public ulong FreeMetaPrealloc(ulong root, ulong bytes)
    {
        var rs = Root(root);
        if (!rs.IsSubvolume) return 0;
        bytes = Math.Min(bytes, rs.MetaPrealloc);
        if (bytes == 0) return 0;
        rs.MetaPrealloc -= bytes;
        Uncharge(rs.Slot, bytes, QgroupRsvType.MetaPrealloc);
        return bytes;
    }

    /// <summary>
    /// A PREALLOC reservation is now used by the running transaction: move it to PERTRANS in the
    /// closure. Never checks limits; clamped to what the root holds. Returns the bytes converted.
    /// </summary>
    public ulong ConvertMetaPreallocToPertrans(ulong root, ulong bytes)
    {
        var rs = Root(root);
        if (!rs.IsSubvolume) return 0;
        bytes = Math.Min(bytes, rs.MetaPrealloc);
        if (bytes == 0) return 0;
        rs.MetaPrealloc -= bytes;
        rs.MetaPertrans += bytes;
        Uncharge(rs.Slot, bytes, QgroupRsvType.MetaPrealloc);
        TryCharge(rs.Slot, bytes, QgroupRsvType.MetaPertrans, enforce: false);
        return bytes;
    }

    /// <summary>Commit: free all PERTRANS metadata of one root (what its level-0 qgroup holds). Returns the bytes freed.</summary>
    public ulong FreeMetaPertrans(ulong root)
    {
        var rs = Root(root);
        rs.MetaPertrans = 0;
        if (rs.Slot < 0) return 0;
        ulong bytes = _q[rs.Slot].RsvPertrans;
        Uncharge(rs.Slot, bytes, QgroupRsvType.MetaPertrans);
        return bytes;
    }

    /// <summary>Commit: free the PERTRANS metadata of every root. Returns the bytes freed.</summary>
    public ulong FreeAllMetaPertrans()
    {
        ulong total = 0;
        foreach (var rs in _roots.Values)
            if (rs.MetaPertrans != 0 || (rs.Slot >= 0 && _q[rs.Slot].RsvPertrans != 0))
                total += FreeMetaPertrans(rs.Id);
        return total;
    }

    /// <summary>What a root itself holds (its per-root records), for diagnostics.</summary>
    public (ulong Prealloc, ulong Pertrans) GetRootMeta(ulong root) =>
        _roots.TryGetValue(root, out var rs) ? (rs.MetaPrealloc, rs.MetaPertrans) : (0, 0);

    // ============================================================== flush

    private bool TryFlush(ulong root)
    {
        // Default mode only (Legacy predates it); a flush that itself hits EDQUOT does not recurse.
        if (Mode == QgroupReservationMode.Legacy || Flusher == null || _flushing) return false;
        _flushing = true;
        try
        {
            FlushCount++;
            Flusher.FlushAndCommit(root);
        }
        finally
        {
            _flushing = false;
        }
        return true;
    }

    // ============================================================== close

    /// <summary>
    /// The handle closes (unmount): returns the bytes still reserved over all level-0 qgroups (the
    /// kernel's "qgroup reserved space leaked" check; Legacy rewrites end up here) and forgets every
    /// reservation. Usage, limits and relations stay.
    /// </summary>
    public ulong Close()
    {
        ulong leaked = 0;
        for (int i = 0; i < _qCount; i++)
        {
            ref var q = ref _q[i];
            if (!q.Live) continue;
            if (QgroupId.LevelOf(q.Id) == 0) leaked += q.RsvData + q.RsvPertrans + q.RsvPrealloc;
            q.RsvData = q.RsvPertrans = q.RsvPrealloc = 0;
        }
        foreach (var rs in _roots.Values) rs.ClearAll();
        return leaked;
    }
}
