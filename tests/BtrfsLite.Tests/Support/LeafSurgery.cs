using BtrfsLite.Format;

namespace BtrfsLite.Tests.Support;

/// <summary>Removes bytes from leaf items the way btrfs does (payloads stay packed at the block end), for corruption tests.</summary>
public static class LeafSurgery
{
    /// <summary>Removes <paramref name="len"/> bytes at <paramref name="pos"/> inside the payload of item <paramref name="slot"/>.</summary>
    public static void ShrinkItem(byte[] block, int slot, int pos, int len)
    {
        var leaf = new Leaf(block);
        int n = leaf.NrItems;
        int dataStart = NodeHeader.Size + (int)leaf.DataOffset(n - 1);
        int cut = NodeHeader.Size + (int)leaf.DataOffset(slot) + pos;
        if (pos < 0 || pos + len > leaf.DataSize(slot)) throw new ArgumentOutOfRangeException(nameof(pos));
        // Everything packed before the cut moves up by len.
        Buffer.BlockCopy(block, dataStart, block, dataStart + len, cut - dataStart);
        Array.Clear(block, dataStart, len);
        for (int j = slot; j < n; j++)
        {
            uint size = leaf.DataSize(j) - (j == slot ? (uint)len : 0);
            leaf.SetItemPlacement(j, leaf.DataOffset(j) + (uint)len, size);
        }
    }

    /// <summary>Deletes item <paramref name="slot"/> (header and payload).</summary>
    public static void RemoveItem(byte[] block, int slot)
    {
        var leaf = new Leaf(block);
        int size = (int)leaf.DataSize(slot);
        if (size > 0) ShrinkItem(block, slot, 0, size);
        int n = leaf.NrItems;
        int at = NodeHeader.Size + slot * ItemHeader.Size;
        int end = NodeHeader.Size + n * ItemHeader.Size;
        Buffer.BlockCopy(block, at + ItemHeader.Size, block, at, end - at - ItemHeader.Size);
        Array.Clear(block, end - ItemHeader.Size, ItemHeader.Size);
        new NodeHeader(block).NrItems = (uint)(n - 1);
    }
}
