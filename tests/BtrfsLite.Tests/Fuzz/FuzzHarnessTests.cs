using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Fuzz;

/// <summary>
/// The afl++ harness (tools/BtrfsLite.Fuzz), bounded: every target replays the saved regression inputs
/// (tools/BtrfsLite.Fuzz/regressions/TARGET/) and 60 seeded random edit lists over a kernel-made image, without afl.
/// A run that ends in an exception the library does not promise fails (the harness prints CRASH and exits 1).
/// </summary>
public class FuzzHarnessTests
{
    private static string Repo => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."));
    private static string Harness => Path.Combine(Repo, "tools", "BtrfsLite.Fuzz", "bin", "Release", "net10.0", "btrfslite-fuzz.dll");

    [Theory]
    [InlineData("open")]
    [InlineData("check")]
    [InlineData("dump")]
    [InlineData("ls")]
    [InlineData("write")]
    [InlineData("workload")]
    public void TargetSurvivesSeededInputsAndSavedRegressions(string target)
    {
        Assert.True(File.Exists(Harness), $"the fuzz harness is not built: {Harness}");
        using var tmp = new TempDir();
        var files = new List<string>();
        var rng = new Random(target.GetHashCode(StringComparison.Ordinal) & 0xFFFF);
        for (int i = 0; i < 60; i++)
        {
            var f = tmp.File($"in-{i}");
            byte[] bytes;
            if (target == "workload")
            {
                var words = new[] { "size", "1G", "write", "a", "0", "4K", "limit", "excl", "0/5", "snapshot", "s", "ro", "-i", "1/1", "clone", "x", "#", ";", "zero", "K", "M", "999999999999999999999", "subvol", "create", "delete", "sync" };
                bytes = System.Text.Encoding.UTF8.GetBytes(string.Join(rng.Next(3) == 0 ? "\n" : " ", Enumerable.Range(0, rng.Next(1, 30)).Select(_ => words[rng.Next(words.Length)])));
            }
            else
            {
                bytes = new byte[8 * rng.Next(1, 6)];
                rng.NextBytes(bytes);
            }
            File.WriteAllBytes(f, bytes);
            files.Add(f);
        }
        var saved = Path.Combine(Repo, "tools", "BtrfsLite.Fuzz", "regressions", target);
        if (Directory.Exists(saved)) files.AddRange(Directory.GetFiles(saved));
        var args = new List<string> { Harness, "--run", target };
        if (target != "workload") args.Add(Path.Combine(Repo, "images", "kernel-small.img.gz"));
        args.AddRange(files);
        var r = RealTools.Run("dotnet", args.ToArray());
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Equal(files.Count, r.Stdout.Split('\n').Count(l => l.StartsWith("ok ", StringComparison.Ordinal)));
    }
}
