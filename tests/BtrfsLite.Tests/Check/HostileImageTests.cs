using System.Security.Cryptography;
using BtrfsLite.Check;
using BtrfsLite.Format;
using BtrfsLite.IO;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Check;

/// <summary>
/// Images damaged where checksums still match (the hostile-images issue): every command ends with a documented exit code
/// and one error line (never a stack trace or exit 6), a changing command never changes a damaged image, a bad DUP
/// copy is read around, btrfs-image dumps read, and the exit class says what is wrong.
/// </summary>
[Collection(InProcessCliCollection.Name)]
public class HostileImageTests
{
    private static readonly string[][] Reading =
    {
        new[] { "check", "IMG" }, new[] { "ls", "IMG", "/" }, new[] { "ls", "IMG", "dir", "-l" }, new[] { "cat", "IMG", "dir/file" },
        new[] { "cat", "IMG", "regular" }, new[] { "dump-tree", "IMG" }, new[] { "subvolume", "list", "IMG" }, new[] { "qgroup", "show", "IMG" },
    };

    private static readonly string[][] Changing =
    {
        new[] { "write", "IMG", "new", "--length", "8K", "--pattern", "3" }, new[] { "write", "IMG", "dir/file", "--offset", "1000", "--length", "5000" },
        new[] { "mkdir", "IMG", "d2" }, new[] { "rm", "IMG", "inline" }, new[] { "quota", "enable", "IMG" }, new[] { "quota", "rescan", "IMG" },
        new[] { "subvolume", "create", "IMG", "sv" }, new[] { "subvolume", "snapshot", "IMG", "/", "sn" }, new[] { "truncate", "IMG", "regular", "--size", "1" },
    };

    private static string[] With(string[] cmd, string img) => cmd.Select(a => a == "IMG" ? img : a).ToArray();

    /// <summary>Runs every command on the image: allowed exit codes only, one clean error line, changing commands that fail change nothing.</summary>
    private static void RunAll(string img, string what, int[] readingAllowed, int[] changingAllowed)
    {
        foreach (var cmd in Reading)
        {
            var r = InProcessCli.Run(With(cmd, img));
            Assert.True(readingAllowed.Contains(r.ExitCode), $"{what}: `{string.Join(' ', cmd)}` exited {r.ExitCode}:\n{r.Stderr}");
            Assert.DoesNotContain("   at ", r.Stderr);
        }
        foreach (var cmd in Changing)
        {
            var before = SHA256.HashData(File.ReadAllBytes(img));
            var r = InProcessCli.Run(With(cmd, img));
            Assert.True(changingAllowed.Contains(r.ExitCode), $"{what}: `{string.Join(' ', cmd)}` exited {r.ExitCode}:\n{r.Stderr}");
            Assert.DoesNotContain("   at ", r.Stderr);
            if (r.ExitCode != 0)
                Assert.True(before.AsSpan().SequenceEqual(SHA256.HashData(File.ReadAllBytes(img))), $"{what}: failed `{string.Join(' ', cmd)}` changed the image");
        }
    }

    [Fact]
    public void RetypedFsTreeRootItemIsCorruptForEveryCommand()
    {
        using var tmp = new TempDir();
        var img = GoldenImages.Extract("kernel-small", tmp);
        using (var ed = new ImageEditor(img))
        {
            var (leaf, slot, key) = ed.FindItem(ObjectIds.RootTree, k => k.Type == ItemType.RootItem && k.ObjectId == ObjectIds.FsTree);
            ed.EditBlock(leaf, b => new Leaf(b).SetKey(slot, new Key(key.ObjectId, ItemType.RootBackref - 1, key.Offset)));
        }
        // Reading commands that need tree 5 say corrupt (3), dump-tree prints what is there; check reports findings (1);
        // nothing crashes, nothing writes.
        RunAll(img, "FS_TREE ROOT_ITEM retyped", new[] { 0, 1, 3 }, new[] { 1, 3 });
    }

    [Fact]
    public void ParentKeyMismatchStopsEveryWriteBeforeItChangesAnything()
    {
        using var tmp = new TempDir();
        var img = NodesImage(tmp);
        using (var ed = new ImageEditor(img))
        {
            // The fs tree's root is a node: its first key pointer no longer matches its child's first key.
            ulong root = ed.Image.GetRoot(ObjectIds.FsTree).Bytenr;
            ed.EditBlock(root, b =>
            {
                var n = new InternalNode(b);
                var k = n.Key(0);
                new Key(k.ObjectId - 1, k.Type, k.Offset).Write(b.AsSpan(NodeHeader.Size));
            });
        }
        var check = InProcessCli.Run("check", img);
        Assert.Equal(1, check.ExitCode);
        Assert.Contains("first key", check.Stdout + check.Stderr);
        Assert.NotEqual(0, RealTools.BtrfsCheck(img).ExitCode);
        var before = SHA256.HashData(File.ReadAllBytes(img));
        var w = InProcessCli.Run("write", img, "new-file", "--length", "4K");
        Assert.Equal(3, w.ExitCode);
        Assert.Contains("first key mismatch", w.Stderr);
        Assert.True(before.AsSpan().SequenceEqual(SHA256.HashData(File.ReadAllBytes(img))));
        // (quota rescan refuses first: quotas are off, ENOTCONN, exit 1.)
        RunAll(img, "parent key mismatch", new[] { 0, 1, 3 }, new[] { 1, 3 });
    }

