using BtrfsLite.Tests.Fs;
using BtrfsLite.Tests.Support;
using static BtrfsLite.Tests.Cli.FsCommandsTests;

namespace BtrfsLite.Tests.Cli;

/// <summary>cp-in of a host tree: contents, links, modes, owners, times, xattrs; checked by us, btrfs check and the kernel.</summary>
public class CopyInTests
{
    private static readonly (string Path, int Size)[] Files =
    {
        ("zero", 0), ("one", 1), ("small", 100), ("inline-max", 2047), ("at-2048", 2048), ("sector-1", 4095), ("sector", 4096),
        ("sector+1", 4097), ("d1/odd", 65543), ("d1/d2/mib", (1 << 20) + 3), ("d1/d2/d3/nine-mib", 9 << 20),
    };

    /// <summary>A host tree with files of many sizes, sparse files, symlinks (relative, absolute, dangling, outward), hard links, a FIFO, odd modes, owners, times, an xattr.</summary>
    internal static string MakeHostTree(TempDir tmp, out bool hasXattr)
    {
        var root = Directory.CreateDirectory(tmp.File("host")).FullName;
        string P(string rel) => Path.Combine(root, rel);
        Directory.CreateDirectory(P("d1/d2/d3"));
        Directory.CreateDirectory(P("empty"));
        var rnd = new Random(11);
        foreach (var (path, size) in Files)
        {
            var b = new byte[size];
            rnd.NextBytes(b);
            File.WriteAllBytes(P(path), b);
        }
        var r = RealTools.Run("bash", "-euo", "pipefail", "-c", $"""
            export TZ=UTC
            cd '{root}'
            truncate -s 20M sparse
            dd if=/dev/urandom of=sparse bs=4096 count=3 seek=100 conv=notrunc status=none
            dd if=/dev/urandom of=sparse bs=1000 count=1 seek=20000 conv=notrunc status=none
            truncate -s 5M all-hole
            ln -s ../small d1/rel-link
            ln -s /etc/passwd abs-link
            ln -s does/not/exist dangling
            ln -s ../../../.. d1/d2/outward
            ln small d1/hard1
            ln small d1/d2/hard2
            ln d1/odd d1/d2/d3/odd-hard
            mkfifo fifo
            chmod 4755 one
            chmod 0600 sector
            chmod 0700 d1/d2
            touch -h -d '2001-02-03 04:05:06.789' abs-link
            touch -d '1999-12-31 23:59:59.5' d1/odd
            touch -d '2010-01-01' d1/d2/d3
            """);
        Assert.True(r.ExitCode == 0, r.All);
        if (Environment.UserName == "root")
        {
            r = RealTools.Run("chown", "-h", "1234:567", P("sector+1"), P("d1/d2"), P("abs-link"));
            Assert.True(r.ExitCode == 0, r.All);
        }
        hasXattr = RealTools.Run("setfattr", "-n", "user.btrfslite", "-v", "value-1", P("d1/odd")).ExitCode == 0;
        // Directory times last (creating entries changed them).
        r = RealTools.Run("bash", "-c", $"TZ=UTC touch -d '2005-05-05 05:05:05' '{P("d1")}'");
        Assert.True(r.ExitCode == 0, r.All);
        return root;
    }

