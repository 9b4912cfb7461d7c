using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.Images;
using BtrfsLite.Qgroups;
using BtrfsLite.Tests.Fs;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Quota;

/// <summary>
/// <see cref="QuotaAdmin"/> on images made by our mkfs (without quotas) and by mkfs.btrfs: every result is judged by our
/// check and by btrfs check (plain and --qgroup-report), and by what the quota tree holds afterwards.
/// </summary>
public class QuotaAdminTests
{
    private static readonly ulong Q5 = QgroupId.ForSubvolume(5), Q256 = QgroupId.ForSubvolume(256), Q257 = QgroupId.ForSubvolume(257);
    private static readonly ulong Q1_100 = QgroupId.Make(1, 100), Q2_1 = QgroupId.Make(2, 1);

    /// <summary>Files in the top level, a subvolume with data, and a snapshot of it (shared extents).</summary>
    internal static string Populated(TempDir tmp, string name = "p.img", bool quota = false)
    {
        var img = WriterEndToEndTests.NewImage(tmp, name, quota: quota);
        using var fs = Filesystem.Open(img);
        fs.Mkdir("d");
        var data = new byte[3 << 20];
        new Random(7).NextBytes(data);
        fs.Write("d/big", 0, data);
        for (int i = 0; i < 40; i++) fs.Write($"d/small{i}", 0, new byte[5000 + i]);
        fs.CreateSubvolume("sv");
        fs.Write("sv/x", 0, data.AsSpan(0, 1 << 20));
        fs.Snapshot("sv", "snap");
        fs.Write("snap/y", 0, new byte[70000]);
        return img;
    }

    private static QuotaState State(string img)
    {
        using var image = BtrfsImage.Open(img);
        return QgroupTree.Read(image) ?? throw new Xunit.Sdk.XunitException("quotas are not enabled");
    }

    [Fact]
    public void EnableOnOurMkfsWithoutQuotaCountsEverySubvolumeAtTheSameCommit()
    {
        using var tmp = new TempDir();
        var img = Populated(tmp);
        using (var fs = Filesystem.Open(img))
        {
            Assert.Null(QgroupTree.Read(fs.Image));
            fs.Run(tx =>
            {
                QuotaAdmin.Enable(tx);
                var inTx = QuotaAdmin.Read(tx)!;
                Assert.Equal(new[] { Q5, Q256, Q257 }, inTx.Qgroups.Select(q => q.QgroupId));
                Assert.All(inTx.Qgroups, q => Assert.Equal(0UL, q.Referenced)); // filled by the commit hook
            });
        }
        var s = State(img);
        Assert.Equal(QgroupStatusFlags.On, s.Status);
        Assert.Equal(new[] { Q5, Q256, Q257 }, s.Qgroups.Select(q => q.QgroupId));
        // The hook ran although the quota tree was born in this transaction: real numbers, shared data not exclusive.
        Assert.True(s.Find(Q5)!.Referenced > 3UL << 20);
        Assert.True(s.Find(Q256)!.Referenced > 1UL << 20);
        Assert.True(s.Find(Q256)!.Exclusive < s.Find(Q256)!.Referenced);
        WriterEndToEndTests.AssertClean(img, quota: true);
    }

    [Fact]
    public void EnableTwiceAndDisableTwiceAreNoOpsThatLeaveTheImageAlone()
    {
        using var tmp = new TempDir();
        var img = Populated(tmp);
        var pristine = File.ReadAllBytes(img);
        using (var fs = Filesystem.Open(img)) fs.Run(QuotaAdmin.Disable);
        Assert.Equal(pristine, File.ReadAllBytes(img));
        using (var fs = Filesystem.Open(img)) fs.Run(QuotaAdmin.Enable);
        var enabled = State(img);
        // With quotas on every commit stamps the status generation, so the image gets a new generation; the quota
        // state stays what it was.
        using (var fs = Filesystem.Open(img)) fs.Run(QuotaAdmin.Enable);
        var again = State(img);
        Assert.Equal(enabled.Status, again.Status);
        Assert.Equal(enabled.Qgroups, again.Qgroups, (a, b) => a.QgroupId == b.QgroupId && a.Referenced == b.Referenced && a.Exclusive == b.Exclusive);
        WriterEndToEndTests.AssertClean(img, quota: true);
    }

