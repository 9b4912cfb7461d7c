using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using BtrfsLite.Format;
using BtrfsLite.Qgroups;

namespace BtrfsLite.Text;

/// <summary>How sizes are printed (btrfs-progs' unit modes: --raw, human readable, or a fixed unit; base 1024 or 1000).</summary>
public enum SizeUnit
{
    /// <summary>
    /// Human readable: divided while at least 1024 (1000) remain, two decimals and the unit ("1.50GiB").
    /// </summary>
    Human,
    /// <summary>Raw bytes (--raw).</summary>
    Raw,
    /// <summary>Always KiB (kB with base 1000), two decimals (--kbytes).</summary>
    KiB,
    /// <summary>Always MiB (MB with base 1000), two decimals (--mbytes).</summary>
    MiB,
    /// <summary>Always GiB (GB with base 1000), two decimals (--gbytes).</summary>
    GiB,
    /// <summary>Always TiB (TB with base 1000), two decimals (--tbytes).</summary>
    TiB,
}

/// <summary>What <c>qgroup show</c> prints: the optional columns and the units.</summary>
public sealed record QgroupShowOptions
{
    /// <summary>Print the parent column: the qgroups each one is a member of (qgroup show -p).</summary>
    public bool Parent { get; init; }
    /// <summary>Print the child column: each qgroup's members (qgroup show -c).</summary>
    public bool Child { get; init; }
    /// <summary>Print the max_rfer column: the referenced limit (qgroup show -r).</summary>
    public bool MaxReferenced { get; init; }
    /// <summary>Print the max_excl column: the exclusive limit (qgroup show -e).</summary>
    public bool MaxExclusive { get; init; }
    /// <summary>rsv_data, rsv_meta_pertrans, rsv_meta_prealloc columns (not in btrfs-progs).</summary>
    public bool Reserved { get; init; }
    /// <summary>How sizes are printed (human readable by default).</summary>
    public SizeUnit Unit { get; init; } = SizeUnit.Human;
    /// <summary>Base 1000 (kB, MB...) instead of 1024 (KiB, MiB...).</summary>
    public bool Decimal { get; init; }
}

/// <summary>One row's reserved bytes (three types), as the reservation engine keeps them.</summary>
/// <param name="Data">Bytes reserved for data not yet written (rsv_data).</param>
/// <param name="MetaPertrans">Metadata bytes reserved for the running transaction (rsv_meta_pertrans).</param>
/// <param name="MetaPrealloc">Metadata bytes reserved ahead (rsv_meta_prealloc).</param>
public readonly record struct QgroupReserved(ulong Data, ulong MetaPertrans, ulong MetaPrealloc);

/// <summary>
/// <c>btrfs qgroup show</c> output of btrfs-progs 6.2 (cmds/qgroup.c): the same columns, minimum widths (9, 12, 12,
/// 15, 14, 8, 5, 6) grown to the widest value, header and dashed line each ending in a blank, rows ordered by qgroup
/// id, sizes through <see cref="PrettySize"/>. Two progs 6.2 quirks are kept so that outputs compare byte for byte:
/// the Path of a higher-level qgroup lists its <em>parents</em> (labelled "member qgroups"), and the singular form
/// ends in a NUL character ("&lt;1 member qgroup\0&gt;").
/// </summary>
public static class QgroupTableWriter
{
    private const int Qgroupid = 0, Rfer = 1, Excl = 2, MaxRfer = 3, MaxExcl = 4, RsvData = 5, RsvPertrans = 6, RsvPrealloc = 7, Parent = 8, Child = 9, Path = 10;
    private static readonly string[] Names = { "Qgroupid", "Referenced", "Exclusive", "Max referenced", "Max exclusive", "rsv_data", "rsv_meta_pertrans", "rsv_meta_prealloc", "Parent", "Child", "Path" };
    private static readonly int[] MinWidths = { 9, 12, 12, 15, 14, 8, 17, 17, 8, 5, 6 };

