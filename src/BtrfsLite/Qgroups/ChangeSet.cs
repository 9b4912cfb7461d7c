namespace BtrfsLite.Qgroups;

/// <summary>
/// The sub-ranges whose reserved state a map operation actually flipped, plus their byte count
/// (the kernel's extent_changeset). Reused by its owner across calls: after the first few calls
/// it never allocates. The reserving caller keeps it to free exactly what it reserved on an
/// error path, so concurrent reservations of others in the same range are not freed.
/// </summary>
public sealed class ChangeSet
{
    private FileRange[] _ranges;
    private int _count;
    private int _floor; // ranges below this index belong to an earlier call and are never extended

    /// <summary>An empty change set with room for <paramref name="capacity"/> ranges before it grows.</summary>
    public ChangeSet(int capacity = 8) => _ranges = new FileRange[Math.Max(1, capacity)];

    /// <summary>The number of ranges recorded.</summary>
    public int Count => _count;
    /// <summary>The total bytes of the recorded ranges.</summary>
    public ulong BytesChanged { get; private set; }
    /// <summary>Range <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not below
    /// <see cref="Count"/>.</exception>
    public FileRange this[int index] => (uint)index < (uint)_count ? _ranges[index] : throw new ArgumentOutOfRangeException(nameof(index));
    /// <summary>The recorded ranges, in the order recorded (valid until the set changes).</summary>
    public ReadOnlySpan<FileRange> Ranges => _ranges.AsSpan(0, _count);

    /// <summary>Forgets every range, keeping the storage for reuse.</summary>
    public void Clear()
    {
        _count = 0;
        _floor = 0;
        BytesChanged = 0;
    }

    /// <summary>Start of one call's records: later additions never extend earlier ranges, so <see cref="Truncate"/> is exact.</summary>
    internal int Mark()
    {
        _floor = _count;
        return _count;
    }

    internal void Add(ulong start, ulong end)
    {
        BytesChanged += end - start;
        // Gaps come in increasing order within one call; join touching pieces so the list stays short.
        if (_count > _floor && _ranges[_count - 1].End == start)
        {
            _ranges[_count - 1] = new FileRange(_ranges[_count - 1].Start, end);
            return;
        }
        if (_count == _ranges.Length) Array.Resize(ref _ranges, _ranges.Length * 2);
        _ranges[_count++] = new FileRange(start, end);
    }

    /// <summary>Drop everything recorded after <paramref name="mark"/> (a previous <see cref="Count"/>).</summary>
    internal void Truncate(int mark)
    {
        for (int i = mark; i < _count; i++) BytesChanged -= _ranges[i].Length;
        _count = mark;
        _floor = Math.Min(_floor, mark);
    }

    /// <summary>"N bytes in M ranges".</summary>
    public override string ToString() => $"{BytesChanged} bytes in {_count} ranges";
}
