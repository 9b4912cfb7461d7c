using BtrfsLite.Tests.Fs;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Quota;

/// <summary>A fact that needs the kernel harness (root, loop devices, kernel btrfs, btrfs-progs, python3); skipped otherwise.</summary>
public sealed class RequiresKernelHarnessFactAttribute : FactAttribute
{
    public RequiresKernelHarnessFactAttribute()
    {
        if (Needs.WhyNot(Need.BtrfsProgs, Need.RootLoopMount, Need.Python3) is { } why) Skip = why;
    }
}

public sealed class RequiresKernelHarnessTheoryAttribute : TheoryAttribute
{
    public RequiresKernelHarnessTheoryAttribute()
    {
        if (Needs.WhyNot(Need.BtrfsProgs, Need.RootLoopMount, Need.Python3) is { } why) Skip = why;
    }
}

/// <summary>The kernel harness on the kernel release the stored references were made on (else their numbers do not apply).</summary>
public sealed class RequiresReferenceKernelTheoryAttribute : TheoryAttribute
{
    public RequiresReferenceKernelTheoryAttribute()
    {
        if (Needs.WhyNot(Need.BtrfsProgs, Need.RootLoopMount, Need.Python3) is { } why) Skip = why;
        else if (KernelHarness.ReferenceKernel != KernelHarness.RunningKernel)
            Skip = $"the kernel references were made on Linux {KernelHarness.ReferenceKernel}, this is {KernelHarness.RunningKernel}";
    }
}

public sealed class RequiresPython3FactAttribute : FactAttribute
{
    public RequiresPython3FactAttribute()
    {
        if (Needs.WhyNot(Need.Python3) is { } why) Skip = why;
    }
}

/// <summary>
/// Not in parallel with other tests: their `sync` (KernelImages.WithMounted ends with one) would commit the
/// harness's filesystem mid-workload.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KernelAgreementCollection
{
    public const string Name = "kernel agreement";
}

/// <summary>
/// `btrfslite replay` against the Linux kernel, workload by workload (images/workloads/*.wl): both run the same
/// steps on a fresh image and print the qgroup counters after every step; they must agree on every step's
/// outcome, on referenced/exclusive (and the set of qgroups) after every commit (`sync`), on the limits, and on
/// rsv_data at every step except where the kernel itself was not repeatable.
/// </summary>
[Collection(KernelAgreementCollection.Name)]
public sealed class KernelAgreementTests
{
    /// <summary>
    /// Steps at which the kernel's own undisturbed runs disagreed (3 runs on Linux 6.18.44, see
    /// images/workloads/README.md): there a qgroup listed on one side only is allowed (the counters of the qgroups
    /// on both sides are still compared). rsv_data itself was identical at every step of every workload in those runs (also in 2 runs
    /// under CPU load); rsv_meta_* and the commit counts varied and are never compared.
    /// </summary>
    public static readonly IReadOnlyDictionary<(string Workload, int Step), string> Nondeterministic =
        new Dictionary<(string, int), string>
        {
            [("subvol-delete", 8)] = DeletedQgroup,
            [("subvol-delete", 12)] = DeletedQgroup,
            [("subvol-delete", 18)] = DeletedQgroup,
            // Not in the three reference runs; seen in two full test runs of 2026-12-07 (one under load, one not).
            [("stubs", 14)] = DeletedQgroup,
            [("stubs", 22)] = RemovedSubvolumeQgroup,
            [("stubs", 23)] = RemovedSubvolumeQgroup,
            // In 1 of the 3 reference runs and in a full test run of 2026-12-07 (fifth session): the cleaner's timing.
            [("rm-cleaner", 11)] = RemovedSubvolumeQgroup,
            [("rm-cleaner", 12)] = RemovedSubvolumeQgroup,
            // Not in the three reference runs; in 1 of 5 live runs of 2026-12-08 (eighth session): `subvolume sync`
            // returns once the ROOT_ITEM is gone, the qgroup goes in the cleaner's next transaction.
            [("cleaner-wake", 13)] = RemovedSubvolumeQgroup,
        };

