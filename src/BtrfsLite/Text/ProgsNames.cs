using BtrfsLite.Format;

namespace BtrfsLite.Text;

/// <summary>
/// Names and flag strings exactly as btrfs-progs 6.2 prints them (kernel-shared/print-tree.c): object ids,
/// key types, keys, block group / extent / inode / header flags, qgroup ids, timestamps.
/// </summary>
public static class ProgsNames
{
    /// <summary>print_key_type: the key type name, "UNKNOWN.N" for types 6.2 does not name, "UNTYPED" for (FREE_SPACE, 0).</summary>
    public static string KeyTypeName(ulong objectId, byte type)
    {
        if (type == 0 && objectId == ObjectIds.FreeSpace) return "UNTYPED";
        return KnownKeyTypeName(type) ?? UnknownTypeNames[type];
    }

    private static readonly string[] UnknownTypeNames = CreateUnknownNames();
    private static string[] CreateUnknownNames()
    {
        var a = new string[256];
        for (int i = 0; i < 256; i++) a[i] = "UNKNOWN." + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return a;
    }

    /// <summary>The 6.2 key type table; null for a type without a name.</summary>
    public static string? KnownKeyTypeName(byte type) => type switch
    {
        1 => "INODE_ITEM",
        12 => "INODE_REF",
        13 => "INODE_EXTREF",
        84 => "DIR_ITEM",
        96 => "DIR_INDEX",
        60 => "DIR_LOG_ITEM",
        72 => "DIR_LOG_INDEX",
        24 => "XATTR_ITEM",
        36 => "VERITY_DESC_ITEM",
        37 => "VERITY_MERKLE_ITEM",
        48 => "ORPHAN_ITEM",
        132 => "ROOT_ITEM",
        156 => "ROOT_REF",
        144 => "ROOT_BACKREF",
        168 => "EXTENT_ITEM",
        169 => "METADATA_ITEM",
        176 => "TREE_BLOCK_REF",
        182 => "SHARED_BLOCK_REF",
        178 => "EXTENT_DATA_REF",
        184 => "SHARED_DATA_REF",
        180 => "EXTENT_REF_V0",
        120 => "CSUM_ITEM",
        128 => "EXTENT_CSUM",
        108 => "EXTENT_DATA",
        192 => "BLOCK_GROUP_ITEM",
        198 => "FREE_SPACE_INFO",
        199 => "FREE_SPACE_EXTENT",
        200 => "FREE_SPACE_BITMAP",
        228 => "CHUNK_ITEM",
        216 => "DEV_ITEM",
        204 => "DEV_EXTENT",
        248 => "TEMPORARY_ITEM",
        250 => "DEV_REPLACE",
        253 => "STRING_ITEM",
        240 => "QGROUP_STATUS",
        246 => "QGROUP_RELATION",
        242 => "QGROUP_INFO",
        244 => "QGROUP_LIMIT",
        249 => "PERSISTENT_ITEM",
        251 => "UUID_KEY_SUBVOL",
        252 => "UUID_KEY_RECEIVED_SUBVOL",
        _ => null,
    };

    /// <summary>The symbolic part of print_objectid for a plain id (type-independent cases); null when it prints a number.</summary>
    public static string? ObjectIdName(ulong objectId, byte type)
    {
        switch (type)
        {
            case (byte)ItemType.PersistentItem:
                return objectId == ObjectIds.DevStats ? "DEV_STATS" : null;
            case (byte)ItemType.DevExtent:
            case (byte)ItemType.QgroupRelation:
            case (byte)ItemType.UuidKeySubvol:
            case (byte)ItemType.UuidKeyReceivedSubvol:
                return null;
        }
        return objectId switch
        {
            ObjectIds.RootTree => type == (byte)ItemType.DevItem ? "DEV_ITEMS" : "ROOT_TREE",
            ObjectIds.ExtentTree => "EXTENT_TREE",
            ObjectIds.ChunkTree => "CHUNK_TREE",
            ObjectIds.DevTree => "DEV_TREE",
            ObjectIds.FsTree => "FS_TREE",
            ObjectIds.RootTreeDir => "ROOT_TREE_DIR",
            ObjectIds.CsumTree => "CSUM_TREE",
            ObjectIds.Balance => "BALANCE",
            ObjectIds.Orphan => "ORPHAN",
            ObjectIds.TreeLog => "TREE_LOG",
            ObjectIds.TreeLogFixup => "LOG_FIXUP",
            ObjectIds.TreeReloc => "TREE_RELOC",
            ObjectIds.DataRelocTree => "DATA_RELOC_TREE",
            ObjectIds.ExtentCsum => "EXTENT_CSUM",
            ObjectIds.FreeSpace => "FREE_SPACE",
            ObjectIds.FreeIno => "FREE_INO",
            ObjectIds.QuotaTree => "QUOTA_TREE",
            ObjectIds.UuidTree => "UUID_TREE",
            ObjectIds.FreeSpaceTree => "FREE_SPACE_TREE",
            ObjectIds.Multiple => "MULTIPLE",
            ObjectIds.BlockGroupTree => "BLOCK_GROUP_TREE",
            ulong.MaxValue => "-1",
            ObjectIds.FirstChunkTree when type == (byte)ItemType.ChunkItem => "FIRST_CHUNK_TREE",
            _ => null,
        };
    }