    [Fact]
    public void DisableRemovesTheQuotaTreeAndFreesItsBlocks()
    {
        using var tmp = new TempDir();
        var img = Populated(tmp, quota: true);
        using (var fs = Filesystem.Open(img))
        {
            fs.Run(tx => { QuotaAdmin.CreateQgroup(tx, Q1_100); QuotaAdmin.Assign(tx, Q256, Q1_100); QuotaAdmin.Limit(tx, Q1_100, false, 1 << 30); });
            fs.Run(QuotaAdmin.Disable);
            // The same handle forgets the tree at once (no stale root), and can enable again.
            Assert.False(fs.Image.TryGetRoot(ObjectIds.QuotaTree, out _));
            Assert.Null(QgroupTree.Read(fs.Image));
            Assert.Throws<FsException>(() => fs.Run(tx => QuotaAdmin.CreateQgroup(tx, Q1_100)));
        }
        using (var image = BtrfsImage.Open(img)) Assert.False(image.TryGetRoot(ObjectIds.QuotaTree, out _));
        WriterEndToEndTests.AssertClean(img, quota: false);
        if (RealTools.HasBtrfsProgs)
        {
            var dump = RealTools.Run("btrfs", "inspect-internal", "dump-tree", "-t", "root", img);
            Assert.DoesNotContain("QUOTA_TREE", dump.Stdout);
        }
        using (var fs = Filesystem.Open(img)) fs.Run(QuotaAdmin.Enable);
        Assert.Equal(new[] { Q5, Q256, Q257 }, State(img).Qgroups.Select(q => q.QgroupId));
        WriterEndToEndTests.AssertClean(img, quota: true);
    }

    [Fact]
    public void ChangesAndDisableInOneTransactionLeaveNoBlockBehind()
    {
        using var tmp = new TempDir();
        var img = Populated(tmp, quota: true);
        using (var fs = Filesystem.Open(img))
        {
            // The quota root is CoWed (dirty) when dropped: it and its old copy must both be freed.
            fs.Run(tx => { QuotaAdmin.CreateQgroup(tx, Q1_100); QuotaAdmin.Disable(tx); });
            // A tree created and dropped in the same transaction.
            fs.Run(tx => { QuotaAdmin.Enable(tx); QuotaAdmin.Disable(tx); });
            Assert.Null(QgroupTree.Read(fs.Image));
        }
        WriterEndToEndTests.AssertClean(img, quota: false);
    }

    [Fact]
    public void CreateAssignLimitRemoveDestroyKeepTheImageClean()
    {
        using var tmp = new TempDir();
        var img = Populated(tmp, quota: true);
        using (var fs = Filesystem.Open(img))
        {
            fs.Run(tx =>
            {
                QuotaAdmin.CreateQgroup(tx, Q1_100);
                QuotaAdmin.CreateQgroup(tx, Q2_1);
                QuotaAdmin.Assign(tx, Q1_100, Q2_1);
                QuotaAdmin.Assign(tx, Q256, Q1_100);
                QuotaAdmin.Assign(tx, Q257, Q1_100);
                QuotaAdmin.Limit(tx, Q256, exclusive: false, 10 << 20);
                QuotaAdmin.Limit(tx, Q1_100, exclusive: true, 50 << 20);
            });
        }
        var s = State(img);
        var g = s.Find(Q1_100)!;
        Assert.Equal(new[] { Q2_1 }, g.Parents);
        Assert.Equal(new[] { Q1_100 }, s.Find(Q256)!.Parents);
        Assert.Equal(QgroupLimitFlags.MaxExcl, g.LimitFlags);
        Assert.Equal(50UL << 20, g.MaxExclusive);
        Assert.Equal(QgroupLimitFlags.MaxRfer, s.Find(Q256)!.LimitFlags);
        Assert.Equal(10UL << 20, s.Find(Q256)!.MaxReferenced);
        // The group holds both sharers: what they share counts once, and it owns all of it.
        Assert.Equal(g.Referenced, g.Exclusive);
        Assert.True(g.Referenced < s.Find(Q256)!.Referenced + s.Find(Q257)!.Referenced);
        Assert.Equal(g.Referenced, s.Find(Q2_1)!.Referenced);
        WriterEndToEndTests.AssertClean(img, quota: true);

        using (var fs = Filesystem.Open(img))
        {
            fs.Run(tx =>
            {
                QuotaAdmin.Limit(tx, Q256, exclusive: false, null);
                QuotaAdmin.Remove(tx, Q257, Q1_100);
                QuotaAdmin.Remove(tx, Q256, Q1_100);
            });
            fs.Run(tx => QuotaAdmin.DestroyQgroup(tx, Q1_100)); // its relation to 2/1 goes with it
        }
        s = State(img);
        Assert.Null(s.Find(Q1_100));
        Assert.Equal(QgroupLimitFlags.None, s.Find(Q256)!.LimitFlags);
        Assert.Equal(0UL, s.Find(Q256)!.MaxReferenced);
        Assert.Empty(s.Find(Q256)!.Parents);
        Assert.Equal(0UL, s.Find(Q2_1)!.Referenced);
        WriterEndToEndTests.AssertClean(img, quota: true);
        using (var fs = Filesystem.Open(img)) fs.Run(tx => QuotaAdmin.DestroyQgroup(tx, Q2_1));
        Assert.Equal(new[] { Q5, Q256, Q257 }, State(img).Qgroups.Select(q => q.QgroupId));
        WriterEndToEndTests.AssertClean(img, quota: true);
    }

