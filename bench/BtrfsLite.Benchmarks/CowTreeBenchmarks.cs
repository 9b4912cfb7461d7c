using BenchmarkDotNet.Attributes;
using BtrfsLite.Format;
using BtrfsLite.IO;
using BtrfsLite.Trees;

namespace BtrfsLite.Benchmarks;

/// <summary>
/// CowTree inserts and deletes of 160-byte items (INODE_ITEM size) in a pooled in-memory store, 16 KiB nodes.
/// Each invocation works on N items; results are per item. Deletes run on a committed tree (every leaf is CoWed
/// once, as in a real transaction).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 6, invocationCount: 1)]
public class CowTreeBenchmarks
{
    private const int N = 100_000;
    private readonly PooledStore _store = new(16384);
    private Key[] _seq = null!, _rnd = null!;
    private CowTree _tree = null!;

    [GlobalSetup]
    public void Setup()
    {
        _seq = new Key[N];
        for (int i = 0; i < N; i++) _seq[i] = new Key(256 + (ulong)i, ItemType.InodeItem, 0);
        _rnd = (Key[])_seq.Clone();
        new Random(42).Shuffle(_rnd);
        // warm the pool
        _tree = CowTree.CreateEmpty(_store, 5);
        foreach (var k in _rnd) _tree.Insert(k, 160);
        _store.Reset();
    }

    [IterationSetup(Targets = [nameof(InsertSequential), nameof(InsertRandom)])]
    public void EmptyTree()
    {
        _store.Reset();
        _tree = CowTree.CreateEmpty(_store, 5);
    }

    [IterationSetup(Targets = [nameof(DeleteRandom), nameof(DeleteSequential), nameof(UpdateRandom)])]
    public void FullCommittedTree()
    {
        EmptyTree();
        foreach (var k in _rnd) _tree.Insert(k, 160)[0] = 1;
        _store.Commit();
    }

    [Benchmark(OperationsPerInvoke = N)]
    public void InsertSequential() { foreach (var k in _seq) _tree.Insert(k, 160)[0] = 1; }

    [Benchmark(OperationsPerInvoke = N)]
    public void InsertRandom() { foreach (var k in _rnd) _tree.Insert(k, 160)[0] = 1; }

    [Benchmark(OperationsPerInvoke = N)]
    public void DeleteRandom() { foreach (var k in _rnd) _tree.Delete(k); }

    [Benchmark(OperationsPerInvoke = N)]
    public void DeleteSequential() { foreach (var k in _seq) _tree.Delete(k); }

    /// <summary>TryGetForWrite (CoW path + in-place edit) of every item in random order.</summary>
    [Benchmark(OperationsPerInvoke = N)]
    public void UpdateRandom() { foreach (var k in _rnd) if (_tree.TryGetForWrite(k, out var d)) d[1]++; }

    /// <summary>A minimal transaction: blocks in a dictionary, dirty set, pooled buffers; Commit = all clean.</summary>
    private sealed class PooledStore(int nodeSize) : ITreeBlockStore
    {
        private readonly Dictionary<ulong, byte[]> _blocks = new(1 << 16);
        private readonly HashSet<ulong> _dirty = new(1 << 16);
        private readonly Stack<byte[]> _pool = new();
        private ulong _next = 1 << 20;

        public int NodeSize => nodeSize;
        public ulong Generation { get; private set; } = 10;
        public byte[] Read(ulong bytenr, in NodeExpectation expect) => _blocks[bytenr];
        public bool IsDirty(ulong bytenr) => _dirty.Contains(bytenr);
        public byte[] GetDirty(ulong bytenr) => _blocks[bytenr];

        public (ulong Bytenr, byte[] Buffer) Allocate(ulong owner, int level)
        {
            var (b, buf) = New();
            var h = new NodeHeader(buf);
            h.Bytenr = b; h.Generation = Generation; h.Owner = owner; h.Level = (byte)level;
            h.Flags = NodeHeader.FlagWritten | (NodeHeader.MixedBackrefRev << NodeHeader.BackrefRevShift);
            return (b, buf);
        }

        public (ulong Bytenr, byte[] Buffer) Cow(ulong bytenr, int level, ulong generation, ulong owner)
        {
            var (b, buf) = New();
            _blocks.Remove(bytenr, out var old);
            old!.AsSpan().CopyTo(buf);
            var h = new NodeHeader(buf);
            h.Bytenr = b; h.Generation = Generation; h.Owner = owner;
            _pool.Push(old!);
            return (b, buf);
        }

        public void Free(ulong bytenr, ulong owner, int level)
        {
            _dirty.Remove(bytenr);
            _blocks.Remove(bytenr, out var buf);
            _pool.Push(buf!);
        }

        private (ulong, byte[]) New()
        {
            ulong b = _next;
            _next += (ulong)nodeSize;
            byte[] buf;
            if (_pool.Count > 0) { buf = _pool.Pop(); Array.Clear(buf); } else buf = new byte[nodeSize];
            _blocks[b] = buf;
            _dirty.Add(b);
            return (b, buf);
        }

        public void Commit() { _dirty.Clear(); Generation++; }

        public void Reset()
        {
            foreach (var buf in _blocks.Values) _pool.Push(buf);
            _blocks.Clear();
            _dirty.Clear();
        }
    }
}
