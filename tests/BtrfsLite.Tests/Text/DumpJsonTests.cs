using System.Text;
using System.Text.Json;
using BtrfsLite.Format;
using BtrfsLite.IO;
using BtrfsLite.Tests.Support;
using BtrfsLite.Text;

namespace BtrfsLite.Tests.Text;

/// <summary>The JSON forms agree with the (golden-checked) text forms, block for block and item for item.</summary>
public class DumpJsonTests
{
    public static IEnumerable<object[]> Images() => Golden.ImageNames();

    private static readonly DumpTreeOptions Utc = new() { TimeZone = TimeZoneInfo.Utc, NameEncoding = Encoding.Latin1 };

    private static JsonDocument JsonDump(string img, Action<DumpTreeWriter> what)
    {
        using var src = DumpSource.Open(img);
        var ms = new MemoryStream();
        var w = DumpTreeWriter.Json(src, ms, new StringWriter(), Utc);
        what(w);
        Assert.Equal(0, w.ErrorCount);
        return JsonDocument.Parse(ms.ToArray());
    }

    /// <summary>The header, item and key-pointer lines the text dump has, rebuilt from the JSON.</summary>
    private static List<string> LinesFromJson(JsonElement root)
    {
        var l = new List<string>();
        foreach (var tree in root.GetProperty("trees").EnumerateArray())
        {
            var label = tree.GetProperty("label");
            if (label.ValueKind == JsonValueKind.String)
            {
                var rk = tree.GetProperty("root_key");
                l.Add(rk.ValueKind == JsonValueKind.Null ? label.GetString()! : $"{label.GetString()} {ProgsNames.KeyString(Key(rk))} ");
            }
            foreach (var b in tree.GetProperty("blocks").EnumerateArray())
            {
                int level = b.GetProperty("level").GetInt32();
                string head = level == 0
                    ? $"leaf {b.GetProperty("bytenr")} items {b.GetProperty("nritems")} free space {b.GetProperty("free_space")} generation {b.GetProperty("generation")} owner {b.GetProperty("owner_name").GetString()}"
                    : $"node {b.GetProperty("bytenr")} level {level} items {b.GetProperty("nritems")} free space {b.GetProperty("free_space")} generation {b.GetProperty("generation")} owner {b.GetProperty("owner_name").GetString()}";
                l.Add(head);
                l.Add($"fs uuid {b.GetProperty("fsid").GetString()}");
                if (level == 0)
                    foreach (var it in b.GetProperty("items").EnumerateArray())
                        l.Add($"\titem {it.GetProperty("slot")} {ProgsNames.KeyString(Key(it.GetProperty("key")))} itemoff {it.GetProperty("itemoff")} itemsize {it.GetProperty("itemsize")}");
                else
                    foreach (var p in b.GetProperty("ptrs").EnumerateArray())
                        l.Add($"\t{ProgsNames.KeyString(Key(p.GetProperty("key")))} block {p.GetProperty("blockptr")} gen {p.GetProperty("generation")}");
            }
        }
        return l;
    }

    private static Key Key(JsonElement k) =>
        new(k.GetProperty("objectid").GetUInt64(), (ItemType)k.GetProperty("type").GetByte(), k.GetProperty("offset").GetUInt64());

    private static List<string> StructuralLines(string text) =>
        text.Split('\n').Where(s => s.StartsWith("leaf ") && s.Contains(" items ") || s.StartsWith("node ") && s.Contains(" level ")
            || s.StartsWith("fs uuid ") || s.StartsWith("\titem ") || s.StartsWith("\tkey (") || s == "root tree" || s == "chunk tree"
            || s.Contains(" tree key (")).ToList();

