using BtrfsLite.Fs;
using BtrfsLite.IO;
using BtrfsLite.Images;
using BtrfsLite.Tests.Support;
using Xunit.Abstractions;

namespace BtrfsLite.Tests.Crash;

/// <summary>
/// The device reports an error (a failed write or flush) at every point of a commit. The operation surfaces an
/// IOException; the handle then either keeps working (the failure came before the commit point) or refuses further
/// transactions (the commit point itself is uncertain) — and in every case the disk holds the last committed state
/// intact, including when power is lost while the program carries on after the failure.
/// </summary>
[Trait("Category", "Crash")]
public class FailedWriteTests : IClassFixture<CrashHarnessFixture>
{
    private readonly CrashHarness _h;
    private readonly ITestOutputHelper _out;

    public FailedWriteTests(CrashHarnessFixture f, ITestOutputHelper output)
    {
        _h = f.Harness;
        _out = output;
    }

    private enum FaultKind { Write, Flush }

    private sealed record Fault(FaultKind Kind, int Index)
    {
        public override string ToString() => Kind == FaultKind.Write ? $"write #{Index + 1} of the commit fails" : $"flush #{Index + 1} of the commit fails";
    }

    /// <summary>
    /// Fails step <paramref name="m"/> at <paramref name="fault"/>; then, with power cut after <paramref name="cut"/>
    /// more writes (null: no cut), carries on: retries the step if it did not commit, then runs the next step,
    /// reopening the device when the handle refuses to go on. Returns what was observed; verifies the disk.
    /// </summary>
    private string RunOne(byte[] pre, int m, Fault fault, int? cut)
    {
        Buffer.BlockCopy(pre, 0, _h.Disk, 0, pre.Length);
        var dev = new FaultInjectingDevice(new MemoryBlockDevice(_h.Disk));
        ulong n0 = _h.Workload.BaseGeneration + (ulong)m;
        string ctx = $"step '{_h.Workload.Steps[m].Name}', {fault}" + (cut is int c ? $", then power cut after {c} more writes" : "");
        var img = BtrfsImage.Open(dev, new BtrfsImage.OpenOptions(Writable: true));
        int seed = 1000;
        var fs = new Filesystem(img, CrashWorkload.Options(++seed));
        if (fault.Kind == FaultKind.Write) dev.FailWritesAfter(fault.Index);
        else dev.FailFlushAfter(fault.Index);

        bool failed;
        try { _h.Workload.Steps[m].Apply(fs); failed = false; }
        catch (IOException) { failed = true; }
        dev.Heal();
        // What the caller was told is committed: step m when it returned normally.
        int told = failed ? m : m + 1;
        string observed = failed ? "IOException" : "success";

        // Right after the failure the disk holds a committed state: the last one, or step m when its commit point landed.
        // (Checked on a copy: the handle goes on with this device.)
        var atFailure = (byte[])_h.Disk.Clone();

        if (cut is int k) dev.CutPowerAfter(k);
        int next = told; // the next step to run
        for (int attempt = 0; attempt < 3 && next <= m + 1 && next < _h.Workload.Steps.Count && !dev.PowerCut; attempt++)
        {
            try
            {
                _h.Workload.Steps[next].Apply(fs);
                if (dev.PowerCut) break; // "committed" with its writes dropped: not durable, proves nothing
                told = ++next;
            }
            catch (IOException) when (!dev.PowerCut)
            {
                // The handle refuses to go on: reopen the device, which says what is committed.
                observed += ", then the handle refused (reopened)";
                fs.Dispose();
                img = BtrfsImage.Open(dev, new BtrfsImage.OpenOptions(Writable: true));
                fs = new Filesystem(img, CrashWorkload.Options(++seed));
                next = (int)(img.Generation - _h.Workload.BaseGeneration);
                Assert.True(next == m || next == m + 1, $"{ctx}: reopened at generation {img.Generation}, expected {n0} or {n0 + 1}");
                told = Math.Max(told, next);
            }
            catch (Exception) when (dev.PowerCut) { break; }
        }
        fs.Dispose();

        var allowed = new List<ulong>();
        for (int s = told; s <= Math.Min(told + 1, _h.Workload.Steps.Count); s++) allowed.Add(_h.Workload.BaseGeneration + (ulong)s);
        if (cut == null) allowed = new List<ulong> { _h.Workload.BaseGeneration + (ulong)told };
        var o = _h.Verify(ctx + $" ({observed})", allowedGenerations: allowed.ToArray());
        CrashHarness.AssertClean(o, ctx);

        atFailure.CopyTo(_h.Disk, 0);
        var f = _h.Verify(ctx + $" ({observed}), disk right after the failure", allowedGenerations: failed ? new[] { n0, n0 + 1 } : new[] { n0 + 1 });
        CrashHarness.AssertClean(f, ctx + ", disk right after the failure");
        return observed;
    }