    private const string RemovedSubvolumeQgroup =
        "`rm` of a tree holding subvolumes: the kernel's rmdir deletes each (empty) subvolume and its level-0 qgroup goes in the "
        + "transaction after the cleaner dropped the tree, which runs after the next commit beside the caller: still listed right "
        + "after the `rm`, and right after the next sync or `subvol sync` in some runs (gone in others), always gone after the one "
        + "after; the replay removes it once the next commit is done and something woke the cleaner (a writeback, a sync; see "
        + "FsSession.RunCleaner)";

    private const string DeletedQgroup =
        "the deleted subvolume's level-0 qgroup goes away in the commit after the cleaner dropped the tree, which fell inside "
        + "`subvol delete` (delete --commit-after + subvolume sync) in some runs and into the next step in others: right after "
        + "the delete it was still listed, all zeros, in 2 of 3 runs at each of steps 8, 12 and 18; always gone after the next sync";

    public static IEnumerable<object[]> Workloads() => KernelHarness.WorkloadNames().Select(n => new object[] { n });

    [RequiresKernelHarnessTheory]
    [MemberData(nameof(Workloads))]
    public void ReplayAgreesWithTheKernel(string workload)
    {
        using var tmp = new TempDir();
        var img = tmp.File("replay.img");
        var r = CliProcess.Run("replay", img, KernelHarness.WorkloadPath(workload), "--format", "json");
        Assert.True(r.ExitCode == 0, $"btrfslite replay {workload} exited {r.ExitCode}:\n{r.Stderr}");
        var ours = KernelHarness.Parse(r.Stdout, $"btrfslite replay {workload}");
        var kernel = KernelHarness.RunUndisturbed(workload, tmp);

        var diffs = Compare(workload, ours, kernel);
        Assert.True(diffs.Count == 0,
            $"{workload}: replay and kernel ({KernelHarness.RunningKernel}) disagree at {diffs.Count} point(s):\n" + string.Join("\n", diffs.Take(40)));

        WriterEndToEndTests.AssertClean(img, quota: ours.Count > 0 && ours[^1].Qgroups.Count > 0);
    }

    /// <summary>Every difference the agreement does not allow, one readable line each.</summary>
    public static List<string> Compare(string workload, IReadOnlyList<StepResult> ours, IReadOnlyList<StepResult> kernel)
    {
        var d = new List<string>();
        if (ours.Count != kernel.Count) d.Add($"number of steps: replay {ours.Count}, kernel {kernel.Count}");
        for (int i = 0; i < Math.Min(ours.Count, kernel.Count); i++)
        {
            var (o, k) = (ours[i], kernel[i]);
            string at = $"step {k.Step} `{k.Line}`";
            if (o.Step != k.Step || o.Line != k.Line) { d.Add($"{at}: the replay's step {i + 1} is {o.Step} `{o.Line}`"); continue; }
            if (o.Ok != k.Ok || o.Errno != k.Errno) d.Add($"{at}: replay {o.Outcome}, kernel {k.Outcome}");
            bool committed = k.Line == "sync";
            bool nondeterministic = Nondeterministic.ContainsKey((workload, k.Step));
            foreach (var id in k.QgroupIds.Union(o.QgroupIds))
            {
                bool inK = k.Qgroups.TryGetValue(id, out var kq), inO = o.Qgroups.TryGetValue(id, out var oq);
                if (!inK || !inO)
                {
                    if (!nondeterministic) d.Add($"{at}: qgroup {id} only in the {(inK ? "kernel" : "replay")}'s output");
                    continue;
                }
                if (kq!.RsvData != oq!.RsvData) d.Add($"{at}: {id} rsv_data replay {oq.RsvData}, kernel {kq.RsvData}");
                if (committed && kq.Referenced != oq.Referenced) d.Add($"{at}: {id} referenced replay {oq.Referenced}, kernel {kq.Referenced}");
                if (committed && kq.Exclusive != oq.Exclusive) d.Add($"{at}: {id} exclusive replay {oq.Exclusive}, kernel {kq.Exclusive}");
                if ((kq.LimitFlags, kq.MaxReferenced, kq.MaxExclusive) != (oq.LimitFlags, oq.MaxReferenced, oq.MaxExclusive))
                    d.Add($"{at}: {id} limit (flags, rfer, excl) replay {(oq.LimitFlags, oq.MaxReferenced, oq.MaxExclusive)}, kernel {(kq.LimitFlags, kq.MaxReferenced, kq.MaxExclusive)}");
            }
        }
        return d;
    }
}

