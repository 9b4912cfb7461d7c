using System.Security.Cryptography;
using BtrfsLite.Check;
using BtrfsLite.Fs;
using BtrfsLite.IO;
using BtrfsLite.Mkfs;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Fs;

/// <summary>Images we write pass our check and btrfs check, and read back what was written.</summary>
public class WriterEndToEndTests
{
    internal static string NewImage(TempDir tmp, string name = "w.img", long size = 256L << 20, bool quota = true, bool fst = true, MetadataProfile profile = MetadataProfile.Single)
    {
        var path = tmp.File(name);
        using var dev = FileBlockDevice.Create(path, size);
        ImageBuilder.Create(dev, new ImageOptions { Size = size, Quota = quota, FreeSpaceTree = fst, MetadataProfile = profile });
        return path;
    }

    internal static void AssertClean(string img, bool quota)
    {
        var report = Checker.Check(img);
        Assert.True(report.IsClean, string.Join("\n", report.Findings.Take(20)));
        if (!RealTools.HasBtrfsProgs) return;
        var r = RealTools.BtrfsCheck(img);
        Assert.True(r.ExitCode == 0, r.All);
        if (quota)
        {
            var q = RealTools.BtrfsCheck(img, "--qgroup-report");
            Assert.True(q.ExitCode == 0, q.All);
        }
    }

    [Fact]
    public void CsumItemsStayWithinTheKernelLimitOn4KNodes()
    {
        // MAX_CSUM_ITEMS for 4K nodes is 985 csums; a 16 MiB file needs 4096, in several items.
        using var tmp = new TempDir();
        var path = tmp.File("n4k.img");
        using (var dev = FileBlockDevice.Create(path, 256L << 20))
            ImageBuilder.Create(dev, new ImageOptions { Size = 256L << 20, NodeSize = 4096 });
        using (var fs = Filesystem.Open(path)) fs.Write("big", 0, new byte[16 << 20]);
        AssertClean(path, quota: false);
    }

    /// <summary>
    /// The import path computes csums a leaf's worth at a time: on 4K nodes a 16 MiB + 3 byte host file needs 4097 csums
    /// in items of at most 985, whose edges fall inside the importer's read buffer. Every sector's csum must match.
    /// </summary>
    [Fact]
    public void ImportedCsumItemsStayWithinTheKernelLimitOn4KNodes()
    {
        if (!OperatingSystem.IsLinux()) return; // the importer reads the host with statx and SEEK_DATA
        using var tmp = new TempDir();
        var path = tmp.File("n4k.img");
        using (var dev = FileBlockDevice.Create(path, 256L << 20))
            ImageBuilder.Create(dev, new ImageOptions { Size = 256L << 20, NodeSize = 4096 });
        var data = new byte[(16 << 20) + 3];
        new Random(4).NextBytes(data);
        var host = tmp.File("host.bin");
        File.WriteAllBytes(host, data);
        using (var fs = Filesystem.Open(path))
        {
            new HostTreeImporter(fs).Copy(host, "big");
            Assert.Equal(SHA256.HashData(data), SHA256.HashData(fs.ReadAll("big")));
        }
        var report = Checker.Check(path, new CheckOptions { CheckDataCsum = true });
        Assert.True(report.IsClean, string.Join("\n", report.Findings.Take(20)));
        if (RealTools.HasBtrfsProgs)
        {
            var r = RealTools.BtrfsCheck(path, "--check-data-csum");
            Assert.True(r.ExitCode == 0, r.All);
        }
    }

    [Fact]
    public void SmallAndLargeFilesDirectoriesAndLinksCheckClean()
    {
        using var tmp = new TempDir();
        var img = NewImage(tmp);
        var big = new byte[3 << 20];
        new Random(1).NextBytes(big);
        using (var fs = Filesystem.Open(img))
        {
            fs.Mkdir("dir/sub", parents: true);
            fs.Write("small.txt", 0, "hello btrfs\n"u8);
            fs.Write("dir/big.bin", 0, big);
            fs.Write("dir/sub/unaligned", 5000, new byte[] { 1, 2, 3 });
            fs.Symlink("dir/big.bin", "link");
            fs.HardLink("small.txt", "dir/small-again.txt");
        }
        AssertClean(img, quota: true);
        using (var fs = Filesystem.Open(img))
        {
            Assert.Equal("hello btrfs\n"u8.ToArray(), fs.ReadAll("small.txt"));
            Assert.Equal(SHA256.HashData(big), SHA256.HashData(fs.ReadAll("dir/big.bin")));
            Assert.Equal(5003UL, fs.Stat("dir/sub/unaligned").Size);
            Assert.Equal("dir/big.bin", fs.ReadLink("link"));
            Assert.Equal(2U, fs.Stat("small.txt").NLink);
        }
    }
}

