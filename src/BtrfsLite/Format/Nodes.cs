using System.Runtime.CompilerServices;

namespace BtrfsLite.Format;

/// <summary>btrfs_header (0x65 = 101 bytes) at the start of every tree block.</summary>
public readonly ref struct NodeHeader
{
    /// <summary>Bytes of a btrfs_header: 0x65 (101); items or key pointers start right after it.</summary>
    public const int Size = 0x65;
    /// <summary>BTRFS_HEADER_FLAG_WRITTEN in btrfs_header.flags: the block has been written.</summary>
    public const ulong FlagWritten = 0x1;
    /// <summary>BTRFS_HEADER_FLAG_RELOC in btrfs_header.flags: the block belongs to a relocation tree.</summary>
    public const ulong FlagReloc = 0x2;
    /// <summary>The backref revision sits in the top 8 bits of btrfs_header.flags (BTRFS_BACKREF_REV_SHIFT).</summary>
    public const int BackrefRevShift = 56;
    /// <summary>BTRFS_MIXED_BACKREF_REV: the backref revision of every block written with mixed backrefs.</summary>
    public const ulong MixedBackrefRev = 1;
    /// <summary>BTRFS_MAX_LEVEL: tree levels run 0 (leaf) to 7.</summary>
    public const int MaxLevel = 8;

    /// <summary>Byte offsets of btrfs_header's fields; the integers there are little-endian.</summary>
    public static class Offsets
    {
        /// <summary>Offsets of csum, fsid, bytenr, flags and chunk_tree_uuid.</summary>
        public const int Csum = 0x00, Fsid = 0x20, Bytenr = 0x30, Flags = 0x38, ChunkTreeUuid = 0x40;
        /// <summary>Offsets of generation, owner, nritems and level.</summary>
        public const int Generation = 0x50, Owner = 0x58, NrItems = 0x60, Level = 0x64;
    }

    private readonly Span<byte> _b;
    /// <summary>A view of the header at the start of tree block <paramref name="block"/>.</summary>
    public NodeHeader(Span<byte> block) => _b = block;
    /// <summary>
    /// btrfs_header.csum: the block's crc32c (first 4 of 32 bytes), over bytes 0x20 to the end of the block.
    /// </summary>
    public uint Csum => Le.U32(_b, Offsets.Csum);
    /// <summary>btrfs_header.fsid: the file system's uuid (metadata_uuid when METADATA_UUID is set).</summary>
    public Guid Fsid { get => Le.Uuid(_b, Offsets.Fsid); set => Le.Uuid(_b, Offsets.Fsid, value); }
    /// <summary>btrfs_header.bytenr: the block's logical address in bytes.</summary>
    public ulong Bytenr { get => Le.U64(_b, Offsets.Bytenr); set => Le.U64(_b, Offsets.Bytenr, value); }
    /// <summary>btrfs_header.flags: WRITTEN and RELOC flags, and the backref revision in the top 8 bits.</summary>
    public ulong Flags { get => Le.U64(_b, Offsets.Flags); set => Le.U64(_b, Offsets.Flags, value); }
    /// <summary>btrfs_header.chunk_tree_uuid: the chunk tree's uuid.</summary>
    public Guid ChunkTreeUuid { get => Le.Uuid(_b, Offsets.ChunkTreeUuid); set => Le.Uuid(_b, Offsets.ChunkTreeUuid, value); }
    /// <summary>btrfs_header.generation: the transaction that wrote the block.</summary>
    public ulong Generation { get => Le.U64(_b, Offsets.Generation); set => Le.U64(_b, Offsets.Generation, value); }
    /// <summary>btrfs_header.owner: the id of the tree the block belongs to.</summary>
    public ulong Owner { get => Le.U64(_b, Offsets.Owner); set => Le.U64(_b, Offsets.Owner, value); }
    /// <summary>btrfs_header.nritems: the number of items (leaf) or key pointers (node).</summary>
    public uint NrItems { get => Le.U32(_b, Offsets.NrItems); set => Le.U32(_b, Offsets.NrItems, value); }
    /// <summary>btrfs_header.level: 0 for a leaf, the node's height otherwise.</summary>
    public byte Level { get => _b[Offsets.Level]; set => _b[Offsets.Level] = value; }
    /// <summary>
    /// The backref revision: the top 8 bits of flags (1, <see cref="MixedBackrefRev"/>, for every current block).
    /// </summary>
    public ulong BackrefRev => Flags >> BackrefRevShift;
    /// <summary>True when the header's fsid is <paramref name="fsid"/>.</summary>
    public bool FsidMatches(Guid fsid) => Fsid == fsid;
}

/// <summary>btrfs_item (25 bytes): key, data offset (from the end of the header), data size.</summary>
public static class ItemHeader
{
    /// <summary>Bytes of a btrfs_item: 25.</summary>
    public const int Size = 25;
    /// <summary>
    /// Offsets of the key, offset (data offset from the end of the header) and size fields, little-endian.
    /// </summary>
    public const int KeyOffset = 0, DataOffset = 17, DataSize = 21;
}

/// <summary>btrfs_key_ptr (33 bytes): key, blockptr, generation.</summary>
public static class KeyPtr
{
    /// <summary>Bytes of a btrfs_key_ptr: 33.</summary>
    public const int Size = 33;
    /// <summary>Offsets of the key, blockptr and generation fields, little-endian.</summary>
    public const int KeyOffset = 0, BlockPtr = 17, Generation = 25;
}

