using System.IO.Hashing;
using System.Runtime.InteropServices;
using BtrfsLite.Format;
using BtrfsLite.Trees;

namespace BtrfsLite.Check;

/// <summary>
/// "checking fs roots": every subvolume tree (5, 256+, snapshots) and the data reloc tree, each read once in key
/// order. Per inode (items of one objectid are contiguous): nlink = names, dir size, nbytes, file extents, xattr
/// hashes. Across inodes (resolved at the end of the tree): DIR_ITEM, DIR_INDEX and INODE_REF/EXTREF of every name
/// agree and point at existing inodes; nlink 0 inodes have an ORPHAN_ITEM (-5, 48, ino) in the same fs tree (as
/// btrfs check 6.2 looks for it); the root dir exists with its ".." ref. Messages follow btrfs check's
/// "root N inode M errors X, text" wording with its error bits.
/// </summary>
internal static class FsRootChecker
{
    // btrfs-progs check/mode-original.h error bits, printed like progs ("errors 2000, link count wrong").
    internal const uint INoInodeItem = 1 << 0, INoOrphanItem = 1 << 1, IOddDirItem = 1 << 4, IOddFileExtent = 1 << 5,
        IBadFileExtent = 1 << 6, IFileExtentOverlap = 1 << 7, IFileExtentDiscount = 1 << 8, IDirIsizeWrong = 1 << 9,
        IFileNbytesWrong = 1 << 10, ILinkCountWrong = 1 << 13, IUnalignedExtent = 1 << 14, IFileExtentTooLarge = 1 << 15,
        IInlineRamBytesWrong = 1 << 17, IMismatchDirHash = 1 << 18, IInvalidImode = 1 << 19, IInvalidNlink = 1 << 21,
        IInvalidXattr = 1 << 22, IDupDirIndex = 1 << 3;
    internal const uint RefNoDirItem = 1 << 0, RefNoDirIndex = 1 << 1, RefNoInodeRef = 1 << 2, RefDupDirItem = 1 << 3,
        RefDupDirIndex = 1 << 4, RefDupInodeRef = 1 << 5, RefIndexUnmatch = 1 << 6, RefFiletypeUnmatch = 1 << 7,
        RefNameTooLong = 1 << 8, RefNoRootRef = 1 << 9, RefNoRootBackref = 1 << 10, RefDupRootRef = 1 << 11, RefDupRootBackref = 1 << 12;

    /// <summary>A check of one fs tree fed leaf by leaf (by <see cref="TreeBlockWalker"/>); its findings wait in the result.</summary>
    /// <paramref name="treeBytes"/> (the root item's bytes_used) only presizes the tables: about one name per KiB of tree.
    internal static TreeCheck NewLeafFed(CheckContext ctx, RootItemInfo ri, ulong treeBytes) =>
        new(ctx, ri, (ctx.Image.Super.IncompatFlags & IncompatFlags.NoHoles) != 0, (int)Math.Min(treeBytes / 1024, 1u << 21));

