using System.Buffers.Binary;
using System.IO.Hashing;
using System.Security.Cryptography;
using System.Text.Json;
using BtrfsLite.Format;
using BtrfsLite.IO;

namespace BtrfsLite.Text;

/// <summary>
/// What <c>dump-super</c> prints: which superblock copies and how much of each (btrfs inspect-internal dump-super's
/// options).
/// </summary>
public sealed class DumpSuperOptions
{
    /// <summary>-f: sys_chunk_array and backup roots too.</summary>
    public bool Full { get; init; }
    /// <summary>-a: every mirror (0, 1, 2) that fits the device.</summary>
    public bool All { get; init; }
    /// <summary>-s N: which copy (0, 1, 2). Ignored with <see cref="All"/>.</summary>
    public int Mirror { get; init; }
    /// <summary>-F: dump a copy even when its magic is wrong.</summary>
    public bool Force { get; init; }
    /// <summary>The name printed in "superblock: bytenr=..., device=NAME".</summary>
    public string? DeviceName { get; init; }
}

/// <summary>
/// <c>btrfs inspect-internal dump-super</c> (btrfs-progs 6.2, print-tree.c btrfs_print_superblock) as text matching
/// 6.2 line for line, or as JSON (one object per copy, every field).
/// </summary>
public static class DumpSuperWriter
{
    /// <summary>Superblock copies btrfs has: the primary at 64 KiB and the mirrors at 64 MiB and 256 GiB.</summary>
    public const int MirrorCount = 3;
    private const string Rule = "---------------------------------------------------------";

    /// <summary>Dumps the requested copies as text. Returns 0, or 1 after an error (bad magic, unreadable copy) as progs does.</summary>
    public static int DumpText(IBlockDevice dev, TextWriter output, TextWriter errors, DumpSuperOptions options)
    {
        string name = options.DeviceName ?? dev.Name;
        var buf = new byte[Superblock.Size];
        int first = options.All ? 0 : options.Mirror, last = options.All ? MirrorCount - 1 : options.Mirror;
        for (int i = first; i <= last; i++)
        {
            long off = Superblock.MirrorOffset(i);
            if (off + Superblock.Size > dev.Length)
            {
                // progs: a device too short for this copy prints nothing for it (but still the blank line).
                output.Write('\n');
                continue;
            }
            dev.Read(buf, off);
            output.Write("superblock: bytenr=");
            output.Write(off.ToString(System.Globalization.CultureInfo.InvariantCulture));
            output.Write(", device=");
            output.Write(name);
            output.Write('\n');
            output.Write(Rule);
            output.Write('\n');
            if (new Superblock(buf).Magic != Superblock.MagicValue && !options.Force)
            {
                output.Flush();
                errors.Write($"ERROR: bad magic on superblock on {name} at {off} (use --force to dump it anyway)\n");
                return 1;
            }
            WriteText(output, buf, options.Full, errors);
            output.Write('\n');
        }
        output.Flush();
        return 0;
    }

    /// <summary>Dumps the requested copies as JSON: an object, or an array of objects with <see cref="DumpSuperOptions.All"/>.</summary>
    public static int DumpJson(IBlockDevice dev, Utf8JsonWriter json, TextWriter errors, DumpSuperOptions options)
    {
        string name = options.DeviceName ?? dev.Name;
        var buf = new byte[Superblock.Size];
        int rc = 0;
        if (options.All) json.WriteStartArray();
        int first = options.All ? 0 : options.Mirror, last = options.All ? MirrorCount - 1 : options.Mirror;
        for (int i = first; i <= last; i++)
        {
            long off = Superblock.MirrorOffset(i);
            if (off + Superblock.Size > dev.Length)
            {
                if (!options.All) json.WriteNullValue();
                continue;
            }
            dev.Read(buf, off);
            if (new Superblock(buf).Magic != Superblock.MagicValue && !options.Force)
            {
                errors.Write($"ERROR: bad magic on superblock on {name} at {off} (use --force to dump it anyway)\n");
                rc = 1;
                if (!options.All) json.WriteNullValue();
                continue;
            }
            WriteJson(json, buf, (ulong)off, name);
        }
        if (options.All) json.WriteEndArray();
        json.Flush();
        return rc;
    }

