using System.Diagnostics;
using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.Images;
using BtrfsLite.Qgroups;
using BtrfsLite.Tests.Fs;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Quota;

/// <summary>
/// Qgroup accounting per changed extent: what a commit reads, the cases that change extents' subvolumes without
/// changing their references (snapshots, drops), and the verifier that compares it with a full recomputation.
/// (Every other test runs with the verifier on as well: Support/VerifyAccountingEverywhere.cs.)
/// </summary>
public class ExtentAccountingTests
{
    private static readonly ulong Q5 = QgroupId.ForSubvolume(5);

    private static Filesystem OpenUnverified(string img) =>
        new(BtrfsImage.Open(img, new BtrfsImage.OpenOptions(Writable: true) { VerifyAccounting = false }));

    /// <summary>Tree blocks read by one 4 KiB write and its commit.</summary>
    private static long ReadsOfOneWrite(string img, string name)
    {
        using var fs = OpenUnverified(img);
        long before = fs.Image.Nodes.Reads;
        fs.Write(name, 0, new byte[4096]);
        return fs.Image.Nodes.Reads - before;
    }

    [Fact]
    public void ACommitReadsWhatItsChangedExtentsNeedNotTheWholeFileSystem()
    {
        using var tmp = new TempDir();
        var img = WriterEndToEndTests.NewImage(tmp, "big.img", size: 512L << 20);
        using (var s = FsSession.Open(img))
        {
            for (int d = 0; d < 10; d++)
            {
                s.Mkdir($"d{d}");
                for (int f = 0; f < 300; f++) s.Write($"d{d}/f{f:D3}", 0, new byte[100 + f]);
            }
            s.Sync();
        }
        int fsTreeBlocks;
        using (var image = BtrfsImage.Open(img))
        {
            var (blocks, _) = QgroupAccounting.WalkRoots(image.Nodes, [image.GetRoot(ObjectIds.FsTree)]);
            fsTreeBlocks = blocks.Count;
        }
        Assert.True(fsTreeBlocks > 100, $"only {fsTreeBlocks} blocks in the FS tree");
        var off = tmp.File("off.img");
        File.Copy(img, off);
        using (var fs = Filesystem.Open(off)) fs.Run(QuotaAdmin.Disable);

        long withQuota = ReadsOfOneWrite(img, "d5/new"), without = ReadsOfOneWrite(off, "d5/new");
        // A recomputation reads every block of every subvolume tree; the accounting of one changed path reads that
        // path's extent items and parents again, a few dozen blocks.
        Assert.True(withQuota - without < fsTreeBlocks / 4,
            $"one write read {withQuota} blocks with quotas on, {without} without; the FS tree has {fsTreeBlocks}");
        WriterEndToEndTests.AssertClean(img, quota: true);
    }

    [Fact]
    public void TheVerifierFailsACommitWhoseNumbersDifferFromARecomputationAndLeavesTheImageAsItWas()
    {
        using var tmp = new TempDir();
        var img = WriterEndToEndTests.NewImage(tmp);
        using (var fs = Filesystem.Open(img)) fs.Write("f", 0, new byte[20000]);
        // Numbers that are off while the status says consistent (as after a bug): 0/5 referenced one sector high.
        using (var ed = new ImageEditor(img))
        {
            var (leaf, slot, _) = ed.FindItem(ObjectIds.QuotaTree, k => k.Type == ItemType.QgroupInfo && k.Offset == Q5);
            ed.EditItem(leaf, slot, d => new QgroupInfoItem(d).Rfer += 4096);
        }
        var before = File.ReadAllBytes(img);

        using (var fs = new Filesystem(BtrfsImage.Open(img, new BtrfsImage.OpenOptions(Writable: true) { VerifyAccounting = true })))
        {
            var ex = Assert.Throws<QgroupAccountingMismatchException>(() => fs.Write("g", 0, new byte[8192]));
            Assert.Contains("0/5 referenced", ex.Message);
        }
        Assert.Equal(before, File.ReadAllBytes(img));

        // The command line: exit 6 (internal), the message, nothing committed. Without the flag or the environment
        // variable the commit goes through and the stale number moves by the new extent, as the kernel's would.
        var psi = CliProcess.StartInfo();
        psi.Environment.Remove("BTRFSLITE_VERIFY_ACCOUNTING");
        foreach (var a in new[] { "--verify-accounting", "write", img, "g", "--length", "8192" }) psi.ArgumentList.Add(a);
        using (var p = Process.Start(psi)!)
        {
            var err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.Equal(6, p.ExitCode);
            Assert.Contains("ERROR: internal: qgroup accounting of generation", err);
        }
        Assert.Equal(before, File.ReadAllBytes(img));

        ulong rferBefore;
        using (var image = BtrfsImage.Open(img)) rferBefore = QgroupTree.Read(image)!.Find(Q5)!.Referenced;
        using (var fs = OpenUnverified(img)) fs.Write("g", 0, new byte[8192]);
        using (var image = BtrfsImage.Open(img))
        {
            var q = QgroupTree.Read(image)!.Find(Q5)!;
            var full = QgroupAccounting.Rescan(image.Nodes, image.NodeSize, [image.GetRoot(ObjectIds.FsTree)], [Q5], new Dictionary<ulong, List<ulong>>());
            Assert.Equal(full[Q5].Rfer + 4096, q.Referenced);
            Assert.True(q.Referenced > rferBefore);
        }
    }

