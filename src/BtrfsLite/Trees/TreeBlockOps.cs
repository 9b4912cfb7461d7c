using System.Runtime.CompilerServices;
using BtrfsLite.Format;

namespace BtrfsLite.Trees;

/// <summary>
/// In-place edits of one leaf, the byte moves of btrfs_insert_empty_items / btrfs_del_items /
/// btrfs_extend_item / btrfs_truncate_item (from the end) and copy_leaf_items. Item headers grow from the
/// front, payloads pack from the end without gaps; offsets count from the end of the header. Bytes freed by
/// an edit are zeroed so unused space stays zero like kernel/mkfs blocks. Callers check the space first.
/// </summary>
internal static class LeafOps
{
    private const int H = NodeHeader.Size, I = ItemHeader.Size;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ItemPos(int slot) => H + slot * I;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Nr(Span<byte> b) => (int)Le.U32(b, NodeHeader.Offsets.NrItems);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetNr(Span<byte> b, int n) => Le.U32(b, NodeHeader.Offsets.NrItems, (uint)n);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Off(Span<byte> b, int slot) => (int)Le.U32(b, ItemPos(slot) + ItemHeader.DataOffset);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetOff(Span<byte> b, int slot, int off) => Le.U32(b, ItemPos(slot) + ItemHeader.DataOffset, (uint)off);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Size(Span<byte> b, int slot) => (int)Le.U32(b, ItemPos(slot) + ItemHeader.DataSize);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetSize(Span<byte> b, int slot, int size) => Le.U32(b, ItemPos(slot) + ItemHeader.DataSize, (uint)size);

    public static int DataArea(Span<byte> b) => b.Length - H;
    /// <summary>Lowest payload offset in use (the data area size when empty).</summary>
    public static int DataStart(Span<byte> b) { int n = Nr(b); return n == 0 ? b.Length - H : Off(b, n - 1); }
    /// <summary>Bytes used by item headers and payloads (btrfs leaf_space_used of all items).</summary>
    public static int Used(Span<byte> b) { int n = Nr(b); return n * I + (n == 0 ? 0 : b.Length - H - Off(b, n - 1)); }
    public static int FreeSpace(Span<byte> b) { int n = Nr(b); return (n == 0 ? b.Length - H : Off(b, n - 1)) - n * I; }
    /// <summary>End (exclusive) of item <paramref name="slot"/>'s payload = start of the previous item's.</summary>
    private static int End(Span<byte> b, int slot) => slot == 0 ? b.Length - H : Off(b, slot - 1);
    /// <summary>Bytes (headers + payloads) of items [from, from + count).</summary>
    public static int RangeUsed(Span<byte> b, int from, int count) =>
        count == 0 ? 0 : count * I + End(b, from) - Off(b, from + count - 1);
    public static Span<byte> Data(Span<byte> b, int slot) => b.Slice(H + Off(b, slot), Size(b, slot));

    /// <summary>Opens a zeroed payload of <paramref name="size"/> bytes for a new item at <paramref name="slot"/>.</summary>
    public static Span<byte> InsertItem(Span<byte> b, int slot, scoped in Key key, int size)
    {
        int n = Nr(b);
        int ds = DataStart(b);
        int end = End(b, slot);
        if (size > 0 && end > ds) b.Slice(H + ds, end - ds).CopyTo(b.Slice(H + ds - size));
        for (int i = slot; i < n; i++) SetOff(b, i, Off(b, i) - size);
        if (slot < n) b.Slice(ItemPos(slot), (n - slot) * I).CopyTo(b.Slice(ItemPos(slot + 1)));
        key.Write(b.Slice(ItemPos(slot), Key.Size));
        SetOff(b, slot, end - size);
        SetSize(b, slot, size);
        SetNr(b, n + 1);
        var payload = b.Slice(H + end - size, size);
        payload.Clear();
        return payload;
    }

    /// <summary>Removes items [slot, slot + count), closing the gap in headers and payloads.</summary>
    public static void DeleteItems(Span<byte> b, int slot, int count)
    {
        if (count == 0) return;
        int n = Nr(b);
        int ds = DataStart(b);
        int lastGone = slot + count - 1;
        int startGone = Off(b, lastGone);
        int del = End(b, slot) - startGone;
        if (del > 0 && startGone > ds) b.Slice(H + ds, startGone - ds).CopyTo(b.Slice(H + ds + del));
        for (int i = slot + count; i < n; i++) SetOff(b, i, Off(b, i) + del);
        int tail = n - slot - count;
        if (tail > 0) b.Slice(ItemPos(slot + count), tail * I).CopyTo(b.Slice(ItemPos(slot)));
        b.Slice(ItemPos(n - count), count * I).Clear();
        b.Slice(H + ds, del).Clear();
        SetNr(b, n - count);
    }

    /// <summary>btrfs_extend_item: grows the payload at its end by <paramref name="delta"/> zero bytes.</summary>
    public static void Extend(Span<byte> b, int slot, int delta)
    {
        int n = Nr(b);
        int ds = DataStart(b);
        int endItem = Off(b, slot) + Size(b, slot);
        b.Slice(H + ds, endItem - ds).CopyTo(b.Slice(H + ds - delta));
        for (int i = slot; i < n; i++) SetOff(b, i, Off(b, i) - delta);
        SetSize(b, slot, Size(b, slot) + delta);
        b.Slice(H + endItem - delta, delta).Clear();
    }

