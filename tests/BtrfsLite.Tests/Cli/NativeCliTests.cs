using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Cli;

/// <summary>
/// The native btrfslite (NativeAOT: one executable, no runtime, no JIT) built once from a copy of the sources, then
/// run side by side with the JIT build over the same commands: every exit code, stdout and stderr must be the
/// same, so trimming and AOT have changed nothing a user sees (help, errors, text and JSON dumps, check, qgroups,
/// changing commands, replay).
/// </summary>
public sealed class NativeBuild : IDisposable
{
    private readonly TempDir _tmp = new();
    public string? Exe { get; }
    public string? Failure { get; }

    public NativeBuild()
    {
        if (NativeToolchain.WhyNot() != null) return;
        var src = RepoFiles.CopySources(_tmp.File("src"));
        var outDir = _tmp.File("native");
        var r = RealTools.Run("dotnet", "publish", Path.Combine(src, "src/BtrfsLite.Cli"), "-c", "Release", "-r", "linux-x64",
            "-p:PublishAot=true", "-o", outDir, "-nologo");
        if (r.ExitCode != 0 || !File.Exists(Path.Combine(outDir, "btrfslite"))) { Failure = r.All; return; }
        // No trimming or AOT warnings: the publish output must be clean.
        var warnings = r.Stdout.Split('\n').Where(l => l.Contains("warning ")).ToList();
        if (warnings.Count > 0) { Failure = "publish warnings:\n" + string.Join("\n", warnings); return; }
        Exe = Path.Combine(outDir, "btrfslite");
    }

    public void Dispose() => _tmp.Dispose();
}

/// <summary>clang and zlib (NativeAOT links with them), or why not.</summary>
public static class NativeToolchain
{
    public static string? WhyNot() =>
        !OperatingSystem.IsLinux() ? "NativeAOT here is linux-x64 only"
        : RealTools.Which("clang") == null ? "clang not installed (apt-get install clang zlib1g-dev)"
        : !File.Exists("/usr/include/zlib.h") ? "zlib headers not installed (apt-get install zlib1g-dev)"
        : null;
}

public sealed class RequiresNativeToolchainFactAttribute : FactAttribute
{
    public RequiresNativeToolchainFactAttribute()
    {
        if (Needs.WhyNot(Need.NativeToolchain, Need.BtrfsProgs) is string why) Skip = why;
    }
}

public class NativeCliTests(NativeBuild native) : IClassFixture<NativeBuild>
{
    private void Same(params string[] args)
    {
        Assert.True(native.Exe != null, "the native build failed: " + native.Failure);
        var jit = CliProcess.Run(args);
        var aot = RealTools.Run(native.Exe!, args);
        string what = "btrfslite " + string.Join(' ', args);
        Assert.True(jit.ExitCode == aot.ExitCode, $"{what}: exit {jit.ExitCode} (JIT) vs {aot.ExitCode} (native)\n{aot.Stderr}");
        Assert.Equal(jit.Stdout, aot.Stdout);
        Assert.Equal(jit.Stderr, aot.Stderr);
    }

    [RequiresNativeToolchainFact]
    public void NativeAndJitBuildsAgreeOnEveryCommandKind()
    {
        using var tmp = new TempDir();
        var rich = GoldenImages.Extract("kernel-rich", tmp);
        // The version, up to the commit id (the copied sources have no git history to take it from).
        Assert.Equal(CliProcess.Run("--version").Stdout.Split('+')[0].Trim(), RealTools.Run(native.Exe!, "--version").Stdout.Split('+')[0].Trim());
        Same();
        Same("help", "qgroup", "show");
        Same("write");
        Same("nosuch");
        foreach (var a in new[]
                 {
                     new[] { "check", rich }, new[] { "check", "--qgroup-report", rich }, new[] { "ls", rich, "/", "-l" },
                     new[] { "dump-super", "-f", rich }, new[] { "dump-super", "--format", "json", "-a", rich },
                     new[] { "dump-tree", rich }, new[] { "dump-tree", "--format", "json", rich, "-t", "fs" },
                     new[] { "qgroup", "show", "-pcre", "--raw", rich }, new[] { "subvolume", "list", rich },
                     new[] { "cat", rich, "no/such" }, new[] { "ls", tmp.Path },
                 })
            Same(a);

        // The same changes on two copies of one fresh image: outputs and then the images' checks and files agree.
        var baseImg = tmp.File("base.img");
        Assert.Equal(0, CliProcess.Run("mkfs", baseImg, "--size", "256M", "--quota", "--uuid", "1b7f00aa-0000-4000-8000-0000000000aa").ExitCode);
        var workload = Path.Combine(RepoFiles.Root, "images", "workloads", "snapshot-inherit.wl");
        foreach (var (img, run) in new (string, Func<string[], RealTools.Result>)[]
                 {
                     (tmp.File("jit.img"), a => CliProcess.Run(a)), (tmp.File("aot.img"), a => RealTools.Run(native.Exe!, a)),
                 })
        {
            File.Copy(baseImg, img);
            foreach (var a in new[]
                     {
                         new[] { "mkdir", img, "d/e", "-p" }, new[] { "write", img, "d/f", "--length", "300K", "--pattern", "9" },
                         new[] { "subvolume", "create", img, "sv" }, new[] { "qgroup", "create", "1/5", img },
                         new[] { "subvolume", "snapshot", img, "sv", "sn", "-i", "1/5" }, new[] { "qgroup", "limit", "1M", "0/256", img },
                         new[] { "write", img, "sv/big", "--length", "2M" },
                     })
            {
                var r = run(a);
                Assert.True(r.ExitCode is 0 or 1, string.Join(' ', a) + ": " + r.All);
            }
        }
        foreach (var sub in new[] { new[] { "check", "--qgroup-report" }, new[] { "qgroup", "show", "-pcre", "--raw" } })
        {
            var j = CliProcess.Run(sub.Append(tmp.File("jit.img")).ToArray());
            var n = RealTools.Run(native.Exe!, sub.Append(tmp.File("aot.img")).ToArray());
            Assert.Equal(j.ExitCode, n.ExitCode);
            Assert.Equal(j.Stdout.Replace("jit.img", "IMG"), n.Stdout.Replace("aot.img", "IMG"));
        }
        Assert.Equal(CliProcess.Run("cat", tmp.File("jit.img"), "d/f").Stdout, RealTools.Run(native.Exe!, "cat", tmp.File("aot.img"), "d/f").Stdout);
        var j2 = CliProcess.Run("replay", tmp.File("jit-replay.img"), workload, "--format", "json");
        var n2 = RealTools.Run(native.Exe!, "replay", tmp.File("aot-replay.img"), workload, "--format", "json");
        Assert.Equal(0, j2.ExitCode);
        Assert.Equal(j2.ExitCode, n2.ExitCode);
        Assert.Equal(j2.Stdout.Replace("jit-replay.img", "IMG"), n2.Stdout.Replace("aot-replay.img", "IMG"));
    }
}
