using System.Diagnostics;
using BtrfsLite.Fs;
using BtrfsLite.Images;
using BtrfsLite.Tests.Support;
using static BtrfsLite.Tests.Mkfs.MkfsTestSupport;

namespace BtrfsLite.Tests.Mkfs;

public class MkfsCliTests
{
    private static RealTools.Result Mkfs(params string[] args) => CliProcess.Run(new[] { "mkfs" }.Concat(args).ToArray());

    /// <summary>Runs the CLI with extra environment variables (CliProcess.Run inherits ours).</summary>
    private static RealTools.Result MkfsWithEnv(IDictionary<string, string> env, params string[] args)
    {
        var psi = CliProcess.StartInfo();
        psi.ArgumentList.Add("mkfs");
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return new RealTools.Result(p.ExitCode, so.Result, se.Result);
    }

    private static void AssertCleanFailure(RealTools.Result r, string message)
    {
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("ERROR:", r.Stderr);
        Assert.Contains(message, r.Stderr);
        Assert.DoesNotContain("Unhandled exception", r.All);
        Assert.DoesNotContain("   at ", r.All);
    }

    [Fact]
    public void Creates_the_file_and_prints_a_summary()
    {
        using var tmp = new TempDir();
        var img = tmp.File("new.img");
        var r = Mkfs(img, "--size", "256M", "--label", "hello", "--quota", "--nodesize", "4K");
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Equal(256L << 20, new FileInfo(img).Length);
        Assert.Contains("Label:              hello", r.Stdout);
        Assert.Contains("Node size:          4096", r.Stdout);
        Assert.Contains("Sector size:        4096", r.Stdout);
        Assert.Contains("Filesystem size:    256.00MiB", r.Stdout);
        Assert.Matches(@"Metadata:\s+single\s+8\.00MiB", r.Stdout);
        Assert.Contains("Runtime features:   quota, free-space-tree", r.Stdout);
        using var fs = BtrfsImage.Open(img);
        Assert.Contains($"UUID:               {fs.Fsid}", r.Stdout);
        Assert.Equal("hello", fs.Super.Label);
        AssertOurCheckClean(img);
    }

    [Fact]
    public void Uuid_dup_and_no_free_space_tree_options_take_effect()
    {
        using var tmp = new TempDir();
        var img = tmp.File("o.img");
        var r = Mkfs(img, "--size", "128M", "--uuid", "12345678-1234-4234-8234-123456789abc", "--metadata", "dup", "--no-free-space-tree");
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Matches(@"Metadata:\s+DUP\s+32\.00MiB", r.Stdout);
        Assert.Contains("Runtime features:   none", r.Stdout);
        using var fs = BtrfsImage.Open(img);
        Assert.Equal(Guid.Parse("12345678-1234-4234-8234-123456789abc"), fs.Fsid);
        Assert.Equal(BtrfsLite.Format.CompatRoFlags.None, fs.Super.CompatRoFlags);
    }

    [Fact]
    public void Uses_the_existing_file_size_without_size()
    {
        using var tmp = new TempDir();
        var img = tmp.File("sized.img");
        using (var f = File.Create(img)) f.SetLength(300L << 20);
        var r = Mkfs(img);
        Assert.True(r.ExitCode == 0, r.All);
        using var fs = BtrfsImage.Open(img);
        Assert.Equal(300UL << 20, fs.Super.TotalBytes);
    }

    [Theory]
    [InlineData("12Q", "unknown suffix")]
    [InlineData("1.5G", "not a number")]
    [InlineData("64M", "minimum is 134217728")]
    public void Bad_or_too_small_size_fails_with_usage(string size, string message)
    {
        using var tmp = new TempDir();
        var img = tmp.File("x.img");
        var r = Mkfs(img, "--size", size);
        AssertCleanFailure(r, message);
        Assert.Equal(2, r.ExitCode);
        Assert.False(File.Exists(img));
    }

