using BtrfsLite.Check;
using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.IO;
using BtrfsLite.Images;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Crash;

/// <summary>
/// Runs <see cref="CrashWorkload"/> on copies of its post-mkfs image through a <see cref="FaultInjectingDevice"/>, and
/// judges what reached the disk. One reusable 128 MiB buffer holds the device of every replay.
/// </summary>
public sealed class CrashHarness
{
    public CrashWorkload Workload { get; }
    /// <summary>Every write of the uninterrupted run: (offset, length), write number n at index n-1.</summary>
    public List<(long Offset, int Length)> WriteLog { get; } = new();
    /// <summary>Cumulative writes after step k (index 0: 0).</summary>
    public List<long> WritesAfterStep { get; } = new() { 0 };
    /// <summary>Write numbers of the primary superblock writes (one per commit: the commit points).</summary>
    public List<long> PrimarySuperWrites { get; } = new();
    /// <summary>Write numbers of the mirror superblock writes.</summary>
    public HashSet<long> MirrorSuperWrites { get; } = new();
    public long TotalWrites => WriteLog.Count;
    public long TotalFlushes { get; private set; }

    /// <summary>The device buffer of the latest replay: what reached the disk.</summary>
    public byte[] Disk { get; } = new byte[CrashWorkload.DeviceSize];

    public CrashHarness(CrashWorkload workload)
    {
        Workload = workload;
        CountingRun();
    }

    private void CountingRun()
    {
        Buffer.BlockCopy(Workload.BaseImage, 0, Disk, 0, Disk.Length);
        var dev = new FaultInjectingDevice(new MemoryBlockDevice(Disk));
        dev.OnWrite = (n, off, len) =>
        {
            WriteLog.Add((off, len));
            if (off == Superblock.PrimaryOffset) PrimarySuperWrites.Add(n);
            else if (off == Superblock.MirrorOffset(1) || off == Superblock.MirrorOffset(2)) MirrorSuperWrites.Add(n);
        };
        using var img = BtrfsImage.Open(dev, new BtrfsImage.OpenOptions(Writable: true));
        var fs = new Filesystem(img, CrashWorkload.Options());
        for (int k = 0; k < Workload.Steps.Count; k++)
        {
            Workload.Steps[k].Apply(fs);
            Assert.Equal(Workload.BaseGeneration + (ulong)k + 1, img.Generation);
            Assert.Equal(k + 1, PrimarySuperWrites.Count);
            WritesAfterStep.Add(dev.Writes);
        }
        TotalFlushes = dev.Flushes;
        var final = Verify("uninterrupted run", expectGeneration: Workload.BaseGeneration + (ulong)Workload.Steps.Count);
        Assert.True(final.Report.IsClean, string.Join("\n", final.Report.Findings));
    }

    /// <summary>The step (0-based) that issues write number <paramref name="n"/>.</summary>
    public int StepOfWrite(long n)
    {
        for (int k = 1; k < WritesAfterStep.Count; k++) if (n <= WritesAfterStep[k]) return k - 1;
        return WritesAfterStep.Count - 1;
    }

    public string Describe(long n) => n <= 0 || n > WriteLog.Count
        ? $"write #{n}"
        : $"write #{n} ({WriteLog[(int)n - 1].Length} bytes at {WriteLog[(int)n - 1].Offset}, step '{Workload.Steps[StepOfWrite(n)].Name}'"
          + (PrimarySuperWrites.Contains(n) ? ", PRIMARY SUPERBLOCK" : MirrorSuperWrites.Contains(n) ? ", mirror superblock" : "") + ")";

    /// <summary>Generation the disk must be at when writes 1..n landed in full: one more per primary superblock among them.</summary>
    public ulong GenerationAfterWrites(long n) => Workload.BaseGeneration + (ulong)PrimarySuperWrites.Count(p => p <= n);

    /// <summary>
    /// Replays the workload on a fresh copy of the post-mkfs image with power cut after write <paramref name="cut"/>
    /// (torn when <paramref name="tear"/>). Stops once power is gone: nothing later can reach the disk.
    /// </summary>
    public FaultInjectingDevice Replay(int cut, bool tear = false, int seed = 0, int tearSector = 512)
    {
        Buffer.BlockCopy(Workload.BaseImage, 0, Disk, 0, Disk.Length);
        var dev = new FaultInjectingDevice(new MemoryBlockDevice(Disk), seed: seed) { TearSectorSize = tearSector };
        dev.CutPowerAfter(cut, tear);
        string? divergence = null;
        dev.OnWrite = (n, off, len) =>
        {
            if (divergence == null && n <= WriteLog.Count && WriteLog[(int)n - 1] != (off, len))
                divergence = $"replay diverged at write #{n}: {len} bytes at {off}, the counting run wrote {WriteLog[(int)n - 1]}";
        };
        using (var img = BtrfsImage.Open(dev, new BtrfsImage.OpenOptions(Writable: true)))
        {
            var fs = new Filesystem(img, CrashWorkload.Options());
            foreach (var s in Workload.Steps)
            {
                if (dev.PowerCut) break;
                try { s.Apply(fs); }
                catch (Exception) when (dev.PowerCut) { break; } // reading back dropped writes may fail: the disk is already fixed
            }
        }
        Assert.True(divergence == null, divergence);
        return dev;
    }