    public static void Run(CheckContext ctx)
    {
        var state = FsCheckState.Get(ctx);
        state.FsRootsRan = true;
        if (state.RootTreeError != null)
            ctx.Report.Notes.Add($"fs roots: root tree could not be read completely ({state.RootTreeError}); some fs trees may be unchecked");
        var sb = ctx.Image.Super;
        bool noHoles = (sb.IncompatFlags & IncompatFlags.NoHoles) != 0;
        foreach (var ri in state.RootItems.Values)
        {
            if (!FsCheckState.IsCheckedFsTree(ri.Id)) continue;
            if (ri.ItemSize < RootItem.LegacySize) continue; // reported by the root-ref phase
            if (ri.Refs == 0 && ObjectIds.IsFsTree(ri.Id))
            {
                // Being deleted (drop in progress, orphan item in the root tree): progs skips it too.
                ctx.Report.Notes.Add($"fs tree {ri.Id} has refs 0 (subvolume being deleted); its contents are not checked");
                continue;
            }
            // The walker checked this tree while its leaves were in memory, when the walk of the tree found the
            // blocks clean (so reading it through the node cache would see the same items) and the root item agrees.
            if (ctx.Walk != null && ctx.Walk.FsChecks.TryGetValue(ri.Id, out var done) && done.Root == ri)
            {
                done.FlushTo(ctx.Report);
                state.FsTreesWalked.Add(ri.Id);
                state.SubvolEntries.AddRange(done.SubvolEntries);
                continue;
            }
            var walker = new TreeCheck(ctx, ri, noHoles);
            try
            {
                walker.Walk();
                walker.Finish();
                walker.FlushTo(ctx.Report);
                state.FsTreesWalked.Add(ri.Id);
            }
            catch (InvalidDataException ex)
            {
                walker.FlushTo(ctx.Report);
                ulong bytenr = Corruption.Bytenr(ex);
                ctx.Report.Add(FindingCode.FsTreeUnreadable, ri.Id, bytenr != 0 ? bytenr : walker.LastLeaf, Corruption.Slot(ex),
                    $"root {FsCheckState.TreeName(ri.Id)}: fs tree could not be read past block {(bytenr != 0 ? bytenr : walker.LastLeaf)}: {ex.Message}");
            }
            finally
            {
                walker.FlushTo(ctx.Report);
            }
            state.SubvolEntries.AddRange(walker.SubvolEntries);
        }
    }

    /// <summary>One item of a leaf: what the per-item handlers read (from a cursor, or from a leaf the walker holds).</summary>
    private readonly ref struct Item
    {
        private readonly Leaf _leaf;
        public readonly int Slot;
        public readonly ulong LeafBytenr;
        public Item(Leaf leaf, int slot, ulong leafBytenr) { _leaf = leaf; Slot = slot; LeafBytenr = leafBytenr; }
        public ulong ObjectId => _leaf.KeyObjectId(Slot);
        public ItemType Type => _leaf.KeyType(Slot);
        public ulong Offset => _leaf.KeyOffset(Slot);
        public Span<byte> Data => _leaf.Data(Slot);
        public int DataSize => (int)_leaf.DataSize(Slot);
    }

    private readonly record struct NameKey(ulong Child, ulong Dir, ulong Hash, int Len);

    private sealed class NameKeyComparer : IEqualityComparer<NameKey>
    {
        public static readonly NameKeyComparer Instance = new();
        public bool Equals(NameKey a, NameKey b) => a.Hash == b.Hash && a.Child == b.Child && a.Dir == b.Dir && a.Len == b.Len;
        public int GetHashCode(NameKey k) => (int)(k.Hash ^ (k.Hash >> 32) ^ (k.Child * 0x9E3779B97F4A7C15UL >> 32));
    }

    private struct NameRec
    {
        public byte[] Name;
        public byte Found;       // 1 DIR_ITEM, 2 DIR_INDEX, 4 INODE_REF/EXTREF
        public uint Errors;
        public ulong Index;      // from DIR_INDEX or INODE_REF, whichever came first
        public byte FileType;    // from DIR_ITEM/DIR_INDEX
        public ulong Leaf;
        public int Slot;
    }

    private struct InodeSummary
    {
        public byte FileType;
        public uint NLink;
    }

    /// <summary>State of the inode whose items the walk is in.</summary>
    private struct Cur
    {
        public ulong Ino;
        public bool HasInode, HasItems;
        public uint Mode, NLink;
        public ulong ISize, NBytes;
        public InodeFlags Flags;
        public ulong InodeLeaf;
        public int InodeSlot;
        public uint FoundLinks;
        public ulong DirFoundSize;
        public bool FoundDirItem, FoundFileExtent;
        public ulong FileFoundSize;
        public ulong ExtentStart, ExtentEnd, FirstGap;
        public uint Errors;
        public ulong ErrLeaf;
        public int ErrSlot;
        public string? Detail;
    }