    [Fact]
    public void AssignUpdatesParentsAtOnceWhenTheMemberOwnsAllItReferencesElseMarksInconsistent()
    {
        using var tmp = new TempDir();
        var img = Populated(tmp, quota: true);
        var before = State(img);
        ulong top = before.Find(Q5)!.Exclusive;
        using (var fs = Filesystem.Open(img))
        fs.Run(tx =>
        {
            QuotaAdmin.CreateQgroup(tx, Q1_100);
            QuotaAdmin.CreateQgroup(tx, Q2_1);
            QuotaAdmin.Assign(tx, Q1_100, Q2_1);
            QuotaAdmin.Assign(tx, Q5, Q1_100); // 0/5 shares nothing: rfer == excl, quick update of 1/100 and 2/1
            var s = QuotaAdmin.Read(tx)!;
            Assert.Equal(QgroupStatusFlags.On, s.Status);
            Assert.Equal((top, top), (s.Find(Q1_100)!.Referenced, s.Find(Q1_100)!.Exclusive));
            Assert.Equal((top, top), (s.Find(Q2_1)!.Referenced, s.Find(Q2_1)!.Exclusive));
            QuotaAdmin.Assign(tx, Q256, Q1_100); // shares with 0/257: no quick update
            Assert.True((QuotaAdmin.Read(tx)!.Status & QgroupStatusFlags.Inconsistent) != 0);
        });
        Assert.True((State(img).Status & QgroupStatusFlags.Inconsistent) != 0);
        WriterEndToEndTests.AssertClean(img, quota: true);
        using (var fs = Filesystem.Open(img)) fs.Run(QuotaAdmin.Rescan);
        Assert.Equal(QgroupStatusFlags.On, State(img).Status);
        WriterEndToEndTests.AssertClean(img, quota: true);
    }

    public static TheoryData<string> Refusals => new()
    {
        "create-exists", "create-0/5", "create-level-0", "destroy-missing", "destroy-has-members", "destroy-0/5", "destroy-subvolume",
        "assign-missing-child", "assign-missing-parent", "assign-exists", "assign-levels", "assign-same-level",
        "remove-missing", "remove-levels", "limit-missing",
    };

    [Theory, MemberData(nameof(Refusals))]
    public void RefusalsCarryTheErrnoAndChangeNothing(string what)
    {
        using var tmp = new TempDir();
        var img = Populated(tmp, quota: true);
        using (var fs = Filesystem.Open(img))
            fs.Run(tx => { QuotaAdmin.CreateQgroup(tx, Q1_100); QuotaAdmin.Assign(tx, Q257, Q1_100); QuotaAdmin.Rescan(tx); });
        var pristine = File.ReadAllBytes(img);
        var (errno, op) = what switch
        {
            "create-exists" => ("EEXIST", (Action<Transactions.Transaction>)(tx => QuotaAdmin.CreateQgroup(tx, Q1_100))),
            "create-0/5" => ("EINVAL", tx => QuotaAdmin.CreateQgroup(tx, Q5)), // measured on Linux 6.18.44
            "create-level-0" => ("EINVAL", tx => QuotaAdmin.CreateQgroup(tx, QgroupId.ForSubvolume(300))),
            "destroy-missing" => ("ENOENT", tx => QuotaAdmin.DestroyQgroup(tx, QgroupId.Make(1, 7))),
            "destroy-has-members" => ("EBUSY", tx => QuotaAdmin.DestroyQgroup(tx, Q1_100)),
            "destroy-0/5" => ("EBUSY", tx => QuotaAdmin.DestroyQgroup(tx, Q5)),
            "destroy-subvolume" => ("EBUSY", tx => QuotaAdmin.DestroyQgroup(tx, Q256)),
            "assign-missing-child" => ("EINVAL", tx => QuotaAdmin.Assign(tx, QgroupId.ForSubvolume(999), Q1_100)),
            "assign-missing-parent" => ("EINVAL", tx => QuotaAdmin.Assign(tx, Q256, QgroupId.Make(1, 7))),
            "assign-exists" => ("EEXIST", tx => QuotaAdmin.Assign(tx, Q257, Q1_100)),
            "assign-levels" => ("EINVAL", tx => QuotaAdmin.Assign(tx, Q1_100, Q256)),
            "assign-same-level" => ("EINVAL", tx => QuotaAdmin.Assign(tx, Q256, Q257)),
            "remove-missing" => ("ENOENT", tx => QuotaAdmin.Remove(tx, Q256, Q1_100)),
            "remove-levels" => ("EINVAL", tx => QuotaAdmin.Remove(tx, Q1_100, Q257)),
            "limit-missing" => ("ENOENT", tx => QuotaAdmin.Limit(tx, QgroupId.Make(1, 7), true, 1 << 20)),
            _ => throw new ArgumentException(what),
        };
        using (var fs = Filesystem.Open(img))
        {
            var ex = Assert.Throws<FsException>(() => fs.Run(op));
            Assert.Equal(errno, ex.Errno);
            // The handle goes on after the aborted transaction.
            Assert.NotNull(fs.ReadOnly(QuotaAdmin.Read)!.Find(Q1_100));
        }
        Assert.Equal(pristine, File.ReadAllBytes(img));
    }

