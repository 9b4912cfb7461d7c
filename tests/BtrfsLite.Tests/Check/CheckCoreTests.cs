using BtrfsLite.Check;
using BtrfsLite.Format;
using BtrfsLite.Images;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Check;

/// <summary>The core phases (superblock, tree blocks, extents, free space, csums) report nothing on valid images.</summary>
public class CheckCoreTests
{
    internal static string Describe(CheckReport r) =>
        string.Join("\n", r.Findings.Select(f => f.ToString()).Take(40)) + (r.Notes.Count > 0 ? "\nnotes: " + string.Join("; ", r.Notes) : "");

    internal static void AssertClean(CheckReport r) => Assert.True(r.IsClean, Describe(r));

    public static IEnumerable<object[]> FreshImages() => new[]
    {
        new object[] { "128M-single-quota", 128L << 20, new[] { "-m", "single", "-d", "single", "-R", "quota" } },
        new object[] { "256M-default-dup", 256L << 20, Array.Empty<string>() },
        new object[] { "256M-nofst", 256L << 20, new[] { "-R", "^free-space-tree" } },
        new object[] { "1G-default", 1L << 30, Array.Empty<string>() },
        new object[] { "1G-single-quota", 1L << 30, new[] { "-m", "single", "-d", "single", "-R", "quota" } },
    };

    [RequiresBtrfsProgsTheory]
    [MemberData(nameof(FreshImages))]
    public void FreshMkfsImageIsClean(string name, long size, string[] args)
    {
        using var tmp = new TempDir();
        var img = RealTools.Mkfs(tmp.File(name + ".img"), size, args);
        var report = Checker.Check(img, new CheckOptions { CheckDataCsum = true });
        AssertClean(report);
        Assert.True(report.TotalTreeBytes >= 6UL * 16384);
        Assert.True(report.BytesUsed > 0);
    }

    /// <summary>The closing numbers agree with btrfs check's.</summary>
    internal static void AssertSummaryMatches(string stdout, CheckReport report)
    {
        Assert.Equal(ProgsNumber(stdout, "total csum bytes"), report.TotalCsumBytes);
        Assert.Equal(ProgsNumber(stdout, "total tree bytes"), report.TotalTreeBytes);
        Assert.Equal(ProgsNumber(stdout, "total fs tree bytes"), report.TotalFsTreeBytes);
        Assert.Equal(ProgsNumber(stdout, "total extent tree bytes"), report.TotalExtentTreeBytes);
        Assert.Equal(ProgsNumber(stdout, "file data blocks allocated"), report.FileDataBlocksAllocated);
        Assert.Equal(ProgsNumber(stdout, " referenced"), report.FileDataReferenced);
        Assert.Equal(ProgsNumber(stdout, "found"), report.BytesUsed);
        Assert.Equal(ProgsNumber(stdout, "btree space waste bytes"), report.BtreeSpaceWaste);
    }

    internal static ulong ProgsNumber(string stdout, string label)
    {
        foreach (var line in stdout.Split('\n'))
            if (line.StartsWith(label + " ") || line.StartsWith(label + ":"))
                return ulong.Parse(line[label.Length..].TrimStart(':', ' ').Split(' ')[0]);
        throw new InvalidOperationException($"'{label}' not in btrfs check output:\n{stdout}");
    }

    internal static void MakeRootDir(string dir)
    {
        Directory.CreateDirectory(Path.Combine(dir, "sub", "deeper"));
        var rnd = new Random(42);
        foreach (var (name, len) in new[] { ("empty", 0), ("tiny", 10), ("inline", 2000), ("page", 4096), ("odd", 5000), ("big", 300_000), ("sub/mid", 70_000), ("sub/deeper/huge", 3_000_000) })
        {
            var b = new byte[len];
            rnd.NextBytes(b);
            File.WriteAllBytes(Path.Combine(dir, name), b);
        }
        File.CreateSymbolicLink(Path.Combine(dir, "link"), "big");
    }

    [RequiresBtrfsProgsTheory]
    [InlineData("single", new[] { "-m", "single", "-d", "single", "-R", "quota" })]
    [InlineData("dup", new string[0])]
    public void MkfsRootDirImageIsClean(string name, string[] args)
    {
        using var tmp = new TempDir();
        var root = tmp.File("root");
        MakeRootDir(root);
        var img = RealTools.Mkfs(tmp.File(name + "-rootdir.img"), 256L << 20, args.Concat(new[] { "--rootdir", root }).ToArray());
        var progs = RealTools.BtrfsCheck(img, "--check-data-csum");
        Assert.Equal(0, progs.ExitCode);
        var report = Checker.Check(img, new CheckOptions { CheckDataCsum = true });
        AssertClean(report);
        AssertSummaryMatches(progs.Stdout, report);
    }
}

