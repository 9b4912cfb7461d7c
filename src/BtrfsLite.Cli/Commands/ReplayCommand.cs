using System.CommandLine;
using System.Text.Json;
using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.IO;
using BtrfsLite.Mkfs;
using BtrfsLite.Qgroups;
using BtrfsLite.Workloads;

namespace BtrfsLite.Cli.Commands;

/// <summary>
/// <c>btrfslite replay IMG WORKLOAD</c>: runs a workload in one process (dirty data and reservations live across steps)
/// and reports every step with every qgroup's counters, as text or one JSON object per line.
/// </summary>
internal static class ReplayCommand
{
    public static Command Create()
    {
        var image = new Argument<string>("image") { Description = "Image file or block device (a new image of the workload's 'size' is made when the path does not exist)" };
        var workload = new Argument<string>("workload") { Description = "Workload file (see README, Workload language)" };
        var legacy = new Option<bool>("--legacy-reservations") { Description = "The 2015 reservation behaviour: every write reserves its full length, rewrites leak until close, no flush-and-retry" };
        var format = new Option<string>("--format") { Description = "Output format: text or json (one object per step and line)", DefaultValueFactory = _ => "text" };
        var timings = new Option<bool>("--timings") { Description = "Print the time spent per kind of step to stderr at the end" };
        format.AcceptOnlyFromAmong("text", "json");
        var cmd = new Command("replay", "Run a workload file on an image and report every step's result and qgroup counters")
        {
            image, workload, legacy, format, timings,
        };
        cmd.SetAction(pr => Run(pr.GetValue(image)!, pr.GetValue(workload)!, pr.GetValue(legacy), pr.GetValue(format) == "json", pr.GetValue(timings)));
        return cmd;
    }

    private static int Run(string imagePath, string workloadPath, bool legacy, bool json, bool timings)
    {
        if (!File.Exists(workloadPath)) throw new FileNotFoundException($"{workloadPath}: no such workload file", workloadPath);
        var wl = Workload.Load(workloadPath);
        if (!File.Exists(imagePath) && !imagePath.StartsWith("/dev/", StringComparison.Ordinal))
        {
            if (wl.Size is not ulong size)
                throw new ArgumentException($"{imagePath} does not exist and {workloadPath} has no 'size' line to make it");
            using var dev = FileBlockDevice.Create(imagePath, (long)size);
            ImageBuilder.Create(dev, new ImageOptions { Size = (long)size });
        }
        var options = new FsSessionOptions { Reservations = legacy ? QgroupReservationMode.Legacy : QgroupReservationMode.Default };
        var stdout = Console.Out;
        var perVerb = new SortedDictionary<string, (int Count, TimeSpan Time)>(StringComparer.Ordinal);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using (var session = FsSession.Open(imagePath, options))
        {
            session.Image.VerifyAccounting |= FsCli.VerifyAccounting;
            WorkloadRunner.Run(session, wl, r =>
            {
                var verb = wl.Steps[r.Step - 1].Verb;
                var t = perVerb.GetValueOrDefault(verb);
                perVerb[verb] = (t.Count + 1, t.Time + clock.Elapsed);
                if (json) WriteJson(stdout, r); else WriteText(stdout, r);
                stdout.Flush();
                clock.Restart();
            });
            clock.Restart();
        }
        if (timings)
        {
            perVerb["(close)"] = (1, clock.Elapsed);
            foreach (var (verb, (count, time)) in perVerb)
                Console.Error.WriteLine($"{verb,-10} {count,7} steps {time.TotalMilliseconds,10:F1} ms");
        }
        return ExitCodes.Ok;
    }

    private static void WriteText(TextWriter o, StepResult r)
    {
        var status = r.Ok ? "ok" : r.Errno;
        var written = r.Written is ulong w ? $" (written {w})" : "";
        o.WriteLine($"step {r.Step}: {r.Line}: {status}{written}");
        if (!r.Ok && r.Message != null) o.WriteLine($"  {r.Message}");
        foreach (var q in r.Qgroups)
            o.WriteLine($"  {QgroupId.Format(q.QgroupId),-8} referenced {q.Referenced} exclusive {q.Exclusive} rsv_data {q.RsvData} " +
                        $"rsv_meta_pertrans {q.RsvMetaPertrans} rsv_meta_prealloc {q.RsvMetaPrealloc} " +
                        $"max_referenced {q.MaxReferenced} max_exclusive {q.MaxExclusive} limit_flags {(ulong)q.LimitFlags}");
    }

    private static void WriteJson(TextWriter o, StepResult r)
    {
        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            j.WriteStartObject();
            j.WriteNumber("step", r.Step);
            j.WriteString("line", r.Line);
            j.WriteBoolean("ok", r.Ok);
            if (r.Errno == null) j.WriteNull("errno"); else j.WriteString("errno", r.Errno);
            if (r.Written is ulong w) j.WriteNumber("written", w); else j.WriteNull("written");
            j.WriteStartObject("qgroups");
            foreach (var q in r.Qgroups)
            {
                j.WriteStartObject(QgroupId.Format(q.QgroupId));
                j.WriteNumber("referenced", q.Referenced);
                j.WriteNumber("exclusive", q.Exclusive);
                j.WriteNumber("rsv_data", q.RsvData);
                j.WriteNumber("rsv_meta_pertrans", q.RsvMetaPertrans);
                j.WriteNumber("rsv_meta_prealloc", q.RsvMetaPrealloc);
                j.WriteNumber("max_referenced", q.MaxReferenced);
                j.WriteNumber("max_exclusive", q.MaxExclusive);
                j.WriteNumber("limit_flags", (ulong)q.LimitFlags);
                j.WriteEndObject();
            }
            j.WriteEndObject();
            j.WriteEndObject();
        }
        o.WriteLine(System.Text.Encoding.UTF8.GetString(ms.ToArray()));
    }
}