    [Fact]
    public void EveryOperationButEnableNeedsQuotas()
    {
        using var tmp = new TempDir();
        var img = Populated(tmp, quota: false);
        var pristine = File.ReadAllBytes(img);
        var ops = new Action<Transactions.Transaction>[]
        {
            QuotaAdmin.Rescan,
            tx => QuotaAdmin.CreateQgroup(tx, Q1_100),
            tx => QuotaAdmin.DestroyQgroup(tx, Q256),
            tx => QuotaAdmin.Assign(tx, Q256, Q1_100),
            tx => QuotaAdmin.Remove(tx, Q256, Q1_100),
            tx => QuotaAdmin.Limit(tx, Q5, false, 1 << 20),
        };
        using (var fs = Filesystem.Open(img))
        {
            foreach (var op in ops) Assert.Equal("ENOTCONN", Assert.Throws<FsException>(() => fs.Run(op)).Errno);
            Assert.Null(fs.ReadOnly(QuotaAdmin.Read));
        }
        Assert.Equal(pristine, File.ReadAllBytes(img));
    }

    [Fact]
    public void DestroyingTheQgroupOfADeletedSubvolumeIsAllowed()
    {
        using var tmp = new TempDir();
        var img = Populated(tmp, quota: true);
        using (var fs = Filesystem.Open(img))
        {
            fs.Run(tx => QuotaAdmin.CreateQgroup(tx, Q1_100));
            // A stale level-0 qgroup (no subvolume), member of 1/100: its items made directly, as `qgroup create` of
            // a level-0 id is EINVAL (as in the kernel).
            fs.Run(tx => { BtrfsLite.Fs.Quota.CreateQgroupItems(tx, QgroupId.ForSubvolume(300)); QuotaAdmin.Assign(tx, QgroupId.ForSubvolume(300), Q1_100); });
            fs.Run(tx => QuotaAdmin.DestroyQgroup(tx, QgroupId.ForSubvolume(300)));
        }
        var s = State(img);
        Assert.Null(s.Find(QgroupId.ForSubvolume(300)));
        Assert.DoesNotContain(s.Qgroups, q => q.Parents.Contains(QgroupId.ForSubvolume(300)));
        WriterEndToEndTests.AssertClean(img, quota: true);
    }

    [RequiresBtrfsProgsFact]
    public void EnableOnAnImageMadeByMkfsBtrfsWithRootdir()
    {
        using var tmp = new TempDir();
        var src = Directory.CreateDirectory(tmp.File("src")).FullName;
        Directory.CreateDirectory(Path.Combine(src, "a/b"));
        for (int i = 0; i < 300; i++) File.WriteAllBytes(Path.Combine(src, $"a/f{i}"), new byte[i * 37]);
        var big = new byte[5 << 20];
        new Random(3).NextBytes(big);
        File.WriteAllBytes(Path.Combine(src, "a/b/big"), big);
        var img = RealTools.Mkfs(tmp.File("m.img"), 256L << 20, "--rootdir", src);
        using (var fs = Filesystem.Open(img)) fs.Run(QuotaAdmin.Enable);
        var s = State(img);
        Assert.Equal(new[] { Q5 }, s.Qgroups.Select(q => q.QgroupId));
        Assert.True(s.Find(Q5)!.Referenced > 5UL << 20);
        WriterEndToEndTests.AssertClean(img, quota: true);
    }
}
