namespace BtrfsLite.Tests.Support;

/// <summary>A fact that needs btrfs-progs (see <see cref="Needs"/>).</summary>
public sealed class RequiresBtrfsProgsFactAttribute : FactAttribute
{
    public RequiresBtrfsProgsFactAttribute()
    {
        if (Needs.WhyNot(Need.BtrfsProgs) is string why) Skip = why;
    }
}

public sealed class RequiresBtrfsProgsTheoryAttribute : TheoryAttribute
{
    public RequiresBtrfsProgsTheoryAttribute()
    {
        if (Needs.WhyNot(Need.BtrfsProgs) is string why) Skip = why;
    }
}