    private static bool CsumTypeValid(ushort t) => t <= 3;
    private static string CsumName(ushort t) => t switch { 0 => "crc32c", 1 => "xxhash64", 2 => "sha256", _ => "blake2b" };
    private static int CsumSizeOf(ushort t) => t switch { 0 => 4, 1 => 8, _ => 32 };

    /// <summary>Whether the stored checksum matches; null when this library cannot compute it (blake2b).</summary>
    public static bool? CsumMatches(ReadOnlySpan<byte> sb)
    {
        ushort t = BinaryPrimitives.ReadUInt16LittleEndian(sb[Superblock.Offsets.CsumType..]);
        var data = sb[0x20..Superblock.Size];
        Span<byte> c = stackalloc byte[32];
        switch (t)
        {
            case 0: BinaryPrimitives.WriteUInt32LittleEndian(c, Checksums.Crc32C(data)); return sb[..4].SequenceEqual(c[..4]);
            case 1: BinaryPrimitives.WriteUInt64LittleEndian(c, XxHash64.HashToUInt64(data)); return sb[..8].SequenceEqual(c[..8]);
            case 2: SHA256.HashData(data, c); return sb[..32].SequenceEqual(c);
            default: return null;
        }
    }

    private static readonly (ulong Bit, string Name)[] SuperFlagNames =
    {
        (0x1, "WRITTEN"), (0x2, "RELOC"), (1UL << 35, "CHANGING_FSID"), (1UL << 32, "SEEDING"), (1UL << 33, "METADUMP"), (1UL << 34, "METADUMP_V2"),
    };
    private const ulong SuperFlagsSupp = 0x1 | 0x2 | (1UL << 35) | (1UL << 32) | (1UL << 33) | (1UL << 34);

    private static readonly (ulong Bit, string Name)[] CompatRoNames =
    {
        (0x1, "FREE_SPACE_TREE"), (0x2, "FREE_SPACE_TREE_VALID"), (0x8, "BLOCK_GROUP_TREE"),
    };
    private const ulong CompatRoSupp = 0x1 | 0x2 | 0x4 | 0x8;

    private static readonly (ulong Bit, string Name)[] IncompatNames =
    {
        (0x1, "MIXED_BACKREF"), (0x2, "DEFAULT_SUBVOL"), (0x4, "MIXED_GROUPS"), (0x8, "COMPRESS_LZO"), (0x10, "COMPRESS_ZSTD"),
        (0x20, "BIG_METADATA"), (0x40, "EXTENDED_IREF"), (0x80, "RAID56"), (0x100, "SKINNY_METADATA"), (0x200, "NO_HOLES"),
        (0x400, "METADATA_UUID"), (0x800, "RAID1C34"), (0x1000, "ZONED"), (0x2000, "EXTENT_TREE_V2"),
    };
    // 6.2 built without EXPERIMENTAL: EXTENT_TREE_V2 is named but not "supported".
    private const ulong IncompatSupp = 0x1 | 0x2 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80 | 0x4 | 0x100 | 0x200 | 0x800 | 0x400 | 0x1000;

    /// <summary>__print_readable_flag: "\t\t\t( A |\n\t\t\t  B )" plus "unknown flag: 0x..".</summary>
    private static void ReadableFlags(TextOut o, ulong flags, (ulong Bit, string Name)[] names, ulong supported)
    {
        if (flags == 0) return;
        o.S("\t\t\t( ");
        bool first = true;
        foreach (var (bit, name) in names)
        {
            if ((flags & supported) != 0 && (flags & bit) != 0)
            {
                if (first) o.S(name).C(' ');
                else o.S("|\n\t\t\t  ").S(name).C(' ');
                first = false;
            }
        }
        ulong unknown = flags & ~supported;
        if (unknown != 0)
        {
            if (first) o.S("unknown flag: 0x").X(unknown).C(' ');
            else o.S("|\n\t\t\t  unknown flag: 0x").X(unknown).C(' ');
        }
        o.S(")\n");
    }

