using System.Text.Json;
using BtrfsLite.Format;
using BtrfsLite.Tests.Support;
using CliProc = BtrfsLite.Tests.Support.CliProcess;

namespace BtrfsLite.Tests.Check;

public class CheckCliTests
{
    private static void AssertCleanFailure(RealTools.Result r)
    {
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("ERROR:", r.Stderr);
        Assert.DoesNotContain("Unhandled exception", r.All);
        Assert.DoesNotContain("   at ", r.All);
    }

    [RequiresBtrfsProgsFact]
    public void CleanImageExitsZeroWithProgsShapedOutput()
    {
        using var tmp = new TempDir();
        var img = FsRootCheckTests.MkfsRootDir(tmp);
        var r = CliProc.Run("check", img);
        Assert.True(r.ExitCode == 0, r.All);
        var lines = r.Stdout.Replace("\r", "").Split('\n');
        Assert.Equal("Opening filesystem to check...", lines[0]);
        Assert.Equal($"Checking filesystem on {img}", lines[1]);
        Assert.StartsWith("UUID: ", lines[2]);
        Assert.Contains(lines, l => l.StartsWith("found ") && l.EndsWith(" bytes used, no error found"));
        Assert.Contains("total csum bytes: ", r.Stdout);
        Assert.Contains("file data blocks allocated: ", r.Stdout);
        Assert.Contains("\n referenced ", r.Stdout);
        Assert.Contains("checking fs roots", r.Stderr);   // phase lines go to stderr
        Assert.DoesNotContain("checking fs roots", r.Stdout);
        Assert.Matches(@"\[\d/\d\] checking quota groups", r.Stderr);
    }

