namespace BtrfsLite.Cli;

/// <summary>Process exit codes. Scripts rely on them; keep them stable.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The command ran and found problems (check: errors found; file commands: the file system refused, ERROR: ENOENT: ...).</summary>
    public const int Findings = 1;
    /// <summary>Bad arguments.</summary>
    public const int Usage = 2;
    /// <summary>The image is corrupt where the command needed it, or not btrfs.</summary>
    public const int Corrupt = 3;
    /// <summary>The image uses a feature outside the supported subset.</summary>
    public const int Unsupported = 4;
    /// <summary>The file or device could not be read or written.</summary>
    public const int IoError = 5;
    /// <summary>The library refused to go on from an internal state (a bug to report); the image keeps its last commit.</summary>
    public const int Internal = 6;
    /// <summary>The image is in use: another program holds its lock (without --wait), or a mounted file system uses it. Nothing was read or written.</summary>
    public const int InUse = 7;
}
