using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.IO;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.IO;

/// <summary>A block device's size comes from the device (st_size is 0). Needs root and a free loop device.</summary>
public class LoopDeviceTests
{
    [RequiresLoopDeviceFact]
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

public sealed class RequiresLoopDeviceFactAttribute : FactAttribute
{
    public RequiresLoopDeviceFactAttribute()
    {
        if (!RealTools.HasBtrfsProgs) Skip = "btrfs-progs not installed";
        else if (!LoopSupport.Available(out var why)) Skip = why;
    }
}

public static class LoopSupport
{
    public static bool Available(out string why)
    {
        why = "";
        if (!OperatingSystem.IsLinux()) { why = "not Linux"; return false; }
        if (Environment.UserName != "root") { why = "needs root for losetup/mount"; return false; }
        if (RealTools.Which("losetup") == null) { why = "losetup not installed"; return false; }
        if (!File.Exists("/dev/loop-control")) { why = "no /dev/loop-control (loop devices unavailable)"; return false; }
        return true;
    }
}
