using BtrfsLite.Images;

namespace BtrfsLite.Check;

/// <summary>State shared by the phases of one check run. Phases recompute from raw trees; they never trust the writer.</summary>
internal sealed class CheckContext
{
    public CheckContext(BtrfsImage image, CheckOptions options, CheckReport report)
    { Image = image; Options = options; Report = report; }

    public BtrfsImage Image { get; }
    public CheckOptions Options { get; }
    public CheckReport Report { get; }

    /// <summary>Filled by <see cref="TreeBlockWalker"/>: every tree block reached from the superblock, and every data reference.</summary>
    public TreeWalkResult? Walk { get; set; }

    /// <summary>Root tree scan and subvolume entries shared by the fs-root and root-ref phases.</summary>
    internal FsCheckState? FsState { get; set; }
}