    internal sealed class TreeCheck
    {
        private readonly CheckContext _ctx;
        private readonly RootItemInfo _ri;
        private readonly ulong _tree;
        private readonly string _treeName;
        private readonly bool _noHoles;
        private readonly ulong _sectorMask;
        private readonly ulong _maxInline;
        private Dictionary<ulong, InodeSummary> _inodes = new();
        private Dictionary<NameKey, NameRec> _names = new(NameKeyComparer.Instance);
        private readonly HashSet<ulong> _orphans = new();
        private readonly List<(ulong Ino, ulong Leaf, int Slot)> _nlinkZero = new();
        private bool _rootDirRef;
        private Cur _cur;
        public readonly List<SubvolEntry> SubvolEntries = new();
        public ulong LastLeaf;

        public TreeCheck(CheckContext ctx, RootItemInfo ri, bool noHoles, int capacity = 0)
        {
            if (capacity > 0)
            {
                _names = new(capacity, NameKeyComparer.Instance);
                _inodes = new(capacity);
            }
            _ctx = ctx; _ri = ri; _tree = ri.Id; _treeName = FsCheckState.TreeName(ri.Id); _noHoles = noHoles;
            _sectorMask = (ulong)ctx.Image.SectorSize - 1;
            // progs: min(sectorsize - 1, BTRFS_MAX_INLINE_DATA_SIZE)
            ulong maxInlineData = (ulong)(ctx.Image.NodeSize - NodeHeader.Size - ItemHeader.Size - FileExtentItem.HeaderSize);
            _maxInline = Math.Min(_sectorMask, maxInlineData);
            _cur.Ino = ulong.MaxValue;
        }

        private ulong RootDirId => _ri.RootDirId != 0 ? _ri.RootDirId : ObjectIds.FirstFreeInode;

        private void Add(FindingCode code, ulong leaf, int slot, string message) => Findings.Add(new Finding(code, _tree, leaf, slot, message));

        /// <summary>This tree's findings in order, reported by the fs-roots phase (the walk may run earlier).</summary>
        public readonly List<Finding> Findings = new();
        public RootItemInfo Root => _ri;

        public void FlushTo(CheckReport report)
        {
            foreach (var f in Findings) report.Add(f);
            Findings.Clear();
        }

        public void Walk()
        {
            var c = _ctx.Image.NewCursor();
            if (!c.First(_ri.TreeRoot)) return;
            do
            {
                LastLeaf = c.LeafBytenr;
                ItemSeen(new Item(c.Leaf, c.Slot, c.LeafBytenr));
            } while (c.Next());
        }

        /// <summary>Every item of one leaf, in key order (the walker hands the fs tree's leaves over in tree order).</summary>
        public void LeafSeen(Leaf leaf, int nr, ulong bytenr)
        {
            LastLeaf = bytenr;
            for (int i = 0; i < nr; i++) ItemSeen(new Item(leaf, i, bytenr));
        }

        private void ItemSeen(in Item c)
        {
            ulong oid = c.ObjectId;
            if (oid != _cur.Ino)
            {
                FinishInode();
                _cur = default;
                _cur.Ino = oid;
                _cur.ExtentStart = ulong.MaxValue;
                _cur.FirstGap = ulong.MaxValue;
            }
            var type = c.Type;
            if (oid == ObjectIds.Orphan)
            {
                if (type == ItemType.OrphanItem) _orphans.Add(c.Offset);
                return;
            }
            if (oid < ObjectIds.FirstFreeInode || oid > ObjectIds.LastFree) return; // free-ino cache and friends
            switch (type)
            {
                case ItemType.InodeItem: InodeItemSeen(c); break;
                case ItemType.InodeRef: InodeRefSeen(c); break;
                case ItemType.InodeExtref: InodeExtrefSeen(c); break;
                case ItemType.XattrItem: XattrSeen(c); break;
                case ItemType.DirItem:
                case ItemType.DirIndex: DirEntrySeen(c, type); break;
                case ItemType.ExtentData: FileExtentSeen(c); break;
            }
        }

        private void SetErr(uint bit, ulong leaf, int slot)
        {
            if (_cur.Errors == 0 || _cur.ErrLeaf == 0) { _cur.ErrLeaf = leaf; _cur.ErrSlot = slot; }
            _cur.Errors |= bit;
        }

