using System.Security.Cryptography;
using System.Text.RegularExpressions;
using BtrfsLite.Check;
using BtrfsLite.IO;
using BtrfsLite.Mkfs;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Mkfs;

/// <summary>One row of the mkfs matrix; <see cref="ToString"/> names the test case.</summary>
public sealed record MkfsCase(string Size, int NodeSize = 16384, bool Quota = false, bool Fst = true, bool Dup = false, string Label = "")
{
    public ImageOptions Options(bool deterministic = true) => new()
    {
        Size = ImageOptions.ParseSize(Size),
        NodeSize = NodeSize,
        Quota = Quota,
        FreeSpaceTree = Fst,
        MetadataProfile = Dup ? MetadataProfile.Dup : MetadataProfile.Single,
        Label = Label,
        Deterministic = deterministic,
        Time = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000),
    };

    /// <summary>The same filesystem from the real mkfs.btrfs 6.2.</summary>
    public string[] RealMkfsArgs()
    {
        var a = new List<string> { "-n", NodeSize.ToString(), "-m", Dup ? "dup" : "single", "-d", "single" };
        if (Quota) a.AddRange(new[] { "-R", "quota" });
        if (!Fst) a.AddRange(new[] { "-R", "^free-space-tree" });
        if (Label.Length > 0) a.AddRange(new[] { "-L", Label });
        return a.ToArray();
    }

    public override string ToString() =>
        $"{Size} n{NodeSize / 1024}K{(Quota ? " quota" : "")}{(Fst ? "" : " nofst")}{(Dup ? " dup" : "")}{(Label.Length > 0 ? " L=" + Label : "")}";
}

public static class MkfsTestSupport
{
    /// <summary>Writes the image with <see cref="ImageBuilder"/> into a fresh sparse file of the case's size.</summary>
    public static string Make(TempDir tmp, string name, ImageOptions o)
    {
        var path = tmp.File(name);
        using var dev = FileBlockDevice.Create(path, o.Size!.Value);
        ImageBuilder.Create(dev, o);
        return path;
    }

    public static string Sha256(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(f));
    }

    public static void AssertOurCheckClean(string path)
    {
        var report = Checker.Check(path);
        Assert.True(report.IsClean, "our check: " + string.Join("\n", report.Findings));
    }

    public static void AssertRealCheckClean(string path, bool quota)
    {
        var r = RealTools.BtrfsCheck(path);
        Assert.True(r.ExitCode == 0, "btrfs check: " + r.All);
        Assert.Contains("no error found", r.Stdout);
        if (quota)
        {
            var q = RealTools.BtrfsCheck(path, "--qgroup-report");
            Assert.True(q.ExitCode == 0, "btrfs check --qgroup-report: " + q.All);
            Assert.DoesNotContain("are different", q.All);
        }
    }

    private static readonly Regex TreeHeader = new(@"^(?<name>[a-z ]+?) tree(?: key \(.*\))?\s*$", RegexOptions.Compiled);
    private static readonly Regex ItemLine = new(@"^\s+item \d+ key \((?<oid>\S+) (?<type>[A-Z_]+|UNKNOWN\.\d+) (?<off>[^)]*)\)", RegexOptions.Compiled);

    /// <summary>
    /// The structure of a <c>dump-tree</c> text: for each tree (by the name dump-tree prints), each (object id, item type)
    /// pair seen, with numeric object ids above 255 written as "N" and numbers collapsed, so addresses and uuids drop out.
    /// </summary>
    public static SortedSet<string> Structure(string dumpTree)
    {
        var set = new SortedSet<string>(StringComparer.Ordinal);
        string tree = "?";
        foreach (var line in dumpTree.Split('\n'))
        {
            var h = TreeHeader.Match(line);
            if (h.Success && !line.StartsWith('\t')) { tree = h.Groups["name"].Value; continue; }
            var m = ItemLine.Match(line);
            if (!m.Success) continue;
            string oid = m.Groups["oid"].Value;
            if (oid.StartsWith("0x", StringComparison.Ordinal) || ulong.TryParse(oid, out ulong n) && n > 255) oid = "N";
            set.Add($"{tree}: {oid} {m.Groups["type"].Value}");
        }
        return set;
    }
}
