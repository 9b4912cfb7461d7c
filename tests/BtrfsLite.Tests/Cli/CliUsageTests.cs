using System.CommandLine;
using System.Security.Cryptography;
using BtrfsLite.Cli;
using BtrfsLite.Tests.Support;
using static BtrfsLite.Tests.Cli.FsCommandsTests;

namespace BtrfsLite.Tests.Cli;

/// <summary>How the tool meets a new user: help without arguments and as a command, one line per usage error,
/// consistent help texts, a too-short file for dump-super, and <c>-i QG</c> on subvolume create and snapshot.</summary>
public class CliUsageTests
{
    [Fact]
    public void NoArgumentsPrintsTheHelp()
    {
        var r = CliProcess.Run();
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("Commands:", r.Stdout);
        Assert.Contains("subvolume", r.Stdout);
        Assert.DoesNotContain("Required command", r.All);
    }

    [Fact]
    public void HelpCommandShowsACommandsHelp()
    {
        var r = CliProcess.Run("help", "subvolume", "snapshot");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("btrfslite subvolume snapshot <image> <source> <dest>", r.Stdout);
        Assert.Contains("--inherit", r.Stdout);
        Assert.Contains("Commands:", CliProcess.Run("help").Stdout);
        var bad = CliProcess.Run("help", "nosuch");
        Assert.Equal(2, bad.ExitCode);
        Assert.StartsWith("ERROR: unknown command: nosuch", bad.Stderr);
    }

    [Fact]
    public void AUsageErrorIsSaidOnceWithWhereToLook()
    {
        var r = CliProcess.Run("write");
        Assert.Equal(2, r.ExitCode);
        var lines = r.Stderr.Trim().Split('\n');
        Assert.Equal(["ERROR: Required argument missing for command: 'write'.", "see: btrfslite write --help"], lines);
        Assert.Equal("see: btrfslite subvolume snapshot --help", CliProcess.Run("subvolume", "snapshot", "x").Stderr.Trim().Split('\n')[^1]);
    }

    /// <summary>Every description (commands, arguments, options) starts with a capital letter, as the built-in ones do.</summary>
    [Fact]
    public void HelpTextsAreCapitalisedAlike()
    {
        var bad = new List<string>();
        void Walk(Command c, string path)
        {
            foreach (var (what, text) in new[] { (path, c.Description) }
                         .Concat(c.Arguments.Select(a => ($"{path} <{a.Name}>", a.Description)))
                         .Concat(c.Options.Select(o => ($"{path} {o.Name}", o.Description))))
                if (string.IsNullOrEmpty(text) || !char.IsUpper(text[0])) bad.Add($"{what}: '{text}'");
            foreach (var s in c.Subcommands) Walk(s, path + " " + s.Name);
        }
        var root = Program.Build();
        foreach (var s in root.Subcommands) Walk(s, s.Name);
        Assert.True(bad.Count == 0, string.Join("\n", bad));
    }

    [Fact]
    public void DumpSuperOfAFileTooShortForASuperblockIsAnError()
    {
        using var tmp = new TempDir();
        var f = tmp.File("three");
        File.WriteAllBytes(f, [1, 2, 3]);
        Fails(3, "ERROR: corrupt: ", "dump-super", f);
        Assert.Contains("too small for a btrfs superblock", CliProcess.Run("dump-super", f).Stderr);
    }

    [RequiresBtrfsProgsFact]
    public void SubvolumeCreateAndSnapshotTakeInherit()
    {
        using var tmp = new TempDir();
        var img = tmp.File("i.img");
        Ok("mkfs", img, "--size", "256M");
        Ok("quota", "enable", img);
        Ok("qgroup", "create", "1/100", img);

        // A qgroup that does not exist: ENOENT, and nothing is created.
        var before = SHA256.HashData(File.ReadAllBytes(img));
        Fails(1, "ERROR: ENOENT", "subvolume", "create", img, "sv", "-i", "1/7");
        Fails(1, "ERROR: ENOENT", "subvolume", "snapshot", img, "/", "sn", "-i", "1/7");
        Assert.Equal(before, SHA256.HashData(File.ReadAllBytes(img)));

        Assert.Contains("Create subvolume 'sv' (ID 256)", Ok("subvolume", "create", img, "sv", "-i", "1/100"));
        Ok("write", img, "sv/f", "--length", "100K", "--pattern", "5");
        Assert.Contains("Create a snapshot of 'sv' in 'sn' (ID 257)", Ok("subvolume", "snapshot", img, "sv", "sn", "-i", "1/100"));
        var show = Ok("qgroup", "show", "-p", "--raw", img).Split('\n');
        Assert.Matches(@"^0/256 .* 1/100 ", show.Single(l => l.StartsWith("0/256 ")) + " ");
        Assert.Matches(@"^0/257 .* 1/100 ", show.Single(l => l.StartsWith("0/257 ")) + " ");
        BtrfsLite.Tests.Fs.WriterEndToEndTests.AssertClean(img, quota: true);
        var progs = RealTools.BtrfsCheck(img, "--qgroup-report");
        Assert.True(progs.ExitCode == 0, progs.All);
    }
}

/// <summary>The tool is built on the library's public API alone, as any .NET user would be.</summary>
public class PublicApiTests
{
    [Fact]
    public void TheToolGetsNoInternalsOfTheLibrary()
    {
        var friends = typeof(BtrfsLite.Images.BtrfsImage).Assembly
            .GetCustomAttributes(typeof(System.Runtime.CompilerServices.InternalsVisibleToAttribute), false)
            .Cast<System.Runtime.CompilerServices.InternalsVisibleToAttribute>().Select(a => a.AssemblyName).ToList();
        Assert.Contains("BtrfsLite.Tests", friends);
        Assert.DoesNotContain(friends, f => f.Equals("btrfslite", StringComparison.OrdinalIgnoreCase));
    }
}