/// <summary>
/// The subvolume tree's blocks as the kernel lays them out: the same workload on the kernel and through replay, then
/// every node's and leaf's item count in tree order from `btrfs inspect-internal dump-tree` on both final images.
/// `dir-index-batch` creates files in batches of different name lengths: the items' order (INODE_ITEM and INODE_REF
/// as one batch, DIR_ITEM at once, DIR_INDEX at the commit in batches of a leaf) and the leaf and node rules decide
/// each split.
/// </summary>
[Collection(KernelAgreementCollection.Name)]
public sealed class TreeLayoutAgreementTests
{
    [RequiresKernelHarnessFact]
    public void TheSubvolumeTreeHasTheKernelsLeavesItemForItem()
    {
        using var tmp = new TempDir();
        var wl = KernelHarness.WorkloadPath("dir-index-batch");
        var ours = CliProcess.Run("replay", tmp.File("ours.img"), wl);
        Assert.True(ours.ExitCode == 0, ours.All);
        var kernelRun = KernelHarness.Run(tmp.File("kernel.img"), wl, "--keep");
        Assert.True(kernelRun.ExitCode == 0, kernelRun.All);
        var o = Blocks(tmp.File("ours.img"));
        var k = Blocks(tmp.File("kernel.img"));
        Assert.True(k.Count > 5, string.Join(" ", k));
        Assert.Equal(k, o);
    }

    /// <summary>"node N" / "leaf N" per block of tree 5, in the order dump-tree prints them (depth first).</summary>
    private static List<string> Blocks(string image)
    {
        var r = RealTools.Run("btrfs", "inspect-internal", "dump-tree", "-t", "5", image);
        Assert.True(r.ExitCode == 0, r.All);
        var blocks = new List<string>();
        foreach (var line in r.Stdout.Split('\n'))
        {
            var m = System.Text.RegularExpressions.Regex.Match(line, @"^(node|leaf) \d+ (?:level \d+ )?items (\d+)");
            if (m.Success) blocks.Add(m.Groups[1].Value + " " + m.Groups[2].Value);
        }
        return blocks;
    }
}