    /// <summary>
    /// Fuzzer seed 38: a subvolume joins a parent qgroup and is deleted in the same transaction. Its extents leave the
    /// parent it had when it went (a relation the last commit did not have), as the kernel's drop accounts them.
    /// </summary>
    [Fact]
    public void ADroppedSubvolumeLeavesTheParentsItJoinedInTheSameTransaction()
    {
        using var tmp = new TempDir();
        var img = WriterEndToEndTests.NewImage(tmp);
        using (var s = new FsSession(new Filesystem(BtrfsImage.Open(img, new BtrfsImage.OpenOptions(Writable: true) { VerifyAccounting = true }))))
        {
            s.CreateSubvolume("v");
            s.Write("v/x", 0, new byte[70000]);
            s.QgroupCreate(QgroupId.Make(1, 100));
            s.Sync();
            s.QgroupAssign(QgroupId.ForSubvolume(256), QgroupId.Make(1, 100));
            s.DeleteSubvolume("v");
            s.Sync();
            var q = QgroupTree.Read(s.Image)!;
            Assert.Equal((0UL, 0UL), (q.Find(QgroupId.Make(1, 100))!.Referenced, q.Find(QgroupId.Make(1, 100))!.Exclusive));
        }
        WriterEndToEndTests.AssertClean(img, quota: true);
    }

    /// <summary>
    /// A snapshot placed inside its own source (the source changes after the snapshot in the same commit), then a
    /// snapshot of a subvolume whose qgroup has a parent (no quick inherit: traced), a clone that starts before its
    /// extent's data, and the drop of a snapshot a later snapshot shares, under a parent qgroup: every commit's
    /// numbers equal a recomputation (the verifier is on) and btrfs check agrees.
    /// </summary>
    [Fact]
    public void SnapshotsClonesAndDropsAccountLikeARecomputation()
    {
        using var tmp = new TempDir();
        var img = WriterEndToEndTests.NewImage(tmp);
        using (var fs = new Filesystem(BtrfsImage.Open(img, new BtrfsImage.OpenOptions(Writable: true) { VerifyAccounting = true })))
        {
            var data = new byte[300_000];
            new Random(3).NextBytes(data);
            for (int i = 0; i < 200; i++) fs.Write($"top{i}", 0, data.AsSpan(0, 3000 + i));
            fs.Write("big", 0, data);
            fs.Snapshot("", "self");                      // the snapshot's entry goes into the source itself
            fs.CreateSubvolume("sv");
            fs.Write("sv/x", 0, data);
            // sv is subvolume 257 (the snapshot "self" is 256); its qgroup owns all it references: quick assign.
            fs.Run(tx => { QuotaAdmin.CreateQgroup(tx, QgroupId.Make(1, 100)); Assert.False(QuotaAdmin.Assign(tx, QgroupId.ForSubvolume(257), QgroupId.Make(1, 100))); });
            fs.Snapshot("sv", "sv-snap");                 // source with a parent: the source's tree is traced
            fs.CloneRange("big", 8192, 65536, "sv-snap/clone", 4096);   // file offset 4096 < extent offset 8192
            fs.Snapshot("sv-snap", "sv-snap2");
            fs.Write("sv-snap2/x", 0, data.AsSpan(0, 5000));
            fs.DeleteSubvolume("sv-snap");                // shared with sv-snap2
            fs.DeleteSubvolume("self");
        }
        WriterEndToEndTests.AssertClean(img, quota: true);
    }
}
