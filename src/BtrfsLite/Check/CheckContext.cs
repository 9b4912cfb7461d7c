using BtrfsLite.Fs;

namespace BtrfsLite.Check;

/// <summary>State shared by the phases of one check run. Phases recompute from raw trees; they never trust the writer.</summary>
public sealed class CheckContext
{
    public CheckContext(BtrfsImage image, CheckOptions options, CheckReport report)
    { Image = image; Options = options; Report = report; }

    public BtrfsImage Image { get; }
    public CheckOptions Options { get; }
    public CheckReport Report { get; }

    /// <summary>Filled by <see cref="TreeBlockWalker"/>: every tree block reached from the superblock, and every data reference.</summary>
    public TreeWalkResult? Walk { get; set; }
}