/// <summary>The kernel harness on its own (no replay needed): output shape and the kernel's fixed behaviour.</summary>
[Collection(KernelAgreementCollection.Name)]
public sealed class KernelHarnessTests
{
    [RequiresKernelHarnessFact]
    public void SeedScenarioHasTheShapeAndTheFixedKernelBehaviour()
    {
        using var tmp = new TempDir();
        var wl = KernelHarness.WorkloadPath("seed");
        var (_, expectedLines) = KernelHarness.ParseWorkload(wl);

        // The plain output: exactly the six keys, in order, one object per step.
        var img = tmp.File("seed.img");
        var r = KernelHarness.Run(img, wl);
        Assert.True(r.ExitCode == 0, r.All);
        Assert.False(File.Exists(img), "the image is removed without --keep");
        Assert.Equal("", RealTools.Run("losetup", "-j", img).Stdout.Trim());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(expectedLines.Count, lines.Length);
        foreach (var line in lines)
        {
            using var doc = System.Text.Json.JsonDocument.Parse(line);
            Assert.Equal(KernelHarness.Keys, doc.RootElement.EnumerateObject().Select(p => p.Name));
            foreach (var q in doc.RootElement.GetProperty("qgroups").EnumerateObject())
                Assert.Equal(KernelHarness.Fields, q.Value.EnumerateObject().Select(p => p.Name));
        }
        var plain = KernelHarness.Parse(r.Stdout, "kernel run of seed");
        Assert.Equal(expectedLines, plain.Select(s => s.Line));
        Assert.Equal(Enumerable.Range(1, expectedLines.Count), plain.Select(s => s.Step));

        // The behaviour, from an undisturbed run (no commit by another process).
        var run = KernelHarness.RunUndisturbed("seed", tmp);
        Assert.Equal(13, run.Count);
        Assert.All(run, s => Assert.True(s.Ok && s.Errno == null, $"step {s.Step} `{s.Line}`: {s.Outcome}"));
        Assert.All(run, s => Assert.Equal(s.Line.StartsWith("write ", StringComparison.Ordinal) ? (long?)(2L << 20) : null, s.Written));
        Assert.All(run, s => Assert.Equal(s.QgroupIds.OrderBy(Level).ThenBy(Id), s.QgroupIds));
        Assert.Equal(new[] { "0/5" }, run[0].QgroupIds);
        var limit = run[1].Qgroups["0/5"];
        Assert.Equal((2UL, 16UL << 20, 0UL), (limit.LimitFlags, limit.MaxExclusive, limit.MaxReferenced));
        foreach (var s in run.Skip(2).Take(10))
        {
            // Ten rewrites of the same dirty 2 MiB reserve it once: no EDQUOT, 2 MiB reserved until the commit.
            var q = s.Qgroups["0/5"];
            Assert.True(q.RsvData == 2UL << 20, $"step {s.Step}: rsv_data {q.RsvData}");
            Assert.Equal((16384UL, 16384UL), (q.Referenced, q.Exclusive));
        }
        var end = run[12].Qgroups["0/5"];
        Assert.Equal("sync", run[12].Line);
        Assert.Equal((0UL, 0UL, 0UL), (end.RsvData, end.RsvMetaPertrans, end.RsvMetaPrealloc));
        Assert.Equal((16384UL + (2UL << 20), 16384UL + (2UL << 20)), (end.Referenced, end.Exclusive));
    }

    /// <summary>The live kernel still does what its stored reference says (the agreement rules, kernel against kernel).</summary>
    [RequiresReferenceKernelTheory]
    [MemberData(nameof(KernelAgreementTests.Workloads), MemberType = typeof(KernelAgreementTests))]
    public void KernelReproducesItsStoredReference(string workload)
    {
        using var tmp = new TempDir();
        var live = KernelHarness.RunUndisturbed(workload, tmp);
        var diffs = KernelAgreementTests.Compare(workload, live, KernelHarness.LoadReference(workload));
        Assert.True(diffs.Count == 0, $"{workload}: the kernel no longer matches {KernelHarness.ReferencePath(workload)}:\n" + string.Join("\n", diffs.Take(40)));
    }

