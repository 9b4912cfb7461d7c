using BtrfsLite.Format;
using BtrfsLite.IO;
using BtrfsLite.Images;

namespace BtrfsLite.Text;

/// <summary>
/// What the dump commands read: the primary superblock, a chunk map built from the sys_chunk_array and the
/// chunk tree (tolerating bad chunks: they are reported, not fatal), and tree blocks read with the checks
/// btrfs-progs' read_tree_block makes (checksum, bytenr, fsid, level, parent generation; the second DUP copy
/// when the first fails). It never stops at a bad block: the caller gets an error text naming the bytenr.
/// </summary>
public sealed class DumpSource : IDisposable
{
    private readonly bool _ownsDevice;
    private readonly byte[] _super = new byte[Superblock.Size];
    private readonly List<string> _problems = new();

    /// <summary>The device the image is on.</summary>
    public IBlockDevice Device { get; }
    /// <summary>The chunk map: the sys_chunk_array and every readable CHUNK_ITEM of the chunk tree.</summary>
    public ChunkMap Chunks { get; }
    /// <summary>btrfs_super_block.nodesize: the tree block size in bytes.</summary>
    public int NodeSize { get; }
    /// <summary>btrfs_super_block.sectorsize in bytes.</summary>
    public int SectorSize { get; }
    /// <summary>Bytes of one checksum: 4 (crc32c, the only type read).</summary>
    public int CsumSize { get; }
    /// <summary>btrfs_super_block.fsid.</summary>
    public Guid Fsid { get; }
    /// <summary>Problems met while building the chunk map (each names the bytenr); the dump goes on without those chunks.</summary>
    public IReadOnlyList<string> Problems => _problems;
    /// <summary>The 4096 bytes of the primary superblock.</summary>
    public byte[] SuperBytes => _super;
    /// <summary>A view of the primary superblock.</summary>
    public Superblock Super => new(_super);

    private DumpSource(IBlockDevice dev, bool owns)
    {
        Device = dev;
        _ownsDevice = owns;
        if (dev.Length < Superblock.PrimaryOffset + Superblock.Size)
            Throw.Corrupt($"{dev.Name}: device is {dev.Length} bytes, too small to hold a btrfs superblock at {Superblock.PrimaryOffset}", Superblock.PrimaryOffset);
        dev.Read(_super, Superblock.PrimaryOffset);
        var sb = Super;
        if (sb.Magic != Superblock.MagicValue)
            Throw.Corrupt($"{dev.Name}: no btrfs magic at superblock offset {Superblock.PrimaryOffset} (found 0x{sb.Magic:x16})", Superblock.PrimaryOffset);
        if (sb.CsumType != 0)
            Throw.Unsupported($"checksum type {BtrfsImage.CsumTypeName(sb.CsumType)} is not supported (only crc32c)");
        if (!sb.CsumMatches(out uint stored, out uint computed))
            Throw.Corrupt($"superblock checksum mismatch at {Superblock.PrimaryOffset}: stored 0x{stored:x8}, computed 0x{computed:x8}", Superblock.PrimaryOffset);
        uint ss = sb.SectorSize, ns = sb.NodeSize;
        if (ss < 4096 || ss > 65536 || (ss & (ss - 1)) != 0)
            Throw.Corrupt($"superblock sectorsize {ss} invalid (power of two in [4096, 65536])", Superblock.PrimaryOffset);
        if (ns < ss || ns > 65536 || (ns & (ns - 1)) != 0)
            Throw.Corrupt($"superblock nodesize {ns} invalid (power of two in [sectorsize, 65536])", Superblock.PrimaryOffset);
        NodeSize = (int)ns;
        SectorSize = (int)ss;
        CsumSize = Checksums.CsumSize;
        Fsid = sb.Fsid;
        Chunks = ChunkMap.FromSysChunkArray(sb);
        LoadChunkTree();
    }

    /// <summary>Opens an image read-only (a shared lock; a mounted image only with <paramref name="allowMounted"/>).</summary>
    public static DumpSource Open(string path, bool wait = false, bool allowMounted = false)
    {
        var dev = FileBlockDevice.Open(path, new DeviceOpenOptions(Writable: false, Wait: wait, AllowMounted: allowMounted));
        try { return new DumpSource(dev, true); }
        catch { dev.Dispose(); throw; }
    }

    /// <summary>
    /// Reads the image on <paramref name="dev"/> (no locking; the caller keeps ownership of the device).
    /// </summary>
    /// <exception cref="InvalidDataException">The primary superblock is missing, damaged or has an invalid sector or
    /// node size.</exception>
    /// <exception cref="BtrfsUnsupportedException">The checksum type is not crc32c.</exception>
    public static DumpSource Open(IBlockDevice dev) => new(dev, false);

    private void LoadChunkTree()
    {
        var sb = Super;
        var buf = new byte[NodeSize];
        LoadChunks(sb.ChunkRoot, sb.ChunkRootGeneration, sb.ChunkRootLevel, buf, 0);
    }

