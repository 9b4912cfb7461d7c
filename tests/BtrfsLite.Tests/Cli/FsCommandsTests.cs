using System.Security.Cryptography;
using System.Text;
using BtrfsLite.Tests.Fs;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Cli;

/// <summary>
/// The file-system commands through the real CLI process, on images made by our mkfs command, by mkfs.btrfs, and by
/// the kernel (golden images): every command, then our check + btrfs check + --qgroup-report, and the bytes read back.
/// </summary>
public class FsCommandsTests
{
    internal static string Ok(params string[] args)
    {
        var r = CliProcess.Run(args);
        Assert.True(r.ExitCode == 0, $"btrfslite {string.Join(' ', args)} -> {r.ExitCode}\n{r.All}");
        Assert.DoesNotContain("   at ", r.All);
        return r.Stdout;
    }

    internal static void Fails(int code, string errorPrefix, params string[] args)
    {
        var r = CliProcess.Run(args);
        Assert.True(r.ExitCode == code, $"btrfslite {string.Join(' ', args)} -> {r.ExitCode}, expected {code}\n{r.All}");
        Assert.StartsWith(errorPrefix, r.Stderr.Trim());
        if (code != 2) Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.DoesNotContain("   at ", r.All);
    }

    /// <summary>The bytes of <c>write --pattern SEED</c>, recomputed independently: SplitMix64 outputs, little endian.</summary>
    internal static byte[] Pattern(int length, ulong seed)
    {
        var b = new byte[length];
        ulong state = seed;
        for (int i = 0; i < length; i += 8)
        {
            ulong z = state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            for (int k = 0; k < 8 && i + k < length; k++) b[i + k] = (byte)(z >> (8 * k));
        }
        return b;
    }

    internal static string Sha(byte[] b) => Convert.ToHexString(SHA256.HashData(b)).ToLowerInvariant();
    internal static string FileSha(string path) { using var f = File.OpenRead(path); return Convert.ToHexString(SHA256.HashData(f)).ToLowerInvariant(); }

    /// <summary>cat through a shell pipe into sha256sum (stdout carries raw bytes).</summary>
    internal static string CatSha(string img, string path)
    {
        var r = RealTools.Run("bash", "-o", "pipefail", "-c", $"{CliProcess.ShellCommand} cat '{img}' '{path}' | sha256sum");
        Assert.True(r.ExitCode == 0, r.All);
        return r.Stdout.Split(' ')[0];
    }

    internal static string MakeImage(TempDir tmp, string kind)
    {
        switch (kind)
        {
            case "cli-mkfs":
                var img = tmp.File("cli.img");
                Ok("mkfs", img, "--size", "256M", "--quota");
                return img;
            case "mkfs.btrfs":
                return RealTools.Mkfs(tmp.File("progs.img"), 256L << 20, "-m", "single", "-d", "single", "-R", "quota");
            default:
                return GoldenImages.Extract(kind, tmp);
        }
    }

    public static IEnumerable<object[]> Sources() => new[] { "cli-mkfs", "mkfs.btrfs", "kernel-small", "kernel-rich" }.Select(s => new object[] { s });

