using BtrfsLite.Check;
using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.Qgroups;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Cli;

/// <summary>The README's library example, as written there, on a golden image.</summary>
public class ReadmeExampleTests
{
    [Fact]
    public void LibraryExampleRuns()
    {
        using var tmp = new TempDir();
        var img = GoldenImages.Extract("kernel-small", tmp);

        using var fs = BtrfsImage.Open(img);
        var cur = fs.NewCursor();
        Assert.True(cur.Find(fs.GetRoot(ObjectIds.FsTree), new Key(256, ItemType.InodeItem, 0)));
        Assert.True(new InodeItem(cur.Data).IsDir);

        var report = Checker.Check(img, new CheckOptions { QgroupReport = true });
        Assert.True(report.IsClean);
        var quota = QgroupTree.Read(fs)!;
        Assert.Equal(36864UL, quota.Find(QgroupId.ForSubvolume(5))!.Exclusive); // images/kernel-small.qgroups.txt

        var q = new QgroupReservations(QgroupReservationMode.Default);
        q.CreateQgroup(5);
        q.SetLimit(5, QgroupLimitFlags.MaxExcl, 0, 16 << 20);
        var r = q.ReserveData(root: 5, inode: 257, start: 0, len: 2 << 20);
        Assert.Equal(2UL << 20, r.Bytes);
        var rec = q.ReleaseData(5, 257, 0, 2 << 20);
        Assert.Equal(2UL << 20, q.GetCounters(5).RsvData); // still charged until accounting
        q.FreeRecord(rec);
        Assert.Equal(0UL, q.GetCounters(5).RsvData);
    }
}
