using System.Runtime.CompilerServices;

namespace BtrfsLite.Format;

/// <summary>btrfs_header (0x65 = 101 bytes) at the start of every tree block.</summary>
public readonly ref struct NodeHeader
{
    public const int Size = 0x65;
    public const ulong FlagWritten = 0x1;
    public const ulong FlagReloc = 0x2;
    public const int BackrefRevShift = 56;
    public const ulong MixedBackrefRev = 1;
    public const int MaxLevel = 8;

    public static class Offsets
    {
        public const int Csum = 0x00, Fsid = 0x20, Bytenr = 0x30, Flags = 0x38, ChunkTreeUuid = 0x40;
        public const int Generation = 0x50, Owner = 0x58, NrItems = 0x60, Level = 0x64;
    }

    private readonly Span<byte> _b;
    public NodeHeader(Span<byte> block) => _b = block;
    public uint Csum => Le.U32(_b, Offsets.Csum);
    public Guid Fsid { get => Le.Uuid(_b, Offsets.Fsid); set => Le.Uuid(_b, Offsets.Fsid, value); }
    public ulong Bytenr { get => Le.U64(_b, Offsets.Bytenr); set => Le.U64(_b, Offsets.Bytenr, value); }
    public ulong Flags { get => Le.U64(_b, Offsets.Flags); set => Le.U64(_b, Offsets.Flags, value); }
    public Guid ChunkTreeUuid { get => Le.Uuid(_b, Offsets.ChunkTreeUuid); set => Le.Uuid(_b, Offsets.ChunkTreeUuid, value); }
    public ulong Generation { get => Le.U64(_b, Offsets.Generation); set => Le.U64(_b, Offsets.Generation, value); }
    public ulong Owner { get => Le.U64(_b, Offsets.Owner); set => Le.U64(_b, Offsets.Owner, value); }
    public uint NrItems { get => Le.U32(_b, Offsets.NrItems); set => Le.U32(_b, Offsets.NrItems, value); }
    public byte Level { get => _b[Offsets.Level]; set => _b[Offsets.Level] = value; }
    public ulong BackrefRev => Flags >> BackrefRevShift;
    public bool FsidMatches(Guid fsid) => Fsid == fsid;
}

/// <summary>btrfs_item (25 bytes): key, data offset (from the end of the header), data size.</summary>
public static class ItemHeader
{
    public const int Size = 25;
    public const int KeyOffset = 0, DataOffset = 17, DataSize = 21;
}

/// <summary>btrfs_key_ptr (33 bytes): key, blockptr, generation.</summary>
public static class KeyPtr
{
    public const int Size = 33;
    public const int KeyOffset = 0, BlockPtr = 17, Generation = 25;
}

