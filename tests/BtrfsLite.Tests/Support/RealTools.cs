using System.Diagnostics;

namespace BtrfsLite.Tests.Support;

/// <summary>Runs the real judges (btrfs-progs, mount) and makes scratch files that are removed afterwards.</summary>
public static class RealTools
{
    public static bool HasBtrfsProgs => Which("mkfs.btrfs") != null && Which("btrfs") != null;

    public static string? Which(string exe)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':').Concat(new[] { "/usr/sbin", "/sbin" }))
        {
            var p = Path.Combine(dir, exe);
            if (File.Exists(p)) return p;
        }
        return null;
    }

    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string All => Stdout + Stderr;
    }

    public static Result Run(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(Which(exe) ?? exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(600_000)) { p.Kill(true); throw new TimeoutException($"{exe} {string.Join(' ', args)} did not finish"); }
        return new Result(p.ExitCode, so.Result, se.Result);
    }

    /// <summary>mkfs.btrfs on a fresh sparse file of <paramref name="size"/> bytes.</summary>
    public static string Mkfs(string path, long size, params string[] extra)
    {
        using (var f = File.Create(path)) f.SetLength(size);
        var r = Run("mkfs.btrfs", new[] { "-q", "-f" }.Concat(extra).Append(path).ToArray());
        if (r.ExitCode != 0) throw new InvalidOperationException($"mkfs.btrfs failed: {r.All}");
        return path;
    }

    public static Result BtrfsCheck(string path, params string[] extra) =>
        Run("btrfs", new[] { "check" }.Concat(extra).Append(path).ToArray());
}

/// <summary>A temporary directory deleted on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("btrfslite-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose()
    {
        try { Directory.Delete(Path, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>
/// Runs our own CLI as a real process: btrfslite.dll (copied next to the test assembly) through dotnet, or, when the
/// environment names one in BTRFSLITE_CLI, that executable (the native build: .ci/run runs the CLI tests again
/// against it).
/// </summary>
public static class CliProcess
{
    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "btrfslite.dll");

    /// <summary>The native (or other) btrfslite executable the CLI tests run instead of the dll, or null.</summary>
    public static string? Executable => Environment.GetEnvironmentVariable("BTRFSLITE_CLI") is { Length: > 0 } exe ? exe : null;

    /// <summary>The command and leading arguments that start btrfslite.</summary>
    public static (string File, string[] Prefix) Command => Executable is string exe ? (exe, []) : ("dotnet", [DllPath]);

    /// <summary>The same as a shell command prefix (quoted).</summary>
    public static string ShellCommand => Executable is string exe ? $"'{exe}'" : $"dotnet '{DllPath}'";

    /// <summary>A start info for btrfslite with stdout and stderr redirected; the caller adds the arguments.</summary>
    public static ProcessStartInfo StartInfo(bool redirectInput = false)
    {
        var (file, prefix) = Command;
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = redirectInput, UseShellExecute = false };
        foreach (var a in prefix) psi.ArgumentList.Add(a);
        return psi;
    }

    public static RealTools.Result Run(params string[] args) =>
        RealTools.Run(Command.File, Command.Prefix.Concat(args).ToArray());
}