    /// <summary>
    /// Writes the table. <paramref name="paths"/> maps a level-0 qgroup to its subvolume's path ("" for the top level);
    /// a level-0 qgroup without an entry is stale. <paramref name="reserved"/> gives the reserved bytes when
    /// <see cref="QgroupShowOptions.Reserved"/> is set.
    /// </summary>
    public static void WriteTable(TextWriter o, QuotaState state, IReadOnlyDictionary<ulong, string> paths, QgroupShowOptions opt,
        Func<ulong, QgroupReserved>? reserved = null)
    {
        var rows = state.Qgroups.OrderBy(q => q.QgroupId).ToList();
        var children = Children(state);
        bool[] show = new bool[Names.Length];
        show[Qgroupid] = show[Rfer] = show[Excl] = show[Path] = true;
        show[MaxRfer] = opt.MaxReferenced; show[MaxExcl] = opt.MaxExclusive;
        show[RsvData] = show[RsvPertrans] = show[RsvPrealloc] = opt.Reserved;
        show[Parent] = opt.Parent; show[Child] = opt.Child;
        var width = (int[])MinWidths.Clone();
        string Size(ulong v) => PrettySize(v, opt.Unit, opt.Decimal);
        QgroupReserved Rsv(ulong id) => reserved?.Invoke(id) ?? default;

        void Grow(int col, int len) { if (show[col] && width[col] < len) width[col] = len; }
        foreach (var q in rows)
        {
            Grow(Qgroupid, q.Id.Length);
            Grow(Rfer, Size(q.Referenced).Length);
            Grow(Excl, Size(q.Exclusive).Length);
            // progs measures the stored maximum even when the limit flag is clear ("none" is printed then).
            Grow(MaxRfer, Size(q.MaxReferenced).Length);
            Grow(MaxExcl, Size(q.MaxExclusive).Length);
            if (opt.Reserved)
            {
                var r = Rsv(q.QgroupId);
                Grow(RsvData, Size(r.Data).Length);
                Grow(RsvPertrans, Size(r.MetaPertrans).Length);
                Grow(RsvPrealloc, Size(r.MetaPrealloc).Length);
            }
            Grow(Parent, IdList(q.Parents).Length);
            Grow(Child, IdList(ChildrenOf(children, q.QgroupId)).Length);
        }

        var sb = new StringBuilder();
        for (int i = 0; i < Names.Length; i++)
        {
            if (!show[i]) continue;
            sb.Append(LeftAligned(i) ? Names[i].PadRight(width[i]) : Names[i].PadLeft(width[i])).Append(' ');
        }
        o.Write(sb.Append('\n').ToString());
        sb.Clear();
        for (int i = 0; i < Names.Length; i++)
        {
            if (!show[i]) continue;
            var dashes = new string('-', Names[i].Length);
            sb.Append(LeftAligned(i) ? dashes.PadRight(width[i]) : dashes.PadLeft(width[i])).Append(' ');
        }
        o.Write(sb.Append('\n').ToString());

        foreach (var q in rows)
        {
            sb.Clear();
            var r = opt.Reserved ? Rsv(q.QgroupId) : default;
            for (int i = 0; i < Names.Length; i++)
            {
                if (!show[i]) continue;
                switch (i)
                {
                    case Qgroupid: sb.Append(q.Id.PadRight(width[i])); break;
                    case Rfer: sb.Append(Size(q.Referenced).PadLeft(width[i])); break;
                    case Excl: sb.Append(Size(q.Exclusive).PadLeft(width[i])); break;
                    case MaxRfer: sb.Append(((q.LimitFlags & QgroupLimitFlags.MaxRfer) != 0 ? Size(q.MaxReferenced) : "none").PadLeft(width[i])); break;
                    case MaxExcl: sb.Append(((q.LimitFlags & QgroupLimitFlags.MaxExcl) != 0 ? Size(q.MaxExclusive) : "none").PadLeft(width[i])); break;
                    case RsvData: sb.Append(Size(r.Data).PadLeft(width[i])); break;
                    case RsvPertrans: sb.Append(Size(r.MetaPertrans).PadLeft(width[i])); break;
                    case RsvPrealloc: sb.Append(Size(r.MetaPrealloc).PadLeft(width[i])); break;
                    case Parent: sb.Append(OrDash(IdList(q.Parents)).PadRight(width[i])); break;
                    case Child: sb.Append(OrDash(IdList(ChildrenOf(children, q.QgroupId))).PadRight(width[i])); break;
                    case Path: sb.Append("  ").Append(PathColumn(q, state, paths)); break;
                }
                if (i != Path) sb.Append(' ');
            }
            o.Write(sb.Append('\n').ToString());
        }
    }

