using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.IO;
using BtrfsLite.Images;
using BtrfsLite.Mkfs;
using BtrfsLite.Transactions;
using BtrfsLite.Tests.Support;
using static BtrfsLite.Tests.Mkfs.MkfsTestSupport;

namespace BtrfsLite.Tests.Mkfs;

public class ImageBuilderTests
{
    public static readonly MkfsCase[] Matrix =
    {
        new("128M"),
        new("128M", Quota: true, Label: "small"),
        new("256M", NodeSize: 4096, Quota: true),
        new("256M", NodeSize: 65536, Fst: false),
        new("1G", Quota: true, Dup: true),
        new("1G", NodeSize: 4096, Dup: true, Fst: false, Quota: true),
        new("20G", Quota: true, Label: "big"),
        new("20G", NodeSize: 65536, Dup: true),
    };

    public static IEnumerable<object[]> Cases() => Matrix.Select(c => new object[] { c });

    [RequiresBtrfsProgsTheory]
    [MemberData(nameof(Cases))]
    public void Matrix_passes_our_check_btrfs_check_and_dump_super(MkfsCase c)
    {
        using var tmp = new TempDir();
        var img = Make(tmp, "m.img", c.Options());
        AssertOurCheckClean(img);
        AssertRealCheckClean(img, c.Quota);
        var ds = RealTools.Run("btrfs", "inspect-internal", "dump-super", "-f", img);
        Assert.True(ds.ExitCode == 0, ds.All);
        Assert.Contains("csum\t\t\t0x", ds.Stdout);
        Assert.Contains("[match]", ds.Stdout);
        Assert.DoesNotContain("[DON'T MATCH]", ds.Stdout);
        var dt = RealTools.Run("btrfs", "inspect-internal", "dump-tree", img);
        Assert.True(dt.ExitCode == 0, dt.All);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Superblock_and_trees_read_back(MkfsCase c)
    {
        using var tmp = new TempDir();
        var o = c.Options();
        var img = Make(tmp, "m.img", o);
        using var fs = BtrfsImage.Open(img);
        var sb = fs.Super;
        Assert.Equal(ImageBuilder.Generation, sb.Generation);
        Assert.Equal((ulong)o.Size!.Value, sb.TotalBytes);
        Assert.Equal((IncompatFlags)0x361, sb.IncompatFlags);
        Assert.Equal(c.Fst ? (CompatRoFlags)0x3 : CompatRoFlags.None, sb.CompatRoFlags);
        Assert.Equal(c.Fst ? 0UL : ulong.MaxValue, sb.CacheGeneration);
        Assert.Equal(sb.Generation, sb.UuidTreeGeneration);
        Assert.Equal(ObjectIds.RootTreeDir, sb.RootDirObjectId);
        Assert.Equal(c.Label, sb.Label);
        Assert.Equal((uint)c.NodeSize, sb.NodeSize);
        Assert.Equal(c.Dup ? 129u : 97u, sb.SysChunkArraySize);
        Assert.Equal(sb.Root, sb.BackupRoot(0).TreeRoot);
        var expectTrees = new List<ulong> { 2, 4, 5, 7, 9, ObjectIds.DataRelocTree };
        if (c.Quota) expectTrees.Add(8);
        if (c.Fst) expectTrees.Add(10);
        foreach (var t in expectTrees) Assert.True(fs.TryGetRoot(t, out _), $"tree {t} missing");
        Assert.Equal(c.Quota, fs.TryGetRoot(8, out _));
        Assert.Equal(c.Fst, fs.TryGetRoot(10, out _));
        // Mirrors: 64 MiB always (>= 128 MiB), 256 GiB never here; each identical to the primary except bytenr/csum.
        var m1 = new byte[Superblock.Size];
        fs.Device.Read(m1, Superblock.MirrorOffset(1));
        var mirror = new Superblock(m1);
        Assert.Equal((ulong)Superblock.MirrorOffset(1), mirror.Bytenr);
        Assert.True(mirror.CsumMatches(out _, out _));
        Assert.Equal(sb.Bytes[0x38..].ToArray(), m1.AsSpan(0x38).ToArray());
    }

    [Fact]
    public void Dup_writes_both_copies_of_every_metadata_block()
    {
        using var tmp = new TempDir();
        var img = Make(tmp, "d.img", new MkfsCase("128M", Dup: true, Quota: true).Options());
        using var fs = BtrfsImage.Open(img);
        var a = new byte[fs.NodeSize];
        var b = new byte[fs.NodeSize];
        int blocks = 0;
        foreach (var chunk in fs.Chunks.Chunks.Where(c => (c.Type & BlockGroupFlags.Data) == 0))
        {
            Assert.True(chunk.IsDup);
            Assert.Equal(2, chunk.PhysicalStripes.Length);
            foreach (var root in fs.Roots.Values.Where(r => fs.Chunks.Find(r.Bytenr) == chunk))
            {
                fs.Device.Read(a, fs.Chunks.Map(root.Bytenr, a.Length, 0));
                fs.Device.Read(b, fs.Chunks.Map(root.Bytenr, b.Length, 1));
                Assert.Equal(a, b);
                Assert.Equal(root.Bytenr, new NodeHeader(a).Bytenr);
                blocks++;
            }
        }
        Assert.True(blocks >= 9, $"only {blocks} roots in DUP chunks");
    }

    [Fact]
    public void Small_nodes_make_multi_level_trees()
    {
        using var tmp = new TempDir();
        var img = Make(tmp, "n.img", new MkfsCase("128M", NodeSize: 4096, Quota: true).Options());
        using var fs = BtrfsImage.Open(img);
        // Nine ROOT_ITEMs of 439 bytes do not fit a 4 KiB leaf.
        Assert.Equal(1, fs.Super.RootLevel);
        AssertOurCheckClean(img);
    }

    [Fact]
    public void Deterministic_runs_are_byte_identical()
    {
        using var tmp = new TempDir();
        foreach (var c in new[] { new MkfsCase("256M", Quota: true, Label: "r"), new MkfsCase("128M", NodeSize: 4096, Dup: true) })
        {
            var a = Make(tmp, "a.img", c.Options());
            var b = Make(tmp, "b.img", c.Options());
            Assert.Equal(Sha256(a), Sha256(b));
            using var fa = BtrfsImage.Open(a);
            Assert.Equal(1_700_000_000, new RootItemTime(fa).FsTreeOtime);
        }
        // Another seed or explicit fsid changes every uuid; a random run differs.
        var o = new MkfsCase("128M").Options();
        var x = Make(tmp, "x.img", o);
        var y = Make(tmp, "y.img", o with { Seed = "other" });
        var z = Make(tmp, "z.img", o with { Deterministic = false });
        Assert.NotEqual(Sha256(x), Sha256(y));
        Assert.NotEqual(Sha256(x), Sha256(z));
        var fsid = Guid.Parse("0badc0de-0000-4000-8000-000000000001");
        var w = Make(tmp, "w.img", o with { Fsid = fsid });
        using var fw = BtrfsImage.Open(w);
        Assert.Equal(fsid, fw.Fsid);
    }

    /// <summary>Reads the fs tree ROOT_ITEM's otime.</summary>
    private readonly struct RootItemTime
    {
        public readonly long FsTreeOtime;
        public RootItemTime(BtrfsImage fs)
        {
            var cur = fs.NewCursor();
            Assert.True(cur.Seek(fs.RootTree, new Key(ObjectIds.FsTree, ItemType.RootItem, 0)));
            Assert.Equal(new Key(ObjectIds.FsTree, ItemType.RootItem, 0), cur.Key);
            FsTreeOtime = new RootItem(cur.Data.ToArray()).Otime.Sec;
        }
    }

    [Theory]
    [InlineData(64L << 20, "minimum")]
    [InlineData((128L << 20) - 4096, "minimum")]
    public void Rejects_too_small(long size, string message)
    {
        var ex = Assert.Throws<ArgumentException>(() => ImageBuilder.Validate(new ImageOptions { Size = size }, size));
        Assert.Contains(message, ex.Message);
        Assert.Contains("134217728", ex.Message);
    }

    [Theory]
    [InlineData(2048, 16384, "sectorsize")]
    [InlineData(4096, 2048, "nodesize")]
    [InlineData(4096, 131072, "nodesize")]
    [InlineData(4096, 12288, "nodesize")]
    [InlineData(16384, 16384, "page size")]
    public void Rejects_bad_block_sizes(int sector, int node, string message)
    {
        if (sector == Environment.SystemPageSize) return; // a 16 KiB-page machine accepts 16 KiB sectors
        var o = new ImageOptions { Size = 128L << 20, SectorSize = sector, NodeSize = node };
        var ex = Assert.Throws<ArgumentException>(() => ImageBuilder.Validate(o, 128L << 20));
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void Rejects_size_beyond_device_and_long_label()
    {
        Assert.Contains("larger than the device", Assert.Throws<ArgumentException>(() =>
            ImageBuilder.Validate(new ImageOptions { Size = 256L << 20 }, 128L << 20)).Message);
        Assert.Contains("label", Assert.Throws<ArgumentException>(() =>
            ImageBuilder.Validate(new ImageOptions { Label = new string('x', 256) }, 128L << 20)).Message);
    }

    [Theory]
    [InlineData("128M", 128L << 20)]
    [InlineData("1g", 1L << 30)]
    [InlineData("20GiB", 20L << 30)]
    [InlineData("2T", 2L << 40)]
    [InlineData("16K", 16384)]
    [InlineData("134217728", 134217728)]
    public void Parses_sizes(string text, long expected) => Assert.Equal(expected, ImageOptions.ParseSize(text));

    [Theory]
    [InlineData("12Q")]
    [InlineData("abc")]
    [InlineData("0")]
    [InlineData("-5M")]
    [InlineData("99999999999E")]
    public void Rejects_bad_sizes(string text) => Assert.Throws<ArgumentException>(() => ImageOptions.ParseSize(text));

    [Fact]
    public void Twenty_gib_image_stays_sparse()
    {
        using var tmp = new TempDir();
        var img = Make(tmp, "big.img", new MkfsCase("20G", Quota: true).Options());
        Assert.Equal(20L << 30, new FileInfo(img).Length);
        var du = RealTools.Run("du", "-k", img);
        if (du.ExitCode == 0) Assert.True(long.Parse(du.Stdout.Split('\t')[0]) < 8 * 1024, "allocated: " + du.Stdout);
    }

    [Fact]
    public void Result_opens_writable_and_takes_a_transaction()
    {
        using var tmp = new TempDir();
        var img = Make(tmp, "w.img", new MkfsCase("128M", Quota: true).Options());
        using (var fs = BtrfsImage.Open(img, new BtrfsImage.OpenOptions(Writable: true)))
        {
            using var tx = fs.BeginTransaction();
            var fsTree = tx.Tree(ObjectIds.FsTree);
            Assert.True(fsTree.TryGetForWrite(new Key(ObjectIds.FirstFreeInode, ItemType.InodeItem, 0), out var inode));
            var ii = new InodeItem(inode);
            ii.Transid = tx.Generation;
            ii.Mtime = ii.Ctime = new Timespec(1_700_000_100, 0);
            tx.Commit();
            Assert.Equal(ImageBuilder.Generation + 1, fs.Generation);
        }
        AssertOurCheckClean(img);
        if (RealTools.HasBtrfsProgs) AssertRealCheckClean(img, quota: true);
    }
}