    [RequiresBtrfsProgsFact]
    public void CopiesATreeInSeveralTransactionsAndItReadsBack()
    {
        using var tmp = new TempDir();
        var host = MakeHostTree(tmp, out _);
        var img = MakeImage(tmp, "cli-mkfs");
        Ok("mkdir", img, "dst");
        var o = Ok("cp-in", img, host, "dst", "--commit-files", "5");
        // host → dst/host (dst exists); 5 entries per transaction: several commits.
        Assert.Matches(@"in ([2-9]|\d\d+) transaction\(s\)", o);
        Assert.Contains("3 hard links", o);
        WriterEndToEndTests.AssertClean(img, quota: true);
        foreach (var (path, _) in Files)
            Assert.Equal(FileSha(Path.Combine(host, path)), CatSha(img, "dst/host/" + path));
        Assert.Equal(FileSha(Path.Combine(host, "sparse")), CatSha(img, "dst/host/sparse"));
        Assert.Equal(FileSha(Path.Combine(host, "all-hole")), CatSha(img, "dst/host/all-hole"));
        var l = Ok("ls", "-l", img, "dst/host");
        Assert.Matches(@"(?m)^-rwsr-xr-x\s+1\s+0\s+0\s+1 [^\n]* one$", l);
        Assert.Matches(@"(?m)^-rw-------\s+1\s+0\s+0\s+4096 [^\n]* sector$", l);
        Assert.Matches(@"(?m)^-rw-r--r--\s+3\s+0\s+0\s+100 [^\n]* small$", l);
        Assert.Matches(@"(?m)^prw-r--r--\s+1\s+0\s+0\s+0 [^\n]* fifo$", l);
        Assert.Matches(@"(?m)^lrwxrwxrwx\s+1\s+\d+\s+\d+\s+11 2001-02-03 04:05 abs-link -> /etc/passwd$", l);
        Assert.Matches(@"(?m)^lrwxrwxrwx\s+1\s+0\s+0\s+14 [^\n]* dangling -> does/not/exist$", l);
        Assert.Contains("outward -> ../../../..", Ok("ls", "-l", img, "dst/host/d1/d2"));
        Assert.Matches(@"(?m)^drwxr-xr-x\s+1\s+0\s+0\s+\d+ 2005-05-05 05:05 d1$", l);

        // Copying again merges: directories are reused, files replaced; the image stays clean.
        Ok("cp-in", img, host, "dst");
        WriterEndToEndTests.AssertClean(img, quota: true);
        Assert.Equal(FileSha(Path.Combine(host, "d1/d2/d3/nine-mib")), CatSha(img, "dst/host/d1/d2/d3/nine-mib"));
        // A single file to a new name.
        Ok("cp-in", img, Path.Combine(host, "d1/odd"), "copy-of-odd");
        Assert.Equal(FileSha(Path.Combine(host, "d1/odd")), CatSha(img, "copy-of-odd"));
    }

    /// <summary>Names of one host inode stay names of one inode whatever its type (cp -a; mkfs --rootdir shares the importer).</summary>
    [RequiresBtrfsProgsFact]
    public void HardLinksOfSymlinksAndFifosStayOneInode()
    {
        using var tmp = new TempDir();
        var host = Directory.CreateDirectory(tmp.File("host")).FullName;
        var r = RealTools.Run("bash", "-euo", "pipefail", "-c", $"cd '{host}' && ln -s target sym && ln sym sym2 && mkfifo fifo && ln fifo fifo2");
        Assert.True(r.ExitCode == 0, r.All);
        var img = MakeImage(tmp, "cli-mkfs");
        var o = Ok("cp-in", img, host, "h", "--no-progress");
        Assert.Contains("1 symlinks, 2 hard links, 1 other", o);
        WriterEndToEndTests.AssertClean(img, quota: true);
        var l = Ok("ls", "-l", img, "h");
        foreach (var name in new[] { "sym", "sym2" }) Assert.Matches($@"(?m)^lrwxrwxrwx\s+2\s[^\n]* {name} -> target$", l);
        foreach (var name in new[] { "fifo", "fifo2" }) Assert.Matches($@"(?m)^p[-rwx]{{9}}\s+2\s[^\n]* {name}$", l);
    }

    [Fact]
    public void MissingHostPathFailsBeforeTheImageIsTouched()
    {
        using var tmp = new TempDir();
        var img = MakeImage(tmp, "cli-mkfs");
        var before = FileSha(img);
        Fails(5, "ERROR:", "cp-in", img, tmp.File("no-such-dir"), "x");
        Assert.Equal(before, FileSha(img));
    }

    public static IEnumerable<object[]> MountSources() => new[] { "cli-mkfs", "mkfs.btrfs", "kernel-rich" }.Select(s => new object[] { s });