/// <summary>The kernel judges our images: it mounts them, reads every byte, writes into them; then we read, check and change them again.</summary>
public class WriterKernelInteropTests
{
    [RequiresRootMountFact]
    public void KernelReadsOurFilesWritesMoreAndWeContinue()
    {
        using var tmp = new TempDir();
        var img = WriterEndToEndTests.NewImage(tmp, quota: true);
        var big = new byte[5 << 20];
        new Random(2).NextBytes(big);
        using (var fs = Filesystem.Open(img))
        {
            fs.Mkdir("a/b", parents: true);
            fs.Write("a/b/big.bin", 0, big);
            fs.Write("a/small", 0, "tiny"u8);
            fs.Write("a/sparse", 10 << 20, "end"u8);
            fs.Symlink("b/big.bin", "a/link");
            fs.CreateSubvolume("vol");
            fs.Write("vol/in-vol", 0, big.AsSpan(0, 100_000));
        }
        WriterEndToEndTests.AssertClean(img, quota: true);
        string bigSha = Convert.ToHexString(SHA256.HashData(big)).ToLowerInvariant();
        string volSha = Convert.ToHexString(SHA256.HashData(big.AsSpan(0, 100_000))).ToLowerInvariant();
        // The kernel reads our bytes and writes its own.
        KernelImages.WithMounted(img, $"""
            test "$(sha256sum a/b/big.bin | cut -d' ' -f1)" = {bigSha}
            test "$(cat a/small)" = tiny
            test "$(stat -c %s a/sparse)" = {(10 << 20) + 3}
            test "$(readlink a/link)" = b/big.bin
            test "$(sha256sum vol/in-vol | cut -d' ' -f1)" = {volSha}
            btrfs subvolume list . | grep -q ' path vol$'
            head -c 3000000 /dev/urandom > kernel.bin
            echo appended >> a/small
            mkdir kdir && touch kdir/empty
            rm a/sparse
            """);
        WriterEndToEndTests.AssertClean(img, quota: true);
        using (var fs = Filesystem.Open(img))
        {
            Assert.Equal("tinyappended\n"u8.ToArray(), fs.ReadAll("a/small"));
            Assert.Equal(3_000_000UL, fs.Stat("kernel.bin").Size);
            Assert.False(fs.Exists("a/sparse"));
            fs.Write("kernel.bin", 1_000_000, new byte[70_000]);
            fs.Remove("a", recursive: true);
            fs.Snapshot("vol", "vol-snap");
            fs.Write("vol/in-vol", 0, new byte[8192]);
        }
        WriterEndToEndTests.AssertClean(img, quota: true);
        KernelImages.WithMounted(img, $"""
            test "$(sha256sum vol-snap/in-vol | cut -d' ' -f1)" = {volSha}
            test ! -e a
            test -e kdir/empty
            """);
        WriterEndToEndTests.AssertClean(img, quota: true);
    }
}

/// <summary>Space runs out in the first chunks: the allocator creates data and metadata chunks (chunk item, device extent, block group, free space info).</summary>
public class ChunkAllocationTests
{
    [RequiresBtrfsProgsTheory]
    [InlineData(BtrfsLite.Mkfs.MetadataProfile.Single)]
    [InlineData(BtrfsLite.Mkfs.MetadataProfile.Dup)]
    public void DataAndMetadataBeyondTheFirstChunksAllocateNewChunks(BtrfsLite.Mkfs.MetadataProfile profile)
    {
        using var tmp = new TempDir();
        var img = WriterEndToEndTests.NewImage(tmp, size: 512L << 20, quota: true, profile: profile);
        var block = new byte[1 << 20];
        new Random(3).NextBytes(block);
        using (var fs = Filesystem.Open(img))
        {
            // 48 MiB of data in 6 files (the first data chunk holds 8 MiB)...
            for (int f = 0; f < 6; f++)
                fs.Run(tx =>
                {
                    var t = fs.TreeOf(tx, BtrfsLite.Format.ObjectIds.FsTree);
                    ulong ino = t.CreateFile(FsTree.RootDirIno, System.Text.Encoding.UTF8.GetBytes($"data{f}"));
                    for (int m = 0; m < 8; m++) t.Write(ino, (ulong)m << 20, block);
                });
            // ...and enough small files for more than the first 8 MiB metadata chunk.
            fs.Run(tx =>
            {
                var t = fs.TreeOf(tx, BtrfsLite.Format.ObjectIds.FsTree);
                ulong dir = t.Mkdir(FsTree.RootDirIno, "many"u8);
                for (int i = 0; i < 30_000; i++)
                {
                    ulong ino = t.CreateFile(dir, System.Text.Encoding.UTF8.GetBytes($"file-{i:D6}-with-a-longish-name"));
                    t.Write(ino, 0, BitConverter.GetBytes(i));
                }
            });
            var chunks = fs.Image.Chunks.Chunks;
            Assert.True(chunks.Count(c => (c.Type & BtrfsLite.Format.BlockGroupFlags.Data) != 0) >= 2, "no new data chunk");
            // SINGLE starts with an 8 MiB metadata chunk (DUP with 32 MiB, which these files fit in).
            if (profile == BtrfsLite.Mkfs.MetadataProfile.Single)
                Assert.True(chunks.Count(c => (c.Type & BtrfsLite.Format.BlockGroupFlags.Metadata) != 0) >= 2, "no new metadata chunk");
        }
        WriterEndToEndTests.AssertClean(img, quota: true);
        using (var fs = Filesystem.Open(img))
        {
            Assert.Equal(block, fs.ReadAll("data5").AsSpan(7 << 20, 1 << 20).ToArray());
            Assert.Equal(BitConverter.GetBytes(29_999), fs.ReadAll("many/file-029999-with-a-longish-name"));
        }
        // The kernel checks chunks against device extents and block groups at mount time.
        if (KernelImages.WhyNot() == null)
        {
            KernelImages.WithMounted(img, "test $(ls many | wc -l) = 30000\ntest $(stat -c %s data5) = 8388608\nhead -c 20000000 /dev/zero > more.bin");
            WriterEndToEndTests.AssertClean(img, quota: true);
        }
    }
}