    /// <summary>Runs the first <paramref name="count"/> steps, uninterrupted, on a fresh copy: <see cref="Disk"/> holds the result.</summary>
    public void RunSteps(int count)
    {
        Buffer.BlockCopy(Workload.BaseImage, 0, Disk, 0, Disk.Length);
        using var img = BtrfsImage.Open(new MemoryBlockDevice(Disk), new BtrfsImage.OpenOptions(Writable: true));
        var fs = new Filesystem(img, CrashWorkload.Options());
        for (int k = 0; k < count; k++) Workload.Steps[k].Apply(fs);
    }

    public sealed record Outcome(ulong Generation, CheckReport Report);

    /// <summary>
    /// Opens <see cref="Disk"/> (writes refused), asserts its generation, that the file tree equals the model at that
    /// generation byte for byte; returns our checker's report (the caller decides what findings are allowed).
    /// </summary>
    public Outcome Verify(string context, ulong? expectGeneration = null, ulong[]? allowedGenerations = null,
        IReadOnlyList<SortedDictionary<string, string>>? acceptableManifests = null)
    {
        var ro = new FaultInjectingDevice(new MemoryBlockDevice(Disk));
        ro.FailWritesAfter(0);
        BtrfsImage img;
        try { img = BtrfsImage.Open(ro, new BtrfsImage.OpenOptions(Writable: true)); }
        catch (Exception ex) { throw new Xunit.Sdk.XunitException($"{context}: the image does not open: {ex.Message}"); }
        using (img)
        {
            ulong gen = img.Generation;
            if (expectGeneration is ulong eg && gen != eg)
                throw new Xunit.Sdk.XunitException($"{context}: generation {gen}, expected {eg}");
            if (allowedGenerations != null && !allowedGenerations.Contains(gen))
                throw new Xunit.Sdk.XunitException($"{context}: generation {gen}, expected one of {string.Join(", ", allowedGenerations)}");
            int step = (int)(gen - Workload.BaseGeneration);
            if (acceptableManifests != null)
            {
                var rep = Checker.Check(img);
                SortedDictionary<string, string> files;
                try { files = FsModel.ManifestOf(new Filesystem(img)); }
                catch (Exception ex) { throw new Xunit.Sdk.XunitException($"{context}: reading the file tree at generation {gen} failed: {ex.Message}\nchecker: {string.Join("\n", rep.Findings.Take(10))}"); }
                if (!acceptableManifests.Any(a => FsModel.Diff(a, files).Length == 0))
                    throw new Xunit.Sdk.XunitException($"{context}: at generation {gen} the files are none of the acceptable states; against the first:\n{FsModel.Diff(acceptableManifests[0], files)}\nchecker: {string.Join("\n", rep.Findings.Take(10))}");
                return new Outcome(gen, rep);
            }
            if (step < 0 || step >= Workload.Expected.Count)
                throw new Xunit.Sdk.XunitException($"{context}: generation {gen} is outside the workload");
            var report = Checker.Check(img);
            var fs = new Filesystem(img);
            SortedDictionary<string, string> actual;
            try { actual = FsModel.ManifestOf(fs); }
            catch (Exception ex) { throw new Xunit.Sdk.XunitException($"{context}: reading the file tree at generation {gen} failed: {ex}\nchecker: {string.Join("\n", report.Findings.Take(10))}"); }
            var diff = FsModel.Diff(Workload.Expected[step], actual);
            if (diff.Length > 0)
                throw new Xunit.Sdk.XunitException($"{context}: at generation {gen} (after step {step}) the files differ from the model:\n{diff}");
            return new Outcome(gen, report);
        }
    }

    public static void AssertClean(Outcome o, string context)
    {
        if (!o.Report.IsClean)
            throw new Xunit.Sdk.XunitException($"{context}: checker findings at generation {o.Generation}:\n{string.Join("\n", o.Report.Findings.Take(20))}");
    }

    /// <summary>Runs the real btrfs check (and the qgroup report) on what is in <see cref="Disk"/>; returns a failure text or null.</summary>
    public string? RealCheck(TempDir tmp, bool qgroups)
    {
        if (!RealTools.HasBtrfsProgs) return null;
        var path = tmp.File("cut.img");
        File.WriteAllBytes(path, Disk);
        var r = RealTools.BtrfsCheck(path);
        if (r.ExitCode != 0) return "btrfs check: " + r.All;
        if (qgroups)
        {
            var q = RealTools.BtrfsCheck(path, "--qgroup-report");
            if (q.ExitCode != 0) return "btrfs check --qgroup-report: " + q.All;
        }
        return null;
    }
}