    /// <summary>The kernel sees the copied tree exactly as the host has it: diff -r, then type, mode, owner, size, links, mtime, link targets, inode sharing, xattrs.</summary>
    [RequiresRootMountTheory]
    [MemberData(nameof(MountSources))]
    public void TheKernelSeesTheSameTree(string source)
    {
        using var tmp = new TempDir();
        var host = MakeHostTree(tmp, out bool hasXattr);
        var img = MakeImage(tmp, source);
        Ok("cp-in", img, host, "copy", "--commit-files", "7");
        WriterEndToEndTests.AssertClean(img, quota: true);
        const string Meta = """
            meta() { (cd "$1" && find . ! -type d -printf '%P %y %m %U %G %s %n %T@ %l\n' | sort; find . -type d -printf '%P %m %U %G %T@\n' | sort); }
            """;
        var xattr = hasXattr ? """test "$(getfattr --only-values -n user.btrfslite copy/d1/odd)" = value-1""" : "";
        KernelImages.WithMounted(img, $"""
            {Meta}
            diff -r --no-dereference -x fifo '{host}' copy
            diff <(meta '{host}') <(meta copy)
            test "$(stat -c %i copy/small)" = "$(stat -c %i copy/d1/d2/hard2)"
            test "$(stat -c %i copy/d1/odd)" = "$(stat -c %i copy/d1/d2/d3/odd-hard)"
            test "$(stat -c %b copy/all-hole)" = 0
            {xattr}
            # The kernel changes the copy; we read its changes and check again.
            echo kernel >> copy/zero
            rm -r copy/d1/d2/d3
            """);
        WriterEndToEndTests.AssertClean(img, quota: true);
        Assert.Equal("d2\nhard1\nodd\nrel-link\n", Ok("ls", img, "copy/d1"));
        Assert.Equal(FileSha(Path.Combine(host, "d1/d2/mib")), CatSha(img, "copy/d1/d2/mib"));
    }
}

/// <summary>The same commands on a loop block device instead of an image file.</summary>
public class BlockDeviceTests
{
    [RequiresRootMountFact]
    public void CommandsWorkOnALoopDevice()
    {
        using var tmp = new TempDir();
        var file = tmp.File("dev.img");
        using (var f = File.Create(file)) f.SetLength(256L << 20);
        var host = CopyInTests.MakeHostTree(tmp, out _);
        var r = RealTools.Run("losetup", "-f", "--show", file);
        Assert.True(r.ExitCode == 0, r.All);
        var loop = r.Stdout.Trim();
        try
        {
            Ok("mkfs", loop, "--quota");
            Ok("mkdir", loop, "a/b", "-p");
            Ok("write", loop, "a/b/gen", "--length", "2M", "--pattern", "8");
            Assert.Equal(Sha(Pattern(2 << 20, 8)), CatSha(loop, "a/b/gen"));
            Ok("cp-in", loop, host, "a");
            Ok("subvolume", "create", loop, "vol");
            Ok("reflink", loop, "a/b/gen", "vol/../a/ref");
            Ok("subvolume", "snapshot", loop, "vol", "snap", "-r");
            Ok("truncate", loop, "a/ref", "--size", "1M");
            Ok("punch", loop, "a/b/gen", "--offset", "0", "--length", "4K");
            Ok("mv", loop, "a/ref", "a/ref2");
            Ok("ln", "-s", loop, "b/gen", "a/sym");
            Fails(1, "ERROR: ENOENT:", "rm", loop, "a/missing");
            Assert.Equal("b\nhost\nref2\nsym\n", Ok("ls", loop, "a"));
            Assert.Matches(@"(?m)^ID 257 gen \d+ top level 5 path snap$", Ok("subvolume", "list", loop));
            Assert.Equal(FileSha(Path.Combine(host, "d1/d2/d3/nine-mib")), CatSha(loop, "a/host/d1/d2/d3/nine-mib"));
            var check = CliProcess.Run("check", loop);
            Assert.True(check.ExitCode == 0, check.All);
        }
        finally
        {
            RealTools.Run("losetup", "-d", loop);
        }
        WriterEndToEndTests.AssertClean(file, quota: true);
    }
}
