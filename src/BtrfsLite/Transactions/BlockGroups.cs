using BtrfsLite.Format;
using BtrfsLite.IO;

namespace BtrfsLite.Transactions;

/// <summary>One block group: its range, type, used bytes and free space (what the extent tree implies).</summary>
internal sealed class BlockGroup
{
    public ulong Start { get; init; }
    public ulong Length { get; init; }
    public BlockGroupFlags Flags { get; init; }
    public ulong End => Start + Length;
    public ulong Used { get; set; }
    /// <summary>The used value last written to (or read from) the BLOCK_GROUP_ITEM.</summary>
    public ulong UsedOnDisk { get; set; }
    /// <summary>Allocation changed in this transaction (free space tree entries must be rewritten).</summary>
    public bool AllocationChanged { get; set; }
    /// <summary>Created in this transaction: its items (chunk, dev extent, block group, free space info) are new.</summary>
    public bool IsNew { get; set; }
    internal RangeSet Free { get; } = new();
    /// <summary>Allocated ranges (extents), for the free space tree; excludes mirror stripes.</summary>
    internal RangeSet Allocated { get; } = new();
    /// <summary>Free and Allocated hold the group's extents (read when the group is first used, as the kernel caches a block group).</summary>
    internal bool Loaded { get; set; }
    /// <summary>Bytes never allocatable (superblock mirror stripes inside the group).</summary>
    internal ulong Excluded { get; set; }
    /// <summary>An upper bound of the free bytes, known without reading the group's extents.</summary>
    internal ulong MaxFree => Length - Math.Min(Length, Used + Excluded);
    public bool IsType(BlockGroupFlags type) => (Flags & type) != 0;

    /// <summary>
    /// The kernel's in-memory size class of a data-only group (btrfs_block_group_should_use_size_class): set by the
    /// first allocation into an empty group, sampled from the committed extents when the group is first used
    /// (load_block_group_size_class), back to none when the group is empty again after a commit.
    /// </summary>
    public SizeClass SizeClass { get; set; }
    public bool UsesSizeClass => (Flags & (BlockGroupFlags.Data | BlockGroupFlags.Metadata)) == BlockGroupFlags.Data;
    // While the group's committed extents are read: the next of the 5 evenly spaced sample points and the smallest
    // extent found at or after one of them.
    internal int NextSample;
    internal ulong SampledMin;
}

/// <summary>btrfs_calc_block_group_size_class: extents up to 128 KiB are small, up to 8 MiB medium, larger ones large.</summary>
internal enum SizeClass { None, Small, Medium, Large }

/// <summary>How far find_free_extent has got: which size classes a data group may have to take an allocation.</summary>
internal enum SizeClassPass
{
    /// <summary>LOOP_CACHING_NOWAIT, LOOP_CACHING_WAIT: only groups of the allocation's class.</summary>
    Exact,
    /// <summary>LOOP_UNSET_SIZE_CLASS, LOOP_ALLOC_CHUNK: also groups without a class.</summary>
    Unset,
    /// <summary>LOOP_WRONG_SIZE_CLASS and after: any group (its class stays).</summary>
    Wrong,
}

/// <summary>
/// Free space per block group, read from the committed extent tree the first time a group is used (the cost of an
/// open does not grow with the file system). Space freed in a transaction stays pinned until its commit is on disk
/// (the committed trees may still point at it).
/// </summary>
internal sealed class ExtentAllocator
{
    private readonly List<BlockGroup> _groups = new();
    private readonly List<(ulong Start, ulong End)> _pinned = new();
    private ulong _pinnedData;
    private readonly int _nodeSize;
    private readonly int _sectorSize;

    public ExtentAllocator(int nodeSize, int sectorSize) { _nodeSize = nodeSize; _sectorSize = sectorSize; }

    public IReadOnlyList<BlockGroup> Groups => _groups;

    /// <summary>Marks the committed extents of a group allocated (<see cref="MarkCommitted"/>); set by the writer.</summary>
    internal Action<BlockGroup>? Loader { get; set; }

