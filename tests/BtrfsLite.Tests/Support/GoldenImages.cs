using System.IO.Compression;

namespace BtrfsLite.Tests.Support;

/// <summary>The images/ folder of the repository: real images made by mkfs.btrfs and the kernel, with sidecars.</summary>
public static class GoldenImages
{
    public static readonly string[] All = { "mkfs-single", "mkfs-dup", "mkfs-nofst", "mkfs-quota", "kernel-small", "kernel-dup", "kernel-rich" };
    public static readonly string[] Kernel = { "kernel-small", "kernel-dup", "kernel-rich" };

    public static string Dir
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "BtrfsLite.sln"))) return Path.Combine(d.FullName, "images");
            throw new DirectoryNotFoundException("repository root (BtrfsLite.sln) not found above " + AppContext.BaseDirectory);
        }
    }

    public static string Sidecar(string name, string suffix) => Path.Combine(Dir, $"{name}.{suffix}");

    /// <summary>Decompresses NAME.img.gz (NAME may name a subfolder of images/) into <paramref name="tmp"/> and returns the image path.</summary>
    public static string Extract(string name, TempDir tmp)
    {
        var dst = tmp.File(Path.GetFileName(name) + ".img");
        using var src = new GZipStream(File.OpenRead(Path.Combine(Dir, name + ".img.gz")), CompressionMode.Decompress);
        using var outp = File.Create(dst);
        src.CopyTo(outp);
        return dst;
    }

    public static IEnumerable<object[]> AllNames() => All.Select(n => new object[] { n });
    public static IEnumerable<object[]> KernelNames() => Kernel.Select(n => new object[] { n });
}
