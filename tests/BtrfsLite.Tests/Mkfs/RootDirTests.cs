using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using BtrfsLite.Fs;
using BtrfsLite.IO;
using BtrfsLite.Mkfs;
using BtrfsLite.Tests.Fs;
using BtrfsLite.Tests.Support;
using static BtrfsLite.Tests.Mkfs.MkfsTestSupport;

namespace BtrfsLite.Tests.Mkfs;

/// <summary>A fact for Linux as root (chown, mknod, xattrs) with btrfs-progs; skipped otherwise.</summary>
public sealed class RequiresLinuxRootFactAttribute : FactAttribute
{
    public RequiresLinuxRootFactAttribute()
    {
        if (Needs.WhyNot(Need.Root, Need.BtrfsProgs, Need.Attr, Need.Python3) is { } why) Skip = why;
    }
}

public class RootDirTests
{
    /// <summary>Every kind of entry the importer handles, with the attributes it must keep.</summary>
    private const string TreeScript = """
        set -euo pipefail
        cd "$1"
        for s in 0 1 100 2048 2049 4096 5000; do head -c $s /dev/urandom > f$s; done
        mkdir -p d1/d2/d3 empty
        head -c 1048576 /dev/urandom > d1/m1
        head -c $((3 * 1048576 + 7)) /dev/urandom > d1/d2/m3
        truncate -s 10M sparse
        printf 'A' | dd of=sparse conv=notrunc status=none
        printf 'B' | dd of=sparse bs=1 seek=$((5 * 1048576)) conv=notrunc status=none
        truncate -s 3M allhole
        ln -s f100 rel; ln -s /etc/passwd abs; ln -s nowhere dangling; ln -s ../../../outside d1/d2/out
        ln f5000 hard5000; ln f5000 d1/d2/d3/hard5000-elsewhere; ln f100 d1/hard100
        setfattr -n user.test -v hello f100
        setfattr -n user.big -v "$(head -c 3000 /dev/zero | tr '\0' x)" d1/m1
        setfattr -n user.root -v rootval .
        setfattr -n user.dir -v dirval d1
        chmod 600 f1; chmod 4755 f4096; chmod 2750 d1/d2; chmod 1777 empty
        chown 1234:5678 f2049 d1/d2/d3; chown -h 42:43 rel
        mkfifo fifo; mknod chr c 1 3; mknod blk b 7 200
        python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.bind("sock")'
        touch -h -d '2001-02-03 04:05:06.123456789' rel
        touch -d '1999-12-31 23:59:59.5' f0 d1
        touch -d '2020-01-01 00:00:00' .
        """;

    private static string MakeTree(TempDir tmp, string name = "src")
    {
        var dir = tmp.File(name);
        Directory.CreateDirectory(dir);
        var r = RealTools.Run("bash", "-c", TreeScript, "tree", dir);
        Assert.True(r.ExitCode == 0, r.All);
        return dir;
    }

