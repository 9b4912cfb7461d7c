using System.Text.Json;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Quota;

/// <summary>One qgroup's counters after a step: the sysfs files of /sys/fs/btrfs/FSID/qgroups/L_ID (or the replay's model).</summary>
public sealed record QgroupCounters(
    ulong Referenced, ulong Exclusive, ulong RsvData, ulong RsvMetaPertrans, ulong RsvMetaPrealloc,
    ulong MaxReferenced, ulong MaxExclusive, ulong LimitFlags);

/// <summary>
/// One line of a replay stream (`btrfslite replay --format json` or tools/kernel-replay.py):
/// {"step", "line", "ok", "errno", "written", "qgroups"} and, from the kernel harness with --commits, "commits".
/// </summary>
public sealed record StepResult(
    int Step, string Line, bool Ok, string? Errno, long? Written,
    IReadOnlyList<string> QgroupIds, IReadOnlyDictionary<string, QgroupCounters> Qgroups, int? Commits)
{
    public string Outcome => Ok ? "ok" : $"failed {Errno}";
}

/// <summary>
/// The kernel side of the agreement tests: tools/kernel-replay.py (python3, root, loop devices, btrfs-progs),
/// the workloads in images/workloads and their stored kernel references (NAME.kernel.jsonl).
/// </summary>
public static class KernelHarness
{
    public static readonly string[] Fields =
        { "referenced", "exclusive", "rsv_data", "rsv_meta_pertrans", "rsv_meta_prealloc", "max_referenced", "max_exclusive", "limit_flags" };
    public static readonly string[] Keys = { "step", "line", "ok", "errno", "written", "qgroups" };

