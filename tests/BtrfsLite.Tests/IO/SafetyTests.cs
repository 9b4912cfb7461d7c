using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using BtrfsLite.Check;
using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.IO;
using BtrfsLite.Images;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.IO;

/// <summary>
/// One writer at a time, nothing under a mounted file system, nothing into a device shorter than the file system:
/// real processes of our CLI against each other, against a library handle, and against the kernel's mount.
/// </summary>
public class SafetyTests
{
    private static string NewImage(TempDir tmp, string name = "s.img", string size = "256M")
    {
        var img = tmp.File(name);
        var r = CliProcess.Run("mkfs", img, "--size", size);
        Assert.True(r.ExitCode == 0, r.All);
        return img;
    }

    private static string Sha(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(f));
    }

    /// <summary>The primary and mirror superblocks as hex (the commit point: unchanged means nothing was committed).</summary>
    private static string Superblocks(string path)
    {
        using var f = File.OpenRead(path);
        var sb = new System.Text.StringBuilder();
        var buf = new byte[Superblock.Size];
        for (int i = 0; i < 2; i++)
        {
            f.Position = Superblock.MirrorOffset(i);
            f.ReadExactly(buf);
            sb.Append(Convert.ToHexString(buf));
        }
        return sb.ToString();
    }

    private static void AssertInUse(RealTools.Result r, string what)
    {
        Assert.True(r.ExitCode == 7, $"{what}: expected exit 7 (in use), got {r.ExitCode}: {r.All}");
        Assert.Contains("is in use", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Fact]
    public void ASecondWriterOrReaderBesideALibraryWriterFailsAtOnceAndChangesNothing()
    {
        using var tmp = new TempDir();
        var img = NewImage(tmp);
        Assert.Equal(0, CliProcess.Run("write", img, "a", "--length", "100K").ExitCode);
        string before;
        using (var fs = Filesystem.Open(img))
        {
            fs.Write("held", 0, new byte[5000]); // committed while the handle stays open
            before = Sha(img);
            AssertInUse(CliProcess.Run("write", img, "b", "--length", "10"), "write");
            AssertInUse(CliProcess.Run("mkdir", img, "dir"), "mkdir");
            AssertInUse(CliProcess.Run("rm", img, "a"), "rm");
            AssertInUse(CliProcess.Run("quota", "enable", img), "quota enable");
            AssertInUse(CliProcess.Run("ls", img), "ls");
            AssertInUse(CliProcess.Run("check", img), "check");
            AssertInUse(CliProcess.Run("mkfs", "-f", img, "--size", "256M"), "mkfs -f");
            // The library refuses the same way, naming the image.
            var ex = Assert.Throws<ImageInUseException>(() => Filesystem.Open(img));
            Assert.Contains(img, ex.Message);
            Assert.False(ex.Mounted);
            Assert.Throws<ImageInUseException>(() => BtrfsImage.Open(img));
            Assert.Equal(before, Sha(img));
        }
        // Readers share: two read-only handles at once.
        using (var r1 = BtrfsImage.Open(img))
        using (var r2 = BtrfsImage.Open(img))
        {
            Assert.Equal(r1.Generation, r2.Generation);
            AssertInUse(CliProcess.Run("write", img, "b", "--length", "10"), "write beside readers");
            Assert.Equal(0, CliProcess.Run("ls", img).ExitCode);
        }
        Assert.Equal("a\nheld\n", CliProcess.Run("ls", img).Stdout);
    }

    /// <summary>
    /// The reproducer: long writes and short ones started at once, each waiting for the image (--wait). Every
    /// process succeeds, every file is there with its bytes, and btrfs check --check-data-csum is clean.
    /// </summary>
    [Fact]
    public void ConcurrentWritersWithWaitAllLandIntact()
    {
        using var tmp = new TempDir();
        var img = NewImage(tmp, size: "512M");
        var big = tmp.File("big.bin");
        var data = new byte[40 << 20];
        new Random(1).NextBytes(data);
        File.WriteAllBytes(big, data);
        var procs = new List<(string Name, Process P)>();
        Process Start(params string[] args)
        {
            var psi = CliProcess.StartInfo();
            psi.ArgumentList.Add("--wait");
            foreach (var a in args) psi.ArgumentList.Add(a);
            return Process.Start(psi)!;
        }
        procs.Add(("big1", Start("write", img, "big1", "--from", big)));
        procs.Add(("big2", Start("write", img, "big2", "--from", big)));
        for (int i = 0; i < 5; i++) procs.Add(($"small{i}", Start("write", img, $"small{i}", "--length", "70K", "--pattern", i.ToString())));
        procs.Add(("dir", Start("mkdir", img, "d/e", "-p")));
        foreach (var (name, p) in procs)
        {
            string err = p.StandardError.ReadToEnd();
            Assert.True(p.WaitForExit(300_000), $"{name} hung");
            Assert.True(p.ExitCode == 0, $"{name}: exit {p.ExitCode}: {err}");
        }
        var ls = CliProcess.Run("ls", img);
        Assert.Equal("big1\nbig2\nd\nsmall0\nsmall1\nsmall2\nsmall3\nsmall4\n", ls.Stdout);
        using (var fs = Filesystem.OpenReadOnly(img))
        {
            Assert.Equal(data, fs.ReadAll("big1"));
            Assert.Equal(data, fs.ReadAll("big2"));
        }
        var report = Checker.Check(img, new CheckOptions { CheckDataCsum = true });
        Assert.True(report.IsClean, string.Join("\n", report.Findings.Take(10)));
        if (!RealTools.HasBtrfsProgs) return;
        var progs = RealTools.BtrfsCheck(img, "--check-data-csum");
        Assert.True(progs.ExitCode == 0, progs.All);
    }

    [Fact]
    public void WithoutWaitTheSecondOfTwoCliWritersFailsAndTheFirstLands()
    {
        using var tmp = new TempDir();
        var img = NewImage(tmp);
        // The first writer reads its data from a pipe we hold open: it keeps the image until we close it.
        var psi = CliProcess.StartInfo(redirectInput: true);
        psi.RedirectStandardOutput = false;
        foreach (var a in new[] { "write", img, "first", "--from", "-" }) psi.ArgumentList.Add(a);
        using var first = Process.Start(psi)!;
        first.StandardInput.BaseStream.Write(new byte[100_000]);
        first.StandardInput.BaseStream.Flush();
        // Wait until it holds the lock (a second writer is refused), at most 30 s.
        RealTools.Result second = CliProcess.Run("write", img, "second", "--length", "10");
        for (int i = 0; i < 300 && second.ExitCode == 0; i++)
        {
            // It got in before the first one opened the image: undo nothing, try again with another name.
            Thread.Sleep(100);
            second = CliProcess.Run("write", img, $"second{i}", "--length", "10");
        }
        AssertInUse(second, "second writer");
        first.StandardInput.Close();
        string err = first.StandardError.ReadToEnd();
        Assert.True(first.WaitForExit(60_000));
        Assert.True(first.ExitCode == 0, err);
        Assert.Contains("first", CliProcess.Run("ls", img).Stdout.Split('\n'));
        Assert.True(Checker.Check(img).IsClean);
    }

    [RequiresRootMountFact]
    public void AMountedImageIsNeverWrittenAndReadOnlyWithForce()
    {
        using var tmp = new TempDir();
        var img = NewImage(tmp);
        Assert.Equal(0, CliProcess.Run("write", img, "a", "--length", "8K", "--pattern", "3").ExitCode);
        var mnt = Directory.CreateTempSubdirectory("btrfslite-mnt-").FullName;
        string? loop = null;
        bool mounted = false;
        try
        {
            var r = RealTools.Run("losetup", "-f", "--show", img);
            Assert.True(r.ExitCode == 0, r.All);
            loop = r.Stdout.Trim();
            r = RealTools.Run("mount", "-t", "btrfs", loop, mnt);
            Assert.True(r.ExitCode == 0, r.All);
            mounted = true;
            File.WriteAllText(Path.Combine(mnt, "by-kernel"), "kernel");

            foreach (var target in new[] { img, loop })
            {
                AssertInUse(CliProcess.Run("write", target, "x", "--length", "10"), $"write {target}");
                AssertInUse(CliProcess.Run("mkdir", target, "x"), $"mkdir {target}");
                AssertInUse(CliProcess.Run("quota", "enable", target), $"quota enable {target}");
                AssertInUse(CliProcess.Run("ls", target), $"ls {target}");
                AssertInUse(CliProcess.Run("check", target), $"check {target}");
                AssertInUse(CliProcess.Run("dump-super", target), $"dump-super {target}");
                AssertInUse(CliProcess.Run("dump-tree", target), $"dump-tree {target}");
                AssertInUse(CliProcess.Run("--wait", "write", target, "x", "--length", "10"), $"write --wait {target} (a mount is not waited for)");
                var forced = CliProcess.Run("ls", "--force", target);
                Assert.True(forced.ExitCode == 0, forced.All);
                Assert.Contains("a", forced.Stdout.Split('\n'));
                Assert.Contains("WARNING:", forced.Stderr);
                Assert.Contains("mounted", forced.Stderr);
                Assert.Equal(0, CliProcess.Run("dump-super", "--force", target).ExitCode);
            }
            AssertInUse(CliProcess.Run("mkfs", "-f", loop), "mkfs -f on the mounted loop device");
            AssertInUse(CliProcess.Run("mkfs", "-f", img, "--size", "256M"), "mkfs -f on the mounted image file");
            var ex = Assert.Throws<ImageInUseException>(() => FsSession.Open(img));
            Assert.True(ex.Mounted);
            Assert.Throws<ImageInUseException>(() => Filesystem.OpenReadOnly(img));
            using (var ro = Filesystem.OpenReadOnly(img, allowMounted: true))
                Assert.Contains(ro.Image.Warnings, w => w.Contains("mounted"));
        }
        finally
        {
            if (mounted) RealTools.Run("umount", mnt);
            if (loop != null) RealTools.Run("losetup", "-d", loop);
            try { Directory.Delete(mnt); } catch (IOException) { }
        }
        // What the kernel wrote is there, and nothing of ours got in.
        var ls = CliProcess.Run("ls", img);
        Assert.Equal("a\nby-kernel\n", ls.Stdout);
        Assert.True(Checker.Check(img).IsClean);
        var progs = RealTools.BtrfsCheck(img);
        Assert.True(progs.ExitCode == 0, progs.All);
    }

    [RequiresRootMountFact]
    public void ALoopDeviceAndItsBackingFileAreOneImage()
    {
        using var tmp = new TempDir();
        var img = NewImage(tmp);
        var r = RealTools.Run("losetup", "-f", "--show", img);
        Assert.True(r.ExitCode == 0, r.All);
        var loop = r.Stdout.Trim();
        try
        {
            // A writer on the loop device (O_EXCL and a lock on the backing file) keeps writers of the file out, and back.
            using (var fs = Filesystem.Open(loop))
            {
                fs.Write("via-loop", 0, new byte[3000]);
                AssertInUse(CliProcess.Run("write", img, "x", "--length", "10"), "write to the backing file");
                AssertInUse(CliProcess.Run("write", loop, "x", "--length", "10"), "write to the loop device");
            }
            using (var fs = Filesystem.Open(img))
                AssertInUse(CliProcess.Run("write", loop, "x", "--length", "10"), "write to the loop device beside a writer of its file");
            var w = CliProcess.Run("write", loop, "after", "--length", "10");
            Assert.True(w.ExitCode == 0, w.All);
        }
        finally
        {
            RealTools.Run("losetup", "-d", loop);
        }
        Assert.Equal("after\nvia-loop\n", CliProcess.Run("ls", img).Stdout);
        Assert.True(Checker.Check(img).IsClean);
    }

    [Fact]
    public void ADeviceShorterThanTheFileSystemIsRefusedForWritingAndReadWithAWarning()
    {
        using var tmp = new TempDir();
        var img = NewImage(tmp);
        Assert.Equal(0, CliProcess.Run("write", img, "a", "--length", "8K").ExitCode);
        Assert.Equal(0, CliProcess.Run("mkdir", img, "d").ExitCode);
        using (var f = File.OpenWrite(img)) f.SetLength(128L << 20); // half of total_bytes
        var before = Sha(img);
        foreach (var args in new[]
        {
            new[] { "write", img, "b", "--length", "10" }, new[] { "mkdir", img, "e" }, new[] { "rm", img, "a" },
            new[] { "quota", "enable", img }, new[] { "subvolume", "create", img, "sv" },
        })
        {
            var r = CliProcess.Run(args);
            Assert.True(r.ExitCode == 3, $"{string.Join(' ', args)}: exit {r.ExitCode}: {r.All}");
            Assert.Contains($"the device is {128L << 20} bytes, shorter than the file system's total_bytes {256L << 20}", r.Stderr);
            Assert.Equal(before, Sha(img));
        }
        Assert.Throws<InvalidDataException>(() => Filesystem.Open(img));
        var ls = CliProcess.Run("ls", img);
        Assert.True(ls.ExitCode == 0, ls.All);
        Assert.Equal("a\nd\n", ls.Stdout);
        Assert.Single(ls.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Contains("shorter than the file system"));
        if (RealTools.HasBtrfsProgs)
            Assert.NotEqual(0, RealTools.BtrfsCheck(img).ExitCode); // progs refuses it too
    }

    /// <summary>
    /// The reproducer of a failure that committed: fallocate of 300 MiB and cp-in of a 300 MiB tree into a
    /// 256 MiB image run out of space. Both fail and nothing is committed: fallocate leaves the image byte for byte as it
    /// was; cp-in had streamed file data into new extents, which no committed tree references (the superblocks are
    /// unchanged, so is every referenced block: the image checks clean and holds what it held).
    /// </summary>
    [Fact]
    public void RunningOutOfSpaceCommitsNothing()
    {
        using var tmp = new TempDir();
        var img = NewImage(tmp);
        Assert.Equal(0, CliProcess.Run("write", img, "a", "--length", "100K").ExitCode);
        var before = Sha(img);
        var r = CliProcess.Run("fallocate", img, "f", "--length", "300M");
        Assert.True(r.ExitCode != 0 && r.Stderr.Contains("ENOSPC"), r.All);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.Equal(before, Sha(img));

        var host = Directory.CreateDirectory(tmp.File("host")).FullName;
        var chunk = new byte[10 << 20];
        new Random(3).NextBytes(chunk);
        for (int i = 0; i < 30; i++) File.WriteAllBytes(Path.Combine(host, $"f{i}"), chunk);
        var supers = Superblocks(img);
        r = CliProcess.Run("cp-in", img, host, "tree", "--no-progress");
        Assert.True(r.ExitCode != 0 && r.Stderr.Contains("ENOSPC"), r.All);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.Equal(supers, Superblocks(img));
        Assert.Equal("a\n", CliProcess.Run("ls", img).Stdout);
        Assert.True(Checker.Check(img).IsClean);
        if (RealTools.HasBtrfsProgs) Assert.Equal(0, RealTools.BtrfsCheck(img).ExitCode);
    }

    /// <summary>Every bad sector is counted: JSON lists them all, errorCount is exact, and btrfs check counts the same.</summary>
    [Fact]
    public void CheckCountsEveryBadDataSector()
    {
        using var tmp = new TempDir();
        var img = NewImage(tmp);
        Assert.Equal(0, CliProcess.Run("write", img, "f", "--length", "10M", "--pattern", "5").ExitCode);
        var places = new List<(long Phys, int Len)>();
        using (var fs = Filesystem.OpenReadOnly(img))
        {
            var loc = fs.ReadOnly(tx => fs.Resolve(tx, "f"));
            foreach (var e in fs.ReadOnly(tx => fs.TreeOf(tx, loc.Tree).ReadExtents(loc.Ino)))
                places.Add((fs.Image.Chunks.Map(e.DiskBytenr + e.Offset, 4096), (int)(e.End - e.FileOffset)));
        }
        Assert.Equal(10 << 20, places.Sum(p => p.Len));
        using (var f = File.OpenWrite(img))
            foreach (var (at, len) in places)
            {
                f.Position = at;
                f.Write(new byte[len]); // zeros over every sector of the file: 2560 bad sectors
            }
        var r = CliProcess.Run("check", "--check-data-csum", "--format", "json", img);
        Assert.Equal(1, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        int count = doc.RootElement.GetProperty("errorCount").GetInt32();
        int mismatches = doc.RootElement.GetProperty("findings").EnumerateArray().Count(e => e.GetProperty("code").GetString() == "CsumMismatch");
        Assert.Equal(2560, mismatches);
        Assert.Equal(doc.RootElement.GetProperty("findings").GetArrayLength(), count);
        var text = CliProcess.Run("check", "--check-data-csum", img);
        Assert.Contains($"ERROR: {count} error(s) found", text.Stderr);
        if (!RealTools.HasBtrfsProgs) return;
        var progs = RealTools.BtrfsCheck(img, "--check-data-csum");
        Assert.NotEqual(0, progs.ExitCode);
        Assert.Equal(2560, progs.All.Split('\n').Count(l => l.Contains("mirror 1 bytenr") && l.Contains("csum")));
    }
}