        private void InodeItemSeen(in Item c)
        {
            _cur.HasItems = true;
            var data = c.Data;
            if (data.Length != InodeItem.Size)
            {
                Add(FindingCode.ItemInvalid, c.LeafBytenr, c.Slot, $"root {_treeName} inode {c.ObjectId}: INODE_ITEM size {data.Length}, expected {InodeItem.Size}");
                if (data.Length < InodeItem.Size) return;
            }
            var ii = new InodeItem(data);
            _cur.HasInode = true;
            _cur.Mode = ii.Mode;
            _cur.NLink = ii.NLink;
            _cur.ISize = ii.FileSize;
            _cur.NBytes = ii.NBytes;
            _cur.Flags = ii.Flags;
            _cur.InodeLeaf = c.LeafBytenr;
            _cur.InodeSlot = c.Slot;
            if ((_cur.Mode & InodeItem.SIfMt) == InodeItem.SIfDir && _cur.NLink > 1) SetErr(IInvalidNlink, c.LeafBytenr, c.Slot);
        }

        private ref NameRec Name(ulong child, ulong dir, ReadOnlySpan<byte> name, ulong leaf, int slot)
        {
            var key = new NameKey(child, dir, XxHash3.HashToUInt64(name), name.Length);
            ref var rec = ref CollectionsMarshal.GetValueRefOrAddDefault(_names, key, out bool exists);
            if (!exists)
            {
                rec.Name = name.ToArray();
                rec.Leaf = leaf;
                rec.Slot = slot;
            }
            return ref rec;
        }

        private void AddInodeName(ulong child, ulong dir, ReadOnlySpan<byte> name, ulong index, ulong leaf, int slot)
        {
            _cur.FoundLinks++;
            if (child == RootDirId && dir == child)
            {
                // the root dir's ".." ref: index 0, name ".."
                _rootDirRef = name.Length == 2 && name[0] == (byte)'.' && name[1] == (byte)'.' && index == 0;
                if (!_rootDirRef)
                    Add(FindingCode.DirEntryMismatch, leaf, slot, $"root {_treeName} root dir {child} has INODE_REF to itself with name '{NameText.Of(name)}' index {index}, expected '..' index 0");
                return;
            }
            ref var rec = ref Name(child, dir, name, leaf, slot);
            if ((rec.Found & 4) != 0) rec.Errors |= RefDupInodeRef;
            else if ((rec.Found & 2) != 0) { if (rec.Index != index) rec.Errors |= RefIndexUnmatch; }
            else rec.Index = index;
            rec.Found |= 4;
        }

        private void InodeRefSeen(in Item c)
        {
            _cur.HasItems = true;
            var r = new InodeRefReader(c.Data);
            ulong dir = c.Offset;
            while (r.Next(out var e))
            {
                if (e.Name.Length > 255) { Add(FindingCode.ItemInvalid, c.LeafBytenr, c.Slot, $"root {_treeName} inode {c.ObjectId}: INODE_REF name too long ({e.Name.Length})"); continue; }
                AddInodeName(c.ObjectId, dir, e.Name, e.Index, c.LeafBytenr, c.Slot);
            }
            if (r.Malformed)
                Add(FindingCode.ItemInvalid, c.LeafBytenr, c.Slot, $"root {_treeName} inode {c.ObjectId}: INODE_REF {dir} entries do not end at the item end ({c.DataSize} bytes)");
        }

        private void InodeExtrefSeen(in Item c)
        {
            _cur.HasItems = true;
            var r = new InodeExtrefReader(c.Data);
            while (r.Next(out var e))
            {
                ulong want = Checksums.ExtrefHash(e.Parent, e.Name);
                if (want != c.Offset)
                    Add(FindingCode.NameHashMismatch, c.LeafBytenr, c.Slot,
                        $"root {_treeName} inode {c.ObjectId}: INODE_EXTREF key offset 0x{c.Offset:x} but extref hash of parent {e.Parent} name '{NameText.Of(e.Name)}' is 0x{want:x}");
                AddInodeName(c.ObjectId, e.Parent, e.Name, e.Index, c.LeafBytenr, c.Slot);
            }
            if (r.Malformed)
                Add(FindingCode.ItemInvalid, c.LeafBytenr, c.Slot, $"root {_treeName} inode {c.ObjectId}: INODE_EXTREF entries do not end at the item end ({c.DataSize} bytes)");
        }

