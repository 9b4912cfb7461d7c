using System.Text.RegularExpressions;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Cli;

/// <summary>The README's main command: the demo on the embedded default image.</summary>
public class DemoTests
{
    [Fact]
    public void DemoChecksTheEmbeddedImageAndReproducesTheSeedInBothModes()
    {
        var r = CliProcess.Run("demo");
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains("no error found", r.Stdout);
        Assert.Contains("qgroup 0/5", r.Stdout);

        var sections = r.Stdout.Split("-- default");
        Assert.Equal(2, sections.Length);
        string legacy = sections[0], fixedMode = sections[1];
        // Legacy: writes 1..7 succeed, the 8th, 9th and 10th fail with EDQUOT (2015 bug), 12 MiB leaked after commit.
        var legacyFails = Regex.Matches(legacy, @"write\s+(\d+): EDQUOT").Select(m => int.Parse(m.Groups[1].Value)).ToArray();
        Assert.Equal(new[] { 8, 9, 10 }, legacyFails);
        Assert.Contains($"rsv_data {12 << 20}", legacy);
        // Default: no write fails and nothing stays reserved after the commit.
        Assert.DoesNotContain("EDQUOT", fixedMode);
        Assert.Contains("after commit: excl 2134016, rsv_data 0", fixedMode);
    }

    [Fact]
    public void DemoOnAMissingImageFailsCleanly()
    {
        var r = CliProcess.Run("demo", "--image", "/nonexistent/x.img");
        Assert.Equal(5, r.ExitCode);
        Assert.StartsWith("ERROR:", r.Stderr.Trim());
        Assert.DoesNotContain("   at ", r.All);
    }
}