/// <summary>A leaf (level 0) tree block: item headers grow from the front, payloads from the back.</summary>
public readonly ref struct Leaf
{
    private readonly Span<byte> _b;
    public Leaf(Span<byte> block) => _b = block;
    public Span<byte> Block => _b;
    public NodeHeader Header => new(_b);
    public int NrItems => (int)Le.U32(_b, NodeHeader.Offsets.NrItems);
    /// <summary>Bytes usable for item headers and payloads (nodesize - header).</summary>
    public int DataAreaSize => _b.Length - NodeHeader.Size;
    public static int MaxItems(int nodeSize) => (nodeSize - NodeHeader.Size) / ItemHeader.Size;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ItemPos(int slot) => NodeHeader.Size + slot * ItemHeader.Size;
    public Key Key(int slot) => Format.Key.Read(_b[ItemPos(slot)..]);
    public ReadOnlySpan<byte> RawKey(int slot) => _b.Slice(ItemPos(slot), Format.Key.Size);
    public ulong KeyObjectId(int slot) => Le.U64(_b, ItemPos(slot));
    public ItemType KeyType(int slot) => (ItemType)_b[ItemPos(slot) + 8];
    public ulong KeyOffset(int slot) => Le.U64(_b, ItemPos(slot) + 9);
    public uint DataOffset(int slot) => Le.U32(_b, ItemPos(slot) + ItemHeader.DataOffset);
    public uint DataSize(int slot) => Le.U32(_b, ItemPos(slot) + ItemHeader.DataSize);
    /// <summary>The item's payload. Callers must have validated the leaf (item bounds) first.</summary>
    public Span<byte> Data(int slot) => _b.Slice(NodeHeader.Size + (int)DataOffset(slot), (int)DataSize(slot));

    public void SetKey(int slot, in Key k) => k.Write(_b[ItemPos(slot)..]);
    public void SetItemPlacement(int slot, uint dataOffset, uint dataSize)
    {
        Le.U32(_b, ItemPos(slot) + ItemHeader.DataOffset, dataOffset);
        Le.U32(_b, ItemPos(slot) + ItemHeader.DataSize, dataSize);
    }

    /// <summary>Free bytes between the item array and the payload area.</summary>
    public int FreeSpace
    {
        get
        {
            int n = NrItems;
            int dataStart = n == 0 ? DataAreaSize : (int)DataOffset(n - 1);
            return dataStart - n * ItemHeader.Size;
        }
    }

    /// <summary>Binary search; returns the slot, or ~insertion point when absent.</summary>
    public int Search(in Key key)
    {
        int lo = 0, hi = NrItems - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int c = Format.Key.CompareRaw(_b.Slice(ItemPos(mid), Format.Key.Size), key);
            if (c == 0) return mid;
            if (c < 0) lo = mid + 1; else hi = mid - 1;
        }
        return ~lo;
    }

    /// <summary>Block-local structural check (the kernel tree-checker's leaf rules). Returns null when sound.</summary>
    public string? Validate(out int badSlot)
    {
        badSlot = -1;
        int n = NrItems;
        if (n < 0 || n > MaxItems(_b.Length)) return $"invalid nritems {(uint)n}, max {MaxItems(_b.Length)}";
        int expectedEnd = DataAreaSize;
        for (int i = 0; i < n; i++)
        {
            uint off = DataOffset(i), size = DataSize(i);
            if ((ulong)off + size != (ulong)expectedEnd)
            {
                badSlot = i;
                return $"unexpected item end, have {(ulong)off + size} expect {expectedEnd}";
            }
            if (off < (ulong)(n * ItemHeader.Size))
            {
                badSlot = i;
                return $"slot {i} item data offset {off} overlaps the item headers (end {n * ItemHeader.Size})";
            }
            expectedEnd = (int)off;
            if (i > 0 && Format.Key.CompareRaw(RawKey(i - 1), Key(i)) >= 0)
            {
                badSlot = i;
                return $"bad key order, prev {Key(i - 1)} current {Key(i)}";
            }
        }
        return null;
    }
}

/// <summary>An internal node (level &gt;= 1): key pointers to children.</summary>
public readonly ref struct InternalNode
{
    private readonly Span<byte> _b;
    public InternalNode(Span<byte> block) => _b = block;
    public Span<byte> Block => _b;
    public NodeHeader Header => new(_b);
    public int NrItems => (int)Le.U32(_b, NodeHeader.Offsets.NrItems);
    public static int MaxItems(int nodeSize) => (nodeSize - NodeHeader.Size) / KeyPtr.Size;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int PtrPos(int slot) => NodeHeader.Size + slot * KeyPtr.Size;
    public Key Key(int slot) => Format.Key.Read(_b[PtrPos(slot)..]);
    public ReadOnlySpan<byte> RawKey(int slot) => _b.Slice(PtrPos(slot), Format.Key.Size);
    public ulong BlockPtr(int slot) => Le.U64(_b, PtrPos(slot) + KeyPtr.BlockPtr);
    public ulong PtrGeneration(int slot) => Le.U64(_b, PtrPos(slot) + KeyPtr.Generation);
    public void SetPtr(int slot, in Key k, ulong blockPtr, ulong generation)
    {
        k.Write(_b[PtrPos(slot)..]);
        Le.U64(_b, PtrPos(slot) + KeyPtr.BlockPtr, blockPtr);
        Le.U64(_b, PtrPos(slot) + KeyPtr.Generation, generation);
    }

    /// <summary>Slot of the child whose range holds <paramref name="key"/>: last pointer key &lt;= key (0 if none).</summary>
    public int ChildSlot(in Key key, out bool exact)
    {
        int lo = 0, hi = NrItems - 1;
        exact = false;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int c = Format.Key.CompareRaw(_b.Slice(PtrPos(mid), Format.Key.Size), key);
            if (c == 0) { exact = true; return mid; }
            if (c < 0) lo = mid + 1; else hi = mid - 1;
        }
        return lo == 0 ? 0 : lo - 1;
    }

    public string? Validate(out int badSlot)
    {
        badSlot = -1;
        int n = NrItems;
        if (n < 1 || n > MaxItems(_b.Length)) return $"invalid nritems {(uint)n}, expect [1, {MaxItems(_b.Length)}]";
        for (int i = 0; i < n; i++)
        {
            if (BlockPtr(i) == 0) { badSlot = i; return $"invalid blockptr 0 at slot {i}"; }
            if (i > 0 && Format.Key.CompareRaw(RawKey(i - 1), Key(i)) >= 0)
            {
                badSlot = i;
                return $"bad key order, prev {Key(i - 1)} current {Key(i)}";
            }
        }
        return null;
    }
}
