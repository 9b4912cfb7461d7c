using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Text;

/// <summary>
/// Helpers for golden comparisons. Text is compared as Latin-1 (byte for byte: names are raw bytes), with
/// TZ=UTC for every process so that progs' localtime dates and ours agree.
/// </summary>
public static class Golden
{
    public static readonly Encoding Bytes = Encoding.Latin1;

    public sealed record Output(int ExitCode, string Stdout, string Stderr);

    /// <summary>Runs a program with TZ=UTC; stdout/stderr decoded as Latin-1 (every byte kept).</summary>
    public static Output Run(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(RealTools.Which(exe) ?? exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Bytes,
            StandardErrorEncoding = Bytes,
        };
        psi.Environment["TZ"] = "UTC";
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(600_000)) { p.Kill(true); throw new TimeoutException($"{exe} {string.Join(' ', args)} did not finish"); }
        return new Output(p.ExitCode, so.Result, se.Result);
    }

    /// <summary>Our CLI (btrfslite.dll next to the test assembly) with TZ=UTC.</summary>
    public static Output Ours(params string[] args) => Run(Support.CliProcess.Command.File, Support.CliProcess.Command.Prefix.Concat(args).ToArray());

    /// <summary>btrfs inspect-internal SUBCOMMAND ARGS with TZ=UTC.</summary>
    public static Output Progs(params string[] args) => Run("btrfs", new[] { "inspect-internal" }.Concat(args).ToArray());

    /// <summary>Asserts equal text, reporting the first differing line with its number and neighbours.</summary>
    public static void AssertSameLines(string expected, string actual, string what)
    {
        // The banner is the one line that differs on purpose: we do not claim to be btrfs-progs.
        if (actual.StartsWith(BtrfsLite.Text.DumpTreeWriter.OurBanner + "\n", StringComparison.Ordinal))
            actual = BtrfsLite.Text.DumpTreeWriter.ProgsBanner + actual[BtrfsLite.Text.DumpTreeWriter.OurBanner.Length..];
        if (expected == actual) return;
        var e = expected.Split('\n');
        var a = actual.Split('\n');
        int n = Math.Min(e.Length, a.Length);
        int i = 0;
        while (i < n && e[i] == a[i]) i++;
        string Ctx(string[] l) => string.Join("\n", l.Skip(Math.Max(0, i - 3)).Take(6).Select((s, k) => $"{Math.Max(0, i - 3) + k + 1,7}: {s}"));
        Assert.Fail($"{what}: first difference at line {i + 1} (expected {e.Length} lines, got {a.Length})\n--- expected\n{Ctx(e)}\n--- actual\n{Ctx(a)}");
    }

    /// <summary>The repository's images/ folder (committed golden images), or null when absent.</summary>
    public static string? ImagesDir()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            var p = Path.Combine(d.FullName, "images");
            if (Directory.Exists(p) && Directory.EnumerateFiles(p, "*.img.gz").Any()) return p;
        }
        return null;
    }

    public static IEnumerable<object[]> ImageNames()
    {
        var dir = ImagesDir();
        if (dir == null) yield break;
        // Images with the stored progs dumps (kernel-reloc has none: 25 snapshots and 26 relocation trees print as
        // 143 MB; RelocationTreeTests compares its root tree with progs' live instead).
        foreach (var f in Directory.EnumerateFiles(dir, "*.img.gz").OrderBy(x => x, StringComparer.Ordinal))
            if (File.Exists(f[..^".img.gz".Length] + ".dump-tree.txt"))
                yield return new object[] { Path.GetFileName(f)[..^".img.gz".Length] };
    }

    /// <summary>Decompresses NAME.img.gz to <paramref name="dest"/>, leaving zero blocks as holes (sparse).</summary>
    public static string Gunzip(string gz, string dest)
    {
        using var input = new GZipStream(File.OpenRead(gz), CompressionMode.Decompress);
        using var handle = File.OpenHandle(dest, FileMode.Create, FileAccess.ReadWrite);
        var buf = new byte[1 << 16];
        long pos = 0;
        while (true)
        {
            int got = 0;
            while (got < buf.Length)
            {
                int n = input.Read(buf, got, buf.Length - got);
                if (n == 0) break;
                got += n;
            }
            if (got == 0) break;
            if (buf.AsSpan(0, got).ContainsAnyExcept((byte)0)) RandomAccess.Write(handle, buf.AsSpan(0, got), pos);
            pos += got;
            if (got < buf.Length) break;
        }
        RandomAccess.SetLength(handle, pos);
        return dest;
    }
}