    private static List<string> FlagList(ulong flags, (ulong Bit, string Name)[] names, ulong supported)
    {
        var l = new List<string>();
        foreach (var (bit, name) in names)
            if ((flags & supported) != 0 && (flags & bit) != 0) l.Add(name);
        return l;
    }

    private static void Printable(TextOut o, ReadOnlySpan<byte> s, bool stopAtNul)
    {
        Span<char> c = stackalloc char[1];
        foreach (byte b in s)
        {
            if (stopAtNul && b == 0) break;
            c[0] = b >= 0x20 && b < 0x7F ? (char)b : '.';
            o.S(c);
        }
    }

    /// <summary>btrfs_print_superblock(sb, full): the lines after the dashed rule.</summary>
    public static void WriteText(TextWriter w, ReadOnlySpan<byte> superblock, bool full, TextWriter? errors = null)
    {
        var bytes = superblock[..Superblock.Size].ToArray();
        var sb = new Superblock(bytes);
        var o = new TextOut(w, System.Text.Encoding.Latin1);
        ushort csumType = sb.CsumType;
        bool valid = CsumTypeValid(csumType);
        int csumSize = valid ? CsumSizeOf(csumType) : 32;
        o.S("csum_type\t\t").U(csumType).S(" (").S(valid ? CsumName(csumType) : "INVALID").S(")\n");
        o.S("csum_size\t\t").U((uint)csumSize).Nl();
        o.S("csum\t\t\t0x").Hex(bytes.AsSpan(0, csumSize));
        if (!valid) o.S(" [UNKNOWN CSUM TYPE OR SIZE]");
        else
        {
            bool? m = CsumMatches(bytes);
            o.S(m == null ? " [UNVERIFIED]" : m.Value ? " [match]" : " [DON'T MATCH]");
        }
        o.Nl();
        o.S("bytenr\t\t\t").U(sb.Bytenr).Nl();
        o.S("flags\t\t\t0x").X(sb.Flags).Nl();
        ReadableFlags(o, sb.Flags, SuperFlagNames, SuperFlagsSupp);
        o.S("magic\t\t\t");
        Printable(o, bytes.AsSpan(Superblock.Offsets.Magic, 8), stopAtNul: false);
        o.S(sb.Magic == Superblock.MagicValue ? " [match]\n" : " [DON'T MATCH]\n");
        bool metadataUuid = ((ulong)sb.IncompatFlags & (ulong)IncompatFlags.MetadataUuid) != 0;
        o.S("fsid\t\t\t").Uuid(bytes.AsSpan(Superblock.Offsets.Fsid, 16)).Nl();
        o.S("metadata_uuid\t\t").Uuid(bytes.AsSpan(metadataUuid ? Superblock.Offsets.MetadataUuid : Superblock.Offsets.Fsid, 16)).Nl();
        o.S("label\t\t\t");
        Printable(o, bytes.AsSpan(Superblock.Offsets.Label, Superblock.LabelSize), stopAtNul: true);
        o.Nl();
        o.S("generation\t\t").U(sb.Generation).Nl();
        o.S("root\t\t\t").U(sb.Root).Nl();
        o.S("sys_array_size\t\t").U(sb.SysChunkArraySize).Nl();
        o.S("chunk_root_generation\t").U(sb.ChunkRootGeneration).Nl();
        o.S("root_level\t\t").U(sb.RootLevel).Nl();
        o.S("chunk_root\t\t").U(sb.ChunkRoot).Nl();
        o.S("chunk_root_level\t").U(sb.ChunkRootLevel).Nl();
        o.S("log_root\t\t").U(sb.LogRoot).Nl();
        o.S("log_root_transid (deprecated)\t").U(sb.LogRootTransid).Nl();
        o.S("log_root_level\t\t").U(sb.LogRootLevel).Nl();
        o.S("total_bytes\t\t").U(sb.TotalBytes).Nl();
        o.S("bytes_used\t\t").U(sb.BytesUsed).Nl();
        o.S("sectorsize\t\t").U(sb.SectorSize).Nl();
        o.S("nodesize\t\t").U(sb.NodeSize).Nl();
        o.S("leafsize (deprecated)\t").U(sb.LeafSize).Nl();
        o.S("stripesize\t\t").U(sb.StripeSize).Nl();
        o.S("root_dir\t\t").U(sb.RootDirObjectId).Nl();
        o.S("num_devices\t\t").U(sb.NumDevices).Nl();
        o.S("compat_flags\t\t0x").X(sb.CompatFlags).Nl();
        o.S("compat_ro_flags\t\t0x").X((ulong)sb.CompatRoFlags).Nl();
        ReadableFlags(o, (ulong)sb.CompatRoFlags, CompatRoNames, CompatRoSupp);
        o.S("incompat_flags\t\t0x").X((ulong)sb.IncompatFlags).Nl();
        ReadableFlags(o, (ulong)sb.IncompatFlags, IncompatNames, IncompatSupp);
        o.S("cache_generation\t").U(sb.CacheGeneration).Nl();
        o.S("uuid_tree_generation\t").U(sb.UuidTreeGeneration).Nl();
        int dev = Superblock.Offsets.DevItem;
        var di = sb.DevItem;
        o.S("dev_item.uuid\t\t").Uuid(bytes.AsSpan(dev + DevItem.Offsets.Uuid, 16)).Nl();
        bool fsidMatch = bytes.AsSpan(dev + DevItem.Offsets.Fsid, 16)
            .SequenceEqual(bytes.AsSpan(metadataUuid ? Superblock.Offsets.MetadataUuid : Superblock.Offsets.Fsid, 16));
        o.S("dev_item.fsid\t\t").Uuid(bytes.AsSpan(dev + DevItem.Offsets.Fsid, 16)).S(fsidMatch ? " [match]\n" : " [DON'T MATCH]\n");
        o.S("dev_item.type\t\t").U(di.Type).Nl();
        o.S("dev_item.total_bytes\t").U(di.TotalBytes).Nl();
        o.S("dev_item.bytes_used\t").U(di.BytesUsed).Nl();
        o.S("dev_item.io_align\t").U(di.IoAlign).Nl();
        o.S("dev_item.io_width\t").U(di.IoWidth).Nl();
        o.S("dev_item.sector_size\t").U(di.SectorSize).Nl();
        o.S("dev_item.devid\t\t").U(di.DevId).Nl();
        o.S("dev_item.dev_group\t").U(di.DevGroup).Nl();
        o.S("dev_item.seek_speed\t").U(di.SeekSpeed).Nl();
        o.S("dev_item.bandwidth\t").U(di.Bandwidth).Nl();
        o.S("dev_item.generation\t").U(di.Generation).Nl();
        if (!full) return;
        o.S("sys_chunk_array[").U((uint)Superblock.SysChunkArrayMax).S("]:\n");
        SysChunkArray(o, bytes, w, errors ?? Console.Error);
        o.S("backup_roots[").U((uint)Superblock.BackupRootCount).S("]:\n");
        bool v2 = ((ulong)sb.IncompatFlags & (ulong)IncompatFlags.ExtentTreeV2) != 0;
        for (int i = 0; i < Superblock.BackupRootCount; i++)
        {
            var b = sb.BackupRoot(i);
            if (b.TreeRoot == 0 && b.TreeRootGen == 0) continue;
            o.S("\tbackup ").I(i).S(":\n");
            BackupLine(o, "\t\tbackup_tree_root:\t", b.TreeRoot, b.TreeRootGen, b.TreeRootLevel);
            BackupLine(o, "\t\tbackup_chunk_root:\t", b.ChunkRoot, b.ChunkRootGen, b.ChunkRootLevel);
            BackupLine(o, v2 ? "\t\tbackup_block_group_root:\t" : "\t\tbackup_extent_root:\t", b.ExtentRoot, b.ExtentRootGen, b.ExtentRootLevel);
            BackupLine(o, "\t\tbackup_fs_root:\t\t", b.FsRoot, b.FsRootGen, b.FsRootLevel);
            BackupLine(o, "\t\tbackup_dev_root:\t", b.DevRoot, b.DevRootGen, b.DevRootLevel);
            BackupLine(o, "\t\tcsum_root:\t", b.CsumRoot, b.CsumRootGen, b.CsumRootLevel);
            o.S("\t\tbackup_total_bytes:\t").U(b.TotalBytes).Nl();
            o.S("\t\tbackup_bytes_used:\t").U(b.BytesUsed).Nl();
            o.S("\t\tbackup_num_devices:\t").U(b.NumDevices).Nl();
            o.Nl();
        }
    }

