using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace BtrfsLite.Qgroups;

/// <summary>
/// Per-inode set of sectors that hold a qgroup data reservation nobody else owns yet (the kernel
/// keeps this as the EXTENT_QGROUP_RESERVED bit in the inode's io_tree). Stored as sorted,
/// disjoint, non-touching half-open ranges in a B+-tree whose leaves and inner nodes live in
/// pooled flat arrays with free lists: every call is O(log n + k) for n ranges and k ranges
/// touched, and nothing is allocated once the pools are big enough.
/// </summary>
/// <remarks>
/// Inner nodes keep, per child, the exact smallest range start in that child. Deletions never
/// merge under-full nodes (only empty ones are removed): the height is still bounded by the most
/// ranges ever held, and a window walk only crosses nodes whose ranges it consumes.
/// Not thread-safe: the owner serialises access (as the kernel's io_tree lock does).
/// </remarks>
public sealed class DataReservationMap
{
    private const int LeafCap = 64;   // 64 × 16 B = 1 KiB per leaf
    private const int NodeCap = 32;
    private const int MaxHeight = 24;

    private readonly ulong _sectorMask;

    // Leaf i owns slots [i*LeafCap .. +LeafCap) of both arrays. Starts and ends are kept apart so a
    // search reads only the (contiguous) starts: 512 B per leaf instead of 1 KiB.
    private ulong[] _ks;
    private ulong[] _ke;
    private int[] _leafCount;
    private int[] _leafNext;     // free list link
    private int _leafHwm;
    private int _freeLeaf = -1;

    private ulong[] _sep;        // node i owns _sep/_child[i*NodeCap .. +NodeCap); _sep[j] = min start under child j
    private int[] _child;
    private int[] _nodeCount;
    private int[] _nodeNext;
    private int _nodeHwm;
    private int _freeNode = -1;

    private int _root;
    private int _height;         // 0: the root is a leaf

    // Search path of the last descent: for levels 1.._height the inner node and the child index taken.
    private readonly int[] _pn = new int[MaxHeight + 2];
    private readonly int[] _pi = new int[MaxHeight + 2];
    private int _leaf;

