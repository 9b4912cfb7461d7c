using BtrfsLite.Format;

namespace BtrfsLite.IO;

/// <summary>One chunk: a logical range and where its copies live on the (single) device.</summary>
/// <param name="Logical">The chunk's logical start in bytes (the CHUNK_ITEM key offset).</param>
/// <param name="Length">btrfs_chunk.length in bytes.</param>
/// <param name="Type">btrfs_chunk.type: block group type and profile.</param>
/// <param name="PhysicalStripes">The physical byte offset of each copy on the device (btrfs_stripe.offset): one for
/// SINGLE, two for DUP.</param>
public sealed record ChunkMapping(ulong Logical, ulong Length, BlockGroupFlags Type, ulong[] PhysicalStripes)
{
    /// <summary>The first logical byte after the chunk.</summary>
    public ulong End => Logical + Length;
    /// <summary>True for a DUP chunk (two copies on the device).</summary>
    public bool IsDup => (Type & BlockGroupFlags.Dup) != 0;
}

/// <summary>Logical → physical translation from the sys_chunk_array and the chunk tree. SINGLE and DUP only.</summary>
public sealed class ChunkMap
{
    private readonly List<ChunkMapping> _chunks = new();
    private ChunkMapping? _last;
    private readonly ulong _devId;
    private readonly bool _multiDevice;

    /// <param name="devId">The id of this file system's device (its superblock's dev_item; 1 unless a device was replaced).</param>
    /// <param name="multiDevice">The superblock says more than one device: a stripe elsewhere is a feature we lack, not damage.</param>
    public ChunkMap(ulong devId = 1, bool multiDevice = false) { _devId = devId; _multiDevice = multiDevice; }

    /// <summary>Whether a chunk had a stripe on another device (only possible when multi-device was declared).</summary>
    public bool UsesOtherDevices { get; private set; }

    /// <summary>The chunks, sorted by logical start.</summary>
    public IReadOnlyList<ChunkMapping> Chunks => _chunks;

    /// <summary>Parses the superblock's sys_chunk_array (key + chunk, back to back).</summary>
    public static ChunkMap FromSysChunkArray(Superblock sb)
    {
        var map = new ChunkMap(sb.DevItem.DevId, sb.NumDevices > 1);
        uint size = sb.SysChunkArraySize;
        if (size > Superblock.SysChunkArrayMax)
            Throw.Corrupt($"superblock sys_chunk_array_size {size} is larger than {Superblock.SysChunkArrayMax}", Superblock.PrimaryOffset);
        var arr = sb.SysChunkArray[..(int)size];
        int pos = 0;
        while (pos < arr.Length)
        {
            if (arr.Length - pos < Key.Size + ChunkItem.Size)
                Throw.Corrupt($"sys_chunk_array: truncated chunk at array offset {pos} (size {size})", Superblock.PrimaryOffset);
            var key = Key.Read(arr[pos..]);
            if (key.Type != ItemType.ChunkItem)
                Throw.Corrupt($"sys_chunk_array: item at array offset {pos} has key type {(byte)key.Type}, expected CHUNK_ITEM", Superblock.PrimaryOffset);
            pos += Key.Size;
            int stripes = new ChunkItem(arr[pos..]).NumStripes;
            int len = ChunkItem.SizeWith(stripes);
            if (stripes == 0 || arr.Length - pos < len)
                Throw.Corrupt($"sys_chunk_array: chunk at logical {key.Offset} with {stripes} stripes does not fit the array", Superblock.PrimaryOffset);
            var chunk = new ChunkItem(arr.Slice(pos, len));
            if ((chunk.Type & BlockGroupFlags.System) == 0)
                Throw.Corrupt($"sys_chunk_array: chunk at logical {key.Offset} is not a SYSTEM chunk (type 0x{(ulong)chunk.Type:x})", Superblock.PrimaryOffset);
            map.Add(key.Offset, chunk);
            pos += len;
        }
        return map;
    }

