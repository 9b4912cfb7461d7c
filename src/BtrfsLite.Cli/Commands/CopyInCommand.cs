using System.CommandLine;
using BtrfsLite.Format;
using BtrfsLite.Fs;
using Spectre.Console;

namespace BtrfsLite.Cli.Commands;

/// <summary>
/// <c>btrfslite cp-in IMG HOSTPATH IMGPATH [--commit-files N] [--commit-bytes SIZE]</c>: copies a host file or tree
/// into the image like <c>cp -a</c> (<see cref="HostTreeImporter.Copy"/>: what it keeps, and how it merges into an
/// existing directory). A copy is committed every N entries or SIZE bytes of data (defaults 20000 / 1G) so that a
/// large tree never keeps its metadata changes in memory; a small copy is one transaction.
/// </summary>
internal static class CopyInCommand
{
    public static Command Create()
    {
        var image = FsCli.ImageArgument();
        var host = new Argument<string>("hostpath") { Description = "Host file, directory or symlink to copy" };
        var dest = FsCli.PathArgument("imgpath", "Destination in the image: a new name, or an existing directory to copy into");
        var commitFiles = new Option<int>("--commit-files") { Description = "Commit after this many copied entries", DefaultValueFactory = _ => 20000 };
        var commitBytes = new Option<string>("--commit-bytes") { Description = "Commit after this much file data (K/M/G/T)", DefaultValueFactory = _ => "1G" };
        var progress = new Option<bool>("--no-progress") { Description = "No progress display (it is shown only when stderr is a terminal)" };
        var cmd = new Command("cp-in", "Copy a host file or directory tree into the image (like cp -a)") { image, host, dest, commitFiles, commitBytes, progress };
        cmd.SetAction(pr =>
        {
            int files = pr.GetValue(commitFiles);
            if (files < 1) throw new ArgumentException("--commit-files must be at least 1");
            ulong bytes = FsCli.ParseSize(pr.GetValue(commitBytes)!, "--commit-bytes", allowZero: false);
            if (!OperatingSystem.IsLinux()) throw new BtrfsUnsupportedException("cp-in needs Linux (statx, SEEK_DATA, xattrs)");
            var hostPath = pr.GetValue(host)!;
            // A missing host path fails before the image is opened (a dangling symlink is copied as what it is).
            if (!Path.Exists(hostPath) && new FileInfo(hostPath).LinkTarget == null)
                throw new FileNotFoundException($"{hostPath}: no such file or directory", hostPath);
            using var fs = FsCli.Open(pr.GetValue(image)!, writable: true);
            Action<HostImportProgress>? onProgress = null;
            var importer = new HostTreeImporter(fs, new HostImportOptions
            {
                BatchEntries = files,
                BatchBytes = (long)Math.Min(bytes, long.MaxValue),
                Progress = p => onProgress?.Invoke(p),
            });
            try
            {
                if (!pr.GetValue(progress) && !Console.IsErrorRedirected)
                {
                    var scan = HostTreeImporter.Scan(hostPath);
                    long totalEntries = scan.Entries + scan.Sockets + 1; // a scan does not count the top entry
                    var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
                    console.Progress()
                        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                        .Start(ctx =>
                        {
                            var task = ctx.AddTask("copying", maxValue: Math.Max(1, scan.DataBytes));
                            onProgress = p =>
                            {
                                task.Value = p.Bytes;
                                task.Description = Markup.Escape($"{p.Entries}/{totalEntries} entries");
                            };
                            importer.Copy(hostPath, pr.GetValue(dest)!);
                            task.Value = task.MaxValue;
                        });
                }
                else importer.Copy(hostPath, pr.GetValue(dest)!);
            }
            catch (FsException ex) when (importer.Commits > 0)
            {
                throw new FsException(ex.Errno, $"{ex.Message.Substring(ex.Errno.Length + 2)} ({importer.Commits} earlier transaction(s) of this copy stay committed)");
            }
            catch (IOException ex) when (importer.Commits > 0 && ex is not ImageInUseException)
            {
                // An I/O error or ENOSPC: the batch that failed changed nothing; say what did commit.
                throw new IOException($"{ex.Message} ({importer.Commits} earlier transaction(s) of this copy stay committed; the failed one changed nothing)", ex);
            }
            var r = importer.Result;
            foreach (var note in r.Notes) Console.Error.WriteLine($"NOTE: {note}");
            Console.Out.WriteLine($"copied {r.Entries} entries ({r.RegularFiles} files, {r.Directories} directories, {r.Symlinks} symlinks, " +
                $"{r.HardLinks} hard links, {r.Specials} other), {r.DataBytes} bytes of data in {r.Commits} transaction(s)");
            return ExitCodes.Ok;
        });
        return cmd;
    }
}