    [RequiresBtrfsProgsFact]
    public void CorruptImageExitsNonZeroAndNamesTheInode()
    {
        using var tmp = new TempDir();
        var img = FsRootCheckTests.MkfsRootDir(tmp);
        ulong ino;
        using (var ed = new ImageEditor(img))
        {
            ino = ed.InodeOf(ObjectIds.FsTree, "big.bin");
            var (leaf, slot, _) = ed.FindItem(ObjectIds.FsTree, k => k.ObjectId == ino && k.Type == ItemType.InodeItem);
            ed.EditItem(leaf, slot, d => { var i = new InodeItem(d); i.NLink = 3; });
        }
        var r = CliProc.Run("check", img);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"ERROR: root 5 inode {ino} errors 2000, link count wrong", r.Stdout);
        Assert.Contains("bytes used, error(s) found", r.Stdout);
        Assert.Contains("error(s) found", r.Stderr);
    }

    [Fact]
    public void GarbageFileFailsCleanly()
    {
        using var tmp = new TempDir();
        var p = tmp.File("garbage.img");
        var b = new byte[2 << 20];
        new Random(1).NextBytes(b);
        File.WriteAllBytes(p, b);
        var r = CliProc.Run("check", p);
        AssertCleanFailure(r);
        Assert.Contains("no btrfs magic", r.Stderr);
    }

    [Fact]
    public void ZeroLengthFileFailsCleanly()
    {
        using var tmp = new TempDir();
        var p = tmp.File("empty.img");
        File.WriteAllBytes(p, Array.Empty<byte>());
        var r = CliProc.Run("check", p);
        AssertCleanFailure(r);
        Assert.Contains("too small", r.Stderr);
    }

    [Fact]
    public void DirectoryAndMissingFileFailCleanly()
    {
        using var tmp = new TempDir();
        var r = CliProc.Run("check", tmp.Path);
        AssertCleanFailure(r);
        Assert.Contains("is a directory", r.Stderr);
        r = CliProc.Run("check", tmp.File("nope.img"));
        AssertCleanFailure(r);
        Assert.Contains("no such file", r.Stderr);
    }

    [RequiresBtrfsProgsFact]
    public void TruncatedImageFailsCleanly()
    {
        using var tmp = new TempDir();
        var img = RealTools.Mkfs(tmp.File("full.img"), 256L << 20, "-m", "single", "-d", "single");
        var cut = tmp.File("cut.img");
        using (var src = File.OpenRead(img))
        using (var dst = File.Create(cut))
        {
            var buf = new byte[(1 << 20) + 0x20000]; // system chunk start + superblock, not the chunk tree block
            src.ReadExactly(buf);
            dst.Write(buf);
        }
        var r = CliProc.Run("check", cut);
        AssertCleanFailure(r);
    }

    [RequiresBtrfsProgsFact]
    public void JsonOutputParses()
    {
        using var tmp = new TempDir();
        var img = FsRootCheckTests.MkfsRootDir(tmp);
        using (var ed = new ImageEditor(img))
        {
            var (leaf, slot, _) = ed.FindItem(ObjectIds.QuotaTree, k => k.Type == ItemType.QgroupInfo && k.Offset == 5);
            ed.EditItem(leaf, slot, d => { var i = new QgroupInfoItem(d); i.Rfer += 4096; });
        }
        var r = CliProc.Run("check", img, "--format", "json");
        Assert.Equal(1, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal(img, root.GetProperty("image").GetString());
        Assert.False(root.GetProperty("clean").GetBoolean());
        Assert.True(root.GetProperty("errorCount").GetInt32() >= 1);
        var f = root.GetProperty("findings").EnumerateArray().First(x => x.GetProperty("code").GetString() == "QgroupReferencedMismatch");
        Assert.Equal(8UL, f.GetProperty("tree").GetUInt64());
        Assert.True(f.GetProperty("bytenr").GetUInt64() > 0);
        var q = root.GetProperty("qgroups").EnumerateArray().Single(x => x.GetProperty("qgroupid").GetString() == "0/5");
        Assert.Equal(q.GetProperty("ours").GetProperty("rfer").GetUInt64() + 4096, q.GetProperty("disk").GetProperty("rfer").GetUInt64());
        Assert.True(root.TryGetProperty("totals", out var totals));
        Assert.True(totals.TryGetProperty("totalTreeBytes", out _));
        Assert.True(Guid.TryParse(root.GetProperty("uuid").GetString(), out _));
    }

    [RequiresBtrfsProgsFact]
    public void QgroupReportTextEqualsProgsOnCorruptedQgroups()
    {
        using var tmp = new TempDir();
        var img = FsRootCheckTests.MkfsRootDir(tmp);
        using (var ed = new ImageEditor(img))
        {
            var (leaf, slot, _) = ed.FindItem(ObjectIds.QuotaTree, k => k.Type == ItemType.QgroupInfo && k.Offset == 5);
            ed.EditItem(leaf, slot, d => { var i = new QgroupInfoItem(d); i.Rfer += 8192; i.Excl -= 4096; });
        }
        var progs = RealTools.BtrfsCheck(img, "--qgroup-report");
        var ours = CliProc.Run("check", "--qgroup-report", img);
        Assert.NotEqual(0, progs.ExitCode);
        Assert.Equal(1, ours.ExitCode);
        var expected = QgroupVerifierTests.CountsBlock(progs.Stdout);
        Assert.Contains("Counts for qgroup id: 0/5 are different", expected);
        Assert.Equal(expected, QgroupVerifierTests.CountsBlock(ours.Stdout));
        // The header lines too (image path and UUID as progs prints them).
        var head = progs.Stdout.Split('\n').Take(5).ToArray();
        Assert.Equal(head, ours.Stdout.Split('\n').Take(5).ToArray());
        // -Q short option, and plain check prints only the differing qgroup.
        Assert.Equal(1, CliProc.Run("check", "-Q", img).ExitCode);
        var plainProgs = QgroupVerifierTests.CountsBlock(RealTools.BtrfsCheck(img).Stdout);
        var plainOurs = QgroupVerifierTests.CountsBlock(CliProc.Run("check", img).Stdout);
        Assert.Equal(plainProgs, plainOurs);
    }
}
