using System.Diagnostics.CodeAnalysis;

namespace BtrfsLite.Format;

/// <summary>A valid btrfs feature that BtrfsLite does not handle; the message names it.</summary>
public sealed class BtrfsUnsupportedException : NotSupportedException
{
    /// <summary>Creates the exception; <paramref name="message"/> names the unsupported feature.</summary>
    public BtrfsUnsupportedException(string message) : base(message) { }
}

/// <summary>
/// Corrupt bytes raise <see cref="InvalidDataException"/> (sealed in .NET, so no subclass) whose message carries the
/// btrfs-style location and whose <see cref="Exception.Data"/> holds it as fields.
/// </summary>
public static class Corruption
{
    /// <summary>
    /// The <see cref="Exception.Data"/> keys of a corruption error's location: tree block bytenr (ulong), tree id
    /// (ulong), item slot (int).
    /// </summary>
    public const string BytenrKey = "btrfs.bytenr", TreeKey = "btrfs.tree", SlotKey = "btrfs.slot";

    /// <summary>
    /// A corruption error: an <see cref="InvalidDataException"/> with <paramref name="message"/> and the location in
    /// <see cref="Exception.Data"/> (bytenr 0, tree 0 or slot -1 when unknown).
    /// </summary>
    public static InvalidDataException Create(string message, ulong bytenr = 0, ulong tree = 0, int slot = -1)
    {
        var ex = new InvalidDataException(message);
        ex.Data[BytenrKey] = bytenr;
        ex.Data[TreeKey] = tree;
        ex.Data[SlotKey] = slot;
        return ex;
    }

    /// <summary>The tree block bytenr a corruption error carries; 0 when it carries none.</summary>
    public static ulong Bytenr(Exception ex) => ex.Data[BytenrKey] is ulong b ? b : 0;
    /// <summary>The tree id (root objectid) a corruption error carries; 0 when it carries none.</summary>
    public static ulong Tree(Exception ex) => ex.Data[TreeKey] is ulong t ? t : 0;
    /// <summary>The item slot a corruption error carries; -1 when it carries none.</summary>
    public static int Slot(Exception ex) => ex.Data[SlotKey] is int s ? s : -1;
}

internal static class Throw
{
    [DoesNotReturn]
    public static void Corrupt(string message, ulong bytenr = 0, ulong tree = 0, int slot = -1) =>
        throw Corruption.Create(message, bytenr, tree, slot);

    [DoesNotReturn]
    public static T Corrupt<T>(string message, ulong bytenr = 0, ulong tree = 0, int slot = -1) =>
        throw Corruption.Create(message, bytenr, tree, slot);

    [DoesNotReturn]
    public static void Unsupported(string message) => throw new BtrfsUnsupportedException(message);
}

/// <summary>
/// The image is in use: another program holds its lock (a btrfslite writer, or readers while we want to write), or a
/// mounted file system uses it. Nothing was read or written. The CLI exits 7.
/// </summary>
public sealed class ImageInUseException : IOException
{
    /// <summary>
    /// Creates the exception for <paramref name="image"/>; <paramref name="mounted"/> tells a mount from a lock holder.
    /// </summary>
    public ImageInUseException(string image, bool mounted, string message) : base(message)
    {
        Image = image;
        Mounted = mounted;
    }

    /// <summary>The path that was opened.</summary>
    public string Image { get; }
    /// <summary>True when a mounted file system uses it (never waited for); false when a lock holder does.</summary>
    public bool Mounted { get; }
}

/// <summary>
/// ENOSPC: no free space for an allocation. Before the commit point it aborts the operation (and, when a tree change
/// was half done, the transaction); the last commit stays.
/// </summary>
public sealed class NoSpaceException : IOException
{
    /// <summary>Creates the exception; the message is "ENOSPC: " followed by <paramref name="message"/>.</summary>
    public NoSpaceException(string message) : base("ENOSPC: " + message) { }
    /// <summary>The errno name, always "ENOSPC".</summary>
    public string Errno => "ENOSPC";
}

/// <summary>
/// Qgroup numbers accounted per changed extent differ from a full recomputation of the same trees (the verifier that
/// <c>VerifyAccounting</c> turns on). A bug to report: it is thrown before the commit point, so the image keeps its
/// last commit.
/// </summary>
/// <param name="message">The qgroups whose numbers differ, with both values.</param>
public sealed class QgroupAccountingMismatchException(string message) : InvalidOperationException(message);
