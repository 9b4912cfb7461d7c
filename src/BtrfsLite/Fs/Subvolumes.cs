using System.Text;
using BtrfsLite.Format;
using BtrfsLite.Transactions;
using BtrfsLite.Trees;

namespace BtrfsLite.Fs;

/// <summary>A subvolume as the root tree describes it.</summary>
/// <param name="Id">The subvolume id (its tree id).</param>
/// <param name="ParentId">The id of the subvolume holding its name (the ROOT_BACKREF key offset).</param>
/// <param name="DirId">The inode number of the directory holding its name (btrfs_root_ref.dirid).</param>
/// <param name="Name">Its name in that directory.</param>
/// <param name="Uuid">btrfs_root_item.uuid.</param>
/// <param name="ParentUuid">btrfs_root_item.parent_uuid: the uuid of the snapshot's source (empty when not a
/// snapshot).</param>
/// <param name="Generation">btrfs_root_item.generation.</param>
/// <param name="ReadOnly">Whether BTRFS_ROOT_SUBVOL_RDONLY is set.</param>
public sealed record SubvolumeInfo(ulong Id, ulong ParentId, ulong DirId, string Name, Guid Uuid, Guid ParentUuid, ulong Generation, bool ReadOnly);

/// <summary>Subvolume and snapshot creation and deletion (root items, root refs, directory entries, UUID and qgroup items).</summary>
public static class Subvolumes
{
    /// <summary>The next free subvolume id: one past the highest ROOT_ITEM id in [256, LAST_FREE].</summary>
    public static ulong NextId(Transaction tx)
    {
        var c = tx.NewCursor();
        ulong max = ObjectIds.FirstFree - 1;
        if (c.SeekBefore(tx.CurrentRoot(ObjectIds.RootTree), new Key(ObjectIds.LastFree + 1, 0, 0)))
            do
            {
                if (c.Type == ItemType.RootItem && c.ObjectId >= ObjectIds.FirstFree && c.ObjectId <= ObjectIds.LastFree) { max = Math.Max(max, c.ObjectId); break; }
            } while (c.Prev() && c.ObjectId >= ObjectIds.FirstFree);
        return max + 1;
    }

    /// <summary>True when the subvolume's ROOT_ITEM says read-only (BTRFS_ROOT_SUBVOL_RDONLY).</summary>
    public static bool IsReadOnly(Transaction tx, ulong treeId)
    {
        if (!ObjectIds.IsFsTree(treeId)) return false;
        var c = tx.NewCursor();
        return c.SeekPrefix(tx.CurrentRoot(ObjectIds.RootTree), treeId, ItemType.RootItem) && c.Data.Length >= RootItem.LegacySize
               && (new RootItem(c.Data).Flags & RootItem.FlagReadOnly) != 0;
    }

    /// <summary>Creates an empty subvolume named <paramref name="name"/> in directory <paramref name="dir"/> of <paramref name="parent"/>.</summary>
    public static ulong Create(FsTree parent, ulong dir, ReadOnlySpan<byte> name, Func<Guid> newUuid, ulong minId = 0)
    {
        FsTree.RefuseStub(dir, "ENOTTY");
        parent.RequireWritable(); // before the new tree: nothing to undo when the parent is a read-only snapshot
        var tx = parent.Tx;
        ulong id = Math.Max(NextId(tx), minId);
        var tree = tx.CreateTree(id);
        var now = parent.Clock();
        // Root directory 256 with its ".." reference.
        var inode = new InodeItem(tree.Insert(new Key(FsTree.RootDirIno, ItemType.InodeItem, 0), InodeItem.Size));
        inode.Generation = tx.Generation; inode.Transid = tx.Generation; inode.NLink = 1; inode.Mode = InodeItem.SIfDir | 0x1ED;
        inode.Atime = now; inode.Ctime = now; inode.Mtime = now; inode.Otime = now;
        InodeRefEntry.Write(tree.Insert(new Key(FsTree.RootDirIno, ItemType.InodeRef, FsTree.RootDirIno), InodeRefEntry.HeaderSize + 2), 0, ".."u8);
        var uuid = newUuid();
        InsertRootItem(tx, id, 0, tree, uuid, Guid.Empty, now, readOnly: false);
        LinkSubvolume(parent, dir, name, id, uuid);
        return id;
    }