    private static void BackupLine(TextOut o, string label, ulong bytenr, ulong gen, byte level) =>
        o.S(label).U(bytenr).S("\tgen: ").U(gen).S("\tlevel: ").U(level).Nl();

    private static Span<byte> Zeroed(Span<byte> p, int need)
    {
        if (p.Length >= need) return p;
        var s = new byte[need];
        p.CopyTo(s);
        return s;
    }

    /// <summary>print_sys_chunk_array; errors go to stderr as progs' error() does.</summary>
    private static void SysChunkArray(TextOut o, byte[] sbBytes, TextWriter w, TextWriter err)
    {
        uint size = Le.U32(sbBytes, Superblock.Offsets.SysChunkArraySize);
        if (size > Superblock.SysChunkArrayMax)
        {
            w.Flush();
            err.Write($"ERROR: sys_array_size {size} shouldn't exceed {Superblock.SysChunkArrayMax} bytes\n");
            return;
        }
        int cur = 0, item = 0;
        int baseOff = Superblock.Offsets.SysChunkArray;
        while (cur < size)
        {
            int len = Key.Size;
            if (cur + len > size) { ShortRead(w, err, len, cur); return; }
            var key = Key.Read(sbBytes.AsSpan(baseOff + cur));
            cur += len;
            o.S("\titem ").I(item).C(' ');
            ProgsNames.Key(o, key);
            o.Nl();
            if (key.Type != ItemType.ChunkItem)
            {
                w.Flush();
                err.Write($"ERROR: unexpected item type {(byte)key.Type} in sys_array at offset {cur}\n");
                return;
            }
            len = ChunkItem.SizeWith(1);
            if (cur + len > size) { ShortRead(w, err, len, cur); return; }
            var chunk = sbBytes.AsSpan(baseOff + cur);
            int stripes = Le.U16(chunk, ChunkItem.Offsets.NumStripes);
            if (stripes == 0)
            {
                w.Flush();
                err.Write($"ERROR: invalid number of stripes {stripes} in sys_array at offset {cur}\n");
                return;
            }
            len = ChunkItem.SizeWith(stripes);
            if (cur + len > size) { ShortRead(w, err, len, cur); return; }
            TreeTextPrinter.ChunkItemText(o, chunk, chunk.Length, Zeroed);
            cur += len;
            item++;
        }
    }

