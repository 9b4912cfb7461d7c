using BtrfsLite.Check;
using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.IO;
using BtrfsLite.Images;
using BtrfsLite.Tests.Support;
using Xunit.Abstractions;

namespace BtrfsLite.Tests.Crash;

/// <summary>
/// Every changing command, run for real (the CLI code in-process), with the N-th device write failing and, separately,
/// the N-th allocation failing with ENOSPC, for every N until the command gets through. After each failure the
/// committed state must be the one before: no superblock written, and every write that reached the device inside
/// space that no tree of the last commit references (so the committed trees and data are byte-identical); our check
/// clean. Where a failure comes after the commit point (a mirror superblock) the command succeeds and the new state is
/// checked. btrfs check (full and --qgroup-report) judges the starting images and every state a command committed.
/// </summary>
[Collection(InProcessCliCollection.Name)]
[Trait("Category", "Crash")]
public sealed class FaultSweepTests : IClassFixture<FaultSweepTests.Bases>
{
    private readonly Bases _b;
    private readonly ITestOutputHelper _out;

    public FaultSweepTests(Bases b, ITestOutputHelper output)
    {
        _b = b;
        _out = output;
    }

    /// <summary>Two starting images (quotas off and on) and a host tree to copy in, made once.</summary>
    public sealed class Bases : IDisposable
    {
        public TempDir Tmp { get; } = new();
        public string Plain { get; }
        public string Quota { get; }
        public string HostTree { get; }

        public Bases()
        {
            Plain = Tmp.File("plain.img");
            Cli("mkfs", Plain, "--size", "128M", "--deterministic");
            Cli("mkdir", Plain, "d/e", "-p");
            Cli("write", Plain, "d/f1", "--length", "300K", "--pattern", "1");
            Cli("write", Plain, "d/f2", "--length", "5000", "--pattern", "2");
            Cli("write", Plain, "small", "--length", "100", "--pattern", "3");
            Cli("write", Plain, "d/e/h", "--length", "40K", "--pattern", "4");
            Cli("ln", "-s", Plain, "d/f1", "d/sym");
            Cli("subvolume", "create", Plain, "sv");
            Cli("write", Plain, "sv/g", "--length", "200K", "--pattern", "5");
            Quota = Tmp.File("quota.img");
            File.Copy(Plain, Quota);
            Cli("quota", "enable", Quota);
            Cli("qgroup", "create", "1/100", Quota);

            HostTree = Directory.CreateDirectory(Tmp.File("host")).FullName;
            Directory.CreateDirectory(Path.Combine(HostTree, "sub"));
            var rnd = new Random(9);
            for (int i = 0; i < 7; i++)
            {
                var bytes = new byte[i == 0 ? 300_000 : 700 * i];
                rnd.NextBytes(bytes);
                File.WriteAllBytes(Path.Combine(HostTree, i % 2 == 0 ? "sub" : ".", $"file{i}"), bytes);
            }
            File.CreateSymbolicLink(Path.Combine(HostTree, "link"), "sub/file0");
        }

        public void Dispose() => Tmp.Dispose();
    }

    private static void Cli(params string[] args)
    {
        var r = InProcessCli.Run(args);
        Assert.True(r.ExitCode == 0, $"btrfslite {string.Join(' ', args)}: exit {r.ExitCode}: {r.All}");
    }

    public sealed record Case(string Name, bool Quota, string[] Args)
    {
        public override string ToString() => Name;
    }

    private const string Img = "IMG";