    [Fact]
    public void BadFirstCopyOfTheRootTreeIsReadAroundAndReported()
    {
        using var tmp = new TempDir();
        var img = GoldenImages.Extract("kernel-dup", tmp);
        ulong rootTree;
        long phys;
        using (var ed = new ImageEditor(img))
        {
            rootTree = ed.Image.Super.Root;
            phys = ed.Image.Chunks.Map(rootTree, ed.Image.NodeSize, 0);
        }
        using (var dev = FileBlockDevice.Open(img, writable: true))
        {
            var b = new byte[1];
            dev.Read(b, phys + 0x200);
            b[0] ^= 0x40;
            dev.Write(b, phys + 0x200); // copy 1 only, checksum not fixed
        }
        Assert.Equal(0, RealTools.BtrfsCheck(img).ExitCode);
        var check = InProcessCli.Run("check", img);
        Assert.True(check.ExitCode == 0, check.Stdout + check.Stderr);
        Assert.Contains($"tree block {rootTree} (tree 1): copy 1 fails its checksum", check.Stdout + check.Stderr);
        Assert.Equal(0, InProcessCli.Run("ls", img, "/").ExitCode);
        // The writer reads copy 2 too, and its commit writes both copies of every block it changes.
        Assert.Equal(0, InProcessCli.Run("write", img, "after", "--length", "12K", "--pattern", "5").ExitCode);
        Assert.Equal(0, RealTools.BtrfsCheck(img).ExitCode);
        Assert.Equal(0, InProcessCli.Run("check", img).ExitCode);
    }

    [Fact]
    public void BytesUsedDisagreeingWithTheBlockGroupsRefusesWrites()
    {
        using var tmp = new TempDir();
        var img = GoldenImages.Extract("kernel-small", tmp);
        using (var ed = new ImageEditor(img)) ed.EditSuper(b => new Superblock(b).BytesUsed += 1 << 20);
        var before = SHA256.HashData(File.ReadAllBytes(img));
        var w = InProcessCli.Run("write", img, "x", "--length", "4K");
        Assert.Equal(3, w.ExitCode);
        Assert.Contains("bytes_used", w.Stderr);
        Assert.True(before.AsSpan().SequenceEqual(SHA256.HashData(File.ReadAllBytes(img))));
        Assert.Equal(0, InProcessCli.Run("ls", img, "/").ExitCode);
    }

    [Fact]
    public void DeviceCountAndChunkPlacementGiveTheCorruptExitCode()
    {
        using var tmp = new TempDir();
        var img = GoldenImages.Extract("kernel-small", tmp);
        using (var ed = new ImageEditor(img)) ed.EditSuper(b => new Superblock(b).NumDevices = 2);
        var ls = InProcessCli.Run("ls", img, "/");
        Assert.Equal(3, ls.ExitCode);
        Assert.Contains("num_devices", ls.Stderr);

        using var tmp2 = new TempDir();
        var img2 = GoldenImages.Extract("kernel-small", tmp2);
        using (var ed = new ImageEditor(img2))
        {
            // A data chunk's stripe moved past the device end.
            var (leaf, slot, _) = ed.FindItem(ObjectIds.ChunkTree, k => k.Type == ItemType.ChunkItem && k.Offset > 0 && IsData(ed, k.Offset));
            long devLen = new FileInfo(img2).Length;
            ed.EditItem(leaf, slot, d => Le.U64(d, ChunkItem.Offsets.Stripes + 8, (ulong)devLen + (1UL << 30)));
        }
        var cat = InProcessCli.Run("cat", img2, "regular");
        Assert.Equal(3, cat.ExitCode);
        Assert.DoesNotContain("   at ", cat.Stderr);
        Assert.Equal(1, InProcessCli.Run("check", img2).ExitCode);
    }

