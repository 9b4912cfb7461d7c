using BtrfsLite.Format;
using BtrfsLite.Images;
using BtrfsLite.Qgroups;
using BtrfsLite.Tests.Fs;
using BtrfsLite.Tests.Support;
using BtrfsLite.Trees;

namespace BtrfsLite.Tests.Quota;

/// <summary>
/// The qgroup of a subvolume dropped while the qgroups are inconsistent, and qgroup relations in that state, judged
/// without a live kernel: by the kernel's stored runs of the same workloads (images/workloads/ghost-qgroup and
/// relation-inconsistent, recorded on Linux 6.18.44), by what our image holds afterwards, and by both checkers.
/// </summary>
public sealed class DroppedQgroupTests
{
    internal static List<StepResult> Replay(string workload, string img)
    {
        var r = CliProcess.Run("replay", img, KernelHarness.WorkloadPath(workload), "--format", "json");
        Assert.True(r.ExitCode == 0, $"btrfslite replay {workload} exited {r.ExitCode}:\n{r.Stderr}");
        return KernelHarness.Parse(r.Stdout, $"btrfslite replay {workload}");
    }

    /// <summary>
    /// The kernel keeps 0/256 in memory after the drop (listed with its stale numbers, zeroed by a rescan) while its
    /// items are gone; ours leaves no item of it either (not even the relation the kernel leaves behind), and says
    /// INCONSISTENT where the kernel stopped accounting.
    /// </summary>
    [Fact]
    public void TheDroppedQgroupStaysListedWithoutItemsAndAccountingStopsAfterARescan()
    {
        using var tmp = new TempDir();
        var img = tmp.File("o.img");
        var ours = Replay("ghost-qgroup", img);
        var delete = ours.Single(s => s.Line == "subvol delete a");
        Assert.Equal((81920UL, 16384UL), (delete.Qgroups["0/256"].Referenced, delete.Qgroups["0/256"].Exclusive));
        var rescan = ours.First(s => s.Line == "quota rescan");
        Assert.Equal((0UL, 0UL), (rescan.Qgroups["0/256"].Referenced, rescan.Qgroups["0/256"].Exclusive));
        // `write h` and its sync come after the rescan: not accounted; the second rescan counts it, `write h2` again not.
        Assert.Equal(16384UL, ours[16].Qgroups["0/5"].Referenced);
        Assert.Equal("sync", ours[16].Line);
        Assert.Equal(20480UL, ours[^1].Qgroups["0/5"].Referenced);

        using var image = BtrfsImage.Open(img);
        var state = QgroupTree.Read(image)!;
        Assert.True((state.Status & QgroupStatusFlags.Inconsistent) != 0);
        Assert.Null(state.Find(QgroupId.ForSubvolume(256)));
        var keys = new List<Key>();
        var c = new TreeCursor(image.Nodes);
        if (c.First(image.GetRoot(ObjectIds.QuotaTree)))
            do keys.Add(c.Key); while (c.Next());
        Assert.DoesNotContain(keys, k => k.ObjectId == QgroupId.ForSubvolume(256) || k.Offset == QgroupId.ForSubvolume(256));
        Assert.Contains(keys, k => k.Type == ItemType.QgroupInfo && k.Offset == QgroupId.ForSubvolume(257));
    }

    /// <summary>An exclusive subvolume dropped from a parent while inconsistent takes its bytes out of the parent, and goes.</summary>
    [Fact]
    public void AnExclusiveSubvolumeDroppedWhileInconsistentLeavesItsParent()
    {
        using var tmp = new TempDir();
        var ours = Replay("relation-inconsistent", tmp.File("o.img"));
        var before = ours.Last(s => s.Line == "sync" && s.Step < ours.Single(x => x.Line == "subvol delete x").Step);
        Assert.Equal((49152UL, 49152UL), (before.Qgroups["1/101"].Referenced, before.Qgroups["1/101"].Exclusive));
        var after = ours.Single(s => s.Line == "subvol delete x");
        Assert.DoesNotContain("0/258", after.QgroupIds);
        Assert.Equal((0UL, 0UL), (after.Qgroups["1/101"].Referenced, after.Qgroups["1/101"].Exclusive));
    }
}