    [Fact]
    public void Missing_file_without_size_and_bad_options_fail()
    {
        using var tmp = new TempDir();
        AssertCleanFailure(Mkfs(tmp.File("none.img")), "give --size");
        AssertCleanFailure(Mkfs(tmp.File("a.img"), "--size", "128M", "--nodesize", "12K"), "nodesize");
        AssertCleanFailure(Mkfs(tmp.File("b.img"), "--size", "128M", "--sectorsize", "2K"), "sectorsize");
        AssertCleanFailure(Mkfs(tmp.File("c.img"), "--size", "128M", "--uuid", "nope"), "not a uuid");
        var r = Mkfs(tmp.File("d.img"), "--size", "128M", "--metadata", "raid1");
        Assert.Equal(2, r.ExitCode);
    }

    [Fact]
    public void Existing_btrfs_needs_force()
    {
        using var tmp = new TempDir();
        var img = tmp.File("e.img");
        Assert.Equal(0, Mkfs(img, "--size", "128M", "--label", "first").ExitCode);
        var before = Sha256(img);
        var r = Mkfs(img, "--size", "128M", "--label", "second");
        AssertCleanFailure(r, "already contains a btrfs filesystem");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal(before, Sha256(img));

        r = Mkfs(img, "--size", "128M", "--label", "second", "--force");
        Assert.True(r.ExitCode == 0, r.All);
        using var fs = BtrfsImage.Open(img);
        Assert.Equal("second", fs.Super.Label);
    }

    [Fact]
    public void Non_empty_file_needs_force_and_bad_options_leave_it_alone()
    {
        using var tmp = new TempDir();
        var img = tmp.File("data.img");
        var junk = new byte[256L << 20];
        junk[4096] = 0x42;
        File.WriteAllBytes(img, junk);
        AssertCleanFailure(Mkfs(img), "not empty");
        // --force with an invalid option must not truncate the file first.
        AssertCleanFailure(Mkfs(img, "--force", "--nodesize", "3K"), "nodesize");
        Assert.Equal(0x42, File.ReadAllBytes(img)[4096]);
        var r = Mkfs(img, "--force");
        Assert.True(r.ExitCode == 0, r.All);
        AssertOurCheckClean(img);
    }

    [Fact]
    public void Source_date_epoch_gives_byte_identical_images()
    {
        using var tmp = new TempDir();
        var env = new Dictionary<string, string> { ["SOURCE_DATE_EPOCH"] = "1700000000" };
        var a = tmp.File("a.img");
        var b = tmp.File("b.img");
        Assert.Equal(0, MkfsWithEnv(env, a, "--size", "256M", "--quota", "--label", "repro").ExitCode);
        Assert.Equal(0, MkfsWithEnv(env, b, "--size", "256M", "--quota", "--label", "repro").ExitCode);
        Assert.Equal(Sha256(a), Sha256(b));
        // --deterministic alone: uuids seeded, times 0.
        var c = tmp.File("c.img");
        var d = tmp.File("d.img");
        Assert.Equal(0, Mkfs(c, "--size", "128M", "--deterministic").ExitCode);
        Assert.Equal(0, Mkfs(d, "--size", "128M", "--deterministic").ExitCode);
        Assert.Equal(Sha256(c), Sha256(d));
        Assert.NotEqual(Sha256(a), Sha256(c));
        // Neither: random uuids.
        var e = tmp.File("e.img");
        var f = tmp.File("f.img");
        Assert.Equal(0, Mkfs(e, "--size", "128M").ExitCode);
        Assert.Equal(0, Mkfs(f, "--size", "128M").ExitCode);
        Assert.NotEqual(Sha256(e), Sha256(f));
    }

    [Fact]
    public void Malformed_source_date_epoch_is_a_usage_error()
    {
        using var tmp = new TempDir();
        var r = MkfsWithEnv(new Dictionary<string, string> { ["SOURCE_DATE_EPOCH"] = "yesterday" }, tmp.File("x.img"), "--size", "128M");
        AssertCleanFailure(r, "SOURCE_DATE_EPOCH");
    }
}
