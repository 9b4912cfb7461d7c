using BtrfsLite.Format;
using BtrfsLite.Images;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Trees;

/// <summary>Every golden image (mkfs.btrfs and kernel-made) opens and every tree reads in strict key order. No root, no btrfs-progs.</summary>
public class GoldenImageReadTests
{
    [Theory]
    [MemberData(nameof(GoldenImages.AllNames), MemberType = typeof(GoldenImages))]
    public void EveryTreeOfEveryGoldenImageReads(string name)
    {
        using var tmp = new TempDir();
        using var fs = BtrfsImage.Open(GoldenImages.Extract(name, tmp));
        var cur = fs.NewCursor();
        long items = 0;
        foreach (var root in fs.Roots.Values)
        {
            if (!cur.First(root)) continue;
            var prev = cur.Key;
            items++;
            while (cur.Next())
            {
                Assert.True(prev < cur.Key);
                prev = cur.Key;
                items++;
            }
        }
        // The number of items equals what btrfs-progs printed for the same image ("item N key" lines).
        long expected = File.ReadLines(GoldenImages.Sidecar(name, "dump-tree.txt")).Count(l => l.StartsWith("\titem ", StringComparison.Ordinal) && l.Contains(" itemoff "));
        var fst = GoldenImages.Sidecar(name, "dump-tree-fst.txt");
        bool plainHasFst = File.ReadLines(GoldenImages.Sidecar(name, "dump-tree.txt")).Any(l => l.StartsWith("free space tree key", StringComparison.Ordinal));
        if (File.Exists(fst) && !plainHasFst)
            expected += File.ReadLines(fst).Count(l => l.StartsWith("\titem ", StringComparison.Ordinal) && l.Contains(" itemoff "));
        Assert.Equal(expected, items);
    }

    [Fact]
    public void KernelRichHasMultiLevelTreesAndSharedBlocks()
    {
        using var tmp = new TempDir();
        using var fs = BtrfsImage.Open(GoldenImages.Extract("kernel-rich", tmp));
        Assert.Contains(fs.Roots.Values, r => ObjectIds.IsFsTree(r.TreeId) && r.Level == 2);
        // Walk extent items and find the shared kinds the snapshot produced.
        var cur = fs.NewCursor();
        bool fullBackref = false, sharedBlock = false, sharedData = false;
        cur.First(fs.GetRoot(ObjectIds.ExtentTree));
        do
        {
            if (cur.Type is not (ItemType.ExtentItem or ItemType.MetadataItem)) continue;
            var ei = new ExtentItem(cur.Data);
            fullBackref |= (ei.Flags & ExtentFlags.FullBackref) != 0;
            var r = new InlineRefReader(cur.Data, ExtentItem.InlineRefStart(cur.Type, ei.Flags));
            while (r.Next(out var ir))
            {
                sharedBlock |= ir.Type == ItemType.SharedBlockRef;
                sharedData |= ir.Type == ItemType.SharedDataRef;
            }
            Assert.False(r.Malformed, r.Error);
        } while (cur.Next());
        Assert.True(fullBackref && sharedBlock && sharedData);
    }
}
