using BtrfsLite.Format;
using BtrfsLite.IO;
using BtrfsLite.Trees;

namespace BtrfsLite.Tests.Trees;

/// <summary>
/// An in-memory transaction for <see cref="CowTree"/> tests: blocks in a dictionary, a dirty set, pooled buffers,
/// counts of every call. It enforces the <see cref="ITreeBlockStore"/> contract (only dirty blocks are handed out
/// writable, CoW only of clean blocks and only once, Free only of dirty blocks, no reads of blocks whose reference
/// moved away) and verifies every block it reads (Leaf/InternalNode.Validate, level, generation, bytenr).
/// <see cref="Commit"/> makes every dirty block clean and bumps the generation; committed blocks are kept as
/// copies and checked never to change.
/// </summary>
public sealed class MemoryTreeBlockStore : ITreeBlockStore
{
    private readonly Dictionary<ulong, byte[]> _blocks;
    private readonly HashSet<ulong> _dirty;
    private readonly HashSet<ulong> _released = new(); // committed blocks whose reference moved (CoW) in this transaction
    private readonly Dictionary<ulong, byte[]> _committed = new(); // bytenr -> copy at commit time
    private readonly Stack<byte[]> _pool = new();
    private ulong _next;

    public MemoryTreeBlockStore(int nodeSize = 16384, int capacity = 1024, bool validateReads = true, bool keepCommittedCopies = true)
    {
        NodeSize = nodeSize;
        _blocks = new Dictionary<ulong, byte[]>(capacity);
        _dirty = new HashSet<ulong>(capacity);
        _next = 1UL << 20;
        ValidateReads = validateReads;
        KeepCommittedCopies = keepCommittedCopies;
        Generation = 7;
    }

    public int NodeSize { get; }
    public ulong Generation { get; private set; }
    public bool ValidateReads { get; set; }
    public bool KeepCommittedCopies { get; }
    public Guid Fsid { get; } = new("5f1e3c2a-0000-4000-8000-00000000b7f5");

    public long Reads, Allocations, Cows, Frees, Commits;

    public IReadOnlyCollection<ulong> DirtyBlocks => _dirty;
    /// <summary>Blocks the tree must reference now: dirty ones, plus committed ones whose reference did not move.</summary>
    public HashSet<ulong> LiveBlocks()
    {
        var s = new HashSet<ulong>();
        foreach (var b in _blocks.Keys) if (!_released.Contains(b)) s.Add(b);
        return s;
    }

    /// <summary>Pre-fills the buffer pool so that steady-state operations allocate nothing.</summary>
    public void Prewarm(int buffers)
    {
        for (int i = 0; i < buffers; i++) _pool.Push(new byte[NodeSize]);
        _blocks.EnsureCapacity(_blocks.Count + buffers);
        _dirty.EnsureCapacity(_dirty.Count + buffers);
        _released.EnsureCapacity(buffers);
    }

    public byte[] Read(ulong bytenr, in NodeExpectation expect)
    {
        Reads++;
        if (!_blocks.TryGetValue(bytenr, out var buf)) throw new InvalidOperationException($"read of unknown block {bytenr}");
        if (_released.Contains(bytenr)) throw new InvalidOperationException($"read of block {bytenr} after its reference moved (CoW)");
        var h = new NodeHeader(buf);
        if (h.Bytenr != bytenr) throw new InvalidOperationException($"block {bytenr} header bytenr {h.Bytenr}");
        if (expect.Level >= 0 && h.Level != expect.Level) throw new InvalidOperationException($"block {bytenr} level {h.Level}, expected {expect.Level}");
        if (expect.Generation != 0 && h.Generation != expect.Generation)
            throw new InvalidOperationException($"block {bytenr} generation {h.Generation}, expected {expect.Generation}");
        if (ValidateReads)
        {
            string? err = h.Level == 0 ? new Leaf(buf).Validate(out int slot) : new InternalNode(buf).Validate(out slot);
            if (err != null) throw new InvalidOperationException($"block {bytenr} level {h.Level} slot {slot}: {err}");
        }
        return buf;
    }

