using BtrfsLite.Format;
using BtrfsLite.Images;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.IO;

/// <summary>Images outside the subset are refused with a message that names the feature; bad input is never a crash.</summary>
public class UnsupportedImageTests
{
    [RequiresBtrfsProgsTheory]
    [InlineData("--csum", "xxhash", "xxhash64")]
    [InlineData("--csum", "sha256", "sha256")]
    [InlineData("-M", null, "MIXED_GROUPS")]
    public void RealMkfsFeaturesOutsideTheSubsetAreNamed(string opt, string? value, string named)
    {
        using var tmp = new TempDir();
        var args = value == null ? new[] { opt } : new[] { opt, value };
        var img = RealTools.Mkfs(tmp.File("x.img"), 256L << 20, args);
        var ex = Assert.Throws<BtrfsUnsupportedException>(() => BtrfsImage.Open(img));
        Assert.Contains(named, ex.Message);
        // check refuses it with the feature named and exit code 4; dump-super still shows the superblock.
        var r = CliProcess.Run("check", img);
        Assert.Equal(4, r.ExitCode);
        Assert.Contains(named, r.Stderr);
        Assert.DoesNotContain("   at ", r.All);
        Assert.Equal(0, CliProcess.Run("dump-super", img).ExitCode);
    }

    [RequiresBtrfsProgsFact]
    public void TwoDeviceFilesystemIsRefused()
    {
        using var tmp = new TempDir();
        var a = tmp.File("a.img"); var b = tmp.File("b.img");
        using (var f = File.Create(b)) f.SetLength(256L << 20);
        RealTools.Mkfs(a, 256L << 20, "-d", "raid1", "-m", "raid1", b);
        var ex = Assert.Throws<BtrfsUnsupportedException>(() => BtrfsImage.Open(a));
        Assert.Contains("2 devices", ex.Message);
    }

    [RequiresBtrfsProgsTheory]
    [InlineData(IncompatFlags.CompressZstd, "COMPRESS_ZSTD")]
    [InlineData(IncompatFlags.CompressLzo, "COMPRESS_LZO")]
    [InlineData(IncompatFlags.ExtentTreeV2, "EXTENT_TREE_V2")]
    [InlineData(IncompatFlags.Zoned, "ZONED")]
    [InlineData(IncompatFlags.Raid56, "RAID56")]
    [InlineData(IncompatFlags.SimpleQuota, "SIMPLE_QUOTA")]
    public void IncompatBitsAreNamed(IncompatFlags flag, string named)
    {
        using var tmp = new TempDir();
        var img = RealTools.Mkfs(tmp.File("x.img"), 128L << 20, "-m", "single", "-d", "single");
        using (var ed = new ImageEditor(img))
            ed.EditSuper(b => { var sb = new Superblock(b); sb.IncompatFlags |= flag; });
        var ex = Assert.Throws<BtrfsUnsupportedException>(() => BtrfsImage.Open(img));
        Assert.Contains(named, ex.Message);
    }

    [Fact]
    public void GarbageTruncatedAndEmptyFilesGiveClearErrors()
    {
        using var tmp = new TempDir();
        var empty = tmp.File("empty.img");
        File.WriteAllBytes(empty, Array.Empty<byte>());
        var ex = Assert.Throws<InvalidDataException>(() => BtrfsImage.Open(empty));
        Assert.Contains("too small", ex.Message);

        var garbage = tmp.File("garbage.img");
        var bytes = new byte[1 << 20];
        new Random(7).NextBytes(bytes);
        File.WriteAllBytes(garbage, bytes);
        ex = Assert.Throws<InvalidDataException>(() => BtrfsImage.Open(garbage));
        Assert.Contains("no btrfs magic", ex.Message);
    }

    [RequiresBtrfsProgsFact]
    public void TruncatedImageNamesTheBlockPastTheEnd()
    {
        using var tmp = new TempDir();
        var img = RealTools.Mkfs(tmp.File("t.img"), 256L << 20, "-m", "single", "-d", "single");
        // Keep the superblock and system chunk, cut before the metadata chunk holding the root tree.
        using (var f = new FileStream(img, FileMode.Open)) f.SetLength(5L << 20);
        var ex = Assert.Throws<InvalidDataException>(() => BtrfsImage.Open(img));
        Assert.Contains("past the device end", ex.Message);
    }
}
