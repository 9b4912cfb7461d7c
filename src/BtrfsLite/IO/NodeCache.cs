using BtrfsLite.Format;

namespace BtrfsLite.IO;

/// <summary>
/// What the reader expects of a tree block, checked on every read (kernel 7.2): the parent's generation, level and, for
/// a block below a root, the parent's key for it, which must be the block's first key (btrfs_verify_level_key).
/// </summary>
/// <param name="Generation">The generation the parent's key pointer records (0: not checked).</param>
/// <param name="Level">The expected level (-1: not checked).</param>
/// <param name="Owner">The tree expected to own the block; unused: no reader checks it (callers pass 0).</param>
/// <param name="FirstKey">The parent's key for the block, checked when <paramref name="CheckFirstKey"/> is set.</param>
/// <param name="CheckFirstKey">Whether the block's first key must equal <paramref name="FirstKey"/>.</param>
public readonly record struct NodeExpectation(ulong Generation = 0, int Level = -1, ulong Owner = 0, Key FirstKey = default, bool CheckFirstKey = false)
{
    /// <summary>No expectation: any generation, level and owner, no first-key check.</summary>
    public static NodeExpectation None => new(0, -1, 0);
}

/// <summary>
/// Tree blocks by logical address, verified on read (checksum, bytenr, fsid, generation, level, block-local
/// structure) and kept in pooled nodesize buffers with LRU eviction. A hit allocates nothing.
/// </summary>
public sealed class NodeCache : INodeSource
{
    private readonly IBlockDevice _dev;
    private readonly ChunkMap _chunks;
    private readonly Guid _fsid;
    private readonly int _nodeSize;
    private readonly int _capacity;
    private readonly Dictionary<ulong, Entry> _map;
    private readonly Stack<Entry> _free = new();
    private Entry? _head, _tail; // most recent at head

    private sealed class Entry
    {
        public ulong Bytenr;
        public byte[] Buffer = null!;
        public Entry? Prev, Next;
    }

    /// <summary>
    /// A cache of <paramref name="nodeSize"/>-byte tree blocks read from <paramref name="dev"/> through
    /// <paramref name="chunks"/>, holding at most <paramref name="capacity"/> blocks (at least 16);
    /// <paramref name="fsid"/> is the fsid every block must carry.
    /// </summary>
    public NodeCache(IBlockDevice dev, ChunkMap chunks, Guid fsid, int nodeSize, int capacity = 4096)
    {
        _dev = dev; _chunks = chunks; _fsid = fsid; _nodeSize = nodeSize; _capacity = Math.Max(16, capacity);
        _map = new Dictionary<ulong, Entry>(Math.Min(_capacity, 65536));
    }

    /// <summary>The tree block size in bytes.</summary>
    public int NodeSize => _nodeSize;
    /// <summary>Blocks read from the device (cache misses that verified).</summary>
    public long Reads { get; private set; }
    /// <summary>Reads answered from the cache.</summary>
    public long Hits { get; private set; }

    /// <summary>
    /// The verified block at <paramref name="bytenr"/>. A copy that fails verification (or cannot be read) is passed
    /// over for the next copy of a DUP chunk, as the kernel reads the other mirror; each such fallback is counted in
    /// <see cref="BadCopies"/>. The buffer stays valid until evicted: use it at once.
    /// </summary>
    public byte[] Read(ulong bytenr, in NodeExpectation expect)
    {
        if (_map.TryGetValue(bytenr, out var e))
        {
            Hits++;
            Touch(e);
            Verify(e.Buffer, bytenr, expect, structural: false);
            return e.Buffer;
        }
        e = _free.Count > 0 ? _free.Pop() : new Entry { Buffer = new byte[_nodeSize] };
        int copies = _chunks.Find(bytenr)?.PhysicalStripes.Length ?? 1;
        for (int copy = 0; ; copy++)
        {
            try
            {
                ReadRaw(bytenr, e.Buffer, copy);
                Verify(e.Buffer, bytenr, expect, structural: true);
                break;
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException && ex is not ImageInUseException)
            {
                if (copy + 1 >= copies)
                {
                    _free.Push(e);
                    if (copy > 0 && ex is InvalidDataException) Throw.Corrupt($"{ex.Message} (all {copies} copies bad)", bytenr, Corruption.Tree(ex), Corruption.Slot(ex));
                    throw;
                }
                BadCopies.Add((bytenr, copy, ex.Message));
            }
        }
        Reads++;
        e.Bytenr = bytenr;
        _map[bytenr] = e;
        PushHead(e);
        if (_map.Count > _capacity) Evict();
        return e.Buffer;
    }

    /// <summary>Copies of tree blocks that failed verification and were read from another copy: (bytenr, copy, why).</summary>
    public List<(ulong Bytenr, int Copy, string Why)> BadCopies { get; } = new();

    /// <summary>The item rules of <see cref="TreeChecker"/> apply to leaves read when set (the image sets it from its superblock).</summary>
    public TreeChecker.Context? Context { get; set; }