    private void LoadChunks(ulong bytenr, ulong gen, int expectLevel, byte[] buf, int depth)
    {
        if (depth > NodeHeader.MaxLevel) return;
        if (!TryReadBlock(bytenr, gen, buf, out string? err))
        {
            _problems.Add($"chunk tree: {err}");
            return;
        }
        var h = new NodeHeader(buf);
        if (expectLevel >= 0 && h.Level != expectLevel)
        {
            _problems.Add($"chunk tree: block {bytenr} has level {h.Level}, expected {expectLevel}");
            return;
        }
        if (h.Level == 0)
        {
            var leaf = new Leaf(buf);
            int n = Math.Min(leaf.NrItems, Leaf.MaxItems(NodeSize));
            for (int i = 0; i < n; i++)
            {
                if (leaf.KeyType(i) != ItemType.ChunkItem) continue;
                uint off = leaf.DataOffset(i), size = leaf.DataSize(i);
                if ((ulong)off + size > (ulong)(NodeSize - NodeHeader.Size) || size < ChunkItem.Size)
                {
                    _problems.Add($"chunk tree: leaf {bytenr} slot {i}: bad CHUNK_ITEM placement (offset {off} size {size})");
                    continue;
                }
                var data = leaf.Data(i);
                var chunk = new ChunkItem(data);
                if (data.Length < ChunkItem.SizeWith(chunk.NumStripes)) { _problems.Add($"chunk tree: leaf {bytenr} slot {i}: CHUNK_ITEM {leaf.KeyOffset(i)} size {data.Length} too small for {chunk.NumStripes} stripes"); continue; }
                try { Chunks.Add(leaf.KeyOffset(i), chunk); }
                catch (Exception ex) when (ex is InvalidDataException or NotSupportedException)
                {
                    _problems.Add($"chunk tree: leaf {bytenr} slot {i}: {ex.Message}");
                }
            }
            return;
        }
        var node = new InternalNode(buf);
        int nr = Math.Min(node.NrItems, InternalNode.MaxItems(NodeSize));
        var ptrs = new (ulong Ptr, ulong Gen)[nr];
        for (int i = 0; i < nr; i++) ptrs[i] = (node.BlockPtr(i), node.PtrGeneration(i));
        int level = h.Level;
        foreach (var (p, g) in ptrs) LoadChunks(p, g, level - 1, buf, depth + 1);
    }

    /// <summary>
    /// Reads the tree block at <paramref name="bytenr"/> into <paramref name="buf"/> (nodesize bytes) and checks it as
    /// read_tree_block does; on failure tries the other copies, then returns false with a message naming the bytenr.
    /// <paramref name="parentGeneration"/> 0 skips the generation check (blocks found through ROOT_ITEMs and -b).
    /// </summary>
    public bool TryReadBlock(ulong bytenr, ulong parentGeneration, Span<byte> buf, out string? error)
    {
        error = null;
        buf = buf[..NodeSize];
        if (bytenr % (ulong)SectorSize != 0)
        {
            error = $"tree block bytenr {bytenr} is not aligned to sectorsize {SectorSize}";
            return false;
        }
        var chunk = Chunks.Find(bytenr);
        if (chunk == null || bytenr + (ulong)NodeSize > chunk.End)
        {
            error = $"failed to read tree block {bytenr}: no chunk maps [{bytenr}, {bytenr + (ulong)NodeSize})";
            return false;
        }
        string? first = null;
        for (int copy = 0; copy < chunk.PhysicalStripes.Length; copy++)
        {
            string? e = ReadCopy(bytenr, parentGeneration, buf, copy);
            if (e == null) return true;
            first ??= e;
        }
        error = $"failed to read tree block {bytenr}: {first}";
        return false;
    }

    private string? ReadCopy(ulong bytenr, ulong parentGeneration, Span<byte> buf, int copy)
    {
        long phys;
        try
        {
            phys = Chunks.Map(bytenr, NodeSize, copy);
            Device.Read(buf, phys);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException)
        {
            return ex.Message;
        }
        var h = new NodeHeader(buf);
        if (h.Bytenr != bytenr) return $"bad tree block {bytenr}, bytenr mismatch, want={bytenr} have={h.Bytenr}";
        if (!Checksums.VerifyBlockCsum(buf, out uint stored, out uint computed))
            return $"checksum verify failed on {bytenr} wanted 0x{CsumHex(stored)} found 0x{CsumHex(computed)}"; // progs: stored, then computed, as bytes
        if (h.Fsid != Fsid) return $"bad tree block {bytenr}, fsid mismatch, want={Fsid} have={h.Fsid}";
        if (h.Level >= NodeHeader.MaxLevel) return $"bad tree block {bytenr}, invalid level {h.Level}";
        if (parentGeneration != 0 && h.Generation != parentGeneration)
            return $"parent transid verify failed on {bytenr} wanted {parentGeneration} found {h.Generation}";
        return null;
    }

    private static string CsumHex(uint crc) =>
        Convert.ToHexStringLower(BitConverter.IsLittleEndian ? BitConverter.GetBytes(crc) : BitConverter.GetBytes(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(crc)));

    /// <summary>Closes the device when <see cref="Open(string, bool, bool)"/> opened it.</summary>
    public void Dispose()
    {
        if (_ownsDevice) Device.Dispose();
    }
}
