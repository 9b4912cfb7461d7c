using System.Text;
using BtrfsLite.IO;
using BtrfsLite.Tests.Support;
using BtrfsLite.Text;

namespace BtrfsLite.Tests.Text;

/// <summary>
/// The committed golden images (images/NAME.img.gz, made by mkfs.btrfs 6.2 and the kernel) against the text
/// btrfs-progs 6.2 printed for them (NAME.dump-tree.txt, NAME.dump-tree-fst.txt, NAME.dump-super.txt).
/// No root, no btrfs-progs needed. The sidecars were made with TZ unset (UTC), so dates are formatted in UTC.
/// </summary>
public class GoldenImageTests
{
    public static IEnumerable<object[]> Images() => Golden.ImageNames();

    private static readonly DumpTreeOptions Options = new() { TimeZone = TimeZoneInfo.Utc, NameEncoding = Encoding.Latin1 };

    private static string Dump(string img, Action<DumpTreeWriter> what, out int errors, out string stderr)
    {
        using var src = DumpSource.Open(img);
        var sw = new StringWriter { NewLine = "\n" };
        var err = new StringWriter();
        var w = DumpTreeWriter.Text(src, sw, err, Options);
        what(w);
        errors = w.ErrorCount + src.Problems.Count;
        stderr = err.ToString();
        return sw.ToString();
    }

    [Theory]
    [MemberData(nameof(Images))]
    public void MatchesStoredProgsText(string name)
    {
        var dir = Golden.ImagesDir()!;
        using var tmp = new TempDir();
        var img = Golden.Gunzip(Path.Combine(dir, name + ".img.gz"), tmp.File(name + ".img"));

        var expected = File.ReadAllText(Path.Combine(dir, name + ".dump-tree.txt"), Golden.Bytes);
        var actual = Dump(img, w => w.WriteFilesystem(), out int errors, out string stderr);
        Golden.AssertSameLines(expected, actual, $"{name}: dump-tree");
        Assert.True(errors == 0, stderr);

        var fst = Path.Combine(dir, name + ".dump-tree-fst.txt");
        if (File.Exists(fst))
        {
            actual = Dump(img, w => w.WriteTree(10), out errors, out stderr);
            Golden.AssertSameLines(File.ReadAllText(fst, Golden.Bytes), actual, $"{name}: dump-tree -t 10");
            Assert.True(errors == 0, stderr);
        }

        using var dev = FileBlockDevice.Open(img, writable: false);
        var sw = new StringWriter { NewLine = "\n" };
        int rc = DumpSuperWriter.DumpText(dev, sw, new StringWriter(), new DumpSuperOptions { Full = true, DeviceName = name + ".img" });
        Assert.Equal(0, rc);
        Golden.AssertSameLines(File.ReadAllText(Path.Combine(dir, name + ".dump-super.txt"), Golden.Bytes), sw.ToString(), $"{name}: dump-super -f");
    }

    [Fact]
    public void GoldenImagesArePresent()
    {
        // The images branch is merged here; a checkout without them would silently run no golden theory.
        Assert.NotNull(Golden.ImagesDir());
        Assert.Contains(Images(), x => (string)x[0] == "kernel-rich");
    }
}