    public bool IsDirty(ulong bytenr) => _dirty.Contains(bytenr);

    public byte[] GetDirty(ulong bytenr)
    {
        if (!_dirty.Contains(bytenr)) throw new InvalidOperationException($"GetDirty of clean block {bytenr}");
        return _blocks[bytenr];
    }

    public (ulong Bytenr, byte[] Buffer) Allocate(ulong owner, int level)
    {
        Allocations++;
        var (b, buf) = NewBlock();
        var h = new NodeHeader(buf);
        h.Fsid = Fsid;
        h.Bytenr = b;
        h.Flags = NodeHeader.FlagWritten | (NodeHeader.MixedBackrefRev << NodeHeader.BackrefRevShift);
        h.Generation = Generation;
        h.Owner = owner;
        h.NrItems = 0;
        h.Level = (byte)level;
        return (b, buf);
    }

    public (ulong Bytenr, byte[] Buffer) Cow(ulong bytenr, int level, ulong generation, ulong owner)
    {
        Cows++;
        if (_dirty.Contains(bytenr)) throw new InvalidOperationException($"CoW of dirty block {bytenr}");
        if (_released.Contains(bytenr)) throw new InvalidOperationException($"second CoW of block {bytenr}");
        if (!_blocks.TryGetValue(bytenr, out var old)) throw new InvalidOperationException($"CoW of unknown block {bytenr}");
        var oh = new NodeHeader(old);
        if (oh.Level != level || oh.Generation != generation)
            throw new InvalidOperationException($"CoW of {bytenr}: level {oh.Level} gen {oh.Generation}, caller said {level}/{generation}");
        var (b, buf) = NewBlock();
        old.AsSpan().CopyTo(buf);
        var h = new NodeHeader(buf);
        h.Bytenr = b;
        h.Generation = Generation;
        h.Owner = owner;
        _released.Add(bytenr);
        return (b, buf);
    }

    public void Free(ulong bytenr, ulong owner, int level)
    {
        Frees++;
        if (!_dirty.Remove(bytenr)) throw new InvalidOperationException($"Free of clean block {bytenr}");
        var buf = _blocks[bytenr];
        var h = new NodeHeader(buf);
        if (h.Level != level || h.Owner != owner) throw new InvalidOperationException($"Free of {bytenr}: level {h.Level} owner {h.Owner}, caller said {level}/{owner}");
        _blocks.Remove(bytenr);
        _pool.Push(buf);
    }

    private (ulong, byte[]) NewBlock()
    {
        ulong b = _next;
        _next += (ulong)NodeSize;
        byte[] buf;
        if (_pool.Count > 0) { buf = _pool.Pop(); Array.Clear(buf); }
        else buf = new byte[NodeSize];
        _blocks.Add(b, buf);
        _dirty.Add(b);
        return (b, buf);
    }

    /// <summary>Ends the transaction: checks committed blocks, drops the ones whose reference moved, makes dirty blocks clean.</summary>
    public void Commit()
    {
        Commits++;
        VerifyCommittedUnchanged();
        foreach (var b in _released)
        {
            _pool.Push(_blocks[b]);
            _blocks.Remove(b);
            _committed.Remove(b);
        }
        _released.Clear();
        foreach (var b in _dirty)
            if (KeepCommittedCopies) _committed[b] = (byte[])_blocks[b].Clone();
        _dirty.Clear();
        Generation++;
    }

    public void VerifyCommittedUnchanged()
    {
        foreach (var (b, copy) in _committed)
        {
            if (!_blocks.TryGetValue(b, out var buf)) throw new InvalidOperationException($"committed block {b} vanished");
            if (!buf.AsSpan().SequenceEqual(copy)) throw new InvalidOperationException($"committed block {b} was modified");
        }
    }
}
