using System.Security.Cryptography;
using System.Text;
using BtrfsLite.Format;
using BtrfsLite.IO;

namespace BtrfsLite.Mkfs;

/// <summary>One chunk of the new filesystem: logical range, type (with profile), device offsets of its copies, bytes used.</summary>
/// <param name="Logical">The chunk's logical start in bytes.</param>
/// <param name="Length">Its length in bytes.</param>
/// <param name="Type">Its block group type and profile.</param>
/// <param name="Physical">The device offset of each copy (one for SINGLE, two for DUP).</param>
/// <param name="Used">Bytes allocated in it (the block group item's used).</param>
public sealed record ChunkLayout(ulong Logical, ulong Length, BlockGroupFlags Type, IReadOnlyList<ulong> Physical, ulong Used);

/// <summary>What <see cref="ImageBuilder.Create"/> wrote.</summary>
/// <param name="Fsid">The file system's uuid.</param>
/// <param name="DevUuid">The device's uuid.</param>
/// <param name="ChunkTreeUuid">The chunk tree's uuid.</param>
/// <param name="FsTreeUuid">The top-level subvolume's uuid.</param>
/// <param name="Label">The label.</param>
/// <param name="TotalBytes">The file system's size in bytes (btrfs_super_block.total_bytes).</param>
/// <param name="NodeSize">The tree block size in bytes.</param>
/// <param name="SectorSize">The sector size in bytes.</param>
/// <param name="Generation">The generation of every block written (<see cref="ImageBuilder.Generation"/>).</param>
/// <param name="BytesUsed">Bytes allocated in the chunks: the tree blocks (btrfs_super_block.bytes_used).</param>
/// <param name="Chunks">The chunks, in logical order.</param>
/// <param name="Incompat">The incompat feature flags set.</param>
/// <param name="CompatRo">The compat_ro feature flags set.</param>
/// <param name="Quota">Whether quotas are enabled.</param>
/// <param name="FreeSpaceTree">Whether the free space tree exists.</param>
/// <param name="MetadataProfile">The metadata and system profile.</param>
/// <param name="TreeRoots">The logical address of each tree's root block, by tree id.</param>
public sealed record ImageSummary(
    Guid Fsid, Guid DevUuid, Guid ChunkTreeUuid, Guid FsTreeUuid, string Label,
    ulong TotalBytes, int NodeSize, int SectorSize, ulong Generation, ulong BytesUsed,
    IReadOnlyList<ChunkLayout> Chunks, IncompatFlags Incompat, CompatRoFlags CompatRo, bool Quota, bool FreeSpaceTree,
    MetadataProfile MetadataProfile, IReadOnlyDictionary<ulong, ulong> TreeRoots);

/// <summary>
/// Writes a brand-new, empty btrfs filesystem in its final state in one go (what mkfs.btrfs ends with, without its
/// temporary first stage): chunks, every tree as packed leaves (and nodes when a tree outgrows one leaf), then the
/// superblock and its mirrors. The result opens with <c>BtrfsImage.Open(path, new(Writable: true))</c> for transactions.
/// </summary>
/// <remarks>
/// Layout (identity mapped where possible: logical start = physical offset of the first copy):
/// SINGLE: system 4 MiB at 1 MiB, metadata 8 MiB at 5 MiB, data 8 MiB at 13 MiB (exactly mkfs.btrfs 6.2 -m single).
/// DUP: system DUP 8 MiB (copies at 1 and 9 MiB), metadata DUP 32 MiB (copies at 17 and 49 MiB), data SINGLE 8 MiB at
/// 81 MiB (mkfs.btrfs 6.2's sizes for a small device). The writer adds chunks on demand. Every block has generation
/// <see cref="Generation"/>; the chunk tree lives at the start of the system chunk, all other trees are packed
/// contiguously from the start of the metadata chunk, so each group's free space is one run.
/// </remarks>
public static class ImageBuilder
{
    /// <summary>The one transaction id of a new filesystem (every header, ROOT_ITEM, inode and qgroup generation).</summary>
    public const ulong Generation = 1;

