namespace BtrfsLite.Trees;

/// <summary>Where a tree starts: its root block, level and generation (as its ROOT_ITEM or the superblock says).</summary>
/// <param name="TreeId">The tree's id (root objectid).</param>
/// <param name="Bytenr">The root block's logical address.</param>
/// <param name="Level">The root block's level (0: a leaf).</param>
/// <param name="Generation">The transaction that wrote the root block (checked against the block's header on
/// read).</param>
public readonly record struct TreeRoot(ulong TreeId, ulong Bytenr, byte Level, ulong Generation);
