using BtrfsLite.Format;
using BtrfsLite.IO;
using BtrfsLite.Trees;

namespace BtrfsLite.Images;

/// <summary>
/// An open btrfs filesystem on one device: the superblock, the chunk map, verified tree blocks and the
/// roots of every tree. Read side; transactions start on it with <c>BeginTransaction</c>, an extension of the layer
/// above (<c>BtrfsLite.Transactions.ImageTransactions</c>).
/// </summary>
public sealed class BtrfsImage : IDisposable
{
    private readonly bool _ownsDevice;
    private readonly byte[] _super = new byte[Superblock.Size];
    private readonly Dictionary<ulong, TreeRoot> _roots = new();
    private bool _treeChecks;

    /// <summary>The device the image is on.</summary>
    public IBlockDevice Device { get; }
    /// <summary>
    /// The logical-to-physical map: the superblock's sys_chunk_array and the chunk tree's CHUNK_ITEMs.
    /// </summary>
    public ChunkMap Chunks { get; }
    /// <summary>The cache of verified tree blocks.</summary>
    public NodeCache Nodes { get; }
    /// <summary>btrfs_super_block.fsid: the file system's uuid.</summary>
    public Guid Fsid { get; }
    /// <summary>btrfs_super_block.nodesize: the tree block size in bytes.</summary>
    public int NodeSize { get; }
    /// <summary>btrfs_super_block.sectorsize: the data block size in bytes.</summary>
    public int SectorSize { get; }
    /// <summary>
    /// The generation of the last commit (the superblock's, updated after each commit through this handle).
    /// </summary>
    public ulong Generation { get; private set; }
    /// <summary>Notes about things the reader tolerated (e.g. an unreplayed log tree).</summary>
    public List<string> Warnings { get; } = new();

    /// <summary>
    /// The kernel's runtime NO_ACCOUNTING of this open image: set when quotas are marked inconsistent while it is open,
    /// cleared by a rescan (or quota enable/disable). While set, commits leave qgroup numbers as they are. Like the
    /// kernel's, it is not stored: an image opened with INCONSISTENT on disk accounts again (ours recomputes exact
    /// numbers there, where the kernel moves its stale ones by each changed extent).
    /// </summary>
    public bool QgroupNoAccounting { get; internal set; }

    /// <summary>
    /// Every commit compares its per-extent qgroup accounting with a full recomputation from the trees and fails (a
    /// <see cref="QgroupAccountingMismatchException"/>, nothing written) on any difference. Costs a full scan per commit.
    /// </summary>
    public bool VerifyAccounting { get; set; }

    /// <summary>A view of the in-memory copy of the primary superblock (as of the last commit).</summary>
    public Superblock Super => new(_super);
    /// <summary>The 4096 bytes of the in-memory primary superblock (the live buffer, not a copy).</summary>
    public byte[] SuperBytes => _super;

    /// <summary>The root tree's root (btrfs_super_block.root, root_level, generation).</summary>
    public TreeRoot RootTree { get; private set; }
    /// <summary>
    /// The chunk tree's root (btrfs_super_block.chunk_root, chunk_root_level, chunk_root_generation).
    /// </summary>
    public TreeRoot ChunkTree { get; private set; }

    private BtrfsImage(IBlockDevice dev, bool ownsDevice, OpenOptions options)
    {
        Device = dev;
        _ownsDevice = ownsDevice;
        ReadAndValidateSuper(dev, _super, options.VerifySuperCsum);
        var sb = Super;
        Fsid = sb.Fsid;
        NodeSize = (int)sb.NodeSize;
        SectorSize = (int)sb.SectorSize;
        Generation = sb.Generation;
        CheckDeviceSize(dev, sb, options.Writable);
        // A btrfs-image dump holds the metadata only (data blocks are not there): read it, never write into it.
        if (options.Writable && (sb.Flags & (Superblock.FlagMetadump | Superblock.FlagMetadumpV2)) != 0)
            Throw.Unsupported($"{dev.Name} is a btrfs-image dump (METADUMP flag): it holds no file data; it is read, not written");
        if (sb.LogRoot != 0) Warnings.Add($"log tree at {sb.LogRoot} is not replayed (mount the filesystem once to replay it)");
        Chunks = ChunkMap.FromSysChunkArray(sb);
        Nodes = new NodeCache(dev, Chunks, Fsid, NodeSize, options.CacheNodes);
        ChunkTree = new TreeRoot(ObjectIds.ChunkTree, sb.ChunkRoot, sb.ChunkRootLevel, sb.ChunkRootGeneration);
        RootTree = new TreeRoot(ObjectIds.RootTree, sb.Root, sb.RootLevel, sb.Generation);
        LoadChunkTree();
        if (sb.NumDevices > 1)
            Throw.Corrupt($"superblock num_devices is {sb.NumDevices}, but every chunk lies on device {sb.DevItem.DevId}", Superblock.PrimaryOffset);
        _treeChecks = options.TreeChecks;
        VerifyAccounting = options.VerifyAccounting;
        if (_treeChecks) Nodes.Context = new TreeChecker.Context(sb.Generation, (uint)SectorSize);
        LoadRoots();
    }

