using System.Text;
using System.Text.Json;
using BtrfsLite.Format;

namespace BtrfsLite.Text;

/// <summary>Decoded item fields as JSON properties (names follow btrfs-progs' text where it has one).</summary>
internal static class JsonItems
{
    public static void KeyJson(Utf8JsonWriter j, in Key k, string name = "key")
    {
        j.WriteStartObject(name);
        KeyFields(j, k);
        j.WriteEndObject();
    }

    public static void KeyFields(Utf8JsonWriter j, in Key k)
    {
        j.WriteNumber("objectid", k.ObjectId);
        j.WriteNumber("type", (byte)k.Type);
        j.WriteString("type_name", ProgsNames.KeyTypeName(k.ObjectId, (byte)k.Type));
        j.WriteNumber("offset", k.Offset);
    }

    private static void Uuid(Utf8JsonWriter j, string name, ReadOnlySpan<byte> b16)
    {
        Span<char> c = stackalloc char[36];
        Uuids.Format(b16, c);
        j.WriteString(name, c);
    }

    private static void Time(Utf8JsonWriter j, string name, ReadOnlySpan<byte> ts)
    {
        j.WriteStartObject(name);
        j.WriteNumber("sec", (long)Le.U64(ts, 0));
        j.WriteNumber("nsec", Le.U32(ts, 8));
        j.WriteEndObject();
    }

    /// <summary>A name: the UTF-8 string when valid; otherwise a lossy string plus the exact bytes in NAME_base64.</summary>
    public static void Name(Utf8JsonWriter j, string prop, ReadOnlySpan<byte> raw)
    {
        if (System.Text.Unicode.Utf8.IsValid(raw)) { j.WriteString(prop, raw); return; }
        j.WriteString(prop, Encoding.UTF8.GetString(raw));
        j.WriteBase64String(prop + "_base64", raw);
    }

    public static void ChunkFields(Utf8JsonWriter j, ChunkItem c)
    {
        j.WriteNumber("length", c.Length);
        j.WriteNumber("owner", c.Owner);
        j.WriteNumber("stripe_len", c.StripeLen);
        j.WriteNumber("type", (ulong)c.Type);
        j.WriteString("type_string", ProgsNames.BlockGroupFlagsString((ulong)c.Type));
        j.WriteNumber("io_align", c.IoAlign);
        j.WriteNumber("io_width", c.IoWidth);
        j.WriteNumber("sector_size", c.SectorSize);
        j.WriteNumber("num_stripes", c.NumStripes);
        j.WriteNumber("sub_stripes", c.SubStripes);
        j.WriteStartArray("stripes");
        int n = Math.Min((int)c.NumStripes, c.StripesInItem);
        for (int i = 0; i < n; i++)
        {
            var s = c.Stripe(i);
            j.WriteStartObject();
            j.WriteNumber("devid", s.DevId);
            j.WriteNumber("offset", s.Offset);
            j.WriteString("dev_uuid", s.DevUuid.ToString("D"));
            j.WriteEndObject();
        }
        j.WriteEndArray();
    }

    private static bool Short(Utf8JsonWriter j, int size, int need)
    {
        if (size >= need) return false;
        j.WriteString("error", $"item too short: {size} < {need}");
        return true;
    }

