using System.IO.Compression;

namespace BtrfsLite.Benchmarks;

/// <summary>Finds the repository's images/ folder and unpacks a golden image once per process.</summary>
internal static class BenchImages
{
    public static string RepoRoot
    {
        get
        {
            foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
                for (var d = new DirectoryInfo(start); d != null; d = d.Parent)
                    if (File.Exists(Path.Combine(d.FullName, "BtrfsLite.sln"))) return d.FullName;
            throw new DirectoryNotFoundException("run the benchmarks from inside the repository (BtrfsLite.sln not found)");
        }
    }

    public static string Extract(string name)
    {
        var dst = Path.Combine(Path.GetTempPath(), $"btrfslite-bench-{name}.img");
        if (File.Exists(dst)) return dst;
        using var src = new GZipStream(File.OpenRead(Path.Combine(RepoRoot, "images", name + ".img.gz")), CompressionMode.Decompress);
        var tmp = dst + ".tmp" + Environment.ProcessId;
        using (var outp = File.Create(tmp)) src.CopyTo(outp);
        File.Move(tmp, dst, overwrite: true);
        return dst;
    }
}
