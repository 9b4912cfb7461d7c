namespace BtrfsLite.Fs;

/// <summary>
/// The holes of the kernel's extent map cache (struct extent_map with EXTENT_MAP_HOLE), per inode, for as long as the
/// image is open. Only their extent matters: a lookup that starts inside a cached hole returns that whole map, which can
/// reach past what the file's items alone would give (btrfs_cont_expand maps the whole hole up to the new size; a punch
/// maps what it punched), so btrfs_punch_hole's find_first_non_hole skips more. Data extents are not cached here: the
/// file's items bound every hole (a new extent splits the kernel's map where it starts).
/// </summary>
internal sealed class HoleMapCache
{
    // Per inode: holes in order, not overlapping. Modified: on the inode's modified list until an fsync logs it (an
    // extent map there is never merged, can_merge_extent_map).
    private readonly Dictionary<(ulong Tree, ulong Ino), List<Hole>> _holes = new();

    private record struct Hole(ulong Start, ulong End, bool Modified);

    /// <summary>A hole mapped by a change (btrfs_replace_extent_map_range, modified): cont_expand, a punch.</summary>
    public void AddModified(ulong tree, ulong ino, ulong start, ulong end)
    {
        if (start >= end) return;
        var list = Holes(tree, ino);
        Cut(list, start, end);
        list.Insert(IndexAfter(list, start), new Hole(start, end, true));
    }

    /// <summary>Maps dropped (btrfs_drop_extent_map_range): from <paramref name="start"/> to <paramref name="end"/>.</summary>
    public void Drop(ulong tree, ulong ino, ulong start, ulong end = ulong.MaxValue)
    {
        if (_holes.TryGetValue((tree, ino), out var list)) Cut(list, start, end);
    }

    /// <summary>The inode left memory (eviction): its maps go.</summary>
    public void Forget(ulong tree, ulong ino) => _holes.Remove((tree, ino));

    /// <summary>fsync logged the inode's modified maps: they may merge from now on.</summary>
    public void Logged(ulong tree, ulong ino)
    {
        if (!_holes.TryGetValue((tree, ino), out var list)) return;
        for (int i = 0; i < list.Count; i++) list[i] = list[i] with { Modified = false };
        for (int i = list.Count - 1; i > 0; i--)
            if (list[i - 1].End == list[i].Start)
            {
                list[i - 1] = list[i - 1] with { End = list[i].End };
                list.RemoveAt(i);
            }
    }

    /// <summary>
    /// btrfs_get_extent at <paramref name="start"/> for <paramref name="len"/> bytes where no extent item covers
    /// <paramref name="start"/>; <paramref name="nextExtent"/> is where the next one begins. A cached hole holding
    /// <paramref name="start"/> is returned whole; otherwise a new map of the hole up to the request's end (or the next
    /// item or map) is cached and merged with mergeable neighbours (try_merge_map). Returns the end of the returned map.
    /// </summary>
    public ulong LookupHole(ulong tree, ulong ino, ulong start, ulong len, ulong nextExtent)
    {
        var list = Holes(tree, ino);
        int i = IndexAfter(list, start); // list[i - 1] starts at or before start
        if (i > 0 && list[i - 1].End > start) return Math.Min(list[i - 1].End, nextExtent);
        ulong end = Math.Min(start + len, nextExtent);
        if (i < list.Count) end = Math.Min(end, list[i].Start);
        var hole = new Hole(start, end, false);
        if (i < list.Count && list[i].Start == end && !list[i].Modified)
        {
            hole = hole with { End = list[i].End };
            list.RemoveAt(i);
        }
        if (i > 0 && list[i - 1].End == start && !list[i - 1].Modified)
        {
            hole = hole with { Start = list[i - 1].Start };
            list.RemoveAt(--i);
        }
        list.Insert(i, hole);
        return Math.Min(hole.End, nextExtent);
    }

    private List<Hole> Holes(ulong tree, ulong ino)
    {
        if (!_holes.TryGetValue((tree, ino), out var list)) _holes[(tree, ino)] = list = new List<Hole>();
        return list;
    }

    private static int IndexAfter(List<Hole> list, ulong pos)
    {
        int i = 0;
        while (i < list.Count && list[i].Start <= pos) i++;
        return i;
    }

    // Removes [start, end) from the holes, splitting those that reach past it.
    private static void Cut(List<Hole> list, ulong start, ulong end)
    {
        for (int i = list.Count - 1; i >= 0; i--)
        {
            var h = list[i];
            if (h.End <= start || h.Start >= end) continue;
            list.RemoveAt(i);
            if (h.End > end) list.Insert(i, h with { Start = end });
            if (h.Start < start) list.Insert(i, h with { End = start });
        }
    }
}
