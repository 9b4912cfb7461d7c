using BtrfsLite.Check;
using BtrfsLite.Format;
using BtrfsLite.Images;
using BtrfsLite.Trees;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Check;

/// <summary>
/// An image copied right after an fsync, while mounted: a crash-consistent copy with a log tree, whose primary
/// superblock (rewritten by the log commit) differs from the mirrors in the log fields only. btrfs check is clean on
/// it, and so must we be.
/// </summary>
public class CrashCopyTests
{
    /// <summary>Starts of the EXTENT_CSUM items in the log trees (the log root tree's ROOT_ITEMs name them).</summary>
    private static List<ulong> LogCsumStarts(BtrfsImage fs)
    {
        var c = fs.NewCursor();
        var roots = new List<TreeRoot>();
        if (c.First(new TreeRoot(ObjectIds.TreeLog, fs.Super.LogRoot, fs.Super.LogRootLevel, 0)))
            do
                if (c.Type == ItemType.RootItem) roots.Add(new TreeRoot(ObjectIds.TreeLog, new RootItem(c.Data).Bytenr, new RootItem(c.Data).Level, 0));
            while (c.Next());
        var starts = new List<ulong>();
        foreach (var root in roots)
            if (c.First(root))
                do
                    if (c.Type == ItemType.ExtentCsum) starts.Add(c.Key.Offset);
                while (c.Next());
        return starts;
    }

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
        {
            Assert.True(fs.Super.LogRoot != 0, "the copy should hold an unreplayed log tree (the fsync's)");
            // The case btrfs check accepts and a naive checker flags: csums of an extent only the log references.
            var logCsums = LogCsumStarts(fs);
            Assert.NotEmpty(logCsums);
            var c = fs.NewCursor();
            Assert.Contains(logCsums, start => !c.SeekPrefix(fs.GetRoot(ObjectIds.ExtentTree), start, ItemType.ExtentItem)
                                               || c.Key.ObjectId != start || c.Type != ItemType.ExtentItem);
        }
        var report = Checker.Check(copy);
        Assert.DoesNotContain(report.Findings, f => f.Code == FindingCode.SuperMirrorMismatch);
        Assert.True(report.IsClean, string.Join("\n", report.Findings.Take(10)));
        Assert.DoesNotContain(report.Notes, n => n.Contains("could not be read"));
        var progs = RealTools.BtrfsCheck(copy);
        Assert.True(progs.ExitCode == 0, progs.All);
    }
}
