using BtrfsLite.Format;

namespace BtrfsLite.Check;

/// <summary>
/// "checking root refs": every subvolume entry (DIR_ITEM + DIR_INDEX in the parent fs tree) has a matching
/// ROOT_REF (parent, 156, child) and ROOT_BACKREF (child, 144, parent) with the same dirid, sequence (= DIR_INDEX
/// index) and name; every ROOT_REF has its dir entries; every subvolume is referenced (or has an orphan item, i.e.
/// is being deleted); ROOT_ITEMs are sane. Refs are matched as btrfs check 6.2 matches them: by (parent tree, dir,
/// name); an entry in a tree that is not the child's parent (a snapshot of the parent) is ignored.
/// </summary>
internal static class RootRefChecker
{
    private sealed class Backref
    {
        public ulong Parent, Dir, Index;
        public byte[] Name = Array.Empty<byte>();
        public bool DirItem, DirIndex, Forward, Back, IndexSet;
        public uint Errors;
        public ulong Tree, Leaf;
        public int Slot;
        public bool Reachable => Forward && DirItem;
    }

    private sealed class RootRec
    {
        public ulong Id;
        public int FoundRef;
        public bool HasRootItem;
        public readonly List<Backref> Backrefs = new();
    }

    public static void Run(CheckContext ctx)
    {
        var state = FsCheckState.Get(ctx);
        if (state.RootTreeError != null)
        {
            ctx.Report.Add(FindingCode.PhaseAborted, ObjectIds.RootTree, 0, -1, $"checking root refs: root tree unreadable: {state.RootTreeError}");
            return;
        }
        CheckRootItems(ctx, state);

        var recs = new SortedDictionary<ulong, RootRec>();
        RootRec Rec(ulong id)
        {
            if (!recs.TryGetValue(id, out var r)) recs[id] = r = new RootRec { Id = id, HasRootItem = state.RootItems.ContainsKey(id) };
            return r;
        }
        foreach (var id in state.RootItems.Keys)
            if (ObjectIds.IsFsTree(id)) Rec(id);

        Backref Get(RootRec rec, ulong parent, ulong dir, ReadOnlySpan<byte> name, ulong index, ulong tree, ulong leaf, int slot)
        {
            foreach (var b in rec.Backrefs)
                if (b.Parent == parent && b.Dir == dir && name.SequenceEqual(b.Name)) return b;
            var nb = new Backref { Parent = parent, Dir = dir, Name = name.ToArray(), Index = index, Tree = tree, Leaf = leaf, Slot = slot };
            rec.Backrefs.Add(nb);
            return nb;
        }
        void SetIndex(Backref b, ulong index)
        {
            if (b.IndexSet) { if (b.Index != index) b.Errors |= FsRootChecker.RefIndexUnmatch; }
            else { b.Index = index; b.IndexSet = true; }
        }

        // Is the entry in tree `parent` the child's real entry? (progs is_child_root: a ROOT_REF/BACKREF pair
        // names that parent, or the child has no backref at all.)
        var refPairs = new HashSet<(ulong, ulong)>();
        var hasBackref = new HashSet<ulong>();
        foreach (var r in state.RootRefs) refPairs.Add((r.Parent, r.Child));
        foreach (var r in state.RootBackrefs) { refPairs.Add((r.Parent, r.Child)); hasBackref.Add(r.Child); }

        foreach (var e in state.SubvolEntries)
        {
            if (!refPairs.Contains((e.ParentTree, e.Child)) && hasBackref.Contains(e.Child)) continue;
            var rec = Rec(e.Child);
            var b = Get(rec, e.ParentTree, e.Dir, e.Name, e.Index, e.ParentTree, e.Leaf, e.Slot);
            if (e.IsIndex) { if (b.DirIndex) b.Errors |= FsRootChecker.RefDupDirIndex; SetIndex(b, e.Index); b.DirIndex = true; }
            else
            {
                if (b.DirItem) b.Errors |= FsRootChecker.RefDupDirItem;
                if (b.Forward) rec.FoundRef++;
                b.DirItem = true;
            }
        }
        foreach (var r in state.RootRefs)
        {
            if (r.Malformed) { ctx.Report.Add(FindingCode.ItemInvalid, ObjectIds.RootTree, r.Leaf, r.Slot, $"ROOT_REF at slot {r.Slot} is malformed (name runs past the item end)"); continue; }
            var rec = Rec(r.Child);
            var b = Get(rec, r.Parent, r.DirId, r.Name, r.Sequence, ObjectIds.RootTree, r.Leaf, r.Slot);
            SetIndex(b, r.Sequence);
            if (b.Forward) b.Errors |= FsRootChecker.RefDupRootRef;
            else if (b.DirItem) rec.FoundRef++;
            b.Forward = true;
        }
        foreach (var r in state.RootBackrefs)
        {
            if (r.Malformed) { ctx.Report.Add(FindingCode.ItemInvalid, ObjectIds.RootTree, r.Leaf, r.Slot, $"ROOT_BACKREF at slot {r.Slot} is malformed (name runs past the item end)"); continue; }
            var rec = Rec(r.Child);
            var b = Get(rec, r.Parent, r.DirId, r.Name, r.Sequence, ObjectIds.RootTree, r.Leaf, r.Slot);
            SetIndex(b, r.Sequence);
            if (b.Back) b.Errors |= FsRootChecker.RefDupRootBackref;
            b.Back = true;
        }

        // Reachability from the top subvolume: a subvolume referenced only from unreferenced subvolumes is not.
        Rec(ObjectIds.FsTree).FoundRef = 1;
        bool loop = true;
        var unreachable = new HashSet<Backref>();
        while (loop)
        {
            loop = false;
            foreach (var rec in recs.Values)
            {
                if (rec.FoundRef == 0) continue;
                foreach (var b in rec.Backrefs)
                {
                    if (!b.Reachable || unreachable.Contains(b)) continue;
                    if (recs.TryGetValue(b.Parent, out var pr) && pr.FoundRef > 0) continue;
                    unreachable.Add(b);
                    if (--rec.FoundRef == 0) loop = true;
                }
            }
        }

        // Only check entries of parent trees the fs-root phase walked completely (else entries may be missing).
        bool Walked(ulong tree) => !state.FsRootsRan || state.FsTreesWalked.Contains(tree);

        foreach (var rec in recs.Values)
        {
            if (rec.Id == ObjectIds.FsTree) continue;
            if (rec.FoundRef == 0 && ObjectIds.IsFsTree(rec.Id) && rec.Id >= ObjectIds.FirstFree)
            {
                if (state.RootTreeOrphans.Contains(rec.Id)) continue; // being deleted
                if (rec.HasRootItem && rec.Backrefs.TrueForAll(b => Walked(b.Parent)))
                {
                    var ri = state.RootItems[rec.Id];
                    ctx.Report.Add(FindingCode.FsTreeUnreferenced, ObjectIds.RootTree, ri.Leaf, ri.Slot, $"fs tree {rec.Id} not referenced");
                }
            }
            if (rec.FoundRef > 0 && !rec.HasRootItem)
            {
                var b0 = rec.Backrefs[0];
                ctx.Report.Add(FindingCode.RootItemMissing, b0.Parent, b0.Leaf, b0.Slot, $"fs tree {rec.Id} refs {rec.FoundRef} not found (no ROOT_ITEM)");
            }
            foreach (var b in rec.Backrefs)
            {
                // A directory entry with neither ROOT_REF nor ROOT_BACKREF is a snapshot's copy of the entry of a subvolume
                // nested in its source: the kernel shows it as an empty stub directory, btrfs check accepts it.
                if (!b.Forward && !b.Back && b.DirItem && b.DirIndex && b.Errors == 0) continue;
                uint err = b.Errors;
                if (!b.DirItem) err |= FsRootChecker.RefNoDirItem;
                if (!b.DirIndex) err |= FsRootChecker.RefNoDirIndex;
                if (!b.Back) err |= FsRootChecker.RefNoRootBackref;
                if (!b.Forward) err |= FsRootChecker.RefNoRootRef;
                if (!Walked(b.Parent)) err &= ~(FsRootChecker.RefNoDirItem | FsRootChecker.RefNoDirIndex);
                if (err == 0) continue;
                // progs reports reachable backrefs (ROOT_REF + DIR_ITEM); a lone ROOT_REF or ROOT_BACKREF that
                // matches another backref of the same child and dir but not its name is a name mismatch.
                bool partial = !b.Reachable;
                var twin = partial ? rec.Backrefs.Find(o => o != b && o.Parent == b.Parent && o.Dir == b.Dir) : null;
                string prefix = $"fs tree {rec.Id} refs {rec.FoundRef}: unresolved ref root {b.Parent} dir {b.Dir} index {b.Index} namelen {b.Name.Length} name {NameText.Of(b.Name)} errors {err:x}";
                ulong tree = b.Tree;
                if (twin != null)
                {
                    ctx.Report.Add(FindingCode.RootRefMismatch, tree, b.Leaf, b.Slot,
                        $"{prefix}, name mismatch: {(b.Back ? "ROOT_BACKREF" : b.Forward ? "ROOT_REF" : "dir entry")} name '{NameText.Of(b.Name)}' vs '{NameText.Of(twin.Name)}'");
                    continue;
                }
                if ((err & FsRootChecker.RefNoRootRef) != 0) ctx.Report.Add(FindingCode.RootRefMissing, tree, b.Leaf, b.Slot, prefix + ", no root ref");
                if ((err & FsRootChecker.RefNoRootBackref) != 0) ctx.Report.Add(FindingCode.RootBackrefMissing, tree, b.Leaf, b.Slot, prefix + ", no root backref");
                if ((err & FsRootChecker.RefNoDirItem) != 0) ctx.Report.Add(FindingCode.DirItemMissing, tree, b.Leaf, b.Slot, prefix + ", no dir item");
                if ((err & FsRootChecker.RefNoDirIndex) != 0) ctx.Report.Add(FindingCode.DirIndexMissing, tree, b.Leaf, b.Slot, prefix + ", no dir index");
                if ((err & FsRootChecker.RefIndexUnmatch) != 0) ctx.Report.Add(FindingCode.RootRefMismatch, tree, b.Leaf, b.Slot, prefix + ", index mismatch");
                if ((err & (FsRootChecker.RefDupDirItem | FsRootChecker.RefDupDirIndex | FsRootChecker.RefDupRootRef | FsRootChecker.RefDupRootBackref)) != 0)
                    ctx.Report.Add(FindingCode.RootRefMismatch, tree, b.Leaf, b.Slot, prefix + ", duplicate ref");
            }
        }
    }

