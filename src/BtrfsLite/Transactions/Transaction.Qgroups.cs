using BtrfsLite.Format;
using BtrfsLite.IO;
using BtrfsLite.Qgroups;
using BtrfsLite.Trees;

namespace BtrfsLite.Transactions;

public sealed partial class Transaction
{
    /// <summary>
    /// The commit's qgroup accounting, per changed extent, as the kernel's btrfs_qgroup_account_extents does it. Every
    /// extent whose references changed in the transaction (its delayed-ref heads) gets the subvolumes that reached it
    /// in the last commit and those that reach it now, both found from backrefs (<see cref="ExtentRoots"/>), and only
    /// the qgroups above those subvolumes move. Its cost follows the changed extents, not the file system. Two changes
    /// reach extents without changing their references and are handled apart: a snapshot (the quick inherit already
    /// gave both qgroups their numbers; the snapshot then counts as a referrer of everything its source reached, and
    /// where its source has no qgroup its tree is traced) and a dropped subvolume (its whole committed tree is traced).
    /// Quota enable and rescan recompute every qgroup from the trees. While accounting is off
    /// (<see cref="Images.BtrfsImage.QgroupNoAccounting"/>) nothing is written. With
    /// <see cref="Images.BtrfsImage.VerifyAccounting"/> the result is compared with a full recomputation and a
    /// difference fails the commit (<see cref="QgroupAccountingMismatchException"/>).
    /// </summary>
    private void AccountQgroups()
    {
        if (!HasTree(ObjectIds.QuotaTree) || _image.QgroupNoAccounting) return;
        var qt = Tree(ObjectIds.QuotaTree);
        if (QgroupRescanRequested || !_image.TryGetRoot(ObjectIds.QuotaTree, out _))
        {
            WriteQgroupNumbers(qt, ComputeQgroupUsage(), onlyChanged: false);
            return;
        }
        var quota = QgroupTree.Read(NewCursor(), CurrentRoot(ObjectIds.QuotaTree));
        if (quota == null) return;
        var numbers = IncrementalQgroupUsage(quota);
        // Numbers the image already called inconsistent move by each extent, as the kernel's do: nothing to compare.
        if (_image.VerifyAccounting && (quota.Status & QgroupStatusFlags.Inconsistent) == 0)
        {
            var full = ComputeQgroupUsage();
            var diffs = new List<string>();
            foreach (var (q, (rfer, excl)) in numbers)
            {
                var (fr, fe) = full.GetValueOrDefault(q);
                if (rfer != fr || excl != fe)
                    diffs.Add($"{QgroupId.Format(q)} referenced {rfer} exclusive {excl}, recomputed {fr} and {fe}");
            }
            if (diffs.Count > 0)
                throw new QgroupAccountingMismatchException(
                    $"qgroup accounting of generation {Generation} differs from a full recomputation: {string.Join("; ", diffs)}{WhichExtents()}");
        }
        WriteQgroupNumbers(qt, numbers, onlyChanged: true);
    }

    /// <summary>Every qgroup's numbers after this transaction: the transaction's own (quick updates included) moved by each changed extent.</summary>
    private Dictionary<ulong, (ulong Rfer, ulong Excl)> IncrementalQgroupUsage(QuotaState quota)
    {
        var image = _image;
        var oldRoots = new ExtentRoots(image.Nodes, image.GetRoot(ObjectIds.ExtentTree),
            id => image.TryGetRoot(id, out var r) ? r : null);
        var newRoots = new ExtentRoots(this, CurrentRoot(ObjectIds.ExtentTree), id => HasTree(id) ? CurrentRoot(id) : null);
        var numbers = quota.Qgroups.ToDictionary(q => q.QgroupId, q => (q.Referenced, q.Exclusive));
        var extents = new HashSet<ulong>(_changedExtents);
        foreach (var id in _dropped)
            if (ObjectIds.IsFsTree(id) && image.TryGetRoot(id, out var dropped)) TraceTree(image.Nodes, dropped, extents);

        // A snapshot that took the quick inherit reaches, from then on, whatever its source reached in the last commit
        // (its source had not changed before it). Otherwise its source's tree is traced from a qgroup at zero.
        var sharing = new Dictionary<ulong, List<ulong>>();
        var firstRoots = new Dictionary<ulong, ulong>();
        var sourceRoots = new HashSet<ulong>();
        foreach (var s in _snapshots)
        {
            if (!image.TryGetRoot(s.Source, out var source)) continue;
            if (QuickInheritedSnapshots.Contains(QgroupId.ForSubvolume(s.Snapshot)))
            {
                if (!sharing.TryGetValue(s.Source, out var l)) sharing[s.Source] = l = new List<ulong>();
                l.Add(s.Snapshot);
                firstRoots[s.SnapshotRoot] = s.Snapshot;
                sourceRoots.Add(source.Bytenr); // the snapshot copied the source's root block: it never reached it
            }
            else TraceTree(image.Nodes, source, extents);
        }

        var accounting = new ExtentAccounting(quota, RemovedQgroupParents);
        var before = new List<ulong>();
        foreach (var bytenr in extents)
        {
            var now = newRoots.Resolve(bytenr, out ulong newBytes, out bool newIsData);
            var then = oldRoots.Resolve(bytenr, out ulong oldBytes, out bool oldIsData);
            if (firstRoots.TryGetValue(bytenr, out ulong snap)) (then, oldBytes, oldIsData) = ([snap], 0, false);
            else if (sharing.Count > 0 && then.Length > 0 && !sourceRoots.Contains(bytenr))
            {
                before.Clear();
                before.AddRange(then);
                foreach (var r in then)
                    if (sharing.TryGetValue(r, out var snaps)) before.AddRange(snaps);
                if (before.Count != then.Length) then = before.Distinct().Order().ToArray();
            }
            ulong oldSize = oldIsData ? oldBytes : (ulong)NodeSize, newSize = newIsData ? newBytes : (ulong)NodeSize;
            if (oldSize == newSize) accounting.Account(then, now, newSize);
            else
            {
                // The start was freed and reused by an extent of another size in this transaction.
                accounting.Account(then, [], oldSize);
                accounting.Account([], now, newSize);
            }
        }
        foreach (var (q, (dr, de)) in accounting.Deltas)
        {
            if (!numbers.TryGetValue(q, out var v)) continue;
            // Wrapping like the kernel's u64 counters: numbers that were already off can pass zero.
            numbers[q] = (unchecked(v.Item1 + (ulong)dr), unchecked(v.Item2 + (ulong)de));
        }
        return numbers;
    }

