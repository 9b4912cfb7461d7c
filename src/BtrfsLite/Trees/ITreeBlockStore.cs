using BtrfsLite.IO;

namespace BtrfsLite.Trees;

/// <summary>
/// What a copy-on-write tree needs from the running transaction. The tree algorithms (search with a CoW path,
/// insert/split, delete/merge/balance) live in <see cref="CowTree"/>; allocation, reference keeping (the extent
/// tree's backrefs, FULL_BACKREF conversion of shared blocks) and the commit live behind this interface.
/// <para>
/// Contract: a block is <em>dirty</em> when it was allocated in this transaction; only dirty blocks may be
/// changed. Every block on a path that is about to change is made dirty top-down with <see cref="Cow"/>
/// (the parent is already dirty when a child is copied), so all blocks the tree algorithms touch are owned by
/// the tree being changed and carry no FULL_BACKREF: moving items or pointers between two dirty blocks of one
/// tree never changes any backref, and the tree algorithms never report such moves.
/// </para>
/// </summary>
public interface ITreeBlockStore : INodeSource
{
    /// <summary>The tree block size in bytes (nodesize).</summary>
    int NodeSize { get; }

    /// <summary>The generation (transid) of the running transaction, written into every dirty block.</summary>
    ulong Generation { get; }

    /// <summary>True when the block was allocated in this transaction (may be changed in place).</summary>
    bool IsDirty(ulong bytenr);

    /// <summary>The writable buffer of a dirty block.</summary>
    byte[] GetDirty(ulong bytenr);

    /// <summary>
    /// A new empty block for tree <paramref name="owner"/> at <paramref name="level"/>, with its header filled
    /// (bytenr, generation, owner, level, nritems 0, fsid, chunk tree uuid, flags WRITTEN | mixed backref rev).
    /// It will be referenced from exactly one place in that tree (a parent pointer or the root pointer).
    /// </summary>
    (ulong Bytenr, byte[] Buffer) Allocate(ulong owner, int level);

    /// <summary>
    /// Copy-on-write of a non-dirty block reached through a dirty parent (or as the root) of tree
    /// <paramref name="owner"/>: allocates a new block with the same content, header fixed up, and moves that
    /// one reference from the old block to the new one (keeping every backref exact, shared blocks included).
    /// The caller then points the parent (or the root) at the returned bytenr.
    /// </summary>
    (ulong Bytenr, byte[] Buffer) Cow(ulong bytenr, int level, ulong generation, ulong owner);

    /// <summary>
    /// A dirty block that the tree no longer references (emptied by a merge or the last item deleted): its one
    /// reference is dropped. Its items or pointers have already been moved away or deleted.
    /// </summary>
    void Free(ulong bytenr, ulong owner, int level);
}
