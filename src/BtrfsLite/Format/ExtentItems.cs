namespace BtrfsLite.Format;

/// <summary>btrfs_extent_item (24 bytes) heading EXTENT_ITEM / METADATA_ITEM payloads; inline refs follow.</summary>
public readonly ref struct ExtentItem
{
    /// <summary>Bytes of a btrfs_extent_item (refs, generation, flags): 24.</summary>
    public const int Size = 24;
    /// <summary>btrfs_tree_block_info: first key + level, only in non-skinny tree-block EXTENT_ITEMs.</summary>
    public const int TreeBlockInfoSize = Key.Size + 1;
    /// <summary>Byte offsets of btrfs_extent_item's fields; the integers there are little-endian.</summary>
    public static class Offsets
    {
        /// <summary>Offsets of refs, generation and flags.</summary>
        public const int Refs = 0, Generation = 8, Flags = 16;
    }
    private readonly Span<byte> _b;
    /// <summary>
    /// A view of the whole item <paramref name="b"/> (header, optional tree_block_info, inline refs).
    /// </summary>
    /// <exception cref="InvalidDataException"><paramref name="b"/> is shorter than 24 bytes.</exception>
    public ExtentItem(Span<byte> b)
    {
        if (b.Length < Size) throw new InvalidDataException($"extent item too short: {b.Length} < {Size}");
        _b = b;
    }
    /// <summary>btrfs_extent_item.refs: the number of references to the extent.</summary>
    public ulong Refs { get => Le.U64(_b, Offsets.Refs); set => Le.U64(_b, Offsets.Refs, value); }
    /// <summary>btrfs_extent_item.generation: the transaction that allocated the extent.</summary>
    public ulong Generation { get => Le.U64(_b, Offsets.Generation); set => Le.U64(_b, Offsets.Generation, value); }
    /// <summary>btrfs_extent_item.flags: DATA or TREE_BLOCK, and FULL_BACKREF.</summary>
    public ExtentFlags Flags { get => (ExtentFlags)Le.U64(_b, Offsets.Flags); set => Le.U64(_b, Offsets.Flags, (ulong)value); }

    /// <summary>Where inline refs start: after the header, plus tree_block_info for non-skinny tree blocks.</summary>
    public static int InlineRefStart(ItemType keyType, ExtentFlags flags) =>
        keyType == ItemType.ExtentItem && (flags & ExtentFlags.TreeBlock) != 0 ? Size + TreeBlockInfoSize : Size;
}