        private void XattrSeen(in Item c)
        {
            _cur.HasItems = true;
            var r = new DirEntryReader(c.Data);
            while (r.Next(out var e))
            {
                ulong want = Checksums.NameHash(e.Name);
                if (want != c.Offset)
                    Add(FindingCode.NameHashMismatch, c.LeafBytenr, c.Slot,
                        $"root {_treeName} inode {c.ObjectId}: XATTR_ITEM name '{NameText.Of(e.Name)}' key offset 0x{c.Offset:x}, name hash 0x{want:x8}");
                if (e.Type != DirEntryType.Xattr)
                    SetErr(IInvalidXattr, c.LeafBytenr, c.Slot);
            }
            if (r.Malformed) SetErr(IInvalidXattr, c.LeafBytenr, c.Slot);
        }

        private void DirEntrySeen(in Item c, ItemType type)
        {
            _cur.HasItems = true;
            _cur.FoundDirItem = true;
            if (_cur.HasInode && _cur.NLink == 0) return; // unlinked dir (progs ignores its entries)
            var r = new DirEntryReader(c.Data);
            int n = 0;
            ulong dir = c.ObjectId;
            bool isIndex = type == ItemType.DirIndex;
            while (r.Next(out var e))
            {
                n++;
                _cur.DirFoundSize += (ulong)e.Name.Length;
                if (e.Name.Length > 255 || e.Data.Length != 0)
                    Add(FindingCode.ItemInvalid, c.LeafBytenr, c.Slot, $"root {_treeName} dir {dir}: {(isIndex ? "DIR_INDEX" : "DIR_ITEM")} {c.Offset} entry name_len {e.Name.Length} data_len {e.Data.Length}");
                if (!isIndex)
                {
                    ulong want = Checksums.NameHash(e.Name);
                    if (want != c.Offset)
                    {
                        SetErr(IMismatchDirHash, c.LeafBytenr, c.Slot);
                        _cur.Detail ??= $"name: {NameText.Of(e.Name)} namelen: {e.Name.Length} wanted 0x{want:x8} has 0x{c.Offset:x8}";
                        continue;
                    }
                }
                if (e.Location.Type == ItemType.InodeItem)
                {
                    ref var rec = ref Name(e.Location.ObjectId, dir, e.Name, c.LeafBytenr, c.Slot);
                    byte bit = isIndex ? (byte)2 : (byte)1;
                    if ((rec.Found & bit) != 0) rec.Errors |= isIndex ? RefDupDirIndex : RefDupDirItem;
                    if ((rec.Found & 3) != 0 && rec.FileType != (byte)e.Type) rec.Errors |= RefFiletypeUnmatch;
                    rec.FileType = (byte)e.Type;
                    if (isIndex)
                    {
                        if ((rec.Found & 4) != 0) { if (rec.Index != c.Offset) rec.Errors |= RefIndexUnmatch; }
                        else rec.Index = c.Offset;
                    }
                    rec.Found |= bit;
                }
                else if (e.Location.Type == ItemType.RootItem)
                {
                    SubvolEntries.Add(new SubvolEntry(_tree, dir, e.Location.ObjectId, e.Name.ToArray(), isIndex, isIndex ? c.Offset : 0, c.LeafBytenr, c.Slot));
                }
                else
                {
                    Add(FindingCode.ItemInvalid, c.LeafBytenr, c.Slot,
                        $"root {_treeName}: unknown location type {(byte)e.Location.Type} in {(isIndex ? "DIR_INDEX" : "DIR_ITEM")}[{dir} {c.Offset}]");
                }
            }
            if (r.Malformed)
                Add(FindingCode.ItemInvalid, c.LeafBytenr, c.Slot, $"root {_treeName} dir {dir}: {(isIndex ? "DIR_INDEX" : "DIR_ITEM")} {c.Offset} entries do not end at the item end");
            if (isIndex && n > 1) SetErr(IDupDirIndex, c.LeafBytenr, c.Slot);
        }