    [Theory]
    [MemberData(nameof(Images))]
    public void JsonHasTheSameBlocksAndItemsAsTheText(string name)
    {
        var dir = Golden.ImagesDir()!;
        using var tmp = new TempDir();
        var img = Golden.Gunzip(Path.Combine(dir, name + ".img.gz"), tmp.File(name + ".img"));
        using var doc = JsonDump(img, w => w.WriteFilesystem());
        var expected = StructuralLines(File.ReadAllText(Path.Combine(dir, name + ".dump-tree.txt"), Golden.Bytes));
        var actual = LinesFromJson(doc.RootElement);
        Golden.AssertSameLines(string.Join("\n", expected), string.Join("\n", actual), $"{name}: JSON structure");
        Assert.Equal(0, doc.RootElement.GetProperty("errors").GetArrayLength());
        Assert.True(doc.RootElement.GetProperty("total_bytes").GetUInt64() > 0);
    }

    private static IEnumerable<JsonElement> Items(JsonElement root, string typeName) =>
        root.GetProperty("trees").EnumerateArray().SelectMany(t => t.GetProperty("blocks").EnumerateArray())
            .Where(b => b.TryGetProperty("items", out _)).SelectMany(b => b.GetProperty("items").EnumerateArray())
            .Where(i => i.GetProperty("key").GetProperty("type_name").GetString() == typeName);

    [Fact]
    public void KernelRichFieldsDecode()
    {
        var dir = Golden.ImagesDir()!;
        using var tmp = new TempDir();
        var img = Golden.Gunzip(Path.Combine(dir, "kernel-rich.img.gz"), tmp.File("kernel-rich.img"));
        using var doc = JsonDump(img, w => w.WriteFilesystem());
        var root = doc.RootElement;
        var text = File.ReadAllText(Path.Combine(dir, "kernel-rich.dump-tree.txt"), Golden.Bytes);

        // qgroup limits and relations as the README of the images lists them.
        var limits = Items(root, "QGROUP_LIMIT").ToDictionary(i => i.GetProperty("qgroupid").GetString()!);
        Assert.Equal(104857600UL, limits["0/256"].GetProperty("max_referenced").GetUInt64());
        Assert.Equal(67108864UL, limits["0/257"].GetProperty("max_referenced").GetUInt64());
        Assert.Equal(115343360UL, limits["1/100"].GetProperty("max_exclusive").GetUInt64());
        Assert.Contains(Items(root, "QGROUP_RELATION"), r => r.GetProperty("child").GetString() == "0/5" && r.GetProperty("parent").GetString() == "1/100");

        // Every inline ref kind, prealloc extents, extrefs, root refs.
        var kinds = Items(root, "EXTENT_ITEM").Concat(Items(root, "METADATA_ITEM"))
            .SelectMany(i => i.GetProperty("inline_refs").EnumerateArray()).Select(r => r.GetProperty("type_name").GetString()).ToHashSet();
        Assert.Superset(new HashSet<string?> { "TREE_BLOCK_REF", "SHARED_BLOCK_REF", "EXTENT_DATA_REF", "SHARED_DATA_REF" }, kinds);
        Assert.Equal(4, Items(root, "EXTENT_DATA").Count(i => i.GetProperty("type_name").GetString() == "prealloc"));
        Assert.True(Items(root, "INODE_EXTREF").Count() >= 39);
        Assert.Contains(Items(root, "ROOT_REF"), r => r.GetProperty("name").GetString() == "sub1");

        // xattr values: the text prints up to the first NUL, JSON keeps every byte.
        var xattrs = Items(root, "XATTR_ITEM").SelectMany(i => i.GetProperty("entries").EnumerateArray()).ToList();
        var big = xattrs.First(e => e.GetProperty("name").GetString() == "user.long");
        Assert.Equal(1500, big.GetProperty("data_len").GetInt32());
        Assert.Equal(1500, big.GetProperty("data_base64").GetBytesFromBase64().Length);

        // Inode fields agree with the text for the first inode of the fs tree.
        var inode = Items(root, "INODE_ITEM").First();
        Assert.Contains($"mode {Convert.ToString(inode.GetProperty("mode").GetInt32(), 8)} links {inode.GetProperty("nlink")}", text);
    }

