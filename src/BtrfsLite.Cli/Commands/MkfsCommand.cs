using System.CommandLine;
using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.IO;
using BtrfsLite.Mkfs;
using Spectre.Console;

namespace BtrfsLite.Cli.Commands;

/// <summary>
/// <c>btrfslite mkfs IMG|DEVICE [--size SIZE] [--label L] [--uuid UUID] [--nodesize N] [--sectorsize N] [--quota]
/// [--no-free-space-tree] [--metadata single|dup] [--force] [--deterministic] [--rootdir DIR]</c>: a btrfs filesystem,
/// empty or (--rootdir) holding a copy of DIR, like mkfs.btrfs. Exit 0 on success, 2 for bad arguments (size, too
/// small, existing filesystem without --force), 5 for I/O errors (also: DIR does not fit in --size; the partial image
/// file is removed).
/// </summary>
internal static class MkfsCommand
{
    public static Command Create()
    {
        var target = new Argument<string>("image") { Description = "Image file (created or extended as needed) or block device" };
        var size = new Option<string?>("--size", "-b") { Description = "Filesystem size, e.g. 128M, 1G, 20G (powers of 1024); default: the device or file size" };
        var label = new Option<string>("--label", "-L") { Description = "Filesystem label", DefaultValueFactory = _ => "" };
        var uuid = new Option<string?>("--uuid", "-U") { Description = "Filesystem uuid (default: random, or seeded with --deterministic)" };
        var nodesize = new Option<string>("--nodesize", "-n") { Description = "Tree block size, a power of two in [sectorsize, 64K]", DefaultValueFactory = _ => "16K" };
        var sectorsize = new Option<string>("--sectorsize", "-s") { Description = "Sector size: 4K or the page size", DefaultValueFactory = _ => "4K" };
        var quota = new Option<bool>("--quota") { Description = "Enable quotas (qgroup 0/5), like mkfs.btrfs -R quota" };
        var noFst = new Option<bool>("--no-free-space-tree") { Description = "No free space tree (the kernel then uses the v1 space cache)" };
        var metadata = new Option<string>("--metadata", "-m") { Description = "Metadata profile", DefaultValueFactory = _ => "single" };
        metadata.AcceptOnlyFromAmong("single", "dup");
        var force = new Option<bool>("--force", "-f") { Description = "Overwrite an existing filesystem or non-empty file/device" };
        var deterministic = new Option<bool>("--deterministic") { Description = "Seeded uuids and fixed times (SOURCE_DATE_EPOCH or 0): byte-identical output for the same options" };
        var rootdir = new Option<string?>("--rootdir", "-r") { Description = "Copy this directory tree into the new filesystem (without --size an image file is sized to fit)" };
        var cmd = new Command("mkfs", "Create a btrfs filesystem, empty or holding a copy of a directory (like mkfs.btrfs [--rootdir])")
        {
            target, size, label, uuid, nodesize, sectorsize, quota, noFst, metadata, force, deterministic, rootdir,
        };
        cmd.SetAction(pr =>
        {
            var path = pr.GetValue(target)!;
            long? sz = pr.GetValue(size) is { } s ? ImageOptions.ParseSize(s) : null;
            Guid? fsid = null;
            if (pr.GetValue(uuid) is { } u)
                fsid = Guid.TryParse(u, out var g) ? g : throw new ArgumentException($"--uuid '{u}' is not a uuid");
            var epoch = ImageOptions.SourceDateEpoch();
            var opt = new ImageOptions
            {
                Size = sz,
                Label = pr.GetValue(label) ?? "",
                Fsid = fsid,
                NodeSize = ParseBlockSize(pr.GetValue(nodesize)!, "--nodesize"),
                SectorSize = ParseBlockSize(pr.GetValue(sectorsize)!, "--sectorsize"),
                Quota = pr.GetValue(quota),
                FreeSpaceTree = !pr.GetValue(noFst),
                MetadataProfile = pr.GetValue(metadata) == "dup" ? MetadataProfile.Dup : MetadataProfile.Single,
                Deterministic = pr.GetValue(deterministic) || epoch != null,
                Time = epoch,
            };
            return Run(path, opt, pr.GetValue(force), pr.GetValue(rootdir));
        });
        return cmd;
    }

