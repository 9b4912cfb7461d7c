using BtrfsLite.Fs;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Fs;

public class ChunkAllocationTests
{
    /// <summary>
    /// Chunks created while writing are sized from the device (a tenth of it): on a 255 or 256 MiB device that is not a
    /// multiple of anything. Every chunk must still be 1 MiB aligned (btrfs check: "unaligned or zero start/length").
    /// </summary>
    [Theory]
    [InlineData(255L << 20)]
    [InlineData(256L << 20)]
    public void ChunksCreatedWhileWritingAreAligned(long size)
    {
        using var tmp = new TempDir();
        var img = WriterEndToEndTests.NewImage(tmp, size: size, quota: true);
        var data = new byte[3 << 20];
        new Random(1).NextBytes(data);
        using (var fs = Filesystem.Open(img))
        {
            for (int i = 0; i < 16; i++) fs.Write($"f{i}", 0, data);
            foreach (var c in fs.Image.Chunks.Chunks)
            {
                Assert.Equal(0UL, c.Length % (1 << 20));
                Assert.Equal(0UL, c.Logical % (1 << 20));
            }
        }
        WriterEndToEndTests.AssertClean(img, quota: true);
    }
}