    /// <summary>
    /// A single-device file system whose device is id 2 (Linux: device add, then remove of device 1) is no multi-device
    /// one: it opens, reads, checks clean and takes writes, all of which btrfs check then passes.
    /// </summary>
    [RequiresRootMountFact]
    public void FilesystemOnDeviceTwoOpensReadsAndWrites()
    {
        using var tmp = new TempDir();
        var first = RealTools.Mkfs(tmp.File("one.img"), 256L << 20, "-m", "dup", "-d", "single");
        var second = tmp.File("two.img");
        using (var loop2 = new LoopDevice(second, 256L << 20))
            KernelImages.WithMounted(first, $"echo hello > a; mkdir d; head -c 100000 /dev/urandom > d/b; sync\nbtrfs device add -f {loop2.Device} \"$M\"\nbtrfs device remove 1 \"$M\"");
        Assert.Equal(2UL, BitConverter.ToUInt64(File.ReadAllBytes(second), (int)Superblock.PrimaryOffset + 0xC9));
        Assert.Equal(0, RealTools.BtrfsCheck(second).ExitCode);
        var ls = InProcessCli.Run("ls", second, "/");
        Assert.True(ls.ExitCode == 0, ls.All);
        Assert.Contains("a", ls.Stdout);
        using (var fs = BtrfsLite.Fs.Filesystem.OpenReadOnly(second))
        {
            Assert.Equal("hello\n"u8.ToArray(), fs.ReadAll("a"));
            Assert.Equal(100000, fs.ReadAll("d/b").Length);
        }
        Assert.Equal(0, InProcessCli.Run("check", second).ExitCode);
        Assert.Equal(0, InProcessCli.Run("write", second, "new", "--length", "64K", "--pattern", "9").ExitCode);
        Assert.Equal(0, RealTools.BtrfsCheck(second).ExitCode);
    }

    private static bool IsData(ImageEditor ed, ulong logical) => ed.Image.Chunks.Find(logical) is { } c && (c.Type & BlockGroupFlags.Data) != 0;

    [RequiresBtrfsProgsFact]
    public void BtrfsImageDumpsReadButAreNotWritten()
    {
        using var tmp = new TempDir();
        var img = GoldenImages.Extract("kernel-small", tmp);
        var dump = tmp.File("dump");
        var restored = tmp.File("restored.img");
        Assert.Equal(0, RealTools.Run("btrfs-image", img, dump).ExitCode);
        Assert.Equal(0, RealTools.Run("btrfs-image", "-r", dump, restored).ExitCode);
        Assert.NotEqual(0UL, BitConverter.ToUInt64(File.ReadAllBytes(restored), (int)Superblock.PrimaryOffset + 0x38) & (Superblock.FlagMetadump | Superblock.FlagMetadumpV2));
        Assert.Equal(0, RealTools.BtrfsCheck(restored).ExitCode);
        var check = InProcessCli.Run("check", restored);
        Assert.True(check.ExitCode == 0, check.Stdout + check.Stderr);
        Assert.Equal(0, InProcessCli.Run("ls", restored, "dir").ExitCode);
        var w = InProcessCli.Run("write", restored, "x", "--length", "4K");
        Assert.Equal(4, w.ExitCode);
        Assert.Contains("btrfs-image dump", w.Stderr);
    }

    /// <summary>
    /// Seeded checksum-valid damage: 1 to 3 bytes of one tree block changed, the checksum re-stamped on every copy.
    /// Every command still ends with an allowed exit code and a clean error line; a failed change leaves the image as it was.
    /// </summary>
    [Theory]
    [MemberData(nameof(Seeds))]
    public void SeededDamageNeverCrashesAndFailedWritesChangeNothing(int seed)
    {
        using var tmp = new TempDir();
        var img = GoldenImages.Extract(seed % 2 == 0 ? "kernel-small" : "kernel-dup", tmp);
        var rng = new Random(seed);
        using (var ed = new ImageEditor(img))
        {
            var blocks = ImageEditor.TreeBlocks(ed.Image);
            ulong block = blocks[rng.Next(blocks.Count)].Logical;
            ed.EditBlock(block, b =>
            {
                for (int i = 0, n = rng.Next(1, 4); i < n; i++) b[rng.Next(0x30, b.Length)] ^= (byte)(1 << rng.Next(8));
            });
        }
        RunAll(img, $"seed {seed}", new[] { 0, 1, 3 }, new[] { 0, 1, 3 });
    }

    public static IEnumerable<object[]> Seeds() => Enumerable.Range(1, 24).Select(s => new object[] { s });

    /// <summary>An image whose fs tree root is a node (4 KiB nodes, many names), made by mkfs.btrfs.</summary>
    private static string NodesImage(TempDir tmp)
    {
        var root = tmp.File("root");
        Directory.CreateDirectory(root);
        for (int i = 0; i < 1500; i++) File.WriteAllText(Path.Combine(root, $"file-with-a-long-name-{i:D5}"), "");
        Directory.CreateDirectory(Path.Combine(root, "dir"));
        File.WriteAllText(Path.Combine(root, "dir", "file"), "hello");
        return RealTools.Mkfs(tmp.File("nodes.img"), 128L << 20, "-n", "4096", "-m", "single", "-d", "single", "--rootdir", root);
    }
}
