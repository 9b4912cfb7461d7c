using System.Globalization;
using BtrfsLite.Format;

namespace BtrfsLite.Text;

/// <summary>Tree ids for dump-tree -t: a number, or a name as btrfs-progs 6.2 takes it (treeid_from_string).</summary>
public static class TreeIds
{
    // Order matters: prefixes are tried in turn ("DEVICE" before "DEV", "TREE_LOG_FIXUP" before "TREE_LOG").
    private static readonly (string Name, ulong Id)[] Names =
    {
        ("ROOT", ObjectIds.RootTree), ("EXTENT", ObjectIds.ExtentTree), ("CHUNK", ObjectIds.ChunkTree),
        ("DEVICE", ObjectIds.DevTree), ("DEV", ObjectIds.DevTree), ("FS", ObjectIds.FsTree),
        ("CSUM", ObjectIds.CsumTree), ("CHECKSUM", ObjectIds.CsumTree), ("QUOTA", ObjectIds.QuotaTree),
        ("UUID", ObjectIds.UuidTree), ("FREE_SPACE", ObjectIds.FreeSpaceTree), ("TREE_LOG_FIXUP", ObjectIds.TreeLogFixup),
        ("TREE_LOG", ObjectIds.TreeLog), ("TREE_RELOC", ObjectIds.TreeReloc), ("DATA_RELOC", ObjectIds.DataRelocTree),
        ("BLOCK_GROUP_TREE", ObjectIds.BlockGroupTree),
    };

    /// <summary>
    /// Parses "5", "fs", "FS_TREE", "BTRFS_FS_TREE_OBJECTID" (case-insensitive, as 6.2), and as an extension accepts
    /// '-' for '_' ("free-space", "data-reloc"). Returns false for unknown names and trailing garbage.
    /// </summary>
    public static bool TryParse(string s, out ulong id)
    {
        id = 0;
        if (s.Length > 0 && s.All(char.IsAsciiDigit))
            return ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out id) && id != 0;
        var str = s.Replace('-', '_').AsSpan();
        if (str.StartsWith("BTRFS_", StringComparison.OrdinalIgnoreCase)) str = str[6..];
        foreach (var (name, tid) in Names)
        {
            if (!str.StartsWith(name, StringComparison.OrdinalIgnoreCase)) continue;
            str = str[name.Length..];
            if (str.StartsWith("_TREE", StringComparison.OrdinalIgnoreCase)) str = str[5..];
            if (str.StartsWith("_OBJECTID", StringComparison.OrdinalIgnoreCase)) str = str[9..];
            if (!str.IsEmpty) return false;
            id = tid;
            return true;
        }
        return false;
    }
}
