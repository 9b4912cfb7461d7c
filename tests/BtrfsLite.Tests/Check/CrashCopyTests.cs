using BtrfsLite.Check;
using BtrfsLite.Fs;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Check;

/// <summary>
/// An image copied right after an fsync, while mounted: a crash-consistent copy with a log tree, whose primary
/// superblock (rewritten by the log commit) differs from the mirrors in the log fields only. btrfs check is clean on
/// it, and so must we be.
/// </summary>
public class CrashCopyTests
{
    [RequiresRootMountFact]
    public void ACopyTakenAfterAnFsyncChecksClean()
    {
        using var tmp = new TempDir();
        var img = RealTools.Mkfs(tmp.File("live.img"), 256L << 20);
        var copy = tmp.File("copy.img");
        KernelImages.WithMounted(img, $"""
            head -c 300000 /dev/urandom > committed
            sync
            sleep 1
            python3 -c "import os; f = os.open('committed', os.O_WRONLY | os.O_APPEND); os.write(f, b'z' * 5000); os.fsync(f); os.close(f)"
            python3 -c "import os; f = os.open('logged', os.O_CREAT | os.O_WRONLY); os.write(f, b'y' * 5000); os.fsync(f); os.close(f)"
            cp --sparse=always '{img}' '{copy}'
            """);
        using (var fs = BtrfsImage.Open(copy))
            Assert.True(fs.Super.LogRoot != 0, "the copy should hold an unreplayed log tree (the fsync's)");
        var report = Checker.Check(copy);
        Assert.DoesNotContain(report.Findings, f => f.Code == FindingCode.SuperMirrorMismatch);
        Assert.True(report.IsClean, string.Join("\n", report.Findings.Take(10)));
        var progs = RealTools.BtrfsCheck(copy);
        Assert.True(progs.ExitCode == 0, progs.All);
    }
}
