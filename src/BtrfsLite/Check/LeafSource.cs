using BtrfsLite.Format;
using BtrfsLite.Images;

namespace BtrfsLite.Check;

/// <summary>
/// Re-reads the leaves the walker recorded (already verified structurally) into one reusable buffer, so the later
/// phases iterate the system trees without another tree descent and without exceptions.
/// </summary>
internal sealed class LeafSource
{
    private readonly BtrfsImage _img;
    private readonly byte[] _buf, _alt;

    public LeafSource(BtrfsImage img)
    {
        _img = img;
        _buf = new byte[img.NodeSize];
        _alt = new byte[img.NodeSize];
    }

    /// <summary>The leaf at <paramref name="bytenr"/> (a good DUP copy when the first has a bad checksum), or null when unreadable.</summary>
    public byte[]? Read(ulong bytenr)
    {
        try
        {
            _img.Nodes.ReadRaw(bytenr, _buf);
            if (Checksums.VerifyBlockCsum(_buf, out _, out _)) return _buf;
            var c = _img.Chunks.Find(bytenr);
            if (c != null && c.IsDup)
            {
                _img.Nodes.ReadRaw(bytenr, _alt, 1);
                if (Checksums.VerifyBlockCsum(_alt, out _, out _)) return _alt;
            }
            return _buf; // the walker reported the checksum; the layout was validated
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>A leaf of a tree the walker found clean (checksum and layout verified there): read without verifying again.</summary>
    public byte[] ReadClean(ulong bytenr)
    {
        _img.Nodes.ReadRaw(bytenr, _buf);
        return _buf;
    }

    /// <summary>The recorded leaves of <paramref name="tree"/> (empty when the tree was not walked).</summary>
    public static IReadOnlyList<ulong> LeavesOf(TreeWalkResult walk, ulong tree) =>
        walk.Leaves.TryGetValue(tree, out var l) ? l : Array.Empty<ulong>();
}