    /// <summary>The decoded fields of one item whose payload is <paramref name="p"/> (exactly the item).</summary>
    public static void Fields(Utf8JsonWriter j, in Key k, Span<byte> p, int sectorSize, int csumSize)
    {
        int size = p.Length;
        switch (k.Type)
        {
            case ItemType.InodeItem:
                if (!Short(j, size, InodeItem.Size)) InodeFields(j, p);
                break;
            case ItemType.InodeRef:
                {
                    j.WriteStartArray("refs");
                    var r = new InodeRefReader(p);
                    while (r.Next(out var e))
                    {
                        j.WriteStartObject();
                        j.WriteNumber("index", e.Index);
                        j.WriteNumber("name_len", e.Name.Length);
                        Name(j, "name", e.Name);
                        j.WriteEndObject();
                    }
                    j.WriteEndArray();
                    if (r.Malformed) j.WriteString("error", "malformed inode ref entries");
                    break;
                }
            case ItemType.InodeExtref:
                {
                    j.WriteStartArray("refs");
                    var r = new InodeExtrefReader(p);
                    while (r.Next(out var e))
                    {
                        j.WriteStartObject();
                        j.WriteNumber("index", e.Index);
                        j.WriteNumber("parent", e.Parent);
                        j.WriteNumber("name_len", e.Name.Length);
                        Name(j, "name", e.Name);
                        j.WriteEndObject();
                    }
                    j.WriteEndArray();
                    if (r.Malformed) j.WriteString("error", "malformed inode extref entries");
                    break;
                }
            case ItemType.DirItem:
            case ItemType.DirIndex:
            case ItemType.XattrItem:
                {
                    j.WriteStartArray("entries");
                    var r = new DirEntryReader(p);
                    while (r.Next(out var e))
                    {
                        j.WriteStartObject();
                        KeyJson(j, e.Location, "location");
                        j.WriteNumber("type", (byte)e.Type);
                        j.WriteString("type_name", ProgsNames.DirTypeName((byte)e.Type) ?? "DIR_ITEM." + (byte)e.Type);
                        j.WriteNumber("transid", e.Transid);
                        j.WriteNumber("data_len", e.Data.Length);
                        j.WriteNumber("name_len", e.Name.Length);
                        Name(j, "name", e.Name);
                        if (e.Data.Length > 0) j.WriteBase64String("data_base64", e.Data);
                        j.WriteEndObject();
                    }
                    j.WriteEndArray();
                    if (r.Malformed) j.WriteString("error", "malformed dir entries");
                    break;
                }
            case ItemType.DirLogItem:
            case ItemType.DirLogIndex:
                if (!Short(j, size, 8)) j.WriteNumber("end", Le.U64(p, 0));
                break;
            case ItemType.RootItem:
                if (!Short(j, size, RootItem.LegacySize)) RootFields(j, p);
                break;
            case ItemType.RootRef:
            case ItemType.RootBackref:
                if (!Short(j, size, RootRef.HeaderSize))
                {
                    var r = new RootRef(p);
                    j.WriteNumber("dirid", r.DirId);
                    j.WriteNumber("sequence", r.Sequence);
                    j.WriteNumber("name_len", r.NameLen);
                    Name(j, "name", r.Name);
                    if (!r.NameFits) j.WriteString("error", "name runs past the item end");
                }
                break;
            case ItemType.ExtentItem:
            case ItemType.MetadataItem:
                if (!Short(j, size, ExtentItem.Size)) ExtentFields(j, k, p);
                break;
            case ItemType.TreeBlockRef:
            case ItemType.SharedBlockRef:
                break;
            case ItemType.ExtentDataRef:
                if (!Short(j, size, ExtentDataRef.Size))
                {
                    var d = new ExtentDataRef(p);
                    j.WriteNumber("root", d.Root);
                    j.WriteNumber("objectid", d.ObjectId);
                    j.WriteNumber("offset", d.Offset);
                    j.WriteNumber("count", d.Count);
                }
                break;
            case ItemType.SharedDataRef:
                if (!Short(j, size, SharedDataRef.Size)) j.WriteNumber("count", Le.U32(p, 0));
                break;
            case ItemType.ExtentCsum:
                {
                    int n = size / csumSize;
                    ulong len = (ulong)n * (ulong)sectorSize;
                    j.WriteNumber("start", k.Offset);
                    j.WriteNumber("end", k.Offset + len);
                    j.WriteNumber("length", len);
                    j.WriteStartArray("csums");
                    Span<char> hex = stackalloc char[2 * 32];
                    for (int i = 0; i < n; i++)
                    {
                        var c = p.Slice(i * csumSize, csumSize);
                        Convert.TryToHexStringLower(c, hex, out int w);
                        j.WriteStringValue(hex[..w]);
                    }
                    j.WriteEndArray();
                    break;
                }
            case ItemType.ExtentData:
                if (!Short(j, size, FileExtentItem.HeaderSize)) FileExtentFields(j, p);
                break;
            case ItemType.BlockGroupItem:
                if (!Short(j, size, BlockGroupItem.Size))
                {
                    var g = new BlockGroupItem(p);
                    j.WriteNumber("used", g.Used);
                    j.WriteNumber("chunk_objectid", g.ChunkObjectId);
                    j.WriteNumber("flags", (ulong)g.Flags);
                    j.WriteString("flags_string", ProgsNames.BlockGroupFlagsString((ulong)g.Flags));
                }
                break;
            case ItemType.FreeSpaceInfo:
                if (!Short(j, size, FreeSpaceInfoItem.Size))
                {
                    var f = new FreeSpaceInfoItem(p);
                    j.WriteNumber("extent_count", f.ExtentCount);
                    j.WriteNumber("flags", f.Flags);
                }
                break;
            case ItemType.FreeSpaceExtent:
                j.WriteNumber("start", k.ObjectId);
                j.WriteNumber("length", k.Offset);
                break;
            case ItemType.FreeSpaceBitmap:
                {
                    j.WriteNumber("start", k.ObjectId);
                    j.WriteNumber("length", k.Offset);
                    long bits = 0;
                    foreach (byte b in p) bits += System.Numerics.BitOperations.PopCount(b);
                    j.WriteNumber("free_sectors", bits);
                    break;
                }
            case ItemType.ChunkItem:
                if (!Short(j, size, ChunkItem.Size)) ChunkFields(j, new ChunkItem(p));
                break;
            case ItemType.DevItem:
                if (!Short(j, size, DevItem.Size))
                {
                    j.WritePropertyName("dev_item");
                    DumpSuperWriter.DevItemJson(j, new DevItem(p));
                }
                break;
            case ItemType.DevExtent:
                if (!Short(j, size, DevExtent.Size))
                {
                    var d = new DevExtent(p);
                    j.WriteNumber("chunk_tree", d.ChunkTree);
                    j.WriteNumber("chunk_objectid", d.ChunkObjectId);
                    j.WriteNumber("chunk_offset", d.ChunkOffset);
                    j.WriteNumber("length", d.Length);
                    Uuid(j, "chunk_tree_uuid", p.Slice(DevExtent.Offsets.ChunkTreeUuid, 16));
                }
                break;
            case ItemType.QgroupStatus:
                if (!Short(j, size, QgroupStatusItem.Size))
                {
                    var q = new QgroupStatusItem(p);
                    j.WriteNumber("version", q.Version);
                    j.WriteNumber("generation", q.Generation);
                    j.WriteNumber("flags", (ulong)q.Flags);
                    j.WriteNumber("scan", q.Rescan);
                    if (q.HasEnableGen) j.WriteNumber("enable_gen", q.EnableGen);
                }
                break;
            case ItemType.QgroupInfo:
                if (!Short(j, size, QgroupInfoItem.Size))
                {
                    var q = new QgroupInfoItem(p);
                    j.WriteString("qgroupid", QgroupId.Format(k.Offset));
                    j.WriteNumber("generation", q.Generation);
                    j.WriteNumber("referenced", q.Rfer);
                    j.WriteNumber("referenced_compressed", q.RferCmpr);
                    j.WriteNumber("exclusive", q.Excl);
                    j.WriteNumber("exclusive_compressed", q.ExclCmpr);
                }
                break;
            case ItemType.QgroupLimit:
                if (!Short(j, size, QgroupLimitItem.Size))
                {
                    var q = new QgroupLimitItem(p);
                    j.WriteString("qgroupid", QgroupId.Format(k.Offset));
                    j.WriteNumber("flags", (ulong)q.Flags);
                    j.WriteNumber("max_referenced", q.MaxRfer);
                    j.WriteNumber("max_exclusive", q.MaxExcl);
                    j.WriteNumber("rsv_referenced", q.RsvRfer);
                    j.WriteNumber("rsv_exclusive", q.RsvExcl);
                }
                break;
            case ItemType.QgroupRelation:
                j.WriteString("child", QgroupId.Format(k.ObjectId));
                j.WriteString("parent", QgroupId.Format(k.Offset));
                break;
            case ItemType.UuidKeySubvol:
            case ItemType.UuidKeyReceivedSubvol:
                {
                    Span<byte> u = stackalloc byte[16];
                    Le.U64(u, 0, k.ObjectId);
                    Le.U64(u, 8, k.Offset);
                    Uuid(j, "uuid", u);
                    j.WriteStartArray("subvol_ids");
                    for (int i = 0; i + 8 <= size; i += 8) j.WriteNumberValue(Le.U64(p, i));
                    j.WriteEndArray();
                    if ((size & 7) != 0) j.WriteString("error", $"uuid item with illegal size {size}");
                    break;
                }
            case ItemType.PersistentItem:
                if (k.ObjectId == ObjectIds.DevStats && !Short(j, size, DevStatsItem.Size))
                {
                    j.WriteNumber("write_errs", Le.U64(p, 0));
                    j.WriteNumber("read_errs", Le.U64(p, 8));
                    j.WriteNumber("flush_errs", Le.U64(p, 16));
                    j.WriteNumber("corruption_errs", Le.U64(p, 24));
                    j.WriteNumber("generation_errs", Le.U64(p, 32));
                }
                break;
            case ItemType.StringItem:
                Name(j, "data", p);
                break;
        }
    }

