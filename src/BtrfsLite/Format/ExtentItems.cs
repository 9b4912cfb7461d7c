namespace BtrfsLite.Format;

/// <summary>btrfs_extent_item (24 bytes) heading EXTENT_ITEM / METADATA_ITEM payloads; inline refs follow.</summary>
public readonly ref struct ExtentItem
{
    public const int Size = 24;
    /// <summary>btrfs_tree_block_info: first key + level, only in non-skinny tree-block EXTENT_ITEMs.</summary>
    public const int TreeBlockInfoSize = Key.Size + 1;
    public static class Offsets { public const int Refs = 0, Generation = 8, Flags = 16; }
    private readonly Span<byte> _b;
    public ExtentItem(Span<byte> b)
    {
        if (b.Length < Size) throw new InvalidDataException($"extent item too short: {b.Length} < {Size}");
        _b = b;
    }
    public ulong Refs { get => Le.U64(_b, Offsets.Refs); set => Le.U64(_b, Offsets.Refs, value); }
    public ulong Generation { get => Le.U64(_b, Offsets.Generation); set => Le.U64(_b, Offsets.Generation, value); }
    public ExtentFlags Flags { get => (ExtentFlags)Le.U64(_b, Offsets.Flags); set => Le.U64(_b, Offsets.Flags, (ulong)value); }

    /// <summary>Where inline refs start: after the header, plus tree_block_info for non-skinny tree blocks.</summary>
    public static int InlineRefStart(ItemType keyType, ExtentFlags flags) =>
        keyType == ItemType.ExtentItem && (flags & ExtentFlags.TreeBlock) != 0 ? Size + TreeBlockInfoSize : Size;
}

/// <summary>One inline backref of an extent item. For EXTENT_DATA_REF the fields are root/objectid/offset/count.</summary>
public readonly struct InlineRef
{
    public readonly ItemType Type;
    /// <summary>TREE_BLOCK_REF root, SHARED_BLOCK_REF/SHARED_DATA_REF parent, EXTENT_DATA_REF root.</summary>
    public readonly ulong Offset;
    public readonly ulong ObjectId;   // EXTENT_DATA_REF only
    public readonly ulong FileOffset; // EXTENT_DATA_REF only
    public readonly uint Count;       // data refs; 1 for tree block refs
    public readonly int Position;     // byte position inside the item
    public InlineRef(ItemType type, ulong offset, ulong objectId, ulong fileOffset, uint count, int position)
    { Type = type; Offset = offset; ObjectId = objectId; FileOffset = fileOffset; Count = count; Position = position; }

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
    public bool Malformed { get; private set; }
    public string? Error { get; private set; }
    public int Position => _pos;
    public InlineRefReader(ReadOnlySpan<byte> item, int start) { _b = item; _pos = start; Malformed = false; Error = null; }
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
    public const int Size = 28;
    public static class Offsets { public const int Root = 0, ObjectId = 8, Offset = 16, Count = 24; }
    private readonly Span<byte> _b;
    public ExtentDataRef(Span<byte> b) => _b = b[..Size];
    public ulong Root { get => Le.U64(_b, Offsets.Root); set => Le.U64(_b, Offsets.Root, value); }
    public ulong ObjectId { get => Le.U64(_b, Offsets.ObjectId); set => Le.U64(_b, Offsets.ObjectId, value); }
    public ulong Offset { get => Le.U64(_b, Offsets.Offset); set => Le.U64(_b, Offsets.Offset, value); }
    public uint Count { get => Le.U32(_b, Offsets.Count); set => Le.U32(_b, Offsets.Count, value); }
}

/// <summary>btrfs_shared_data_ref (4 bytes): count. Keyed (bytenr, 184, parent).</summary>
public readonly ref struct SharedDataRef
{
    public const int Size = 4;
    private readonly Span<byte> _b;
    public SharedDataRef(Span<byte> b) => _b = b[..Size];
    public uint Count { get => Le.U32(_b, 0); set => Le.U32(_b, 0, value); }
}

/// <summary>EXTENT_CSUM item: (-10, 128, logical start) → crc32c per sector.</summary>
public readonly ref struct ExtentCsumItem
{
    private readonly Span<byte> _b;
    public ExtentCsumItem(Span<byte> b) => _b = b;
    public int Count => _b.Length / Checksums.CsumSize;
    public uint this[int i] { get => Le.U32(_b, i * Checksums.CsumSize); set => Le.U32(_b, i * Checksums.CsumSize, value); }
}
