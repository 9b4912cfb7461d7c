using System.CommandLine;
using System.Globalization;
using BtrfsLite.Fs;
using BtrfsLite.Images;
using BtrfsLite.Mkfs;

namespace BtrfsLite.Cli.Commands;

/// <summary>
/// What the file-system commands share: opening the image, size arguments, and the "existing directory means
/// put it inside" rule of mv/ln/snapshot. FsException (ENOENT, EEXIST, ...) becomes exit 1 in <see cref="CliRunner"/>.
/// </summary>
internal static class FsCli
{
    public static Argument<string> ImageArgument() => new("image") { Description = "Image file or block device" };

    public static Argument<string> PathArgument(string name, string description) => new(name) { Description = description };

    /// <summary>The global <c>--wait</c>: wait for another program's lock on the image instead of exiting 7.</summary>
    public static readonly Option<bool> WaitOption = new("--wait")
    {
        Description = "When another program holds the image, wait for it instead of failing (exit 7); a mounted image is never waited for",
        Recursive = true,
    };

    /// <summary>Set from <see cref="WaitOption"/> before a command runs.</summary>
    public static bool Wait { get; set; }

    /// <summary>The global <c>--verify-accounting</c>: every commit checks its qgroup accounting against a full recomputation.</summary>
    public static readonly Option<bool> VerifyAccountingOption = new("--verify-accounting")
    {
        Description = "Commands that change the image compare each commit's per-extent qgroup accounting with a full recomputation and fail (exit 6, nothing committed) on any difference",
        Recursive = true,
    };

    /// <summary>Set from <see cref="VerifyAccountingOption"/> (or BTRFSLITE_VERIFY_ACCOUNTING=1) before a command runs.</summary>
    public static bool VerifyAccounting { get; set; }

    /// <summary>The <c>--force</c> of reading commands: read an image a mounted file system uses.</summary>
    public static Option<bool> ForceMountedOption() => new("--force")
    {
        Description = "Read the image even when a mounted file system uses it (the result may be inconsistent)",
    };

    /// <summary>Opens the image for one command. Writable commands commit one transaction per change.</summary>
    public static Filesystem Open(string image, bool writable, bool force = false)
    {
        RequireImage(image);
        var fs = writable ? Filesystem.Open(image, wait: Wait) : Filesystem.OpenReadOnly(image, wait: Wait, allowMounted: force);
        if (!writable) PrintWarnings(fs.Image);
        fs.Image.VerifyAccounting |= VerifyAccounting;
        return fs;
    }

    /// <summary>What the open tolerated (a mounted image read with --force, a device shorter than the file system): once, on stderr.</summary>
    public static void PrintWarnings(BtrfsImage image)
    {
        foreach (var w in image.Warnings) Console.Error.WriteLine($"WARNING: {w}");
    }

    private static void RequireImage(string image)
    {
        if (Directory.Exists(image)) throw new IOException($"{image} is a directory, not an image file or block device");
        if (!File.Exists(image)) throw new FileNotFoundException($"{image}: no such file", image);
    }

    /// <summary>
    /// Runs a data command (write, punch, truncate, fallocate) through <see cref="FsSession"/>, so the qgroup
    /// reservations and limits apply as on the kernel; everything is written back and committed at the end. All or
    /// nothing: when the command fails, the session is aborted and the image keeps its last commit.
    /// </summary>
    public static void InSession(string image, Action<FsSession> body)
    {
        RequireImage(image);
        using var s = FsSession.Open(image, wait: Wait);
        s.Image.VerifyAccounting |= VerifyAccounting;
        try
        {
            body(s);
            s.Sync();
        }
        catch
        {
            s.Abort("the command failed");
            throw;
        }
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
