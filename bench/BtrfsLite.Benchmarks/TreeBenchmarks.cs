using BenchmarkDotNet.Attributes;
using BtrfsLite.Format;
using BtrfsLite.Images;
using BtrfsLite.Trees;

namespace BtrfsLite.Benchmarks;

/// <summary>Leaf search and ordered iteration over a real kernel-made tree (kernel-rich: subvolume tree of level 2, 616 leaves).</summary>
[MemoryDiagnoser]
public class TreeBenchmarks
{
    private BtrfsImage _fs = null!;
    private TreeCursor _cur = null!;
    private TreeRoot _root;
    private Key[] _keys = null!;
    private byte[] _leaf = null!;
    private Key[] _leafKeys = null!;

    [GlobalSetup]
    public void Setup()
    {
        _fs = BtrfsImage.Open(BenchImages.Extract("kernel-rich"));
        _root = _fs.Roots.Values.Where(r => ObjectIds.IsFsTree(r.TreeId)).OrderByDescending(r => r.Level).First();
        _cur = _fs.NewCursor();
        var keys = new List<Key>();
        _cur.First(_root);
        do keys.Add(_cur.Key); while (_cur.Next());
        var rnd = new Random(42);
        _keys = Enumerable.Range(0, 1024).Select(_ => keys[rnd.Next(keys.Count)]).ToArray();
        ItemsInTree = keys.Count;
        // One full leaf for the in-leaf binary search.
        _cur.Find(_root, _keys[0]);
        _leaf = (byte[])_cur.Leaf.Block.ToArray();
        var leaf = new Leaf(_leaf);
        _leafKeys = new Key[leaf.NrItems];
        for (int i = 0; i < _leafKeys.Length; i++) _leafKeys[i] = leaf.Key(i);
    }

    public int ItemsInTree { get; private set; }

    [GlobalCleanup]
    public void Cleanup() => _fs.Dispose();

    /// <summary>Binary search inside one leaf (per search).</summary>
    [Benchmark(OperationsPerInvoke = 1024)]
    public int LeafSearch()
    {
        var leaf = new Leaf(_leaf);
        int s = 0;
        for (int i = 0; i < 1024; i++) s += leaf.Search(_leafKeys[i % _leafKeys.Length]);
        return s;
    }

    /// <summary>Root-to-leaf search through the cached tree (per search).</summary>
    [Benchmark(OperationsPerInvoke = 1024)]
    public int TreeSearch()
    {
        int s = 0;
        for (int i = 0; i < _keys.Length; i++) if (_cur.Find(_root, _keys[i])) s += _cur.Slot;
        return s;
    }

    /// <summary>Ordered iteration, reading each item's key and payload (per item; ItemsInTree items).</summary>
    [Benchmark]
    public long IterateWholeTree()
    {
        long sum = 0;
        _cur.First(_root);
        do sum += (long)_cur.Offset + _cur.DataSize; while (_cur.Next());
        return sum;
    }
}

/// <summary>crc32c throughput (System.IO.Hashing, hardware accelerated): one 16 KiB node, one 1 MiB buffer.</summary>
[MemoryDiagnoser]
public class Crc32CBenchmarks
{
    private readonly byte[] _node = new byte[16384];
    private readonly byte[] _mib = new byte[1 << 20];

    [GlobalSetup]
    public void Setup()
    {
        new Random(1).NextBytes(_node);
        new Random(2).NextBytes(_mib);
    }

    [Benchmark] public uint Node16K() => Checksums.BlockCsum(_node);
    [Benchmark] public uint Buffer1M() => Checksums.Crc32C(_mib);
    [Benchmark] public ulong NameHash() => Checksums.NameHash("a-file-name-of-moderate-length.txt"u8);
}