    private static int ParseBlockSize(string text, string option)
    {
        long v = ImageOptions.ParseSize(text);
        if (v > int.MaxValue) throw new ArgumentException($"{option} {text} is too large");
        return (int)v;
    }

    private static int Run(string path, ImageOptions opt, bool force, string? rootdir)
    {
        if (rootdir != null) return RunRootDir(path, opt, force, rootdir);
        if (Directory.Exists(path)) throw new ArgumentException($"{path} is a directory");
        bool exists = File.Exists(path);
        if (!exists && opt.Size == null) throw new ArgumentException($"{path} does not exist: give --size to create it");

        // One handle from the first look to the last write: locked exclusively (and O_EXCL on a block device), refused
        // when mounted; nothing changes before every check passed, so a bad option never destroys data.
        ImageSummary s;
        using (var dev = FileBlockDevice.OpenForCreate(path, FsCli.Wait))
        {
            try
            {
                if (exists) RefuseExisting(dev, path, force);
                long size = opt.Size ?? dev.Length;
                ImageBuilder.Validate(opt, dev.IsBlockDevice ? dev.Length : size);
                // A file is recreated sparse at the requested size, so nothing of an old image survives and runs are reproducible.
                if (!dev.IsBlockDevice) dev.Recreate(size);
                s = ImageBuilder.Create(dev, opt);
            }
            catch
            {
                if (!exists) TryDelete(path);
                throw;
            }
        }
        PrintSummary(path, s);
        return ExitCodes.Ok;
    }

    private static void RefuseExisting(IBlockDevice dev, string path, bool force)
    {
        if (!force && HasBtrfsMagic(dev))
            throw new ArgumentException($"{path} already contains a btrfs filesystem (magic _BHRfS_M found); use --force to overwrite it");
        if (!force && !LooksEmpty(dev))
            throw new ArgumentException($"{path} is not empty (data in its first MiB); use --force to overwrite it");
    }

    /// <summary>
    /// mkfs --rootdir. Size: --size if given; else a block device's size; else (an image file) what
    /// <see cref="RootDirImporter.EstimateSize"/> computes from a scan of DIR. If DIR does not fit, the command fails
    /// (ENOSPC, exit 5) and removes the image file it created: an image is never silently truncated.
    /// </summary>
    private static int RunRootDir(string path, ImageOptions opt, bool force, string rootdir)
    {
        if (Directory.Exists(path)) throw new ArgumentException($"{path} is a directory");
        if (!Directory.Exists(rootdir)) throw new ArgumentException($"--rootdir '{rootdir}' is not a directory");
        bool exists = File.Exists(path);
        using var dev = FileBlockDevice.OpenForCreate(path, FsCli.Wait);
        try { return RunRootDir(dev, path, exists, opt, force, rootdir); }
        catch
        {
            if (!exists) TryDelete(path);
            throw;
        }
    }

