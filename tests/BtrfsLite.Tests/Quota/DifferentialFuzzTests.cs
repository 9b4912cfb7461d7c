using BtrfsLite.Tests.Fs;
using BtrfsLite.Tests.Support;
using BtrfsLite.Workloads;
using Xunit.Abstractions;

namespace BtrfsLite.Tests.Quota;

/// <summary>
/// tools/fuzz-workloads.py, the differential fuzzer: its generator (deterministic, every workload parses on both
/// sides) and a bounded run of seeds against the live kernel (the soak mode runs for hours, outside the tests).
/// </summary>
[Collection(KernelAgreementCollection.Name)]
public sealed class DifferentialFuzzTests
{
    private readonly ITestOutputHelper _out;
    public DifferentialFuzzTests(ITestOutputHelper output) => _out = output;

    private static string Fuzzer => Path.Combine(KernelHarness.RepoRoot, "tools", "fuzz-workloads.py");

    [RequiresPython3Fact]
    public void TheGeneratorIsDeterministicAndEveryWorkloadParsesOnBothSides()
    {
        using var tmp = new TempDir();
        for (int seed = 1; seed <= 20; seed++)
        {
            var a = RealTools.Run("python3", Fuzzer, "--generate", seed.ToString(), "--steps", "150");
            var b = RealTools.Run("python3", Fuzzer, "--generate", seed.ToString(), "--steps", "150");
            Assert.True(a.ExitCode == 0, a.All);
            Assert.Equal(a.Stdout, b.Stdout);
            var wl = Workload.Parse(a.Stdout, $"seed {seed}");
            Assert.True(wl.Steps.Count >= 150, $"seed {seed}: {wl.Steps.Count} steps");
            var path = tmp.File($"s{seed}.wl");
            File.WriteAllText(path, a.Stdout);
            var (_, steps) = KernelHarness.ParseWorkload(path);
            Assert.Equal(wl.Steps.Count, steps.Count);
        }
        // Sharing is what it is for: snapshots, clones and subvolume deletes in every workload.
        var text = RealTools.Run("python3", Fuzzer, "--generate", "3", "--steps", "150").Stdout;
        Assert.Contains("\nsnapshot ", text);
        Assert.Contains("\nclone ", text);
        Assert.Contains("\nsubvol delete ", text);
    }

    /// <summary>
    /// The comparison's rule for qgroups of subvolumes removed by `rm`: one that leaves the replay's list at a step
    /// that is no successful `subvol delete` is the kernel's cleaner timing (a note), even when that step is a failing
    /// delete (seed 10048: the replay's cleaner ran at its start); one that leaves at a successful delete is compared.
    /// </summary>
    [RequiresPython3Fact]
    public void AQgroupGoneAtAFailingSubvolDeleteAfterAnRmIsTheCleanersTiming()
    {
        const string script = """
            import importlib.util, sys
            spec = importlib.util.spec_from_file_location("fz", sys.argv[1])
            fz = importlib.util.module_from_spec(spec); spec.loader.exec_module(fz)
            q = {"referenced": 0, "exclusive": 0, "rsv_data": 0, "max_referenced": 0, "max_exclusive": 0, "limit_flags": 0}
            def step(n, line, ok, qs): return {"step": n, "line": line, "ok": ok, "errno": None if ok else "ENOENT", "written": None, "qgroups": {k: dict(q) for k in qs}}
            for ok in (False, True):
                ours = [step(1, "rm d", True, ["0/5", "0/257"]), step(2, "subvol delete d/x", ok, ["0/5"])]
                kern = [step(1, "rm d", True, ["0/5", "0/257"]), step(2, "subvol delete d/x", ok, ["0/5", "0/257"])]
                fails, notes = fz.compare(ours, kern, False)
                print(ok, [f[0] for f in fails], [n[0] for n in notes])
            """;
        var r = RealTools.Run("python3", "-c", script, Fuzzer);
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Equal(["False [] ['rm-cleaner']", "True ['qgroups'] []"], r.Stdout.Trim().Split('\n'));
    }

