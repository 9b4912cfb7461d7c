using BtrfsLite.Format;
using BtrfsLite.IO;
using BtrfsLite.Trees;

namespace BtrfsLite.Qgroups;

/// <summary>
/// Referenced/exclusive of every qgroup from the trees themselves (a rescan): each fs-tree block and each data
/// extent gets the set of subvolumes reaching it (walking every fs tree from its root; a block already reached
/// from a root is not walked again for it); a qgroup references an extent when any of those subvolumes lies under
/// it, and owns it exclusively when all of them do. Tree blocks count nodesize, data extents their whole size.
/// </summary>
public static class QgroupAccounting
{
    /// <summary>
    /// Recomputes referenced and exclusive bytes of <paramref name="qgroups"/> from the subvolume trees
    /// <paramref name="fsRoots"/>, read through <paramref name="source"/>; <paramref name="parents"/> maps each qgroup
    /// id to its parents' ids.
    /// </summary>
    /// <returns>(referenced, exclusive) bytes by qgroup id, for every id of <paramref name="qgroups"/>.</returns>
    public static Dictionary<ulong, (ulong Rfer, ulong Excl)> Rescan(INodeSource source, int nodeSize,
        IReadOnlyCollection<TreeRoot> fsRoots, IReadOnlyCollection<ulong> qgroups, IReadOnlyDictionary<ulong, List<ulong>> parents)
    {
        var (blockRoots, dataRoots) = WalkRoots(source, fsRoots);
        return Sum(nodeSize, blockRoots, dataRoots, qgroups, parents);
    }

    /// <summary>Every fs-tree block and data extent with the subvolumes reaching it (walking every tree from its root).</summary>
    public static (Dictionary<ulong, List<ulong>> Blocks, Dictionary<ulong, (ulong Size, List<ulong> Roots)> Data) WalkRoots(
        INodeSource source, IReadOnlyCollection<TreeRoot> fsRoots)
    {
        var blockRoots = new Dictionary<ulong, List<ulong>>();
        var dataRoots = new Dictionary<ulong, (ulong Size, List<ulong> Roots)>();
        var stack = new Stack<(ulong Bytenr, int Level, ulong Gen, Key FirstKey, bool HasKey)>();
        foreach (var root in fsRoots)
        {
            stack.Push((root.Bytenr, root.Level, root.Generation, default, false));
            while (stack.Count > 0)
            {
                var (b, level, gen, firstKey, hasKey) = stack.Pop();
                if (!blockRoots.TryGetValue(b, out var set)) blockRoots[b] = set = new List<ulong>(1);
                if (set.Contains(root.TreeId)) continue;
                set.Add(root.TreeId);
                var buf = source.Read(b, new NodeExpectation(gen, level, 0, firstKey, hasKey));
                if (level > 0)
                {
                    var node = new InternalNode(buf);
                    for (int i = 0; i < node.NrItems; i++) stack.Push((node.BlockPtr(i), level - 1, node.PtrGeneration(i), node.Key(i), true));
                    continue;
                }
                var leaf = new Leaf(buf);
                for (int i = 0; i < leaf.NrItems; i++)
                {
                    if (leaf.KeyType(i) != ItemType.ExtentData || !FileExtentItem.TryGetDataRef(leaf.Data(i), out ulong bytenr, out ulong numBytes, out _)) continue;
                    if (!dataRoots.TryGetValue(bytenr, out var dr)) dataRoots[bytenr] = dr = (numBytes, new List<ulong>(1));
                    if (!dr.Roots.Contains(root.TreeId)) dr.Roots.Add(root.TreeId);
                }
            }
        }
        return (blockRoots, dataRoots);
    }

    private static Dictionary<ulong, (ulong Rfer, ulong Excl)> Sum(int nodeSize, Dictionary<ulong, List<ulong>> blockRoots,
        Dictionary<ulong, (ulong Size, List<ulong> Roots)> dataRoots, IReadOnlyCollection<ulong> qgroups, IReadOnlyDictionary<ulong, List<ulong>> parents)
    {
        // Every qgroup's set of level-0 members below it (itself for level 0).
        var below = new Dictionary<ulong, HashSet<ulong>>();
        foreach (var q in qgroups) below[q] = new HashSet<ulong>();
        foreach (var q in qgroups)
        {
            if (QgroupId.LevelOf(q) != 0) continue;
            var seen = new HashSet<ulong>();
            var todo = new Stack<ulong>();
            todo.Push(q);
            while (todo.Count > 0)
            {
                var x = todo.Pop();
                if (!seen.Add(x)) continue;
                if (below.TryGetValue(x, out var s)) s.Add(q);
                if (parents.TryGetValue(x, out var ps)) foreach (var p in ps) todo.Push(p);
            }
        }
        var result = new Dictionary<ulong, (ulong, ulong)>();
        foreach (var q in qgroups) result[q] = (0, 0);
        void Account(List<ulong> roots, ulong bytes)
        {
            foreach (var q in qgroups)
            {
                var members = below[q];
                int hits = 0;
                foreach (var r in roots) if (members.Contains(QgroupId.ForSubvolume(r))) hits++;
                if (hits == 0) continue;
                var (rf, ex) = result[q];
                result[q] = (rf + bytes, hits == roots.Count ? ex + bytes : ex);
            }
        }
        foreach (var roots in blockRoots.Values) Account(roots, (ulong)nodeSize);
        foreach (var (size, roots) in dataRoots.Values) Account(roots, size);
        return result;
    }
}