    /// <summary>The comparison itself: a stream agrees with itself, and each kind of difference is reported.</summary>
    [Fact]
    public void AgreementRulesAcceptTheSameStreamAndReportEachKindOfDifference()
    {
        foreach (var name in KernelHarness.WorkloadNames())
        {
            var reference = KernelHarness.LoadReference(name);
            Assert.Empty(KernelAgreementTests.Compare(name, reference, reference));
        }

        var k = KernelHarness.LoadReference("limit-overrun");
        static StepResult With(StepResult s, Func<QgroupCounters, QgroupCounters> change) => s with
        {
            Qgroups = s.Qgroups.ToDictionary(p => p.Key, p => change(p.Value)),
        };
        var o = k.ToList();
        o[2] = o[2] with { Ok = true, Errno = null };                              // the short write did not fail
        o[7] = With(o[7], q => q with { RsvData = q.RsvData + 4096 });              // rsv_data at a write
        o[8] = With(o[8], q => q with { Exclusive = q.Exclusive - 4096 });          // exclusive after a sync
        o[7] = With(o[7], q => q with { Referenced = 1 });                          // referenced at a non-sync step: not compared
        o[9] = With(o[9], q => q with { LimitFlags = 2 });                           // the limit was not cleared
        var d = KernelAgreementTests.Compare("limit-overrun", o, k);
        Assert.Equal(new[]
        {
            "step 3 `write big 0 20M 1`: replay ok, kernel failed EDQUOT",
            "step 8 `write again 0 12M 3`: 0/5 rsv_data replay 12587008, kernel 12582912",
            "step 9 `sync`: 0/5 exclusive replay 12595200, kernel 12599296",
            "step 10 `limit excl 0/5 none`: 0/5 limit (flags, rfer, excl) replay (2, 0, 0), kernel (0, 0, 0)",
        }, d);
        Assert.Equal(new[] { "number of steps: replay 11, kernel 12" }, KernelAgreementTests.Compare("limit-overrun", k.Take(11).ToList(), k));

        // A qgroup on one side only: a difference, except at the steps the kernel itself did not repeat.
        var sd = KernelHarness.LoadReference("subvol-delete");
        static StepResult Without(StepResult s, string id) => s with
        {
            QgroupIds = s.QgroupIds.Where(q => q != id).ToList(),
            Qgroups = s.Qgroups.Where(p => p.Key != id).ToDictionary(p => p.Key, p => p.Value),
        };
        var gone = sd.ToList();
        Assert.Contains("0/258", gone[11].QgroupIds);                                // still listed in the reference
        gone[11] = Without(gone[11], "0/258");
        gone[6] = Without(gone[6], "0/257");
        Assert.Equal(new[] { "step 7 `sync`: qgroup 0/257 only in the kernel's output" }, KernelAgreementTests.Compare("subvol-delete", gone, sd));
    }

    private static int Level(string id) => int.Parse(id[..id.IndexOf('/')]);
    private static ulong Id(string id) => ulong.Parse(id[(id.IndexOf('/') + 1)..]);

    [RequiresPython3Fact]
    public void EveryWorkloadParsesAndHasAMatchingKernelReference()
    {
        var names = KernelHarness.WorkloadNames().ToList();
        Assert.True(names.Count >= 14, $"{names.Count} workloads");
        var readme = File.ReadAllText(Path.Combine(KernelHarness.WorkloadDir, "README.md"));
        Assert.Contains(KernelHarness.ReferenceKernel, readme);
        foreach (var name in names)
        {
            var (size, steps) = KernelHarness.ParseWorkload(KernelHarness.WorkloadPath(name));
            Assert.True(size <= 1UL << 30, $"{name}: size {size}");
            // Short enough to run live in every CI run; the tree-layout workloads need a hundred or more file creates.
            Assert.True(steps.Count is >= 3 and <= 200, $"{name}: {steps.Count} steps");
            Assert.Contains("sync", steps);
            Assert.Contains($"`{name}`", readme);
            Assert.True(File.Exists(KernelHarness.ReferencePath(name)), $"{name}: no kernel reference");
            var reference = KernelHarness.LoadReference(name);
            Assert.Equal(steps, reference.Select(s => s.Line));
            Assert.Equal(Enumerable.Range(1, steps.Count), reference.Select(s => s.Step));
            Assert.All(reference, s => Assert.NotNull(s.Commits));
        }
        foreach (var ((workload, step), _) in KernelAgreementTests.Nondeterministic)
            Assert.True(names.Contains(workload) && step <= KernelHarness.LoadReference(workload).Count, $"{workload} step {step}");
    }
}