    /// <summary>ROOT_ITEM sanity (kernel tree-checker rules plus refs of subvolumes).</summary>
    private static void CheckRootItems(CheckContext ctx, FsCheckState state)
    {
        ulong superGen = ctx.Image.Generation;
        ulong sector = (ulong)ctx.Image.SectorSize;
        foreach (var ri in state.RootItems.Values)
        {
            void Bad(string what) => ctx.Report.Add(FindingCode.RootItemInvalid, ObjectIds.RootTree, ri.Leaf, ri.Slot, $"root item {ri.Id}: {what}");
            if (ri.ItemSize != RootItem.Size && ri.ItemSize != RootItem.LegacySize)
            {
                Bad($"invalid item size {ri.ItemSize}, expected {RootItem.Size} or {RootItem.LegacySize}");
                if (ri.ItemSize < RootItem.LegacySize) continue;
            }
            if (ri.Id == 0) Bad("invalid objectid 0");
            if (ri.Generation > superGen + 1) Bad($"generation {ri.Generation} is newer than the superblock generation {superGen} + 1");
            if (ri.ItemSize >= RootItem.Size)
            {
                if (ri.GenerationV2 > superGen + 1) Bad($"generation_v2 {ri.GenerationV2} is newer than the superblock generation {superGen} + 1");
                else if (ri.GenerationV2 != ri.Generation)
                    ctx.Report.Notes.Add($"root item {ri.Id}: generation_v2 {ri.GenerationV2} != generation {ri.Generation} (the kernel ignores its uuid/time fields)");
            }
            if (ri.Bytenr == 0 || ri.Bytenr % sector != 0) Bad($"bytenr {ri.Bytenr} is not sector aligned");
            if (ri.Level >= NodeHeader.MaxLevel) Bad($"level {ri.Level} out of range");
            if (ri.DropLevel >= NodeHeader.MaxLevel) Bad($"drop_level {ri.DropLevel} out of range");
            if ((ri.Flags & ~(RootItem.FlagReadOnly | (1UL << 48))) != 0) Bad($"invalid flags 0x{ri.Flags:x}");
            if (ObjectIds.IsFsTree(ri.Id) && ri.Refs == 0 && !state.RootTreeOrphans.Contains(ri.Id))
                Bad("refs 0 but no orphan item (a subvolume being deleted has one in the root tree)");
            if (FsCheckState.IsCheckedFsTree(ri.Id) && ri.RootDirId != ObjectIds.FirstFreeInode)
                Bad($"root_dirid {ri.RootDirId}, expected {ObjectIds.FirstFreeInode}");
        }
    }
}
