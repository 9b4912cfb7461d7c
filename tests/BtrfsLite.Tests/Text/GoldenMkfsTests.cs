using System.Runtime.InteropServices;
using System.Text;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Text;

/// <summary>
/// Fresh mkfs.btrfs images made at test time: the real <c>btrfs inspect-internal dump-tree</c> / <c>dump-super</c>
/// and our CLI must print the same bytes (TZ=UTC for both). Nothing is normalized: both print the path given.
/// </summary>
public class GoldenMkfsTests
{
    public static IEnumerable<object[]> Configs() => new[]
    {
        new object[] { "single-quota", new[] { "-m", "single", "-d", "single", "-R", "quota", "-L", "gold\u00e9n label" } },
        new object[] { "dup", Array.Empty<string>() },
        new object[] { "nofst", new[] { "-R", "^free-space-tree" } },
        new object[] { "rootdir", new[] { "-m", "single", "-d", "single", "--rootdir", "@tree" } },
        new object[] { "rootdir-dup-quota", new[] { "-R", "quota", "--rootdir", "@tree" } },
        new object[] { "rootdir-4k-nodes", new[] { "-n", "4096", "-m", "single", "-d", "single", "--rootdir", "@tree" } },
        new object[] { "mixed", new[] { "-M", "--rootdir", "@tree" } },
        new object[] { "noskinny", new[] { "-O", "^skinny-metadata", "--rootdir", "@tree" } },
        new object[] { "level2", new[] { "-m", "single", "-d", "single", "--rootdir", "@many" } },
    };

    [DllImport("libc", SetLastError = true)]
    private static extern int setxattr(string path, string name, byte[] value, nuint size, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int creat(byte[] path, uint mode);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int fd);

    [DllImport("libc", SetLastError = true)]
    private static extern int mkfifo(string path, uint mode);

