using BtrfsLite.Check;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Fs;

/// <summary>
/// Dropping a snapshot whose blocks a later snapshot shares. The blocks the dropped tree owned must switch to full
/// backrefs (the kernel's drop): otherwise they stay keyed to a root that no longer exists.
/// </summary>
public class SnapshotDropTests
{
    /// <summary>
    /// images/corrupt/drop-shared-snapshot.img.gz: images/workloads/drop-shared-snapshot.wl (on a 128 MiB image)
    /// replayed by the code before the fix. Both checks must flag the same two blocks and the stale data backref.
    /// </summary>
    [Fact]
    public void TheCheckerFlagsWhatTheOldDropLeftBehind()
    {
        using var tmp = new TempDir();
        var img = GoldenImages.Extract("corrupt/drop-shared-snapshot", tmp);
        var report = Checker.Check(img);
        var owners = report.Findings.Where(f => f.Code == FindingCode.TreeBlockOwnerGone).Select(f => f.Bytenr).OrderBy(b => b).ToList();
        Assert.Equal(new ulong[] { 5406720, 5439488 }, owners);
        Assert.Contains(report.Findings, f => f.Code == FindingCode.BackrefRootGone && f.Message.Contains("EXTENT_DATA_REF root 256"));
        if (!RealTools.HasBtrfsProgs) return;
        var progs = RealTools.BtrfsCheck(img);
        Assert.NotEqual(0, progs.ExitCode);
        Assert.Contains("owner ref check failed [5406720 16384]", progs.All);
        Assert.Contains("owner ref check failed [5439488 16384]", progs.All);
        Assert.Contains("referencer count mismatch (root 256", progs.All);
    }

    /// <summary>The same workload through today's replay: both checks clean (the kernel agreement test runs it on Linux too).</summary>
    [Fact]
    public void ReplayOfTheDropLeavesACleanImage()
    {
        using var tmp = new TempDir();
        var img = tmp.File("drop.img");
        var r = CliProcess.Run("replay", img, Path.Combine(GoldenImages.Dir, "workloads", "drop-shared-snapshot.wl"));
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Equal("snap2\n", CliProcess.Run("ls", img, "/").Stdout.Split('\n').Where(l => l.StartsWith("snap")).Aggregate("", (a, l) => a + l + "\n"));
        WriterEndToEndTests.AssertClean(img, quota: false);
    }
}
