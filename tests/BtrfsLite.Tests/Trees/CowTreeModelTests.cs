using BtrfsLite.Format;
using BtrfsLite.Trees;
using CsCheck;

namespace BtrfsLite.Tests.Trees;

/// <summary>
/// Random operation sequences against a <see cref="CowTree"/> and a <c>SortedDictionary</c> model. After every
/// step the whole tree is walked: same keys and payload bytes as the model, every structural invariant
/// (<see cref="CowTreeChecks.Walk"/>), every block either reachable or freed/CoWed away, committed blocks
/// untouched; after a delete, the leaf that held the key is merged or at least a quarter full unless no
/// same-parent sibling could take it.
/// </summary>
public class CowTreeModelTests
{
    private static readonly ItemType[] Types = [ItemType.InodeItem, ItemType.InodeRef, ItemType.ExtentData];

    private enum K { Insert, InsertRun, InsertOrResize, Resize, Delete, DeleteMissing, DeleteRange, Write, CursorDelete, Commit }

    private readonly record struct Op(K Kind, int A, int B, int C)
    {
        public override string ToString() => $"{Kind}({A},{B},{C})";
    }

    private static K KindOf(int w) => w switch
    {
        < 30 => K.Insert, < 33 => K.InsertRun, < 40 => K.InsertOrResize, < 50 => K.Resize, < 72 => K.Delete,
        < 74 => K.DeleteMissing, < 78 => K.DeleteRange, < 85 => K.Write, < 88 => K.CursorDelete, _ => K.Commit,
    };

    private static readonly Gen<Op> OpGen =
        Gen.Select(Gen.Int[0, 99], Gen.Int[0, 1999], Gen.Int[0, 99], Gen.Int[0, 1 << 20], (w, a, b, c) => new Op(KindOf(w), a, b, c));

    private static Key KeyOf(int a) => new((ulong)(a / 10 + 250), Types[a % 10 % 3], (ulong)(a % 10 / 3));

    private static int SizeOf(int b, int c, int max) => (b % 20) switch
    {
        < 13 => c % 200,
        < 19 => c % Math.Min(4001, max + 1),
        _ => max - c % 64, // huge, up to the maximum
    };

    private static void Fill(Span<byte> d, int seed)
    {
        uint x = (uint)seed * 2654435761u + 1;
        for (int i = 0; i < d.Length; i++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; d[i] = (byte)x; }
    }

    private static byte[] Resized(byte[] old, int size)
    {
        var n = new byte[size];
        old.AsSpan(0, Math.Min(old.Length, size)).CopyTo(n);
        return n;
    }

