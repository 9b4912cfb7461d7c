using BtrfsLite.Format;

namespace BtrfsLite.Tests.Format;

/// <summary>
/// ROOT_ITEM keys as the kernel's check_root_key and btrfs check judge them: which trees may carry a nonzero offset.
/// Found wrong by a real image: the log root tree's items (TREE_LOG ROOT_ITEM subvolume) were refused, so the
/// checker could not read an unreplayed log.
/// </summary>
public class TreeCheckerRootKeyTests
{
    private static string? Check(ulong objectId, ulong offset)
    {
        var item = new byte[RootItem.Size];
        Le.U64(item, RootItem.Offsets.Generation, 7);
        return TreeChecker.CheckItem(new Key(objectId, ItemType.RootItem, offset), item, new TreeChecker.Context(10, 4096));
    }

    [Theory]
    [InlineData(ObjectIds.FsTree, 0UL)]
    [InlineData(256UL, 0UL)]
    [InlineData(257UL, 12UL)]                   // a snapshot: the transid it was taken in
    [InlineData(ObjectIds.TreeReloc, 5UL)]      // relocation tree of the top-level subvolume
    [InlineData(ObjectIds.TreeReloc, 300UL)]
    [InlineData(ObjectIds.TreeLog, 5UL)]        // log root tree: the log of subvolume 5
    [InlineData(ObjectIds.TreeLog, 258UL)]
    [InlineData(ObjectIds.CsumTree, 0UL)]
    public void Accepted(ulong objectId, ulong offset) => Assert.Null(Check(objectId, offset));

    [Theory]
    [InlineData(ObjectIds.TreeReloc, 0UL, "invalid reloc tree for root 0")]
    [InlineData(ObjectIds.TreeReloc, ObjectIds.ExtentTree, "invalid reloc tree for root 2")]
    [InlineData(ObjectIds.CsumTree, 1UL, "invalid root key offset 1 for root 7")]
    [InlineData(ObjectIds.ExtentTree, 5UL, "invalid root key offset 5 for root 2")]
    public void Refused(ulong objectId, ulong offset, string message) => Assert.StartsWith(message, Check(objectId, offset));
}