    /// <summary>print_objectid.</summary>
    internal static void ObjectId(TextOut o, ulong objectId, byte type)
    {
        switch (type)
        {
            case (byte)ItemType.QgroupRelation:
                o.U(QgroupId.LevelOf(objectId)).C('/').U(QgroupId.IdOf(objectId));
                return;
            case (byte)ItemType.UuidKeySubvol:
            case (byte)ItemType.UuidKeyReceivedSubvol:
                o.S("0x").X16(objectId);
                return;
        }
        var name = ObjectIdName(objectId, type);
        if (name != null) o.S(name); else o.U(objectId);
    }

    /// <summary>print_objectid as a string (tree names in JSON, owner names).</summary>
    public static string ObjectIdString(ulong objectId, byte type = 0)
    {
        var sw = new StringWriter();
        ObjectId(new TextOut(sw, System.Text.Encoding.UTF8), objectId, type);
        return sw.ToString();
    }

    /// <summary>btrfs_print_key: "key (OBJECTID TYPE OFFSET)".</summary>
    internal static void Key(TextOut o, ulong objectId, byte type, ulong offset)
    {
        o.S("key (");
        ObjectId(o, objectId, type);
        o.C(' ').S(KeyTypeName(objectId, type));
        switch (type)
        {
            case (byte)ItemType.QgroupRelation:
            case (byte)ItemType.QgroupInfo:
            case (byte)ItemType.QgroupLimit:
                o.C(' ').U(QgroupId.LevelOf(offset)).C('/').U(QgroupId.IdOf(offset)).C(')');
                break;
            case (byte)ItemType.UuidKeySubvol:
            case (byte)ItemType.UuidKeyReceivedSubvol:
                o.S(" 0x").X16(offset).C(')');
                break;
            case (byte)ItemType.RootItem:
                o.C(' ');
                if (objectId == ObjectIds.TreeReloc) ObjectId(o, offset, type); else o.U(offset);
                o.C(')');
                break;
            default:
                if (offset == ulong.MaxValue) o.S(" -1)"); else o.C(' ').U(offset).C(')');
                break;
        }
    }

    internal static void Key(TextOut o, in Key k) => Key(o, k.ObjectId, (byte)k.Type, k.Offset);

    /// <summary>The key as btrfs_print_key prints it, e.g. "key (256 INODE_ITEM 0)".</summary>
    public static string KeyString(in Key k)
    {
        var sw = new StringWriter();
        Key(new TextOut(sw, System.Text.Encoding.UTF8), k);
        return sw.ToString();
    }

    /// <summary>bg_flags_to_str (6.2): DATA, METADATA, SYSTEM (the '|' before SYSTEM/METADATA only after DATA), then "|profile"; SINGLE prints "single".</summary>
    internal static void BlockGroupFlags(TextOut o, ulong flags)
    {
        bool empty = true;
        if ((flags & (ulong)Format.BlockGroupFlags.Data) != 0) { empty = false; o.S("DATA"); }
        if ((flags & (ulong)Format.BlockGroupFlags.Metadata) != 0) { if (!empty) o.C('|'); o.S("METADATA"); }
        if ((flags & (ulong)Format.BlockGroupFlags.System) != 0) { if (!empty) o.C('|'); o.S("SYSTEM"); }
        o.C('|').S(ProfileName(flags));
    }

