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
}
