using BtrfsLite.Check;
using BtrfsLite.Format;
using BtrfsLite.Tests.Support;
using Xunit.Abstractions;

namespace BtrfsLite.Tests.Crash;

/// <summary>One counting run of the workload, shared by the power-cut tests of this class (it is deterministic).</summary>
public sealed class CrashHarnessFixture
{
    public CrashHarness Harness { get; } = new(new CrashWorkload());
}

/// <summary>
/// Power is cut after every single write of a multi-transaction workload (mkfs, then directories, inline, multi-MiB
/// and unaligned writes, truncate, rm, rename, hard link, subvolume, snapshot, a write in the snapshot, reflink,
/// symlink). What reached the disk must open at the previous or the new generation, check clean and hold every
/// committed byte.
/// </summary>
[Trait("Category", "Crash")]
public class PowerCutTests : IClassFixture<CrashHarnessFixture>
{
    private readonly CrashHarness _h;
    private readonly ITestOutputHelper _out;

    public PowerCutTests(CrashHarnessFixture f, ITestOutputHelper output)
    {
        _h = f.Harness;
        _out = output;
    }

    [Fact]
    public void EveryCutPointOpensAtTheOldOrNewGenerationChecksCleanAndKeepsEveryCommittedByte()
    {
        long w = _h.TotalWrites;
        _out.WriteLine($"workload: {_h.Workload.Steps.Count} transactions, W = {w} writes, {_h.TotalFlushes} flushes");
        var failures = new List<string>();
        using var tmp = new TempDir();
        int realChecks = 0;
        for (int i = 0; i <= w; i++)
        {
            string ctx = $"power cut after {_h.Describe(i)}";
            try
            {
                var dev = _h.Replay(i);
                Assert.Equal(i, dev.WritesReachedDisk);
                var o = _h.Verify(ctx, expectGeneration: _h.GenerationAfterWrites(i));
                CrashHarness.AssertClean(o, ctx);
                // The real judge on a sample: every 10th cut point and every commit point (±1).
                bool commitPoint = _h.PrimarySuperWrites.Any(p => Math.Abs(p - i) <= 1);
                if (i % 10 == 0 || commitPoint)
                {
                    realChecks++;
                    if (_h.RealCheck(tmp, qgroups: i % 30 == 0 || commitPoint) is string bad) throw new Xunit.Sdk.XunitException($"{ctx}: {bad}");
                }
            }
            catch (Exception ex)
            {
                failures.Add(ex.Message);
                if (failures.Count >= 15) break;
            }
        }
        _out.WriteLine($"cut points tested: {w + 1}, btrfs check samples: {realChecks}");
        Assert.True(failures.Count == 0, $"{failures.Count} failing cut points (first ones):\n" + string.Join("\n---\n", failures));
    }