    /// <summary>Adds (or confirms) a chunk; refuses profiles outside the subset by name.</summary>
    public ChunkMapping Add(ulong logical, ChunkItem chunk)
    {
        var profile = chunk.Type & BlockGroupFlags.ProfileMask;
        if (profile != 0 && profile != BlockGroupFlags.Dup)
            Throw.Unsupported($"chunk at logical {logical} uses profile {ProfileName(profile)}; only SINGLE and DUP are supported");
        int expected = profile == BlockGroupFlags.Dup ? 2 : 1;
        if (chunk.NumStripes != expected || chunk.StripesInItem < expected)
            Throw.Corrupt($"chunk at logical {logical}: num_stripes {chunk.NumStripes} does not match profile {ProfileName(profile)} (expect {expected})");
        if (chunk.Length == 0) Throw.Corrupt($"chunk at logical {logical} has length 0");
        var phys = new ulong[expected];
        for (int i = 0; i < expected; i++)
        {
            var s = chunk.Stripe(i);
            if (s.DevId != _devId)
            {
                if (!_multiDevice)
                    Throw.Corrupt($"chunk at logical {logical} stripe {i} is on device {s.DevId}, but the file system's only device is {_devId}");
                UsesOtherDevices = true;
                Throw.Unsupported($"chunk at logical {logical} stripe {i} is on device {s.DevId}; only single-device filesystems are supported");
            }
            phys[i] = s.Offset;
        }
        var m = new ChunkMapping(logical, chunk.Length, chunk.Type, phys);
        int idx = FindIndex(logical);
        if (idx >= 0 && _chunks[idx].Logical == logical) return _chunks[idx];
        int ins = idx < 0 ? 0 : idx + 1;
        if (ins > 0 && _chunks[ins - 1].End > logical)
            Throw.Corrupt($"chunk at logical {logical} overlaps chunk at {_chunks[ins - 1].Logical}");
        if (ins < _chunks.Count && m.End > _chunks[ins].Logical)
            Throw.Corrupt($"chunk at logical {logical} overlaps chunk at {_chunks[ins].Logical}");
        _chunks.Insert(ins, m);
        return m;
    }

    // Binary search: index of the chunk with the largest Logical <= logical, or ~insertion point when none.
    private int FindIndex(ulong logical)
    {
        int lo = 0, hi = _chunks.Count - 1, best = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_chunks[mid].Logical <= logical) { best = mid; lo = mid + 1; } else hi = mid - 1;
        }
        return best >= 0 ? best : ~0;
    }

    /// <summary>Replaces every mapping (reloading the committed state after an aborted transaction).</summary>
    public void ReplaceWith(ChunkMap other)
    {
        _chunks.Clear();
        _chunks.AddRange(other._chunks);
        _last = null;
    }

    /// <summary>The chunk holding logical byte <paramref name="logical"/>; null when no chunk does.</summary>
    public ChunkMapping? Find(ulong logical)
    {
        var last = _last;
        if (last != null && logical >= last.Logical && logical < last.End) return last;
        int idx = FindIndex(logical);
        if (idx < 0) return null;
        var c = _chunks[idx];
        if (logical >= c.End) return null;
        _last = c;
        return c;
    }

    /// <summary>Physical offset of copy <paramref name="copy"/> of [logical, logical+length); the range must lie in one chunk.</summary>
    public long Map(ulong logical, int length, int copy = 0)
    {
        var c = Find(logical) ?? Throw.Corrupt<ChunkMapping>($"logical {logical} is not inside any chunk", logical);
        if (logical + (ulong)length > c.End)
            Throw.Corrupt($"logical range [{logical}, {logical + (ulong)length}) crosses the end of chunk [{c.Logical}, {c.End})", logical);
        if (copy >= c.PhysicalStripes.Length) throw new ArgumentOutOfRangeException(nameof(copy));
        return (long)(c.PhysicalStripes[copy] + (logical - c.Logical));
    }

    /// <summary>
    /// The btrfs-progs name of a block group profile ("SINGLE", "DUP", "RAID1"...); only the profile bits of
    /// <paramref name="profile"/> count.
    /// </summary>
    public static string ProfileName(BlockGroupFlags profile) => (profile & BlockGroupFlags.ProfileMask) switch
    {
        0 => "SINGLE",
        BlockGroupFlags.Dup => "DUP",
        BlockGroupFlags.Raid0 => "RAID0",
        BlockGroupFlags.Raid1 => "RAID1",
        BlockGroupFlags.Raid10 => "RAID10",
        BlockGroupFlags.Raid5 => "RAID5",
        BlockGroupFlags.Raid6 => "RAID6",
        BlockGroupFlags.Raid1C3 => "RAID1C3",
        BlockGroupFlags.Raid1C4 => "RAID1C4",
        var p => $"0x{(ulong)p:x}",
    };
}