    /// <summary>Runs one sequence; returns the greatest tree height seen.</summary>
    private static int Run(int nodeSize, Op[] ops)
    {
        var store = new MemoryTreeBlockStore(nodeSize);
        var tree = CowTree.CreateEmpty(store, 5);
        var model = new SortedDictionary<Key, byte[]>();
        int max = tree.MaxItemSize;
        int step = 0, height = 1;
        foreach (var op in ops)
        {
            step++;
            TreeShape? before = op.Kind is K.Delete ? CowTreeChecks.Walk(tree, store, items: false, checkLive: false) : null;
            Key deleted = default;
            switch (op.Kind)
            {
                case K.Insert:
                {
                    var k = KeyOf(op.A);
                    int size = SizeOf(op.B, op.C, max);
                    bool ok = tree.TryInsert(k, size, out var d);
                    Assert.Equal(!model.ContainsKey(k), ok);
                    if (ok)
                    {
                        Assert.Equal(size, d.Length);
                        Assert.True(d.IndexOfAnyExcept((byte)0) < 0, "new payload is zeroed");
                        Fill(d, op.C);
                        model[k] = d.ToArray();
                    }
                    else Assert.Throws<InvalidDataException>(() => tree.Insert(k, size));
                    break;
                }
                case K.InsertRun:
                    for (int i = 0; i < op.B % 40 + 1; i++)
                    {
                        var k = KeyOf((op.A + i) % 2000);
                        if (model.ContainsKey(k)) continue;
                        var d = tree.Insert(k, op.C % 300);
                        Fill(d, op.C + i);
                        model[k] = d.ToArray();
                    }
                    break;
                case K.InsertOrResize:
                {
                    var k = KeyOf(op.A);
                    int size = SizeOf(op.B, op.C, max);
                    var d = tree.InsertOrResize(k, size);
                    model[k] = model.TryGetValue(k, out var old) ? Resized(old, size) : new byte[size];
                    Assert.True(d.SequenceEqual(model[k]));
                    break;
                }
                case K.Resize when model.Count > 0:
                {
                    var k = model.Keys.ElementAt(op.C % model.Count);
                    int size = op.B < 50 ? SizeOf(op.B, op.C, max) : model[k].Length / 2;
                    var d = tree.Resize(k, size);
                    model[k] = Resized(model[k], size);
                    Assert.True(d.SequenceEqual(model[k]));
                    break;
                }
                case K.Delete when model.Count > 0:
                    deleted = model.Keys.ElementAt(op.C % model.Count);
                    Assert.True(tree.Delete(deleted));
                    model.Remove(deleted);
                    break;
                case K.DeleteMissing:
                {
                    var k = KeyOf(op.A);
                    long cows = store.Cows, allocs = store.Allocations;
                    bool had = model.Remove(k);
                    Assert.Equal(had, tree.Delete(k));
                    if (!had) { Assert.Equal(cows, store.Cows); Assert.Equal(allocs, store.Allocations); }
                    break;
                }
                case K.DeleteRange:
                {
                    var a = KeyOf(op.A);
                    var b = KeyOf(Math.Min(1999, op.A + op.B * (op.C % 3 == 0 ? 20 : 1)));
                    var gone = model.Keys.Where(k => k >= a && k <= b).ToList();
                    Assert.Equal(gone.Count, tree.DeleteRange(a, b));
                    foreach (var k in gone) model.Remove(k);
                    break;
                }
                case K.Write when model.Count > 0:
                {
                    var k = model.Keys.ElementAt(op.C % model.Count);
                    Assert.True(tree.TryGetForWrite(k, out var d));
                    Assert.True(d.SequenceEqual(model[k]));
                    Fill(d, op.A);
                    model[k] = d.ToArray();
                    Assert.True(tree.TryGet(k, out var r) && r.SequenceEqual(model[k]));
                    break;
                }
                case K.CursorDelete:
                {
                    // walk from a key, deleting every (B % 3 + 2)-th item and rewriting the others' first byte
                    var from = KeyOf(op.A);
                    int every = op.B % 3 + 2, n = 0, limit = op.C % 60;
                    bool more = tree.Seek(from);
                    var expected = model.Keys.Where(k => k >= from).Take(limit).ToList();
                    foreach (var k in expected)
                    {
                        Assert.True(more);
                        Assert.Equal(k, tree.CurrentKey);
                        Assert.Equal(model[k].Length, tree.CurrentSize);
                        if (++n % every == 0) { more = tree.DeleteCurrent(); model.Remove(k); }
                        else
                        {
                            if (tree.CurrentSize > 0) { tree.CurrentData[0] ^= 0x5A; model[k][0] ^= 0x5A; }
                            more = tree.MoveNext();
                        }
                    }
                    break;
                }
                case K.Commit:
                    store.Commit();
                    tree.AcknowledgeRootChange();
                    break;
            }
            TreeShape shape;
            try
            {
                shape = CowTreeChecks.Walk(tree, store);
                height = Math.Max(height, shape.Height);
                CowTreeChecks.AssertMatches(model, shape);
                store.VerifyCommittedUnchanged();
                if (before != null) CheckMergedAfterDelete(tree, before, shape, deleted, model);
            }
            catch (Exception ex)
            {
                throw new Xunit.Sdk.XunitException($"after step {step} {op} (nodesize {nodeSize}): {ex.Message}");
            }
        }
        // empty it: one empty leaf is left
        foreach (var k in model.Keys.ToList()) Assert.True(tree.Delete(k));
        var end = CowTreeChecks.Walk(tree, store);
        Assert.Empty(end.Items);
        Assert.Equal(0, tree.RootLevel);
        Assert.Single(end.Reachable);
        return height;
    }

