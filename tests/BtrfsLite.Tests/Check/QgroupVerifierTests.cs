using BtrfsLite.Check;
using BtrfsLite.Format;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Check;

[Collection(KernelImageCollection.Name)]
public class QgroupVerifierTests
{
    private readonly KernelImageFixture _kernel;
    public QgroupVerifierTests(KernelImageFixture kernel) => _kernel = kernel;

    /// <summary>The "Counts for qgroup id" block of a report (everything from its first line on).</summary>
    public static List<string> CountsBlock(string stdout)
    {
        var lines = stdout.Replace("\r", "").Split('\n').ToList();
        int i = lines.FindIndex(l => l.StartsWith("Counts for qgroup id", StringComparison.Ordinal) || l.StartsWith("Rescan hasn't", StringComparison.Ordinal) || l.StartsWith("Qgroup rescan", StringComparison.Ordinal));
        if (i < 0) return new List<string>();
        return lines.Skip(i).TakeWhile(l => l.StartsWith("Counts for", StringComparison.Ordinal) || l.StartsWith("our:", StringComparison.Ordinal)
            || l.StartsWith("disk:", StringComparison.Ordinal) || l.StartsWith("diff:", StringComparison.Ordinal)
            || l.StartsWith("Rescan hasn't", StringComparison.Ordinal) || l.StartsWith("Qgroup rescan", StringComparison.Ordinal)).ToList();
    }

    [RequiresFact(Need.BtrfsProgs, Need.RootLoopMount, Need.Attr)]
    public void KernelImageRecomputedNumbersEqualInfoItemsAndProgsAgrees()
    {
        var img = _kernel.QuotaImage;
        var progs = RealTools.BtrfsCheck(img, "--qgroup-report");
        var report = Checker.Check(img, new CheckOptions { QgroupReport = true });
        Assert.True(progs.ExitCode == 0, progs.All + string.Join("\n", report.Qgroups!.Counts));

        Assert.True(report.IsClean, string.Join("\n", report.Findings));
        var q = report.Qgroups!;
        var ids = q.Counts.Select(c => c.Id).ToList();
        Assert.Contains("0/5", ids);
        Assert.Contains("0/256", ids);
        Assert.Contains("0/257", ids);
        Assert.Contains("1/100", ids);
        Assert.Contains("1/200", ids);
        var table = string.Join("\n", q.Counts) + "\nprogs:\n" + progs.Stdout;
        foreach (var c in q.Counts)
        {
            Assert.True(c.DiskRfer == c.OurRfer, table);
            Assert.True(c.DiskExcl == c.OurExcl, table);
        }
        // Shared data is really there: 0/256 and its snapshot 0/257 share most of their data, so 1/100 (both)
        // owns it exclusively, except the 3 MiB extent reflinked from 0/5, which nobody owns.
        var sv = q.Counts.Single(c => c.Id == "0/256");
        var snap = q.Counts.Single(c => c.Id == "0/257");
        var grp = q.Counts.Single(c => c.Id == "1/100");
        var top = q.Counts.Single(c => c.Id == "0/5");
        Assert.True(sv.OurRfer > sv.OurExcl);
        Assert.True(grp.OurExcl > sv.OurExcl + snap.OurExcl);
        Assert.Equal(3UL << 20, grp.OurRfer - grp.OurExcl);
        Assert.True(top.OurRfer - top.OurExcl >= 3UL << 20);
        // And the verbose report is line for line what btrfs check --qgroup-report prints.
        Assert.Equal(CountsBlock(progs.Stdout), report.QgroupReport);
    }

    [RequiresBtrfsProgsFact]
    public void MkfsQuotaImageReportMatchesProgs()
    {
        using var tmp = new TempDir();
        var img = FsRootCheckTests.MkfsRootDir(tmp);
        var progs = RealTools.BtrfsCheck(img, "--qgroup-report");
        Assert.Equal(0, progs.ExitCode);
        var report = Checker.Check(img, new CheckOptions { QgroupReport = true });
        Assert.True(report.IsClean, string.Join("\n", report.Findings));
        Assert.Equal(CountsBlock(progs.Stdout), report.QgroupReport);
        Assert.Equal("Counts for qgroup id: 0/5 ", report.QgroupReport[0]); // trailing space, as progs prints it
    }

    [RequiresBtrfsProgsFact]
    public void NoQuotaTreeMeansNoQgroupResult()
    {
        using var tmp = new TempDir();
        var img = RealTools.Mkfs(tmp.File("noquota.img"), 256L << 20, "-m", "single", "-d", "single");
        var report = Checker.Check(img);
        Assert.Null(report.Qgroups);
        Assert.Empty(report.QgroupReport);
    }

    [RequiresBtrfsProgsFact]
    public void InconsistentStatusTurnsMismatchesIntoNotes()
    {
        using var tmp = new TempDir();
        var img = FsRootCheckTests.MkfsRootDir(tmp);
        using (var ed = new ImageEditor(img))
        {
            var info = ed.FindItem(ObjectIds.QuotaTree, k => k.Type == ItemType.QgroupInfo && k.Offset == 5);
            ed.EditItem(info.Leaf, info.Slot, d => { var i = new QgroupInfoItem(d); i.Rfer += 4096; });
            var st = ed.FindItem(ObjectIds.QuotaTree, k => k.Type == ItemType.QgroupStatus);
            ed.EditItem(st.Leaf, st.Slot, d => { var s = new QgroupStatusItem(d); s.Flags |= QgroupStatusFlags.Inconsistent; });
        }
        var report = Checker.Check(img);
        Assert.Equal(0, report.Count(FindingCode.QgroupReferencedMismatch));
        Assert.Contains(report.Notes, n => n.Contains("0/5") && n.Contains("inconsistent"));
        Assert.Contains("Rescan hasn't been initialzied, a difference in qgroup accounting is expected", report.QgroupReport);
        // progs agrees: a difference is printed but is not an error when the status says inconsistent.
        var progs = RealTools.BtrfsCheck(img);
        Assert.True(progs.ExitCode == 0, progs.All);
        Assert.Equal(CountsBlock(progs.Stdout), report.QgroupReport);
    }

    [RequiresBtrfsProgsFact]
    public void StatusGenerationMismatchIsANoteNotAnError()
    {
        using var tmp = new TempDir();
        var img = FsRootCheckTests.MkfsRootDir(tmp);
        using (var ed = new ImageEditor(img))
        {
            var st = ed.FindItem(ObjectIds.QuotaTree, k => k.Type == ItemType.QgroupStatus);
            ed.EditItem(st.Leaf, st.Slot, d => { var s = new QgroupStatusItem(d); s.Generation -= 1; });
        }
        var report = Checker.Check(img);
        Assert.True(report.IsClean, string.Join("\n", report.Findings));
        Assert.Contains(report.Notes, n => n.Contains("qgroup status generation"));
        // btrfs check 6.2 does not compare the status generation (btrfs-format.md 7.6); the kernel would mark the
        // qgroups inconsistent at mount. Both progs modes pass.
        Assert.Equal(0, RealTools.BtrfsCheck(img).ExitCode);
        Assert.Equal(0, RealTools.BtrfsCheck(img, "--qgroup-report").ExitCode);
    }
}
