using BtrfsLite.Format;

namespace BtrfsLite.Tests.Format;

/// <summary>Every on-disk layout's size pinned, and each offset table ending exactly at its size.</summary>
public class SizeTests
{
    [Fact]
    public void LayoutSizes()
    {
        Assert.Equal(0x65, NodeHeader.Size);
        Assert.Equal(4096, Superblock.Size);
        Assert.Equal(168, BackupRoot.Size);
        Assert.Equal(98, DevItem.Size);
        Assert.Equal(48, ChunkItem.Size);
        Assert.Equal(32, Stripe.Size);
        Assert.Equal(48, DevExtent.Size);
        Assert.Equal(24, BlockGroupItem.Size);
        Assert.Equal(160, InodeItem.Size);
        Assert.Equal(439, RootItem.Size);
        Assert.Equal(239, RootItem.LegacySize);
        Assert.Equal(53, FileExtentItem.Size);
        Assert.Equal(21, FileExtentItem.HeaderSize);
        Assert.Equal(24, ExtentItem.Size);
        Assert.Equal(18, ExtentItem.TreeBlockInfoSize);
        Assert.Equal(28, ExtentDataRef.Size);
        Assert.Equal(4, SharedDataRef.Size);
        Assert.Equal(32, QgroupStatusItem.Size);
        Assert.Equal(40, QgroupStatusItem.SizeWithEnableGen);
        Assert.Equal(40, QgroupInfoItem.Size);
        Assert.Equal(40, QgroupLimitItem.Size);
        Assert.Equal(8, FreeSpaceInfoItem.Size);
        Assert.Equal(40, DevStatsItem.Size);
        Assert.Equal(25, ItemHeader.Size);
        Assert.Equal(33, KeyPtr.Size);
        Assert.Equal(17, Key.Size);
        Assert.Equal(30, DirEntry.HeaderSize);
        Assert.Equal(10, InodeRefEntry.HeaderSize);
        Assert.Equal(18, InodeExtrefEntry.HeaderSize);
        Assert.Equal(18, RootRef.HeaderSize);
        Assert.Equal(12, Timespec.Size);
        Assert.Equal(2048, Superblock.SysChunkArrayMax);
    }

    [Fact]
    public void OffsetTablesEndAtTheirSize()
    {
        Assert.Equal(NodeHeader.Size, NodeHeader.Offsets.Level + 1);
        Assert.Equal(ItemHeader.Size, ItemHeader.DataSize + 4);
        Assert.Equal(KeyPtr.Size, KeyPtr.Generation + 8);
        Assert.Equal(Superblock.Offsets.SysChunkArray + Superblock.SysChunkArrayMax, Superblock.Offsets.SuperRoots);
        Assert.Equal(Superblock.Offsets.SuperRoots + 4 * BackupRoot.Size, Superblock.Offsets.Padding);
        Assert.Equal(Superblock.Size, Superblock.Offsets.Padding + 565);
        Assert.Equal(Superblock.Offsets.DevItem + DevItem.Size, Superblock.Offsets.Label);
        Assert.Equal(Superblock.Offsets.Label + Superblock.LabelSize, Superblock.Offsets.CacheGeneration);
        Assert.Equal(Superblock.Offsets.Reserved + 216, Superblock.Offsets.SysChunkArray);
        Assert.Equal(BackupRoot.Size, BackupRoot.Offsets.CsumRootLevel + 1 + 10);
        Assert.Equal(DevItem.Size, DevItem.Offsets.Fsid + 16);
        Assert.Equal(ChunkItem.Size, ChunkItem.Offsets.Stripes);
        Assert.Equal(ChunkItem.Size, ChunkItem.Offsets.SubStripes + 2);
        Assert.Equal(Stripe.Size, Stripe.Offsets.DevUuid + 16);
        Assert.Equal(DevExtent.Size, DevExtent.Offsets.ChunkTreeUuid + 16);
        Assert.Equal(BlockGroupItem.Size, BlockGroupItem.Offsets.Flags + 8);
        Assert.Equal(InodeItem.Size, InodeItem.Offsets.Otime + Timespec.Size);
        Assert.Equal(InodeItem.Offsets.Atime, InodeItem.Offsets.Reserved + 32);
        Assert.Equal(RootItem.LegacySize, RootItem.Offsets.GenerationV2);
        Assert.Equal(RootItem.Size, RootItem.Offsets.Reserved + 64);
        Assert.Equal(RootItem.Offsets.DropLevel, RootItem.Offsets.DropProgress + Key.Size);
        Assert.Equal(FileExtentItem.HeaderSize, FileExtentItem.Offsets.Type + 1);
        Assert.Equal(FileExtentItem.Size, FileExtentItem.Offsets.NumBytes + 8);
        Assert.Equal(ExtentDataRef.Size, ExtentDataRef.Offsets.Count + 4);
        Assert.Equal(QgroupStatusItem.SizeWithEnableGen, QgroupStatusItem.Offsets.EnableGen + 8);
        Assert.Equal(QgroupInfoItem.Size, QgroupInfoItem.Offsets.ExclCmpr + 8);
        Assert.Equal(QgroupLimitItem.Size, QgroupLimitItem.Offsets.RsvExcl + 8);
        Assert.Equal(DirEntry.HeaderSize, DirEntry.Offsets.Type + 1);
        Assert.Equal(RootRef.HeaderSize, RootRef.Offsets.Name);
        Assert.Equal(1 + ExtentDataRef.Size, InlineRef.SizeOf(ItemType.ExtentDataRef));
        Assert.Equal(13, InlineRef.SizeOf(ItemType.SharedDataRef));
        Assert.Equal(9, InlineRef.SizeOf(ItemType.TreeBlockRef));
        Assert.Equal(9, InlineRef.SizeOf(ItemType.SharedBlockRef));
    }

    [Fact]
    public void NodeCapacitiesAt16K()
    {
        Assert.Equal(16283 / 25, Leaf.MaxItems(16384));
        Assert.Equal(493, InternalNode.MaxItems(16384));
    }
}