    [RequiresBtrfsProgsTheory]
    [MemberData(nameof(Sources))]
    public void EveryCommandWorksAndTheImageChecksClean(string source)
    {
        using var tmp = new TempDir();
        var img = MakeImage(tmp, source);
        var host = tmp.File("host.bin");
        var hostBytes = new byte[1_500_000];
        new Random(5).NextBytes(hostBytes);
        File.WriteAllBytes(host, hostBytes);

        // mkdir
        Ok("mkdir", img, "t/a/b", "-p");
        Ok("mkdir", img, "t/a/b", "-p"); // -p: no error when it exists
        Fails(1, "ERROR: EEXIST:", "mkdir", img, "t/a");
        Ok("mkdir", img, "/t/c");

        // write: generated, zeros, from a file, at an offset
        Ok("write", img, "t/a/b/gen", "--length", "3M", "--pattern", "42");
        var gen = Pattern(3 << 20, 42);
        Assert.Equal(Sha(gen), CatSha(img, "t/a/b/gen"));
        Ok("write", img, "t/zeros", "--length", "100K");
        Assert.Equal(Sha(new byte[100 << 10]), CatSha(img, "t/zeros"));
        Ok("write", img, "t/from", "--from", host);
        Assert.Equal(Sha(hostBytes), CatSha(img, "t/from"));
        Ok("write", img, "t/a/b/gen", "--offset", "1M", "--length", "5000", "--pattern", "1");
        Pattern(5000, 1).CopyTo(gen, 1 << 20);
        Assert.Equal(Sha(gen), CatSha(img, "t/a/b/gen"));
        Ok("write", img, "t/sparse", "--offset", "10M", "--length", "3", "--pattern", "9");

        // ls
        Assert.Equal("a\nc\nfrom\nsparse\nzeros\n", Ok("ls", img, "t"));
        var l = Ok("ls", img, "t/a/b", "-l");
        Assert.Matches(@"^-rw-r--r-- 1 0 0 3145728 \d{4}-\d\d-\d\d \d\d:\d\d gen\n$", l);
        Assert.Contains($"{(10 << 20) + 3} ", Ok("ls", img, "t/sparse", "-l"));

        // ln, ln -s
        Ok("ln", img, "t/from", "t/a/from-hard");
        Ok("ln", "-s", img, "a/b/gen", "t/sym");
        l = Ok("ls", "-l", img, "t");
        Assert.Matches(@"\nlrwxrwxrwx\s+1\s+0\s+0\s+7 [^\n]* sym -> a/b/gen\n", l);
        Assert.Matches(@"\n-rw-r--r--\s+2\s+0\s+0\s+1500000 [^\n]* from\n", l);
        Fails(1, "ERROR: EPERM:", "ln", img, "t/a", "t/dirlink");

        // punch, truncate, fallocate
        Ok("punch", img, "t/from", "--offset", "4000", "--length", "10000");
        Array.Clear(hostBytes, 4000, 10000);
        Assert.Equal(Sha(hostBytes), CatSha(img, "t/a/from-hard"));
        Ok("truncate", img, "t/from", "--size", "100000");
        Assert.Equal(Sha(hostBytes[..100000]), CatSha(img, "t/from"));
        Ok("truncate", img, "t/from", "--size", "200K");
        Assert.Equal(Sha(hostBytes[..100000].Concat(new byte[(200 << 10) - 100000]).ToArray()), CatSha(img, "t/from"));
        Ok("fallocate", img, "t/pre", "--length", "1M", "--keep-size");
        Ok("fallocate", img, "t/pre2", "--offset", "4K", "--length", "64K");
        Assert.Matches(@" 0 [^\n]* pre\n", Ok("ls", "-l", img, "t/pre"));
        Assert.Matches(@" 69632 [^\n]* pre2\n", Ok("ls", "-l", img, "t/pre2"));

        // mv (into a directory, and a rename)
        Ok("mv", img, "t/zeros", "t/c");
        Ok("mv", img, "t/c/zeros", "t/c/z2");
        Assert.Equal("z2\n", Ok("ls", img, "t/c"));

        // reflink and clone-range
        Ok("reflink", img, "t/a/b/gen", "t/ref");
        Assert.Equal(Sha(gen), CatSha(img, "t/ref"));
        Ok("clone-range", img, "t/a/b/gen", "1M", "1M", "t/cr", "4K");
        Assert.Equal(Sha(new byte[4096].Concat(gen.AsSpan(1 << 20, 1 << 20).ToArray()).ToArray()), CatSha(img, "t/cr"));
        Fails(1, "ERROR: EINVAL:", "clone-range", img, "t/a/b/gen", "1000", "4K", "t/cr2", "0");

        // subvolumes
        Assert.Contains("Create subvolume 't/vol'", Ok("subvolume", "create", img, "t/vol"));
        Ok("write", img, "t/vol/f", "--length", "20000", "--pattern", "3");
        Ok("subvolume", "snapshot", img, "t/vol", "t/snap", "-r");
        Ok("subvolume", "snapshot", img, "t/vol", "t/c"); // into an existing directory: t/c/vol
        Ok("write", img, "t/vol/f", "--length", "8K");
        Assert.Equal(Sha(Pattern(20000, 3)), CatSha(img, "t/snap/f"));
        Assert.Equal(Sha(Pattern(20000, 3)), CatSha(img, "t/c/vol/f"));
        var list = Ok("subvolume", "list", img);
        Assert.Matches(@"(?m)^ID \d+ gen \d+ top level 5 path t/vol$", list);
        Assert.Matches(@"(?m)^ID \d+ gen \d+ top level 5 path t/snap$", list);
        Assert.Matches(@"(?m)^ID \d+ gen \d+ top level 5 path t/c/vol$", list);
        Ok("subvolume", "delete", img, "t/c/vol");
        Assert.DoesNotContain("t/c/vol", Ok("subvolume", "list", img));
        Fails(1, "ERROR: ENOENT:", "subvolume", "delete", img, "t/c");
        Fails(1, "ERROR: EXDEV:", "mv", img, "t/from", "t/vol/from");

        // rm
        Fails(1, "ERROR: ENOTEMPTY:", "rm", img, "t/a");
        Ok("rm", img, "t/sym");
        Ok("rm", img, "-r", "t/a/b");
        Ok("rm", img, "t/a/from-hard");
        Ok("rm", img, "t/c/z2");
        Ok("rm", img, "t/c"); // empty directory: no -r needed (rm -d)
        Assert.Equal("a\ncr\nfrom\npre\npre2\nref\nsnap\nsparse\nvol\n", Ok("ls", img, "t"));
        Assert.Equal("1\n", Ok("ls", img, "-l", "t/from").Split(' ', StringSplitOptions.RemoveEmptyEntries)[1] + "\n");

        WriterEndToEndTests.AssertClean(img, quota: true);
        Assert.Equal(Sha(gen), CatSha(img, "t/ref"));
    }

