using BtrfsLite.Format;
using BtrfsLite.Trees;

namespace BtrfsLite.Tests.Trees;

public class CowTreeLargeTests
{
    private static Key K(ulong i) => new(i, ItemType.InodeItem, 0);

    /// <summary>100,000 random inserts (4 KiB nodes: 3 levels), then random deletes down to nothing.</summary>
    [Fact]
    public void HundredThousandInsertsThenDeletesToEmpty()
    {
        const int N = 100_000;
        var store = new MemoryTreeBlockStore(4096, capacity: 1 << 16, validateReads: false, keepCommittedCopies: false);
        var tree = CowTree.CreateEmpty(store, 5);
        var rnd = new Random(12345);
        var ids = Enumerable.Range(0, N).Select(i => (ulong)i * 977 % 1_000_003).ToArray();
        rnd.Shuffle(ids);
        for (int i = 0; i < N; i++)
        {
            var d = tree.Insert(K(ids[i]), 20 + (int)(ids[i] % 140));
            d[0] = (byte)ids[i];
            if (i % 20000 == 19999) store.Commit();
        }
        store.ValidateReads = true;
        var shape = CowTreeChecks.Walk(tree, store);
        Assert.Equal(N, shape.Items.Count);
        Assert.True(tree.RootLevel >= 2, $"height {tree.RootLevel + 1}");
        double fill = shape.Leaves.Sum(l => (double)l.Used) / (shape.Leaves.Count * (4096.0 - NodeHeader.Size));
        Assert.True(fill > 0.6, $"leaf fill after random inserts {fill:P0}");
        store.ValidateReads = false;

        rnd.Shuffle(ids);
        for (int i = 0; i < N; i++)
        {
            Assert.True(tree.Delete(K(ids[i])));
            if (i % 20000 == 19999) store.Commit();
            if (i == N * 9 / 10)
            {
                // 10% left: merges keep leaves reasonably full
                store.ValidateReads = true;
                var mid = CowTreeChecks.Walk(tree, store);
                store.ValidateReads = false;
                Assert.Equal(N - i - 1, mid.Items.Count);
                double f = mid.Leaves.Sum(l => (double)l.Used) / (mid.Leaves.Count * (4096.0 - NodeHeader.Size));
                Assert.True(f > 0.3, $"leaf fill after deleting 90% {f:P0} over {mid.Leaves.Count} leaves");
            }
        }
        store.ValidateReads = true;
        var end = CowTreeChecks.Walk(tree, store);
        Assert.Empty(end.Items);
        Assert.Equal(0, tree.RootLevel);
        Assert.Single(end.Reachable);
    }

    [Fact]
    public void DeepTreeWithBigItems()
    {
        // 4 KiB nodes, 1000-byte items: at most 3 per leaf, so 40,000 items give 4 levels
        var store = new MemoryTreeBlockStore(4096, capacity: 1 << 15, validateReads: false, keepCommittedCopies: false);
        var tree = CowTree.CreateEmpty(store, 5);
        for (ulong i = 0; i < 40_000; i++) tree.Insert(K(i * 2654435761UL % 4_000_037), 1000)[999] = 1;
        Assert.True(tree.RootLevel >= 3);
        store.ValidateReads = true;
        var shape = CowTreeChecks.Walk(tree, store);
        Assert.Equal(40_000, shape.Items.Count);
        Assert.Equal(40_000, DeleteAll(tree, shape));
        var end = CowTreeChecks.Walk(tree, store);
        Assert.Single(end.Reachable);
    }

    private static int DeleteAll(CowTree tree, TreeShape shape)
    {
        int n = 0;
        // every other key one by one, then the rest by range
        for (int i = 0; i < shape.Items.Count; i += 2) { Assert.True(tree.Delete(shape.Items[i].Key)); n++; }
        n += tree.DeleteRange(Key.Min, Key.Max);
        return n;
    }
}
