using System.Globalization;

namespace BtrfsLite.Format;

/// <summary>
/// A qgroup id as btrfs stores it: level in the top 16 bits, id in the low 48 bits
/// (level 0 qgroups carry the subvolume's root id). Printed "level/id".
/// </summary>
public readonly record struct QgroupId(ulong Value) : IComparable<QgroupId>
{
    private const int LevelShift = 48;
    private const ulong IdMask = (1UL << LevelShift) - 1;

    public QgroupId(ushort level, ulong id) : this(Make(level, id)) { }

    public ushort Level => (ushort)(Value >> LevelShift);
    public ulong Id => Value & IdMask;

    public static ulong Make(ushort level, ulong id)
    {
        if (id > IdMask) throw new ArgumentOutOfRangeException(nameof(id), "qgroup id must fit in 48 bits");
        return ((ulong)level << LevelShift) | id;
    }

    public static ushort LevelOf(ulong qgroupId) => (ushort)(qgroupId >> LevelShift);
    public static ulong IdOf(ulong qgroupId) => qgroupId & IdMask;

    /// <summary>The level-0 qgroup of a subvolume tree has the subvolume's root id as its value.</summary>
    /// <remarks>A root id from disk past 48 bits is damage (subvolume ids stay far below): the typed corruption error.</remarks>
    public static ulong ForSubvolume(ulong rootId) =>
        rootId <= IdMask ? rootId : throw Corruption.Create($"subvolume id {rootId} does not fit a qgroup id (48 bits)");

    public static QgroupId Parse(string text) =>
        TryParse(text, out QgroupId q) ? q : throw new FormatException($"invalid qgroup id '{text}', expected <level>/<id>");

    public static bool TryParse(ReadOnlySpan<char> text, out QgroupId value)
    {
        value = default;
        int slash = text.IndexOf('/');
        if (slash <= 0 || slash == text.Length - 1) return false;
        if (!ushort.TryParse(text[..slash], NumberStyles.None, CultureInfo.InvariantCulture, out var level)) return false;
        if (!ulong.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var id)) return false;
        if (id > IdMask) return false;
        value = new QgroupId(level, id);
        return true;
    }

    /// <summary>Parses "level/id", or a bare number as a level-0 id (as btrfs-progs accepts).</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out ulong qgroupId)
    {
        qgroupId = 0;
        if (text.IndexOf('/') < 0)
        {
            if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id > IdMask) return false;
            qgroupId = id;
            return true;
        }
        if (!TryParse(text, out QgroupId q)) return false;
        qgroupId = q.Value;
        return true;
    }

    public static string Format(ulong qgroupId) => new QgroupId(qgroupId).ToString();

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Level}/{Id}");

    public int CompareTo(QgroupId other) => Value.CompareTo(other.Value);

    public static implicit operator ulong(QgroupId q) => q.Value;
}
