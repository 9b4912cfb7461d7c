using BtrfsLite.Check;
using BtrfsLite.Format;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Check;

/// <summary>Valid images (mkfs and kernel-written) give no findings.</summary>
[Collection(KernelImageCollection.Name)]
public class FsRootCheckTests
{
    private readonly KernelImageFixture _kernel;
    public FsRootCheckTests(KernelImageFixture kernel) => _kernel = kernel;

    /// <summary>A --rootdir source with a file, hard links across dirs, a symlink, a fifo, an inline file, a big file.</summary>
    public static string MakeRootDir(string parent)
    {
        var rd = Path.Combine(parent, "rootdir");
        Directory.CreateDirectory(Path.Combine(rd, "sub", "deeper"));
        File.WriteAllText(Path.Combine(rd, "a.txt"), "hi\n");
        var rnd = new Random(42);
        var big = new byte[200_000]; rnd.NextBytes(big);
        File.WriteAllBytes(Path.Combine(rd, "sub", "big.bin"), big);
        var small = new byte[3000]; rnd.NextBytes(small);
        File.WriteAllBytes(Path.Combine(rd, "sub", "deeper", "small"), small);
        File.CreateSymbolicLink(Path.Combine(rd, "link"), "a.txt");
        var r = RealTools.Run("ln", Path.Combine(rd, "a.txt"), Path.Combine(rd, "sub", "a_hard"));
        Assert.Equal(0, r.ExitCode);
        r = RealTools.Run("mkfifo", Path.Combine(rd, "fifo"));
        Assert.Equal(0, r.ExitCode);
        for (int i = 0; i < 30; i++) File.WriteAllText(Path.Combine(rd, "sub", $"file{i:D2}"), new string('x', i * 100));
        return rd;
    }

    public static string MkfsRootDir(TempDir tmp, string name = "rootdir.img")
    {
        var rd = MakeRootDir(tmp.Path);
        return RealTools.Mkfs(tmp.File(name), 256L << 20, "-m", "single", "-d", "single", "-R", "quota", "-r", rd);
    }

    private static void AssertClean(CheckReport report)
    {
        Assert.True(report.IsClean, string.Join("\n", report.Findings));
    }

    [RequiresBtrfsProgsTheory]
    [InlineData("single-quota", new[] { "-m", "single", "-d", "single", "-R", "quota" })]
    [InlineData("dup", new string[0])]
    [InlineData("nofst", new[] { "-R", "^free-space-tree" })]
    [InlineData("noholes-off", new[] { "-O", "^no-holes", "-m", "single", "-d", "single" })]
    public void FreshMkfsImageHasNoFindings(string name, string[] args)
    {
        using var tmp = new TempDir();
        var img = RealTools.Mkfs(tmp.File(name + ".img"), 256L << 20, args);
        AssertClean(Checker.Check(img));
    }

    [RequiresBtrfsProgsFact]
    public void RootDirImageWithLinksSymlinksAndFifoHasNoFindings()
    {
        using var tmp = new TempDir();
        var img = MkfsRootDir(tmp);
        Assert.Equal(0, RealTools.BtrfsCheck(img).ExitCode);
        var report = Checker.Check(img);
        AssertClean(report);
        var q = report.Qgroups;
        Assert.NotNull(q);
        Assert.All(q!.Counts, c => Assert.False(c.IsDifferent));
    }

    [RequiresBtrfsProgsFact]
    public void RootDirImageWithoutNoHolesHasNoFindings()
    {
        using var tmp = new TempDir();
        var rd = MakeRootDir(tmp.Path);
        var img = RealTools.Mkfs(tmp.File("holes.img"), 256L << 20, "-O", "^no-holes", "-r", rd);
        Assert.Equal(0, RealTools.BtrfsCheck(img).ExitCode);
        AssertClean(Checker.Check(img));
    }

    [RequiresFact(Need.BtrfsProgs, Need.RootLoopMount, Need.Attr)]
    public void KernelWrittenImageHasNoFindings()
    {
        var img = _kernel.QuotaImage;
        var progs = RealTools.BtrfsCheck(img);
        Assert.True(progs.ExitCode == 0, progs.All);
        var report = Checker.Check(img);
        AssertClean(report);
        // The tree walk really covered the subvolume and snapshot.
        using var fs = BtrfsLite.Images.BtrfsImage.Open(img);
        Assert.True(fs.TryGetRoot(256, out _));
        Assert.True(fs.TryGetRoot(257, out _));
    }
}
