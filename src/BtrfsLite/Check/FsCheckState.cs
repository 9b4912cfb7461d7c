using BtrfsLite.Format;
using BtrfsLite.Trees;

namespace BtrfsLite.Check;

/// <summary>One ROOT_ITEM as the root tree holds it (read by the fs-root and root-ref phases themselves).</summary>
internal readonly record struct RootItemInfo(
    ulong Id, ulong KeyOffset, ulong Bytenr, byte Level, ulong Generation, ulong GenerationV2, uint Refs,
    ulong Flags, ulong RootDirId, int ItemSize, byte DropLevel, ulong Leaf, int Slot)
{
    public TreeRoot TreeRoot => new(Id, Bytenr, Level, Generation);

    /// <summary>A ROOT_ITEM of at least <see cref="RootItem.LegacySize"/> bytes.</summary>
    public static RootItemInfo Parse(ulong id, ulong keyOffset, Span<byte> data, ulong leaf, int slot)
    {
        var ri = new RootItem(data);
        return new RootItemInfo(id, keyOffset, ri.Bytenr, ri.Level, ri.Generation, ri.GenerationV2,
            ri.Refs, ri.Flags, ri.RootDirId, data.Length, ri.DropLevel, leaf, slot);
    }
}

/// <summary>One ROOT_REF (parent, 156, child) or ROOT_BACKREF (child, 144, parent).</summary>
internal sealed record RootRefInfo(ulong Parent, ulong Child, ulong DirId, ulong Sequence, byte[] Name, bool Malformed, ulong Leaf, int Slot);

/// <summary>A directory entry in an fs tree whose location is a ROOT_ITEM (a subvolume or snapshot).</summary>
internal sealed record SubvolEntry(ulong ParentTree, ulong Dir, ulong Child, byte[] Name, bool IsIndex, ulong Index, ulong Leaf, int Slot);

/// <summary>
/// What the fs-root and root-ref phases share: the root tree's ROOT_ITEMs, refs and orphan items (scanned once),
/// and the subvolume entries found while walking the fs trees. Attached to a <see cref="CheckContext"/>.
/// </summary>
internal sealed class FsCheckState
{
    public static FsCheckState Get(CheckContext ctx) => ctx.FsState ??= new FsCheckState(ctx);

    public readonly SortedDictionary<ulong, RootItemInfo> RootItems = new();
    public readonly List<RootRefInfo> RootRefs = new();
    public readonly List<RootRefInfo> RootBackrefs = new();
    /// <summary>Orphan items (-5, 48, id) of the root tree: subvolumes being deleted.</summary>
    public readonly HashSet<ulong> RootTreeOrphans = new();
    public readonly List<SubvolEntry> SubvolEntries = new();
    /// <summary>Fs trees whose walk completed (so their subvolume entries are complete).</summary>
    public readonly HashSet<ulong> FsTreesWalked = new();
    public bool FsRootsRan;
    public string? RootTreeError;

    private FsCheckState(CheckContext ctx) => ScanRootTree(ctx);

    private void ScanRootTree(CheckContext ctx)
    {
        var image = ctx.Image;
        var c = image.NewCursor();
        try
        {
            if (!c.First(image.RootTree)) return;
            do
            {
                var type = c.Type;
                switch (type)
                {
                    case ItemType.RootItem:
                    {
                        var data = c.Data;
                        if (data.Length < RootItem.LegacySize)
                        {
                            RootItems[c.ObjectId] = new RootItemInfo(c.ObjectId, c.Offset, 0, 0, 0, 0, 0, 0, 0, data.Length, 0, c.LeafBytenr, c.Slot);
                            break;
                        }
                        RootItems[c.ObjectId] = RootItemInfo.Parse(c.ObjectId, c.Offset, data, c.LeafBytenr, c.Slot);
                        break;
                    }
                    case ItemType.RootRef:
                    case ItemType.RootBackref:
                    {
                        var data = c.Data;
                        RootRefInfo info;
                        if (data.Length < RootRef.HeaderSize)
                            info = new RootRefInfo(0, 0, 0, 0, Array.Empty<byte>(), true, c.LeafBytenr, c.Slot);
                        else
                        {
                            var rr = new RootRef(data);
                            bool bad = !rr.NameFits || RootRef.HeaderSize + rr.NameLen != data.Length;
                            ulong parent = type == ItemType.RootRef ? c.ObjectId : c.Offset;
                            ulong child = type == ItemType.RootRef ? c.Offset : c.ObjectId;
                            info = new RootRefInfo(parent, child, rr.DirId, rr.Sequence, rr.Name.ToArray(), bad, c.LeafBytenr, c.Slot);
                        }
                        (type == ItemType.RootRef ? RootRefs : RootBackrefs).Add(info);
                        break;
                    }
                    case ItemType.OrphanItem when c.ObjectId == ObjectIds.Orphan:
                        RootTreeOrphans.Add(c.Offset);
                        break;
                }
            } while (c.Next());
        }
        catch (InvalidDataException ex)
        {
            RootTreeError = ex.Message;
        }
    }

    /// <summary>Trees the fs-root phase checks: every subvolume tree and the data reloc tree.</summary>
    public static bool IsCheckedFsTree(ulong id) => ObjectIds.IsFsTree(id) || id == ObjectIds.DataRelocTree;

    public static string TreeName(ulong id) => id == ObjectIds.DataRelocTree ? "-9" : id.ToString();
}

/// <summary>Printable file names as btrfs check prints them (bytes as they are; invalid UTF-8 escaped).</summary>
internal static class NameText
{
    private static readonly System.Text.UTF8Encoding Strict = new(false, true);

    public static string Of(ReadOnlySpan<byte> name)
    {
        try
        {
            var s = Strict.GetString(name);
            bool plain = true;
            foreach (char ch in s) if (char.IsControl(ch)) { plain = false; break; }
            if (plain) return s;
        }
        catch (System.Text.DecoderFallbackException) { }
        var sb = new System.Text.StringBuilder(name.Length);
        foreach (byte b in name)
        {
            if (b >= 0x20 && b < 0x7F) sb.Append((char)b);
            else sb.Append("\\x").Append(b.ToString("x2"));
        }
        return sb.ToString();
    }
}
