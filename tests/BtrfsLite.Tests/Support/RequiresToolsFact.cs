namespace BtrfsLite.Tests.Support;

/// <summary>A fact that needs btrfs-progs; reported as skipped (never passed) when it is missing.</summary>
public sealed class RequiresBtrfsProgsFactAttribute : FactAttribute
{
    public RequiresBtrfsProgsFactAttribute()
    {
        if (!RealTools.HasBtrfsProgs) Skip = "btrfs-progs (mkfs.btrfs, btrfs) not installed: apt-get install btrfs-progs";
    }
}

public sealed class RequiresBtrfsProgsTheoryAttribute : TheoryAttribute
{
    public RequiresBtrfsProgsTheoryAttribute()
    {
        if (!RealTools.HasBtrfsProgs) Skip = "btrfs-progs (mkfs.btrfs, btrfs) not installed: apt-get install btrfs-progs";
    }
}