    private static void InodeFields(Utf8JsonWriter j, Span<byte> p)
    {
        var ii = new InodeItem(p);
        j.WriteNumber("generation", ii.Generation);
        j.WriteNumber("transid", ii.Transid);
        j.WriteNumber("size", ii.FileSize);
        j.WriteNumber("nbytes", ii.NBytes);
        j.WriteNumber("block_group", ii.BlockGroup);
        j.WriteNumber("nlink", ii.NLink);
        j.WriteNumber("uid", ii.Uid);
        j.WriteNumber("gid", ii.Gid);
        j.WriteNumber("mode", ii.Mode);
        j.WriteNumber("rdev", ii.Rdev);
        j.WriteNumber("flags", (ulong)ii.Flags);
        DumpSuperWriter.StringArray(j, "flag_names", ProgsNames.InodeFlagList((ulong)ii.Flags));
        j.WriteNumber("sequence", ii.Sequence);
        Time(j, "atime", p[InodeItem.Offsets.Atime..]);
        Time(j, "ctime", p[InodeItem.Offsets.Ctime..]);
        Time(j, "mtime", p[InodeItem.Offsets.Mtime..]);
        Time(j, "otime", p[InodeItem.Offsets.Otime..]);
    }

    private static void RootFields(Utf8JsonWriter j, Span<byte> p)
    {
        var ri = new RootItem(p);
        j.WriteStartObject("inode");
        InodeFields(j, p);
        j.WriteEndObject();
        j.WriteNumber("generation", ri.Generation);
        j.WriteNumber("root_dirid", ri.RootDirId);
        j.WriteNumber("bytenr", ri.Bytenr);
        j.WriteNumber("byte_limit", ri.ByteLimit);
        j.WriteNumber("bytes_used", ri.BytesUsed);
        j.WriteNumber("last_snapshot", ri.LastSnapshot);
        j.WriteNumber("flags", ri.Flags);
        j.WriteBoolean("readonly", (ri.Flags & RootItem.FlagReadOnly) != 0);
        j.WriteNumber("refs", ri.Refs);
        KeyJson(j, ri.DropProgress, "drop_progress");
        j.WriteNumber("drop_level", ri.DropLevel);
        j.WriteNumber("level", ri.Level);
        if (ri.IsLegacy) return;
        j.WriteNumber("generation_v2", ri.GenerationV2);
        Uuid(j, "uuid", p.Slice(RootItem.Offsets.Uuid, 16));
        Uuid(j, "parent_uuid", p.Slice(RootItem.Offsets.ParentUuid, 16));
        Uuid(j, "received_uuid", p.Slice(RootItem.Offsets.ReceivedUuid, 16));
        j.WriteNumber("ctransid", ri.Ctransid);
        j.WriteNumber("otransid", ri.Otransid);
        j.WriteNumber("stransid", ri.Stransid);
        j.WriteNumber("rtransid", ri.Rtransid);
        Time(j, "ctime", p[RootItem.Offsets.Ctime..]);
        Time(j, "otime", p[RootItem.Offsets.Otime..]);
        Time(j, "stime", p[RootItem.Offsets.Stime..]);
        Time(j, "rtime", p[RootItem.Offsets.Rtime..]);
    }

