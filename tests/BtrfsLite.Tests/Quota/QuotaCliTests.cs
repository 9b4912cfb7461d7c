using System.Text.Json;
using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.Images;
using BtrfsLite.Qgroups;
using BtrfsLite.Tests.Cli;
using BtrfsLite.Tests.Fs;
using BtrfsLite.Tests.Support;
using BtrfsLite.Text;

namespace BtrfsLite.Tests.Quota;

/// <summary>
/// The quota and qgroup commands through the real CLI process; <c>qgroup show</c> compared line for line with
/// <c>btrfs qgroup show</c> of btrfs-progs on the kernel-mounted image; limits we set enforced by the kernel; limits and
/// relations the kernel set read back by us.
/// </summary>
public class QuotaCliTests
{
    private static string Ok(params string[] args) => FsCommandsTests.Ok(args);

    [Theory]
    [InlineData(0UL, "0.00B")]
    [InlineData(512UL, "512.00B")]
    [InlineData(16384UL, "16.00KiB")]
    [InlineData(1019904UL, "996.00KiB")]
    [InlineData(1073152UL, "1.02MiB")]      // from the last step's quotient: 1048 / 1024
    [InlineData(1179648UL, "1.12MiB")]      // 1.125 exactly: ties to even, like glibc's printf
    [InlineData(1184768UL, "1.13MiB")]      // 1157 / 1024 = 1.1298...
    [InlineData(10485760UL, "10.00MiB")]
    [InlineData(52428800UL, "50.00MiB")]
    [InlineData(1UL << 40, "1.00TiB")]
    [InlineData(ulong.MaxValue, "16.00EiB")]
    public void SizesPrintLikeBtrfsProgs(ulong size, string expected) =>
        Assert.Equal(expected, QgroupTableWriter.PrettySize(size, SizeUnit.Human));

    [Fact]
    public void FixedAndDecimalUnits()
    {
        Assert.Equal("996.00KiB", QgroupTableWriter.PrettySize(1019904, SizeUnit.KiB));
        Assert.Equal("0.97MiB", QgroupTableWriter.PrettySize(1019904, SizeUnit.MiB));
        Assert.Equal("1.02MB", QgroupTableWriter.PrettySize(1019904, SizeUnit.Human, decimalBase: true));
        Assert.Equal("1019904", QgroupTableWriter.PrettySize(1019904, SizeUnit.Raw));
    }