    /// <summary>
    /// Power cut with the last write torn (a random whole number of 512-byte sectors lands) on a sample: every 5th
    /// write and every superblock write. A torn tree block or data write is harmless (nothing committed points at
    /// it). A torn primary superblock is detected (the image refuses to open: checksum) and the intact mirror holds
    /// the previous generation, which `btrfs rescue super-recover` (or copying the mirror back) restores. A torn
    /// mirror leaves the new primary in charge; the only finding is that mirror.
    /// </summary>
    [Fact]
    public void TornLastWriteOnASampleIncludingEverySuperblockWrite()
    {
        using var tmp = new TempDir();
        var failures = new List<string>();
        int torn = 0, tornSupers = 0, realChecks = 0;
        for (int i = 1; i <= _h.TotalWrites; i++)
        {
            bool primary = _h.PrimarySuperWrites.Contains(i), mirror = _h.MirrorSuperWrites.Contains(i);
            if (i % 5 != 0 && !primary && !mirror) continue;
            foreach (int sector in primary || mirror ? new[] { 512 } : new[] { 512, 4096 })
            {
                string ctx = $"power cut tearing {_h.Describe(i)} ({sector}-byte sectors)";
                try
                {
                    var dev = _h.Replay(i, tear: true, seed: i * 7 + sector, tearSector: sector);
                    Assert.True(dev.TornBytes >= 0 && dev.TornBytes < _h.WriteLog[i - 1].Length, $"{ctx}: torn {dev.TornBytes} bytes");
                    torn++;
                    if (primary)
                    {
                        tornSupers++;
                        var ex = Record.Exception(() => BtrfsLite.Images.BtrfsImage.Open(new BtrfsLite.IO.MemoryBlockDevice(_h.Disk)).Dispose());
                        if (ex == null)
                        {
                            // The prefix that landed held every byte that changed (the tail is zeros in both): it is the new superblock.
                            var o = _h.Verify(ctx + ", complete in effect", expectGeneration: _h.GenerationAfterWrites(i));
                            Assert.True(o.Report.Findings.All(f => f.Code == FindingCode.SuperMirrorMismatch), $"{ctx}: {string.Join("\n", o.Report.Findings)}");
                            continue;
                        }
                        Assert.True(ex is InvalidDataException && ex.Message.Contains("checksum"), $"{ctx}: a torn primary superblock must be refused, got {ex.GetType().Name}: {ex.Message}");
                        RestorePrimaryFromMirror(tmp, ctx);
                        realChecks++;
                        var r = _h.Verify(ctx + ", primary restored from the mirror", expectGeneration: _h.GenerationAfterWrites(i - 1));
                        CrashHarness.AssertClean(r, ctx);
                    }
                    else if (mirror)
                    {
                        var o = _h.Verify(ctx, expectGeneration: _h.GenerationAfterWrites(i));
                        var other = o.Report.Findings.Where(f => f.Code != FindingCode.SuperMirrorMismatch).ToList();
                        Assert.True(other.Count == 0, $"{ctx}: {string.Join("\n", other)}");
                        realChecks++;
                        if (_h.RealCheck(tmp, qgroups: true) is string bad) throw new Xunit.Sdk.XunitException($"{ctx}: {bad}");
                    }
                    else
                    {
                        var o = _h.Verify(ctx, expectGeneration: _h.GenerationAfterWrites(i - 1));
                        CrashHarness.AssertClean(o, ctx);
                        realChecks++;
                        if (_h.RealCheck(tmp, qgroups: i % 20 == 0) is string bad) throw new Xunit.Sdk.XunitException($"{ctx}: {bad}");
                    }
                }
                catch (Exception ex)
                {
                    failures.Add(ex.Message);
                }
                if (failures.Count >= 10) break;
            }
        }
        _out.WriteLine($"torn variants: {torn} (torn primary superblocks: {tornSupers}), btrfs check samples: {realChecks}");
        Assert.True(failures.Count == 0, $"{failures.Count} failing torn cut points (first ones):\n" + string.Join("\n---\n", failures));
    }

    // With btrfs-progs: `btrfs rescue super-recover -y` on the image file; without: copy mirror 1 over the primary.
    private void RestorePrimaryFromMirror(TempDir tmp, string ctx)
    {
        if (RealTools.HasBtrfsProgs)
        {
            var path = tmp.File("torn-super.img");
            File.WriteAllBytes(path, _h.Disk);
            var r = RealTools.Run("btrfs", "rescue", "super-recover", "-y", path);
            // Its exit status 2 means "recovered bad superblocks" (0: nothing to recover).
            Assert.True(r.ExitCode == 2 && r.Stdout.Contains("Recovered bad superblocks successful"), $"{ctx}: btrfs rescue super-recover ({r.ExitCode}): {r.All}");
            var c = RealTools.BtrfsCheck(path);
            Assert.True(c.ExitCode == 0, $"{ctx}: btrfs check after super-recover: {c.All}");
            using var f = File.OpenRead(path);
            f.ReadExactly(_h.Disk);
            return;
        }
        var mirror = _h.Disk.AsSpan((int)Superblock.MirrorOffset(1), Superblock.Size).ToArray();
        var sb = new Superblock(mirror);
        Assert.True(sb.CsumMatches(out _, out _), $"{ctx}: mirror 1 is damaged too");
        sb.Bytenr = (ulong)Superblock.PrimaryOffset;
        sb.StampCsum();
        mirror.CopyTo(_h.Disk.AsSpan((int)Superblock.PrimaryOffset));
    }

    /// <summary>The stale-mirror state of a commit interrupted after its primary superblock is a note, not damage; a mirror that claims a newer generation than the primary still is.</summary>
    [Fact]
    public void StaleMirrorAfterAnInterruptedCommitIsANoteButANewerMirrorIsAFinding()
    {
        long p = _h.PrimarySuperWrites[3];
        _h.Replay((int)p);
        var o = _h.Verify("cut right after a primary superblock", expectGeneration: _h.GenerationAfterWrites(p));
        CrashHarness.AssertClean(o, "stale mirror");
        Assert.Contains(o.Report.Notes, n => n.Contains("mirror 1") && n.Contains("older than the primary"));

        // Now make the mirror claim a generation newer than the primary: that is not a crash state.
        var off = (int)Superblock.MirrorOffset(1);
        var m = _h.Disk.AsSpan(off, Superblock.Size).ToArray();
        var sb = new Superblock(m);
        sb.Generation += 2;
        sb.StampCsum();
        m.CopyTo(_h.Disk.AsSpan(off));
        o = _h.Verify("mirror newer than the primary");
        Assert.Contains(o.Report.Findings, f => f.Code == FindingCode.SuperMirrorMismatch);
    }
}
