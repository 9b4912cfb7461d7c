using BtrfsLite.Format;
using BtrfsLite.IO;
using BtrfsLite.Images;
using BtrfsLite.Trees;

namespace BtrfsLite.Tests.Support;

/// <summary>
/// Applies a corruption to an image file, the way the fsck corruption tests need it: find an item, change its
/// bytes, and (by default) re-stamp the block checksum so that only the logical damage remains.
/// </summary>
public sealed class ImageEditor : IDisposable
{
    private readonly string _path;
    private BtrfsImage? _image;

    public ImageEditor(string path)
    {
        _path = path;
        _image = BtrfsImage.Open(path, Raw);
    }

    /// <summary>The image as it is now; reopened lazily after an edit (an edit may leave it unopenable).</summary>
    public BtrfsImage Image => _image ??= BtrfsImage.Open(_path, Raw);

    // Surgery reads what it damages: no tree-checker rules on the way.
    private static readonly BtrfsImage.OpenOptions Raw = new(TreeChecks: false);

    /// <summary>Finds the first item in <paramref name="tree"/> matching <paramref name="match"/>; returns (leaf bytenr, slot).</summary>
    public (ulong Leaf, int Slot, Key Key) FindItem(ulong tree, Func<Key, bool> match)
    {
        var cur = Image.NewCursor();
        if (!cur.First(Image.GetRoot(tree))) throw new InvalidOperationException($"tree {tree} is empty");
        do
        {
            if (match(cur.Key)) return (cur.LeafBytenr, cur.Slot, cur.Key);
        } while (cur.Next());
        throw new InvalidOperationException($"no matching item in tree {tree}");
    }

    /// <summary>Reads the block at <paramref name="bytenr"/>, lets <paramref name="edit"/> change it, writes every copy back.</summary>
    public void EditBlock(ulong bytenr, Action<byte[]> edit, bool restampCsum = true)
    {
        var buf = new byte[Image.NodeSize];
        Image.Nodes.ReadRaw(bytenr, buf);
        edit(buf);
        if (restampCsum) Checksums.StampBlockCsum(buf);
        var image = Image;
        var chunk = image.Chunks.Find(bytenr)!;
        var places = Enumerable.Range(0, chunk.PhysicalStripes.Length).Select(copy => image.Chunks.Map(bytenr, buf.Length, copy)).ToList();
        Reopen(); // our reader holds a shared lock: the raw write needs the image to itself
        using (var dev = FileBlockDevice.Open(_path, writable: true))
            foreach (var at in places) dev.Write(buf, at);
    }

    /// <summary>Edits the payload of one item (leaf, slot) in place.</summary>
    public void EditItem(ulong leaf, int slot, Action<Span<byte>> edit, bool restampCsum = true) =>
        EditBlock(leaf, b => edit(new Leaf(b).Data(slot)), restampCsum);

    /// <summary>Edits the primary superblock; re-stamps its checksum unless told not to.</summary>
    public void EditSuper(Action<byte[]> edit, bool restampCsum = true)
    {
        var buf = new byte[Superblock.Size];
        Reopen();
        using (var dev = FileBlockDevice.Open(_path, writable: true))
        {
            dev.Read(buf, Superblock.PrimaryOffset);
            edit(buf);
            if (restampCsum) new Superblock(buf).StampCsum();
            dev.Write(buf, Superblock.PrimaryOffset);
        }
        Reopen();
    }

    private void Reopen()
    {
        _image?.Dispose();
        _image = null;
    }

    /// <summary>
    /// Every tree block on the image, found by scanning the metadata and system chunks for blocks whose checksum,
    /// bytenr and fsid hold (live or not): its logical address and the physical offset of each copy.
    /// </summary>
    public static List<(ulong Logical, ulong[] Physical)> TreeBlocks(BtrfsImage image)
    {
        var list = new List<(ulong, ulong[])>();
        var buf = new byte[image.NodeSize];
        foreach (var chunk in image.Chunks.Chunks)
        {
            if ((chunk.Type & (BlockGroupFlags.Metadata | BlockGroupFlags.System)) == 0) continue;
            for (ulong at = chunk.Logical; at + (ulong)buf.Length <= chunk.End; at += (ulong)buf.Length)
            {
                image.Nodes.ReadRaw(at, buf);
                var h = new NodeHeader(buf);
                if (Checksums.VerifyBlockCsum(buf, out _, out _) && h.Bytenr == at && h.FsidMatches(image.Fsid))
                    list.Add((at, chunk.PhysicalStripes.Select(p => p + (at - chunk.Logical)).ToArray()));
            }
        }
        return list;
    }

    public void Dispose() => _image?.Dispose();
}