    /// <summary>
    /// The block group flags as btrfs-progs prints them: the types joined by '|' (DATA, METADATA, SYSTEM), then '|' and
    /// the profile name ("DATA|single", "METADATA|DUP").
    /// </summary>
    public static string BlockGroupFlagsString(ulong flags)
    {
        var sw = new StringWriter();
        BlockGroupFlags(new TextOut(sw, System.Text.Encoding.UTF8), flags);
        return sw.ToString();
    }

    /// <summary>btrfs_bg_type_to_raid_name: the first matching profile bit in 6.2's order; "single" without one.</summary>
    public static string ProfileName(ulong flags)
    {
        var f = (Format.BlockGroupFlags)flags;
        if ((f & Format.BlockGroupFlags.Raid10) != 0) return "RAID10";
        if ((f & Format.BlockGroupFlags.Raid1) != 0) return "RAID1";
        if ((f & Format.BlockGroupFlags.Raid1C3) != 0) return "RAID1C3";
        if ((f & Format.BlockGroupFlags.Raid1C4) != 0) return "RAID1C4";
        if ((f & Format.BlockGroupFlags.Dup) != 0) return "DUP";
        if ((f & Format.BlockGroupFlags.Raid0) != 0) return "RAID0";
        if ((f & Format.BlockGroupFlags.Raid5) != 0) return "RAID5";
        if ((f & Format.BlockGroupFlags.Raid6) != 0) return "RAID6";
        return "single";
    }

    /// <summary>extent_flags_to_str.</summary>
    internal static void ExtentFlags(TextOut o, ulong flags)
    {
        bool empty = true;
        if ((flags & (ulong)Format.ExtentFlags.Data) != 0) { empty = false; o.S("DATA"); }
        if ((flags & (ulong)Format.ExtentFlags.TreeBlock) != 0) { if (!empty) o.C('|'); o.S("TREE_BLOCK"); }
        if ((flags & (ulong)Format.ExtentFlags.FullBackref) != 0) o.S("|FULL_BACKREF");
    }

    private static readonly (ulong Bit, string Name)[] InodeFlagNames =
    {
        (0x1, "NODATASUM"), (0x2, "NODATACOW"), (0x4, "READONLY"), (0x8, "NOCOMPRESS"), (0x10, "PREALLOC"),
        (0x20, "SYNC"), (0x40, "IMMUTABLE"), (0x80, "APPEND"), (0x100, "NODUMP"), (0x200, "NOATIME"),
        (0x400, "DIRSYNC"), (0x800, "COMPRESS"),
    };

    /// <summary>inode_flags_to_str: known names joined by '|', "none" when none is set.</summary>
    internal static void InodeFlags(TextOut o, ulong flags)
    {
        bool empty = true;
        foreach (var (bit, name) in InodeFlagNames)
        {
            if ((flags & bit) == 0) continue;
            if (!empty) o.C('|');
            o.S(name);
            empty = false;
        }
        if (empty) o.S("none");
    }

    /// <summary>
    /// The btrfs-progs names of the inode flags set in <paramref name="flags"/> (NODATASUM, NODATACOW...), in bit
    /// order; unknown bits are left out.
    /// </summary>
    public static List<string> InodeFlagList(ulong flags)
    {
        var l = new List<string>();
        foreach (var (bit, name) in InodeFlagNames) if ((flags & bit) != 0) l.Add(name);
        return l;
    }

    /// <summary>header_flags_to_str (flags without the backref revision byte).</summary>
    internal static void HeaderFlags(TextOut o, ulong flags)
    {
        bool empty = true;
        if ((flags & NodeHeader.FlagWritten) != 0) { empty = false; o.S("WRITTEN"); }
        if ((flags & NodeHeader.FlagReloc) != 0) { if (!empty) o.C('|'); o.S("RELOC"); }
    }

