using System.Runtime.InteropServices;
using BtrfsLite.Format;
using BtrfsLite.Trees;

namespace BtrfsLite.Transactions;

/// <summary>
/// The kernel's delayed directory index items (delayed-inode.c): a directory's DIR_INDEX inserts and deletes wait in
/// memory, per directory, and reach the subvolume tree when the transaction commits. A directory at a time, in the
/// order directories first queued an item: its inserts in batches of ascending indexes that together fit one leaf
/// (btrfs_insert_delayed_item: one btrfs_insert_empty_items each, so one split decision per batch), then its
/// deletes, each run of them that sits side by side in a leaf in one btrfs_del_items (btrfs_batch_delete_items).
/// Deleting an index whose insert still waits cancels the insert; nothing reaches the tree.
/// <para>
/// Only sessions that replay the kernel's calls turn this on (<see cref="Enabled"/>); mkfs --rootdir inserts the
/// items at once, as mkfs.btrfs does.
/// </para>
/// </summary>
public sealed class DelayedDirIndex
{
    private sealed class Node
    {
        public readonly SortedDictionary<ulong, byte[]> Inserts = new();
        public readonly SortedSet<ulong> Deletes = new();
        public ulong MaxIndex; // the highest index named, as the inode's index_cnt keeps counting after a cancel
    }

    private readonly Transaction _tx;
    private readonly Dictionary<(ulong Tree, ulong Dir), Node> _nodes = new();
    private readonly List<(ulong Tree, ulong Dir)> _order = new();

    internal DelayedDirIndex(Transaction tx) => _tx = tx;

    /// <summary>Whether DIR_INDEX changes wait here (true) or go into the tree at once.</summary>
    public bool Enabled { get; set; }

    /// <summary>True when nothing waits.</summary>
    public bool IsEmpty => _order.Count == 0;

    /// <summary>Queues the insert of DIR_INDEX <paramref name="index"/> of <paramref name="dir"/> with payload <paramref name="entry"/>.</summary>
    public void Insert(ulong tree, ulong dir, ulong index, ReadOnlySpan<byte> entry)
    {
        _tx.NoteChange();
        var node = GetOrQueue(tree, dir);
        node.Inserts.Add(index, entry.ToArray());
        node.MaxIndex = Math.Max(node.MaxIndex, index);
    }

    /// <summary>
    /// Queues the delete of DIR_INDEX <paramref name="index"/> of <paramref name="dir"/>, or cancels its waiting
    /// insert (btrfs_delete_delayed_dir_index).
    /// </summary>
    public void Delete(ulong tree, ulong dir, ulong index)
    {
        _tx.NoteChange();
        var node = GetOrQueue(tree, dir);
        node.MaxIndex = Math.Max(node.MaxIndex, index);
        if (node.Inserts.Remove(index)) return;
        node.Deletes.Add(index);
    }

    /// <summary>True when the tree's DIR_INDEX <paramref name="index"/> of <paramref name="dir"/> waits to be deleted.</summary>
    public bool IsDeleted(ulong tree, ulong dir, ulong index) => _nodes.TryGetValue((tree, dir), out var n) && n.Deletes.Contains(index);

    /// <summary>The waiting inserts of a directory in index order.</summary>
    public IEnumerable<KeyValuePair<ulong, byte[]>> Inserts(ulong tree, ulong dir) =>
        _nodes.TryGetValue((tree, dir), out var n) ? n.Inserts : Enumerable.Empty<KeyValuePair<ulong, byte[]>>();

    /// <summary>
    /// The highest index of <paramref name="dir"/> that a waiting insert or delete named in this transaction, a
    /// cancelled one included (0 when none).
    /// </summary>
    public ulong MaxIndex(ulong tree, ulong dir) => _nodes.TryGetValue((tree, dir), out var n) ? n.MaxIndex : 0;

    /// <summary>Forgets what waits for <paramref name="dir"/> (an inode that is going: btrfs_kill_delayed_inode_items).</summary>
    public void Forget(ulong tree, ulong dir)
    {
        if (_nodes.Remove((tree, dir))) _order.Remove((tree, dir));
    }

    /// <summary>Forgets what waits for a tree that is dropped.</summary>
    public void ForgetTree(ulong tree)
    {
        foreach (var k in _order.Where(k => k.Tree == tree).ToList()) Forget(k.Tree, k.Dir);
    }

    /// <summary>btrfs_run_delayed_items: everything that waits goes into the trees, a directory at a time in queue order.</summary>
    public void Flush()
    {
        int leafData = _tx.NodeSize - NodeHeader.Size;
        var keys = new List<Key>();
        var sizes = new List<int>();
        foreach (var (tree, dir) in _order)
        {
            var node = _nodes[(tree, dir)];
            var t = _tx.Tree(tree);
            // Inserts: from the lowest index, as many as fit one leaf together (btrfs_insert_delayed_item).
            using (var it = node.Inserts.GetEnumerator())
            {
                bool more = it.MoveNext();
                while (more)
                {
                    keys.Clear(); sizes.Clear();
                    int total = 0;
                    do
                    {
                        int size = it.Current.Value.Length + ItemHeader.Size;
                        if (keys.Count > 0 && total + size > leafData) break;
                        keys.Add(new Key(dir, ItemType.DirIndex, it.Current.Key));
                        sizes.Add(it.Current.Value.Length);
                        total += size;
                        more = it.MoveNext();
                    } while (more);
                    t.InsertBatch(CollectionsMarshal.AsSpan(keys), CollectionsMarshal.AsSpan(sizes));
                    for (int i = 0; i < keys.Count; i++)
                    {
                        if (i > 0) t.MoveNext(); // side by side in the batch's leaf
                        node.Inserts[keys[i].Offset].CopyTo(t.CurrentData);
                    }
                }
            }
            // Deletes: each from a search of its own, with the next ones that follow it in the leaf.
            keys.Clear();
            foreach (ulong index in node.Deletes) keys.Add(new Key(dir, ItemType.DirIndex, index));
            for (int i = 0; i < keys.Count;)
            {
                int gone = t.DeleteAdjacent(CollectionsMarshal.AsSpan(keys)[i..]);
                i += Math.Max(gone, 1); // absent: already gone (a dropped inode's items), as the kernel skips it
            }
        }
        _nodes.Clear();
        _order.Clear();
    }

    private Node GetOrQueue(ulong tree, ulong dir)
    {
        if (!_nodes.TryGetValue((tree, dir), out var node))
        {
            node = new Node();
            _nodes[(tree, dir)] = node;
            _order.Add((tree, dir));
        }
        return node;
    }
}