        private void FileExtentSeen(in Item c)
        {
            _cur.HasItems = true;
            _cur.FoundFileExtent = true;
            ulong off = c.Offset;
            if (_cur.ExtentStart == ulong.MaxValue) { _cur.ExtentStart = off; _cur.ExtentEnd = off; }
            if (_cur.ExtentEnd > off) SetErr(IFileExtentOverlap, c.LeafBytenr, c.Slot);
            else if (_cur.ExtentEnd < off && _cur.FirstGap == ulong.MaxValue) _cur.FirstGap = _cur.ExtentEnd;
            if ((off & _sectorMask) != 0) SetErr(IUnalignedExtent, c.LeafBytenr, c.Slot);
            var data = c.Data;
            if (data.Length < FileExtentItem.HeaderSize) { SetErr(IBadFileExtent, c.LeafBytenr, c.Slot); return; }
            var fe = new FileExtentItem(data);
            ulong num;
            switch (fe.Type)
            {
                case FileExtentType.Inline:
                {
                    num = fe.RamBytes;
                    if (num == 0) SetErr(IBadFileExtent, c.LeafBytenr, c.Slot);
                    if (off != 0) SetErr(IBadFileExtent, c.LeafBytenr, c.Slot);
                    ulong inlineLen = (ulong)(data.Length - FileExtentItem.HeaderSize);
                    if (fe.Compression != 0)
                    {
                        if (inlineLen > _maxInline || num > _sectorMask + 1) SetErr(IFileExtentTooLarge, c.LeafBytenr, c.Slot);
                    }
                    else
                    {
                        if (num > _maxInline) SetErr(IFileExtentTooLarge, c.LeafBytenr, c.Slot);
                        if (inlineLen != num) SetErr(IInlineRamBytesWrong, c.LeafBytenr, c.Slot);
                    }
                    _cur.FileFoundSize += num;
                    num = (num + _sectorMask) & ~_sectorMask;
                    break;
                }
                case FileExtentType.Regular:
                case FileExtentType.Prealloc:
                {
                    if (data.Length < FileExtentItem.Size) { SetErr(IBadFileExtent, c.LeafBytenr, c.Slot); return; }
                    num = fe.NumBytes;
                    ulong disk = fe.DiskBytenr;
                    if (num == 0 || (num & _sectorMask) != 0) SetErr(IBadFileExtent, c.LeafBytenr, c.Slot);
                    if (num + fe.Offset > fe.RamBytes) SetErr(IBadFileExtent, c.LeafBytenr, c.Slot);
                    if (fe.Type == FileExtentType.Prealloc && (fe.Compression != 0 || fe.Encryption != 0 || fe.OtherEncoding != 0))
                        SetErr(IBadFileExtent, c.LeafBytenr, c.Slot);
                    if (((disk | fe.DiskNumBytes | fe.Offset) & _sectorMask) != 0) SetErr(IUnalignedExtent, c.LeafBytenr, c.Slot);
                    if (disk != 0) _cur.FileFoundSize += num;
                    break;
                }
                default:
                    SetErr(IBadFileExtent, c.LeafBytenr, c.Slot);
                    return;
            }
            _cur.ExtentEnd = off + num;
        }