    private static void ShortRead(TextWriter w, TextWriter err, int len, int cur)
    {
        w.Flush();
        err.Write($"ERROR: sys_array too short to read {len} bytes at offset {cur}\n");
    }

    /// <summary>One superblock copy as a JSON object (every field; sys_chunk_array and backup roots always included).</summary>
    public static void WriteJson(Utf8JsonWriter j, ReadOnlySpan<byte> superblock, ulong bytenr, string device)
    {
        var bytes = superblock[..Superblock.Size].ToArray();
        var sb = new Superblock(bytes);
        ushort csumType = sb.CsumType;
        int csumSize = CsumTypeValid(csumType) ? CsumSizeOf(csumType) : 32;
        j.WriteStartObject();
        j.WriteNumber("superblock_bytenr", bytenr);
        j.WriteString("device", device);
        j.WriteNumber("csum_type", csumType);
        j.WriteString("csum_type_name", CsumTypeValid(csumType) ? CsumName(csumType) : "INVALID");
        j.WriteNumber("csum_size", csumSize);
        j.WriteString("csum", Convert.ToHexStringLower(bytes, 0, csumSize));
        bool? m = CsumTypeValid(csumType) ? CsumMatches(bytes) : null;
        if (m == null) j.WriteNull("csum_match"); else j.WriteBoolean("csum_match", m.Value);
        j.WriteNumber("bytenr", sb.Bytenr);
        j.WriteNumber("flags", sb.Flags);
        StringArray(j, "flag_names", FlagList(sb.Flags, SuperFlagNames, SuperFlagsSupp));
        j.WriteString("magic", System.Text.Encoding.Latin1.GetString(bytes, Superblock.Offsets.Magic, 8));
        j.WriteBoolean("magic_match", sb.Magic == Superblock.MagicValue);
        j.WriteString("fsid", Uuids.ToString(bytes.AsSpan(Superblock.Offsets.Fsid, 16)));
        j.WriteString("metadata_uuid", Uuids.ToString(bytes.AsSpan(Superblock.Offsets.MetadataUuid, 16)));
        j.WriteString("label", sb.Label);
        j.WriteNumber("generation", sb.Generation);
        j.WriteNumber("root", sb.Root);
        j.WriteNumber("sys_array_size", sb.SysChunkArraySize);
        j.WriteNumber("chunk_root_generation", sb.ChunkRootGeneration);
        j.WriteNumber("root_level", sb.RootLevel);
        j.WriteNumber("chunk_root", sb.ChunkRoot);
        j.WriteNumber("chunk_root_level", sb.ChunkRootLevel);
        j.WriteNumber("log_root", sb.LogRoot);
        j.WriteNumber("log_root_transid", sb.LogRootTransid);
        j.WriteNumber("log_root_level", sb.LogRootLevel);
        j.WriteNumber("total_bytes", sb.TotalBytes);
        j.WriteNumber("bytes_used", sb.BytesUsed);
        j.WriteNumber("sectorsize", sb.SectorSize);
        j.WriteNumber("nodesize", sb.NodeSize);
        j.WriteNumber("leafsize", sb.LeafSize);
        j.WriteNumber("stripesize", sb.StripeSize);
        j.WriteNumber("root_dir", sb.RootDirObjectId);
        j.WriteNumber("num_devices", sb.NumDevices);
        j.WriteNumber("compat_flags", sb.CompatFlags);
        j.WriteNumber("compat_ro_flags", (ulong)sb.CompatRoFlags);
        StringArray(j, "compat_ro_flag_names", FlagList((ulong)sb.CompatRoFlags, CompatRoNames, ulong.MaxValue));
        j.WriteNumber("incompat_flags", (ulong)sb.IncompatFlags);
        StringArray(j, "incompat_flag_names", FlagList((ulong)sb.IncompatFlags, IncompatNames, ulong.MaxValue));
        j.WriteNumber("cache_generation", sb.CacheGeneration);
        j.WriteNumber("uuid_tree_generation", sb.UuidTreeGeneration);
        j.WriteNumber("nr_global_roots", sb.NrGlobalRoots);
        j.WritePropertyName("dev_item");
        DevItemJson(j, sb.DevItem);
        j.WriteStartArray("sys_chunk_array");
        SysChunkArrayJson(j, bytes);
        j.WriteEndArray();
        j.WriteStartArray("backup_roots");
        for (int i = 0; i < Superblock.BackupRootCount; i++)
        {
            var b = sb.BackupRoot(i);
            j.WriteStartObject();
            j.WriteNumber("slot", i);
            j.WriteBoolean("empty", b.TreeRoot == 0 && b.TreeRootGen == 0);
            BackupJson(j, "tree_root", b.TreeRoot, b.TreeRootGen, b.TreeRootLevel);
            BackupJson(j, "chunk_root", b.ChunkRoot, b.ChunkRootGen, b.ChunkRootLevel);
            BackupJson(j, "extent_root", b.ExtentRoot, b.ExtentRootGen, b.ExtentRootLevel);
            BackupJson(j, "fs_root", b.FsRoot, b.FsRootGen, b.FsRootLevel);
            BackupJson(j, "dev_root", b.DevRoot, b.DevRootGen, b.DevRootLevel);
            BackupJson(j, "csum_root", b.CsumRoot, b.CsumRootGen, b.CsumRootLevel);
            j.WriteNumber("total_bytes", b.TotalBytes);
            j.WriteNumber("bytes_used", b.BytesUsed);
            j.WriteNumber("num_devices", b.NumDevices);
            j.WriteEndObject();
        }
        j.WriteEndArray();
        j.WriteEndObject();
    }

