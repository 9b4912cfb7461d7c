using BenchmarkDotNet.Attributes;
using BtrfsLite.Fs;

namespace BtrfsLite.Benchmarks;

/// <summary>
/// One commit of a new 4 KiB file on an open image, quotas on against off: the per-commit cost of qgroup accounting
/// per changed extent (issue 11). Images: BTRFSLITE_ACCOUNTING_IMAGES, a comma-separated list (e.g. the kernel-made
/// images of bench/accounting-vs-files.sh), else the kernel-rich golden image. Each is copied twice (quotas on; quotas
/// disabled) into the temp folder; the copies grow by one file per operation.
/// </summary>
[MemoryDiagnoser]
public class AccountingBenchmarks
{
    private Filesystem _fs = null!;
    private string _copy = null!;
    private long _n;

    public static IEnumerable<string> Images =>
        Environment.GetEnvironmentVariable("BTRFSLITE_ACCOUNTING_IMAGES") is { Length: > 0 } list
            ? list.Split(',', StringSplitOptions.RemoveEmptyEntries)
            : [BenchImages.Extract("kernel-rich")];

    [ParamsSource(nameof(Images))]
    public string Image { get; set; } = "";

    [Params(true, false)]
    public bool Quotas { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _copy = Path.Combine(Path.GetTempPath(), $"btrfslite-accounting-{Path.GetFileNameWithoutExtension(Image)}-{Quotas}.img");
        // A sparse copy: the kernel-made images are mostly unwritten space.
        using (var src = File.OpenRead(Image))
        using (var dst = File.Create(_copy))
        {
            dst.SetLength(src.Length);
            var buf = new byte[1 << 20];
            for (long at = 0; at < src.Length; at += buf.Length)
            {
                int n = src.Read(buf);
                if (n == 0) break;
                if (buf.AsSpan(0, n).ContainsAnyExcept((byte)0)) { dst.Position = at; dst.Write(buf, 0, n); }
            }
        }
        _fs = Filesystem.Open(_copy);
        if (!Quotas) _fs.Run(QuotaAdmin.Disable);
        else _fs.Run(QuotaAdmin.Enable);
        _fs.Mkdir("accounting-bench");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _fs.Dispose();
        File.Delete(_copy);
    }

    [Benchmark]
    public void WriteAndCommit() => _fs.Write($"accounting-bench/f{_n++}", 0, new byte[4096]);
}
