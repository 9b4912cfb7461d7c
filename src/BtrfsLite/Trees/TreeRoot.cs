namespace BtrfsLite.Trees;

/// <summary>Where a tree starts: its root block, level and generation (as its ROOT_ITEM or the superblock says).</summary>
public readonly record struct TreeRoot(ulong TreeId, ulong Bytenr, byte Level, ulong Generation);