    [Fact]
    public void SuperJsonMatchesSuperText()
    {
        var dir = Golden.ImagesDir()!;
        using var tmp = new TempDir();
        var img = Golden.Gunzip(Path.Combine(dir, "kernel-dup.img.gz"), tmp.File("kernel-dup.img"));
        var text = File.ReadAllText(Path.Combine(dir, "kernel-dup.dump-super.txt"), Golden.Bytes);
        var fields = text.Split('\n').Select(l => l.Split('\t', StringSplitOptions.RemoveEmptyEntries))
            .Where(p => p.Length == 2).GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.First()[1]);
        using var dev = FileBlockDevice.Open(img, writable: false);
        var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms)) Assert.Equal(0, DumpSuperWriter.DumpJson(dev, j, new StringWriter(), new DumpSuperOptions()));
        using var doc = JsonDocument.Parse(ms.ToArray());
        var s = doc.RootElement;
        foreach (var f in new[] { "generation", "root", "chunk_root", "total_bytes", "bytes_used", "sectorsize", "nodesize", "num_devices", "cache_generation", "uuid_tree_generation", "sys_array_size" })
            Assert.Equal(fields[f], s.GetProperty(f).GetUInt64().ToString());
        Assert.Equal(fields["fsid"], s.GetProperty("fsid").GetString());
        Assert.Equal(fields["incompat_flags"], "0x" + s.GetProperty("incompat_flags").GetUInt64().ToString("x"));
        Assert.Equal(fields["csum"], "0x" + s.GetProperty("csum").GetString() + " [match]");
        Assert.True(s.GetProperty("csum_match").GetBoolean());
        Assert.Equal(fields["dev_item.uuid"], s.GetProperty("dev_item").GetProperty("uuid").GetString());
        Assert.Equal(new[] { "MIXED_BACKREF", "BIG_METADATA", "EXTENDED_IREF", "SKINNY_METADATA", "NO_HOLES" },
            s.GetProperty("incompat_flag_names").EnumerateArray().Select(e => e.GetString()).ToArray());
        var chunk = Assert.Single(s.GetProperty("sys_chunk_array").EnumerateArray());
        Assert.Equal("SYSTEM|DUP", chunk.GetProperty("chunk").GetProperty("type_string").GetString());
        Assert.Equal(4, s.GetProperty("backup_roots").GetArrayLength());
    }

    [Fact]
    public void CliJsonIsValidForTreeAndBlocks()
    {
        var dir = Golden.ImagesDir()!;
        using var tmp = new TempDir();
        var img = Golden.Gunzip(Path.Combine(dir, "kernel-small.img.gz"), tmp.File("kernel-small.img"));
        var t = Golden.Ours("dump-tree", "--format", "json", "-t", "quota", img);
        Assert.True(t.ExitCode == 0, t.Stderr);
        using var doc = JsonDocument.Parse(t.Stdout);
        var tree = Assert.Single(doc.RootElement.GetProperty("trees").EnumerateArray());
        Assert.Equal("quota tree", tree.GetProperty("label").GetString());
        Assert.Equal(8UL, tree.GetProperty("root_key").GetProperty("objectid").GetUInt64());
        ulong leaf = tree.GetProperty("blocks")[0].GetProperty("bytenr").GetUInt64();

        var b = Golden.Ours("dump-tree", "--format", "json", "-b", leaf.ToString(), img);
        Assert.True(b.ExitCode == 0, b.Stderr);
        using var bd = JsonDocument.Parse(b.Stdout);
        Assert.False(bd.RootElement.TryGetProperty("total_bytes", out _));
        Assert.Equal(leaf, bd.RootElement.GetProperty("trees")[0].GetProperty("blocks")[0].GetProperty("bytenr").GetUInt64());

        var s = Golden.Ours("dump-super", "--format", "json", img);
        Assert.True(s.ExitCode == 0, s.Stderr);
        using var sd = JsonDocument.Parse(s.Stdout);
        Assert.Equal("_BHRfS_M", sd.RootElement.GetProperty("magic").GetString());
        var a = Golden.Ours("dump-super", "--format", "json", "-a", img);
        using var ad = JsonDocument.Parse(a.Stdout);
        Assert.Equal(2, ad.RootElement.GetArrayLength()); // 128 MiB: copies 0 and 1 (64 MiB); 256 GiB does not fit
    }
}
