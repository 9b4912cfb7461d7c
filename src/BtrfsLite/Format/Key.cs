using System.Buffers.Binary;

namespace BtrfsLite.Format;

/// <summary>btrfs_disk_key: objectid u64, type u8, offset u64 (17 bytes), ordered as unsigned triples.</summary>
public readonly record struct Key(ulong ObjectId, ItemType Type, ulong Offset) : IComparable<Key>
{
    public const int Size = 17;

    public static Key Min => new(0, 0, 0);
    public static Key Max => new(ulong.MaxValue, (ItemType)0xFF, ulong.MaxValue);

    public static Key Read(ReadOnlySpan<byte> b) =>
        new(BinaryPrimitives.ReadUInt64LittleEndian(b), (ItemType)b[8], BinaryPrimitives.ReadUInt64LittleEndian(b[9..]));

    public void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(b, ObjectId);
        b[8] = (byte)Type;
        BinaryPrimitives.WriteUInt64LittleEndian(b[9..], Offset);
    }

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

    public static bool operator <(Key a, Key b) => a.CompareTo(b) < 0;
    public static bool operator >(Key a, Key b) => a.CompareTo(b) > 0;
    public static bool operator <=(Key a, Key b) => a.CompareTo(b) <= 0;
    public static bool operator >=(Key a, Key b) => a.CompareTo(b) >= 0;

    public override string ToString() => $"({ObjectId} {Type} {Offset})";
}