    /// <param name="Writable">Open the device read-write.</param>
    /// <param name="CacheNodes">Tree blocks kept in the node cache.</param>
    /// <param name="VerifySuperCsum">Refuse a superblock whose checksum is wrong. The checker turns this off to report it as a finding.</param>
    /// <param name="Wait">Wait for another program's lock on the image instead of failing with <see cref="ImageInUseException"/>.</param>
    /// <param name="AllowMounted">Read-only: open an image a mounted file system uses (a warning says its state may be inconsistent).</param>
    /// <param name="TreeChecks">Verify every leaf read with the kernel's tree-checker item rules (<see cref="TreeChecker"/>); the checker turns this off to report them as findings.</param>
    public sealed record OpenOptions(bool Writable = false, int CacheNodes = 8192, bool VerifySuperCsum = true, bool Wait = false, bool AllowMounted = false, bool TreeChecks = true)
    {
        /// <summary>Sets <see cref="BtrfsImage.VerifyAccounting"/>; by default on when the environment has BTRFSLITE_VERIFY_ACCOUNTING=1.</summary>
        public bool VerifyAccounting { get; init; } = Environment.GetEnvironmentVariable("BTRFSLITE_VERIFY_ACCOUNTING") == "1";
    }

    /// <summary>
    /// Opens an image file or block device: locked (exclusively for writing, shared for reading) and refused when a
    /// mounted file system uses it (reading: unless <see cref="OpenOptions.AllowMounted"/>); see <see cref="FileBlockDevice.Open(string, DeviceOpenOptions)"/>.
    /// </summary>
    public static BtrfsImage Open(string path, OpenOptions? options = null)
    {
        options ??= new OpenOptions();
        var dev = FileBlockDevice.Open(path, new DeviceOpenOptions(options.Writable, options.Wait, options.AllowMounted && !options.Writable));
        try
        {
            var img = new BtrfsImage(dev, true, options);
            if (dev.MountedWarning is string m) img.Warnings.Insert(0, $"{m}: the file system may change while it is read; results may be inconsistent");
            return img;
        }
        catch { dev.Dispose(); throw; }
    }

    /// <summary>
    /// Opens the btrfs file system on <paramref name="dev"/> (no locking; the caller keeps ownership of the device).
    /// </summary>
    /// <exception cref="InvalidDataException">The superblock or chunk tree is damaged.</exception>
    /// <exception cref="BtrfsUnsupportedException">The image uses a feature this library does not handle.</exception>
    public static BtrfsImage Open(IBlockDevice dev, OpenOptions? options = null) => new(dev, false, options ?? new OpenOptions());