        private void FinishInode()
        {
            ref var r = ref _cur;
            if (r.Ino == ulong.MaxValue || r.Ino < ObjectIds.FirstFreeInode || r.Ino > ObjectIds.LastFree || !r.HasItems) return;
            ulong leaf = r.HasInode ? r.InodeLeaf : r.ErrLeaf;
            int slot = r.HasInode ? r.InodeSlot : r.ErrSlot;
            if (!r.HasInode)
            {
                r.Errors |= INoInodeItem;
            }
            else
            {
                _inodes[r.Ino] = new InodeSummary { FileType = (byte)InodeItem.TypeFromMode(r.Mode), NLink = r.NLink };
                uint fmt = r.Mode & InodeItem.SIfMt;
                if (InodeItem.TypeFromMode(r.Mode) == DirEntryType.Unknown) r.Errors |= IInvalidImode;
                if (r.NLink == 0)
                {
                    // Unlinked, waiting for orphan cleanup: needs an orphan item; its counters are not final.
                    _nlinkZero.Add((r.Ino, leaf, slot));
                    r.Errors &= ~(IDirIsizeWrong | IFileNbytesWrong | IFileExtentDiscount);
                }
                else
                {
                    if (r.FoundLinks != r.NLink) r.Errors |= ILinkCountWrong;
                    if (fmt == InodeItem.SIfDir)
                    {
                        if (r.DirFoundSize != r.ISize) r.Errors |= IDirIsizeWrong;
                        if (r.FoundFileExtent) r.Errors |= IOddFileExtent;
                    }
                    else if (fmt == InodeItem.SIfReg || fmt == InodeItem.SIfLnk)
                    {
                        if (r.FoundDirItem) r.Errors |= IOddDirItem;
                        if (r.FileFoundSize != r.NBytes) r.Errors |= IFileNbytesWrong;
                        if (!_noHoles && r.ISize != 0 &&
                            (r.ExtentEnd < r.ISize || r.ExtentStart != 0 || (r.FirstGap != ulong.MaxValue && r.FirstGap < r.ISize)))
                            r.Errors |= IFileExtentDiscount;
                    }
                }
            }
            if (r.Errors != 0) ReportInode(r.Ino, r.Errors, leaf, slot, r);
        }

        private static readonly (uint Bit, FindingCode Code, string Text)[] InodeErrors =
        {
            (INoInodeItem, FindingCode.InodeMissing, "no inode item"),
            (INoOrphanItem, FindingCode.OrphanMissing, "no orphan item"),
            (IDupDirIndex, FindingCode.DirEntryMismatch, "dup dir index"),
            (IOddDirItem, FindingCode.DirEntryMismatch, "odd dir item"),
            (IOddFileExtent, FindingCode.FileExtentInvalid, "odd file extent"),
            (IBadFileExtent, FindingCode.FileExtentInvalid, "bad file extent"),
            (IFileExtentOverlap, FindingCode.FileExtentOverlap, "file extent overlap"),
            (IFileExtentTooLarge, FindingCode.InlineExtentInvalid, "inline file extent too large"),
            (IFileExtentDiscount, FindingCode.FileExtentGap, "file extent discount"),
            (IDirIsizeWrong, FindingCode.DirSizeMismatch, "dir isize wrong"),
            (IFileNbytesWrong, FindingCode.NbytesMismatch, "nbytes wrong"),
            (ILinkCountWrong, FindingCode.NlinkMismatch, "link count wrong"),
            (IUnalignedExtent, FindingCode.FileExtentInvalid, "unaligned file extent"),
            (IInlineRamBytesWrong, FindingCode.InlineExtentInvalid, "invalid inline ram bytes"),
            (IMismatchDirHash, FindingCode.NameHashMismatch, "dir item hash mismatch"),
            (IInvalidImode, FindingCode.InodeInvalid, "invalid inode mode"),
            (IInvalidNlink, FindingCode.InodeInvalid, "directory has invalid nlink"),
            (IInvalidXattr, FindingCode.InodeInvalid, "invalid xattr"),
        };

        private void ReportInode(ulong ino, uint errors, ulong leaf, int slot, in Cur r)
        {
            foreach (var (bit, code, text) in InodeErrors)
            {
                if ((errors & bit) == 0) continue;
                string detail = bit switch
                {
                    ILinkCountWrong => $" (nlink {r.NLink}, found {r.FoundLinks} names)",
                    IDirIsizeWrong => $" (isize {r.ISize}, names {r.DirFoundSize})",
                    IFileNbytesWrong => $" (nbytes {r.NBytes}, extents {r.FileFoundSize})",
                    IInvalidNlink => $" {r.NLink}",
                    IMismatchDirHash => r.Detail != null ? $": {r.Detail}" : "",
                    IFileExtentDiscount => $" (extents {r.ExtentStart}..{r.ExtentEnd}, isize {r.ISize})",
                    _ => "",
                };
                if (bit == IInvalidImode) detail = $" bit 0{Convert.ToString(r.Mode & ~0xFFFu, 8)}";
                Add(code, leaf, slot, $"root {_treeName} inode {ino} errors {bit:x}, {text}{detail}");
            }
        }

