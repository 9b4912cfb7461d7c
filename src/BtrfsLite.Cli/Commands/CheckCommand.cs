using System.CommandLine;
using System.Text.Json;
using BtrfsLite.Check;
using BtrfsLite.Format;
using BtrfsLite.Images;
using Spectre.Console;

namespace BtrfsLite.Cli.Commands;

/// <summary>
/// <c>btrfslite check IMG</c>: the output of <c>btrfs check</c> 6.2 (report on stdout, "[i/n] phase" lines on
/// stderr), or one JSON object with <c>--format json</c>. Exit 0 when clean, 1 when errors were found, 3/4/5 when
/// the image cannot be opened (corrupt or not btrfs / unsupported feature / I/O).
/// </summary>
internal static class CheckCommand
{
    public static Command Create()
    {
        var image = new Argument<string>("image") { Description = "Image file or block device to check" };
        var qgroupReport = new Option<bool>("--qgroup-report", "-Q") { Description = "Only verify quota groups and print the qgroup report (btrfs check --qgroup-report)" };
        var dataCsum = new Option<bool>("--check-data-csum") { Description = "Read every data sector and verify it against the csum tree" };
        var format = new Option<string>("--format") { Description = "Output format: text (btrfs check compatible) or json", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "json");
        var progress = new Option<bool>("--progress", "-p") { Description = "Show progress (on a terminal)" };
        var force = FsCli.ForceMountedOption();
        var cmd = new Command("check", "Check a btrfs image read-only, like btrfs check (exit 0 clean, 1 errors found)")
        {
            image, qgroupReport, dataCsum, format, progress, force,
        };
        cmd.SetAction(pr => Run(pr.GetValue(image)!, pr.GetValue(qgroupReport), pr.GetValue(dataCsum),
            pr.GetValue(format) == "json", pr.GetValue(progress), pr.GetValue(force)));
        return cmd;
    }