/// <summary>A leaf (level 0) tree block: item headers grow from the front, payloads from the back.</summary>
public readonly ref struct Leaf
{
    private readonly Span<byte> _b;
    /// <summary>A view of leaf <paramref name="block"/> (a whole nodesize buffer).</summary>
    public Leaf(Span<byte> block) => _b = block;
    /// <summary>The whole tree block.</summary>
    public Span<byte> Block => _b;
    /// <summary>The block's btrfs_header.</summary>
    public NodeHeader Header => new(_b);
    /// <summary>btrfs_header.nritems: the number of items.</summary>
    public int NrItems => (int)Le.U32(_b, NodeHeader.Offsets.NrItems);
    /// <summary>Bytes usable for item headers and payloads (nodesize - header).</summary>
    public int DataAreaSize => _b.Length - NodeHeader.Size;
    /// <summary>
    /// The most items a leaf of <paramref name="nodeSize"/> bytes can hold (each with an empty payload).
    /// </summary>
    public static int MaxItems(int nodeSize) => (nodeSize - NodeHeader.Size) / ItemHeader.Size;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ItemPos(int slot) => NodeHeader.Size + slot * ItemHeader.Size;
    /// <summary>The key of the item in <paramref name="slot"/>.</summary>
    public Key Key(int slot) => Format.Key.Read(_b[ItemPos(slot)..]);
    /// <summary>The 17 raw bytes of the key in <paramref name="slot"/>.</summary>
    public ReadOnlySpan<byte> RawKey(int slot) => _b.Slice(ItemPos(slot), Format.Key.Size);
    /// <summary>The objectid of the key in <paramref name="slot"/>.</summary>
    public ulong KeyObjectId(int slot) => Le.U64(_b, ItemPos(slot));
    /// <summary>The type of the key in <paramref name="slot"/>.</summary>
    public ItemType KeyType(int slot) => (ItemType)_b[ItemPos(slot) + 8];
    /// <summary>The offset of the key in <paramref name="slot"/>.</summary>
    public ulong KeyOffset(int slot) => Le.U64(_b, ItemPos(slot) + 9);
    /// <summary>
    /// btrfs_item.offset of <paramref name="slot"/>: where the payload starts, in bytes from the end of the header.
    /// </summary>
    public uint DataOffset(int slot) => Le.U32(_b, ItemPos(slot) + ItemHeader.DataOffset);
    /// <summary>btrfs_item.size of <paramref name="slot"/>: the payload's length in bytes.</summary>
    public uint DataSize(int slot) => Le.U32(_b, ItemPos(slot) + ItemHeader.DataSize);
    /// <summary>The item's payload. Callers must have validated the leaf (item bounds) first.</summary>
    public Span<byte> Data(int slot) => _b.Slice(NodeHeader.Size + (int)DataOffset(slot), (int)DataSize(slot));

    /// <summary>Writes the key of the item in <paramref name="slot"/>.</summary>
    public void SetKey(int slot, in Key k) => k.Write(_b[ItemPos(slot)..]);
    /// <summary>
    /// Writes btrfs_item.offset and btrfs_item.size of <paramref name="slot"/> (offset in bytes from the end of the
    /// header).
    /// </summary>
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
    /// <summary>A view of node <paramref name="block"/> (a whole nodesize buffer).</summary>
    public InternalNode(Span<byte> block) => _b = block;
    /// <summary>The whole tree block.</summary>
    public Span<byte> Block => _b;
    /// <summary>The block's btrfs_header.</summary>
    public NodeHeader Header => new(_b);
    /// <summary>btrfs_header.nritems: the number of key pointers.</summary>
    public int NrItems => (int)Le.U32(_b, NodeHeader.Offsets.NrItems);
    /// <summary>The most key pointers a node of <paramref name="nodeSize"/> bytes can hold.</summary>
    public static int MaxItems(int nodeSize) => (nodeSize - NodeHeader.Size) / KeyPtr.Size;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int PtrPos(int slot) => NodeHeader.Size + slot * KeyPtr.Size;
    /// <summary>The key of the pointer in <paramref name="slot"/>: the lowest key of that child.</summary>
    public Key Key(int slot) => Format.Key.Read(_b[PtrPos(slot)..]);
    /// <summary>The 17 raw bytes of the key in <paramref name="slot"/>.</summary>
    public ReadOnlySpan<byte> RawKey(int slot) => _b.Slice(PtrPos(slot), Format.Key.Size);
    /// <summary>btrfs_key_ptr.blockptr of <paramref name="slot"/>: the child's logical address.</summary>
    public ulong BlockPtr(int slot) => Le.U64(_b, PtrPos(slot) + KeyPtr.BlockPtr);
    /// <summary>btrfs_key_ptr.generation of <paramref name="slot"/>: the transaction that wrote the child.</summary>
    public ulong PtrGeneration(int slot) => Le.U64(_b, PtrPos(slot) + KeyPtr.Generation);
    /// <summary>Writes the key pointer in <paramref name="slot"/>.</summary>
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

    /// <summary>
    /// Block-local structural check of a node (the kernel tree-checker's node rules: nritems, non-zero block pointers,
    /// key order).
    /// </summary>
    /// <returns>Null when sound; else what is wrong, with <paramref name="badSlot"/> the slot at fault (-1 for the
    /// header).</returns>
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
