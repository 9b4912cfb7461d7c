namespace BtrfsLite.IO;

/// <summary>
/// Is an image in use by a mounted file system? As btrfs-progs' check_mounted asks it: the block devices that show
/// this image (the device itself, or every loop device whose sysfs backing_file is this file), their partitions and
/// holders (device mapper), and then whether any of them is the source of a mount in /proc/self/mountinfo.
/// </summary>
internal static class MountCheck
{
    /// <summary>How the image is mounted ("/dev/loop3 (backing this file at offset 0) on /mnt, btrfs"), or null.</summary>
    public static string? FindMount(string path, Native.FileId id, string sysBlock = "/sys/block", string mountinfo = "/proc/self/mountinfo")
    {
        // maj:min → a human name for the message.
        var devs = new Dictionary<string, string>(StringComparer.Ordinal);
        if (id.IsBlockDevice) devs[id.Rdev] = path;
        else if (id.IsRegular)
            foreach (var (loop, offset) in LoopsBackedBy(id, sysBlock))
                if (ReadLine(Path.Combine(sysBlock, loop, "dev")) is string mm) devs[mm] = $"/dev/{loop} (backed by this file at offset {offset})";
        if (devs.Count == 0) return null;
        AddPartitionsAndHolders(devs, sysBlock);

        string[] lines;
        try { lines = File.ReadAllLines(mountinfo); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return null; }
        foreach (var line in lines)
        {
            // id parent maj:min root mountpoint options [optional fields] - fstype source superoptions
            var f = line.Split(' ');
            int sep = Array.IndexOf(f, "-");
            if (f.Length < 5 || sep < 0 || sep + 2 >= f.Length) continue;
            string mountPoint = Unescape(f[4]), fsType = f[sep + 1], source = Unescape(f[sep + 2]);
            string? hit = devs.TryGetValue(f[2], out var n1) ? n1 : null;
            // btrfs reports an anonymous device number in field 3: match its source device instead.
            if (hit == null && source.StartsWith('/') && Native.Stat(source) is { IsBlockDevice: true } s && devs.TryGetValue(s.Rdev, out var n2))
                hit = n2;
            if (hit != null) return $"{hit} is mounted on {mountPoint} ({fsType})";
        }
        return null;
    }

    /// <summary>Loop devices whose backing file is this file, with their offsets.</summary>
    public static IEnumerable<(string Loop, string Offset)> LoopsBackedBy(Native.FileId file, string sysBlock = "/sys/block")
    {
        string[] loops;
        try { loops = Directory.GetDirectories(sysBlock, "loop*"); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { yield break; }
        foreach (var dir in loops)
        {
            var backing = ReadLine(Path.Combine(dir, "loop", "backing_file"));
            if (backing == null) continue;
            // A deleted backing file still backs the loop; its path no longer leads to it.
            if (backing.EndsWith(" (deleted)", StringComparison.Ordinal)) continue;
            if (Native.Stat(backing) is { } b && b.SameFile(file))
                yield return (Path.GetFileName(dir), ReadLine(Path.Combine(dir, "loop", "offset")) ?? "0");
        }
    }

    /// <summary>The backing file of a loop device, or null when it is not one (or has none).</summary>
    public static string? LoopBackingFile(Native.FileId dev, string sysBlock = "/sys/block")
    {
        if (!dev.IsBlockDevice) return null;
        var dir = $"/sys/dev/block/{dev.Rdev}";
        var backing = ReadLine(Path.Combine(dir, "loop", "backing_file"));
        return backing == null || backing.EndsWith(" (deleted)", StringComparison.Ordinal) ? null : backing;
    }

    private static void AddPartitionsAndHolders(Dictionary<string, string> devs, string sysBlock)
    {
        var queue = new Queue<string>(devs.Keys);
        while (queue.Count > 0)
        {
            var mm = queue.Dequeue();
            var dir = $"/sys/dev/block/{mm}";
            if (!Directory.Exists(dir)) continue;
            var children = new List<string>();
            try
            {
                // Partitions are subdirectories with a "partition" file; holders (dm, md) are links in holders/.
                foreach (var sub in Directory.GetDirectories(dir))
                    if (File.Exists(Path.Combine(sub, "partition"))) children.Add(sub);
                var holders = Path.Combine(dir, "holders");
                if (Directory.Exists(holders))
                    foreach (var h in Directory.GetFileSystemEntries(holders)) children.Add(Path.Combine(sysBlock, Path.GetFileName(h)));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { continue; }
            foreach (var c in children)
                if (ReadLine(Path.Combine(c, "dev")) is string cmm && !devs.ContainsKey(cmm))
                {
                    devs[cmm] = $"/dev/{Path.GetFileName(c)} (on {devs[mm]})";
                    queue.Enqueue(cmm);
                }
        }
    }

    private static string? ReadLine(string path)
    {
        try { return File.Exists(path) ? File.ReadAllText(path).TrimEnd('\n') : null; }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return null; }
    }

    // mountinfo escapes space, tab, newline and backslash as \ooo.
    private static string Unescape(string s)
    {
        if (!s.Contains('\\')) return s;
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && IsOctal(s, i + 1))
            {
                sb.Append((char)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else sb.Append(s[i]);
        }
        return sb.ToString();
    }

    private static bool IsOctal(string s, int at) =>
        at + 3 <= s.Length && s[at] is >= '0' and <= '7' && s[at + 1] is >= '0' and <= '7' && s[at + 2] is >= '0' and <= '7';
}
