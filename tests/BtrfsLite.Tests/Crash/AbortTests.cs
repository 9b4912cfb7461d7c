using System.Text;
using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.IO;
using BtrfsLite.Images;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Crash;

/// <summary>An exception inside a transaction (before its commit) leaves the image as it was; the handle goes on.</summary>
[Trait("Category", "Crash")]
public class AbortTests : IClassFixture<CrashHarnessFixture>
{
    private readonly CrashHarness _h;
    public AbortTests(CrashHarnessFixture f) => _h = f.Harness;

    private const int M = 5; // after "truncate big.bin"

    [Fact]
    public void AnExceptionBeforeCommitWithoutDataLeavesTheImageByteIdenticalAndTheHandleGoesOn()
    {
        _h.RunSteps(M);
        var before = (byte[])_h.Disk.Clone();
        var dev = new FaultInjectingDevice(new MemoryBlockDevice(_h.Disk));
        using (var fs = new Filesystem(BtrfsImage.Open(dev, new BtrfsImage.OpenOptions(Writable: true)), CrashWorkload.Options(3)))
        {
            var ex = Assert.Throws<InvalidOperationException>(() => fs.Run(tx =>
            {
                var t = fs.TreeOf(tx, ObjectIds.FsTree);
                ulong dir = t.Mkdir(FsTree.RootDirIno, "never"u8);
                ulong ino = t.CreateFile(dir, "inline"u8);
                t.Write(ino, 0, "small, inline: no data extent"u8);
                var big = fs.Resolve(tx, "big.bin");
                t.Truncate(big.Ino, 8192); // sector-aligned shrink: drops extents, writes no data
                t.Rename(FsTree.RootDirIno, "big.bin"u8, dir, "moved"u8);
                t.Unlink(dir, "moved"u8);
                throw new InvalidOperationException("boom");
            }));
            Assert.Equal("boom", ex.Message);
            Assert.Equal(0, dev.Writes);
            Assert.True(before.AsSpan().SequenceEqual(_h.Disk), "the aborted transaction changed the image");
            // The handle goes on from the committed state.
            _h.Workload.Steps[M].Apply(fs);
        }
        var o = _h.Verify("after an abort and the next step", expectGeneration: _h.Workload.BaseGeneration + M + 1);
        CrashHarness.AssertClean(o, "after an abort and the next step");
    }

    /// <summary>
    /// File data goes to newly allocated space before the commit, so an aborted transaction that wrote data changes
    /// bytes on the device, but only where nothing committed lives: every changed 4 KiB block maps to logical space
    /// outside every extent of the committed extent tree (and outside the superblocks and system area).
    /// </summary>
    /// <summary>A transaction holds its data until the commit: an exception after writes changes no byte.</summary>
    [Fact]
    public void AnExceptionAfterDataWasWrittenChangesNothing() => AbortAfterWrites(limit: null);

    /// <summary>Past its data buffer (here 64 KiB) a transaction writes data early, only where no committed extent is.</summary>
    [Fact]
    public void AnExceptionAfterDataWentOutEarlyChangesOnlySpaceNoCommittedExtentUses() => AbortAfterWrites(limit: 64 << 10);

    private void AbortAfterWrites(long? limit)
    {
        _h.RunSteps(M);
        var before = (byte[])_h.Disk.Clone();
        var data = new byte[1_500_000];
        new Random(11).NextBytes(data);
        var dev = new FaultInjectingDevice(new MemoryBlockDevice(_h.Disk));
        using (var fs = new Filesystem(BtrfsImage.Open(dev, new BtrfsImage.OpenOptions(Writable: true)), CrashWorkload.Options(3)))
        {
            Assert.Throws<InvalidOperationException>(() => fs.Run(tx =>
            {
                if (limit is long l) tx.DataBufferLimit = l;
                var t = fs.TreeOf(tx, ObjectIds.FsTree);
                ulong ino = t.CreateFile(FsTree.RootDirIno, "new.bin"u8);
                t.Write(ino, 0, data);
                var big = fs.Resolve(tx, "big.bin");
                t.Write(big.Ino, 4096, data.AsSpan(0, 300_000)); // replaces committed extents (they must stay intact)
                throw new InvalidOperationException("boom");
            }));
            if (limit == null)
            {
                Assert.Equal(0, dev.Writes);
                Assert.True(before.AsSpan().SequenceEqual(_h.Disk), "an aborted transaction changed the image");
            }
            else
            {
                Assert.True(dev.Writes > 0, "past the buffer the data should have been written before the commit");
                AssertOnlyFreeSpaceChanged(before, _h.Disk);
            }
            _h.Workload.Steps[M].Apply(fs);
            _h.Workload.Steps[M + 1].Apply(fs);
        }
        var o = _h.Verify("after an abort and two more steps", expectGeneration: _h.Workload.BaseGeneration + M + 2);
        CrashHarness.AssertClean(o, "after an abort and two more steps");
    }

    private static void AssertOnlyFreeSpaceChanged(byte[] before, byte[] after)
    {
        using var img = BtrfsImage.Open(new MemoryBlockDevice(before));
        var allocated = new List<(ulong Start, ulong End)>();
        var c = img.NewCursor();
        if (c.First(img.GetRoot(ObjectIds.ExtentTree)))
            do
            {
                if (c.Type == ItemType.ExtentItem) allocated.Add((c.ObjectId, c.ObjectId + c.Offset));
                else if (c.Type == ItemType.MetadataItem) allocated.Add((c.ObjectId, c.ObjectId + (ulong)img.NodeSize));
            } while (c.Next());
        var bad = new StringBuilder();
        int changed = 0;
        const int blk = 4096;
        for (long off = 0; off < before.Length; off += blk)
        {
            if (before.AsSpan((int)off, blk).SequenceEqual(after.AsSpan((int)off, blk))) continue;
            changed++;
            ulong? logical = null;
            foreach (var ch in img.Chunks.Chunks)
                foreach (var p in ch.PhysicalStripes)
                    if ((ulong)off >= p && (ulong)off < p + ch.Length) logical = ch.Logical + ((ulong)off - p);
            if (logical is not ulong l) { bad.AppendLine($"physical {off}: outside every chunk (superblock or system area)"); continue; }
            foreach (var (s, e) in allocated)
                if (l < e && l + blk > s) { bad.AppendLine($"physical {off} (logical {l}): inside committed extent [{s}, {e})"); break; }
        }
        Assert.True(changed > 0);
        Assert.True(bad.Length == 0, bad.ToString());
    }

    [Fact]
    public void AFailedMirrorWriteIsAWarningNotAFailedCommit()
    {
        _h.RunSteps(M);
        var dev = new FaultInjectingDevice(new MemoryBlockDevice(_h.Disk));
        using (var fs = new Filesystem(BtrfsImage.Open(dev, new BtrfsImage.OpenOptions(Writable: true)), CrashWorkload.Options(3)))
        {
            dev.OnWrite = (_, off, _) => { if (off == Superblock.MirrorOffset(1)) dev.FailNextWrite(); };
            _h.Workload.Steps[M].Apply(fs);
            Assert.Contains(fs.Image.Warnings, w => w.Contains("mirror 1"));
            Assert.Null(fs.Image.WriteFailure);
            dev.OnWrite = null;
            _h.Workload.Steps[M + 1].Apply(fs);
        }
        var o = _h.Verify("after a failed mirror write", expectGeneration: _h.Workload.BaseGeneration + M + 2);
        CrashHarness.AssertClean(o, "after a failed mirror write");
    }
}