    /// <summary>
    /// Replays the first <paramref name="steps"/> steps of a generated workload and a sync (the last step must be
    /// <paramref name="last"/>); the replay must run through.
    /// </summary>
    private static List<StepResult> ReplayPrefix(TempDir tmp, int seed, int steps, string last, out string img)
    {
        var all = RealTools.Run("python3", Fuzzer, "--generate", seed.ToString(), "--steps", "150").Stdout.Split('\n');
        int size = Array.FindIndex(all, l => l.StartsWith("size "));
        Assert.Equal(last, all[size + steps]);
        var wl = tmp.File($"s{seed}-{steps}.wl");
        File.WriteAllLines(wl, all.Skip(size).Take(steps + 1).Append("sync"));
        img = tmp.File($"s{seed}-{steps}.img");
        var r = CliProcess.Run("replay", img, wl, "--format", "json");
        Assert.True(r.ExitCode == 0, $"replay exited {r.ExitCode}: {r.Stderr}");
        return KernelHarness.Parse(r.Stdout, "replay");
    }

    /// <summary>
    /// Seed 9326's step 69 is a zero range at a limit whose metadata reservation fails after its flush: the kernel says
    /// EDQUOT and the file keeps its bytes. The replay had dropped the range's extents before reserving, the flush
    /// committed that, and the file lost 140 KiB to zeros behind the EDQUOT.
    /// </summary>
    [RequiresPython3Fact]
    public void AZeroRangeThatFailsWithEdquotLeavesTheBytes()
    {
        using var tmp = new TempDir();
        byte[] F1(string img)
        {
            WriterEndToEndTests.AssertClean(img, quota: true);
            using var fs = BtrfsLite.Fs.Filesystem.OpenReadOnly(img);
            return fs.ReadAll("s2/f1");
        }
        ReplayPrefix(tmp, 9326, 68, "reflink s2/s3/f7 d0/s1/d1/d0/f6", out var beforeImg);
        var before = F1(beforeImg);
        Assert.Contains(before.AsSpan(724992, 140 << 10).ToArray(), b => b != 0);
        var steps = ReplayPrefix(tmp, 9326, 69, "zero s2/f1 724992 140K", out var afterImg);
        Assert.Equal("EDQUOT", steps[68].Errno);
        Assert.Equal(before, F1(afterImg));
    }

    /// <summary>
    /// The bounded CI run: these seeds, 40 steps each, agree with the kernel on every compared point (steps, files,
    /// full btrfs check and ours on both images). Wider runs still disagree (the README's fuzzer section says where).
    /// </summary>
    [RequiresKernelHarnessFact]
    public void BoundedSeedsAgreeWithTheKernel() => AssertSeedsAgree(CiSeeds, steps: 40);

    private void AssertSeedsAgree(string seeds, int steps)
    {
        var r = RealTools.Run("python3", Fuzzer, "--seeds", seeds, "--steps", steps.ToString(), "--no-shrink",
            "--btrfslite", CliProcess.Executable ?? $"dotnet {CliProcess.DllPath}");
        _out.WriteLine(r.Stdout);
        Assert.True(r.ExitCode == 0, $"the fuzzer found disagreements (exit {r.ExitCode}):\n{r.Stdout}\n{r.Stderr}");
    }

    /// <summary>Seeds run in CI (see the README's note on the fuzzer for what the wider runs found).</summary>
    public const string CiSeeds = "2,4,5,7,8,10,15,20";

    /// <summary>
    /// Seeds of 150 steps that once disagreed and agree since their fix: the qgroup of a subvolume dropped while
    /// inconsistent (5, 24, 202: kept in memory by the kernel, or not; 6: the quick update wrapping a frozen parent),
    /// a subvolume deleted in the transaction its qgroup joined a parent (38), qgroups of subvolumes removed with
    /// `rm` (211), a small file's first sector written inline again (258), `rm -r` over a read-only snapshot (955),
    /// a snapshot's older preallocated space copied on write (9002), a zero range failing with EDQUOT keeps the bytes
    /// (9326), fsync committing after a data chunk was made in the transaction (975: a data space reservation past
    /// the data groups; 1102: a preallocation of another size class).
    /// </summary>
    [RequiresKernelHarnessFact]
    public void LongSeedsThatOnceDisagreedAgreeWithTheKernel() => AssertSeedsAgree(LongCiSeeds, steps: 150);

    /// <summary>The 150-step seeds run in CI.</summary>
    public const string LongCiSeeds = "5,6,24,38,202,211,258,955,975,1102,9002,9326";
}
