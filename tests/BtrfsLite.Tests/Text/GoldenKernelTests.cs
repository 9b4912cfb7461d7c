using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Text;

/// <summary>A fact that needs root, loop devices and btrfs-progs (it mounts an image); skipped otherwise.</summary>
public sealed class RequiresRootLoopFactAttribute : FactAttribute
{
    public RequiresRootLoopFactAttribute()
    {
        if (Needs.WhyNot(Need.BtrfsProgs, Need.RootLoopMount) is { } why) Skip = why;
    }
}

/// <summary>
/// Items only the kernel makes in bulk: keyed TREE_BLOCK_REF (a leaf shared by 115 snapshots), keyed
/// EXTENT_DATA_REF and SHARED_DATA_REF (an extent reflinked 45 times), qgroup relations and limits, a prealloc
/// extent, a binary xattr and a non-UTF-8 name. dump-tree must print them as btrfs-progs 6.2 does.
/// </summary>
public class GoldenKernelTests
{
    private static void Sh(string script)
    {
        var r = RealTools.Run("sh", "-c", script);
        Assert.True(r.ExitCode == 0, $"{script}\n{r.All}");
    }

    [RequiresRootLoopFact]
    public void KeyedRefsAndSnapshotsMatchProgs()
    {
        using var tmp = new TempDir();
        var img = RealTools.Mkfs(tmp.File("k.img"), 256L << 20, "-m", "single", "-d", "single", "-R", "quota");
        var mnt = Directory.CreateDirectory(tmp.File("mnt")).FullName;
        var mount = RealTools.Run("mount", "-o", "loop", img, mnt);
        Assert.True(mount.ExitCode == 0, $"mount -o loop failed: {mount.All}");
        try
        {
            Sh($"""
                set -e
                cd '{mnt}'
                btrfs -q subvolume create sv
                head -c 8192 /dev/urandom > sv/src
                i=1; while [ $i -le 45 ]; do cp --reflink=always sv/src sv/r$i; i=$((i+1)); done
                sync
                i=1; while [ $i -le 115 ]; do btrfs -q subvolume snapshot -r sv snap$i; i=$((i+1)); done
                sync
                head -c 4096 /dev/urandom | dd of=sv/r1 conv=notrunc status=none
                touch "sv/bad$(printf '\377\376')name"
                fallocate -l 64K sv/pre
                btrfs qgroup create 1/7 .
                btrfs qgroup assign --no-rescan 0/256 1/7 . || true
                btrfs qgroup limit 5M 0/256 .
                sync
                """);
        }
        finally
        {
            RealTools.Run("umount", mnt);
        }
        var progs = Golden.Progs("dump-tree", img);
        Assert.Equal(0, progs.ExitCode);
        foreach (var kind in new[] { "\t\ttree block backref\n", "\t\textent data backref root", "\t\tshared data backref count", "QGROUP_RELATION", "prealloc data disk byte" })
            Assert.Contains(kind, progs.Stdout);
        var ours = Golden.Ours("dump-tree", img);
        Golden.AssertSameLines(progs.Stdout, ours.Stdout, "kernel image with keyed refs: dump-tree");
        Assert.Equal(0, ours.ExitCode);
        var fst = Golden.Ours("dump-tree", "-t", "10", img);
        Golden.AssertSameLines(Golden.Progs("dump-tree", "-t", "10", img).Stdout, fst.Stdout, "dump-tree -t 10");
        Golden.AssertSameLines(Golden.Progs("dump-super", "-f", img).Stdout, Golden.Ours("dump-super", "-f", img).Stdout, "dump-super -f");
    }
}