    public static TheoryData<Case> Cases() => new()
    {
        new("write", false, new[] { "write", Img, "d/new", "--length", "600K", "--pattern", "7" }),
        new("write with quotas", true, new[] { "write", Img, "d/f1", "--offset", "100K", "--length", "300K", "--pattern", "8" }),
        new("fallocate", false, new[] { "fallocate", Img, "d/fa", "--length", "1M" }),
        new("punch", false, new[] { "punch", Img, "d/f1", "--offset", "10K", "--length", "100K" }),
        new("truncate", false, new[] { "truncate", Img, "d/f1", "--size", "50K" }),
        new("cp-in", false, new[] { "cp-in", Img, "HOST", "imported", "--no-progress" }),
        new("cp-in in batches", false, new[] { "cp-in", Img, "HOST", "imported", "--no-progress", "--commit-files", "3" }),
        new("reflink", false, new[] { "reflink", Img, "d/f1", "sv/f1.ref" }),
        new("clone-range", false, new[] { "clone-range", Img, "d/f1", "0", "64K", "d/e/h", "8K" }),
        new("snapshot", true, new[] { "subvolume", "snapshot", Img, "sv", "snap" }),
        new("subvolume create", true, new[] { "subvolume", "create", Img, "sv2" }),
        new("subvolume delete", true, new[] { "subvolume", "delete", Img, "sv" }),
        new("rm -r", true, new[] { "rm", Img, "d", "-r" }),
        new("mv", false, new[] { "mv", Img, "d/f2", "d/e/moved" }),
        new("ln", false, new[] { "ln", Img, "d/f1", "d/e/hard" }),
        new("quota enable", false, new[] { "quota", "enable", Img }),
        new("quota rescan", true, new[] { "quota", "rescan", Img }),
        new("qgroup assign", true, new[] { "qgroup", "assign", "0/256", "1/100", Img }),
    };

    [Theory, MemberData(nameof(Cases))]
    public void EveryFailedWriteOrAllocationLeavesTheLastCommitIntact(Case c)
    {
        using var tmp = new TempDir();
        var pristine = c.Quota ? _b.Quota : _b.Plain;
        var work = tmp.File("work.img");
        File.Copy(pristine, work);
        var referenced = ReferencedSpace(pristine);
        var args = c.Args.Select(a => a == Img ? work : a == "HOST" ? _b.HostTree : a).ToArray();
        var committed = new List<string>();
        int runs = 0;

        foreach (bool allocations in new[] { false, true })
        {
            for (long n = 1; ; n++)
            {
                var plan = new FaultPlan { FailWrite = allocations ? 0 : n, FailAllocation = allocations ? n : 0 };
                FaultPlan.CurrentSlot.Value = plan;
                RealTools.Result r;
                try { r = InProcessCli.Run(args); }
                finally { FaultPlan.CurrentSlot.Value = null; }
                runs++;
                string what = $"{c.Name}: {(allocations ? "allocation" : "write")} #{n} fails";
                Assert.DoesNotContain("   at ", r.Stderr); // never a stack trace
                bool hit = allocations ? plan.Allocations >= n : plan.Writes >= n;
                bool superLanded = plan.Landed.Any(w => TouchesSuperblock(w.Offset, w.Length));

                if (r.ExitCode == 0 || superLanded)
                {
                    // Committed (the fault was after the commit point, or never hit): the new state must be clean.
                    Assert.True(r.ExitCode == 0 || (c.Name.StartsWith("cp-in") && r.Stderr.Contains("stay committed")),
                        $"{what}: the commit point passed but the command said: exit {r.ExitCode} {r.Stderr}");
                    var report = Checker.Check(work);
                    Assert.True(report.IsClean, $"{what}: committed state: " + string.Join("\n", report.Findings.Take(10)));
                    committed.Add(Snapshot(work, tmp, $"{(allocations ? "a" : "w")}{n}"));
                }
                else
                {
                    Assert.True(r.ExitCode is 1 or 5, $"{what}: exit {r.ExitCode}: {r.Stderr}");
                    foreach (var w in plan.Landed)
                        Assert.False(referenced.Overlaps(w.Offset, w.Length),
                            $"{what}: a write of {w.Length} bytes at {w.Offset} reached space the last commit references (exit {r.ExitCode}: {r.Stderr.Trim()})");
                    var report = Checker.Check(work);
                    Assert.True(report.IsClean, $"{what}: " + string.Join("\n", report.Findings.Take(10)));
                }
                Restore(pristine, work, plan);
                if (!hit) break; // the command ran without meeting the fault: every point has been tried
                Assert.True(n < 2000, $"{what}: the sweep does not end");
            }
        }
        _out.WriteLine($"{c.Name}: {runs} runs, {committed.Count} committed states judged by btrfs check");

        if (!RealTools.HasBtrfsProgs) return;
        foreach (var img in committed.Prepend(pristine))
        {
            var full = RealTools.BtrfsCheck(img);
            Assert.True(full.ExitCode == 0, $"{c.Name}: btrfs check {img}: {full.All}");
            var q = RealTools.BtrfsCheck(img, "--qgroup-report");
            Assert.True(q.ExitCode == 0 && !q.All.Contains("are different"), $"{c.Name}: btrfs check --qgroup-report {img}: {q.All}");
        }
    }