/// <summary>One inline backref of an extent item. For EXTENT_DATA_REF the fields are root/objectid/offset/count.</summary>
public readonly struct InlineRef
{
    /// <summary>
    /// The inline ref type: TREE_BLOCK_REF, SHARED_BLOCK_REF, EXTENT_DATA_REF, SHARED_DATA_REF or EXTENT_OWNER_REF.
    /// </summary>
    public readonly ItemType Type;
    /// <summary>TREE_BLOCK_REF root, SHARED_BLOCK_REF/SHARED_DATA_REF parent, EXTENT_DATA_REF root.</summary>
    public readonly ulong Offset;
    /// <summary>btrfs_extent_data_ref.objectid: the inode number (EXTENT_DATA_REF only, else 0).</summary>
    public readonly ulong ObjectId;   // EXTENT_DATA_REF only
    /// <summary>
    /// btrfs_extent_data_ref.offset: the file offset of the extent's start, the EXTENT_DATA key offset minus
    /// btrfs_file_extent_item.offset (EXTENT_DATA_REF only, else 0).
    /// </summary>
    public readonly ulong FileOffset; // EXTENT_DATA_REF only
    /// <summary>
    /// The reference count of a data ref (EXTENT_DATA_REF or SHARED_DATA_REF); 1 for tree block refs.
    /// </summary>
    public readonly uint Count;       // data refs; 1 for tree block refs
    /// <summary>The ref's byte position inside the extent item (where its type byte is).</summary>
    public readonly int Position;     // byte position inside the item
    /// <summary>An inline ref with the given fields.</summary>
    public InlineRef(ItemType type, ulong offset, ulong objectId, ulong fileOffset, uint count, int position)
    { Type = type; Offset = offset; ObjectId = objectId; FileOffset = fileOffset; Count = count; Position = position; }

    /// <summary>
    /// Bytes of an inline ref of type <paramref name="t"/>, its type byte included; -1 for a type that cannot be
    /// inline.
    /// </summary>
    public static int SizeOf(ItemType t) => t switch
    {
        ItemType.TreeBlockRef or ItemType.SharedBlockRef => 9,
        ItemType.ExtentDataRef => 1 + ExtentDataRef.Size,
        ItemType.SharedDataRef => 1 + 8 + 4,
        ItemType.ExtentOwnerRef => 9,
        _ => -1,
    };

    /// <summary>The kernel's order within one type: descending by this value.</summary>
    public ulong SortValue => Type == ItemType.ExtentDataRef ? Checksums.ExtentDataRefHash(Offset, ObjectId, FileOffset) : Offset;

    /// <summary>
    /// Writes an inline ref (type byte, then the fields of <paramref name="type"/>, little-endian) at the start of
    /// <paramref name="b"/>.
    /// </summary>
    /// <returns>The bytes written: 9 for tree block and owner refs, 29 for EXTENT_DATA_REF, 13 for
    /// SHARED_DATA_REF.</returns>
    /// <exception cref="ArgumentException"><paramref name="type"/> is not an inline ref type.</exception>
    public static int Write(Span<byte> b, ItemType type, ulong offset, ulong objectId = 0, ulong fileOffset = 0, uint count = 1)
    {
        b[0] = (byte)type;
        switch (type)
        {
            case ItemType.TreeBlockRef or ItemType.SharedBlockRef or ItemType.ExtentOwnerRef:
                Le.U64(b, 1, offset); return 9;
            case ItemType.ExtentDataRef:
                Le.U64(b, 1, offset); Le.U64(b, 9, objectId); Le.U64(b, 17, fileOffset); Le.U32(b, 25, count); return 29;
            case ItemType.SharedDataRef:
                Le.U64(b, 1, offset); Le.U32(b, 9, count); return 13;
            default: throw new ArgumentException($"not an inline ref type: {type}");
        }
    }
}

/// <summary>Walks inline refs; stops and flags Malformed at an unknown type or a ref past the item end.</summary>
public ref struct InlineRefReader
{
    private readonly ReadOnlySpan<byte> _b;
    private int _pos;
    /// <summary>True after <see cref="Next"/> stopped at an unknown type or a ref running past the item end.</summary>
    public bool Malformed { get; private set; }
    /// <summary>Why <see cref="Malformed"/> was set; null while it is not.</summary>
    public string? Error { get; private set; }
    /// <summary>The byte position, inside the item, of the next ref to read.</summary>
    public int Position => _pos;
    /// <summary>
    /// A reader over the inline refs of extent item <paramref name="item"/>, starting at byte <paramref name="start"/>
    /// (see <see cref="ExtentItem.InlineRefStart"/>).
    /// </summary>
    public InlineRefReader(ReadOnlySpan<byte> item, int start) { _b = item; _pos = start; Malformed = false; Error = null; }
    /// <summary>Reads the next inline ref.</summary>
    /// <returns>False at the end of the item or at a malformed ref (then <see cref="Malformed"/> is set).</returns>
    public bool Next(out InlineRef r)
    {
        r = default;
        if (_pos >= _b.Length) return false;
        var t = (ItemType)_b[_pos];
        int size = InlineRef.SizeOf(t);
        if (size < 0) { Malformed = true; Error = $"unknown inline ref type {(byte)t} at offset {_pos}"; return false; }
        if (_b.Length - _pos < size) { Malformed = true; Error = $"inline ref type {t} at offset {_pos} runs past the item end {_b.Length}"; return false; }
        var p = _b[(_pos + 1)..];
        r = t switch
        {
            ItemType.ExtentDataRef => new InlineRef(t, Le.U64(p, 0), Le.U64(p, 8), Le.U64(p, 16), Le.U32(p, 24), _pos),
            ItemType.SharedDataRef => new InlineRef(t, Le.U64(p, 0), 0, 0, Le.U32(p, 8), _pos),
            _ => new InlineRef(t, Le.U64(p, 0), 0, 0, 1, _pos),
        };
        _pos += size;
        return true;
    }
}

