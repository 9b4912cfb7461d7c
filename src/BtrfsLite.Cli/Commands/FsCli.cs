using System.CommandLine;
using System.Globalization;
using BtrfsLite.Fs;
using BtrfsLite.Mkfs;

namespace BtrfsLite.Cli.Commands;

/// <summary>
/// What the file-system commands share: opening the image, size arguments, and the "existing directory means
/// put it inside" rule of mv/ln/snapshot. FsException (ENOENT, EEXIST, ...) becomes exit 1 in <see cref="CliRunner"/>.
/// </summary>
internal static class FsCli
{
    public static Argument<string> ImageArgument() => new("image") { Description = "image file or block device" };

    public static Argument<string> PathArgument(string name, string description) => new(name) { Description = description };

    /// <summary>Opens the image for one command. Writable commands commit one transaction per change.</summary>
    public static Filesystem Open(string image, bool writable)
    {
        RequireImage(image);
        return writable ? Filesystem.Open(image) : Filesystem.OpenReadOnly(image);
    }

    private static void RequireImage(string image)
    {
        if (Directory.Exists(image)) throw new IOException($"{image} is a directory, not an image file or block device");
        if (!File.Exists(image)) throw new FileNotFoundException($"{image}: no such file", image);
    }

    /// <summary>
    /// Opens the image for a data command (write, punch, truncate, fallocate): through <see cref="FsSession"/>, so the
    /// qgroup reservations and limits apply as on the kernel; everything is written back and committed at the end.
    /// </summary>
    public static FsSession OpenSession(string image)
    {
        RequireImage(image);
        return FsSession.Open(image);
    }

    /// <summary>A byte count: digits with an optional K/M/G/T suffix (powers of 1024); 0 allowed where <paramref name="allowZero"/>.</summary>
    public static ulong ParseSize(string text, string what, bool allowZero = true)
    {
        var t = text.Trim();
        if (allowZero && ulong.TryParse(t.TrimEnd('K', 'M', 'G', 'T', 'k', 'm', 'g', 't'), NumberStyles.None, CultureInfo.InvariantCulture, out ulong z) && z == 0)
            return 0;
        try { return (ulong)ImageOptions.ParseSize(t); }
        catch (ArgumentException ex) { throw new ArgumentException($"{what}: {ex.Message}"); }
    }

    public static ulong? ParseOptionalSize(string? text, string what, bool allowZero = true) =>
        text == null ? null : ParseSize(text, what, allowZero);

    /// <summary>Like mv/ln/btrfs subvolume snapshot: when <paramref name="to"/> names an existing directory, the new entry goes inside it.</summary>
    public static string IntoDirectory(Filesystem fs, string from, string to)
    {
        var fromName = from.TrimEnd('/').Split('/').LastOrDefault(p => p.Length > 0);
        if (fromName == null || fromName == "." || fromName == "..") return to;
        bool isDir = fs.ReadOnly(tx =>
        {
            try
            {
                var l = fs.Resolve(tx, to);
                return fs.TreeOf(tx, l.Tree).ReadInode(l.Ino).IsDir;
            }
            catch (FsException) { return false; }
        });
        return isDir ? to.TrimEnd('/') + "/" + fromName : to;
    }
}
