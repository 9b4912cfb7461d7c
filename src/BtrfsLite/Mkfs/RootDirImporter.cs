using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.IO;
using BtrfsLite.Images;

namespace BtrfsLite.Mkfs;

/// <summary>
/// <c>mkfs --rootdir</c>: a new image (<see cref="ImageBuilder"/>) with a host directory tree imported into its
/// top-level subvolume by <see cref="HostTreeImporter"/>, and the image size that tree needs.
/// </summary>
/// <remarks>
/// Sockets are skipped (a note says which). The attributes of DIR itself go onto the root directory (inode 256). Times
/// as <see cref="HostTreeImporter"/> keeps them, with the image clock (<see cref="ImageOptions.Time"/>) as the file
/// system's; deterministic mode (<see cref="ImageOptions.Deterministic"/>, SOURCE_DATE_EPOCH) imports with
/// <see cref="HostImportOptions.Deterministic"/>, so two runs over the same tree give byte-identical images. File data
/// goes to the device as it is read: a failed mkfs leaves no file system to keep.
/// </remarks>
public static class RootDirImporter
{
    /// <summary>Builds an empty filesystem on <paramref name="dev"/> (<see cref="ImageBuilder.Create"/>) and imports <paramref name="dir"/> into it.</summary>
    public static (ImageSummary Image, HostImportResult Import) Create(IBlockDevice dev, ImageOptions o, string dir, HostImportOptions? options = null)
    {
        CheckDir(dir);
        var summary = ImageBuilder.Create(dev, o);
        using var image = BtrfsImage.Open(dev, new BtrfsImage.OpenOptions(Writable: true, CacheNodes: 1024));
        var time = o.ResolveTime();
        var fs = new Filesystem(image, new FilesystemOptions { Clock = () => time });
        var importer = new HostTreeImporter(fs, (options ?? new HostImportOptions()) with
        {
            WriteThrough = true,
            Deterministic = o.Deterministic,
            SkipSockets = true,
        });
        var result = importer.ImportInto(dir, new FsLocation(ObjectIds.FsTree, FsTree.RootDirIno));
        return (summary, result);
    }

    /// <summary><see cref="HostTreeImporter.Scan"/> of DIR (followed when given through a symlink), for sizing.</summary>
    public static HostTreeScan Scan(string dir, int sectorSize = 4096)
    {
        CheckDir(dir);
        var root = Path.GetFullPath(dir);
        root = new DirectoryInfo(root).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? root;
        return HostTreeImporter.Scan(root, sectorSize);
    }

    private static void CheckDir(string dir)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("--rootdir needs Linux (statx, xattrs, SEEK_DATA)");
        if (!Directory.Exists(dir)) throw new ArgumentException($"--rootdir '{dir}' is not a directory");
    }

    /// <summary>
    /// The image size <c>mkfs --rootdir</c> picks when no size is given:
    /// 1 MiB (reserved) + system chunk(s) (4 MiB; DUP 2 × 8 MiB) + data (sector rounded) + 1/64 of the data and 16 MiB
    /// for chunk rounding + metadata budget (3 × the scanned item bytes, for half-full leaves and the copies a commit
    /// keeps until the next, + 32 MiB; × 2 for DUP), rounded up to a MiB, at least 128 MiB.
    /// </summary>
    public static long EstimateSize(HostTreeScan scan, ImageOptions o)
    {
        const long MiB = 1L << 20;
        bool dup = o.MetadataProfile == MetadataProfile.Dup;
        long system = dup ? 16 * MiB : 4 * MiB;
        long meta = 3 * scan.MetadataItemBytes + 32 * MiB;
        if (dup) meta *= 2;
        long total = MiB + system + scan.DataBytes + scan.DataBytes / 64 + 16 * MiB + meta;
        total = (total + MiB - 1) / MiB * MiB;
        return Math.Max(total, ImageOptions.MinimumSize);
    }
}