    [Fact]
    public void WriteFromStdinAndFromDash()
    {
        using var tmp = new TempDir();
        var img = MakeImage(tmp, "cli-mkfs");
        var cli = CliProcess.ShellCommand;
        var r = RealTools.Run("bash", "-o", "pipefail", "-c",
            $"head -c 300000 /dev/zero | tr '\\0' 'x' | {cli} write '{img}' in && printf abc | {cli} write '{img}' in --from - --offset 299999");
        Assert.True(r.ExitCode == 0, r.All);
        var expected = Enumerable.Repeat((byte)'x', 299999).Concat("abc"u8.ToArray()).ToArray();
        Assert.Equal(Sha(expected), CatSha(img, "in"));
        WriterEndToEndTests.AssertClean(img, quota: true);
    }

    public static IEnumerable<object[]> FailingCommands() => new[]
    {
        new object[] { "ERROR: ENOENT:", new[] { "mkdir", "{img}", "nope/x" } },
        new object[] { "ERROR: ENOENT:", new[] { "write", "{img}", "nope/x", "--length", "1M" } },
        new object[] { "ERROR: EISDIR:", new[] { "write", "{img}", "d", "--length", "1M", "--pattern", "3" } },
        new object[] { "ERROR: ENOENT:", new[] { "cat", "{img}", "nope" } },
        new object[] { "ERROR: EISDIR:", new[] { "cat", "{img}", "d" } },
        new object[] { "ERROR: ENOENT:", new[] { "ls", "{img}", "nope" } },
        new object[] { "ERROR: ENOTEMPTY:", new[] { "rm", "{img}", "d" } },
        new object[] { "ERROR: ENOENT:", new[] { "rm", "{img}", "-r", "nope" } },
        new object[] { "ERROR: ENOENT:", new[] { "mv", "{img}", "nope", "x" } },
        new object[] { "ERROR: EINVAL:", new[] { "mv", "{img}", "d", "d/e/f" } },
        new object[] { "ERROR: ENOENT:", new[] { "ln", "{img}", "nope", "x" } },
        new object[] { "ERROR: EEXIST:", new[] { "ln", "-s", "{img}", "anything", "d/f" } },
        new object[] { "ERROR: ENOENT:", new[] { "truncate", "{img}", "nope", "--size", "1M" } },
        new object[] { "ERROR: EISDIR:", new[] { "truncate", "{img}", "d", "--size", "1M" } },
        new object[] { "ERROR: ENOENT:", new[] { "punch", "{img}", "nope", "--offset", "0", "--length", "4K" } },
        new object[] { "ERROR: EISDIR:", new[] { "fallocate", "{img}", "d", "--length", "4K" } },
        new object[] { "ERROR: ENOENT:", new[] { "reflink", "{img}", "nope", "x" } },
        new object[] { "ERROR: EINVAL:", new[] { "reflink", "{img}", "d/f", "d/f" } },
        new object[] { "ERROR: EINVAL:", new[] { "clone-range", "{img}", "d/f", "3", "4K", "y", "0" } },
        new object[] { "ERROR: ENOENT:", new[] { "subvolume", "create", "{img}", "nope/vol" } },
        new object[] { "ERROR: EEXIST:", new[] { "subvolume", "create", "{img}", "d" } },
        new object[] { "ERROR: EINVAL:", new[] { "subvolume", "snapshot", "{img}", "d", "snap" } },
        new object[] { "ERROR: ENOENT:", new[] { "subvolume", "delete", "{img}", "d" } },
        new object[] { "ERROR: EISDIR:", new[] { "cp-in", "{img}", "{hostfile}", "top" } },
    };