    private static void ExtentFields(Utf8JsonWriter j, in Key k, Span<byte> p)
    {
        var ei = new ExtentItem(p);
        var flags = ei.Flags;
        j.WriteNumber("refs", ei.Refs);
        j.WriteNumber("generation", ei.Generation);
        j.WriteNumber("flags", (ulong)flags);
        var names = new List<string>(3);
        if ((flags & ExtentFlags.Data) != 0) names.Add("DATA");
        if ((flags & ExtentFlags.TreeBlock) != 0) names.Add("TREE_BLOCK");
        if ((flags & ExtentFlags.FullBackref) != 0) names.Add("FULL_BACKREF");
        DumpSuperWriter.StringArray(j, "flag_names", names);
        int start = ExtentItem.InlineRefStart(k.Type, flags);
        if (k.Type == ItemType.MetadataItem) j.WriteNumber("level", k.Offset);
        else if ((flags & ExtentFlags.TreeBlock) != 0)
        {
            if (p.Length < start) { j.WriteString("error", "tree block info runs past the item end"); return; }
            KeyJson(j, Key.Read(p[ExtentItem.Size..]), "tree_block_key");
            j.WriteNumber("level", p[ExtentItem.Size + Key.Size]);
        }
        j.WriteStartArray("inline_refs");
        var r = new InlineRefReader(p, start);
        while (r.Next(out var ir))
        {
            j.WriteStartObject();
            j.WriteNumber("type", (byte)ir.Type);
            j.WriteString("type_name", ProgsNames.KeyTypeName(0, (byte)ir.Type));
            switch (ir.Type)
            {
                case ItemType.TreeBlockRef: j.WriteNumber("root", ir.Offset); break;
                case ItemType.SharedBlockRef: j.WriteNumber("parent", ir.Offset); break;
                case ItemType.ExtentDataRef:
                    j.WriteNumber("root", ir.Offset);
                    j.WriteNumber("objectid", ir.ObjectId);
                    j.WriteNumber("offset", ir.FileOffset);
                    j.WriteNumber("count", ir.Count);
                    break;
                case ItemType.SharedDataRef:
                    j.WriteNumber("parent", ir.Offset);
                    j.WriteNumber("count", ir.Count);
                    break;
                default: j.WriteNumber("offset", ir.Offset); break;
            }
            j.WriteEndObject();
        }
        j.WriteEndArray();
        if (r.Malformed) j.WriteString("error", r.Error);
    }

