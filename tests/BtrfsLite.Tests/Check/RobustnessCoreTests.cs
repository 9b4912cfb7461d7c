using BtrfsLite.Check;
using BtrfsLite.Format;
using BtrfsLite.IO;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Check;

/// <summary>
/// Hostile images: the checker must return a report with findings, never throw, never hang, never allocate without
/// bound. (No timing assertion: these tests only have to terminate.)
/// </summary>
public class RobustnessCoreTests
{
    public sealed record Damage(string Name, bool Nodes, Action<string> Apply, FindingCode? Expected, bool OpenFails = false)
    {
        public override string ToString() => Name;
    }

    private static void Edit(string path, Action<ImageEditor> a)
    {
        using var ed = new ImageEditor(path);
        a(ed);
    }

    private static ulong FsRoot(ImageEditor ed) => ed.Image.GetRoot(ObjectIds.FsTree).Bytenr;

    /// <summary>Writes raw bytes at a logical address (every copy), no checksum fix-up.</summary>
    private static void WriteLogical(string path, ulong logical, byte[] bytes)
    {
        var phys = new List<long>();
        using (var ed = new ImageEditor(path))
        {
            var c = ed.Image.Chunks.Find(logical)!;
            for (int i = 0; i < c.PhysicalStripes.Length; i++) phys.Add(ed.Image.Chunks.Map(logical, bytes.Length, i));
        }
        using var dev = FileBlockDevice.Open(path, writable: true);
        foreach (var p in phys) dev.Write(bytes, p);
    }

    /// <summary>Zeroes the tree block <paramref name="which"/> names (every copy); the editor is closed before the raw write.</summary>
    private static void ZeroBlock(string path, Func<ImageEditor, ulong> which)
    {
        ulong at;
        int nodeSize;
        using (var ed = new ImageEditor(path)) (at, nodeSize) = (which(ed), ed.Image.NodeSize);
        WriteLogical(path, at, new byte[nodeSize]);
    }