    private void EnsureLoaded(BlockGroup g)
    {
        if (g.Loaded) return;
        g.Loaded = true;
        g.NextSample = 0;
        g.SampledMin = ulong.MaxValue;
        Loader?.Invoke(g);
        if (g.UsesSizeClass && g.SampledMin != ulong.MaxValue) g.SizeClass = SizeClassOf(g.SampledMin);
    }

    /// <summary>A committed extent of a group being loaded (in bytenr order).</summary>
    internal void MarkCommitted(BlockGroup g, ulong bytenr, ulong len)
    {
        if (bytenr < g.Start || bytenr + len > g.End)
            throw Corruption.Create($"extent [{bytenr}, {bytenr + len}) crosses the end of block group [{g.Start}, {g.End})", bytenr, ObjectIds.ExtentTree);
        g.Free.Remove(bytenr, bytenr + len);
        g.Allocated.Add(bytenr, bytenr + len);
        // Sample i is the first extent at or after start + i × length/5 (sample_block_group_extent_item); the class is
        // that of the smallest sample.
        while (g.NextSample < 5 && bytenr >= g.Start + (ulong)g.NextSample * (g.Length / 5))
        {
            g.SampledMin = Math.Min(g.SampledMin, len);
            g.NextSample++;
        }
    }

    public static SizeClass SizeClassOf(ulong size) =>
        size <= 128UL << 10 ? SizeClass.Small : size <= 8UL << 20 ? SizeClass.Medium : SizeClass.Large;
    public ulong TotalUsed { get { ulong u = 0; foreach (var g in _groups) u += g.Used; return u; } }

    public BlockGroup AddGroup(ulong start, ulong length, BlockGroupFlags flags, ulong used, ChunkMapping? chunk, long deviceLength)
    {
        var g = new BlockGroup { Start = start, Length = length, Flags = flags, Used = used, UsedOnDisk = used };
        g.Free.Add(start, start + length);
        if (chunk != null) ExcludeSuperMirrors(g, chunk, deviceLength);
        ulong free = 0;
        foreach (var (s, e) in g.Free.Ranges) free += e - s;
        g.Excluded = length - free;
        int i = 0;
        while (i < _groups.Count && _groups[i].Start < start) i++;
        _groups.Insert(i, g);
        return g;
    }

    // Never place an extent over a superblock copy (physical 64 KiB at 64 KiB, 64 MiB, 256 GiB).
    private static void ExcludeSuperMirrors(BlockGroup g, ChunkMapping chunk, long deviceLength)
    {
        for (int m = 0; m < 3; m++)
        {
            ulong mirror = (ulong)Superblock.MirrorOffset(m);
            const ulong stripe = 0x10000;
            foreach (var phys in chunk.PhysicalStripes)
            {
                if (mirror + stripe <= phys || mirror >= phys + chunk.Length) continue;
                ulong lstart = chunk.Logical + (Math.Max(mirror, phys) - phys);
                ulong lend = chunk.Logical + (Math.Min(mirror + stripe, phys + chunk.Length) - phys);
                g.Free.Remove(lstart, lend);
            }
        }
    }

    public BlockGroup? Find(ulong bytenr)
    {
        foreach (var g in _groups) if (bytenr >= g.Start && bytenr < g.End) return g;
        return null;
    }

    /// <summary>Marks [bytenr, bytenr+len) allocated (a new extent).</summary>
    public void MarkAllocated(ulong bytenr, ulong len, bool countUsed)
    {
        var g = Find(bytenr) ?? throw Corruption.Create($"extent [{bytenr}, {bytenr + len}) is outside every block group", bytenr, ObjectIds.ExtentTree);
        EnsureLoaded(g);
        g.Free.Remove(bytenr, bytenr + len);
        g.Allocated.Add(bytenr, bytenr + len);
        if (countUsed) { g.Used += len; g.AllocationChanged = true; }
    }

