using BtrfsLite.Format;
using BtrfsLite.Trees;

namespace BtrfsLite.Tests.Trees;

/// <summary>
/// Nodes balance on the way down as the kernel's btrfs_search_slot does (setup_nodes_for_search): split_node and
/// push_nodes_for_insert for inserts, balance_level for deletes, and nothing on the way back up. 512-byte nodes hold
/// 12 pointers, so a node splits on an insert's way down from 9 and is balanced on a delete's way down at 3 or fewer;
/// 100-byte items make 3 per leaf.
/// </summary>
public class CowTreeNodeTests
{
    private const int NodeSize = 512, Payload = 100;

    private static Key Ino(ulong ino) => new(ino, ItemType.InodeItem, 0);

    /// <summary>The level-1 nodes left to right: each one's leaves (bytenr, first key, items).</summary>
    private static List<List<TreeShape.LeafInfo>> LevelOne(CowTree t, MemoryTreeBlockStore s)
    {
        var shape = CowTreeChecks.Walk(t, s);
        var nodes = new List<List<TreeShape.LeafInfo>>();
        foreach (var l in shape.Leaves)
        {
            if (l.IndexInParent == 0) nodes.Add(new());
            nodes[^1].Add(l);
        }
        return nodes;
    }

    private static void EmptyLeaf(CowTree t, TreeShape.LeafInfo leaf)
    {
        for (ulong k = leaf.First.ObjectId; k <= leaf.Last.ObjectId; k++) Assert.True(t.Delete(Ino(k)));
    }

    [Fact]
    public void ARootThreePointersFromFullSplitsOnAnInsertsWayDownEvenWhenTheLeafHasRoom()
    {
        var s = new MemoryTreeBlockStore(NodeSize);
        var t = CowTree.CreateEmpty(s, 5);
        Assert.Equal(12, InternalNode.MaxItems(NodeSize));
        ulong next = 0;
        // Ascending inserts until the root (level 1) has 9 children; the leaf that a split just made has room.
        while (t.RootLevel == 0 || LevelOne(t, s)[0].Count < 9) t.Insert(Ino(next++), Payload);
        Assert.Equal(1, t.RootLevel);
        var last = LevelOne(t, s)[0][^1];
        Assert.True(last.NrItems < 3, "the next item fits in the last leaf");
        t.Insert(Ino(next++), Payload);
        // The leaf took it without a split, but the root was split first: 9 pointers, (9 + 1) / 2 = 5 on the left.
        Assert.Equal(2, t.RootLevel);
        var nodes = LevelOne(t, s);
        Assert.Equal(new[] { 5, 4 }, nodes.Select(n => n.Count));
        Assert.Equal(last.Bytenr, nodes[1][^1].Bytenr);
        Assert.Equal(last.NrItems + 1, nodes[1][^1].NrItems);
    }

    [Fact]
    public void AscendingInsertsFillNodesByPushingLeftBeforeSplitting()
    {
        var s = new MemoryTreeBlockStore(NodeSize);
        var t = CowTree.CreateEmpty(s, 5);
        for (ulong i = 0; i < 600; i++) t.Insert(Ino(i), Payload);
        var nodes = LevelOne(t, s);
        Assert.True(nodes.Count >= 6);
        // A node 3 from full pushes all but 8 of its pointers into its left sibling while that has fewer than 11
        // (push_nodes_for_insert), here one at a time, so the nodes before the last two hold 11; a middle split alone
        // would leave them at 5 to 9.
        Assert.All(nodes.Take(nodes.Count - 2), n => Assert.Equal(11, n.Count));
    }

    [Fact]
    public void ARootLeftWithOneChildStaysUntilTheNextDeletePassesThroughIt()
    {
        var s = new MemoryTreeBlockStore(4096);
        var t = CowTree.CreateEmpty(s, 5);
        for (ulong i = 0; i < 40; i++) t.Insert(Ino(i), Payload);
        var leaves = LevelOne(t, s)[0];
        Assert.Equal(2, leaves.Count);
        // Delete the second leaf's items from its last until its pointer goes (freed empty, or pushed left whole).
        for (ulong k = leaves[1].Last.ObjectId; LevelOne(t, s)[0].Count == 2; k--) Assert.True(t.Delete(Ino(k)));
        // btrfs_del_leaf only removes the pointer: the root keeps one child.
        Assert.Equal(1, t.RootLevel);
        Assert.Single(LevelOne(t, s)[0]);
        t.Insert(Ino(1000), Payload); // an insert's way down does not promote it
        Assert.True(t.TryGetForWrite(Ino(1000), out _));
        Assert.Equal(1, t.RootLevel);
        Assert.Equal(2, CowTreeChecks.Walk(t, s).Reachable.Count); // the root node and its one leaf
        Assert.True(t.Delete(Ino(0))); // balance_level on the way down: the child becomes the root
        Assert.Equal(0, t.RootLevel);
        Assert.Single(CowTreeChecks.Walk(t, s).Reachable);
    }