    /// <summary>Reads a block without any verification (dump-tree of a damaged block, the checker's own checks).</summary>
    public void ReadRaw(ulong bytenr, Span<byte> buf, int copy = 0)
    {
        if (bytenr % (ulong)Math.Min(_nodeSize, 4096) != 0)
            Throw.Corrupt($"tree block {bytenr} is not sector aligned", bytenr);
        long phys = _chunks.Map(bytenr, _nodeSize, copy);
        try
        {
            _dev.Read(buf[.._nodeSize], phys);
        }
        catch (EndOfStreamException ex)
        {
            Throw.Corrupt($"tree block {bytenr}: physical {phys} lies past the device end ({ex.Message})", bytenr);
        }
    }

    /// <summary>
    /// Drops the block at <paramref name="bytenr"/> from the cache (after it was freed or rewritten).
    /// </summary>
    public void Invalidate(ulong bytenr)
    {
        if (_map.Remove(bytenr, out var e)) { Unlink(e); _free.Push(e); }
    }

    /// <summary>Drops every cached block.</summary>
    public void Clear()
    {
        foreach (var e in _map.Values) _free.Push(e);
        _map.Clear();
        _head = _tail = null;
    }

    /// <summary>
    /// Verifies a block the way the kernel does on read; throws <see cref="InvalidDataException"/> (see
    /// <see cref="Corruption"/>) with the location.
    /// </summary>
    public void Verify(byte[] buf, ulong bytenr, in NodeExpectation expect, bool structural)
    {
        var h = new NodeHeader(buf);
        if (structural)
        {
            if (!Checksums.VerifyBlockCsum(buf, out uint stored, out uint computed))
                Throw.Corrupt($"checksum verify failed on logical {bytenr} wanted 0x{computed:x8} found 0x{stored:x8}", bytenr, h.Owner);
            if (h.Bytenr != bytenr)
                Throw.Corrupt($"bad tree block {bytenr}, bytenr mismatch, want={bytenr} have={h.Bytenr}", bytenr, h.Owner);
            if (!h.FsidMatches(_fsid))
                Throw.Corrupt($"bad tree block {bytenr}, fsid mismatch, want={_fsid} have={h.Fsid}", bytenr, h.Owner);
            if (h.Level >= NodeHeader.MaxLevel)
                Throw.Corrupt($"bad tree block {bytenr}, invalid level {h.Level}", bytenr, h.Owner);
            string? err;
            int slot;
            if (h.Level == 0) err = new Leaf(buf).Validate(out slot);
            else err = new InternalNode(buf).Validate(out slot);
            if (err != null)
                Throw.Corrupt($"corrupt {(h.Level == 0 ? "leaf" : "node")}: root={h.Owner} block={bytenr} slot={slot}, {err}", bytenr, h.Owner, slot);
            if (h.Level == 0 && Context is TreeChecker.Context ctx)
            {
                var leaf = new Leaf(buf);
                for (int i = 0, n = leaf.NrItems; i < n; i++)
                    if (TreeChecker.CheckItem(leaf.Key(i), leaf.Data(i), ctx) is string bad)
                        Throw.Corrupt($"corrupt leaf: root={h.Owner} block={bytenr} slot={i}, {bad}", bytenr, h.Owner, i);
            }
        }
        if (expect.CheckFirstKey)
        {
            int n = h.Level == 0 ? new Leaf(buf).NrItems : new InternalNode(buf).NrItems;
            if (n > 0)
            {
                var first = h.Level == 0 ? new Leaf(buf).Key(0) : new InternalNode(buf).Key(0);
                if (first != expect.FirstKey)
                    Throw.Corrupt($"tree first key mismatch detected, bytenr={bytenr} parent_transid={expect.Generation} key expected={expect.FirstKey} has={first}", bytenr, h.Owner);
            }
        }
        if (expect.Generation != 0 && h.Generation != expect.Generation)
            Throw.Corrupt($"parent transid verify failed on {bytenr} wanted {expect.Generation} found {h.Generation}", bytenr, h.Owner);
        if (expect.Level >= 0 && h.Level != expect.Level)
            Throw.Corrupt($"bad tree block {bytenr}, level mismatch, want={expect.Level} have={h.Level}", bytenr, h.Owner);
    }

    private void Touch(Entry e)
    {
        if (_head == e) return;
        Unlink(e);
        PushHead(e);
    }

    private void PushHead(Entry e)
    {
        e.Prev = null; e.Next = _head;
        if (_head != null) _head.Prev = e;
        _head = e;
        _tail ??= e;
    }

    private void Unlink(Entry e)
    {
        if (e.Prev != null) e.Prev.Next = e.Next; else _head = e.Next;
        if (e.Next != null) e.Next.Prev = e.Prev; else _tail = e.Prev;
        e.Prev = e.Next = null;
    }

    private void Evict()
    {
        var t = _tail!;
        Unlink(t);
        _map.Remove(t.Bytenr);
        _free.Push(t);
    }
}
