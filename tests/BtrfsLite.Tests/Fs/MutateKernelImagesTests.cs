using System.Security.Cryptography;
using BtrfsLite.Fs;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Fs;

/// <summary>Images made by mkfs.btrfs and the kernel (DUP metadata, snapshots with FULL_BACKREF and shared refs) mutated by our writer stay clean.</summary>
public class MutateKernelImagesTests
{
    [RequiresBtrfsProgsTheory]
    [MemberData(nameof(GoldenImages.AllNames), MemberType = typeof(GoldenImages))]
    public void WritingIntoGoldenImagesKeepsThemClean(string name)
    {
        using var tmp = new TempDir();
        var img = GoldenImages.Extract(name, tmp);
        bool quota = name is "kernel-rich" or "kernel-small" or "mkfs-quota";
        var data = new byte[300_000];
        new Random(name.Length).NextBytes(data);
        using (var fs = Filesystem.Open(img))
        {
            fs.Mkdir("added/deeper", parents: true);
            fs.Write("added/deeper/file", 0, data);
            fs.Write("added/inline", 0, "x"u8);
            foreach (var (entry, info) in fs.List(""))
            {
                // Touch what the kernel wrote: overwrite the middle of every regular top-level file.
                if (info.IsReg && info.Size > 8192) fs.Write(entry, 4096, new byte[4096]);
            }
        }
        WriterEndToEndTests.AssertClean(img, quota);
        using var again = Filesystem.Open(img);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(again.ReadAll("added/deeper/file")));
    }

    [RequiresBtrfsProgsFact]
    public void SnapshotSharedBlocksOfTheKernelRichImageSurviveWritesDeletesAndSubvolumeDelete()
    {
        using var tmp = new TempDir();
        var img = GoldenImages.Extract("kernel-rich", tmp);
        using (var fs = Filesystem.Open(img))
        {
            var subs = fs.ListSubvolumes();
            Assert.Contains(subs, s => s.Name == "sub1");
            Assert.Contains(subs, s => s.Name == "snap1");
            // Write in both the source and the snapshot: shared blocks get copied by their owner and by the other tree.
            foreach (var (entry, info) in fs.List("sub1").Take(20))
                if (info.IsReg && info.Size > 0) fs.Write("sub1/" + entry, 0, "changed by btrfslite"u8);
            foreach (var (entry, info) in fs.List("snap1").Take(20))
                if (info.IsReg && info.Size > 0) fs.Write("snap1/" + entry, 0, "changed in snapshot"u8);
            fs.Snapshot("sub1", "snap2");
            fs.Remove("sub1/fat", recursive: true);
        }
        WriterEndToEndTests.AssertClean(img, quota: true);
        using (var fs = Filesystem.Open(img))
        {
            Assert.True(fs.Exists("snap2/fat"));
            fs.DeleteSubvolume("snap1");
        }
        WriterEndToEndTests.AssertClean(img, quota: true);
    }
}