    private const ulong MiB = 1UL << 20;
    private const ulong FirstChunkStart = MiB;
    private const int IoAlign = 4096;
    /// <summary>Primary superblock and the mirrors at 64 MiB and 256 GiB.</summary>
    private const int SuperCopies = 3;

    /// <summary>
    /// Writes a new, empty btrfs file system on <paramref name="dev"/> as <paramref name="o"/> describes (see
    /// <see cref="Validate"/>).
    /// </summary>
    /// <returns>What was written: uuids, sizes, chunks and tree roots.</returns>
    /// <exception cref="ArgumentException">The device is read-only, or the options cannot make a file system on
    /// it.</exception>
    public static ImageSummary Create(IBlockDevice dev, ImageOptions o)
    {
        ArgumentNullException.ThrowIfNull(dev);
        ArgumentNullException.ThrowIfNull(o);
        if (!dev.CanWrite) throw new ArgumentException($"{dev.Name} is open read-only");
        ulong total = Validate(o, dev.Length);
        var b = new Build(o, total);
        b.Plan();
        b.Write(dev);
        return b.Summary();
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> (naming the problem) when <paramref name="o"/> cannot make a filesystem on a
    /// device of <paramref name="deviceLength"/> bytes; returns the filesystem size (sector aligned).
    /// </summary>
    public static ulong Validate(ImageOptions o, long deviceLength)
    {
        long size = o.Size ?? deviceLength;
        if (size > deviceLength)
            throw new ArgumentException($"size {size} is larger than the device ({deviceLength} bytes)");
        if (size < ImageOptions.MinimumSize)
            throw new ArgumentException($"{size} bytes is too small for a btrfs filesystem: the minimum is {ImageOptions.MinimumSize} bytes (128 MiB)");
        int ss = o.SectorSize, ns = o.NodeSize;
        if (ss < 4096 || ss > 65536 || !IsPow2(ss))
            throw new ArgumentException($"sectorsize {ss} is invalid: a power of two in [4096, 65536]");
        int page = Environment.SystemPageSize;
        if (ss != 4096 && ss != page)
            throw new ArgumentException($"sectorsize {ss} is not supported on this machine: use 4096 or the page size ({page})");
        if (ns < ss || ns > 65536 || !IsPow2(ns))
            throw new ArgumentException($"nodesize {ns} is invalid: a power of two in [sectorsize {ss}, 65536]");
        if (Encoding.UTF8.GetByteCount(o.Label) >= Superblock.LabelSize)
            throw new ArgumentException($"label is too long: at most {Superblock.LabelSize - 1} bytes");
        if (o.Label.Contains('\n') || o.Label.Contains('\0'))
            throw new ArgumentException("label must not contain a newline or NUL");
        return (ulong)size / (ulong)ss * (ulong)ss;
    }

    private static bool IsPow2(int v) => v > 0 && (v & (v - 1)) == 0;

    /// <summary>One leaf item: key and payload.</summary>
    private readonly record struct Item(Key Key, byte[] Data);

    /// <summary>How a tree's items are cut into blocks: level 0 groups are item ranges, higher levels child ranges.</summary>
    private sealed class TreePlan
    {
        public required ulong Id;
        public required List<List<(int Start, int Count)>> Levels;
        public int BlockCount => Levels.Sum(l => l.Count);
        public byte RootLevel => (byte)(Levels.Count - 1);
        public bool SameShape(TreePlan other) =>
            Levels.Count == other.Levels.Count && Levels.Zip(other.Levels).All(p => p.First.SequenceEqual(p.Second));
    }

    private sealed class Chunk
    {
        public required ulong Logical, Length;
        public required BlockGroupFlags Type;
        public required ulong[] Physical;
        public ulong Used;
        public ulong Next; // next free logical address (tree blocks are packed from the start)
        public int IoAlignment => (Type & BlockGroupFlags.System) != 0 ? IoAlign : 65536;
    }

    private sealed class Build
    {
        private readonly ImageOptions _o;
        private readonly ulong _total;
        private readonly int _ns;
        private readonly Guid _fsid, _devUuid, _chunkUuid, _fsTreeUuid;
        private readonly Timespec _now;
        private readonly List<Chunk> _chunks = new();
        private readonly Chunk _sys, _meta, _data;
        private readonly ulong[] _trees;

        private Dictionary<ulong, List<Item>> _items = new();
        private Dictionary<ulong, TreePlan> _plans = new();
        /// <summary>Block addresses per tree in plan order (level 0 groups first, root last).</summary>
        private Dictionary<ulong, ulong[]> _addr = new();

        public Build(ImageOptions o, ulong total)
        {
            _o = o;
            _total = total;
            _ns = o.NodeSize;
            _now = Timespec.FromDateTimeOffset(o.ResolveTime());
            if (o.Deterministic)
            {
                _fsid = o.Fsid ?? SeededUuid(o, "fsid");
                _devUuid = SeededUuid(o, "device");
                _chunkUuid = SeededUuid(o, "chunk-tree");
                _fsTreeUuid = SeededUuid(o, "fs-tree");
            }
            else
            {
                _fsid = o.Fsid ?? Guid.NewGuid();
                _devUuid = Guid.NewGuid();
                _chunkUuid = Guid.NewGuid();
                _fsTreeUuid = Guid.NewGuid();
            }

            bool dup = o.MetadataProfile == MetadataProfile.Dup;
            ulong phys = FirstChunkStart;
            Chunk Add(BlockGroupFlags type, ulong length, int copies)
            {
                var c = new Chunk { Logical = phys, Length = length, Type = type, Physical = new ulong[copies] };
                for (int i = 0; i < copies; i++) { c.Physical[i] = phys; phys += length; }
                c.Next = c.Logical;
                _chunks.Add(c);
                return c;
            }
            _sys = dup ? Add(BlockGroupFlags.System | BlockGroupFlags.Dup, 8 * MiB, 2) : Add(BlockGroupFlags.System, 4 * MiB, 1);
            _meta = dup ? Add(BlockGroupFlags.Metadata | BlockGroupFlags.Dup, 32 * MiB, 2) : Add(BlockGroupFlags.Metadata, 8 * MiB, 1);
            _data = Add(BlockGroupFlags.Data, 8 * MiB, 1);
            if (phys > _total) throw new ArgumentException($"the initial chunks need {phys} bytes, the filesystem has {_total}");

            var trees = new List<ulong> { ObjectIds.RootTree, ObjectIds.ExtentTree, ObjectIds.ChunkTree, ObjectIds.DevTree, ObjectIds.FsTree, ObjectIds.CsumTree };
            if (o.Quota) trees.Add(ObjectIds.QuotaTree);
            trees.Add(ObjectIds.UuidTree);
            if (o.FreeSpaceTree) trees.Add(ObjectIds.FreeSpaceTree);
            trees.Add(ObjectIds.DataRelocTree);
            _trees = trees.ToArray();
        }

        private static Guid SeededUuid(ImageOptions o, string purpose)
        {
            // SHA-256 of (seed, explicit fsid, purpose) shaped as a version 4 / RFC 4122 variant uuid.
            var h = SHA256.HashData(Encoding.UTF8.GetBytes($"btrfslite-mkfs\0{o.Seed}\0{o.Fsid?.ToString() ?? ""}\0{purpose}"));
            h[6] = (byte)((h[6] & 0x0F) | 0x40);
            h[8] = (byte)((h[8] & 0x3F) | 0x80);
            return new Guid(h.AsSpan(0, 16), bigEndian: true);
        }

        // ---------------------------------------------------------------- planning

        /// <summary>
        /// Finds the fixed point: the extent tree holds one item per tree block, so its size depends on the block
        /// count. Start from one leaf per tree; rebuild items with the resulting addresses until the shapes repeat.
        /// </summary>
        public void Plan()
        {
            _plans = _trees.ToDictionary(t => t, t => new TreePlan { Id = t, Levels = new() { new() { (0, 0) } } });
            for (int iter = 0; iter < 32; iter++)
            {
                AssignAddresses();
                BuildItems();
                var next = _trees.ToDictionary(t => t, t => Pack(t, _items[t]));
                if (_trees.All(t => next[t].SameShape(_plans[t]))) return;
                _plans = next;
            }
            throw new InvalidOperationException("mkfs: tree layout did not converge");
        }

        private void AssignAddresses()
        {
            foreach (var c in _chunks) { c.Used = 0; c.Next = c.Logical; }
            _addr = new();
            foreach (var t in _trees)
            {
                var chunk = t == ObjectIds.ChunkTree ? _sys : _meta;
                var a = new ulong[_plans[t].BlockCount];
                for (int i = 0; i < a.Length; i++)
                {
                    if (chunk.Next + (ulong)_ns > chunk.Logical + chunk.Length)
                        throw new InvalidOperationException($"mkfs: {chunk.Type} chunk too small for the initial trees");
                    a[i] = chunk.Next;
                    chunk.Next += (ulong)_ns;
                    chunk.Used += (ulong)_ns;
                }
                _addr[t] = a;
            }
        }

        private ulong RootOf(ulong tree) => _addr[tree][^1];
        private byte LevelOf(ulong tree) => _plans[tree].RootLevel;
        private ulong BytesUsed => _chunks.Aggregate(0UL, (s, c) => s + c.Used);

        /// <summary>Greedy packing: leaves take items while they fit, nodes take pointers while they fit.</summary>
        private TreePlan Pack(ulong tree, List<Item> items)
        {
            int leafCap = _ns - NodeHeader.Size;
            var leaves = new List<(int, int)>();
            int start = 0, used = 0;
            for (int i = 0; i < items.Count; i++)
            {
                int need = ItemHeader.Size + items[i].Data.Length;
                if (need > leafCap) throw new InvalidOperationException($"mkfs: item {items[i].Key} of tree {tree} does not fit a {_ns}-byte leaf");
                if (used + need > leafCap)
                {
                    leaves.Add((start, i - start));
                    start = i;
                    used = 0;
                }
                used += need;
            }
            leaves.Add((start, items.Count - start)); // an empty tree is one empty leaf
            var levels = new List<List<(int, int)>> { leaves };
            int perNode = InternalNode.MaxItems(_ns);
            while (levels[^1].Count > 1)
            {
                int n = levels[^1].Count;
                var up = new List<(int, int)>();
                for (int s = 0; s < n; s += perNode) up.Add((s, Math.Min(perNode, n - s)));
                levels.Add(up);
            }
            return new TreePlan { Id = tree, Levels = levels };
        }

        // ---------------------------------------------------------------- items

        private void BuildItems()
        {
            _items = new()
            {
                [ObjectIds.RootTree] = RootTreeItems(),
                [ObjectIds.ChunkTree] = ChunkTreeItems(),
                [ObjectIds.DevTree] = DevTreeItems(),
                [ObjectIds.FsTree] = SubvolRootItems(),
                [ObjectIds.DataRelocTree] = SubvolRootItems(),
                [ObjectIds.CsumTree] = new(),
                [ObjectIds.UuidTree] = UuidTreeItems(),
            };
            if (_o.Quota) _items[ObjectIds.QuotaTree] = QuotaTreeItems();
            if (_o.FreeSpaceTree) _items[ObjectIds.FreeSpaceTree] = FreeSpaceTreeItems();
            _items[ObjectIds.ExtentTree] = ExtentTreeItems();
            foreach (var list in _items.Values) list.Sort((a, b) => a.Key.CompareTo(b.Key));
        }

        private void FillDirInode(Span<byte> b, bool rootItemInode)
        {
            var ii = new InodeItem(b);
            ii.Generation = Generation;
            ii.Transid = Generation;
            ii.NLink = 1;
            ii.Mode = InodeItem.SIfDir | 0x1ED; // 0o40755
            if (rootItemInode)
            {
                // ROOT_ITEM's embedded inode as mkfs writes it (unchecked by the kernel and btrfs check).
                ii.FileSize = 3;
                ii.NBytes = (ulong)_ns;
                return;
            }
            ii.Atime = ii.Ctime = ii.Mtime = ii.Otime = _now;
        }

        private List<Item> RootTreeItems()
        {
            var items = new List<Item>();
            foreach (var t in _trees)
            {
                if (t is ObjectIds.RootTree or ObjectIds.ChunkTree) continue;
                var data = new byte[RootItem.Size];
                var ri = new RootItem(data);
                FillDirInode(data, rootItemInode: true);
                ri.Generation = Generation;
                ri.GenerationV2 = Generation;
                ri.RootDirId = t is ObjectIds.FsTree or ObjectIds.DataRelocTree ? ObjectIds.FirstFreeInode : 0;
                ri.Bytenr = RootOf(t);
                ri.Level = LevelOf(t);
                ri.BytesUsed = (ulong)(_plans[t].BlockCount * _ns);
                ri.Refs = 1;
                if (t == ObjectIds.FsTree)
                {
                    ri.Uuid = _fsTreeUuid;
                    ri.Ctransid = ri.Otransid = Generation;
                    ri.Ctime = ri.Otime = _now;
                }
                items.Add(new(new Key(t, ItemType.RootItem, 0), data));
            }

            // The top-level subvolume's name in the root tree directory (inode 6), as mkfs writes it.
            var name = "default"u8;
            var backref = new byte[InodeRefEntry.HeaderSize + name.Length];
            InodeRefEntry.Write(backref, 0, name);
            items.Add(new(new Key(ObjectIds.FsTree, ItemType.InodeRef, ObjectIds.RootTreeDir), backref));

            var dirInode = new byte[InodeItem.Size];
            FillDirInode(dirInode, rootItemInode: false);
            items.Add(new(new Key(ObjectIds.RootTreeDir, ItemType.InodeItem, 0), dirInode));
            var dotdot = new byte[InodeRefEntry.HeaderSize + 2];
            InodeRefEntry.Write(dotdot, 0, ".."u8);
            items.Add(new(new Key(ObjectIds.RootTreeDir, ItemType.InodeRef, ObjectIds.RootTreeDir), dotdot));
            var dir = new byte[DirEntry.HeaderSize + name.Length];
            DirEntry.Write(dir, new Key(ObjectIds.FsTree, ItemType.RootItem, ulong.MaxValue), Generation, DirEntryType.Dir, name, default);
            items.Add(new(new Key(ObjectIds.RootTreeDir, ItemType.DirItem, Checksums.NameHash(name)), dir));
            return items;
        }

        private List<Item> ChunkTreeItems()
        {
            var items = new List<Item>();
            var devItem = new byte[DevItem.Size];
            FillDevItem(new DevItem(devItem));
            items.Add(new(new Key(ObjectIds.DevItems, ItemType.DevItem, 1), devItem));
            foreach (var c in _chunks)
                items.Add(new(new Key(ObjectIds.FirstChunkTree, ItemType.ChunkItem, c.Logical), ChunkBytes(c)));
            return items;
        }

        private void FillDevItem(DevItem d)
        {
            d.DevId = 1;
            d.TotalBytes = _total;
            d.BytesUsed = _chunks.Aggregate(0UL, (s, c) => s + c.Length * (ulong)c.Physical.Length);
            d.IoAlign = d.IoWidth = d.SectorSize = (uint)_o.SectorSize;
            d.Uuid = _devUuid;
            d.Fsid = _fsid;
        }

        private byte[] ChunkBytes(Chunk c)
        {
            var data = new byte[ChunkItem.SizeWith(c.Physical.Length)];
            var ci = new ChunkItem(data);
            ci.Length = c.Length;
            ci.Owner = ObjectIds.ExtentTree;
            ci.StripeLen = 65536;
            ci.Type = c.Type;
            ci.IoAlign = ci.IoWidth = (uint)c.IoAlignment;
            ci.SectorSize = (uint)_o.SectorSize;
            ci.NumStripes = (ushort)c.Physical.Length;
            ci.SubStripes = 1;
            for (int i = 0; i < c.Physical.Length; i++)
            {
                var s = ci.Stripe(i);
                s.DevId = 1;
                s.Offset = c.Physical[i];
                s.DevUuid = _devUuid;
            }
            return data;
        }

        private List<Item> DevTreeItems()
        {
            var items = new List<Item>();
            foreach (var c in _chunks)
                foreach (var p in c.Physical)
                {
                    var data = new byte[DevExtent.Size];
                    _ = new DevExtent(data)
                    {
                        ChunkTree = ObjectIds.ChunkTree,
                        ChunkObjectId = ObjectIds.FirstChunkTree,
                        ChunkOffset = c.Logical,
                        Length = c.Length,
                        ChunkTreeUuid = _chunkUuid,
                    };
                    items.Add(new(new Key(1, ItemType.DevExtent, p), data));
                }
            return items;
        }

        /// <summary>A subvolume's root directory: inode 256 and its ".." reference to itself.</summary>
        private List<Item> SubvolRootItems()
        {
            var inode = new byte[InodeItem.Size];
            FillDirInode(inode, rootItemInode: false);
            var dotdot = new byte[InodeRefEntry.HeaderSize + 2];
            InodeRefEntry.Write(dotdot, 0, ".."u8);
            return new()
            {
                new(new Key(ObjectIds.FirstFreeInode, ItemType.InodeItem, 0), inode),
                new(new Key(ObjectIds.FirstFreeInode, ItemType.InodeRef, ObjectIds.FirstFreeInode), dotdot),
            };
        }

        private List<Item> UuidTreeItems()
        {
            var id = new byte[8];
            Le.U64(id, 0, ObjectIds.FsTree);
            return new() { new(UuidItem.KeyFor(_fsTreeUuid, ItemType.UuidKeySubvol), id) };
        }

        private List<Item> QuotaTreeItems()
        {
            var status = new byte[QgroupStatusItem.Size];
            var st = new QgroupStatusItem(status)
            {
                Version = QgroupStatusItem.CurrentVersion,
                Generation = Generation,
                Flags = QgroupStatusFlags.On,
                Rescan = 0,
            };
            // 0/5 references (and owns) exactly the fs tree's blocks.
            ulong fsBytes = (ulong)(_plans[ObjectIds.FsTree].BlockCount * _ns);
            var info = new byte[QgroupInfoItem.Size];
            _ = new QgroupInfoItem(info) { Generation = Generation, Rfer = fsBytes, RferCmpr = fsBytes, Excl = fsBytes, ExclCmpr = fsBytes };
            var limit = new byte[QgroupLimitItem.Size];
            ulong q = QgroupId.ForSubvolume(ObjectIds.FsTree);
            return new()
            {
                new(new Key(0, ItemType.QgroupStatus, 0), status),
                new(new Key(0, ItemType.QgroupInfo, q), info),
                new(new Key(0, ItemType.QgroupLimit, q), limit),
            };
        }

        /// <summary>Tree blocks are packed from each group's start, so each group's free space is one run (or none).</summary>
        private List<Item> FreeSpaceTreeItems()
        {
            var items = new List<Item>();
            foreach (var c in _chunks)
            {
                bool full = c.Used == c.Length;
                var info = new byte[FreeSpaceInfoItem.Size];
                _ = new FreeSpaceInfoItem(info) { ExtentCount = full ? 0u : 1u, Flags = 0 };
                items.Add(new(new Key(c.Logical, ItemType.FreeSpaceInfo, c.Length), info));
                if (!full) items.Add(new(new Key(c.Logical + c.Used, ItemType.FreeSpaceExtent, c.Length - c.Used), Array.Empty<byte>()));
            }
            return items;
        }

        private List<Item> ExtentTreeItems()
        {
            var items = new List<Item>();
            foreach (var c in _chunks)
            {
                var data = new byte[BlockGroupItem.Size];
                _ = new BlockGroupItem(data) { Used = c.Used, ChunkObjectId = ObjectIds.FirstChunkTree, Flags = c.Type };
                items.Add(new(new Key(c.Logical, ItemType.BlockGroupItem, c.Length), data));
            }
            foreach (var t in _trees)
            {
                var plan = _plans[t];
                int i = 0;
                for (int level = 0; level < plan.Levels.Count; level++)
                    for (int k = 0; k < plan.Levels[level].Count; k++)
                    {
                        var data = new byte[ExtentItem.Size + 9];
                        _ = new ExtentItem(data) { Refs = 1, Generation = Generation, Flags = ExtentFlags.TreeBlock };
                        InlineRef.Write(data.AsSpan(ExtentItem.Size), ItemType.TreeBlockRef, t);
                        items.Add(new(new Key(_addr[t][i++], ItemType.MetadataItem, (ulong)level), data));
                    }
            }
            return items;
        }

        // ---------------------------------------------------------------- writing

        public void Write(IBlockDevice dev)
        {
            // Wipe what could make the device look like something else: the first MiB (other filesystems'
            // signatures, an old primary superblock) and old btrfs superblock mirrors past the new filesystem.
            // In 64 KiB pieces: a MiB of zeros would stay on the heap until a collection, which a short mkfs may never run.
            var zeros = new byte[64 << 10];
            for (ulong at = 0; at < FirstChunkStart; at += (ulong)zeros.Length)
                dev.Write(zeros.AsSpan(0, (int)Math.Min((ulong)zeros.Length, FirstChunkStart - at)), (long)at);
            for (int i = 1; i < SuperCopies; i++)
            {
                long off = Superblock.MirrorOffset(i);
                if ((ulong)off + Superblock.Size > _total && off + Superblock.Size <= dev.Length)
                    dev.Write(zeros.AsSpan(0, Superblock.Size), off);
            }

            var block = new byte[_ns];
            foreach (var t in _trees)
            {
                var plan = _plans[t];
                var items = _items[t];
                var addr = _addr[t];
                var firstKeys = new List<Key>[plan.Levels.Count];
                int blockIndex = 0;
                for (int level = 0; level < plan.Levels.Count; level++)
                {
                    firstKeys[level] = new();
                    int childBase = level == 0 ? 0 : blockIndex - plan.Levels[level - 1].Count;
                    foreach (var (start, count) in plan.Levels[level])
                    {
                        Array.Clear(block);
                        ulong bytenr = addr[blockIndex++];
                        var h = new NodeHeader(block)
                        {
                            Fsid = _fsid,
                            Bytenr = bytenr,
                            Flags = NodeHeader.FlagWritten | (NodeHeader.MixedBackrefRev << NodeHeader.BackrefRevShift),
                            ChunkTreeUuid = _chunkUuid,
                            Generation = Generation,
                            Owner = t,
                            NrItems = (uint)count,
                            Level = (byte)level,
                        };
                        if (level == 0)
                        {
                            var leaf = new Leaf(block);
                            int end = leaf.DataAreaSize;
                            for (int i = 0; i < count; i++)
                            {
                                var it = items[start + i];
                                end -= it.Data.Length;
                                leaf.SetKey(i, it.Key);
                                leaf.SetItemPlacement(i, (uint)end, (uint)it.Data.Length);
                                it.Data.CopyTo(block, NodeHeader.Size + end);
                            }
                            firstKeys[0].Add(count > 0 ? items[start].Key : Key.Min);
                        }
                        else
                        {
                            var node = new InternalNode(block);
                            for (int i = 0; i < count; i++)
                                node.SetPtr(i, firstKeys[level - 1][start + i], addr[childBase + start + i], Generation);
                            firstKeys[level].Add(firstKeys[level - 1][start]);
                        }
                        Checksums.StampBlockCsum(block);
                        WriteLogical(dev, bytenr, block);
                    }
                }
            }
            dev.Flush();

            var super = new byte[Superblock.Size];
            FillSuper(new Superblock(super));
            for (int i = 0; i < SuperCopies; i++)
            {
                long off = Superblock.MirrorOffset(i);
                if ((ulong)off + Superblock.Size > _total) break;
                var sb = new Superblock(super) { Bytenr = (ulong)off };
                sb.StampCsum();
                dev.Write(super, off);
            }
            dev.Flush();
        }

        private void WriteLogical(IBlockDevice dev, ulong logical, byte[] block)
        {
            var c = _chunks.First(c => logical >= c.Logical && logical < c.Logical + c.Length);
            foreach (var p in c.Physical) dev.Write(block, (long)(p + (logical - c.Logical)));
        }

        private void FillSuper(Superblock sb)
        {
            sb.Fsid = _fsid;
            sb.Flags = 1; // WRITTEN
            sb.Magic = Superblock.MagicValue;
            sb.Generation = Generation;
            sb.Root = RootOf(ObjectIds.RootTree);
            sb.ChunkRoot = RootOf(ObjectIds.ChunkTree);
            sb.TotalBytes = _total;
            sb.BytesUsed = BytesUsed;
            sb.RootDirObjectId = ObjectIds.RootTreeDir;
            sb.NumDevices = 1;
            sb.SectorSize = (uint)_o.SectorSize;
            sb.NodeSize = sb.LeafSize = (uint)_ns;
            sb.StripeSize = (uint)_o.SectorSize;
            sb.ChunkRootGeneration = Generation;
            sb.CompatFlags = 0;
            sb.CompatRoFlags = CompatRo;
            sb.IncompatFlags = Incompat;
            sb.CsumType = 0;
            sb.RootLevel = LevelOf(ObjectIds.RootTree);
            sb.ChunkRootLevel = LevelOf(ObjectIds.ChunkTree);
            FillDevItem(sb.DevItem);
            sb.Label = _o.Label;
            sb.CacheGeneration = _o.FreeSpaceTree ? 0 : ulong.MaxValue;
            sb.UuidTreeGeneration = Generation;

            int pos = 0;
            var arr = sb.SysChunkArray;
            foreach (var c in _chunks.Where(c => (c.Type & BlockGroupFlags.System) != 0))
            {
                new Key(ObjectIds.FirstChunkTree, ItemType.ChunkItem, c.Logical).Write(arr[pos..]);
                pos += Key.Size;
                var bytes = ChunkBytes(c);
                bytes.CopyTo(arr[pos..]);
                pos += bytes.Length;
            }
            sb.SysChunkArraySize = (uint)pos;

            var br = sb.BackupRoot(0);
            br.TreeRoot = RootOf(ObjectIds.RootTree); br.TreeRootGen = Generation; br.TreeRootLevel = LevelOf(ObjectIds.RootTree);
            br.ChunkRoot = RootOf(ObjectIds.ChunkTree); br.ChunkRootGen = Generation; br.ChunkRootLevel = LevelOf(ObjectIds.ChunkTree);
            br.ExtentRoot = RootOf(ObjectIds.ExtentTree); br.ExtentRootGen = Generation; br.ExtentRootLevel = LevelOf(ObjectIds.ExtentTree);
            br.FsRoot = RootOf(ObjectIds.FsTree); br.FsRootGen = Generation; br.FsRootLevel = LevelOf(ObjectIds.FsTree);
            br.DevRoot = RootOf(ObjectIds.DevTree); br.DevRootGen = Generation; br.DevRootLevel = LevelOf(ObjectIds.DevTree);
            br.CsumRoot = RootOf(ObjectIds.CsumTree); br.CsumRootGen = Generation; br.CsumRootLevel = LevelOf(ObjectIds.CsumTree);
            br.TotalBytes = _total;
            br.BytesUsed = BytesUsed;
            br.NumDevices = 1;
        }

        private IncompatFlags Incompat => IncompatFlags.MixedBackref | IncompatFlags.BigMetadata | IncompatFlags.ExtendedIref
            | IncompatFlags.SkinnyMetadata | IncompatFlags.NoHoles;
        private CompatRoFlags CompatRo => _o.FreeSpaceTree ? CompatRoFlags.FreeSpaceTree | CompatRoFlags.FreeSpaceTreeValid : CompatRoFlags.None;

        public ImageSummary Summary() => new(
            _fsid, _devUuid, _chunkUuid, _fsTreeUuid, _o.Label, _total, _ns, _o.SectorSize, Generation, BytesUsed,
            _chunks.Select(c => new ChunkLayout(c.Logical, c.Length, c.Type, c.Physical.ToArray(), c.Used)).ToList(),
            Incompat, CompatRo, _o.Quota, _o.FreeSpaceTree, _o.MetadataProfile,
            _trees.ToDictionary(t => t, RootOf));
    }
}
