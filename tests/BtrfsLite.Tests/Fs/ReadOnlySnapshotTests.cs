using BtrfsLite.Format;
using BtrfsLite.Images;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Fs;

/// <summary>
/// A read-only snapshot we make is read-only for the kernel too. The kernel clears root_item.flags (RDONLY with it)
/// when it loads a root item whose inode lacks ROOT_ITEM_INIT (btrfs_check_and_init_root_item), and mkfs' FS_TREE
/// item lacks it: the snapshot must set it, as create_pending_snapshot does.
/// </summary>
public class ReadOnlySnapshotTests
{
    /// <summary>Our mkfs, a file, and `subvolume snapshot IMG / sn -r` (the snapshot is tree 256).</summary>
    private static string ImageWithReadOnlySnapshot(TempDir tmp)
    {
        var img = tmp.File("ro.img");
        Assert.Equal(0, CliProcess.Run("mkfs", img, "--size", "256M").ExitCode);
        Assert.Equal(0, CliProcess.Run("write", img, "f", "--length", "10K").ExitCode);
        var r = CliProcess.Run("subvolume", "snapshot", img, "/", "sn", "-r");
        Assert.True(r.ExitCode == 0, r.All);
        return img;
    }

    [Fact]
    public void ASnapshotOfTheTopLevelHasAnInitialisedRootItem()
    {
        using var tmp = new TempDir();
        var img = ImageWithReadOnlySnapshot(tmp);
        using var fs = BtrfsImage.Open(img);
        var c = fs.NewCursor();
        Assert.True(c.SeekPrefix(fs.RootTree, 256, ItemType.RootItem));
        var ri = new RootItem(c.Data);
        Assert.Equal(RootItem.FlagReadOnly, ri.Flags);
        Assert.True((ri.Inode.Flags & InodeFlags.RootItemInit) != 0, "ROOT_ITEM_INIT missing: the kernel would clear RDONLY");
    }

    [RequiresRootMountFact]
    public void TheKernelSeesOurReadOnlySnapshotAsReadOnly()
    {
        using var tmp = new TempDir();
        var img = ImageWithReadOnlySnapshot(tmp);
        KernelImages.WithMounted(img, """
            test "$(btrfs property get sn ro)" = "ro=true"
            if touch sn/x 2>/dev/null; then echo "touch in a read-only snapshot succeeded"; exit 1; fi
            test -f sn/f
            """);
        // Mounting did not clear the flag on disk either.
        using var fs = BtrfsImage.Open(img);
        var c = fs.NewCursor();
        Assert.True(c.SeekPrefix(fs.RootTree, 256, ItemType.RootItem));
        Assert.Equal(RootItem.FlagReadOnly, new RootItem(c.Data).Flags);
    }
}