    [Fact]
    public void ANodeAQuarterFullIsBalancedByTheNextDeleteThroughItNotByTheOneThatEmptiedALeaf()
    {
        var s = new MemoryTreeBlockStore(NodeSize);
        var t = CowTree.CreateEmpty(s, 5);
        for (ulong i = 0; i < 300; i++) t.Insert(Ino(i), Payload);
        s.Commit();
        var nodes = LevelOne(t, s);
        Assert.True(nodes.Count >= 3 && nodes[0].Count > 7 && nodes[1].Count > 3, string.Join(",", nodes.Select(n => n.Count)));
        // The left node down to 7 pointers and the middle one down to 3, a leaf at a time (from the back: the leaves
        // before take nothing from a leaf after them), with no node under 4 on a delete's way down.
        while (LevelOne(t, s)[0].Count > 7) EmptyLeaf(t, LevelOne(t, s)[0][^1]);
        while (LevelOne(t, s)[1].Count > 3) EmptyLeaf(t, LevelOne(t, s)[1][^1]);
        nodes = LevelOne(t, s);
        Assert.Equal(7, nodes[0].Count);
        Assert.Equal(3, nodes[1].Count); // not merged by the deletes that emptied its leaves
        int right = nodes[2].Count, count = nodes.Count;
        var leaf = nodes[1].First(l => l.NrItems >= 2);
        Assert.True(t.Delete(leaf.First));
        // balance_level: the middle node's 3 pointers go into the left one (7 + 3), the right node's all fit into the
        // emptied middle one, and the right node is freed.
        nodes = LevelOne(t, s);
        Assert.Equal(count - 1, nodes.Count);
        Assert.Equal(10, nodes[0].Count);
        Assert.Equal(right, nodes[1].Count);
        Assert.False(t.Contains(leaf.First));
    }

    [Fact]
    public void ABatchInsertGoesSideBySideIntoOneLeafAfterOneSplitDecision()
    {
        var s = new MemoryTreeBlockStore(4096);
        var t = CowTree.CreateEmpty(s, 5);
        for (ulong i = 0; i < 60; i++) t.Insert(Ino(i * 100), Payload);
        // 20 items of 100 bytes (2,500 bytes with their headers) between two existing keys: no leaf has that room.
        var keys = Enumerable.Range(1, 20).Select(i => new Key(1000, ItemType.DirIndex, (ulong)i)).ToArray();
        var sizes = Enumerable.Repeat(Payload, 20).ToArray();
        t.InsertBatch(keys, sizes);
        var shape = CowTreeChecks.Walk(t, s);
        var leaf = shape.Leaves.Single(l => l.First <= keys[0] && keys[0] <= l.Last);
        Assert.True(leaf.First <= keys[^1] && keys[^1] <= leaf.Last, "the whole batch in one leaf");
        Assert.Equal(80, shape.Items.Count);
        Assert.ThrowsAny<InvalidDataException>(() => t.InsertBatch(keys.AsSpan(0, 1), sizes.AsSpan(0, 1))); // the tree holds it already: damage
        Assert.Throws<ArgumentException>(() => t.InsertBatch(new[] { keys[1], keys[0] }, sizes.AsSpan(0, 2)));
        long changes = t.Changes;
        Assert.Throws<ArgumentException>(() => t.InsertBatch(new[] { Ino(50), Ino(150) }, sizes.AsSpan(0, 2))); // Ino(100) lies between
        Assert.Equal(changes, t.Changes);
    }

    [Fact]
    public void DeleteLastRunDeletesARangeFromItsEndALeafAtATime()
    {
        var s = new MemoryTreeBlockStore(4096);
        var t = CowTree.CreateEmpty(s, 5);
        for (ulong i = 0; i < 200; i++) t.Insert(new Key(500 + i / 100, ItemType.ExtentData, i % 100), Payload);
        s.Commit();
        var first = new Key(500, 0, 0);
        var last = new Key(500, (ItemType)255, ulong.MaxValue);
        var before = CowTreeChecks.Walk(t, s).Leaves.Where(l => l.NrItems > 0 && l.First.ObjectId <= 500).ToList();
        int round = 0, total = 0;
        for (int n; (n = t.DeleteLastRun(first, last)) > 0; round++)
        {
            // Each round takes what the range has in the leaf it ends in, as btrfs_truncate_inode_items does.
            var leaf = before[^(round + 1)];
            int expected = leaf.Last.ObjectId == 500 ? leaf.NrItems : (int)(leaf.NrItems - CountFrom(leaf, 501));
            Assert.Equal(expected, n);
            total += n;
        }
        Assert.Equal(100, total);
        Assert.Equal(before.Count, round);
        var after = CowTreeChecks.Walk(t, s);
        Assert.Equal(100, after.Items.Count);
        Assert.All(after.Items, i => Assert.Equal(501UL, i.Key.ObjectId));
    }

    private static long CountFrom(TreeShape.LeafInfo leaf, ulong objectId) =>
        leaf.First.ObjectId >= objectId ? leaf.NrItems : (long)(leaf.Last.Offset + 1);
}
