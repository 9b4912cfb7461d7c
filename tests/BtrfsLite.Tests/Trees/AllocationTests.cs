using BtrfsLite.Format;
using BtrfsLite.Images;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Trees;

/// <summary>Searching and iterating trees must allocate nothing once the node cache is warm (design.md).</summary>
public class AllocationTests
{
    [RequiresBtrfsProgsFact]
    public void SearchAndIterationAllocateZeroBytesAfterWarmUp()
    {
        using var tmp = new TempDir();
        // A populated tree: --rootdir with 600 files gives an fs tree of several leaves under a node.
        var src = Directory.CreateDirectory(tmp.File("src")).FullName;
        for (int i = 0; i < 600; i++) File.WriteAllText(Path.Combine(src, $"file-{i:D4}.txt"), new string('x', i % 50 + 1));
        var img = RealTools.Mkfs(tmp.File("a.img"), 256L << 20, "-m", "single", "-d", "single", "--rootdir", src);
        using var fs = BtrfsImage.Open(img);
        var root = fs.GetRoot(ObjectIds.FsTree);
        Assert.True(root.Level >= 1, "the fs tree should have more than one leaf for this test");
        var cur = fs.NewCursor();
        var keys = new Key[64];
        int k = 0;
        cur.First(root);
        do { if (k < keys.Length && cur.Type == ItemType.InodeItem) keys[k++] = cur.Key; } while (cur.Next());
        Assert.Equal(keys.Length, k);

        long Work()
        {
            long sum = 0;
            // ordered iteration over every item, reading key and payload
            cur.First(root);
            do { sum += (long)cur.Offset + (cur.DataSize > 0 ? cur.Data[0] : 0); } while (cur.Next());
            // point searches
            for (int i = 0; i < keys.Length; i++)
                if (cur.Find(root, keys[i])) sum += new InodeItem(cur.Data).Mode;
            // and backwards
            cur.Seek(root, Key.Max);
            while (cur.Prev()) sum++;
            return sum;
        }

        long expected = Work(); // warm-up: fills the node cache, JITs everything
        Work();
        long before = GC.GetAllocatedBytesForCurrentThread();
        long got = 0;
        for (int i = 0; i < 20; i++) got += Work();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(expected * 20, got);
        Assert.Equal(0, allocated);
    }
}
