using BenchmarkDotNet.Attributes;
using BtrfsLite.Check;

namespace BtrfsLite.Benchmarks;

/// <summary>
/// A full in-process check. Image: BTRFSLITE_CHECK_IMAGE (e.g. the 100,000-file image from
/// bench/make-100k-image.sh), else the kernel-rich golden image. Whole-process comparison with
/// `btrfs check` is bench/check-vs-progs.sh.
/// </summary>
[MemoryDiagnoser]
public class CheckBenchmarks
{
    private string _image = null!;

    [GlobalSetup]
    public void Setup() =>
        _image = Environment.GetEnvironmentVariable("BTRFSLITE_CHECK_IMAGE") is { Length: > 0 } p ? p : BenchImages.Extract("kernel-rich");

    [Benchmark]
    public int FullCheck()
    {
        var report = Checker.Check(_image);
        if (!report.IsClean) throw new InvalidOperationException($"{_image}: {report.ErrorCount} findings, first: {report.Findings[0]}");
        return report.ErrorCount;
    }

    [Benchmark]
    public int QgroupReport() => Checker.Check(_image, new CheckOptions { QgroupReport = true }).ErrorCount;
}