/// <summary>
/// A generated workload (bench/make-replay-workload.py: 2,000 steps of random writes, fsync, truncate, punch,
/// fallocate and reflinks over 512 files in the top level and a subvolume, a parent qgroup, a snapshot, a sync every
/// 100 steps, a final rescan) on the kernel and on btrfs replay: every step has the same outcome, bytes written and
/// rsv_data; both file systems hold the same files with the same bytes; final referenced/exclusive differ only by
/// whole tree blocks (our B-tree splits leaves differently from the kernel's, so the subvolume trees differ in size).
/// </summary>
[Collection(KernelAgreementCollection.Name)]
public sealed class GeneratedWorkloadAgreementTests
{
    [RequiresKernelHarnessFact]
    public void TwoThousandRandomStepsAgreeWithTheKernel()
    {
        using var tmp = new TempDir();
        var wl = tmp.File("gen.wl");
        var gen = RealTools.Run("python3", Path.Combine(KernelHarness.RepoRoot, "bench", "make-replay-workload.py"), "2000");
        Assert.True(gen.ExitCode == 0, gen.All);
        File.WriteAllText(wl, gen.Stdout);
        var ours = CliProcess.Run("replay", tmp.File("ours.img"), wl, "--format", "json");
        Assert.True(ours.ExitCode == 0, ours.All);
        var kernelRun = KernelHarness.Run(tmp.File("kernel.img"), wl, "--keep");
        Assert.True(kernelRun.ExitCode == 0, kernelRun.All);
        var o = KernelHarness.Parse(ours.Stdout, "replay");
        var k = KernelHarness.Parse(kernelRun.Stdout, "kernel");
        Assert.Equal(k.Count, o.Count);
        var diffs = new List<string>();
        for (int i = 0; i < k.Count; i++)
        {
            if (o[i].Errno != k[i].Errno || o[i].Written != k[i].Written) diffs.Add($"step {k[i].Step} `{k[i].Line}`: replay {o[i].Outcome} {o[i].Written}, kernel {k[i].Outcome} {k[i].Written}");
            foreach (var id in k[i].QgroupIds)
                if (o[i].Qgroups.TryGetValue(id, out var oq) && oq.RsvData != k[i].Qgroups[id].RsvData)
                    diffs.Add($"step {k[i].Step} `{k[i].Line}`: {id} rsv_data replay {oq.RsvData}, kernel {k[i].Qgroups[id].RsvData}");
        }
        Assert.True(diffs.Count == 0, string.Join("\n", diffs.Take(20)));
        foreach (var id in k[^1].QgroupIds)
        {
            var (oq, kq) = (o[^1].Qgroups[id], k[^1].Qgroups[id]);
            Assert.True((oq.Referenced - kq.Referenced) % 16384 == 0 && (oq.Exclusive - kq.Exclusive) % 16384 == 0,
                $"{id}: replay {oq.Referenced}/{oq.Exclusive}, kernel {kq.Referenced}/{kq.Exclusive}: not whole tree blocks apart");
        }
        WriterEndToEndTests.AssertClean(tmp.File("ours.img"), quota: true);
        // Same files, same bytes: both images mounted read-only side by side.
        var mo = Directory.CreateDirectory(tmp.File("mo")).FullName;
        var mk = Directory.CreateDirectory(tmp.File("mk")).FullName;
        try
        {
            Assert.Equal(0, RealTools.Run("mount", "-o", "loop,ro", tmp.File("ours.img"), mo).ExitCode);
            Assert.Equal(0, RealTools.Run("mount", "-o", "loop,ro", tmp.File("kernel.img"), mk).ExitCode);
            var diff = RealTools.Run("diff", "-r", "--no-dereference", mo, mk);
            Assert.True(diff.ExitCode == 0, diff.All.Length > 2000 ? diff.All[..2000] : diff.All);
        }
        finally
        {
            RealTools.Run("umount", mo);
            RealTools.Run("umount", mk);
        }
    }
}