    /// <summary>An empty map; ranges are widened to whole sectors of <paramref name="sectorSize"/> bytes.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="sectorSize"/> is not a power of two.</exception>
    public DataReservationMap(uint sectorSize = 4096)
    {
        if (sectorSize == 0 || (sectorSize & (sectorSize - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(sectorSize), "sector size must be a power of two");
        SectorSize = sectorSize;
        _sectorMask = sectorSize - 1UL;
        _ks = new ulong[LeafCap];
        _ke = new ulong[LeafCap];
        _leafCount = new int[1];
        _leafNext = new int[1];
        _sep = new ulong[NodeCap];
        _child = new int[NodeCap];
        _nodeCount = new int[1];
        _nodeNext = new int[1];
        Reset();
    }

    /// <summary>The sector size in bytes; every range is widened to it.</summary>
    public uint SectorSize { get; }

    /// <summary>Number of disjoint reserved ranges.</summary>
    public int RangeCount { get; private set; }

    /// <summary>Bytes currently reserved in this inode.</summary>
    public ulong ReservedBytes { get; private set; }

    internal int Height => _height;

    /// <summary>
    /// Mark [start, start+len) (widened to whole sectors) as reserved. Returns the bytes that were
    /// not reserved before (only those are charged) and appends those sub-ranges to
    /// <paramref name="changes"/> when given.
    /// </summary>
    public ulong Reserve(ulong start, ulong len, ChangeSet? changes = null)
    {
        if (!Widen(start, len, out var s, out var e)) return 0;
        return ReserveAligned(s, e, changes);
    }

    /// <summary>
    /// Writeback: the range's data now belongs to a new extent. Clears it and returns the bytes
    /// that were reserved there; the caller hands them on (they stay charged to the qgroups).
    /// </summary>
    public ulong Release(ulong start, ulong len, ChangeSet? changes = null)
    {
        if (!Widen(start, len, out var s, out var e)) return 0;
        return ClearAligned(s, e, changes);
    }

    /// <summary>
    /// Dirty data dropped (punch, truncate, invalidate, error path): clears the range and returns
    /// the bytes, which the caller gives back to the qgroups at once. Same map effect as
    /// <see cref="Release"/>; the two differ only in what happens to the bytes.
    /// </summary>
    public ulong Free(ulong start, ulong len, ChangeSet? changes = null) => Release(start, len, changes);

    /// <summary>Clear every range listed in <paramref name="ranges"/>[from..]; returns the bytes cleared.</summary>
    public ulong Free(ChangeSet ranges, int from = 0, ChangeSet? changes = null)
    {
        ulong total = 0;
        var span = ranges.Ranges;
        for (int i = from; i < span.Length; i++)
            total += ClearAligned(span[i].Start, span[i].End, changes);
        return total;
    }

    /// <summary>Clear everything (inode eviction); returns the bytes that were still reserved.</summary>
    public ulong Clear()
    {
        ulong b = ReservedBytes;
        Reset();
        return b;
    }

    /// <summary>Bytes in [start, start+len) (whole sectors) that are reserved. Read-only.</summary>
    public ulong CountReserved(ulong start, ulong len)
    {
        if (!Widen(start, len, out var s, out var e)) return 0;
        int leaf = Descend(s);
        int b = leaf * LeafCap;
        int q = LastStartAtOrBelow(b, _leafCount[leaf], s);
        int pos = q >= 0 && _ke[b + q] > s ? q : q + 1;
        ulong total = 0;
        while (true)
        {
            b = _leaf * LeafCap;
            int cnt = _leafCount[_leaf];
            for (; pos < cnt; pos++)
            {
                ulong rs = _ks[b + pos];
                if (rs >= e) return total;
                total += Math.Min(_ke[b + pos], e) - Math.Max(rs, s);
            }
            if (!NextLeaf()) return total;
            pos = 0;
        }
    }

    /// <summary>Whether [start, start+len) (whole sectors) is entirely reserved.</summary>
    public bool IsReserved(ulong start, ulong len)
    {
        if (!Widen(start, len, out var s, out var e)) return true;
        int leaf = Descend(s);
        int b = leaf * LeafCap;
        int q = LastStartAtOrBelow(b, _leafCount[leaf], s);
        return q >= 0 && _ke[b + q] >= e;
    }

    /// <summary>All ranges in order (diagnostics and tests; allocates).</summary>
    public FileRange[] ToArray()
    {
        var list = new FileRange[RangeCount];
        int n = 0;
        Collect(_root, _height, list, ref n);
        return list;
    }

    private void Collect(int node, int level, FileRange[] into, ref int n)
    {
        if (level == 0)
        {
            int b = node * LeafCap;
            for (int i = 0; i < _leafCount[node]; i++) into[n++] = new FileRange(_ks[b + i], _ke[b + i]);
            return;
        }
        for (int i = 0; i < _nodeCount[node]; i++) Collect(_child[node * NodeCap + i], level - 1, into, ref n);
    }

    // ---------------------------------------------------------------- core operations

    private bool Widen(ulong start, ulong len, out ulong s, out ulong e)
    {
        s = start & ~_sectorMask;
        if (len == 0) { e = s; return false; }
        ulong last = start + len - 1;
        if (last < start) last = ulong.MaxValue; // clamp a range running past the end of the address space
        e = (last | _sectorMask) + 1;
        if (e == 0) e = ulong.MaxValue & ~_sectorMask; // the last sector is not addressable with an exclusive end
        return e > s;
    }

    private ulong ReserveAligned(ulong s, ulong e, ChangeSet? cs)
    {
        int leaf = Descend(s);
        int b = leaf * LeafCap;
        int cnt = _leafCount[leaf];
        int q = LastStartAtOrBelow(b, cnt, s);
        if (q >= 0 && _ke[b + q] >= e) return 0; // all already reserved: the seed's rewrite case

        int pos = q >= 0 && _ke[b + q] >= s ? q : q + 1;
        if (pos == cnt && NextLeaf())
        {
            // The first range touching [s, e) (if any) opens the next leaf.
            leaf = _leaf;
            b = leaf * LeafCap;
            cnt = _leafCount[leaf];
            pos = 0;
        }

        if (pos >= cnt || _ks[b + pos] > e)
        {
            // Nothing overlaps or touches: a new range.
            InsertAt(pos, s, e);
            RangeCount++;
            ReservedBytes += e - s;
            cs?.Add(s, e);
            return e - s;
        }

        // Grow the first touching range over the whole window; drop the others it swallows.
        int fi = b + pos;
        ulong cursor = s, added = 0;
        ulong firstStart = _ks[fi];
        if (firstStart > cursor) { cs?.Add(cursor, firstStart); added += firstStart - cursor; }
        cursor = Math.Max(cursor, _ke[fi]);
        ulong lastEnd = _ke[fi];
        if (s < firstStart)
        {
            _ks[fi] = s;
            if (pos == 0) SetFirstKey(s);
        }

        int j = pos + 1;
        while (j < cnt && _ks[b + j] <= e)
        {
            ulong rs = _ks[b + j], re = _ke[b + j];
            if (rs > cursor) { cs?.Add(cursor, rs); added += rs - cursor; }
            cursor = Math.Max(cursor, re);
            lastEnd = re;
            j++;
        }
        int gone = j - pos - 1;
        if (gone > 0)
        {
            Array.Copy(_ks, b + j, _ks, b + pos + 1, cnt - j); Array.Copy(_ke, b + j, _ke, b + pos + 1, cnt - j);
            _leafCount[leaf] = cnt - gone;
            RangeCount -= gone;
        }

        if (j == cnt)
        {
            // The window may go on into the following leaves: consume their prefixes.
            while (NextLeaf())
            {
                int lb = _leaf * LeafCap, lc = _leafCount[_leaf], k = 0;
                while (k < lc && _ks[lb + k] <= e)
                {
                    ulong rs = _ks[lb + k], re = _ke[lb + k];
                    if (rs > cursor) { cs?.Add(cursor, rs); added += rs - cursor; }
                    cursor = Math.Max(cursor, re);
                    lastEnd = re;
                    k++;
                }
                if (k == 0) break;
                RangeCount -= k;
                if (k == lc)
                {
                    _leafCount[_leaf] = 0;
                    RemoveCurrentLeaf();
                    continue;
                }
                Array.Copy(_ks, lb + k, _ks, lb, lc - k); Array.Copy(_ke, lb + k, _ke, lb, lc - k);
                _leafCount[_leaf] = lc - k;
                SetFirstKey(_ks[lb]);
                break;
            }
        }

        if (cursor < e) { cs?.Add(cursor, e); added += e - cursor; }
        _ke[fi] = Math.Max(e, lastEnd);
        ReservedBytes += added;
        CollapseRoot();
        return added;
    }

    private ulong ClearAligned(ulong s, ulong e, ChangeSet? cs)
    {
        if (RangeCount == 0) return 0;
        int leaf = Descend(s);
        int b = leaf * LeafCap;
        int cnt = _leafCount[leaf];
        int q = LastStartAtOrBelow(b, cnt, s);
        int pos = q >= 0 && _ke[b + q] > s ? q : q + 1;
        ulong cleared = 0;

        if (pos < cnt && _ks[b + pos] < s)
        {
            // The first range starts before s: its head stays.
            ulong rEnd = _ke[b + pos];
            if (rEnd > e)
            {
                // [s, e) strictly inside one range: split it in two.
                _ke[b + pos] = s;
                cs?.Add(s, e);
                ReservedBytes -= e - s;
                InsertAt(pos + 1, e, rEnd);
                RangeCount++;
                return e - s;
            }
            _ke[b + pos] = s;
            cs?.Add(s, rEnd);
            cleared += rEnd - s;
            pos++;
        }

        while (true)
        {
            int lb = _leaf * LeafCap, lc = _leafCount[_leaf], k = pos;
            bool stop = false;
            while (k < lc)
            {
                ulong rs = _ks[lb + k], re = _ke[lb + k];
                if (rs >= e) { stop = true; break; }
                if (re > e)
                {
                    // Tail of this range survives.
                    cs?.Add(rs, e);
                    cleared += e - rs;
                    _ks[lb + k] = e;
                    stop = true;
                    break;
                }
                cs?.Add(rs, re);
                cleared += re - rs;
                k++;
            }
            int gone = k - pos;
            if (gone > 0)
            {
                Array.Copy(_ks, lb + k, _ks, lb + pos, lc - k); Array.Copy(_ke, lb + k, _ke, lb + pos, lc - k);
                lc -= gone;
                _leafCount[_leaf] = lc;
                RangeCount -= gone;
            }
            if (lc == 0) RemoveCurrentLeaf();
            else if (pos == 0) SetFirstKey(_ks[lb]);
            if (stop || !NextLeaf()) break;
            pos = 0;
        }

        ReservedBytes -= cleared;
        if (RangeCount == 0) Reset();
        else CollapseRoot();
        return cleared;
    }

    // ---------------------------------------------------------------- tree plumbing

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int LastStartAtOrBelow(int b, int cnt, ulong x) => LastAtOrBelow(_ks, b, cnt, x);

    /// <summary>
    /// Index of the last key in keys[b..b+cnt) that is &lt;= x, or -1. Branchless (the compare
    /// becomes a conditional move), so a miss costs no misprediction; bounds are the caller's
    /// invariant (b+cnt never exceeds the pool), hence no per-probe checks.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int LastAtOrBelow(ulong[] keys, int b, int cnt, ulong x)
    {
        if (cnt <= 0) return -1;
        ref ulong k = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(keys), (nint)(uint)b);
        int lo = 0, n = cnt;
        while (n > 1)
        {
            int half = n >>> 1;
            lo = Unsafe.Add(ref k, (nint)(uint)(lo + half)) <= x ? lo + half : lo;
            n -= half;
        }
        return Unsafe.Add(ref k, (nint)(uint)lo) <= x ? lo : -1;
    }

    /// <summary>Walk from the root to the leaf that holds the last range starting at or below x (recording the path).</summary>
    private int Descend(ulong x)
    {
        int node = _root;
        var sep = _sep;
        var child = _child;
        var counts = _nodeCount;
        for (int lvl = _height; lvl >= 1; lvl--)
        {
            int b = node * NodeCap;
            int idx = Math.Max(0, LastAtOrBelow(sep, b, counts[node], x));
            _pn[lvl] = node;
            _pi[lvl] = idx;
            node = child[b + idx];
        }
        _leaf = node;
        return node;
    }

    /// <summary>Move the path to the next leaf in key order; amortised O(1).</summary>
    private bool NextLeaf()
    {
        for (int lvl = 1; lvl <= _height; lvl++)
        {
            int node = _pn[lvl];
            if (_pi[lvl] + 1 < _nodeCount[node])
            {
                int c = _child[node * NodeCap + ++_pi[lvl]];
                for (int l = lvl - 1; l >= 1; l--)
                {
                    _pn[l] = c;
                    _pi[l] = 0;
                    c = _child[c * NodeCap];
                }
                _leaf = c;
                return true;
            }
        }
        return false;
    }

    /// <summary>The current leaf's smallest start changed: update the separators that mirror it.</summary>
    private void SetFirstKey(ulong v) => SetFirstKeyFrom(1, v);

    private void SetFirstKeyFrom(int level, ulong v)
    {
        for (int lvl = level; lvl <= _height; lvl++)
        {
            int idx = _pi[lvl];
            _sep[_pn[lvl] * NodeCap + idx] = v;
            if (idx != 0) break;
        }
    }

    /// <summary>Unlink the (empty) current leaf; empty inner nodes go too. Leaves the path just before the next leaf.</summary>
    private void RemoveCurrentLeaf()
    {
        if (_height == 0) return; // the root leaf stays, empty
        FreeLeaf(_leaf);
        for (int lvl = 1; lvl <= _height; lvl++)
        {
            int node = _pn[lvl], idx = _pi[lvl], b = node * NodeCap, cnt = _nodeCount[node];
            Array.Copy(_sep, b + idx + 1, _sep, b + idx, cnt - idx - 1);
            Array.Copy(_child, b + idx + 1, _child, b + idx, cnt - idx - 1);
            _nodeCount[node] = --cnt;
            _pi[lvl] = idx - 1;
            if (cnt > 0)
            {
                if (idx == 0) SetFirstKeyFrom(lvl + 1, _sep[b]);
                return;
            }
            if (lvl == _height) return; // whole tree empty: the caller resets
            FreeNode(node);
        }
    }

    /// <summary>Insert a range at slot pos of the current leaf, splitting up the path as needed.</summary>
    private void InsertAt(int pos, ulong s, ulong e)
    {
        int leaf = _leaf;
        int cnt = _leafCount[leaf];
        if (pos == 0 && _height > 0) SetFirstKey(s); // stays the left leaf's first key even if we split
        if (cnt < LeafCap)
        {
            int b = leaf * LeafCap;
            Array.Copy(_ks, b + pos, _ks, b + pos + 1, cnt - pos); Array.Copy(_ke, b + pos, _ke, b + pos + 1, cnt - pos);
            _ks[b + pos] = s;
            _ke[b + pos] = e;
            _leafCount[leaf] = cnt + 1;
            return;
        }
        int right = AllocLeaf();
        if (pos == LeafCap)
        {
            // Appending past a full leaf (sequential writes): the new range opens a leaf of its own
            // and the full one stays full, so a file written front to back gets packed leaves.
            int nb = right * LeafCap;
            _ks[nb] = s;
            _ke[nb] = e;
            _leafCount[right] = 1;
            InsertChild(1, s, right);
            return;
        }
        const int half = LeafCap / 2;
        int lbase = leaf * LeafCap, rbase = right * LeafCap;
        Array.Copy(_ks, lbase + half, _ks, rbase, LeafCap - half); Array.Copy(_ke, lbase + half, _ke, rbase, LeafCap - half);
        _leafCount[leaf] = half;
        _leafCount[right] = LeafCap - half;
        int tb, tp, tc;
        if (pos <= half) { tb = lbase; tp = pos; tc = half; _leafCount[leaf] = half + 1; }
        else { tb = rbase; tp = pos - half; tc = LeafCap - half; _leafCount[right] = tc + 1; }
        Array.Copy(_ks, tb + tp, _ks, tb + tp + 1, tc - tp); Array.Copy(_ke, tb + tp, _ke, tb + tp + 1, tc - tp);
        _ks[tb + tp] = s;
        _ke[tb + tp] = e;
        InsertChild(1, _ks[rbase], right);
    }

    /// <summary>Insert (key, child) right after the path's child at this level.</summary>
    private void InsertChild(int level, ulong key, int child)
    {
        if (level > _height)
        {
            if (_height == MaxHeight) throw new InvalidOperationException("reservation map too deep");
            int old = _root;
            ulong oldMin = _height == 0 ? _ks[old * LeafCap] : _sep[old * NodeCap];
            int nr = AllocNode();
            int b = nr * NodeCap;
            _sep[b] = oldMin; _child[b] = old;
            _sep[b + 1] = key; _child[b + 1] = child;
            _nodeCount[nr] = 2;
            _root = nr;
            _height++;
            return;
        }
        int node = _pn[level];
        int cnt = _nodeCount[node];
        int pos = _pi[level] + 1;
        if (cnt < NodeCap)
        {
            int b = node * NodeCap;
            Array.Copy(_sep, b + pos, _sep, b + pos + 1, cnt - pos);
            Array.Copy(_child, b + pos, _child, b + pos + 1, cnt - pos);
            _sep[b + pos] = key;
            _child[b + pos] = child;
            _nodeCount[node] = cnt + 1;
            return;
        }
        int right = AllocNode();
        if (pos == NodeCap)
        {
            // Same for inner nodes: a child appended past a full node starts a new node.
            int nb = right * NodeCap;
            _sep[nb] = key;
            _child[nb] = child;
            _nodeCount[right] = 1;
            InsertChild(level + 1, key, right);
            return;
        }
        const int half = NodeCap / 2;
        int lb = node * NodeCap, rb = right * NodeCap;
        Array.Copy(_sep, lb + half, _sep, rb, NodeCap - half);
        Array.Copy(_child, lb + half, _child, rb, NodeCap - half);
        int tb, tp, tc;
        if (pos <= half) { tb = lb; tp = pos; tc = half; _nodeCount[node] = half + 1; _nodeCount[right] = NodeCap - half; }
        else { tb = rb; tp = pos - half; tc = NodeCap - half; _nodeCount[node] = half; _nodeCount[right] = tc + 1; }
        Array.Copy(_sep, tb + tp, _sep, tb + tp + 1, tc - tp);
        Array.Copy(_child, tb + tp, _child, tb + tp + 1, tc - tp);
        _sep[tb + tp] = key;
        _child[tb + tp] = child;
        InsertChild(level + 1, _sep[rb], right);
    }

    private void CollapseRoot()
    {
        while (_height > 0 && _nodeCount[_root] == 1)
        {
            int old = _root;
            _root = _child[old * NodeCap];
            FreeNode(old);
            _height--;
        }
    }

    private void Reset()
    {
        _leafHwm = 0;
        _freeLeaf = -1;
        _nodeHwm = 0;
        _freeNode = -1;
        _height = 0;
        _root = AllocLeaf();
        _leaf = _root;
        RangeCount = 0;
        ReservedBytes = 0;
    }

    private int AllocLeaf()
    {
        int id;
        if (_freeLeaf >= 0)
        {
            id = _freeLeaf;
            _freeLeaf = _leafNext[id];
        }
        else
        {
            if (_leafHwm == _leafCount.Length)
            {
                int n = _leafCount.Length * 2;
                Array.Resize(ref _leafCount, n);
                Array.Resize(ref _leafNext, n);
                Array.Resize(ref _ks, n * LeafCap);
                Array.Resize(ref _ke, n * LeafCap);
            }
            id = _leafHwm++;
        }
        _leafCount[id] = 0;
        return id;
    }

    private void FreeLeaf(int id)
    {
        _leafCount[id] = 0;
        _leafNext[id] = _freeLeaf;
        _freeLeaf = id;
    }

    private int AllocNode()
    {
        int id;
        if (_freeNode >= 0)
        {
            id = _freeNode;
            _freeNode = _nodeNext[id];
        }
        else
        {
            if (_nodeHwm == _nodeCount.Length)
            {
                int n = _nodeCount.Length * 2;
                Array.Resize(ref _nodeCount, n);
                Array.Resize(ref _nodeNext, n);
                Array.Resize(ref _sep, n * NodeCap);
                Array.Resize(ref _child, n * NodeCap);
            }
            id = _nodeHwm++;
        }
        _nodeCount[id] = 0;
        return id;
    }

    private void FreeNode(int id)
    {
        _nodeCount[id] = 0;
        _nodeNext[id] = _freeNode;
        _freeNode = id;
    }

    /// <summary>Structural self-check for tests: order, disjointness, exact separators, uniform depth.</summary>
    internal string? Validate()
    {
        ulong prevEnd = 0;
        bool first = true;
        int ranges = 0;
        ulong bytes = 0;
        string? err = ValidateNode(_root, _height, ref prevEnd, ref first, ref ranges, ref bytes);
        if (err != null) return err;
        if (ranges != RangeCount) return $"RangeCount {RangeCount} but {ranges} ranges";
        if (bytes != ReservedBytes) return $"ReservedBytes {ReservedBytes} but {bytes}";
        return null;
    }

    private string? ValidateNode(int node, int level, ref ulong prevEnd, ref bool first, ref int ranges, ref ulong bytes)
    {
        if (level == 0)
        {
            int b = node * LeafCap, cnt = _leafCount[node];
            if (cnt == 0 && !(node == _root && _height == 0)) return $"empty leaf {node}";
            for (int i = 0; i < cnt; i++)
            {
                var r = new FileRange(_ks[b + i], _ke[b + i]);
                if (r.End <= r.Start) return $"empty range {r.Start}-{r.End}";
                if (((r.Start | r.End) & _sectorMask) != 0) return "unaligned range";
                if (!first && r.Start <= prevEnd) return $"ranges overlap or touch at {r.Start}";
                first = false;
                prevEnd = r.End;
                ranges++;
                bytes += r.End - r.Start;
            }
            return null;
        }
        int nb = node * NodeCap, nc = _nodeCount[node];
        if (nc == 0) return $"empty node {node}";
        for (int i = 0; i < nc; i++)
        {
            int c = _child[nb + i];
            ulong min = level == 1 ? _ks[c * LeafCap] : _sep[c * NodeCap];
            if (_sep[nb + i] != min) return $"separator {_sep[nb + i]} != child min {min} at level {level}";
            var err = ValidateNode(c, level - 1, ref prevEnd, ref first, ref ranges, ref bytes);
            if (err != null) return err;
        }
        return null;
    }
}
