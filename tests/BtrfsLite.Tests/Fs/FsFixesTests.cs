using System.Security.Cryptography;
using BtrfsLite.Fs;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Fs;

/// <summary>Fixes found while wrapping the library in the CLI's file commands.</summary>
public class FsFixesTests
{
    /// <summary>A new data chunk on a 256 MiB device was a tenth of it, 26843545 bytes: not aligned, so the image was corrupt.</summary>
    [Fact]
    public void NewDataChunksAreAligned()
    {
        using var tmp = new TempDir();
        var img = WriterEndToEndTests.NewImage(tmp); // 256 MiB, mkfs's 8 MiB data chunk
        var data = new byte[20 << 20];
        new Random(3).NextBytes(data);
        using (var fs = Filesystem.Open(img))
            fs.WriteFrom("big", 0, new MemoryStream(data));
        WriterEndToEndTests.AssertClean(img, quota: true);
        using (var fs = Filesystem.Open(img))
            Assert.Equal(SHA256.HashData(data), SHA256.HashData(fs.ReadAll("big")));
    }

    /// <summary>A commit with nothing changed wrote a superblock of a new generation over the old root tree: every reader then failed the parent transid check.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ACommitThatChangedNothingKeepsTheGeneration(bool quota)
    {
        using var tmp = new TempDir();
        var img = WriterEndToEndTests.NewImage(tmp, quota: quota);
        ulong gen;
        using (var fs = Filesystem.Open(img))
        {
            fs.Write("a", 0, new byte[5000]);
            gen = fs.Image.Generation;
            using (var tx = fs.BeginTransaction())
            {
                _ = fs.Resolve(tx, "a");
                tx.Commit();
            }
            Assert.Equal(gen, fs.Image.Generation);
            fs.Write("b", 0, new byte[100]);
        }
        WriterEndToEndTests.AssertClean(img, quota);
        using var ro = Filesystem.OpenReadOnly(img);
        Assert.Equal(5000UL, ro.Stat("a").Size);
        Assert.True(ro.Image.Generation > gen);
    }

    /// <summary>Reflink onto a longer file left the destination's tail (and size) behind; it now replaces the content.</summary>
    [Fact]
    public void ReflinkReplacesALongerDestination()
    {
        using var tmp = new TempDir();
        var img = WriterEndToEndTests.NewImage(tmp);
        var src = new byte[8192];
        new Random(4).NextBytes(src);
        using (var fs = Filesystem.Open(img))
        {
            fs.Write("src", 0, src);
            fs.Write("dst", 0, new byte[100_000]);
            fs.Reflink("src", "dst");
            Assert.Equal(src, fs.ReadAll("dst"));
            Assert.Throws<FsException>(() => fs.Reflink("src", "src"));
            Assert.Equal(src, fs.ReadAll("src"));
        }
        WriterEndToEndTests.AssertClean(img, quota: true);
    }

    /// <summary>Reads on an image opened read-only used to need a write transaction (and threw); they use a read-only view now.</summary>
    [Fact]
    public void ReadsWorkOnAnImageOpenedReadOnly()
    {
        using var tmp = new TempDir();
        var img = WriterEndToEndTests.NewImage(tmp);
        using (var fs = Filesystem.Open(img))
        {
            fs.Mkdir("d");
            fs.Write("d/f", 0, "hello"u8);
            fs.Symlink("d/f", "l");
            // A read between writes no longer aborts a write transaction (which made the next write rebuild its state).
            Assert.True(fs.Exists("d/f"));
            fs.Write("d/g", 0, "again"u8);
        }
        using (var fs = Filesystem.OpenReadOnly(img))
        {
            Assert.Equal("hello"u8.ToArray(), fs.ReadAll("d/f"));
            Assert.Equal(new[] { "f", "g" }, fs.List("d").Select(e => e.Name).OrderBy(n => n));
            Assert.Equal("d/f", fs.ReadLink("l"));
            Assert.True(fs.Stat("d").IsDir);
            Assert.Throws<InvalidOperationException>(() => fs.Mkdir("x"));
            Assert.Throws<InvalidOperationException>(() => fs.ReadOnly(tx => { fs.TreeOf(tx, 5).Mkdir(256, "y"u8); return 0; }));
        }
        WriterEndToEndTests.AssertClean(img, quota: true);
    }
}
