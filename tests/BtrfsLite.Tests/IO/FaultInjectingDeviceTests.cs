using BtrfsLite.IO;

namespace BtrfsLite.Tests.IO;

public class FaultInjectingDeviceTests
{
    private static byte[] Fill(int n, byte v) => Enumerable.Repeat(v, n).ToArray();

    [Fact]
    public void PowerCutDropsLaterWritesAndFlushesSilently()
    {
        var mem = new MemoryBlockDevice(1 << 16);
        var dev = new FaultInjectingDevice(mem);
        dev.CutPowerAfter(2);
        dev.Write(Fill(512, 1), 0);
        dev.Write(Fill(512, 2), 512);
        dev.Write(Fill(512, 3), 1024);
        dev.Flush();
        Assert.True(dev.PowerCut);
        Assert.Equal(3, dev.Writes);
        Assert.Equal(2, dev.WritesReachedDisk);
        Assert.Equal(1, dev.WritesDropped);
        Assert.Equal(1, dev.Flushes);
        var disk = dev.CaptureDisk();
        Assert.Equal(1, disk[0]);
        Assert.Equal(2, disk[512]);
        Assert.Equal(0, disk[1024]);
        // Reads still see what reached the disk.
        var b = new byte[1];
        dev.Read(b, 1024);
        Assert.Equal(0, b[0]);
    }

    [Fact]
    public void TornWriteLandsAWholeSectorPrefix()
    {
        var mem = new MemoryBlockDevice(1 << 16);
        var dev = new FaultInjectingDevice(mem, seed: 3);
        dev.CutPowerAfter(1, tearLast: true);
        dev.Write(Fill(16384, 7), 4096);
        Assert.InRange(dev.TornBytes, 512, 16384 - 512);
        Assert.Equal(0, dev.TornBytes % 512);
        Assert.Equal(7, mem.Data[4096 + dev.TornBytes - 1]);
        Assert.Equal(0, mem.Data[4096 + dev.TornBytes]);

        var mem2 = new MemoryBlockDevice(1 << 16);
        var dev2 = new FaultInjectingDevice(mem2) { TearSectorSize = 4096 };
        dev2.Write(Fill(10, 1), 0);
        dev2.CutPowerAfter(1, tearLast: true, tearBytes: 4096);
        dev2.Write(Fill(16384, 9), 8192);
        dev2.Write(Fill(10, 5), 0);
        Assert.Equal(4096, dev2.TornBytes);
        Assert.Equal(9, mem2.Data[8192 + 4095]);
        Assert.Equal(0, mem2.Data[8192 + 4096]);
        Assert.Equal(1, mem2.Data[0]);
    }

    [Fact]
    public void InjectedErrorsThrowAndLeaveTheDiskUnchanged()
    {
        var mem = new MemoryBlockDevice(1 << 16);
        var dev = new FaultInjectingDevice(mem);
        dev.FailNextWrite();
        Assert.Throws<IOException>(() => dev.Write(Fill(8, 1), 0));
        dev.Write(Fill(8, 2), 0);
        Assert.Equal(2, mem.Data[0]);

        dev.FailWritesAfter(1);
        dev.Write(Fill(8, 3), 0);
        Assert.Throws<IOException>(() => dev.Write(Fill(8, 4), 0));
        Assert.Throws<IOException>(() => dev.Write(Fill(8, 4), 0));
        Assert.Equal(3, mem.Data[0]);
        Assert.Equal(3, dev.WritesFailed);

        dev.FailFlush();
        Assert.Throws<IOException>(dev.Flush);
        dev.Flush();
        dev.Heal();
        dev.Write(Fill(8, 6), 0);
        Assert.Equal(6, mem.Data[0]);
        Assert.Equal(6, dev.Writes);
        Assert.Equal(2, dev.Flushes);
    }
}
