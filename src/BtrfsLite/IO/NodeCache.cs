using BtrfsLite.Format;

namespace BtrfsLite.IO;

/// <summary>What the reader expects of a tree block, checked on every read (kernel 7.2).</summary>
public readonly record struct NodeExpectation(ulong Generation = 0, int Level = -1, ulong Owner = 0)
{
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

    public NodeCache(IBlockDevice dev, ChunkMap chunks, Guid fsid, int nodeSize, int capacity = 4096)
    {
        _dev = dev; _chunks = chunks; _fsid = fsid; _nodeSize = nodeSize; _capacity = Math.Max(16, capacity);
        _map = new Dictionary<ulong, Entry>(Math.Min(_capacity, 65536));
    }

    public int NodeSize => _nodeSize;
    public long Reads { get; private set; }
    public long Hits { get; private set; }

    /// <summary>The verified block at <paramref name="bytenr"/>. The buffer stays valid until evicted: use it at once.</summary>
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
        try
        {
            ReadRaw(bytenr, e.Buffer);
            Verify(e.Buffer, bytenr, expect, structural: true);
        }
        catch
        {
            _free.Push(e);
            throw;
        }
        Reads++;
        e.Bytenr = bytenr;
        _map[bytenr] = e;
        PushHead(e);
        if (_map.Count > _capacity) Evict();
        return e.Buffer;
    }

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

    public void Invalidate(ulong bytenr)
    {
        if (_map.Remove(bytenr, out var e)) { Unlink(e); _free.Push(e); }
    }

    public void Clear()
    {
        foreach (var e in _map.Values) _free.Push(e);
        _map.Clear();
        _head = _tail = null;
    }

    /// <summary>Verifies a block the way the kernel does on read; throws <see cref="BtrfsCorruptException"/> with the location.</summary>
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
