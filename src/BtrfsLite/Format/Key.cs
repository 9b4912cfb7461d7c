using System.Buffers.Binary;

namespace BtrfsLite.Format;

/// <summary>btrfs_disk_key: objectid u64, type u8, offset u64 (17 bytes), ordered as unsigned triples.</summary>
/// <param name="ObjectId">btrfs_disk_key.objectid: the object the item belongs to (inode number, tree id,
/// bytenr...).</param>
/// <param name="Type">btrfs_disk_key.type: the item type.</param>
/// <param name="Offset">btrfs_disk_key.offset: its meaning depends on the type (file offset, name hash, extent length,
/// parent id...).</param>
public readonly record struct Key(ulong ObjectId, ItemType Type, ulong Offset) : IComparable<Key>
{
    /// <summary>Bytes of a btrfs_disk_key on disk: 17.</summary>
    public const int Size = 17;

    /// <summary>The smallest key, (0, 0, 0).</summary>
    public static Key Min => new(0, 0, 0);
    /// <summary>The largest key, (2^64-1, 255, 2^64-1).</summary>
    public static Key Max => new(ulong.MaxValue, (ItemType)0xFF, ulong.MaxValue);

    /// <summary>
    /// Reads a btrfs_disk_key from the first 17 bytes of <paramref name="b"/>: objectid at 0 and offset at 9
    /// little-endian, type at 8.
    /// </summary>
    public static Key Read(ReadOnlySpan<byte> b) =>
        new(BinaryPrimitives.ReadUInt64LittleEndian(b), (ItemType)b[8], BinaryPrimitives.ReadUInt64LittleEndian(b[9..]));

    /// <summary>
    /// Writes the key as a btrfs_disk_key into the first 17 bytes of <paramref name="b"/> (objectid at 0, type at 8,
    /// offset at 9, little-endian).
    /// </summary>
    public void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(b, ObjectId);
        b[8] = (byte)Type;
        BinaryPrimitives.WriteUInt64LittleEndian(b[9..], Offset);
    }

    /// <summary>
    /// Key order as in the kernel's btrfs_comp_cpu_keys: objectid, then type, then offset, all unsigned.
    /// </summary>
    public int CompareTo(Key other)
    {
        int c = ObjectId.CompareTo(other.ObjectId);
        if (c != 0) return c;
        c = ((byte)Type).CompareTo((byte)other.Type);
        return c != 0 ? c : Offset.CompareTo(other.Offset);
    }

    /// <summary>Compares a key stored on disk with this one without materialising it.</summary>
    public static int CompareRaw(ReadOnlySpan<byte> stored, in Key k)
    {
        ulong oid = BinaryPrimitives.ReadUInt64LittleEndian(stored);
        if (oid != k.ObjectId) return oid < k.ObjectId ? -1 : 1;
        byte t = stored[8];
        if (t != (byte)k.Type) return t < (byte)k.Type ? -1 : 1;
        ulong off = BinaryPrimitives.ReadUInt64LittleEndian(stored[9..]);
        return off == k.Offset ? 0 : off < k.Offset ? -1 : 1;
    }

    /// <summary>True when <paramref name="a"/> sorts before <paramref name="b"/> in key order.</summary>
    public static bool operator <(Key a, Key b) => a.CompareTo(b) < 0;
    /// <summary>True when <paramref name="a"/> sorts after <paramref name="b"/> in key order.</summary>
    public static bool operator >(Key a, Key b) => a.CompareTo(b) > 0;
    /// <summary>True when <paramref name="a"/> sorts before or equals <paramref name="b"/> in key order.</summary>
    public static bool operator <=(Key a, Key b) => a.CompareTo(b) <= 0;
    /// <summary>True when <paramref name="a"/> sorts after or equals <paramref name="b"/> in key order.</summary>
    public static bool operator >=(Key a, Key b) => a.CompareTo(b) >= 0;

    /// <summary>The key as "(objectid type offset)", with the type's enum name.</summary>
    public override string ToString() => $"({ObjectId} {Type} {Offset})";
}
