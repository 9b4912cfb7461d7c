using BtrfsLite.Fs;

namespace BtrfsLite.Tests.Fs;

/// <summary>
/// The extent-map holes btrfs_punch_hole's find_first_non_hole sees (fs/btrfs/extent_map.c, inode.c
/// btrfs_get_extent and btrfs_cont_expand): what the kernel did on the same steps is in the workload punch-hole-maps.
/// </summary>
public class HoleMapCacheTests
{
    private const ulong K = 1024;

    [Fact]
    public void ALookupWithoutACachedMapEndsAtTheRequestOrTheNextExtent()
    {
        var c = new HoleMapCache();
        Assert.Equal(172 * K, c.LookupHole(5, 257, 100 * K, 72 * K, ulong.MaxValue));
        Assert.Equal(190 * K, c.LookupHole(5, 258, 100 * K, 200 * K, 190 * K));
    }

    [Fact]
    public void AContExpandMapIsReturnedWholeButNeverPastAnExtent()
    {
        var c = new HoleMapCache();
        c.AddModified(5, 257, 232 * K, 1792 * K);
        Assert.Equal(1792 * K, c.LookupHole(5, 257, 268 * K, 76 * K, ulong.MaxValue));
        Assert.Equal(1024 * K, c.LookupHole(5, 257, 268 * K, 76 * K, 1024 * K)); // a later extent splits the map
        c.Drop(5, 257, 300 * K); // truncate: the maps past the new size go
        Assert.Equal(300 * K, c.LookupHole(5, 257, 268 * K, 76 * K, ulong.MaxValue));
        c.Forget(5, 257);
        Assert.Equal(344 * K, c.LookupHole(5, 257, 268 * K, 76 * K, ulong.MaxValue));
    }

    [Fact]
    public void LookupMapsMergeWithEachOtherButNotWithModifiedMapsUntilAnFsync()
    {
        var c = new HoleMapCache();
        c.AddModified(5, 257, 64 * K, 128 * K); // a punch
        // A lookup ending where the punched map starts stays its own map.
        Assert.Equal(64 * K, c.LookupHole(5, 257, 32 * K, 64 * K, ulong.MaxValue));
        // So does one that starts where the punched map ends; a lookup inside a map returns it as it is.
        Assert.Equal(200 * K, c.LookupHole(5, 257, 128 * K, 72 * K, ulong.MaxValue));
        Assert.Equal(64 * K, c.LookupHole(5, 257, 40 * K, 4 * K, ulong.MaxValue));
        // After the fsync the three are one map; a lookup's map next to a mergeable one joins it.
        c.Logged(5, 257);
        Assert.Equal(200 * K, c.LookupHole(5, 257, 40 * K, 4 * K, ulong.MaxValue));
        Assert.Equal(200 * K, c.LookupHole(5, 257, 16 * K, 16 * K, ulong.MaxValue));
    }
}