    /// <summary>For a mismatch report: the first extents whose roots, found from backrefs, differ from a walk of every tree.</summary>
    private string WhichExtents()
    {
        var (blocks, data) = QgroupAccounting.WalkRoots(this, FsRoots());
        var resolver = new ExtentRoots(this, CurrentRoot(ObjectIds.ExtentTree), id => HasTree(id) ? CurrentRoot(id) : null);
        var found = new List<string>();
        foreach (var (bytenr, roots) in blocks.Select(b => (b.Key, b.Value)).Concat(data.Select(d => (d.Key, d.Value.Roots))))
        {
            var walked = roots.Order().ToArray();
            var resolved = resolver.Resolve(bytenr, out _, out _);
            if (!walked.SequenceEqual(resolved)) found.Add($"extent {bytenr}: [{string.Join(",", resolved)}] from backrefs, [{string.Join(",", walked)}] by walking");
            if (found.Count == 5) break;
        }
        return found.Count == 0 ? " (every extent's roots agree now: the difference is in the old roots)" : "; " + string.Join("; ", found);
    }

    /// <summary>Adds every block and every data extent of a committed subvolume tree.</summary>
    private static void TraceTree(INodeSource nodes, TreeRoot root, HashSet<ulong> extents)
    {
        var stack = new Stack<(ulong Bytenr, int Level)>();
        var walked = new HashSet<ulong>();
        stack.Push((root.Bytenr, root.Level));
        while (stack.Count > 0)
        {
            var (b, level) = stack.Pop();
            if (!walked.Add(b)) continue;
            extents.Add(b);
            var buf = nodes.Read(b, new NodeExpectation(0, level, 0));
            if (level > 0)
            {
                var node = new InternalNode(buf);
                for (int i = 0; i < node.NrItems; i++) stack.Push((node.BlockPtr(i), level - 1));
                continue;
            }
            var leaf = new Leaf(buf);
            for (int i = 0; i < leaf.NrItems; i++)
                if (leaf.KeyType(i) == ItemType.ExtentData && FileExtentItem.TryGetDataRef(leaf.Data(i), out ulong bytenr, out _, out _))
                    extents.Add(bytenr);
        }
    }

    private void WriteQgroupNumbers(CowTree qt, Dictionary<ulong, (ulong Rfer, ulong Excl)> numbers, bool onlyChanged)
    {
        foreach (var (qgroupId, (rfer, excl)) in numbers)
        {
            if (onlyChanged && qt.TryGet(new Key(0, ItemType.QgroupInfo, qgroupId), out var cur) && cur.Length >= QgroupInfoItem.Size
                && Le.U64(cur, QgroupInfoItem.Offsets.Rfer) == rfer && Le.U64(cur, QgroupInfoItem.Offsets.Excl) == excl)
                continue;
            if (!qt.TryGetForWrite(new Key(0, ItemType.QgroupInfo, qgroupId), out var d)) continue;
            var info = new QgroupInfoItem(d);
            info.Generation = Generation;
            info.Rfer = rfer; info.RferCmpr = rfer;
            info.Excl = excl; info.ExclCmpr = excl;
        }
    }

    /// <summary>Referenced/exclusive of every qgroup as this transaction's trees hold them.</summary>
    private Dictionary<ulong, (ulong Rfer, ulong Excl)> ComputeQgroupUsage()
    {
        var qgroups = new List<ulong>();
        var parents = new Dictionary<ulong, List<ulong>>();
        var c = NewCursor();
        if (c.First(CurrentRoot(ObjectIds.QuotaTree)))
            do
            {
                if (c.Type == ItemType.QgroupInfo) qgroups.Add(c.Offset);
                else if (c.Type == ItemType.QgroupRelation && QgroupId.LevelOf(c.ObjectId) < QgroupId.LevelOf(c.Offset))
                {
                    if (!parents.TryGetValue(c.ObjectId, out var l)) parents[c.ObjectId] = l = new List<ulong>();
                    l.Add(c.Offset);
                }
            } while (c.Next());
        return QgroupAccounting.Rescan(this, NodeSize, FsRoots(), qgroups, parents);
    }

    private List<TreeRoot> FsRoots()
    {
        var fsRoots = new List<TreeRoot>();
        var c = NewCursor();
        if (c.First(CurrentRoot(ObjectIds.RootTree)))
            do
            {
                if (c.Type == ItemType.RootItem && ObjectIds.IsFsTree(c.ObjectId)) fsRoots.Add(CurrentRoot(c.ObjectId));
            } while (c.Next());
        return fsRoots;
    }
}