    /// <summary>
    /// btrfs_del_items' rule for the leaf that held <paramref name="deleted"/>: it is gone (emptied), or at least a third
    /// full, or its same-parent left sibling could not take its first item (push_leaf_left moves what fits), and, when
    /// nothing went left, the right sibling could not take all of it (push_leaf_right is all or nothing there). Its
    /// remaining items are in it and, after a push left, in the left sibling. Skipped when nodes were merged.
    /// </summary>
    private static void CheckMergedAfterDelete(CowTree tree, TreeShape before, TreeShape after, Key deleted, SortedDictionary<Key, byte[]> model)
    {
        if (after.Nodes < before.Nodes || after.Height < before.Height || tree.RootLevel == 0) return;
        var old = before.Leaves[before.LeafIndexOf(deleted)];
        var rest = after.Items.Select(i => i.Key).Where(k => k >= old.First && k <= old.Last && k != deleted).ToList();
        if (rest.Count == 0) return;
        int li = after.LeafIndexOf(rest[^1]), first = after.LeafIndexOf(rest[0]);
        Assert.True(li - first <= 1, "the remaining items of one leaf are in it or, pushed left, in its left neighbour");
        var leaf = after.Leaves[li];
        int dataArea = tree.NodeSize - NodeHeader.Size;
        // All of it went into a neighbour (the leaf is gone), or the leaf kept a third: nothing more to ask.
        if (leaf.First < rest[0] || leaf.Last > rest[^1] || leaf.Used >= dataArea / 3) return;
        if (li > 0 && after.Leaves[li - 1].Parent == leaf.Parent)
            Assert.True(dataArea - after.Leaves[li - 1].Used < ItemHeader.Size + model[leaf.First].Length,
                $"under-filled leaf {leaf.Bytenr} ({leaf.Used} bytes, {leaf.NrItems} items, first {leaf.First} of {model[leaf.First].Length} bytes) could push its first item left into {after.Leaves[li - 1].Bytenr} ({after.Leaves[li - 1].Used} bytes); old leaf {old.Bytenr} {old.Used} {old.First}..{old.Last}, deleted {deleted}, rest {rest.Count} from {rest[0]}");
        if (li == first && li + 1 < after.Leaves.Count && after.Leaves[li + 1].Parent == leaf.Parent)
            Assert.True(dataArea - after.Leaves[li + 1].Used < leaf.Used, $"under-filled leaf {leaf.Bytenr} ({leaf.Used} bytes) could go right whole");
    }

    [Fact]
    public void RandomOperationsMatchTheModel_4KiB() =>
        OpGen.Array[1, 250].Sample(ops => { Run(4096, ops); }, iter: 150, threads: 1);

    [Fact]
    public void RandomOperationsMatchTheModel_16KiB() =>
        OpGen.Array[1, 250].Sample(ops => { Run(16384, ops); }, iter: 60, threads: 1);

    /// <summary>Tiny nodes (12 and 27 pointers) so that node splits, node merges and root growth/collapse happen often.</summary>
    [Theory]
    [InlineData(512)]
    [InlineData(1024)]
    public void RandomOperationsMatchTheModel_TinyNodes(int nodeSize)
    {
        int height = 0;
        OpGen.Array[1, 400].Sample(ops => { height = Math.Max(height, Run(nodeSize, ops)); }, iter: 150, threads: 1);
        Assert.True(height >= (nodeSize == 512 ? 4 : 3), $"greatest height {height}");
    }

    [Fact]
    public void LongRandomSequence_4KiB()
    {
        int sequences = 0, height = 0;
        OpGen.Array[1500, 2000].Sample(ops => { sequences++; height = Math.Max(height, Run(4096, ops)); }, iter: 4, threads: 1);
        Assert.True(sequences >= 4 && height >= 2, $"{sequences} sequences, greatest height {height}");
    }
}