    /// <summary>A refused command exits 1 with one "ERROR: ERRNO: ..." line and leaves every byte of the image as it was.</summary>
    [Theory]
    [MemberData(nameof(FailingCommands))]
    public void AFailingCommandLeavesTheImageByteIdentical(string error, string[] args)
    {
        using var tmp = new TempDir();
        var img = MakeImage(tmp, "cli-mkfs");
        Ok("mkdir", img, "d/e", "-p");
        Ok("mkdir", img, "top/f", "-p");
        Ok("write", img, "d/f", "--length", "100K", "--pattern", "1");
        File.WriteAllText(tmp.File("f"), "x"); // cp-in of host file "f" into directory top: top/f is a directory
        string before = FileSha(img);
        Fails(1, error, args.Select(a => a.Replace("{img}", img).Replace("{hostfile}", tmp.File("f"))).ToArray());
        Assert.Equal(before, FileSha(img));
    }

    public static IEnumerable<object[]> BadArguments() => new[]
    {
        new object[] { new[] { "write", "{img}", "x", "--length", "12Q" } },
        new object[] { new[] { "write", "{img}", "x", "--length", "-5" } },
        new object[] { new[] { "write", "{img}", "x", "--offset", "1.5M", "--length", "1" } },
        new object[] { new[] { "write", "{img}", "x", "--length", "1", "--pattern", "abc" } },
        new object[] { new[] { "write", "{img}", "x", "--length", "1", "--from", "/etc/hostname" } },
        new object[] { new[] { "truncate", "{img}", "x", "--size", "lots" } },
        new object[] { new[] { "truncate", "{img}", "x" } },
        new object[] { new[] { "punch", "{img}", "x", "--offset", "0", "--length", "0" } },
        new object[] { new[] { "fallocate", "{img}", "x", "--length", "4X" } },
        new object[] { new[] { "clone-range", "{img}", "a", "1Z", "4K", "b", "0" } },
        new object[] { new[] { "cp-in", "{img}", "/etc", "x", "--commit-bytes", "0" } },
        new object[] { new[] { "mkdir", "{img}" } },
        new object[] { new[] { "subvolume", "bogus", "{img}" } },
    };

    [Theory]
    [MemberData(nameof(BadArguments))]
    public void BadArgumentsExit2AndChangeNothing(string[] args)
    {
        using var tmp = new TempDir();
        var img = MakeImage(tmp, "cli-mkfs");
        string before = FileSha(img);
        Fails(2, "ERROR:", args.Select(a => a.Replace("{img}", img)).ToArray());
        Assert.Equal(before, FileSha(img));
    }

    [Fact]
    public void MissingImageIsAnIoErrorAndReadOnlyCommandsWorkOnAReadOnlyFile()
    {
        using var tmp = new TempDir();
        Fails(5, "ERROR:", "ls", tmp.File("none.img"));
        Fails(5, "ERROR:", "mkdir", tmp.File("none.img"), "x");
        var img = MakeImage(tmp, "cli-mkfs");
        Ok("write", img, "f", "--length", "10K", "--pattern", "2");
        Ok("mkdir", img, "d");
        // Not writable even for root: immutable where chattr works, else mode 0400.
        bool immutable = RealTools.Run("chattr", "+i", img).ExitCode == 0;
        if (!immutable) RealTools.Run("chmod", "0400", img);
        try
        {
            Fails(5, "ERROR:", "mkdir", img, "x");
            // cat, ls and subvolume list open the image read-only.
            Assert.Equal(Sha(Pattern(10 << 10, 2)), CatSha(img, "f"));
            Assert.Equal("d\nf\n", Ok("ls", img));
            Assert.Equal("", Ok("subvolume", "list", img));
        }
        finally { RealTools.Run(immutable ? "chattr" : "chmod", immutable ? "-i" : "0600", img); }
    }
}
