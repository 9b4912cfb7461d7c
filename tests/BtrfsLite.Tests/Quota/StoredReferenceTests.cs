using BtrfsLite.Tests.Fs;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Quota;

/// <summary>
/// Every workload of images/workloads without a live kernel: `btrfslite replay` against the kernel's stored run
/// (NAME.kernel.jsonl), by the rules of the live agreement test, and our final image through both checkers. Where the
/// kernel harness runs, <see cref="KernelAgreementTests"/> does the same against the kernel itself.
/// </summary>
public sealed class StoredReferenceTests
{
    /// <summary>Every workload, offline: the replay against the kernel's stored run, by the live test's rules.</summary>
    [Theory]
    [MemberData(nameof(KernelAgreementTests.Workloads), MemberType = typeof(KernelAgreementTests))]
    public void ReplayAgreesWithTheKernelsStoredRun(string workload)
    {
        using var tmp = new TempDir();
        var img = tmp.File("o.img");
        var ours = DroppedQgroupTests.Replay(workload, img);
        var diffs = KernelAgreementTests.Compare(workload, ours, KernelHarness.LoadReference(workload));
        Assert.True(diffs.Count == 0, $"{workload}: {string.Join("\n", diffs.Take(40))}");
        WriterEndToEndTests.AssertClean(img, quota: true);
    }

    /// <summary>
    /// Where the kernel's time updates reserve metadata (btrfs_dirty_inode's delayed-inode item, 8 × 16 KiB until the
    /// commit) the replay's rsv_meta_prealloc is the kernel's at every step and qgroup: the live and offline agreement
    /// rules do not compare it, this pins it for the workloads that probe it.
    /// </summary>
    [Theory]
    [InlineData("fallocate-time-update")]
    [InlineData("punch-past-eof")]
    [InlineData("fallocate-near-limit")]
    [InlineData("fallocate")]
    [InlineData("delete-after-flush")]
    public void MetadataPreallocMatchesTheKernelsStoredRun(string workload)
    {
        using var tmp = new TempDir();
        var ours = DroppedQgroupTests.Replay(workload, tmp.File("o.img"));
        var kernel = KernelHarness.LoadReference(workload);
        Assert.Equal(kernel.Count, ours.Count);
        var diffs = new List<string>();
        for (int i = 0; i < kernel.Count; i++)
            foreach (var (id, k) in kernel[i].Qgroups)
                if (ours[i].Qgroups.TryGetValue(id, out var o) && o.RsvMetaPrealloc != k.RsvMetaPrealloc)
                    diffs.Add($"step {kernel[i].Step} `{kernel[i].Line}`: {id} rsv_meta_prealloc replay {o.RsvMetaPrealloc}, kernel {k.RsvMetaPrealloc}");
        Assert.True(diffs.Count == 0, string.Join("\n", diffs));
    }
}