/// <summary>btrfs_extent_data_ref (28 bytes): root, objectid, offset, count. Keyed (bytenr, 178, hash) or inline.</summary>
public readonly ref struct ExtentDataRef
{
    /// <summary>Bytes of a btrfs_extent_data_ref: 28.</summary>
    public const int Size = 28;
    /// <summary>Byte offsets of btrfs_extent_data_ref's fields; the integers there are little-endian.</summary>
    public static class Offsets
    {
        /// <summary>Offsets of root, objectid, offset and count.</summary>
        public const int Root = 0, ObjectId = 8, Offset = 16, Count = 24;
    }
    private readonly Span<byte> _b;
    /// <summary>A view of the first 28 bytes of <paramref name="b"/>.</summary>
    public ExtentDataRef(Span<byte> b) => _b = b[..Size];
    /// <summary>btrfs_extent_data_ref.root: the id of the subvolume tree holding the file.</summary>
    public ulong Root { get => Le.U64(_b, Offsets.Root); set => Le.U64(_b, Offsets.Root, value); }
    /// <summary>btrfs_extent_data_ref.objectid: the inode number of the file.</summary>
    public ulong ObjectId { get => Le.U64(_b, Offsets.ObjectId); set => Le.U64(_b, Offsets.ObjectId, value); }
    /// <summary>
    /// btrfs_extent_data_ref.offset: the file offset of the extent's start, the EXTENT_DATA key offset minus
    /// btrfs_file_extent_item.offset.
    /// </summary>
    public ulong Offset { get => Le.U64(_b, Offsets.Offset); set => Le.U64(_b, Offsets.Offset, value); }
    /// <summary>
    /// btrfs_extent_data_ref.count: how many EXTENT_DATA items of that inode and offset reference the extent.
    /// </summary>
    public uint Count { get => Le.U32(_b, Offsets.Count); set => Le.U32(_b, Offsets.Count, value); }
}

/// <summary>btrfs_shared_data_ref (4 bytes): count. Keyed (bytenr, 184, parent).</summary>
public readonly ref struct SharedDataRef
{
    /// <summary>Bytes of a btrfs_shared_data_ref: 4.</summary>
    public const int Size = 4;
    private readonly Span<byte> _b;
    /// <summary>A view of the first 4 bytes of <paramref name="b"/>.</summary>
    public SharedDataRef(Span<byte> b) => _b = b[..Size];
    /// <summary>
    /// btrfs_shared_data_ref.count: how many EXTENT_DATA items in the parent leaf reference the extent.
    /// </summary>
    public uint Count { get => Le.U32(_b, 0); set => Le.U32(_b, 0, value); }
}

/// <summary>EXTENT_CSUM item: (-10, 128, logical start) → crc32c per sector.</summary>
public readonly ref struct ExtentCsumItem
{
    private readonly Span<byte> _b;
    /// <summary>A view of the item payload <paramref name="b"/>.</summary>
    public ExtentCsumItem(Span<byte> b) => _b = b;
    /// <summary>The number of checksums in the item: one per data sector from the key offset on.</summary>
    public int Count => _b.Length / Checksums.CsumSize;
    /// <summary>
    /// The crc32c of sector <paramref name="i"/> of the range, little-endian at byte 4 <paramref name="i"/>.
    /// </summary>
    public uint this[int i] { get => Le.U32(_b, i * Checksums.CsumSize); set => Le.U32(_b, i * Checksums.CsumSize, value); }
}