    /// <summary>First fit in a group of <paramref name="type"/>; null when no group has room (a new chunk is needed).</summary>
    public ulong? TryAllocate(BlockGroupFlags type, ulong size, ulong align)
    {
        foreach (var g in _groups)
        {
            // The used bytes rule out a full group without reading its extents.
            if (!g.IsType(type) || g.MaxFree < size) continue;
            EnsureLoaded(g);
            if (g.Free.TryFind(size, align, g.Start, out ulong at))
            {
                MarkAllocated(at, size, countUsed: true);
                return at;
            }
        }
        return null;
    }

    /// <summary>
    /// A data extent as find_free_extent places it at <paramref name="pass"/>: first fit in the first data group (in
    /// address order) whose size class allows it; the first allocation into a group without a class sets it.
    /// </summary>
    public ulong? TryAllocateData(ulong size, ulong align, SizeClassPass pass)
    {
        var want = SizeClassOf(size);
        foreach (var g in _groups)
        {
            if (!g.IsType(BlockGroupFlags.Data) || g.MaxFree < size) continue;
            // The class is known once the group is loaded (cached).
            EnsureLoaded(g);
            if (g.UsesSizeClass && g.SizeClass != want && pass != SizeClassPass.Wrong
                && !(pass == SizeClassPass.Unset && g.SizeClass == SizeClass.None)) continue;
            if (g.Free.TryFind(size, align, g.Start, out ulong at))
            {
                MarkAllocated(at, size, countUsed: true);
                if (g.UsesSizeClass && g.SizeClass == SizeClass.None) g.SizeClass = want;
                return at;
            }
        }
        return null;
    }

    /// <summary>
    /// The data space_info's bytes in use as btrfs_space_info_used counts them: the groups' used bytes, the superblock
    /// stripes inside them (bytes_readonly) and what is freed but pinned until the commit.
    /// </summary>
    public (ulong Total, ulong Used) DataSpace()
    {
        ulong total = 0, used = 0;
        foreach (var g in _groups)
            if (g.IsType(BlockGroupFlags.Data)) { total += g.Length; used += g.Used + g.Excluded; }
        return (total, used + _pinnedData);
    }

    /// <summary>The largest free run (aligned) in a group of this type, for splitting a large data write.</summary>
    public ulong LargestFree(BlockGroupFlags type, ulong align)
    {
        ulong best = 0;
        foreach (var g in _groups)
        {
            if (!g.IsType(type) || g.MaxFree <= best) continue;
            EnsureLoaded(g);
            foreach (var (s, e) in g.Free.Ranges)
            {
                ulong a = (s + align - 1) / align * align;
                if (a < e) best = Math.Max(best, (e - a) / align * align);
            }
        }
        return best;
    }

    /// <summary>An extent is gone: its bytes stop counting as used now, and the space is reusable after the commit.</summary>
    public void Free(ulong bytenr, ulong len, bool allocatedInThisTransaction)
    {
        var g = Find(bytenr) ?? throw Corruption.Create($"freeing [{bytenr}, {bytenr + len}) outside every block group", bytenr);
        EnsureLoaded(g);
        g.Used -= len;
        g.AllocationChanged = true;
        g.Allocated.Remove(bytenr, bytenr + len);
        // A tree block never referenced by a committed tree can be reused at once (btrfs_free_tree_block); the rest,
        // and every data extent (its delayed ref pins it), waits for the commit.
        if (allocatedInThisTransaction && !g.IsType(BlockGroupFlags.Data)) g.Free.Add(bytenr, bytenr + len);
        else
        {
            _pinned.Add((bytenr, bytenr + len));
            if (g.IsType(BlockGroupFlags.Data)) _pinnedData += len;
        }
    }

    /// <summary>After the superblock of the commit is on disk: pinned space becomes free, and an emptied data group loses its size class (btrfs_maybe_reset_size_class).</summary>
    public void Unpin()
    {
        foreach (var (s, e) in _pinned) Find(s)?.Free.Add(s, e);
        _pinned.Clear();
        _pinnedData = 0;
        foreach (var g in _groups)
            if (g.UsesSizeClass && g.Used == 0) g.SizeClass = SizeClass.None;
    }

    public bool IsPinned(ulong bytenr) => _pinned.Any(p => bytenr >= p.Start && bytenr < p.End);
}