    private static void FileExtentFields(Utf8JsonWriter j, Span<byte> p)
    {
        var fe = new FileExtentItem(p);
        byte type = (byte)fe.Type;
        j.WriteNumber("generation", fe.Generation);
        j.WriteNumber("type", type);
        j.WriteString("type_name", ProgsNames.FileExtentTypeName(type));
        j.WriteNumber("ram_bytes", fe.RamBytes);
        j.WriteNumber("compression", fe.Compression);
        j.WriteString("compression_name", ProgsNames.CompressionName(fe.Compression));
        j.WriteNumber("encryption", fe.Encryption);
        j.WriteNumber("other_encoding", fe.OtherEncoding);
        if (type == (byte)FileExtentType.Inline)
        {
            j.WriteNumber("inline_size", p.Length - FileExtentItem.HeaderSize);
            return;
        }
        if (Short(j, p.Length, FileExtentItem.Size)) return;
        j.WriteNumber("disk_bytenr", fe.DiskBytenr);
        j.WriteNumber("disk_num_bytes", fe.DiskNumBytes);
        j.WriteNumber("offset", fe.Offset);
        j.WriteNumber("num_bytes", fe.NumBytes);
    }
}

/// <summary>The JSON form of dump-tree (schema in the README).</summary>
internal sealed class JsonDumpSink : IDumpSink
{
    private readonly DumpSource _src;
    private readonly Utf8JsonWriter _j;
    private readonly TextWriter _err;
    private readonly List<(ulong Bytenr, string Severity, string Message)> _problems = new();
    private bool _treeOpen;
    private (ulong Total, ulong Used, Guid Fsid)? _footer;