    private static void BackupJson(Utf8JsonWriter j, string name, ulong bytenr, ulong gen, byte level)
    {
        j.WriteStartObject(name);
        j.WriteNumber("bytenr", bytenr);
        j.WriteNumber("generation", gen);
        j.WriteNumber("level", level);
        j.WriteEndObject();
    }

    internal static void StringArray(Utf8JsonWriter j, string name, List<string> values)
    {
        j.WriteStartArray(name);
        foreach (var v in values) j.WriteStringValue(v);
        j.WriteEndArray();
    }

    internal static void DevItemJson(Utf8JsonWriter j, DevItem d)
    {
        j.WriteStartObject();
        j.WriteNumber("devid", d.DevId);
        j.WriteNumber("total_bytes", d.TotalBytes);
        j.WriteNumber("bytes_used", d.BytesUsed);
        j.WriteNumber("io_align", d.IoAlign);
        j.WriteNumber("io_width", d.IoWidth);
        j.WriteNumber("sector_size", d.SectorSize);
        j.WriteNumber("type", d.Type);
        j.WriteNumber("generation", d.Generation);
        j.WriteNumber("start_offset", d.StartOffset);
        j.WriteNumber("dev_group", d.DevGroup);
        j.WriteNumber("seek_speed", d.SeekSpeed);
        j.WriteNumber("bandwidth", d.Bandwidth);
        j.WriteString("uuid", d.Uuid.ToString("D"));
        j.WriteString("fsid", d.Fsid.ToString("D"));
        j.WriteEndObject();
    }

    private static void SysChunkArrayJson(Utf8JsonWriter j, byte[] sbBytes)
    {
        uint size = Math.Min(Le.U32(sbBytes, Superblock.Offsets.SysChunkArraySize), (uint)Superblock.SysChunkArrayMax);
        int cur = 0;
        int baseOff = Superblock.Offsets.SysChunkArray;
        while (cur + Key.Size + ChunkItem.Size <= size)
        {
            var key = Key.Read(sbBytes.AsSpan(baseOff + cur));
            if (key.Type != ItemType.ChunkItem) break;
            cur += Key.Size;
            var chunk = sbBytes.AsSpan(baseOff + cur);
            int stripes = Le.U16(chunk, ChunkItem.Offsets.NumStripes);
            int len = ChunkItem.SizeWith(stripes);
            if (stripes == 0 || cur + len > size) break;
            j.WriteStartObject();
            JsonItems.KeyJson(j, key);
            j.WritePropertyName("chunk");
            j.WriteStartObject();
            JsonItems.ChunkFields(j, new ChunkItem(chunk[..len]));
            j.WriteEndObject();
            j.WriteEndObject();
            cur += len;
        }
    }
}
