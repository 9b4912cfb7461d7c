using BtrfsLite.Format;
using BtrfsLite.Trees;

namespace BtrfsLite.Tests.Trees;

public class CowTreeTests
{
    private static Key Ino(ulong ino) => new(ino, ItemType.InodeItem, 0);

    private static void Check(CowTree t, MemoryTreeBlockStore s) => CowTreeChecks.Walk(t, s);

    [Fact]
    public void CreateEmptyIsOneEmptyLeafRoot()
    {
        var s = new MemoryTreeBlockStore();
        var t = CowTree.CreateEmpty(s, 5);
        Assert.True(t.RootChanged);
        Assert.Equal(0, t.RootLevel);
        Assert.Equal(s.Generation, t.RootGeneration);
        Assert.Equal(16258, t.MaxItemSize);
        Assert.False(t.Contains(Ino(256)));
        Assert.False(t.Seek(Key.Min));
        Assert.Equal(0, t.DeleteRange(Key.Min, Key.Max));
        var shape = CowTreeChecks.Walk(t, s);
        Assert.Single(shape.Reachable);
    }

    [Fact]
    public void InsertLookupDuplicate()
    {
        var s = new MemoryTreeBlockStore();
        var t = CowTree.CreateEmpty(s, 5);
        var d = t.Insert(Ino(257), 160);
        d[0] = 42;
        Assert.True(t.TryGet(Ino(257), out var r));
        Assert.Equal(42, r[0]);
        Assert.Equal(160, r.Length);
        Assert.Throws<InvalidDataException>(() => t.Insert(Ino(257), 10)); // a duplicate is damage: the typed corruption error
        Assert.False(t.TryInsert(Ino(257), 10, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Insert(Ino(258), t.MaxItemSize + 1));
        Assert.Throws<KeyNotFoundException>(() => t.Resize(Ino(300), 10));
        Assert.True(t.Contains(Ino(257)));
        Assert.False(t.Contains(Ino(256)));
        Check(t, s);
    }

    [Fact]
    public void ChangesCountItemChangesAndNothingElse()
    {
        // What a session compares around a failed operation: lookups and refused changes leave it as it was.
        var s = new MemoryTreeBlockStore();
        var t = CowTree.CreateEmpty(s, 5);
        Assert.Equal(0, t.Changes);
        for (ulong i = 0; i < 3; i++) t.Insert(Ino(256 + i), 100);
        long n = t.Changes;
        Assert.Equal(3, n);
        Assert.True(t.TryGet(Ino(256), out _));
        Assert.True(t.Contains(Ino(257)));
        Assert.False(t.TryInsert(Ino(256), 10, out _));
        Assert.False(t.Delete(Ino(300)));
        Assert.False(t.TryGetForWrite(Ino(300), out _));
        Assert.Equal(0, t.DeleteRange(Ino(400), Ino(500)));
        Assert.Equal(n, t.Changes);
        t.Resize(Ino(256), 120);
        Assert.Equal(n + 1, t.Changes);
        Assert.True(t.TryGetForWrite(Ino(257), out _));
        Assert.Equal(n + 2, t.Changes);
        Assert.True(t.Delete(Ino(258)));
        Assert.Equal(n + 3, t.Changes);
        Assert.Equal(2, t.DeleteRange(Key.Min, Key.Max));
        Assert.True(t.Changes > n + 3);
    }

    [Fact]
    public void SequentialInsertsFillLeavesAndNodes()
    {
        var s = new MemoryTreeBlockStore(4096);
        var t = CowTree.CreateEmpty(s, 5);
        const int N = 20000;
        for (ulong i = 0; i < N; i++) t.Insert(Ino(256 + i), 160).Fill((byte)i);
        var shape = CowTreeChecks.Walk(t, s);
        Assert.Equal(N, shape.Items.Count);
        // ascending inserts keep full leaves: a full leaf splits in the middle and the next inserts push into its left
        // half until that is full, so every leaf holds (4096-101)/(160+25) = 21 items, except the half leaf a node
        // split left behind (a push never crosses parents), one per node split
        Assert.All(shape.Leaves, l => Assert.InRange(l.NrItems, 10, 21));
        Assert.True(shape.Leaves.Count(l => l.NrItems < 21) <= shape.Nodes, "half leaves only where nodes split");
        // and full nodes: a node 3 pointers from full pushes all but 8 of them into its left sibling (push_nodes_for_insert)
        // before it splits, so the level-1 nodes hold 121 pointers each but the last two
        Assert.True(t.RootLevel >= 2);
        int perNode = InternalNode.MaxItems(4096);
        Assert.Equal(121, perNode);
        Assert.InRange(shape.Nodes, (shape.Leaves.Count + perNode - 1) / perNode + 1, (shape.Leaves.Count + perNode - 1) / perNode + 3);
        // and descending ones too
        var t2 = CowTree.CreateEmpty(s, 6);
        for (ulong i = N; i > 0; i--) t2.Insert(Ino(i), 160);
        var shape2 = CowTreeChecks.Walk(t2, s, checkLive: false);
        // (pushes go right now: the half leaves sit at the first children)
        Assert.True(shape2.Leaves.Count(l => l.NrItems < 21) <= shape2.Nodes + 1, "half leaves only at node ends");
        Assert.All(shape2.Leaves, l => Assert.InRange(l.NrItems, 10, 21));
    }

    [Fact]
    public void HugeItemsSplitThreeWays()
    {
        var s = new MemoryTreeBlockStore();
        var t = CowTree.CreateEmpty(s, 5);
        int max = t.MaxItemSize;
        t.Insert(Ino(1), 100).Fill(1);
        t.Insert(Ino(3), 8100).Fill(3);
        t.Insert(Ino(4), 8100).Fill(4);
        Assert.Equal(1, t.RootLevel);
        // between two items that each fill half a leaf: the new item gets a leaf of its own
        t.Insert(Ino(2), max).Fill(2);
        t.Insert(Ino(0), max).Fill(0);
        t.Insert(Ino(5), max).Fill(5);
        var shape = CowTreeChecks.Walk(t, s);
        Assert.Equal([0UL, 1, 2, 3, 4, 5], shape.Items.Select(i => i.Key.ObjectId));
        Assert.All(shape.Items, i => Assert.All(i.Data, b => Assert.Equal((byte)i.Key.ObjectId, b)));
        // grow an item until it needs a leaf of its own, then shrink it back
        var d = t.Resize(Ino(1), max);
        Assert.Equal(max, d.Length);
        Assert.All(d[..100].ToArray(), b => Assert.Equal(1, b));
        Assert.True(d[100..].IndexOfAnyExcept((byte)0) < 0);
        d = t.Resize(Ino(1), 10);
        Assert.Equal(10, d.Length);
        Check(t, s);
        foreach (var i in new ulong[] { 0, 1, 2, 3, 4, 5 }) Assert.True(t.Delete(Ino(i)));
        var end = CowTreeChecks.Walk(t, s);
        Assert.Single(end.Reachable);
        Assert.Equal(0, t.RootLevel);
    }

    [Fact]
    public void CommittedBlocksAreCowedNotModified()
    {
        var s = new MemoryTreeBlockStore(4096);
        var t = CowTree.CreateEmpty(s, 5);
        for (ulong i = 0; i < 2000; i++) t.Insert(Ino(i), 100).Fill((byte)i);
        s.Commit();
        t.AcknowledgeRootChange();
        ulong oldRoot = t.RootBytenr;
        long cows = s.Cows;
        Assert.True(t.TryGet(Ino(1000), out _));
        Assert.Equal(cows, s.Cows); // reading CoWs nothing
        Assert.True(t.TryGetForWrite(Ino(1000), out var d));
        d[0] = 0xEE;
        Assert.Equal(cows + t.RootLevel + 1, s.Cows); // one path
        Assert.NotEqual(oldRoot, t.RootBytenr);
        Assert.True(t.RootChanged);
        Assert.Equal(s.Generation, t.RootGeneration);
        Assert.True(t.TryGetForWrite(Ino(1001), out _));
        Assert.Equal(cows + t.RootLevel + 1, s.Cows); // same leaf: already dirty
        s.VerifyCommittedUnchanged();
        Check(t, s);
        s.Commit();
        Check(t, s);
    }

    [Fact]
    public void ResizeKeepsNeighbours()
    {
        var s = new MemoryTreeBlockStore();
        var t = CowTree.CreateEmpty(s, 5);
        for (ulong i = 0; i < 10; i++) t.Insert(Ino(i), 50).Fill((byte)(i + 1));
        var d = t.Resize(Ino(4), 80);
        Assert.All(d[..50].ToArray(), b => Assert.Equal(5, b));
        Assert.True(d[50..].IndexOfAnyExcept((byte)0) < 0);
        d = t.Resize(Ino(6), 20);
        Assert.All(d.ToArray(), b => Assert.Equal(7, b));
        d = t.InsertOrResize(Ino(6), 0);
        Assert.Equal(0, d.Length);
        d = t.InsertOrResize(Ino(20), 7);
        Assert.Equal(7, d.Length);
        for (ulong i = 0; i < 10; i++)
        {
            Assert.True(t.TryGet(Ino(i), out var r));
            if (i != 4 && i != 6) Assert.All(r.ToArray(), b => Assert.Equal((byte)(i + 1), b));
        }
        Check(t, s);
    }

    [Fact]
    public void DeleteRangeRemovesExactlyTheRange()
    {
        var s = new MemoryTreeBlockStore(4096);
        var t = CowTree.CreateEmpty(s, 5);
        for (ulong ino = 256; ino < 260; ino++)
        {
            t.Insert(Ino(ino), 160);
            for (ulong off = 0; off < 3000; off++) t.Insert(new Key(ino, ItemType.ExtentData, off * 4096), 53);
        }
        s.Commit();
        long cows = s.Cows;
        // truncate inode 257 from 1 MiB: only its extents at or past the offset go
        int n = t.DeleteRange(new Key(257, ItemType.ExtentData, 1 << 20), new Key(257, ItemType.ExtentData, ulong.MaxValue));
        Assert.Equal(3000 - 256, n);
        var shape = CowTreeChecks.Walk(t, s);
        Assert.Equal(4 * 3001 - n, shape.Items.Count);
        Assert.Contains(shape.Items, i => i.Key == new Key(257, ItemType.ExtentData, 255 * 4096));
        Assert.DoesNotContain(shape.Items, i => i.Key == new Key(257, ItemType.ExtentData, 256 * 4096));
        Assert.Contains(shape.Items, i => i.Key == Ino(258));
        // one leaf CoW per leaf touched (about 2744 * 78 / 3995 = 54 leaves) plus paths, not thousands
        Assert.InRange(s.Cows - cows, 10, 120);
        Assert.Equal(0, t.DeleteRange(new Key(257, ItemType.ExtentData, 1 << 20), new Key(257, ItemType.ExtentData, ulong.MaxValue)));
        Assert.Equal(4 * 3001 - n, t.DeleteRange(Key.Min, Key.Max));
        var end = CowTreeChecks.Walk(t, s);
        Assert.Single(end.Reachable);
        Assert.Equal(0, t.RootLevel);
    }

    [Fact]
    public void WriteCursorWalksEditsAndDeletes()
    {
        var s = new MemoryTreeBlockStore(4096);
        var t = CowTree.CreateEmpty(s, 5);
        for (ulong i = 0; i < 3000; i++) t.Insert(Ino(i), 40).Fill((byte)i);
        s.Commit();
        Assert.True(t.Seek(Ino(1000)));
        int seen = 0;
        do
        {
            var k = t.CurrentKey;
            if (k.ObjectId % 2 == 0) { if (!t.DeleteCurrent()) break; }
            else
            {
                t.CurrentData[0] = 0xAB;
                if (!t.MoveNext()) break;
            }
            seen++;
        } while (true);
        Assert.Equal(2000 - 1, seen);
        Assert.False(t.CursorValid);
        Assert.Throws<InvalidOperationException>(() => t.CurrentKey);
        var shape = CowTreeChecks.Walk(t, s);
        Assert.Equal(2000, shape.Items.Count);
        Assert.All(shape.Items, i => Assert.Equal(i.Key.ObjectId >= 1000 ? 0xAB : (byte)i.Key.ObjectId, i.Data[0]));
        Assert.DoesNotContain(shape.Items, i => i.Key.ObjectId >= 1000 && i.Key.ObjectId % 2 == 0);
        s.VerifyCommittedUnchanged();
    }

    [Fact]
    public void WriteCursorResizesInPlaceAndAcrossLeaves()
    {
        var s = new MemoryTreeBlockStore(4096);
        var t = CowTree.CreateEmpty(s, 5);
        for (ulong i = 0; i < 300; i++) t.Insert(Ino(i), 30).Fill((byte)i);
        s.Commit();
        Assert.True(t.Seek(Ino(100)));
        for (ulong i = 100; i < 200; i++)
        {
            Assert.Equal(Ino(i), t.CurrentKey);
            // every 10th item grows past what its leaf can hold and moves; the rest shrink
            var d = t.ResizeCurrent(i % 10 == 0 ? 3000 : 10);
            Assert.Equal(Ino(i), t.CurrentKey);
            Assert.All(d[..10].ToArray(), b => Assert.Equal((byte)i, b));
            Assert.True(t.MoveNext());
        }
        var shape = CowTreeChecks.Walk(t, s);
        Assert.Equal(300, shape.Items.Count);
        Assert.All(shape.Items, it => Assert.Equal(
            it.Key.ObjectId is >= 100 and < 200 ? (it.Key.ObjectId % 10 == 0 ? 3000 : 10) : 30, it.Data.Length));
        s.VerifyCommittedUnchanged();
    }

    [Fact]
    public void DeletingEverythingCollapsesToOneEmptyLeaf()
    {
        var s = new MemoryTreeBlockStore(4096);
        var t = CowTree.CreateEmpty(s, 5);
        for (ulong i = 0; i < 5000; i++) t.Insert(Ino(i * 7 % 5000), 100);
        s.Commit();
        Assert.True(t.RootLevel >= 2);
        for (ulong i = 0; i < 5000; i++) Assert.True(t.Delete(Ino(i * 3 % 5000)));
        var end = CowTreeChecks.Walk(t, s);
        Assert.Empty(end.Items);
        Assert.Equal(0, t.RootLevel);
        Assert.Single(end.Reachable);
        s.Commit();
        Assert.False(t.Delete(Ino(1)));
    }

    [Fact]
    public void OpensAnExistingRoot()
    {
        var s = new MemoryTreeBlockStore(4096);
        var t = CowTree.CreateEmpty(s, 5);
        for (ulong i = 0; i < 1000; i++) t.Insert(Ino(i), 100).Fill((byte)i);
        s.Commit();
        var t2 = new CowTree(s, 5, t.RootBytenr, t.RootLevel, t.RootGeneration);
        Assert.False(t2.RootChanged);
        Assert.True(t2.TryGet(Ino(999), out var r) && r[0] == unchecked((byte)999));
        t2.Insert(Ino(5000), 10);
        Assert.True(t2.RootChanged);
        Check(t2, s);
        // a TreeCursor sees the same tree
        var cur = new TreeCursor(s);
        int n = 0;
        if (cur.First(t2.Root)) do n++; while (cur.Next());
        Assert.Equal(1001, n);
    }
}