    /// <summary>Files, dirs, symlink, hardlink, fifo, xattrs (text and binary), a non-UTF-8 name, 600 names (level-1 fs tree), a 300 KB file (regular extents, csums).</summary>
    internal static void MakeTree(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "dir", "sub"));
        File.WriteAllText(Path.Combine(root, "small.txt"), "hello\n");
        var rnd = new Random(1234);
        var big = new byte[300_000];
        rnd.NextBytes(big);
        File.WriteAllBytes(Path.Combine(root, "big.bin"), big);
        File.CreateSymbolicLink(Path.Combine(root, "link"), "small.txt");
        var r = RealTools.Run("ln", Path.Combine(root, "small.txt"), Path.Combine(root, "dir", "hard.txt"));
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(0, mkfifo(Path.Combine(root, "fifo"), Convert.ToUInt32("644", 8)));
        var v = Encoding.ASCII.GetBytes("value123");
        Assert.Equal(0, setxattr(Path.Combine(root, "small.txt"), "user.test", v, (nuint)v.Length, 0));
        var bin = new byte[] { 0x41, 0x00, 0x01, 0xFF, 0x42 };
        Assert.Equal(0, setxattr(Path.Combine(root, "dir"), "user.bin", bin, (nuint)bin.Length, 0));
        var odd = Encoding.UTF8.GetBytes(Path.Combine(root, "dir")).Concat(new byte[] { (byte)'/', 0xFF, 0xFE, (byte)'x', 0 }).ToArray();
        int fd = creat(odd, Convert.ToUInt32("644", 8));
        Assert.True(fd >= 0, $"creat failed: {Marshal.GetLastPInvokeError()}");
        close(fd);
        File.WriteAllText(Path.Combine(root, "dir", "unicode-\u00e9\u4e2d.txt"), "x");
        for (int i = 1; i <= 600; i++)
            File.WriteAllText(Path.Combine(root, "dir", "sub", $"file_with_a_long_name_{i}"), i.ToString());
    }

    /// <summary>22000 empty files in one directory: an fs tree of level 2.</summary>
    internal static void MakeMany(string root)
    {
        var d = Directory.CreateDirectory(Path.Combine(root, "d")).FullName;
        for (int i = 1; i <= 22000; i++) File.Create(Path.Combine(d, i.ToString())).Dispose();
    }

    private static string MakeImage(TempDir tmp, string name, string[] args)
    {
        var a = args.ToArray();
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] == "@tree") { var t = tmp.File("tree"); if (!Directory.Exists(t)) MakeTree(t); a[i] = t; }
            if (a[i] == "@many") { var t = tmp.File("many"); if (!Directory.Exists(t)) MakeMany(t); a[i] = t; }
        }
        return RealTools.Mkfs(tmp.File(name + ".img"), 512L << 20, a);
    }

    private static void Same(string what, Golden.Output progs, Golden.Output ours)
    {
        Assert.True(progs.ExitCode == 0, $"{what}: btrfs failed ({progs.ExitCode}): {progs.Stderr}");
        Golden.AssertSameLines(progs.Stdout, ours.Stdout, what);
        Assert.True(ours.ExitCode == 0, $"{what}: btrfslite exit {ours.ExitCode}: {ours.Stderr}");
        Assert.Equal("", ours.Stderr);
    }

    [RequiresBtrfsProgsTheory]
    [MemberData(nameof(Configs))]
    public void DumpTreeAndSuperMatchProgs(string name, string[] mkfsArgs)
    {
        using var tmp = new TempDir();
        var img = MakeImage(tmp, name, mkfsArgs);

        Same($"{name}: dump-tree", Golden.Progs("dump-tree", img), Golden.Ours("dump-tree", img));
        Same($"{name}: dump-tree --dfs", Golden.Progs("dump-tree", "--dfs", img), Golden.Ours("dump-tree", "--dfs", img));
        Same($"{name}: dump-super -f", Golden.Progs("dump-super", "-f", img), Golden.Ours("dump-super", "-f", img));
        Same($"{name}: dump-super -a", Golden.Progs("dump-super", "-a", img), Golden.Ours("dump-super", "-a", img));
        Same($"{name}: dump-super -s 1", Golden.Progs("dump-super", "-s", "1", img), Golden.Ours("dump-super", "-s", "1", img));
        Same($"{name}: dump-tree -t 10", Golden.Progs("dump-tree", "-t", "10", img), Golden.Ours("dump-tree", "-t", "free-space", img));

        // -b on the fs tree root and the root tree root, with and without --follow (addresses from progs' own dump).
        var full = Golden.Progs("dump-tree", img).Stdout;
        string fsRoot = RootBlock(full, "fs tree key (FS_TREE ROOT_ITEM 0) "), rootTree = RootBlock(full, "root tree");
        Same($"{name}: dump-tree -b", Golden.Progs("dump-tree", "-b", fsRoot, "-b", rootTree, img), Golden.Ours("dump-tree", "-b", fsRoot, "-b", rootTree, img));
        Same($"{name}: dump-tree -b --follow --dfs", Golden.Progs("dump-tree", "-b", fsRoot, "--follow", "--dfs", img),
            Golden.Ours("dump-tree", "-b", fsRoot, "--follow", "--dfs", img));
    }

    /// <summary>The bytenr on the "leaf N"/"node N" line that follows a tree header line.</summary>
    internal static string RootBlock(string dump, string header)
    {
        var m = System.Text.RegularExpressions.Regex.Match(dump, "^" + System.Text.RegularExpressions.Regex.Escape(header) + "\n(?:leaf|node) (\\d+) ",
            System.Text.RegularExpressions.RegexOptions.Multiline);
        Assert.True(m.Success, header);
        return m.Groups[1].Value;
    }

    public static IEnumerable<object[]> Trees() => new[]
    {
        new object[] { "1", "root" }, new object[] { "2", "extent" }, new object[] { "3", "chunk" }, new object[] { "4", "dev" },
        new object[] { "5", "fs" }, new object[] { "7", "csum" }, new object[] { "8", "quota" }, new object[] { "9", "uuid" },
        new object[] { "10", "FREE_SPACE_TREE" }, new object[] { "18446744073709551607", "data-reloc" }, new object[] { "256", "256" },
    };

    [RequiresBtrfsProgsFact]
    public void DumpTreeOfEachTreeMatchesProgs()
    {
        using var tmp = new TempDir();
        var img = MakeImage(tmp, "trees", new[] { "-m", "single", "-d", "single", "-R", "quota", "--rootdir", "@tree" });
        foreach (var t in Trees())
        {
            string id = (string)t[0], name = (string)t[1];
            Same($"dump-tree -t {id}", Golden.Progs("dump-tree", "-t", id, img), Golden.Ours("dump-tree", "-t", name, img));
        }
    }

    [RequiresBtrfsProgsFact]
    public void BadBlockAddressesReportLikeProgsAndFail()
    {
        using var tmp = new TempDir();
        var img = MakeImage(tmp, "bad-b", new[] { "-m", "single", "-d", "single" });
        foreach (var b in new[] { "5406721", "99999997952" })
        {
            var p = Golden.Progs("dump-tree", "-b", b, img);
            var o = Golden.Ours("dump-tree", "-b", b, img);
            Golden.AssertSameLines(p.Stdout, o.Stdout, $"-b {b}");
            Assert.NotEqual(0, o.ExitCode);
            Assert.Contains(b, o.Stderr);
            Assert.StartsWith("ERROR: ", o.Stderr);
        }
        var bad = Golden.Ours("dump-tree", "-t", "nosuchtree", img);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("unrecognized tree id", bad.Stderr);
    }
}