    /// <summary>Snapshots subvolume <paramref name="sourceId"/> as <paramref name="name"/> in <paramref name="dir"/> of <paramref name="parent"/>.</summary>
    public static ulong Snapshot(FsTree parent, ulong dir, ReadOnlySpan<byte> name, ulong sourceId, bool readOnly, Func<Guid> newUuid, ulong minId = 0)
    {
        FsTree.RefuseStub(dir, "ENOTTY");
        parent.RequireWritable(); // before the tree copy and its root item (fuzzer seed 5642: a root without refs)
        var tx = parent.Tx;
        ulong id = Math.Max(NextId(tx), minId);
        var now = parent.Clock();
        var c = tx.NewCursor();
        if (!c.SeekPrefix(tx.CurrentRoot(ObjectIds.RootTree), sourceId, ItemType.RootItem))
            throw new FsException("ENOENT", $"subvolume {sourceId} not found");
        var srcKey = c.Key;
        var srcItem = c.Data.ToArray();
        var srcUuid = new RootItem(srcItem).Uuid;
        var tree = tx.SnapshotTree(sourceId, id);
        var uuid = newUuid();
        // The copy keeps the source's root item fields (inode, flags) with its own identity.
        var d = tx.Tree(ObjectIds.RootTree).Insert(new Key(id, ItemType.RootItem, tx.Generation), srcItem.Length);
        srcItem.CopyTo(d);
        var ri = new RootItem(d);
        // btrfs_check_and_init_root_item, as create_pending_snapshot does: a root item whose inode lacks
        // ROOT_ITEM_INIT is taken for one from an old kernel, and the kernel clears its flags (RDONLY!) and
        // byte_limit when it loads the root. Mark it initialised (mkfs' FS_TREE item is not).
        var rinode = ri.Inode;
        if ((rinode.Flags & InodeFlags.RootItemInit) == 0)
        {
            rinode.Flags |= InodeFlags.RootItemInit;
            ri.ByteLimit = 0;
        }
        FillRootItem(ri, tree, tx.Generation, uuid, srcUuid, now, readOnly);
        // Both record this transaction as their last snapshot: create_pending_snapshot stamps the source's item before
        // copying it. A write into the snapshot then copies every extent older than it (fuzzer seed 9002: the replay
        // wrote a preallocated sector of a snapshot in place where the kernel copies on write).
        ri.LastSnapshot = tx.Generation;
        tx.Tree(ObjectIds.RootTree).TryGetForWrite(srcKey, out var sd);
        new RootItem(sd).LastSnapshot = tx.Generation;
        LinkSubvolume(parent, dir, name, id, uuid);
        if (tx.HasTree(ObjectIds.QuotaTree)) Quota.CopyLimit(tx, QgroupId.ForSubvolume(sourceId), QgroupId.ForSubvolume(id));
        return id;
    }

    private static void InsertRootItem(Transaction tx, ulong id, ulong keyOffset, CowTree tree, Guid uuid, Guid parentUuid, Timespec now, bool readOnly)
    {
        var ri = new RootItem(tx.Tree(ObjectIds.RootTree).Insert(new Key(id, ItemType.RootItem, keyOffset), RootItem.Size));
        var inode = ri.Inode;
        inode.Generation = 1; inode.FileSize = 3; inode.NBytes = (ulong)tx.Image.NodeSize; inode.NLink = 1; inode.Mode = InodeItem.SIfDir | 0x1ED;
        inode.Flags = InodeFlags.RootItemInit;
        ri.RootDirId = FsTree.RootDirIno;
        ri.Refs = 1;
        FillRootItem(ri, tree, tx.Generation, uuid, parentUuid, now, readOnly);
    }

    private static void FillRootItem(RootItem ri, CowTree tree, ulong gen, Guid uuid, Guid parentUuid, Timespec now, bool readOnly)
    {
        ri.Bytenr = tree.RootBytenr;
        ri.Level = (byte)tree.RootLevel;
        ri.Generation = tree.RootGeneration;
        ri.GenerationV2 = tree.RootGeneration;
        ri.Flags = readOnly ? RootItem.FlagReadOnly : 0;
        ri.Uuid = uuid;
        ri.ParentUuid = parentUuid;
        ri.ReceivedUuid = Guid.Empty;
        ri.Ctransid = gen; ri.Otransid = gen; ri.Stransid = 0; ri.Rtransid = 0;
        ri.Ctime = now; ri.Otime = now; ri.Stime = default; ri.Rtime = default;
        ri.BytesUsed = 0;
    }

    // Directory entry (no INODE_REF for subvolumes), ROOT_REF/ROOT_BACKREF, UUID item, and the level-0 qgroup.
    private static void LinkSubvolume(FsTree parent, ulong dir, ReadOnlySpan<byte> name, ulong id, Guid uuid)
    {
        var tx = parent.Tx;
        if (parent.TryLookup(dir, name, out _, out _)) throw new FsException("EEXIST", $"'{Encoding.UTF8.GetString(name)}' exists");
        ulong dirIndex = parent.AddSubvolumeEntry(dir, name, id);
        var rootTree = tx.Tree(ObjectIds.RootTree);
        WriteRootRef(rootTree, new Key(parent.RootId, ItemType.RootRef, id), dir, dirIndex, name);
        WriteRootRef(rootTree, new Key(id, ItemType.RootBackref, parent.RootId), dir, dirIndex, name);
        if (tx.HasTree(ObjectIds.UuidTree))
        {
            var k = UuidItem.KeyFor(uuid, ItemType.UuidKeySubvol);
            var ut = tx.Tree(ObjectIds.UuidTree);
            BitConverter.TryWriteBytes(ut.Insert(k, 8), id);
        }
        if (tx.HasTree(ObjectIds.QuotaTree)) Quota.CreateQgroupItems(tx, QgroupId.ForSubvolume(id));
    }

