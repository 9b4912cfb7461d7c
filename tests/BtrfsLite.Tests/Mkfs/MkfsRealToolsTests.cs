using BtrfsLite.Tests.Support;
using static BtrfsLite.Tests.Mkfs.MkfsTestSupport;

namespace BtrfsLite.Tests.Mkfs;

/// <summary>The kernel and the real mkfs.btrfs as judges of what ImageBuilder writes.</summary>
public class MkfsRealToolsTests
{
    public static IEnumerable<object[]> MountCases() => new MkfsCase[]
    {
        new("128M", Quota: true),
        new("256M", NodeSize: 4096, Quota: true),
        new("256M", NodeSize: 65536, Fst: false),
        new("1G", Dup: true, Quota: true),
        new("20G", Dup: true, NodeSize: 4096),
    }.Select(c => new object[] { c });

    [RequiresRootMountTheory]
    [MemberData(nameof(MountCases))]
    public void Kernel_mounts_rw_writes_and_it_still_checks_clean(MkfsCase c)
    {
        using var tmp = new TempDir();
        var img = Make(tmp, "k.img", c.Options());
        KernelImages.WithMounted(img, """
            test "$(stat -c %i .)" = 256
            echo hello > small
            head -c 3000000 /dev/urandom > big
            mkdir d && for i in $(seq 1 200); do echo "f $i" > d/f$i; done
            btrfs subvolume create sv >/dev/null
            echo x > sv/y
            """);
        // And a second mount sees the files (the first one's commit is durable and replayable).
        KernelImages.WithMounted(img, "test \"$(cat small)\" = hello && test -f sv/y && test $(ls d | wc -l) = 200", "ro");
        AssertRealCheckClean(img, c.Quota);
        AssertOurCheckClean(img);
    }

    [RequiresRootMountFact]
    public void Cli_formats_a_block_device_sized_by_the_device()
    {
        using var tmp = new TempDir();
        var backing = tmp.File("loop.img");
        using (var dev = new LoopDevice(backing, 192L << 20))
        {
            var loop = dev.Device;
            var r = CliProcess.Run("mkfs", loop, "--quota", "--label", "blk");
            Assert.True(r.ExitCode == 0, r.All);
            Assert.Contains("192.00MiB", r.Stdout);
            AssertRealCheckClean(loop, quota: true);
            r = CliProcess.Run("mkfs", loop);
            Assert.Equal(2, r.ExitCode);
            Assert.Contains("already contains a btrfs filesystem", r.Stderr);
            r = CliProcess.Run("mkfs", loop, "--force", "--size", "1G");
            Assert.Equal(2, r.ExitCode);
            Assert.Contains("larger than the device", r.Stderr);
        }
        AssertOurCheckClean(backing);
    }

    public static IEnumerable<object[]> CompareCases() => new MkfsCase[]
    {
        new("128M"),
        new("128M", Quota: true),
        new("256M", Fst: false),
        new("256M", Dup: true, Quota: true),
        new("256M", NodeSize: 4096, Quota: true),
    }.Select(c => new object[] { c });

    /// <summary>
    /// Same trees and the same (object id, item type) pairs in every tree as mkfs.btrfs 6.2 with the same options.
    /// Addresses, uuids, generations and chunk sizes differ (see ImageBuilder's remarks).
    /// </summary>
    [RequiresBtrfsProgsTheory]
    [MemberData(nameof(CompareCases))]
    public void Same_trees_and_item_types_as_mkfs_btrfs(MkfsCase c)
    {
        using var tmp = new TempDir();
        var ours = Make(tmp, "ours.img", c.Options());
        var real = RealTools.Mkfs(tmp.File("real.img"), ImageOptionsSize(c), c.RealMkfsArgs());
        var so = Structure(DumpAll(ours));
        var sr = Structure(DumpAll(real));
        // The parse found the trees (an empty set on both sides would compare equal).
        Assert.Contains("root: FS_TREE ROOT_ITEM", so);
        Assert.Contains("root: ROOT_TREE_DIR DIR_ITEM", so);
        Assert.Contains("extent: N METADATA_ITEM", so);
        Assert.Contains("chunk: FIRST_CHUNK_TREE CHUNK_ITEM", so);
        Assert.Contains("device: 1 DEV_EXTENT", so);
        Assert.Contains("fs: N INODE_REF", so);
        Assert.Contains("data reloc: N INODE_ITEM", so);
        Assert.Contains("uuid: N UUID_KEY_SUBVOL", so);
        Assert.Equal(c.Quota, so.Contains("quota: 0 QGROUP_INFO"));
        Assert.Equal(c.Fst, so.Contains("free space: N FREE_SPACE_EXTENT"));
        Assert.True(so.SetEquals(sr),
            $"only ours: {string.Join("; ", so.Except(sr))}\nonly mkfs.btrfs: {string.Join("; ", sr.Except(so))}");
    }

    private static long ImageOptionsSize(MkfsCase c) => BtrfsLite.Mkfs.ImageOptions.ParseSize(c.Size);

    private static string DumpAll(string img)
    {
        var r = RealTools.Run("btrfs", "inspect-internal", "dump-tree", img);
        Assert.True(r.ExitCode == 0, r.All);
        return r.Stdout;
    }
}