    /// <summary>qgroup_flags_to_str.</summary>
    internal static void QgroupStatusFlags(TextOut o, ulong flags)
    {
        o.S((flags & 0x1) != 0 ? "ON" : "OFF");
        if ((flags & 0x2) != 0) o.S("|SCANNING");
        if ((flags & 0x4) != 0) o.S("|INCONSISTENT");
    }

    /// <summary>
    /// btrfs-progs' name of btrfs_file_extent_item.compression: "none", "zlib", "lzo", "zstd", or "UNKNOWN.n".
    /// </summary>
    public static string CompressionName(byte c) => c switch
    {
        0 => "none",
        1 => "zlib",
        2 => "lzo",
        3 => "zstd",
        _ => "UNKNOWN." + c.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>
    /// btrfs-progs' name of btrfs_file_extent_item.type: "inline", "regular", "prealloc", or "unknown".
    /// </summary>
    public static string FileExtentTypeName(byte t) => t switch
    {
        0 => "inline",
        2 => "prealloc",
        1 => "regular",
        _ => "unknown",
    };

    /// <summary>
    /// btrfs-progs' name of a BTRFS_FT_* directory entry type ("FILE", "DIR", "SYMLINK"...); null for an unknown type.
    /// </summary>
    public static string? DirTypeName(byte t) => t switch
    {
        1 => "FILE",
        2 => "DIR",
        3 => "CHRDEV",
        4 => "BLKDEV",
        5 => "FIFO",
        6 => "SOCK",
        7 => "SYMLINK",
        8 => "XATTR",
        _ => null,
    };

    /// <summary>print_timespec: "%llu.%u (%Y-%m-%d %H:%M:%S)" with the date in <paramref name="zone"/> (progs: localtime).</summary>
    internal static void Timespec(TextOut o, ulong sec, uint nsec, TimeZoneInfo zone)
    {
        o.U(sec).C('.').U(nsec).S(" (");
        Span<char> b = stackalloc char[40];
        int n = FormatLocalTime((long)sec, zone, b);
        o.S(b[..n]).C(')');
    }

    /// <summary>strftime("%Y-%m-%d %H:%M:%S", localtime(sec)); years outside .NET's range use the zone's base offset.</summary>
    public static int FormatLocalTime(long sec, TimeZoneInfo zone, Span<char> dst)
    {
        long local;
        const long min = -62135596800L, max = 253402300799L;
        if (sec >= min && sec <= max)
        {
            var utc = DateTimeOffset.FromUnixTimeSeconds(sec);
            local = sec + (long)zone.GetUtcOffset(utc).TotalSeconds;
        }
        else
        {
            local = sec + (long)zone.BaseUtcOffset.TotalSeconds;
        }
        long days = FloorDiv(local, 86400);
        long secs = local - days * 86400;
        CivilFromDays(days, out long y, out int m, out int d);
        int h = (int)(secs / 3600), mi = (int)(secs / 60 % 60), s = (int)(secs % 60);
        int pos = 0;
        y.TryFormat(dst, out int yn, "0000", System.Globalization.CultureInfo.InvariantCulture);
        pos += yn;
        dst[pos++] = '-'; Two(dst, ref pos, m);
        dst[pos++] = '-'; Two(dst, ref pos, d);
        dst[pos++] = ' '; Two(dst, ref pos, h);
        dst[pos++] = ':'; Two(dst, ref pos, mi);
        dst[pos++] = ':'; Two(dst, ref pos, s);
        return pos;
    }

    private static void Two(Span<char> d, ref int pos, int v) { d[pos++] = (char)('0' + v / 10); d[pos++] = (char)('0' + v % 10); }

    private static long FloorDiv(long a, long b) { long q = a / b; if ((a % b != 0) && ((a < 0) != (b < 0))) q--; return q; }

    // Howard Hinnant's civil_from_days (proleptic Gregorian), valid far beyond .NET's DateTime range.
    private static void CivilFromDays(long z, out long y, out int m, out int d)
    {
        z += 719468;
        long era = FloorDiv(z, 146097);
        long doe = z - era * 146097;
        long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        y = yoe + era * 400;
        long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        long mp = (5 * doy + 2) / 153;
        d = (int)(doy - (153 * mp + 2) / 5 + 1);
        m = (int)(mp < 10 ? mp + 3 : mp - 9);
        if (m <= 2) y++;
    }
}