    private static void WriteRootRef(CowTree rootTree, Key key, ulong dir, ulong index, ReadOnlySpan<byte> name)
    {
        var d = rootTree.Insert(key, RootRef.HeaderSize + name.Length);
        var rr = new RootRef(d);
        rr.DirId = dir;
        rr.Sequence = index;
        rr.NameLen = (ushort)name.Length;
        name.CopyTo(d[RootRef.HeaderSize..]);
    }

    /// <summary>Whether subvolume <paramref name="id"/> holds subvolumes of its own (ROOT_REF items): it cannot be deleted first.</summary>
    public static bool HasNested(Transactions.Transaction tx, ulong id) =>
        tx.NewCursor().SeekPrefix(tx.CurrentRoot(ObjectIds.RootTree), id, ItemType.RootRef);

    /// <summary>
    /// Deletes a subvolume: its entry, refs, root item, UUID item, qgroup; its tree is dropped at commit. Returns true
    /// when the kernel would keep the level-0 qgroup in memory (<see cref="Quota.RemoveDroppedSubvolumeQgroup"/>, whose
    /// <paramref name="qgroupParentOrder"/> this passes on). With <paramref name="keepQgroup"/> the qgroup stays for the
    /// caller to remove, with its reservation engine, at once or later (the kernel's cleaner after an rmdir).
    /// </summary>
    public static bool Delete(FsTree parent, ulong dir, ReadOnlySpan<byte> name, IReadOnlyList<ulong>? qgroupParentOrder = null, bool keepQgroup = false)
    {
        var tx = parent.Tx;
        if (!parent.TryLookup(dir, name, out var loc, out _) || loc.Type != ItemType.RootItem)
            throw new FsException("ENOENT", $"'{Encoding.UTF8.GetString(name)}' is not a subvolume in directory {dir}");
        ulong id = loc.ObjectId;
        var c = tx.NewCursor();
        var rootTree = tx.Tree(ObjectIds.RootTree);
        // Nested subvolumes must go first (as `btrfs subvolume delete` requires).
        if (HasNested(tx, id)) throw new FsException("ENOTEMPTY", $"subvolume {id} contains subvolumes");
        if (!c.Find(tx.CurrentRoot(ObjectIds.RootTree), new Key(id, ItemType.RootBackref, parent.RootId)))
            throw Corruption.Create($"subvolume {id} has no ROOT_BACKREF to {parent.RootId}", 0, ObjectIds.RootTree);
        ulong index = new RootRef(c.Data).Sequence;
        parent.RemoveDirEntries(dir, name, index);
        rootTree.Delete(new Key(parent.RootId, ItemType.RootRef, id));
        rootTree.Delete(new Key(id, ItemType.RootBackref, parent.RootId));
        if (!c.SeekPrefix(tx.CurrentRoot(ObjectIds.RootTree), id, ItemType.RootItem))
            throw Corruption.Create($"subvolume {id} has no ROOT_ITEM", 0, ObjectIds.RootTree);
        var itemKey = c.Key;
        var uuid = new RootItem(c.Data).Uuid;
        rootTree.Delete(itemKey);
        if (tx.HasTree(ObjectIds.UuidTree) && uuid != Guid.Empty) tx.Tree(ObjectIds.UuidTree).Delete(UuidItem.KeyFor(uuid, ItemType.UuidKeySubvol));
        tx.DropTree(id);
        return !keepQgroup && tx.HasTree(ObjectIds.QuotaTree) && Quota.RemoveDroppedSubvolumeQgroup(tx, QgroupId.ForSubvolume(id), qgroupParentOrder);
    }

    /// <summary>Every subvolume below the top level, with its parent and name (like `btrfs subvolume list`).</summary>
    public static List<SubvolumeInfo> List(TreeCursor c, TreeRoot rootTree)
    {
        var list = new List<SubvolumeInfo>();
        var items = new Dictionary<ulong, (Guid Uuid, Guid Parent, ulong Gen, bool Ro)>();
        if (c.First(rootTree))
            do
            {
                if (c.Type == ItemType.RootItem && c.ObjectId >= ObjectIds.FirstFree && c.ObjectId <= ObjectIds.LastFree)
                {
                    var ri = new RootItem(c.Data);
                    items[c.ObjectId] = (ri.Uuid, ri.ParentUuid, ri.Generation, (ri.Flags & RootItem.FlagReadOnly) != 0);
                }
            } while (c.Next());
        if (c.First(rootTree))
            do
            {
                if (c.Type != ItemType.RootBackref || !items.TryGetValue(c.ObjectId, out var it)) continue;
                var rr = new RootRef(c.Data);
                list.Add(new SubvolumeInfo(c.ObjectId, c.Offset, rr.DirId, Encoding.UTF8.GetString(rr.Name), it.Uuid, it.Parent, it.Gen, it.Ro));
            } while (c.Next());
        return list;
    }
}