    public static IEnumerable<object[]> Damages()
    {
        var rows = new List<Damage>
        {
            new("item offset out of range", false, p => Edit(p, ed => ed.EditBlock(FsRoot(ed), b =>
                new Leaf(b).SetItemPlacement(0, 0xFFFFFF00, 0xFFFF))), FindingCode.BlockItemOffsetInvalid),
            new("absurd nritems 0xFFFFFFFF in a leaf", false, p => Edit(p, ed => ed.EditBlock(FsRoot(ed), b => new NodeHeader(b).NrItems = 0xFFFFFFFF)),
                FindingCode.BlockNrItemsInvalid),
            new("absurd nritems 0xFFFFFFFF in a node", true, p => Edit(p, ed => ed.EditBlock(FsRoot(ed), b => new NodeHeader(b).NrItems = 0xFFFFFFFF)),
                FindingCode.BlockNrItemsInvalid),
            new("node points to itself", true, p => Edit(p, ed => ed.EditBlock(FsRoot(ed), b =>
            {
                var n = new InternalNode(b);
                n.SetPtr(1, n.Key(1), new NodeHeader(b).Bytenr, new NodeHeader(b).Generation);
            })), FindingCode.BlockReferencedTwice),
            new("leaf replaced by a copy of its parent (cycle)", true, p => Edit(p, ed =>
            {
                ulong root = FsRoot(ed);
                var node = new byte[ed.Image.NodeSize];
                ed.Image.Nodes.ReadRaw(root, node);
                ulong child = new InternalNode(node).BlockPtr(0);
                ed.EditBlock(child, b => { node.CopyTo(b, 0); new NodeHeader(b).Bytenr = child; });
            }), FindingCode.BlockLevelMismatch),
            new("node pointer outside every chunk", true, p => Edit(p, ed => ed.EditBlock(FsRoot(ed), b =>
            {
                var n = new InternalNode(b);
                n.SetPtr(0, n.Key(0), 1UL << 50, n.PtrGeneration(0));
            })), FindingCode.BlockUnreadable),
            new("node pointer not aligned", true, p => Edit(p, ed => ed.EditBlock(FsRoot(ed), b =>
            {
                var n = new InternalNode(b);
                n.SetPtr(0, n.Key(0), n.BlockPtr(0) + 7, n.PtrGeneration(0));
            })), FindingCode.BlockItemOffsetInvalid),
            new("random garbage in a leaf (restamped)", false, p => Edit(p, ed => ed.EditBlock(FsRoot(ed), b =>
                new Random(7).NextBytes(b.AsSpan(NodeHeader.Size)))), null),
            new("random garbage in the extent tree leaf (restamped)", false, p => Edit(p, ed => ed.EditBlock(ed.Image.GetRoot(ObjectIds.ExtentTree).Bytenr, b =>
                new Random(8).NextBytes(b.AsSpan(NodeHeader.Size + 200)))), null),
            new("random garbage in every item of a node (restamped)", true, p => Edit(p, ed => ed.EditBlock(FsRoot(ed), b =>
                new Random(9).NextBytes(b.AsSpan(NodeHeader.Size)))), null),
            new("zeroed extent tree root", false, p => ZeroBlock(p, ed => ed.Image.GetRoot(ObjectIds.ExtentTree).Bytenr),
                FindingCode.BlockCsumMismatch),
            new("zeroed chunk tree root", false, p => ZeroBlock(p, ed => ed.Image.Super.ChunkRoot),
                null, OpenFails: true),
            new("zeroed root tree root", false, p => ZeroBlock(p, ed => ed.Image.Super.Root),
                null, OpenFails: true),
            new("truncated in the middle", false, p =>
            {
                using var f = new FileStream(p, FileMode.Open);
                f.SetLength(f.Length / 2);
            }, FindingCode.SuperTotalBytesInvalid),
            new("truncated inside the fs tree leaf", false, p =>
            {
                long phys;
                using (var ed = new ImageEditor(p)) phys = ed.Image.Chunks.Map(FsRoot(ed), 16384);
                using var f = new FileStream(p, FileMode.Open);
                f.SetLength(phys + 8192);
            }, null, OpenFails: true), // blocks after it (root tree) are gone too: the open itself reports it
        };
        return rows.Select(r => new object[] { r });
    }

    private static string MakeImage(TempDir tmp, bool nodes)
    {
        var root = tmp.File("root");
        if (nodes)
        {
            // 4 KiB nodes and many names: the fs tree gets internal nodes.
            Directory.CreateDirectory(root);
            for (int i = 0; i < 1500; i++) File.WriteAllText(Path.Combine(root, $"file-with-a-long-name-{i:D5}"), "");
            return RealTools.Mkfs(tmp.File("nodes.img"), 128L << 20, "-n", "4096", "-m", "single", "-d", "single", "--rootdir", root);
        }
        CheckCoreTests.MakeRootDir(root);
        return RealTools.Mkfs(tmp.File("leaf.img"), 256L << 20, "-m", "single", "-d", "single", "--rootdir", root);
    }

    [RequiresBtrfsProgsTheory]
    [MemberData(nameof(Damages))]
    public void SurvivesDamage(Damage d)
    {
        using var tmp = new TempDir();
        var img = MakeImage(tmp, d.Nodes);
        if (d.Nodes)
            using (var fs = BtrfsLite.Images.BtrfsImage.Open(img))
                Assert.True(fs.GetRoot(ObjectIds.FsTree).Level >= 1, "fs tree has no nodes");
        d.Apply(img);

        var report = Checker.Check(img, new CheckOptions { CheckDataCsum = true });
        Assert.False(report.IsClean);
        if (d.Expected is { } code)
            Assert.True(report.Count(code) > 0, $"expected {code}; got:\n{CheckCoreTests.Describe(report)}");
        if (!d.OpenFails)
            Assert.True(report.Count(FindingCode.PhaseAborted) == 0, $"a phase aborted:\n{CheckCoreTests.Describe(report)}");
        // The real checker agrees that something is wrong.
        Assert.NotEqual(0, RealTools.BtrfsCheck(img).ExitCode);
    }
}