    public static string RepoRoot
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "BtrfsLite.sln"))) return d.FullName;
            throw new DirectoryNotFoundException("repository root (BtrfsLite.sln) not found above " + AppContext.BaseDirectory);
        }
    }

    public static string Script => Path.Combine(RepoRoot, "tools", "kernel-replay.py");
    public static string WorkloadDir => Path.Combine(RepoRoot, "images", "workloads");
    public static string WorkloadPath(string name) => Path.Combine(WorkloadDir, name + ".wl");
    public static string ReferencePath(string name) => Path.Combine(WorkloadDir, name + ".kernel.jsonl");

    public static IEnumerable<string> WorkloadNames() =>
        Directory.GetFiles(WorkloadDir, "*.wl").Select(p => Path.GetFileNameWithoutExtension(p)).Order(StringComparer.Ordinal);

    /// <summary>The Linux release the stored references were made on (images/workloads/kernel-version.txt).</summary>
    public static string ReferenceKernel => File.ReadAllText(Path.Combine(WorkloadDir, "kernel-version.txt")).Trim();

    public static string RunningKernel => File.ReadAllText("/proc/sys/kernel/osrelease").Trim();

    public static RealTools.Result Run(string image, string workloadPath, params string[] options) =>
        RealTools.Run("python3", new[] { Script, image, workloadPath }.Concat(options).ToArray());

    /// <summary>The steps of a workload as the harness parses them (`--parse`, no root needed).</summary>
    public static (ulong Size, List<string> Steps) ParseWorkload(string workloadPath)
    {
        var r = RealTools.Run("python3", Script, "--parse", workloadPath);
        if (r.ExitCode != 0) throw new InvalidDataException($"{workloadPath}: {r.Stderr.Trim()}");
        using var doc = JsonDocument.Parse(r.Stdout);
        return (doc.RootElement.GetProperty("size").GetUInt64(),
                doc.RootElement.GetProperty("steps").EnumerateArray().Select(e => e.GetString()!).ToList());
    }

    /// <summary>Parses a JSON-lines replay stream, checking its shape; <paramref name="what"/> names it in errors.</summary>
    public static List<StepResult> Parse(string jsonl, string what)
    {
        var steps = new List<StepResult>();
        int lineNo = 0;
        foreach (var raw in jsonl.Split('\n'))
        {
            lineNo++;
            if (raw.Trim().Length == 0) continue;
            try
            {
                using var doc = JsonDocument.Parse(raw);
                steps.Add(ParseStep(doc.RootElement));
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException or InvalidDataException)
            {
                throw new InvalidDataException($"{what}, line {lineNo}: {e.Message}: {raw}", e);
            }
        }
        return steps;
    }

    private static StepResult ParseStep(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object) throw new InvalidDataException("not a JSON object");
        foreach (var k in Keys)
            if (!e.TryGetProperty(k, out _)) throw new InvalidDataException($"no \"{k}\"");
        var ids = new List<string>();
        var q = new Dictionary<string, QgroupCounters>(StringComparer.Ordinal);
        foreach (var p in e.GetProperty("qgroups").EnumerateObject())
        {
            ulong F(string name) => p.Value.GetProperty(name).GetUInt64();
            ids.Add(p.Name);
            q.Add(p.Name, new QgroupCounters(F("referenced"), F("exclusive"), F("rsv_data"), F("rsv_meta_pertrans"),
                F("rsv_meta_prealloc"), F("max_referenced"), F("max_exclusive"), F("limit_flags")));
        }
        var errno = e.GetProperty("errno");
        var written = e.GetProperty("written");
        int? commits = e.TryGetProperty("commits", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : null;
        return new StepResult(
            e.GetProperty("step").GetInt32(),
            e.GetProperty("line").GetString() ?? throw new InvalidDataException("\"line\" is null"),
            e.GetProperty("ok").GetBoolean(),
            errno.ValueKind == JsonValueKind.Null ? null : errno.GetString(),
            written.ValueKind == JsonValueKind.Null ? null : written.GetInt64(),
            ids, q, commits);
    }

    public static List<StepResult> LoadReference(string name) => Parse(File.ReadAllText(ReferencePath(name)), ReferencePath(name));

    /// <summary>
    /// Steps whose number of kernel commits varied between undisturbed runs: the rescan of `quota enable`,
    /// `quota rescan` and of an assign/remove that marked the qgroups inconsistent (2 or 4 commits), and
    /// `subvol delete` (1 or 2: whether the commit after the cleaner's drop falls into it or into the next step).
    /// </summary>
    public static bool CommitsVary(string line, string? previousLine) =>
        line.StartsWith("quota enable", StringComparison.Ordinal) || line.StartsWith("quota rescan", StringComparison.Ordinal)
        || line.StartsWith("qgroup assign", StringComparison.Ordinal) || line.StartsWith("qgroup remove", StringComparison.Ordinal)
        || line.StartsWith("subvol delete", StringComparison.Ordinal)
        || (previousLine?.StartsWith("subvol delete", StringComparison.Ordinal) ?? false);

    /// <summary>
    /// Runs the workload on the kernel. Any sync(2) on the machine (another test's `sync`, another user) commits
    /// every mounted btrfs, which moves reservations into rfer/excl mid-workload; such a run is told by its commit
    /// counts (--commits) differing from the stored reference's, and is run again (3 attempts). On a kernel other
    /// than the reference's the commit counts cannot be judged and the first run is taken.
    /// </summary>
    public static List<StepResult> RunUndisturbed(string name, TempDir tmp)
    {
        List<StepResult>? reference = File.Exists(ReferencePath(name)) ? LoadReference(name) : null;
        bool judge = reference != null && ReferenceKernel == RunningKernel;
        var notes = new List<string>();
        for (int attempt = 1; attempt <= 3; attempt++)
        {
            var img = tmp.File($"kernel-{name}-{attempt}.img");
            var r = Run(img, WorkloadPath(name), "--commits");
            if (r.ExitCode != 0) throw new InvalidOperationException($"kernel-replay.py {name} failed (exit {r.ExitCode}): {r.Stderr.Trim()}");
            var run = Parse(r.Stdout, $"kernel run of {name}");
            if (!judge || reference!.Count != run.Count || reference.Zip(run).Any(p => p.First.Line != p.Second.Line)) return run;
            var odd = new List<string>();
            for (int i = 0; i < run.Count; i++)
                if (!CommitsVary(run[i].Line, i > 0 ? run[i - 1].Line : null) && run[i].Commits != reference[i].Commits)
                    odd.Add($"step {run[i].Step} `{run[i].Line}`: {run[i].Commits} commits, reference {reference[i].Commits}");
            if (odd.Count == 0) return run;
            notes.Add($"attempt {attempt}: " + string.Join("; ", odd));
        }
        throw new InvalidOperationException(
            $"the kernel run of {name} was disturbed 3 times (commits the workload did not make: another process synced?):\n"
            + string.Join("\n", notes));
    }
}
