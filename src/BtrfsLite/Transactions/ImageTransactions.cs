using BtrfsLite.Format;
using BtrfsLite.Images;

namespace BtrfsLite.Transactions;

/// <summary>
/// Transactions on an open image: <c>using var tx = image.BeginTransaction(); ...; tx.Commit();</c>. Extensions
/// because <see cref="BtrfsImage"/> lives a layer below the writer.
/// </summary>
public static class ImageTransactions
{
    /// <summary>
    /// Starts a transaction. Disposing it without a commit leaves the image as it was. One transaction at a time.
    /// </summary>
    public static Transaction BeginTransaction(this BtrfsImage image)
    {
        if (!image.Device.CanWrite) throw new InvalidOperationException($"{image.Device.Name} is open read-only");
        if (image.WriteFailure is string failure) throw new IOException($"{image.Device.Name}: {failure}; this handle no longer knows what is committed: reopen the device");
        var sb = image.Super;
        if ((sb.IncompatFlags & IncompatFlags.SkinnyMetadata) == 0)
            Throw.Unsupported("writing needs the SKINNY_METADATA feature (this image has EXTENT_ITEM tree blocks)");
        if ((sb.CompatRoFlags & CompatRoFlags.BlockGroupTree) != 0)
            Throw.Unsupported("writing images with BLOCK_GROUP_TREE is not supported (read only)");
        if (sb.LogRoot != 0)
            Throw.Unsupported($"the image has an unreplayed log tree at {sb.LogRoot}; mount it once under Linux to replay it");
        // After an aborted transaction the in-memory allocator and chunk map may hold its changes: rebuild them.
        if (image.WriterState is WriteState { Stale: true }) image.ReloadCommittedState();
        var state = (WriteState?)image.WriterState ?? new WriteState(image);
        image.WriterState = state;
        var tx = new Transaction(image, state);
        state.BeginTransaction(tx);
        return tx;
    }

    /// <summary>
    /// A read-only view of the committed state for the file-system layer (FsTree reads through a transaction). Works on
    /// a read-only device and on images the writer refuses; builds no allocator; changes through it throw. It may be
    /// open next to a write transaction (it sees the last commit).
    /// </summary>
    public static Transaction BeginReadTransaction(this BtrfsImage image) => new(image, null);
}
