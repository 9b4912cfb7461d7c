using BtrfsLite.Format;
using BtrfsLite.Images;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Trees;

public class ReadMkfsImageTests
{
    [RequiresBtrfsProgsTheory]
    [InlineData("single", new[] { "-m", "single", "-d", "single", "-R", "quota" })]
    [InlineData("dup", new string[0])]
    [InlineData("nofst", new[] { "-R", "^free-space-tree" })]
    public void OpensFreshMkfsImageAndWalksEveryTree(string name, string[] args)
    {
        using var tmp = new TempDir();
        var img = RealTools.Mkfs(tmp.File(name + ".img"), 256L << 20, args);
        using var fs = BtrfsImage.Open(img);
        Assert.Equal(16384, fs.NodeSize);
        Assert.True(fs.TryGetRoot(ObjectIds.FsTree, out _));
        Assert.True(fs.TryGetRoot(ObjectIds.ExtentTree, out _));
        Assert.True(fs.TryGetRoot(ObjectIds.DevTree, out _));
        var cur = fs.NewCursor();
        int items = 0;
        foreach (var root in fs.Roots.Values)
        {
            if (!cur.First(root)) continue;
            var prev = cur.Key;
            items++;
            while (cur.Next())
            {
                Assert.True(prev < cur.Key, $"tree {root.TreeId}: {prev} !< {cur.Key}");
                prev = cur.Key;
                items++;
            }
        }
        Assert.True(items > 20, $"only {items} items");
        // Every chunk in the chunk tree maps, and the fs tree root inode is there.
        Assert.Equal(3, fs.Chunks.Chunks.Count);
        Assert.True(cur.Find(fs.GetRoot(ObjectIds.FsTree), new Key(256, ItemType.InodeItem, 0)));
        Assert.True(new InodeItem(cur.Data).IsDir);
    }
}
