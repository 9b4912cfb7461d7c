using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.Qgroups;

namespace BtrfsLite.Workloads;

/// <summary>What one step did, and every qgroup's counters right after it.</summary>
/// <param name="Step">The step's number.</param>
/// <param name="Line">The step's text.</param>
/// <param name="Ok">True when the step succeeded (no errno).</param>
/// <param name="Errno">The errno name that failed the step (a write stopped short included); null on success.</param>
/// <param name="Written">Bytes a write step copied; null for other steps.</param>
/// <param name="Qgroups">Every qgroup's counters right after the step.</param>
/// <param name="Message">The error message when the step failed; null otherwise (also for a write stopped
/// short).</param>
public sealed record StepResult(int Step, string Line, bool Ok, string? Errno, ulong? Written, IReadOnlyList<QgroupCounters> Qgroups, string? Message);

/// <summary>
/// Runs a workload on one <see cref="FsSession"/>, so dirty data and reservations live across steps as in one process on
/// the kernel. A step that fails with an errno (EDQUOT, ENOENT, ...) is reported and the run goes on.
/// </summary>
public static class WorkloadRunner
{
    /// <summary>
    /// Runs every step of <paramref name="workload"/> on <paramref name="session"/> in order and reports each to
    /// <paramref name="onStep"/>; a step failing with an errno (FsException or ENOSPC) is reported and the run goes on,
    /// any other exception ends it.
    /// </summary>
    public static void Run(FsSession session, Workload workload, Action<StepResult> onStep)
    {
        foreach (var step in workload.Steps)
        {
            string? errno = null, message = null;
            ulong? written = step.IsWrite ? 0 : null;
            try
            {
                if (Execute(session, step) is WriteResult w)
                {
                    written = w.Written;
                    errno = w.Errno; // a short write: the prefix stays, the step failed
                }
            }
            catch (FsException ex)
            {
                errno = ex.Errno;
                message = ex.Message;
            }
            catch (NoSpaceException ex)
            {
                errno = ex.Errno;
                message = ex.Message;
            }
            onStep(new StepResult(step.Number, step.Line, errno == null, errno, written, session.Counters(), message));
        }
    }

    /// <summary>Runs one step; returns the outcome of a write step (null for the others).</summary>
    private static WriteResult? Execute(FsSession s, WorkloadStep step)
    {
        var x = step.Args;
        string where = $"step {step.Number}";
        ulong Sz(int i) => Workload.ParseSize(x[i], where, allowZero: true);
        // Steps the kernel harness runs through btrfs-progs take milliseconds: the kernel's clock ticks meanwhile.
        if (step.Verb is "quota" or "qgroup" or "limit" or "sync" or "snapshot" or "subvol") s.AdvanceClock();
        switch (step.Verb)
        {
            case "quota":
                if (x[0] == "enable") s.QuotaEnable(); else if (x[0] == "disable") s.QuotaDisable(); else s.QuotaRescan();
                return null;
            case "qgroup":
                switch (x[0])
                {
                    case "create": s.QgroupCreate(Workload.Qgroup(x[1], where)); break;
                    case "destroy": s.QgroupDestroy(Workload.Qgroup(x[1], where)); break;
                    case "assign": s.QgroupAssign(Workload.Qgroup(x[1], where), Workload.Qgroup(x[2], where)); break;
                    default: s.QgroupRemove(Workload.Qgroup(x[1], where), Workload.Qgroup(x[2], where)); break;
                }
                return null;
            case "limit":
                s.QgroupLimit(Workload.Qgroup(x[1], where), x[0] == "excl", x[2] == "none" ? null : Sz(2));
                return null;
            case "write":
                return Write(s, x[0], Sz(1), Sz(2), x.Length < 4 ? 0 : x[3] == "zeros" ? null : ulong.Parse(x[3], System.Globalization.CultureInfo.InvariantCulture));
            case "fallocate": s.Fallocate(x[0], Sz(1), Sz(2), keepSize: x.Length == 4); return null;
            case "punch": s.PunchHole(x[0], Sz(1), Sz(2)); return null;
            case "zero": s.ZeroRange(x[0], Sz(1), Sz(2)); return null;
            case "truncate": s.Truncate(x[0], Sz(1)); return null;
            case "fsync": s.Fsync(x[0]); return null;
            case "sync": s.Sync(); return null;
            case "rm": s.Remove(x[0]); return null;
            case "mkdir": s.Mkdir(x[0]); return null;
            case "reflink": s.Reflink(x[0], x[1]); return null;
            case "clone": s.CloneRange(x[0], Sz(1), Sz(2), x[3], Sz(4)); return null;
            case "snapshot":
            {
                var (name, src, ro, inherit) = Workload.SnapshotArgs(x, where);
                s.Snapshot(src, name, ro, inherit);
                return null;
            }
            case "subvol":
                if (x[0] == "create") s.CreateSubvolume(x[1], x.Length == 4 ? Workload.Qgroup(x[3], where) : null);
                else if (x[0] == "delete") s.DeleteSubvolume(x[1]);
                // subvol sync: a commit (the harness commits so that the kernel's cleaner runs, then waits for it); our
                // delete drops the tree at once, so there is nothing more to wait for.
                else s.Sync();
                return null;
            default:
                throw new WorkloadException($"{where}: unknown step '{step.Verb}'");
        }
    }

    /// <summary>A pwrite of len bytes in 1 MiB calls: stops at the first short one (its prefix counts).</summary>
    private static WriteResult Write(FsSession s, string path, ulong offset, ulong len, ulong? seed)
    {
        var block = WorkloadData.Block(seed);
        if (len == 0) return s.Write(path, offset, ReadOnlySpan<byte>.Empty);
        ulong done = 0;
        while (done < len)
        {
            int n = (int)Math.Min((ulong)WorkloadData.BlockSize, len - done);
            var r = s.Write(path, offset + done, block.AsSpan(0, n));
            done += r.Written;
            if (!r.Complete) return new WriteResult(done, r.Errno);
        }
        return new WriteResult(done, null);
    }
}