    /// <summary>btrfs_truncate_item(from_end): keeps the first <paramref name="newSize"/> payload bytes.</summary>
    public static void Truncate(Span<byte> b, int slot, int newSize)
    {
        int n = Nr(b);
        int ds = DataStart(b);
        int off = Off(b, slot);
        int d = Size(b, slot) - newSize;
        b.Slice(H + ds, off + newSize - ds).CopyTo(b.Slice(H + ds + d));
        for (int i = slot; i < n; i++) SetOff(b, i, Off(b, i) + d);
        SetSize(b, slot, newSize);
        b.Slice(H + ds, d).Clear();
    }

    /// <summary>Puts items [from, from + count) of <paramref name="src"/> before the first item of <paramref name="dst"/>
    /// (<paramref name="scratch"/>: a block-sized buffer).</summary>
    public static void PrependItems(Span<byte> dst, Span<byte> src, int from, int count, Span<byte> scratch)
    {
        if (count == 0) return;
        int dn = Nr(dst);
        dst.CopyTo(scratch);
        dst.Slice(H).Clear();
        SetNr(dst, 0);
        AppendItems(dst, src, from, count);
        AppendItems(dst, scratch, 0, dn);
    }

    /// <summary>Appends items [from, from + count) of <paramref name="src"/> after the last item of <paramref name="dst"/>.</summary>
    public static void AppendItems(Span<byte> dst, Span<byte> src, int from, int count)
    {
        if (count == 0) return;
        int dn = Nr(dst);
        int dds = DataStart(dst);
        int srcEnd = End(src, from);
        int srcStart = Off(src, from + count - 1);
        int bytes = srcEnd - srcStart;
        src.Slice(H + srcStart, bytes).CopyTo(dst.Slice(H + dds - bytes));
        int delta = dds - bytes - srcStart;
        src.Slice(ItemPos(from), count * I).CopyTo(dst.Slice(ItemPos(dn)));
        for (int j = dn; j < dn + count; j++) SetOff(dst, j, Off(dst, j) + delta);
        SetNr(dst, dn + count);
    }
}

/// <summary>Key-pointer moves inside and between internal nodes (insert_ptr, del_ptr, copy of pointers).</summary>
internal static class NodeOps
{
    private const int H = NodeHeader.Size, P = KeyPtr.Size;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int PtrPos(int slot) => H + slot * P;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Nr(Span<byte> b) => (int)Le.U32(b, NodeHeader.Offsets.NrItems);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetNr(Span<byte> b, int n) => Le.U32(b, NodeHeader.Offsets.NrItems, (uint)n);
    public static ulong BlockPtr(Span<byte> b, int slot) => Le.U64(b, PtrPos(slot) + KeyPtr.BlockPtr);
    public static ulong PtrGeneration(Span<byte> b, int slot) => Le.U64(b, PtrPos(slot) + KeyPtr.Generation);

    /// <summary>Points slot at a new child block (key unchanged).</summary>
    public static void SetChild(Span<byte> b, int slot, ulong bytenr, ulong generation)
    {
        Le.U64(b, PtrPos(slot) + KeyPtr.BlockPtr, bytenr);
        Le.U64(b, PtrPos(slot) + KeyPtr.Generation, generation);
    }

    public static void SetKey(Span<byte> b, int slot, in Key key) => key.Write(b.Slice(PtrPos(slot), Key.Size));
    public static Key KeyAt(Span<byte> b, int slot) => Key.Read(b.Slice(PtrPos(slot), Key.Size));

    public static void InsertPtr(Span<byte> b, int slot, in Key key, ulong bytenr, ulong generation)
    {
        int n = Nr(b);
        if (slot < n) b.Slice(PtrPos(slot), (n - slot) * P).CopyTo(b.Slice(PtrPos(slot + 1)));
        key.Write(b.Slice(PtrPos(slot), Key.Size));
        SetChild(b, slot, bytenr, generation);
        SetNr(b, n + 1);
    }

    public static void RemovePtrs(Span<byte> b, int slot, int count)
    {
        if (count == 0) return;
        int n = Nr(b);
        int tail = n - slot - count;
        if (tail > 0) b.Slice(PtrPos(slot + count), tail * P).CopyTo(b.Slice(PtrPos(slot)));
        b.Slice(PtrPos(n - count), count * P).Clear();
        SetNr(b, n - count);
    }

    /// <summary>Copies <paramref name="count"/> pointers of <paramref name="src"/> from <paramref name="from"/> to the front of <paramref name="dst"/>.</summary>
    public static void PrependPtrs(Span<byte> dst, Span<byte> src, int from, int count)
    {
        if (count == 0) return;
        int dn = Nr(dst);
        dst.Slice(PtrPos(0), dn * P).CopyTo(dst.Slice(PtrPos(count)));
        src.Slice(PtrPos(from), count * P).CopyTo(dst.Slice(PtrPos(0)));
        SetNr(dst, dn + count);
    }

    public static void AppendPtrs(Span<byte> dst, Span<byte> src, int from, int count)
    {
        if (count == 0) return;
        int dn = Nr(dst);
        src.Slice(PtrPos(from), count * P).CopyTo(dst.Slice(PtrPos(dn)));
        SetNr(dst, dn + count);
    }
}
