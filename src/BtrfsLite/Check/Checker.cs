using BtrfsLite.Format;
using BtrfsLite.Images;

namespace BtrfsLite.Check;

/// <summary>
/// fsck: re-derives every invariant from the raw trees, in phases like btrfs check. Never throws for corrupt
/// input: everything becomes a <see cref="Finding"/>.
/// </summary>
public static class Checker
{
    private sealed record Phase(string Name, Action<CheckContext> Run, bool InQgroupOnly);

    private static readonly Phase[] Phases =
    {
        new("checking superblock", SuperblockChecker.Run, false),
        new("checking root items", TreeBlockWalker.Run, true),
        new("checking extents", ExtentChecker.Run, false),
        new("checking free space tree", FreeSpaceChecker.Run, false),
        new("checking fs roots", FsRootChecker.Run, false),
        new("checking csums", CsumChecker.Run, false),
        new("checking root refs", RootRefChecker.Run, false),
        new("checking quota groups", QgroupVerifier.Run, true),
    };

    /// <summary>
    /// Opens <paramref name="path"/> read-only and checks it
    /// (<see cref="Check(BtrfsImage, CheckOptions?, CheckReport?)"/>); an image that cannot be opened (bad superblock,
    /// unsupported feature, I/O error) gives a report with that one finding.
    /// </summary>
    /// <exception cref="ImageInUseException">A writer holds the image's lock (without <see cref="CheckOptions.Wait"/>)
    /// or it is mounted (without <see cref="CheckOptions.AllowMounted"/>).</exception>
    public static CheckReport Check(string path, CheckOptions? options = null)
    {
        options ??= new CheckOptions();
        var report = new CheckReport();
        BtrfsImage image;
        try
        {
            // A bad superblock checksum is a finding of the superblock phase, not a reason to stop; a small
            // node cache keeps peak memory low (phases read raw or walk each tree once).
            image = BtrfsImage.Open(path, new BtrfsImage.OpenOptions(VerifySuperCsum: false, CacheNodes: 1024, Wait: options.Wait, AllowMounted: options.AllowMounted, TreeChecks: false));
        }
        catch (ImageInUseException) { throw; } // not a finding about the image: nothing was read
        catch (Exception ex) when (ex is InvalidDataException or BtrfsUnsupportedException or IOException or UnauthorizedAccessException)
        {
            report.AddException(ex is InvalidDataException ? FindingCode.SuperInvalidField : FindingCode.PhaseAborted, ex);
            return report;
        }
        using (image) return Check(image, options, report);
    }

    /// <summary>
    /// Runs every phase on <paramref name="image"/> (with <see cref="CheckOptions.QgroupReport"/> only the tree walk
    /// and the quota group phase), adding to <paramref name="report"/> when given; a phase that cannot get past bad
    /// bytes ends with a <see cref="FindingCode.PhaseAborted"/> finding and the others still run.
    /// </summary>
    /// <returns>The report with every finding.</returns>
    public static CheckReport Check(BtrfsImage image, CheckOptions? options = null, CheckReport? report = null)
    {
        options ??= new CheckOptions();
        report ??= new CheckReport();
        var ctx = new CheckContext(image, options, report);
        var phases = options.QgroupReport ? Phases.Where(p => p.InQgroupOnly).ToArray() : Phases;
        for (int i = 0; i < phases.Length; i++)
        {
            options.OnPhase?.Invoke(i + 1, phases.Length, phases[i].Name);
            try
            {
                phases[i].Run(ctx);
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException or BtrfsUnsupportedException
                                           or KeyNotFoundException or ArgumentException or IndexOutOfRangeException)
            {
                // A phase that cannot get past bad bytes stops; the others still run.
                report.Add(FindingCode.PhaseAborted, Corruption.Tree(ex), Corruption.Bytenr(ex), Corruption.Slot(ex),
                    $"{phases[i].Name}: stopped: {ex.Message}");
            }
        }
        return report;
    }
}