    private static ImageOptions Options(bool quota = true) => new()
    {
        Quota = quota,
        Deterministic = true,
        Time = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000),
    };

    private static string Import(TempDir tmp, string dir, string name, ImageOptions o, HostImportOptions? ro = null)
    {
        var scan = RootDirImporter.Scan(dir);
        long size = RootDirImporter.EstimateSize(scan, o);
        var img = tmp.File(name);
        using var dev = FileBlockDevice.Create(img, size);
        RootDirImporter.Create(dev, o with { Size = size }, dir, ro);
        return img;
    }

    [RequiresLinuxRootFact]
    public void Imports_every_kind_of_entry_and_checks_clean()
    {
        using var tmp = new TempDir();
        var src = MakeTree(tmp);
        var img = Import(tmp, src, "a.img", Options(), new HostImportOptions { BatchEntries = 7 }); // several commits
        WriterEndToEndTests.AssertClean(img, quota: true);

        using var fs = Filesystem.Open(img);
        var t0 = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
        foreach (var path in Directory.EnumerateFileSystemEntries(src, "*", SearchOption.AllDirectories).Append(src))
        {
            var rel = Path.GetRelativePath(src, path).Replace('\\', '/');
            if (rel == ".") rel = "";
            var st = HostFiles.Lstat(path);
            if (st.IsSocket) { Assert.False(fs.Exists(rel)); continue; }
            var info = fs.Stat(rel);
            Assert.True(st.Mode == info.Mode, $"{rel}: mode {Convert.ToString(st.Mode, 8)} vs {Convert.ToString(info.Mode, 8)}");
            Assert.Equal((st.Uid, st.Gid), (info.Uid, info.Gid));
            Assert.Equal((st.MtimeSec, st.MtimeNsec), (info.Mtime.Sec, info.Mtime.Nsec));
            // Deterministic mode: atime = mtime, ctime = the image clock.
            Assert.Equal(info.Mtime, info.Atime);
            Assert.Equal(t0.ToUnixTimeSeconds(), info.Ctime.Sec);
            if (st.IsDir) continue;
            Assert.Equal(st.NLink, info.NLink); // every name of these hard links is inside the tree
            if (st.IsReg)
            {
                Assert.Equal(st.Size, info.Size);
                Assert.Equal(SHA256.HashData(File.ReadAllBytes(path)), SHA256.HashData(fs.ReadAll(rel)));
            }
            else if (st.IsSymlink) Assert.Equal(Encoding.UTF8.GetString(HostFiles.ReadLink(path)), fs.ReadLink(rel));
            else Assert.Equal(st.KernelRdev, info.Rdev);
        }

        // Inline up to 2048 bytes; sector extents above; holes kept.
        fs.ReadOnly(tx =>
        {
            var t = fs.TreeOf(tx, 5);
            List<FileExtent> Ext(string p) => t.ReadExtents(fs.Resolve(tx, p).Ino);
            Assert.Empty(Ext("f0"));
            Assert.Equal(BtrfsLite.Format.FileExtentType.Inline, Assert.Single(Ext("f2048")).Type);
            Assert.Equal(BtrfsLite.Format.FileExtentType.Regular, Assert.Single(Ext("f2049")).Type);
            var sparse = Ext("sparse");
            Assert.Equal(new ulong[] { 0, 5 << 20 }, sparse.Select(e => e.FileOffset));
            Assert.All(sparse, e => Assert.Equal(4096UL, e.NumBytes));
            Assert.Equal(8192UL, t.ReadInode(fs.Resolve(tx, "sparse").Ino).NBytes);
            Assert.Empty(Ext("allhole"));
            Assert.Equal(0UL, t.ReadInode(fs.Resolve(tx, "allhole").Ino).NBytes);
            return 0;
        });
        // DIR's own attributes are on the root directory.
        var root = fs.Stat("");
        Assert.Equal(DateTimeOffset.Parse("2020-01-01T00:00:00Z").ToUnixTimeSeconds(), root.Mtime.Sec);
    }

    [RequiresLinuxRootFact]
    public void Two_deterministic_runs_give_identical_images()
    {
        using var tmp = new TempDir();
        var src = MakeTree(tmp);
        var a = Import(tmp, src, "a.img", Options());
        var b = Import(tmp, src, "b.img", Options());
        Assert.Equal(Sha256(a), Sha256(b));
        // Through the CLI with SOURCE_DATE_EPOCH, twice.
        var c = RunCli(new() { ["SOURCE_DATE_EPOCH"] = "1700000000" }, "mkfs", tmp.File("c.img"), "--rootdir", src, "--quota");
        Assert.True(c.ExitCode == 0, c.All);
        File.Move(tmp.File("c.img"), tmp.File("c1.img"));
        c = RunCli(new() { ["SOURCE_DATE_EPOCH"] = "1700000000" }, "mkfs", tmp.File("c.img"), "--rootdir", src, "--quota");
        Assert.True(c.ExitCode == 0, c.All);
        Assert.Equal(Sha256(tmp.File("c1.img")), Sha256(tmp.File("c.img")));
        WriterEndToEndTests.AssertClean(tmp.File("c.img"), quota: true);
    }

    [RequiresLinuxRootFact]
    public void Cli_sizes_the_image_to_fit_and_never_truncates()
    {
        using var tmp = new TempDir();
        var src = tmp.File("src");
        Directory.CreateDirectory(src);
        var r = RealTools.Run("bash", "-c", "head -c 200000000 /dev/zero > \"$1/zeros\" && echo hi > \"$1/small\"", "x", src);
        Assert.True(r.ExitCode == 0, r.All);
        var img = tmp.File("fit.img");
        r = CliProcess.Run("mkfs", img, "--rootdir", src);
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains("Rootdir:", r.Stdout);
        long size = new FileInfo(img).Length;
        Assert.InRange(size, 200_000_000L, 300_000_000L);
        WriterEndToEndTests.AssertClean(img, quota: false);

        var small = tmp.File("small.img");
        r = CliProcess.Run("mkfs", small, "--rootdir", src, "--size", "128M");
        Assert.Equal(5, r.ExitCode);
        Assert.Contains("does not fit", r.Stderr);
        Assert.DoesNotContain("   at ", r.All);
        Assert.False(File.Exists(small));
    }

    private static RealTools.Result RunCli(Dictionary<string, string> env, params string[] args)
    {
        var psi = CliProcess.StartInfo();
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return new RealTools.Result(p.ExitCode, so.Result, se.Result);
    }

    /// <summary>One line per entry: what both tools must agree on (and, for ours, with the host).</summary>
    private const string ListScript = """
        find . -path ./sock -prune -o -printf '%p %y %m %U %G %s %l\n' | LC_ALL=C sort
        echo ---
        find . ! -type d ! -type s -printf '%p %n\n' | LC_ALL=C sort
        """;

    private const string TimesScript = """
        find . -path ./sock -prune -o -printf '%p %T@\n' | LC_ALL=C sort
        echo ---
        find . -type c -o -type b | LC_ALL=C sort | xargs stat -c '%n %t %T'
        echo ---
        for f in $(find . ! -type l ! -type s | LC_ALL=C sort); do getfattr -h -d -m - --absolute-names "$f" 2>/dev/null | { grep -v '^#' || true; } | sed "s|^|$f |"; done
        """;

    private static string HostOutput(string dir, string script)
    {
        var r = RealTools.Run("bash", "-euo", "pipefail", "-c", $"cd '{dir}'\n{script}");
        Assert.True(r.ExitCode == 0, r.All);
        return r.Stdout;
    }

    private static string KernelOutput(string img, string script)
    {
        var outFile = Path.GetTempFileName();
        try
        {
            KernelImages.WithMounted(img, $"( {script} ) > '{outFile}'", "ro");
            return File.ReadAllText(outFile);
        }
        finally { File.Delete(outFile); }
    }

    [RequiresRootMountFact]
    public void Kernel_sees_the_host_tree_and_the_same_tree_as_mkfs_btrfs()
    {
        using var tmp = new TempDir();
        var src = MakeTree(tmp);
        var img = Import(tmp, src, "ours.img", Options(quota: true) with { Deterministic = false, Time = null });
        WriterEndToEndTests.AssertClean(img, quota: true);

        // Contents: diff -r of everything but the fifo/devices (diff cannot compare those) and the socket.
        var cmp = tmp.File("cmp.sh");
        File.WriteAllText(cmp, $"diff -r --no-dereference -x fifo -x chr -x blk -x sock '{src}' .\n");
        KernelImages.WithMounted(img, $"bash '{cmp}'", "ro");

        string hostList = HostOutput(src, ListScript), ourList = KernelOutput(img, ListScript);
        // Directory sizes differ by design (btrfs: 2 × name bytes); compare them apart.
        static string NoDirSizes(string s) => string.Join('\n', s.Split('\n').Select(l =>
        {
            var p = l.Split(' ');
            return p.Length >= 6 && p[1] == "d" ? string.Join(' ', p.Take(5)) : l;
        }));
        Assert.Equal(NoDirSizes(hostList), NoDirSizes(ourList));
        // Times with nanoseconds, device numbers, xattrs (incl. the root directory's and those of dirs).
        Assert.Equal(HostOutput(src, TimesScript), KernelOutput(img, TimesScript));
        Assert.Contains(". user.root=\"rootval\"", HostOutput(src, TimesScript));

        // The real mkfs.btrfs --rootdir on the same tree: the kernel sees the same names, types, modes, owners,
        // sizes, link targets and link counts (6.2 loses rdev, sub-second times, the root dir's attributes).
        var progs = tmp.File("progs.img");
        var r = RealTools.Run("mkfs.btrfs", "-q", "-m", "single", "-d", "single", "--rootdir", src, progs);
        Assert.True(r.ExitCode == 0, r.All);
        // Directory sizes apart: mkfs.btrfs 6.2 also imports the socket, which we skip (with a note).
        Assert.Equal(NoDirSizes(KernelOutput(progs, ListScript)), NoDirSizes(ourList));
    }
}