        public void Finish()
        {
            FinishInode();
            _cur = default;
            _cur.Ino = ulong.MaxValue;

            foreach (var (ino, leaf, slot) in _nlinkZero)
                if (!_orphans.Contains(ino))
                    Add(FindingCode.OrphanMissing, leaf, slot, $"root {_treeName} inode {ino} errors {INoOrphanItem:x}, no orphan item");

            // The root directory: INODE_ITEM (a dir) and its ".." ref.
            ulong rootDir = RootDirId;
            if (!_inodes.TryGetValue(rootDir, out var rd))
                Add(FindingCode.RootDirMissing, _ri.Bytenr, -1, $"root {_treeName} root dir {rootDir} not found");
            else if (rd.FileType != (byte)DirEntryType.Dir)
                Add(FindingCode.RootDirMissing, _ri.Bytenr, -1, $"root {_treeName} root dir {rootDir} is not a directory");
            else if (!_rootDirRef)
                Add(FindingCode.RootDirMissing, _ri.Bytenr, -1, $"root {_treeName} root dir {rootDir} has no INODE_REF '..' index 0");

            HashSet<ulong>? missingReported = null;
            foreach (var (key, rec) in _names)
            {
                uint err = rec.Errors;
                bool childExists = _inodes.TryGetValue(key.Child, out var child);
                if (childExists && child.NLink == 0 && (rec.Found & 4) == 0) continue;
                if ((rec.Found & 1) == 0) err |= RefNoDirItem;
                if ((rec.Found & 2) == 0) err |= RefNoDirIndex;
                if ((rec.Found & 4) == 0) err |= RefNoInodeRef;
                if (childExists && (rec.Found & 3) != 0 && rec.FileType != child.FileType) err |= RefFiletypeUnmatch;
                if (!childExists)
                {
                    missingReported ??= new HashSet<ulong>();
                    // An inode with refs but no INODE_ITEM was reported when its items ended.
                    if (missingReported.Add(key.Child) && (rec.Found & 4) == 0)
                        Add(FindingCode.InodeMissing, rec.Leaf, rec.Slot,
                            $"root {_treeName} inode {key.Child} errors {INoInodeItem:x}, no inode item (referenced by dir {key.Dir} name '{NameText.Of(rec.Name)}')");
                    err &= ~RefNoInodeRef;
                }
                if (err == 0) continue;
                string prefix = $"root {_treeName} inode {key.Child} unresolved ref dir {key.Dir} index {rec.Index} namelen {rec.Name.Length} name {NameText.Of(rec.Name)} filetype {rec.FileType} errors {err:x}";
                EmitRefErrors(prefix, err, rec.Leaf, rec.Slot);
            }
        }

        private void EmitRefErrors(string prefix, uint err, ulong leaf, int slot)
        {
            if ((err & RefNoDirItem) != 0) Add(FindingCode.DirItemMissing, leaf, slot, prefix + ", no dir item");
            if ((err & RefNoDirIndex) != 0) Add(FindingCode.DirIndexMissing, leaf, slot, prefix + ", no dir index");
            if ((err & RefNoInodeRef) != 0) Add(FindingCode.InodeRefMissing, leaf, slot, prefix + ", no inode ref");
            if ((err & (RefDupDirItem | RefDupDirIndex | RefDupInodeRef)) != 0) Add(FindingCode.DirEntryMismatch, leaf, slot, prefix + ", duplicate name");
            if ((err & RefIndexUnmatch) != 0) Add(FindingCode.DirEntryMismatch, leaf, slot, prefix + ", index mismatch");
            if ((err & RefFiletypeUnmatch) != 0) Add(FindingCode.DirEntryMismatch, leaf, slot, prefix + ", filetype mismatch");
        }
    }
}