    /// <summary>Reads the primary superblock and refuses what is not btrfs or not in the subset, naming why.</summary>
    public static void ReadAndValidateSuper(IBlockDevice dev, Span<byte> buf, bool verifyCsum = true)
    {
        if (dev.Length < Superblock.PrimaryOffset + Superblock.Size)
            Throw.Corrupt($"{dev.Name}: device is {dev.Length} bytes, too small to hold a btrfs superblock at {Superblock.PrimaryOffset}", Superblock.PrimaryOffset);
        dev.Read(buf[..Superblock.Size], Superblock.PrimaryOffset);
        var sb = new Superblock(buf);
        if (sb.Magic != Superblock.MagicValue)
            Throw.Corrupt($"{dev.Name}: no btrfs magic at superblock offset {Superblock.PrimaryOffset} (found 0x{sb.Magic:x16})", Superblock.PrimaryOffset);
        if (sb.CsumType != 0)
            Throw.Unsupported($"checksum type {CsumTypeName(sb.CsumType)} is not supported (only crc32c)");
        if (verifyCsum && !sb.CsumMatches(out uint stored, out uint computed))
            Throw.Corrupt($"superblock checksum mismatch at {Superblock.PrimaryOffset}: stored 0x{stored:x8}, computed 0x{computed:x8}", Superblock.PrimaryOffset);
        var unsupported = SupportedFeatures.Unsupported(sb.IncompatFlags, sb.CompatRoFlags, sb.CompatFlags).ToList();
        if (unsupported.Count > 0)
            Throw.Unsupported($"unsupported filesystem features: {string.Join(", ", unsupported)}");
        // More devices than one is decided once the chunks are known (BtrfsImage's constructor): a multi-device file
        // system is unsupported, a single-device one with a wrong count is damaged.
        if (sb.NumDevices == 0)
            Throw.Corrupt("superblock num_devices is 0", Superblock.PrimaryOffset);
        if (sb.NumDevices > 1 && SysChunksUseOtherDevices(sb))
            Throw.Unsupported($"filesystem has {sb.NumDevices} devices; only single-device filesystems are supported");
        uint ss = sb.SectorSize, ns = sb.NodeSize;
        if (ss < 4096 || ss > 65536 || !IsPow2(ss))
            Throw.Corrupt($"superblock sectorsize {ss} invalid (power of two in [4096, 65536])", Superblock.PrimaryOffset);
        if (ns < ss || ns > 65536 || !IsPow2(ns))
            Throw.Corrupt($"superblock nodesize {ns} invalid (power of two in [sectorsize, 65536])", Superblock.PrimaryOffset);
        if (sb.LeafSize != ns)
            Throw.Corrupt($"superblock leafsize {sb.LeafSize} != nodesize {ns}", Superblock.PrimaryOffset);
        if (sb.RootLevel >= NodeHeader.MaxLevel || sb.ChunkRootLevel >= NodeHeader.MaxLevel)
            Throw.Corrupt($"superblock root level {sb.RootLevel} / chunk root level {sb.ChunkRootLevel} out of range", Superblock.PrimaryOffset);
        if (sb.Root % ss != 0 || sb.ChunkRoot % ss != 0)
            Throw.Corrupt($"superblock root {sb.Root} or chunk_root {sb.ChunkRoot} not sector aligned", Superblock.PrimaryOffset);
    }

    /// <summary>
    /// A device shorter than the file system (a truncated image, a too small device) is refused for writing: the kernel
    /// would not mount it, and new chunks could land past its end. Reading goes on with a warning.
    /// </summary>
    private void CheckDeviceSize(IBlockDevice dev, Superblock sb, bool writable)
    {
        ulong want = Math.Max(sb.TotalBytes, sb.DevItem.TotalBytes);
        if ((ulong)dev.Length >= want) return;
        string msg = $"{dev.Name}: the device is {dev.Length} bytes, shorter than the file system's total_bytes {want}";
        if (writable) Throw.Corrupt(msg + "; refusing to write (restore the missing bytes, or read it read-only)", Superblock.PrimaryOffset);
        Warnings.Add(msg + "; reading what is there");
    }

    /// <summary>Whether a stripe of the sys_chunk_array lies on another device than the superblock's (a real multi-device file system).</summary>
    private static bool SysChunksUseOtherDevices(Superblock sb)
    {
        var arr = sb.SysChunkArray[..(int)Math.Min(sb.SysChunkArraySize, (uint)Superblock.SysChunkArrayMax)];
        for (int pos = 0; pos + Key.Size + ChunkItem.Size <= arr.Length;)
        {
            int stripes = Le.U16(arr, pos + Key.Size + ChunkItem.Offsets.NumStripes);
            for (int i = 0; i < stripes; i++)
            {
                int at = pos + Key.Size + ChunkItem.SizeWith(i);
                if (at + 8 <= arr.Length && Le.U64(arr, at) != sb.DevItem.DevId) return true;
            }
            if (stripes == 0) break;
            pos += Key.Size + ChunkItem.SizeWith(stripes);
        }
        return false;
    }

    private static bool IsPow2(uint v) => v != 0 && (v & (v - 1)) == 0;

    /// <summary>
    /// The name of a btrfs_super_block.csum_type: "crc32c", "xxhash64", "sha256", "blake2b", or "unknown (n)".
    /// </summary>
    public static string CsumTypeName(ushort t) => t switch { 0 => "crc32c", 1 => "xxhash64", 2 => "sha256", 3 => "blake2b", _ => $"unknown ({t})" };

    private void LoadChunkTree()
    {
        var c = new TreeCursor(Nodes);
        if (!c.Seek(ChunkTree, new Key(ObjectIds.FirstChunkTree, ItemType.ChunkItem, 0))) return;
        do
        {
            if (c.Type != ItemType.ChunkItem) continue;
            var data = c.Data;
            if (data.Length < ChunkItem.Size)
                Throw.Corrupt($"chunk tree: CHUNK_ITEM at slot {c.Slot} is {data.Length} bytes", c.LeafBytenr, ObjectIds.ChunkTree, c.Slot);
            var chunk = new ChunkItem(data);
            if (data.Length != ChunkItem.SizeWith(chunk.NumStripes))
                Throw.Corrupt($"chunk tree: CHUNK_ITEM {c.Offset} size {data.Length} does not match {chunk.NumStripes} stripes", c.LeafBytenr, ObjectIds.ChunkTree, c.Slot);
            Chunks.Add(c.Offset, chunk);
        } while (c.Next());
    }

