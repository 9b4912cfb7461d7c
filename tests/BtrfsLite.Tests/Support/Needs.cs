namespace BtrfsLite.Tests.Support;

/// <summary>What a test may need from the machine beyond .NET: the real tools and the privileges to mount.</summary>
public enum Need
{
    /// <summary>mkfs.btrfs and btrfs (btrfs-progs).</summary>
    BtrfsProgs,
    /// <summary>Root, loop devices, mount/losetup, a kernel with btrfs.</summary>
    RootLoopMount,
    /// <summary>Root without a mount (chown, mknod).</summary>
    Root,
    /// <summary>setfattr and getfattr (attr).</summary>
    Attr,
    /// <summary>chattr (e2fsprogs).</summary>
    Chattr,
    /// <summary>python3 (the kernel harness tools/kernel-replay.py, small scripts).</summary>
    Python3,
    /// <summary>clang and the zlib headers (NativeAOT).</summary>
    NativeToolchain,
}

/// <summary>
/// The one place that decides whether a test can run here: <see cref="WhyNot"/> gives the first missing need as a skip
/// reason that names the package to install. Every Requires… attribute of the tests asks it, so a missing tool is a
/// reported skip (shown with its reason in the default `dotnet test` output), never a failure or a silent pass.
/// </summary>
public static class Needs
{
    public static string? WhyNot(params Need[] needs)
    {
        foreach (var n in needs)
            if (Check(n) is string why) return why;
        return null;
    }

    private static string? Check(Need n) => n switch
    {
        Need.BtrfsProgs => RealTools.HasBtrfsProgs ? null : "btrfs-progs (mkfs.btrfs, btrfs) not installed: apt-get install btrfs-progs",
        Need.RootLoopMount => KernelImages.WhyNot(),
        Need.Root => !OperatingSystem.IsLinux() ? "needs Linux" : Environment.UserName != "root" ? "needs root (chown, mknod)" : null,
        Need.Attr => RealTools.Which("setfattr") != null && RealTools.Which("getfattr") != null ? null : "setfattr/getfattr not installed: apt-get install attr",
        Need.Chattr => RealTools.Which("chattr") != null ? null : "chattr not installed: apt-get install e2fsprogs",
        Need.Python3 => RealTools.Which("python3") != null ? null : "python3 not installed: apt-get install python3",
        Need.NativeToolchain => BtrfsLite.Tests.Cli.NativeToolchain.WhyNot(),
        _ => throw new ArgumentOutOfRangeException(nameof(n)),
    };
}

/// <summary>A fact that runs only where <see cref="Needs"/> says it can; otherwise skipped with the reason.</summary>
public sealed class RequiresFactAttribute : FactAttribute
{
    public RequiresFactAttribute(params Need[] needs)
    {
        if (Needs.WhyNot(needs) is string why) Skip = why;
    }
}

/// <summary>A theory that runs only where <see cref="Needs"/> says it can; otherwise skipped with the reason.</summary>
public sealed class RequiresTheoryAttribute : TheoryAttribute
{
    public RequiresTheoryAttribute(params Need[] needs)
    {
        if (Needs.WhyNot(needs) is string why) Skip = why;
    }
}
