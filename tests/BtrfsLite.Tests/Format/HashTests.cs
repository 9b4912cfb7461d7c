using System.Text;
using BtrfsLite.Format;

namespace BtrfsLite.Tests.Format;

/// <summary>Hash vectors of btrfs-format.md 1.1 and 4.16 (the [H] ones were read off real images).</summary>
public class HashTests
{
    [Fact]
    public void Crc32CCheckValue() => Assert.Equal(0xE3069283u, Checksums.Crc32C(Encoding.ASCII.GetBytes("123456789")));

    [Fact]
    public void RawCrcIsTheStandardCrcWithoutTheFinalXor() =>
        Assert.Equal(Checksums.Crc32C(Encoding.ASCII.GetBytes("123456789")), ~Checksums.Crc32CRaw(uint.MaxValue, Encoding.ASCII.GetBytes("123456789")));

    [Theory]
    [InlineData("default", 0x8DBFC2D2UL)]
    [InlineData("small.txt", 474883676UL)]
    [InlineData("user.test", 103394969UL)]
    public void NameHash(string name, ulong expected) => Assert.Equal(expected, Checksums.NameHash(Encoding.ASCII.GetBytes(name)));

    [Theory]
    [InlineData(5UL, 314UL, 0UL, 0x0DFB591F087AA3FFUL)]
    [InlineData(5UL, 258UL, 0UL, 1007496934479754521UL)]
    [InlineData(5UL, 261UL, 0UL, 1007496933172394241UL)]
    public void ExtentDataRefHash(ulong root, ulong ino, ulong offset, ulong expected) =>
        Assert.Equal(expected, Checksums.ExtentDataRefHash(root, ino, offset));

    [Fact]
    public void ExtentDataRefsSortDescendingByHash() =>
        Assert.True(Checksums.ExtentDataRefHash(5, 258, 0) > Checksums.ExtentDataRefHash(5, 261, 0));

    [Fact]
    public void ExtrefHash() => Assert.Equal(0xBC029510UL, Checksums.ExtrefHash(256, Encoding.ASCII.GetBytes("foo")));
}