    private void LoadRoots()
    {
        _roots[ObjectIds.RootTree] = RootTree;
        _roots[ObjectIds.ChunkTree] = ChunkTree;
        var c = new TreeCursor(Nodes);
        if (!c.First(RootTree)) return;
        do
        {
            if (c.Type != ItemType.RootItem) continue;
            var data = c.Data;
            if (data.Length < RootItem.LegacySize)
                Throw.Corrupt($"root tree: ROOT_ITEM {c.Key} is {data.Length} bytes", c.LeafBytenr, ObjectIds.RootTree, c.Slot);
            var ri = new RootItem(data);
            // Snapshots of a tree id appear once; the last key (highest offset) wins, as in the kernel.
            _roots[c.ObjectId] = new TreeRoot(c.ObjectId, ri.Bytenr, ri.Level, ri.Generation);
        } while (c.Next());
    }

    /// <summary>
    /// The root of every tree, by tree id: the root tree, the chunk tree and every ROOT_ITEM of the root tree (for a
    /// tree id with several ROOT_ITEMs, the one with the highest key offset).
    /// </summary>
    public IReadOnlyDictionary<ulong, TreeRoot> Roots => _roots;

    /// <summary>The root of tree <paramref name="treeId"/>; false when it has no ROOT_ITEM.</summary>
    public bool TryGetRoot(ulong treeId, out TreeRoot root) => _roots.TryGetValue(treeId, out root);

    /// <summary>The root of tree <paramref name="treeId"/>.</summary>
    /// <exception cref="InvalidDataException">The tree has no ROOT_ITEM in the root tree.</exception>
    public TreeRoot GetRoot(ulong treeId) =>
        _roots.TryGetValue(treeId, out var r) ? r : throw Corruption.Create($"tree {(long)treeId} has no ROOT_ITEM in the root tree", RootTree.Bytenr, ObjectIds.RootTree);

    /// <summary>A new cursor over this image's verified tree blocks.</summary>
    public TreeCursor NewCursor() => new(Nodes);

    /// <summary>
    /// What the Transactions layer keeps between transactions on this handle (its allocator and commit bookkeeping),
    /// created by the first <c>BeginTransaction</c>. Untyped because that layer sits above this one.
    /// </summary>
    internal object? WriterState { get; set; }

    /// <summary>After an aborted transaction: forgets the writer's state and rereads chunks and roots from the last commit.</summary>
    internal void ReloadCommittedState()
    {
        WriterState = null;
        Nodes.Clear();
        var fresh = ChunkMap.FromSysChunkArray(Super);
        Chunks.ReplaceWith(fresh);
        LoadChunkTree();
        _roots.Clear();
        LoadRoots();
    }

    private string? _writeFailure;

    /// <summary>A commit failed at its commit point (the superblock): no further transaction on this handle.</summary>
    internal void FailWrites(string why) => _writeFailure ??= why;

    /// <summary>Why this handle refuses transactions (a commit failed at its superblock), or null.</summary>
    public string? WriteFailure => _writeFailure;

    /// <summary>After a commit's superblock is on disk: the new committed state.</summary>
    internal void ApplyCommit(byte[] super, Dictionary<ulong, TreeRoot> changedRoots, IReadOnlyCollection<ulong> droppedRoots)
    {
        foreach (var id in droppedRoots) _roots.Remove(id);
        super.CopyTo(_super, 0);
        var sb = Super;
        Generation = sb.Generation;
        if (_treeChecks) Nodes.Context = new TreeChecker.Context(sb.Generation, (uint)SectorSize);
        RootTree = new TreeRoot(ObjectIds.RootTree, sb.Root, sb.RootLevel, sb.Generation);
        ChunkTree = new TreeRoot(ObjectIds.ChunkTree, sb.ChunkRoot, sb.ChunkRootLevel, sb.ChunkRootGeneration);
        foreach (var (id, r) in changedRoots) _roots[id] = r;
        _roots[ObjectIds.RootTree] = RootTree;
        _roots[ObjectIds.ChunkTree] = ChunkTree;
    }

    /// <summary>Closes the device when this handle opened it (<see cref="Open(string, OpenOptions?)"/>).</summary>
    public void Dispose()
    {
        if (_ownsDevice) Device.Dispose();
    }
}