    [Fact]
    public void AFailedWriteOrFlushAnywhereInACommitNeverLosesOrCorruptsCommittedState()
    {
        var pre = new byte[CrashWorkload.DeviceSize];
        var failures = new List<string>();
        int runs = 0;
        // The 3 MiB write (data before commit), the 6 MiB write (a new data chunk), the snapshot (a new tree), the reflink (shared extents).
        foreach (int m in new[] { 2, 11, 12, 14 })
        {
            _h.RunSteps(m);
            _h.Disk.CopyTo(pre, 0);
            int writes = (int)(_h.WritesAfterStep[m + 1] - _h.WritesAfterStep[m]);
            var faults = Enumerable.Range(0, writes).Select(i => new Fault(FaultKind.Write, i))
                .Concat(Enumerable.Range(0, 3).Select(i => new Fault(FaultKind.Flush, i))).ToList();
            foreach (var fault in faults)
            {
                try
                {
                    string observed = RunOne(pre, m, fault, cut: null);
                    runs++;
                    // Up to the primary superblock and its flush the commit fails; after them (mirror, last flush) it is
                    // durable and reported as done, like the kernel, which treats only the primary as fatal.
                    bool afterCommitPoint = fault.Kind == FaultKind.Write ? fault.Index == writes - 1 : fault.Index == 2;
                    bool atCommitPoint = fault.Kind == FaultKind.Write ? fault.Index == writes - 2 : fault.Index == 1;
                    string want = afterCommitPoint ? "success" : atCommitPoint ? "IOException, then the handle refused (reopened)" : "IOException";
                    Assert.True(observed == want, $"step '{_h.Workload.Steps[m].Name}', {fault}: observed '{observed}', expected '{want}'");
                    if (m == 2) _out.WriteLine($"{_h.Workload.Steps[m].Name}: {fault}: {observed}");
                }
                catch (Exception ex) { failures.Add(ex.Message); }
                if (failures.Count >= 10) break;
            }
        }
        _out.WriteLine($"{runs} failed-commit runs");
        Assert.True(failures.Count == 0, string.Join("\n---\n", failures));
    }

    /// <summary>
    /// The program carries on after a failed commit and then loses power at any write: whatever the handle did after
    /// the failure must not have overwritten what the disk's superblock points at.
    /// </summary>
    [Fact]
    public void PowerLossWhileCarryingOnAfterAFailedCommitKeepsTheDiskConsistent()
    {
        var pre = new byte[CrashWorkload.DeviceSize];
        var failures = new List<string>();
        int runs = 0;
        const int m = 4; // overwrite inside big.bin: frees (pins) extents and tree blocks of the committed state
        _h.RunSteps(m);
        _h.Disk.CopyTo(pre, 0);
        int writes = (int)(_h.WritesAfterStep[m + 1] - _h.WritesAfterStep[m]);
        int later = (int)(_h.WritesAfterStep[m + 2] - _h.WritesAfterStep[m]);
        var faults = new[] { new Fault(FaultKind.Write, 0), new Fault(FaultKind.Write, writes - 3), new Fault(FaultKind.Write, writes - 2),
            new Fault(FaultKind.Write, writes - 1), new Fault(FaultKind.Flush, 0), new Fault(FaultKind.Flush, 1), new Fault(FaultKind.Flush, 2) };
        foreach (var fault in faults)
            for (int cut = 0; cut <= later; cut++)
            {
                try { RunOne(pre, m, fault, cut); runs++; }
                catch (Exception ex) { failures.Add(ex.Message); }
                if (failures.Count >= 10) goto done;
            }
        done:
        _out.WriteLine($"{runs} runs");
        Assert.True(failures.Count == 0, string.Join("\n---\n", failures));
    }

