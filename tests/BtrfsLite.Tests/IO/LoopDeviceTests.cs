using BtrfsLite.Format;
using BtrfsLite.IO;
using BtrfsLite.Images;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.IO;

/// <summary>A block device's size comes from the device (st_size is 0). Needs root and a free loop device.</summary>
public class LoopDeviceTests
{
    [RequiresRootMountFact]
    public void ReadsAnImageThroughALoopDevice()
    {
        using var tmp = new TempDir();
        var img = RealTools.Mkfs(tmp.File("loop.img"), 200L << 20, "-m", "single", "-d", "single");
        var attach = RealTools.Run("losetup", "--find", "--show", img);
        Assert.True(attach.ExitCode == 0, attach.All);
        string dev = attach.Stdout.Trim();
        try
        {
            Assert.Equal(0, new FileInfo(dev).Exists ? 0 : 1);
            using (var bd = FileBlockDevice.Open(dev, writable: false))
            {
                Assert.True(bd.IsBlockDevice);
                Assert.Equal(200L << 20, bd.Length);
            }
            using var fs = BtrfsImage.Open(dev);
            Assert.True(fs.TryGetRoot(ObjectIds.FsTree, out _));
            Assert.Equal(200UL << 20, fs.Super.TotalBytes);
        }
        finally
        {
            RealTools.Run("losetup", "-d", dev);
        }
    }
}