    [Fact]
    public void CommandsChangeTheImageAndShowReadsItBack()
    {
        using var tmp = new TempDir();
        var img = QuotaAdminTests.Populated(tmp);
        Ok("quota", "enable", img);
        Ok("qgroup", "create", "1/100", img);
        Ok("qgroup", "create", "2/1", img);
        Ok("qgroup", "assign", "1/100", "2/1", img);
        // 0/256 shares with its snapshot: no quick update; the default --rescan recomputes and clears the flag.
        Assert.Contains("Quota data changed, rescan scheduled", Ok("qgroup", "assign", "256", "1/100", img));
        var r = CliProcess.Run("qgroup", "assign", "0/257", "1/100", img, "--no-rescan");
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains("WARNING: quotas may be inconsistent, rescan needed", r.Stderr);
        Assert.Contains("WARNING: qgroup data inconsistent, rescan recommended", CliProcess.Run("qgroup", "show", img).Stderr);
        Ok("quota", "rescan", img);
        Ok("qgroup", "limit", "10M", "0/256", img);
        Ok("qgroup", "limit", "-e", "50M", "1/100", img);
        Ok("qgroup", "limit", "123456789", "0/5", img);
        Ok("qgroup", "limit", "none", "0/5", img);
        WriterEndToEndTests.AssertClean(img, quota: true);

        var lines = Ok("qgroup", "show", "-pcre", "--raw", img).Split('\n');
        Assert.Equal("Qgroupid    Referenced    Exclusive  Max referenced  Max exclusive Parent   Child         Path ", lines[0]);
        Assert.Equal("--------    ----------    ---------  --------------  ------------- ------   -----         ---- ", lines[1]);
        Assert.Matches(@"^0/5 +\d+ +\d+ +none +none -        -             <toplevel>$", lines[2]);
        Assert.Matches(@"^0/256 +\d+ +\d+ +10485760 +none 1/100    -             sv$", lines[3]);
        Assert.Matches(@"^0/257 +\d+ +\d+ +none +none 1/100    -             snap$", lines[4]);
        Assert.Matches("^1/100 +\\d+ +\\d+ +none +52428800 2/1      0/256,0/257   2/1<1 member qgroup\0>$", lines[5]);
        Assert.Matches(@"^2/1 +\d+ +\d+ +none +none -        1/100         <0 member qgroups>$", lines[6]);
        Assert.Equal("", lines[7]);

        var rsv = Ok("qgroup", "show", "--reserved", "--raw", img).Split('\n');
        Assert.Equal("Qgroupid    Referenced    Exclusive rsv_data rsv_meta_pertrans rsv_meta_prealloc   Path ", rsv[0]);
        Assert.Matches(@"^0/5 +\d+ +\d+ +0 +0 +0   <toplevel>$", rsv[2]);

        using var json = JsonDocument.Parse(Ok("qgroup", "show", img, "--format", "json", "--reserved"));
        var arr = json.RootElement.EnumerateArray().ToList();
        Assert.Equal(new[] { "0/5", "0/256", "0/257", "1/100", "2/1" }, arr.Select(e => e.GetProperty("qgroupid").GetString()));
        var g = arr[3];
        Assert.Equal("none", g.GetProperty("max_referenced").GetString());
        Assert.Equal(52428800UL, g.GetProperty("max_exclusive").GetUInt64());
        Assert.Equal(2UL, g.GetProperty("limit_flags").GetUInt64());
        Assert.Equal(new[] { "2/1" }, g.GetProperty("parents").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(new[] { "0/256", "0/257" }, g.GetProperty("children").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(0UL, g.GetProperty("rsv_data").GetUInt64());
        Assert.Equal("sv", arr[1].GetProperty("path").GetString());
        Assert.Equal(arr[3].GetProperty("referenced").GetUInt64(), arr[3].GetProperty("exclusive").GetUInt64());

        Ok("qgroup", "remove", "0/256", "1/100", img);
        Ok("qgroup", "remove", "0/257", "1/100", img);
        Ok("qgroup", "remove", "1/100", "2/1", img);
        Ok("qgroup", "destroy", "1/100", img);
        Ok("qgroup", "destroy", "2/1", img);
        WriterEndToEndTests.AssertClean(img, quota: true);
        Ok("quota", "disable", img);
        WriterEndToEndTests.AssertClean(img, quota: false);
        FsCommandsTests.Fails(1, "ERROR: ENOTCONN:", "qgroup", "show", img);
    }

    public static TheoryData<string, string[]> Refusals => new()
    {
        { "EEXIST", new[] { "qgroup", "create", "1/100" } },
        { "EEXIST", new[] { "qgroup", "assign", "0/257", "1/100" } },
        { "ENOENT", new[] { "qgroup", "destroy", "1/7" } },
        { "EINVAL", new[] { "qgroup", "assign", "0/999", "1/100" } }, // Linux 6.18: EINVAL for a missing qgroup
        { "ENOENT", new[] { "qgroup", "remove", "0/256", "1/100" } },
        { "ENOENT", new[] { "qgroup", "limit", "1M", "1/7" } },
        { "EBUSY", new[] { "qgroup", "destroy", "1/100" } },
        { "EBUSY", new[] { "qgroup", "destroy", "0/256" } },
        { "EBUSY", new[] { "qgroup", "destroy", "5" } },
        { "EINVAL", new[] { "qgroup", "assign", "1/100", "0/256" } },
        { "EINVAL", new[] { "qgroup", "remove", "0/256", "0/257" } },
    };

    [Theory, MemberData(nameof(Refusals))]
    public void RefusalsExitOneAndLeaveTheImageByteIdentical(string errno, string[] args)
    {
        using var tmp = new TempDir();
        var img = QuotaAdminTests.Populated(tmp, quota: true);
        Ok("qgroup", "create", "1/100", img);
        Ok("qgroup", "assign", "0/257", "1/100", img);
        var sha = FsCommandsTests.FileSha(img);
        FsCommandsTests.Fails(1, $"ERROR: {errno}:", args.Append(img).ToArray());
        Assert.Equal(sha, FsCommandsTests.FileSha(img));
    }

    [Fact]
    public void WithoutQuotasEveryCommandButEnableIsENOTCONN()
    {
        using var tmp = new TempDir();
        var img = QuotaAdminTests.Populated(tmp, quota: false);
        var sha = FsCommandsTests.FileSha(img);
        foreach (var args in new[]
        {
            new[] { "quota", "rescan" }, new[] { "qgroup", "create", "1/100" }, new[] { "qgroup", "destroy", "0/256" },
            new[] { "qgroup", "assign", "0/256", "1/100" }, new[] { "qgroup", "remove", "0/256", "1/100" },
            new[] { "qgroup", "limit", "1M", "0/5" }, new[] { "qgroup", "show" },
        })
            FsCommandsTests.Fails(1, "ERROR: ENOTCONN:", args.Append(img).ToArray());
        Ok("quota", "disable", img);
        Assert.Equal(sha, FsCommandsTests.FileSha(img));
    }

    [Fact]
    public void BadArgumentsAreUsageErrors()
    {
        using var tmp = new TempDir();
        var img = QuotaAdminTests.Populated(tmp, quota: true);
        var sha = FsCommandsTests.FileSha(img);
        Assert.Equal(2, CliProcess.Run("qgroup", "create", "1/x", img).ExitCode);
        Assert.Equal(2, CliProcess.Run("qgroup", "limit", "12Q", "0/5", img).ExitCode);
        Assert.Equal(2, CliProcess.Run("qgroup", "show", img, "--format", "xml").ExitCode);
        Assert.Equal(sha, FsCommandsTests.FileSha(img));
    }

    // ------------------------------------------------------------------ the kernel and btrfs-progs as judges

    /// <summary>Runs btrfs qgroup show (raw, and human units) on the mounted image; the outputs land in files beside it.</summary>
    private static (string Raw, string Human) ProgsShow(TempDir tmp, string img, string before = "")
    {
        string raw = tmp.File("progs-raw.txt"), human = tmp.File("progs-human.txt");
        KernelImages.WithMounted(img, $"""
            {before}
            sync
            btrfs qgroup show -pcre --raw "$M" > '{raw}'
            btrfs qgroup show -pcre "$M" > '{human}'
            """);
        return (File.ReadAllText(raw), File.ReadAllText(human));
    }

    private static void AssertSameLines(string expected, string actual)
    {
        var e = expected.Split('\n');
        var a = actual.Split('\n');
        for (int i = 0; i < Math.Min(e.Length, a.Length); i++)
            Assert.True(e[i] == a[i], $"line {i + 1} differs\nprogs: [{e[i]}]\nours:  [{a[i]}]\n--- progs\n{expected}--- ours\n{actual}");
        Assert.Equal(e.Length, a.Length);
    }

    [RequiresFact(Need.BtrfsProgs, Need.RootLoopMount, Need.Chattr)]
    public void EnableOnAKernelWrittenImageAgreesWithProgsAndTheKernel()
    {
        using var tmp = new TempDir();
        var img = KernelImages.MakeRich(tmp, "rich", 512L << 20);
        Ok("quota", "enable", img);
        Ok("qgroup", "create", "1/100", img);
        Ok("qgroup", "create", "2/7", img);
        Ok("qgroup", "assign", "0/256", "1/100", img);
        Ok("qgroup", "assign", "0/257", "1/100", img);
        Ok("qgroup", "assign", "1/100", "2/7", img);
        Ok("qgroup", "limit", "-e", "300M", "1/100", img);
        Ok("qgroup", "limit", "1G", "0/5", img);
        WriterEndToEndTests.AssertClean(img, quota: true);
        string oursRaw = Ok("qgroup", "show", "-pcre", "--raw", img), oursHuman = Ok("qgroup", "show", "-pcre", img);
        var (progsRaw, progsHuman) = ProgsShow(tmp, img);
        AssertSameLines(progsRaw, oursRaw);
        AssertSameLines(progsHuman, oursHuman);
        // The kernel mounted it, found nothing to fix, and left it clean.
        WriterEndToEndTests.AssertClean(img, quota: true);
    }

    [RequiresRootMountFact]
    public void LimitsAndRelationsSetByTheKernelAreReadByUs()
    {
        using var tmp = new TempDir();
        var img = RealTools.Mkfs(tmp.File("k.img"), 256L << 20);
        var (progsRaw, progsHuman) = ProgsShow(tmp, img, """
            mkdir d; for i in $(seq 1 200); do head -c $((i * 300)) /dev/urandom > d/f$i; done
            btrfs quota enable "$M"
            btrfs subvolume create "$M/sv" >/dev/null
            head -c 2000000 /dev/urandom > "$M/sv/data"
            btrfs subvolume snapshot "$M/sv" "$M/snap" >/dev/null
            mkdir -p "$M/d/e" && btrfs subvolume create "$M/d/e/nested" >/dev/null
            sync
            btrfs qgroup create 1/100 "$M"
            btrfs qgroup create 1/200 "$M"
            btrfs qgroup create 2/1 "$M"
            btrfs qgroup assign --no-rescan 0/256 1/100 "$M" 2>/dev/null
            btrfs qgroup assign --no-rescan 0/257 1/100 "$M" 2>/dev/null
            btrfs qgroup assign --no-rescan 0/257 1/200 "$M" 2>/dev/null
            btrfs qgroup assign --no-rescan 1/100 2/1 "$M" 2>/dev/null
            btrfs qgroup assign --no-rescan 1/200 2/1 "$M" 2>/dev/null
            btrfs qgroup limit 20M 0/256 "$M"
            btrfs qgroup limit -e 40M 1/100 "$M"
            btrfs qgroup limit -e 64K 0/258 "$M"
            # the rescan started by quota enable may still run: wait for it, then rescan once more and wait
            btrfs quota rescan -W "$M" >/dev/null
            btrfs quota rescan -w "$M" >/dev/null
            """);
        AssertSameLines(progsRaw, Ok("qgroup", "show", "-pcre", "--raw", img));
        AssertSameLines(progsHuman, Ok("qgroup", "show", "-pcre", img));
        var s = QgroupTreeOf(img);
        Assert.Equal(QgroupLimitFlags.MaxRfer, s.Find(QgroupId.ForSubvolume(256))!.LimitFlags);
        Assert.Equal(20UL << 20, s.Find(QgroupId.ForSubvolume(256))!.MaxReferenced);
        Assert.Equal(new[] { QgroupId.Make(1, 100), QgroupId.Make(1, 200) }, s.Find(QgroupId.ForSubvolume(257))!.Parents);
        // And we can change what the kernel made.
        Ok("qgroup", "remove", "0/257", "1/200", img);
        Ok("qgroup", "limit", "none", "0/256", img);
        WriterEndToEndTests.AssertClean(img, quota: true);
    }

    private static QuotaState QgroupTreeOf(string img)
    {
        using var image = BtrfsImage.Open(img);
        return QgroupTree.Read(image)!;
    }

    [RequiresRootMountFact]
    public void TheKernelEnforcesLimitsWeSet()
    {
        using var tmp = new TempDir();
        var img = QuotaAdminTests.Populated(tmp, quota: false);
        Ok("quota", "enable", img);
        Ok("qgroup", "create", "1/1", img);
        Ok("qgroup", "assign", "0/257", "1/1", img);
        ulong top = QgroupTreeOf(img).Find(QgroupId.ForSubvolume(5))!.Referenced;
        Ok("qgroup", "limit", ((top >> 20) + 4) + "M", "0/5", img);     // referenced limit of the top level: 4 MiB of room
        Ok("qgroup", "limit", "-e", "6M", "0/256", img);                // exclusive limit of a subvolume
        Ok("qgroup", "limit", "-e", "5M", "1/1", img);                  // a parent's limit binds its member
        string log = tmp.File("edquot.txt");
        KernelImages.WithMounted(img, $$"""
            head -c 1000000 /dev/urandom > sv/fits && sync
            try() { if dd if=/dev/urandom of="$1" bs=1M count=16 conv=fsync status=none 2>>'{{log}}'; then echo "$1: no EDQUOT" >> '{{log}}'; fi; }
            try top16
            try sv/f16
            try snap/f16
            """);
        var text = File.ReadAllText(log);
        Assert.DoesNotContain("no EDQUOT", text);
        Assert.Equal(3, text.Split('\n').Count(l => l.Contains("Disk quota exceeded")));
        WriterEndToEndTests.AssertClean(img, quota: true);
        var s = QgroupTreeOf(img);
        Assert.True(s.Find(QgroupId.ForSubvolume(5))!.Referenced <= top + (4UL << 20));
        Assert.True(s.Find(QgroupId.ForSubvolume(256))!.Exclusive <= 6UL << 20);
        Assert.True(s.Find(QgroupId.Make(1, 1))!.Exclusive <= 5UL << 20);
    }
}