    /// <summary>
    /// A commit fails at or around its commit point (the primary superblock write, the flushes around it, the mirror);
    /// the program then does something else (not a retry of the same operation, which would rewrite the very same
    /// blocks) and loses power at any write of it. The disk must hold one of the states the program could have
    /// committed, intact.
    /// </summary>
    [Fact]
    public void ADifferentOperationAfterAFailureAtTheCommitPointNeverOverwritesWhatTheDiskPointsAt()
    {
        const int m = 4;
        var other = new byte[200_000];
        new Random(5).NextBytes(other);
        void X(Filesystem fs) => fs.Write("docs/other.bin", 0, other);
        SortedDictionary<string, string> Model(int steps, bool withX)
        {
            var model = new FsModel();
            for (int k = 0; k < steps; k++) _h.Workload.Steps[k].Model(model);
            if (withX) model.Write("docs/other.bin", 0, other);
            return model.Manifest();
        }
        var acceptable = new[] { Model(m, false), Model(m + 1, false), Model(m, true), Model(m + 1, true) };

        var pre = new byte[CrashWorkload.DeviceSize];
        _h.RunSteps(m);
        _h.Disk.CopyTo(pre, 0);
        int writes = (int)(_h.WritesAfterStep[m + 1] - _h.WritesAfterStep[m]);
        var faults = new[] { new Fault(FaultKind.Write, writes - 3), new Fault(FaultKind.Write, writes - 2), new Fault(FaultKind.Write, writes - 1),
            new Fault(FaultKind.Flush, 0), new Fault(FaultKind.Flush, 1), new Fault(FaultKind.Flush, 2) };
        var failures = new List<string>();
        int runs = 0;
        foreach (var fault in faults)
        {
            string observed = "";
            for (int cut = 0; cut <= 40; cut++)
            {
                string ctx = $"step '{_h.Workload.Steps[m].Name}', {fault}, then another write with power cut after {cut} writes";
                try
                {
                    Buffer.BlockCopy(pre, 0, _h.Disk, 0, pre.Length);
                    var dev = new FaultInjectingDevice(new MemoryBlockDevice(_h.Disk));
                    using (var fs = new Filesystem(BtrfsImage.Open(dev, new BtrfsImage.OpenOptions(Writable: true)), CrashWorkload.Options(7)))
                    {
                        if (fault.Kind == FaultKind.Write) dev.FailWritesAfter(fault.Index); else dev.FailFlushAfter(fault.Index);
                        try { _h.Workload.Steps[m].Apply(fs); observed = "success"; }
                        catch (IOException) { observed = "IOException"; }
                        dev.Heal();
                        dev.CutPowerAfter(cut);
                        try { X(fs); observed += dev.PowerCut ? ", then power lost" : ", then the other write committed"; }
                        catch (IOException) when (!dev.PowerCut) { observed += ", then the handle refused the other write"; }
                        catch (Exception) when (dev.PowerCut) { observed += ", then power lost"; }
                    }
                    var o = _h.Verify(ctx + $" ({observed})", acceptableManifests: acceptable);
                    CrashHarness.AssertClean(o, ctx + $" ({observed})");
                    runs++;
                }
                catch (Exception ex) { failures.Add(ex.Message); }
                if (failures.Count >= 8) goto done;
            }
            _out.WriteLine($"{fault}: {observed}");
        }
        done:
        _out.WriteLine($"{runs} runs");
        Assert.True(failures.Count == 0, string.Join("\n---\n", failures));
    }
}
