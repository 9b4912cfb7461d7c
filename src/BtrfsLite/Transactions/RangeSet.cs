namespace BtrfsLite.Transactions;

/// <summary>A set of disjoint half-open [start, end) ranges, kept sorted and merged. Used for free space.</summary>
internal sealed class RangeSet
{
    private readonly SortedList<ulong, ulong> _ranges = new(); // start -> end

    public int Count => _ranges.Count;
    public IEnumerable<(ulong Start, ulong End)> Ranges
    {
        get { for (int i = 0; i < _ranges.Count; i++) yield return (_ranges.Keys[i], _ranges.Values[i]); }
    }

    public ulong TotalBytes
    {
        get { ulong t = 0; for (int i = 0; i < _ranges.Count; i++) t += _ranges.Values[i] - _ranges.Keys[i]; return t; }
    }

    // Index of the last range starting at or before x, or -1.
    private int Floor(ulong x)
    {
        var keys = _ranges.Keys;
        int lo = 0, hi = keys.Count - 1, best = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (keys[mid] <= x) { best = mid; lo = mid + 1; } else hi = mid - 1;
        }
        return best;
    }

    public void Add(ulong start, ulong end)
    {
        if (end <= start) return;
        int i = Floor(start);
        if (i >= 0 && _ranges.Values[i] >= start)
        {
            start = _ranges.Keys[i];
            end = Math.Max(end, _ranges.Values[i]);
            _ranges.RemoveAt(i);
        }
        else i++;
        while (i < _ranges.Count && _ranges.Keys[i] <= end)
        {
            end = Math.Max(end, _ranges.Values[i]);
            _ranges.RemoveAt(i);
        }
        _ranges.Add(start, end);
    }

    public void Remove(ulong start, ulong end)
    {
        if (end <= start) return;
        int i = Floor(start);
        if (i < 0) i = 0;
        while (i < _ranges.Count && _ranges.Keys[i] < end)
        {
            ulong s = _ranges.Keys[i], e = _ranges.Values[i];
            if (e <= start) { i++; continue; }
            _ranges.RemoveAt(i);
            if (s < start) { _ranges.Add(s, start); i++; }
            if (e > end) { _ranges.Add(end, e); break; }
        }
    }

    public bool Contains(ulong start, ulong end)
    {
        int i = Floor(start);
        return i >= 0 && _ranges.Values[i] >= end;
    }

    public bool Overlaps(ulong start, ulong end)
    {
        int i = Floor(start);
        if (i >= 0 && _ranges.Values[i] > start) return true;
        return i + 1 < _ranges.Count && _ranges.Keys[i + 1] < end;
    }

    /// <summary>First range of at least <paramref name="size"/> bytes at an <paramref name="align"/>-aligned start, at or after <paramref name="hint"/>.</summary>
    public bool TryFind(ulong size, ulong align, ulong hint, out ulong found)
    {
        for (int pass = 0; pass < 2; pass++)
        {
            for (int i = pass == 0 ? Math.Max(0, Floor(hint)) : 0; i < _ranges.Count; i++)
            {
                ulong s = Math.Max(_ranges.Keys[i], pass == 0 ? hint : 0);
                s = (s + align - 1) / align * align;
                if (s + size <= _ranges.Values[i]) { found = s; return true; }
            }
        }
        found = 0;
        return false;
    }

    public void Clear() => _ranges.Clear();
}
