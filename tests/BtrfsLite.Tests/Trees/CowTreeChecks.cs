using BtrfsLite.Format;
using BtrfsLite.IO;
using BtrfsLite.Trees;

namespace BtrfsLite.Tests.Trees;

/// <summary>What a full walk of a <see cref="CowTree"/> found.</summary>
public sealed class TreeShape
{
    public readonly List<(Key Key, byte[] Data)> Items = new();
    public readonly List<LeafInfo> Leaves = new();
    public readonly HashSet<ulong> Reachable = new();
    public int Nodes;
    public int Height;

    public readonly record struct LeafInfo(ulong Bytenr, ulong Parent, int IndexInParent, int ParentCount, int NrItems, int Used, Key First, Key Last);

    public int LeafIndexOf(in Key key)
    {
        int lo = 0, hi = Leaves.Count - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (Leaves[mid].NrItems > 0 && Leaves[mid].First <= key) lo = mid; else hi = mid - 1;
        }
        return lo;
    }
}

/// <summary>Walks a whole tree through the store and checks every structural invariant (throws on the first violation).</summary>
public static class CowTreeChecks
{
    public static TreeShape Walk(CowTree tree, MemoryTreeBlockStore store, bool items = true, bool checkLive = true)
    {
        var shape = new TreeShape { Height = tree.RootLevel + 1 };
        Key? last = null;
        Visit(tree, store, shape, tree.RootBytenr, tree.RootLevel, tree.RootGeneration, null, 0, 0, 0, ref last, items);
        if (checkLive)
        {
            var live = store.LiveBlocks();
            if (!live.SetEquals(shape.Reachable))
            {
                var leaked = live.Except(shape.Reachable).Take(5).ToArray();
                var dangling = shape.Reachable.Except(live).Take(5).ToArray();
                throw new Xunit.Sdk.XunitException(
                    $"live blocks != reachable blocks: not reachable but not freed/CoWed [{string.Join(",", leaked)}], reachable but dead [{string.Join(",", dangling)}]");
            }
        }
        return shape;
    }

    private static void Fail(string msg) => throw new Xunit.Sdk.XunitException(msg);

    private static void Visit(CowTree tree, MemoryTreeBlockStore store, TreeShape shape, ulong bytenr, int level, ulong gen,
        Key? expectFirst, ulong parent, int indexInParent, int parentCount, ref Key? last, bool items)
    {
        if (!shape.Reachable.Add(bytenr)) Fail($"block {bytenr} reachable twice");
        byte[] buf = store.Read(bytenr, new NodeExpectation(gen, level, 0)); // validates
        var h = new NodeHeader(buf);
        if (h.Owner != tree.TreeId) Fail($"block {bytenr} owner {h.Owner}");
        if (h.Generation > store.Generation) Fail($"block {bytenr} generation from the future");
        if (store.IsDirty(bytenr) && h.Generation != store.Generation) Fail($"dirty block {bytenr} has generation {h.Generation}");
        bool isRoot = bytenr == tree.RootBytenr;
        if (level == 0)
        {
            var leaf = new Leaf(buf);
            int n = leaf.NrItems;
            if (n == 0 && !isRoot) Fail($"empty non-root leaf {bytenr}");
            if (n > 0 && expectFirst is { } f && leaf.Key(0) != f) Fail($"leaf {bytenr} first key {leaf.Key(0)} != parent key {f}");
            for (int i = 0; i < n; i++)
            {
                var k = leaf.Key(i);
                if (last is { } l && l >= k) Fail($"key order across leaves: {l} then {k} in {bytenr}");
                last = k;
                if (items) shape.Items.Add((k, leaf.Data(i).ToArray()));
            }
            shape.Leaves.Add(new TreeShape.LeafInfo(bytenr, parent, indexInParent, parentCount, n, tree.NodeSize - NodeHeader.Size - leaf.FreeSpace,
                n > 0 ? leaf.Key(0) : default, n > 0 ? leaf.Key(n - 1) : default));
            return;
        }
        shape.Nodes++;
        var node = new InternalNode(buf);
        int cnt = node.NrItems;
        if (cnt < 1 || cnt > InternalNode.MaxItems(tree.NodeSize)) Fail($"node {bytenr} nritems {cnt}");
        if (expectFirst is { } ef && node.Key(0) != ef) Fail($"node {bytenr} first key {node.Key(0)} != parent key {ef}");
        for (int i = 0; i < cnt; i++)
            Visit(tree, store, shape, node.BlockPtr(i), level - 1, node.PtrGeneration(i), node.Key(i), bytenr, i, cnt, ref last, items);
    }

    /// <summary>Tree contents equal the model, key by key and byte by byte.</summary>
    public static void AssertMatches(SortedDictionary<Key, byte[]> model, TreeShape shape)
    {
        if (model.Count != shape.Items.Count) Fail($"tree has {shape.Items.Count} items, model {model.Count}");
        int i = 0;
        foreach (var (k, v) in model)
        {
            var (tk, tv) = shape.Items[i++];
            if (tk != k) Fail($"item {i - 1}: tree key {tk}, model key {k}");
            if (!tv.AsSpan().SequenceEqual(v)) Fail($"item {k}: payload differs (tree {tv.Length} bytes, model {v.Length})");
        }
    }
}