/// <summary>Images the kernel wrote: snapshots share blocks, FULL_BACKREF and shared refs exist.</summary>
public class CheckKernelImageTests
{
    [RequiresTheory(Need.BtrfsProgs, Need.RootLoopMount, Need.Chattr)]
    [InlineData("kernel-dup", new string[0])]
    [InlineData("kernel-node4k", new[] { "-n", "4096" })]
    [InlineData("kernel-single-quota", new[] { "-m", "single", "-d", "single", "-R", "quota" })]
    [InlineData("kernel-nofst", new[] { "-R", "^free-space-tree" })]
    public void KernelWrittenImageIsClean(string name, string[] mkfsArgs)
    {
        using var tmp = new TempDir();
        var img = KernelImages.MakeRich(tmp, name, 512L << 20, mkfsArgs);
        var progs = RealTools.BtrfsCheck(img, "--check-data-csum");
        Assert.True(progs.ExitCode == 0, "btrfs check itself fails: " + progs.All);
        var report = BtrfsLite.Check.Checker.Check(img, new BtrfsLite.Check.CheckOptions { CheckDataCsum = true });
        CheckCoreTests.AssertClean(report);
        CheckCoreTests.AssertSummaryMatches(progs.Stdout, report);

        // The walk records shared blocks once with every edge; the roots reaching a shared block include the snapshot.
        using (var image = BtrfsImage.Open(img))
        {
            var ctx = new CheckContext(image, new CheckOptions(), new CheckReport());
            TreeBlockWalker.Run(ctx);
            var walk = ctx.Walk!;
            Assert.True(walk.Complete);
            var shared = walk.Blocks.Values.Where(b => b.EdgeIndexes.Count >= 2).ToList();
            Assert.NotEmpty(shared);
            Assert.Contains(shared, b => walk.RootsReaching(b.Bytenr).Count >= 2);
            Assert.All(walk.Blocks.Values, b => Assert.NotEmpty(walk.RootsReaching(b.Bytenr)));
            Assert.Equal(walk.Blocks.Count * (long)image.NodeSize, (long)walk.TotalTreeBytes);
        }

        // The image really exercises shared blocks: some block has several edges and some extent FULL_BACKREF.
        var dump = RealTools.Run("btrfs", "inspect-internal", "dump-tree", "-t", "2", img).Stdout;
        Assert.Contains("FULL_BACKREF", dump);
        Assert.Contains("shared data backref", dump);
        // With 4 KiB nodes the fs tree has level 2: shared nodes are COWed and their children get SHARED_BLOCK_REFs.
        if (name == "kernel-node4k") Assert.Contains("shared block backref", dump);
    }
}

public class CheckKernelInlineRefOrderTests
{
    /// <summary>
    /// Swaps two inline EXTENT_DATA_REFs (a reflinked extent): the kernel's tree-checker refuses the leaf, btrfs check 6.2
    /// does not notice (btrfs-format.md 7.6); we report ExtentInlineRefOrder.
    /// </summary>
    [RequiresRootMountFact]
    public void SwappedInlineDataRefsAreReported()
    {
        using var tmp = new TempDir();
        var img = RealTools.Mkfs(tmp.File("order.img"), 256L << 20, "-m", "single", "-d", "single");
        KernelImages.WithMounted(img, "head -c 100000 /dev/urandom > a\nfor i in 1 2 3; do cp --reflink=always a r$i; done");
        using (var ed = new ImageEditor(img))
        {
            var cur = ed.Image.NewCursor();
            Assert.True(cur.First(ed.Image.GetRoot(ObjectIds.ExtentTree)));
            ulong leaf = 0;
            int slot = -1, first = -1;
            do
            {
                if (cur.Type != ItemType.ExtentItem) continue;
                var data = cur.Data;
                var ei = new ExtentItem(data);
                if ((ei.Flags & ExtentFlags.Data) == 0) continue;
                var rd = new InlineRefReader(data, ExtentItem.Size);
                int n = 0, pos = -1;
                while (rd.Next(out var r)) if (r.Type == ItemType.ExtentDataRef) { if (n++ == 0) pos = r.Position; }
                if (n >= 2) { leaf = cur.LeafBytenr; slot = cur.Slot; first = pos; break; }
            } while (cur.Next());
            Assert.True(slot >= 0, "no extent with two inline data refs");
            ed.EditItem(leaf, slot, d =>
            {
                const int sz = 29;
                var tmpRef = d.Slice(first, sz).ToArray();
                d.Slice(first + sz, sz).CopyTo(d.Slice(first, sz));
                tmpRef.CopyTo(d.Slice(first + sz, sz));
            });
        }
        var report = Checker.Check(img);
        Assert.True(report.Count(FindingCode.ExtentInlineRefOrder) > 0, CheckCoreTests.Describe(report));
        Assert.Equal(0, RealTools.BtrfsCheck(img).ExitCode); // btrfs check 6.2 passes it
    }
}

/// <summary>The golden images of images/ (mkfs- and kernel-made, from the images branch) check clean.</summary>
public class CheckGoldenImageTests
{
    internal static string? ImagesDir()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            var p = Path.Combine(d.FullName, "images");
            if (Directory.Exists(p) && Directory.GetFiles(p, "*.img.gz").Length > 0) return p;
        }
        return null;
    }

    [Fact]
    public void GoldenImagesAreClean()
    {
        var dir = ImagesDir();
        Assert.True(dir != null, "images/*.img.gz not found above " + AppContext.BaseDirectory);
        using var tmp = new TempDir();
        var failures = new List<string>();
        int n = 0;
        foreach (var gz in Directory.GetFiles(dir!, "*.img.gz").OrderBy(x => x))
        {
            var img = tmp.File(Path.GetFileNameWithoutExtension(gz));
            using (var src = File.OpenRead(gz))
            using (var z = new System.IO.Compression.GZipStream(src, System.IO.Compression.CompressionMode.Decompress))
            using (var dst = File.Create(img))
                z.CopyTo(dst);
            var report = Checker.Check(img, new CheckOptions { CheckDataCsum = true });
            if (!report.IsClean) failures.Add($"{Path.GetFileName(gz)}:\n{CheckCoreTests.Describe(report)}");
            File.Delete(img);
            n++;
        }
        Assert.True(n >= 1);
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }
}