    /// <summary>
    /// JSON: an array of objects with qgroupid ("level/id"), referenced, exclusive, max_referenced and max_exclusive
    /// (bytes, or "none" when that limit is not set, as btrfs-progs prints them), limit_flags (the stored bits), path
    /// (the subvolume path of a level-0 qgroup, "" otherwise), parents and children (qgroup ids), and with reserved
    /// numbers rsv_data, rsv_meta_pertrans, rsv_meta_prealloc.
    /// </summary>
    public static void WriteJson(Stream output, QuotaState state, IReadOnlyDictionary<ulong, string> paths, Func<ulong, QgroupReserved>? reserved = null)
    {
        var children = Children(state);
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
        w.WriteStartArray();
        foreach (var q in state.Qgroups.OrderBy(q => q.QgroupId))
        {
            w.WriteStartObject();
            w.WriteString("qgroupid", q.Id);
            w.WriteNumber("referenced", q.Referenced);
            w.WriteNumber("exclusive", q.Exclusive);
            if ((q.LimitFlags & QgroupLimitFlags.MaxRfer) != 0) w.WriteNumber("max_referenced", q.MaxReferenced);
            else w.WriteString("max_referenced", "none");
            if ((q.LimitFlags & QgroupLimitFlags.MaxExcl) != 0) w.WriteNumber("max_exclusive", q.MaxExclusive);
            else w.WriteString("max_exclusive", "none");
            w.WriteNumber("limit_flags", (ulong)q.LimitFlags);
            w.WriteString("path", QgroupId.LevelOf(q.QgroupId) == 0 && paths.TryGetValue(q.QgroupId, out var p) ? p : "");
            w.WriteStartArray("parents");
            foreach (var x in q.Parents.OrderBy(x => x)) w.WriteStringValue(QgroupId.Format(x));
            w.WriteEndArray();
            w.WriteStartArray("children");
            foreach (var x in ChildrenOf(children, q.QgroupId)) w.WriteStringValue(QgroupId.Format(x));
            w.WriteEndArray();
            if (reserved != null)
            {
                var r = reserved(q.QgroupId);
                w.WriteNumber("rsv_data", r.Data);
                w.WriteNumber("rsv_meta_pertrans", r.MetaPertrans);
                w.WriteNumber("rsv_meta_prealloc", r.MetaPrealloc);
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.Flush();
        output.WriteByte((byte)'\n');
    }

    /// <summary>
    /// A size as btrfs-progs' pretty_size_mode prints it: raw bytes; or, human readable, divided by 1024 (1000) while
    /// at least 1024 (1000) remain and printed as "%.2f" of the single-precision quotient of the last step (so
    /// 1073152 is "1.02MiB"), with B/KiB/MiB/... (B/kB/MB/...); or in one fixed unit.
    /// </summary>
    public static string PrettySize(ulong size, SizeUnit unit, bool decimalBase = false)
    {
        if (unit == SizeUnit.Raw) return size.ToString(CultureInfo.InvariantCulture);
        ulong mult = decimalBase ? 1000UL : 1024UL;
        ulong b = mult;
        int divs = 0;
        ulong last = size;
        switch (unit)
        {
            case SizeUnit.TiB: b *= mult; divs++; goto case SizeUnit.GiB;
            case SizeUnit.GiB: b *= mult; divs++; goto case SizeUnit.MiB;
            case SizeUnit.MiB: b *= mult; divs++; goto case SizeUnit.KiB;
            case SizeUnit.KiB: divs++; break;
            default:
                ulong s = size;
                while (s >= mult) { last = s; s /= mult; divs++; }
                if (divs == 0) b = 1;
                break;
        }
        string[] suffix = decimalBase ? new[] { "B", "kB", "MB", "GB", "TB", "PB", "EB" } : new[] { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
        float fraction = (float)last / (float)b;
        return FormatFixed2(fraction) + suffix[divs];
    }

    /// <summary>glibc's "%.2f" of a float: the exact binary value rounded to two decimals, ties to even.</summary>
    private static string FormatFixed2(float f)
    {
        if (f == 0) return "0.00";
        int bits = BitConverter.SingleToInt32Bits(f);
        int exp = (bits >> 23) & 0xFF;
        long mant = bits & 0x7FFFFF;
        if (exp == 0) exp = 1; else mant |= 1L << 23;
        exp -= 127 + 23; // f = mant * 2^exp
        BigInteger hundredths;
        if (exp >= 0) hundredths = (new BigInteger(mant) << exp) * 100;
        else
        {
            var num = new BigInteger(mant) * 100;
            var den = BigInteger.One << -exp;
            hundredths = BigInteger.DivRem(num, den, out var rem);
            var twice = rem * 2;
            if (twice > den || (twice == den && !hundredths.IsEven)) hundredths += 1;
        }
        var whole = BigInteger.DivRem(hundredths, 100, out var cents);
        return whole.ToString(CultureInfo.InvariantCulture) + "." + ((int)cents).ToString("00", CultureInfo.InvariantCulture);
    }

    private static bool LeftAligned(int col) => col is Qgroupid or Parent or Child;

    private static string OrDash(string s) => s.Length == 0 ? "-" : s;

    private static string IdList(IEnumerable<ulong> ids) => string.Join(',', ids.OrderBy(x => x).Select(QgroupId.Format));

    private static Dictionary<ulong, List<ulong>> Children(QuotaState state)
    {
        var d = new Dictionary<ulong, List<ulong>>();
        foreach (var q in state.Qgroups)
            foreach (var p in q.Parents)
            {
                if (!d.TryGetValue(p, out var l)) d[p] = l = new List<ulong>();
                l.Add(q.QgroupId);
            }
        foreach (var l in d.Values) l.Sort();
        return d;
    }

    private static IReadOnlyList<ulong> ChildrenOf(Dictionary<ulong, List<ulong>> children, ulong id) =>
        children.TryGetValue(id, out var l) ? l : Array.Empty<ulong>();

    private static string PathColumn(QgroupEntry q, QuotaState state, IReadOnlyDictionary<ulong, string> paths)
    {
        if (QgroupId.LevelOf(q.QgroupId) == 0)
            return paths.TryGetValue(q.QgroupId, out var p) ? (p.Length == 0 ? "<toplevel>" : p) : "<stale>";
        // progs 6.2 walks the qgroup's parent list here.
        var sb = new StringBuilder();
        int count = 0;
        foreach (var parent in q.Parents.OrderBy(x => x))
        {
            if (count > 0) sb.Append(' ');
            if (QgroupId.LevelOf(parent) == 0) sb.Append(paths.TryGetValue(parent, out var pp) ? pp : "<stale>");
            else sb.Append(QgroupId.Format(parent));
            count++;
        }
        return sb.Append('<').Append(count.ToString(CultureInfo.InvariantCulture)).Append(" member qgroup").Append(count != 1 ? 's' : '\0').Append('>').ToString();
    }
}