    public JsonDumpSink(DumpSource src, Stream output, TextWriter errors, DumpTreeOptions _)
    {
        _src = src;
        _j = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = false, SkipValidation = false });
        _err = errors;
    }

    public int Problems { get; private set; }

    public void Banner()
    {
        _j.WriteStartObject();
        _j.WriteString("format", "btrfslite-dump-tree");
        _j.WriteNumber("version", 1);
        _j.WriteStartArray("trees");
    }

    private void CloseTree()
    {
        if (!_treeOpen) return;
        _j.WriteEndArray();
        _j.WriteEndObject();
        _treeOpen = false;
    }

    public void TreeStart(string label, Key? rootKey)
    {
        CloseTree();
        _j.WriteStartObject();
        if (label.Length == 0) _j.WriteNull("label"); else _j.WriteString("label", label);
        if (rootKey is Key k) JsonItems.KeyJson(_j, k, "root_key"); else _j.WriteNull("root_key");
        _j.WriteStartArray("blocks");
        _treeOpen = true;
    }

    public void Block(Span<byte> b, ulong readAt)
    {
        var h = new NodeHeader(b);
        uint nr = h.NrItems;
        _j.WriteStartObject();
        _j.WriteNumber("bytenr", h.Bytenr);
        _j.WriteNumber("level", h.Level);
        _j.WriteNumber("nritems", nr);
        _j.WriteNumber("generation", h.Generation);
        _j.WriteNumber("owner", h.Owner);
        _j.WriteString("owner_name", ProgsNames.ObjectIdString(h.Owner));
        _j.WriteNumber("flags", h.Flags & ~(0xFFUL << NodeHeader.BackrefRevShift));
        _j.WriteNumber("backref_rev", h.BackrefRev);
        Span<char> c = stackalloc char[36];
        Uuids.Format(b.Slice(NodeHeader.Offsets.Fsid, 16), c);
        _j.WriteString("fsid", c);
        Uuids.Format(b.Slice(NodeHeader.Offsets.ChunkTreeUuid, 16), c);
        _j.WriteString("chunk_tree_uuid", c);
        Span<char> hex = stackalloc char[8];
        Convert.TryToHexStringLower(b[..4], hex, out _);
        _j.WriteString("csum", hex);
        if (h.Level == 0) Leaf(b, nr);
        else Node(b, nr);
        _j.WriteEndObject();
    }

    private void Leaf(Span<byte> b, uint nr)
    {
        _j.WriteNumber("free_space", TreeTextPrinter.LeafFreeSpace(b, nr));
        _j.WriteStartArray("items");
        var leaf = new Leaf(b);
        uint limit = (uint)(b.Length - NodeHeader.Size);
        ulong bytenr = leaf.Header.Bytenr;
        for (uint i = 0; i < nr; i++)
        {
            if (NodeHeader.Size + (long)(i + 1) * ItemHeader.Size > b.Length)
            {
                Problem(bytenr, "error", $"leaf {bytenr} slot {i} item header lies past the block end (nritems {nr})");
                break;
            }
            int slot = (int)i;
            uint off = leaf.DataOffset(slot), size = leaf.DataSize(slot);
            if (off > limit || (ulong)size + off > limit)
            {
                Problem(bytenr, "error", $"leaf {bytenr} slot {i} pointer invalid, offset {off} size {size} leaf data limit {limit}");
                break;
            }
            var k = leaf.Key(slot);
            _j.WriteStartObject();
            _j.WriteNumber("slot", slot);
            JsonItems.KeyJson(_j, k);
            _j.WriteNumber("itemoff", off);
            _j.WriteNumber("itemsize", size);
            JsonItems.Fields(_j, k, b.Slice(NodeHeader.Size + (int)off, (int)size), _src.SectorSize, _src.CsumSize);
            _j.WriteEndObject();
        }
        _j.WriteEndArray();
    }

    private void Node(Span<byte> b, uint nr)
    {
        int maxPtrs = (b.Length - NodeHeader.Size) / KeyPtr.Size;
        _j.WriteNumber("free_space", unchecked((uint)maxPtrs - nr));
        if (nr > maxPtrs) Problem(new NodeHeader(b).Bytenr, "warning", $"node nr_items corrupted, has {nr} limit {maxPtrs}, continue anyway");
        _j.WriteStartArray("ptrs");
        var node = new InternalNode(b);
        int n = (int)Math.Min(nr, (uint)maxPtrs);
        for (int i = 0; i < n; i++)
        {
            _j.WriteStartObject();
            JsonItems.KeyJson(_j, node.Key(i));
            _j.WriteNumber("blockptr", node.BlockPtr(i));
            _j.WriteNumber("generation", node.PtrGeneration(i));
            _j.WriteEndObject();
        }
        _j.WriteEndArray();
    }

    private void Problem(ulong bytenr, string severity, string message)
    {
        Problems++;
        _problems.Add((bytenr, severity, message));
        _err.Write(severity == "error" ? "ERROR: " : "WARNING: ");
        _err.Write(message);
        _err.Write('\n');
    }

    public void Error(ulong bytenr, string message)
    {
        _problems.Add((bytenr, "error", message));
        _err.Write("ERROR: ");
        _err.Write(message);
        _err.Write('\n');
    }

    public void Warning(ulong bytenr, string message)
    {
        _problems.Add((bytenr, "warning", message));
        _err.Write("WARNING: ");
        _err.Write(message);
        _err.Write('\n');
    }

    public void Footer(ulong totalBytes, ulong bytesUsed, Guid fsid) => _footer = (totalBytes, bytesUsed, fsid);

    public void Finish()
    {
        CloseTree();
        _j.WriteEndArray();
        _j.WriteStartArray("errors");
        foreach (var (bytenr, severity, message) in _problems)
        {
            _j.WriteStartObject();
            _j.WriteNumber("bytenr", bytenr);
            _j.WriteString("severity", severity);
            _j.WriteString("message", message);
            _j.WriteEndObject();
        }
        _j.WriteEndArray();
        if (_footer is { } f)
        {
            _j.WriteNumber("total_bytes", f.Total);
            _j.WriteNumber("bytes_used", f.Used);
            _j.WriteString("uuid", f.Fsid.ToString("D"));
        }
        _j.WriteEndObject();
        _j.Flush();
    }
}