    [Fact]
    public void MkfsRootdirThatFailsLeavesNoImage()
    {
        using var tmp = new TempDir();
        var img = tmp.File("new.img");
        int runs = 0, committed = 0;
        foreach (bool allocations in new[] { false, true })
        {
            for (long n = 1; ; n++)
            {
                var plan = new FaultPlan { FailWrite = allocations ? 0 : n, FailAllocation = allocations ? n : 0 };
                FaultPlan.CurrentSlot.Value = plan;
                RealTools.Result r;
                try { r = InProcessCli.Run("mkfs", img, "--rootdir", _b.HostTree, "--deterministic"); }
                finally { FaultPlan.CurrentSlot.Value = null; }
                runs++;
                string what = $"mkfs --rootdir: {(allocations ? "allocation" : "write")} #{n} fails";
                Assert.DoesNotContain("   at ", r.Stderr);
                bool hit = allocations ? plan.Allocations >= n : plan.Writes >= n;
                if (r.ExitCode == 0)
                {
                    var report = Checker.Check(img);
                    Assert.True(report.IsClean, $"{what}: " + string.Join("\n", report.Findings.Take(10)));
                    if (!hit && RealTools.HasBtrfsProgs)
                    {
                        var full = RealTools.BtrfsCheck(img);
                        Assert.True(full.ExitCode == 0, $"{what}: btrfs check: {full.All}");
                    }
                    committed++;
                }
                else
                {
                    Assert.True(r.ExitCode is 1 or 5, $"{what}: exit {r.ExitCode}: {r.Stderr}");
                    Assert.False(File.Exists(img), $"{what}: failed (exit {r.ExitCode}) but left an image behind");
                }
                if (File.Exists(img)) File.Delete(img);
                if (!hit) break;
                Assert.True(n < 5000, $"{what}: the sweep does not end");
            }
        }
        _out.WriteLine($"mkfs --rootdir: {runs} runs, {committed} succeeded");
    }

    private static bool TouchesSuperblock(long offset, int length)
    {
        for (int i = 0; i < 3; i++)
        {
            long s = Superblock.MirrorOffset(i);
            if (offset < s + Superblock.Size && s < offset + length) return true;
        }
        return false;
    }

    /// <summary>Puts back the bytes the run changed (only what landed), so the next run starts from the same image.</summary>
    private static void Restore(string pristine, string work, FaultPlan plan)
    {
        using var src = File.OpenHandle(pristine, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var dst = File.OpenHandle(work, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        foreach (var (_, off, len) in plan.Landed)
        {
            var buf = new byte[len];
            RandomAccess.Read(src, buf, off);
            RandomAccess.Write(dst, buf, off);
        }
    }

    private static string Snapshot(string work, TempDir tmp, string tag)
    {
        var p = tmp.File($"committed-{tag}.img");
        File.Copy(work, p, overwrite: true);
        return p;
    }

    /// <summary>Physical ranges the committed trees reference: every extent item's bytes, on every stripe.</summary>
    private static RangeList ReferencedSpace(string image)
    {
        using var fs = BtrfsImage.Open(image);
        var list = new RangeList();
        var c = fs.NewCursor();
        if (c.First(fs.GetRoot(ObjectIds.ExtentTree)))
            do
            {
                ulong len = c.Type == ItemType.ExtentItem ? c.Offset : c.Type == ItemType.MetadataItem ? (ulong)fs.NodeSize : 0;
                if (len == 0) continue;
                var chunk = fs.Chunks.Find(c.ObjectId) ?? throw new InvalidOperationException($"extent {c.ObjectId} outside every chunk");
                foreach (var stripe in chunk.PhysicalStripes) list.Add((long)(stripe + (c.ObjectId - chunk.Logical)), (long)len);
            } while (c.Next());
        list.Seal();
        return list;
    }

    private sealed class RangeList
    {
        private readonly List<(long Start, long End)> _r = new();
        public void Add(long start, long len) => _r.Add((start, start + len));
        public void Seal() => _r.Sort();

        public bool Overlaps(long start, int len)
        {
            long end = start + len;
            int lo = 0, hi = _r.Count - 1;
            while (lo <= hi)
            {
                int mid = (lo + hi) / 2;
                if (_r[mid].End <= start) lo = mid + 1;
                else if (_r[mid].Start >= end) hi = mid - 1;
                else return true;
            }
            return false;
        }
    }
}