    private static int RunRootDir(FileBlockDevice dev, string path, bool exists, ImageOptions opt, bool force, string rootdir)
    {
        bool isBlock = dev.IsBlockDevice;
        long existingLength = dev.Length;
        if (exists) RefuseExisting(dev, path, force);
        var stderr = Console.Error;
        bool fancy = !Console.IsErrorRedirected;
        HostTreeScan? scan = null;
        if (opt.Size == null && !isBlock || fancy)
            scan = RootDirImporter.Scan(rootdir, opt.SectorSize);
        bool sizeGiven = opt.Size != null;
        long size = opt.Size ?? (isBlock ? existingLength : RootDirImporter.EstimateSize(scan!, opt));
        opt = opt with { Size = size };
        ImageBuilder.Validate(opt, isBlock ? existingLength : size);

        ImageSummary s;
        HostImportResult r;
        var started = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            if (!isBlock) dev.Recreate(size);
            if (fancy)
            {
                (ImageSummary?, HostImportResult?) res = default;
                var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stderr) });
                console.Progress().AutoClear(true).HideCompleted(true)
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .Start(ctx =>
                    {
                        var files = ctx.AddTask("entries", maxValue: Math.Max(1, scan!.Entries));
                        var bytes = ctx.AddTask("data", maxValue: Math.Max(1, scan.DataBytes));
                        long last = 0;
                        res = RootDirImporter.Create(dev, opt, rootdir, new HostImportOptions
                        {
                            Totals = scan,
                            Progress = p =>
                            {
                                long now = Environment.TickCount64;
                                if (now - last < 100) return;
                                last = now;
                                files.Value = p.Entries;
                                bytes.Value = p.Bytes;
                                files.Description = $"Entries {p.Entries}/{scan.Entries}";
                                bytes.Description = $"Data {Human((ulong)p.Bytes)}/{Human((ulong)scan.DataBytes)}";
                            },
                        });
                        files.Value = files.MaxValue;
                        bytes.Value = bytes.MaxValue;
                    });
                (s, r) = (res.Item1!, res.Item2!);
            }
            else (s, r) = RootDirImporter.Create(dev, opt, rootdir);
        }
        catch (NoSpaceException ex)
        {
            if (!isBlock) TryDelete(path);
            throw new IOException($"{rootdir} does not fit in {Human((ulong)size)} ({ex.Message}); {(sizeGiven || isBlock ? "give a larger --size (or none: an image file is then sized to fit)" : "the size estimate was too small; give --size")}{(isBlock ? "; the device holds an incomplete filesystem" : "; the image file was removed")}", ex);
        }
        catch
        {
            if (!isBlock) TryDelete(path);
            throw;
        }
        PrintSummary(path, s);
        foreach (var note in r.Notes) stderr.WriteLine($"NOTE: {note}");
        Console.Out.WriteLine($"Rootdir:            {rootdir}: {r.Entries} entries ({r.Directories} dirs, {r.RegularFiles} files of which {r.InlineFiles} inline, {r.Symlinks} symlinks, {r.HardLinks} extra hard links, {r.Specials} special), {Human((ulong)r.StoredBytes)} of data in {r.Commits} commits, {started.Elapsed.TotalSeconds:0.0}s");
        return ExitCodes.Ok;
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static bool HasBtrfsMagic(IBlockDevice dev)
    {
        var buf = new byte[8];
        for (int i = 0; i < 3; i++)
        {
            long off = Superblock.MirrorOffset(i) + Superblock.Offsets.Magic;
            if (off + 8 > dev.Length) break;
            dev.Read(buf, off);
            if (BitConverter.ToUInt64(buf) == Superblock.MagicValue) return true;
        }
        return false;
    }

    private static bool LooksEmpty(IBlockDevice dev)
    {
        var buf = new byte[(int)Math.Min(dev.Length, 1L << 20)];
        dev.Read(buf, 0);
        return !buf.AsSpan().ContainsAnyExcept((byte)0);
    }

    private static void PrintSummary(string path, ImageSummary s)
    {
        var o = Console.Out;
        o.WriteLine($"Label:              {(s.Label.Length == 0 ? "(null)" : s.Label)}");
        o.WriteLine($"UUID:               {s.Fsid}");
        o.WriteLine($"Node size:          {s.NodeSize}");
        o.WriteLine($"Sector size:        {s.SectorSize}");
        o.WriteLine($"Filesystem size:    {Human(s.TotalBytes)}");
        o.WriteLine("Block group profiles:");
        foreach (var (name, type) in new[] { ("Data", BlockGroupFlags.Data), ("Metadata", BlockGroupFlags.Metadata), ("System", BlockGroupFlags.System) })
        {
            var c = s.Chunks.First(c => (c.Type & type) != 0);
            string profile = (c.Type & BlockGroupFlags.Dup) != 0 ? "DUP" : "single";
            o.WriteLine($"  {name + ":",-18}{profile,-16}{Human(c.Length),10}");
        }
        o.WriteLine("Incompat features:  extref, skinny-metadata, no-holes");
        var runtime = new List<string>();
        if (s.Quota) runtime.Add("quota");
        if (s.FreeSpaceTree) runtime.Add("free-space-tree");
        o.WriteLine($"Runtime features:   {(runtime.Count == 0 ? "none" : string.Join(", ", runtime))}");
        o.WriteLine("Checksum:           crc32c");
        o.WriteLine("Number of devices:  1");
        o.WriteLine("Devices:");
        o.WriteLine("   ID        SIZE  PATH");
        o.WriteLine($"    1  {Human(s.TotalBytes),10}  {path}");
    }

    /// <summary>btrfs-progs' pretty size: two decimals, binary units.</summary>
    private static string Human(ulong bytes)
    {
        string[] units = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return u == 0 ? $"{bytes}B" : $"{v.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture)}{units[u]}";
    }
}
