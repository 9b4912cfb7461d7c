using System.Text.RegularExpressions;
using BtrfsLite.Format;
using BtrfsLite.IO;
using BtrfsLite.Images;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Text;

/// <summary>A damaged tree block never stops the dump: an ERROR line names it, the other trees are printed, the exit code is 3.</summary>
public class DumpCorruptTests
{
    private static void Scribble(string img, ulong bytenr)
    {
        long phys;
        using (var fs = BtrfsImage.Open(img)) phys = fs.Chunks.Map(bytenr, fs.NodeSize);
        using var dev = FileBlockDevice.Open(img, writable: true);
        dev.Write(new byte[] { 0xAA, 0x55 }, phys + 16000); // no re-stamp: the checksum no longer matches
    }

    /// <summary>Removes the section "LABEL tree key (...)" up to the next tree header or the totals.</summary>
    private static string WithoutSection(string dump, string header)
    {
        int s = dump.IndexOf(header + "\n", StringComparison.Ordinal);
        Assert.True(s >= 0, header);
        var next = new Regex(@"^(\S.* tree key \(.*\) |total bytes \d+)$", RegexOptions.Multiline).Match(dump, s + header.Length + 1);
        return dump[..s] + dump[next.Index..];
    }

    [RequiresBtrfsProgsFact]
    public void CorruptFsLeafIsReportedAndSkipped()
    {
        using var tmp = new TempDir();
        var img = RealTools.Mkfs(tmp.File("c.img"), 256L << 20, "-m", "single", "-d", "single", "-R", "quota");
        var clean = Golden.Progs("dump-tree", img).Stdout;
        ulong fsRoot;
        using (var fs = BtrfsImage.Open(img)) fsRoot = fs.GetRoot(ObjectIds.FsTree).Bytenr;
        Scribble(img, fsRoot);

        var o = Golden.Ours("dump-tree", img);
        Assert.Equal(3, o.ExitCode);
        Assert.Matches($@"^ERROR: tree FS_TREE: failed to read tree block {fsRoot}: checksum verify failed on {fsRoot} wanted 0x[0-9a-f]{{8}} found 0x[0-9a-f]{{8}}\n$", o.Stderr);
        Golden.AssertSameLines(WithoutSection(clean, "fs tree key (FS_TREE ROOT_ITEM 0) "), o.Stdout, "dump-tree with a bad fs leaf");

        var j = Golden.Ours("dump-tree", "--format", "json", img);
        Assert.Equal(3, j.ExitCode);
        using var doc = System.Text.Json.JsonDocument.Parse(j.Stdout);
        var err = Assert.Single(doc.RootElement.GetProperty("errors").EnumerateArray());
        Assert.Equal(fsRoot, err.GetProperty("bytenr").GetUInt64());
    }

    [RequiresBtrfsProgsFact]
    public void CorruptRootTreeStillPrintsChunkTreeAndTotals()
    {
        using var tmp = new TempDir();
        var img = RealTools.Mkfs(tmp.File("r.img"), 256L << 20, "-m", "single", "-d", "single");
        var clean = Golden.Progs("dump-tree", img).Stdout;
        var chunkOnly = Golden.Progs("dump-tree", "-t", "3", img).Stdout;
        ulong root;
        using (var fs = BtrfsImage.Open(img)) root = fs.RootTree.Bytenr;
        Scribble(img, root);

        var o = Golden.Ours("dump-tree", img);
        Assert.Equal(3, o.ExitCode);
        Assert.Contains($"failed to read tree block {root}", o.Stderr);
        var totals = clean[clean.IndexOf("total bytes", StringComparison.Ordinal)..];
        var expected = chunkOnly.Replace("chunk tree\n", "root tree\nchunk tree\n") + totals;
        Golden.AssertSameLines(expected, o.Stdout, "dump-tree with a bad root tree");
    }

    [RequiresBtrfsProgsFact]
    public void CorruptSuperblockMagicIsRefusedLikeProgs()
    {
        using var tmp = new TempDir();
        var img = RealTools.Mkfs(tmp.File("m.img"), 256L << 20, "-m", "single", "-d", "single");
        using (var dev = FileBlockDevice.Open(img, writable: true)) dev.Write(new byte[] { (byte)'X' }, Superblock.PrimaryOffset + 0x40);
        var p = Golden.Progs("dump-super", img);
        var o = Golden.Ours("dump-super", img);
        Golden.AssertSameLines(p.Stdout, o.Stdout, "dump-super bad magic");
        Assert.Equal(p.Stderr, o.Stderr);
        Assert.NotEqual(0, o.ExitCode);
        var pf = Golden.Progs("dump-super", "-F", img);
        var of = Golden.Ours("dump-super", "-F", img);
        Golden.AssertSameLines(pf.Stdout, of.Stdout, "dump-super -F bad magic");
        Assert.Equal(0, of.ExitCode);
    }
}
