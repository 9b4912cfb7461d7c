using BtrfsLite.Check;
using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.Images;
using BtrfsLite.Qgroups;
using BtrfsLite.Transactions;
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

    [Fact]
    public void WriterExampleRuns()
    {
        using var tmp = new TempDir();
        var img = GoldenImages.Extract("mkfs-quota", tmp);
        var iso = tmp.File("big.iso");
        File.WriteAllBytes(iso, new byte[3 << 20]);

        using var fs = Filesystem.Open(img);
        fs.Mkdir("etc/app", parents: true);
        fs.Write("etc/app/config", 0, "key=value\n"u8);
        fs.CreateSubvolume("vol");
        fs.Snapshot("vol", "vol-snap", readOnly: true);
        using (var data = File.OpenRead(iso)) fs.WriteFrom("big.iso", 0, data);

        using (var tx = fs.Image.BeginTransaction())
        {
            var t = fs.TreeOf(tx, ObjectIds.FsTree);
            ulong ino = t.CreateFile(FsTree.RootDirIno, "a"u8);
            t.Write(ino, 0, new byte[5000]);
            tx.Commit();
        }
        Assert.Equal(5000UL, fs.Stat("a").Size);
        Assert.Equal(3UL << 20, fs.Stat("big.iso").Size);
        var report = Checker.Check(fs.Image);
        Assert.True(report.IsClean, string.Join("\n", report.Findings.Take(10)));
    }
}
