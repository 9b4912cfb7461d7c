using System.Globalization;

namespace BtrfsLite.Format;

/// <summary>
/// A qgroup id as btrfs stores it: level in the top 16 bits, id in the low 48 bits
/// (level 0 qgroups carry the subvolume's root id). Printed "level/id".
/// </summary>
/// <param name="Value">The 64-bit qgroup id: level in the top 16 bits, id in the low 48.</param>
public readonly record struct QgroupId(ulong Value) : IComparable<QgroupId>
{
    private const int LevelShift = 48;
    private const ulong IdMask = (1UL << LevelShift) - 1;

    /// <summary>The qgroup id <paramref name="level"/>/<paramref name="id"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> does not fit in 48 bits.</exception>
    public QgroupId(ushort level, ulong id) : this(Make(level, id)) { }

    /// <summary>The qgroup level: the top 16 bits (0 for a subvolume's own qgroup).</summary>
    public ushort Level => (ushort)(Value >> LevelShift);
    /// <summary>The id within the level: the low 48 bits.</summary>
    public ulong Id => Value & IdMask;

    /// <summary>
    /// The 64-bit qgroup id with <paramref name="level"/> in the top 16 bits and <paramref name="id"/> in the low 48.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> does not fit in 48 bits.</exception>
    public static ulong Make(ushort level, ulong id)
    {
        if (id > IdMask) throw new ArgumentOutOfRangeException(nameof(id), "qgroup id must fit in 48 bits");
        return ((ulong)level << LevelShift) | id;
    }

    /// <summary>The level (top 16 bits) of a 64-bit qgroup id.</summary>
    public static ushort LevelOf(ulong qgroupId) => (ushort)(qgroupId >> LevelShift);
    /// <summary>The id within the level (low 48 bits) of a 64-bit qgroup id.</summary>
    public static ulong IdOf(ulong qgroupId) => qgroupId & IdMask;

    /// <summary>The level-0 qgroup of a subvolume tree has the subvolume's root id as its value.</summary>
    /// <remarks>A root id from disk past 48 bits is damage (subvolume ids stay far below): the typed corruption error.</remarks>
    public static ulong ForSubvolume(ulong rootId) =>
        rootId <= IdMask ? rootId : throw Corruption.Create($"subvolume id {rootId} does not fit a qgroup id (48 bits)");

    /// <summary>Parses "level/id" (both decimal).</summary>
    /// <exception cref="FormatException">The text is not "level/id" or the id does not fit in 48 bits.</exception>
    public static QgroupId Parse(string text) =>
        TryParse(text, out QgroupId q) ? q : throw new FormatException($"invalid qgroup id '{text}', expected <level>/<id>");

    /// <summary>
    /// Parses "level/id" (both decimal, no sign or spaces); false when the text is not of that form or the id does not
    /// fit in 48 bits.
    /// </summary>
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

    /// <summary>Formats a 64-bit qgroup id as "level/id".</summary>
    public static string Format(ulong qgroupId) => new QgroupId(qgroupId).ToString();

    /// <summary>The qgroup id as btrfs-progs prints it: "level/id".</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Level}/{Id}");

    /// <summary>Orders by the 64-bit value: by level, then by id.</summary>
    public int CompareTo(QgroupId other) => Value.CompareTo(other.Value);

    /// <summary>The 64-bit value (<see cref="Value"/>).</summary>
    public static implicit operator ulong(QgroupId q) => q.Value;
}