    private static int Run(string path, bool qgroupOnly, bool checkDataCsum, bool json, bool progress, bool force)
    {
        var stdout = Console.Out;
        var stderr = Console.Error;
        if (!json) stdout.WriteLine("Opening filesystem to check...");

        if (Directory.Exists(path))
        {
            stderr.WriteLine($"ERROR: cannot open file system: {path} is a directory, not an image file or block device");
            return ExitCodes.IoError;
        }
        if (!File.Exists(path))
        {
            stderr.WriteLine($"ERROR: cannot open file system: {path}: no such file");
            return ExitCodes.IoError;
        }

        BtrfsImage fs;
        try
        {
            // A small node cache: the check phases read leaves raw or walk each tree once (8192 nodes = 128 MiB RSS).
            fs = BtrfsImage.Open(path, new BtrfsImage.OpenOptions(CacheNodes: 1024, Wait: FsCli.Wait, AllowMounted: force, TreeChecks: false));
        }
        catch (Exception ex) when (OpenFailure(ex, out int code))
        {
            stderr.WriteLine($"ERROR: cannot open file system {path}: {Describe(ex)}");
            return code;
        }

        using (fs)
        {
            string uuid = fs.Fsid.ToString();
            if (!json)
            {
                stdout.WriteLine($"Checking filesystem on {path}");
                stdout.WriteLine($"UUID: {uuid}");
                if (qgroupOnly)
                {
                    stdout.WriteLine($"Print quota groups for {path}");
                    stdout.WriteLine($"UUID: {uuid}");
                }
            }
            // Always, JSON too: a mounted or short image is worth knowing about whatever the format.
            foreach (var w in fs.Warnings) stderr.WriteLine($"WARNING: {w}");

            bool hasFst = (fs.Super.CompatRoFlags & CompatRoFlags.FreeSpaceTree) != 0;
            string PhaseName(string name) => name switch
            {
                "checking csums" => checkDataCsum ? "checking csums against data" : "checking only csums items (without verifying data)",
                "checking free space tree" when !hasFst => "checking free space cache",
                _ => name,
            };

            CheckReport? report = null;
            int printed = 0;
            void PrintNewFindings()
            {
                if (json || report == null) return;
                var fsList = report.Findings;
                for (; printed < fsList.Count; printed++) stdout.WriteLine(FormatFinding(fsList[printed]));
                stdout.Flush();
            }

            bool fancy = progress && !json && !Console.IsErrorRedirected;
            try
            {
                if (fancy)
                {
                    var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stderr) });
                    console.Status().Start("checking", st =>
                    {
                        report = Checker.Check(fs, new CheckOptions
                        {
                            QgroupReport = qgroupOnly,
                            CheckDataCsum = checkDataCsum,
                            OnPhase = (i, n, name) => st.Status(Markup.Escape($"[{i}/{n}] {PhaseName(name)}")),
                        });
                    });
                }
                else
                {
                    report = new CheckReport();
                    Checker.Check(fs, new CheckOptions
                    {
                        QgroupReport = qgroupOnly,
                        CheckDataCsum = checkDataCsum,
                        OnPhase = (i, n, name) =>
                        {
                            PrintNewFindings();
                            if (!json && !qgroupOnly) { stderr.WriteLine($"[{i}/{n}] {PhaseName(name)}"); stderr.Flush(); }
                        },
                    }, report);
                }
            }
            catch (Exception ex) when (OpenFailure(ex, out int code))
            {
                // The checker records corruption as findings; anything escaping it is reported, not thrown.
                stderr.WriteLine($"ERROR: check of {path} stopped: {Describe(ex)}");
                return code;
            }
            report ??= new CheckReport();

            if (json)
            {
                WriteJson(stdout, path, uuid, report);
            }
            else
            {
                PrintNewFindings();
                foreach (var line in report.QgroupReport) stdout.WriteLine(line);
                foreach (var note in report.Notes) stdout.WriteLine($"NOTE: {note}");
                if (!qgroupOnly)
                {
                    ulong used = report.BytesUsed != 0 ? report.BytesUsed : fs.Super.BytesUsed;
                    stdout.WriteLine($"found {used} bytes used, {(report.IsClean ? "no error found" : "error(s) found")}");
                    stdout.WriteLine($"total csum bytes: {report.TotalCsumBytes}");
                    stdout.WriteLine($"total tree bytes: {report.TotalTreeBytes}");
                    stdout.WriteLine($"total fs tree bytes: {report.TotalFsTreeBytes}");
                    stdout.WriteLine($"total extent tree bytes: {report.TotalExtentTreeBytes}");
                    stdout.WriteLine($"btree space waste bytes: {report.BtreeSpaceWaste}");
                    stdout.WriteLine($"file data blocks allocated: {report.FileDataBlocksAllocated}");
                    stdout.WriteLine($" referenced {report.FileDataReferenced}");
                }
            }
            stdout.Flush();
            if (report.IsClean) return ExitCodes.Ok;
            stderr.WriteLine($"ERROR: {report.ErrorCount} error(s) found");
            return ExitCodes.Findings;
        }
    }

    public static string FormatFinding(Finding f) => $"ERROR: {f.Message} [{f.Code}, {f.Location}]";

    private static bool OpenFailure(Exception ex, out int code)
    {
        code = ex switch
        {
            ImageInUseException => ExitCodes.InUse,
            BtrfsUnsupportedException => ExitCodes.Unsupported,
            InvalidDataException or KeyNotFoundException or ArgumentException or IndexOutOfRangeException => ExitCodes.Corrupt,
            IOException or UnauthorizedAccessException => ExitCodes.IoError,
            _ => -1,
        };
        return code >= 0;
    }

    private static string Describe(Exception ex) => ex switch
    {
        BtrfsUnsupportedException => $"unsupported: {ex.Message}",
        InvalidDataException => $"corrupt: {ex.Message}",
        _ => ex.Message,
    };

    private static void WriteJson(TextWriter output, string path, string uuid, CheckReport report)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("image", path);
            w.WriteString("uuid", uuid);
            w.WriteBoolean("clean", report.IsClean);
            w.WriteNumber("errorCount", report.ErrorCount);
            w.WriteStartArray("findings");
            foreach (var f in report.Findings)
            {
                w.WriteStartObject();
                w.WriteString("code", f.Code.ToString());
                w.WriteNumber("tree", f.Tree);
                w.WriteNumber("bytenr", f.Bytenr);
                w.WriteNumber("slot", f.Slot);
                w.WriteString("message", f.Message);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("qgroups");
            var q = report.Qgroups;
            if (q != null)
            {
                foreach (var c in q.Counts)
                {
                    w.WriteStartObject();
                    w.WriteString("qgroupid", c.Id);
                    w.WriteStartObject("ours"); w.WriteNumber("rfer", c.OurRfer); w.WriteNumber("excl", c.OurExcl); w.WriteEndObject();
                    w.WriteStartObject("disk"); w.WriteNumber("rfer", c.DiskRfer); w.WriteNumber("excl", c.DiskExcl); w.WriteEndObject();
                    w.WriteBoolean("different", c.IsDifferent);
                    w.WriteEndObject();
                }
            }
            w.WriteEndArray();
            w.WriteStartArray("qgroupReport");
            foreach (var line in report.QgroupReport) w.WriteStringValue(line);
            w.WriteEndArray();
            w.WriteStartArray("notes");
            foreach (var n in report.Notes) w.WriteStringValue(n);
            w.WriteEndArray();
            w.WriteStartObject("totals");
            w.WriteNumber("bytesUsed", report.BytesUsed);
            w.WriteNumber("totalCsumBytes", report.TotalCsumBytes);
            w.WriteNumber("totalTreeBytes", report.TotalTreeBytes);
            w.WriteNumber("totalFsTreeBytes", report.TotalFsTreeBytes);
            w.WriteNumber("totalExtentTreeBytes", report.TotalExtentTreeBytes);
            w.WriteNumber("btreeSpaceWaste", report.BtreeSpaceWaste);
            w.WriteNumber("fileDataBlocksAllocated", report.FileDataBlocksAllocated);
            w.WriteNumber("fileDataReferenced", report.FileDataReferenced);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(ms.ToArray()));
    }
}
