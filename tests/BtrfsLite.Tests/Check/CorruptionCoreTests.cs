using BtrfsLite.Check;
using BtrfsLite.Format;
using BtrfsLite.IO;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Check;

/// <summary>
/// One corruption per row, applied to a copy of a fresh mkfs image (with files from --rootdir so data extents and csums
/// exist); each expects our <see cref="FindingCode"/> and records whether real <c>btrfs check</c> 6.2 flags it too.
/// </summary>
public class CorruptionCoreTests
{
    public delegate bool ItemMatch(Key key, ReadOnlySpan<byte> data);

    public sealed record Corruption(string Name, string Base, Action<string> Apply, FindingCode Expected, bool ProgsFlags,
        string[]? ProgsArgs = null, bool DataCsum = false)
    {
        public override string ToString() => Name;
    }

    private const string Single = "single", Dup = "dup", Nodes = "nodes", Kernel = "kernel";

    private static (ulong Leaf, int Slot, Key Key) Find(ImageEditor ed, ulong tree, ItemMatch match)
    {
        var cur = ed.Image.NewCursor();
        if (!cur.First(ed.Image.GetRoot(tree))) throw new InvalidOperationException($"tree {tree} is empty");
        do
        {
            if (match(cur.Key, cur.Data)) return (cur.LeafBytenr, cur.Slot, cur.Key);
        } while (cur.Next());
        throw new InvalidOperationException($"no matching item in tree {tree}");
    }

    private static void Edit(string path, Action<ImageEditor> a)
    {
        using var ed = new ImageEditor(path);
        a(ed);
    }

    private static ulong FsLeaf(ImageEditor ed) => ed.Image.GetRoot(ObjectIds.FsTree).Bytenr;

    private static bool IsRegExtent(Key k, ReadOnlySpan<byte> d) =>
        k.Type == ItemType.ExtentData && d.Length == FileExtentItem.Size && d[FileExtentItem.Offsets.Type] == (byte)FileExtentType.Regular
        && BitConverter.ToUInt64(d[FileExtentItem.Offsets.DiskBytenr..]) != 0;

    /// <summary>Writes one copy only of a tree block (bypassing <see cref="ImageEditor"/>, which writes all copies).</summary>
    private static void EditOneCopy(string path, ulong bytenr, int copy, Action<byte[]> edit)
    {
        long phys;
        var buf = new byte[16384];
        using (var ed = new ImageEditor(path))
        {
            ed.Image.Nodes.ReadRaw(bytenr, buf, copy);
            phys = ed.Image.Chunks.Map(bytenr, buf.Length, copy);
        }
        edit(buf);
        Checksums.StampBlockCsum(buf);
        using var dev = FileBlockDevice.Open(path, writable: true);
        dev.Write(buf, phys);
    }

    public static IEnumerable<object[]> Corruptions()
    {
        var rows = new List<Corruption>
        {
            new("csum flip (not restamped)", Single, p => Edit(p, ed => ed.EditBlock(FsLeaf(ed), b => b[0x3000] ^= 0x5A, restampCsum: false)),
                FindingCode.BlockCsumMismatch, true),
            new("wrong header bytenr", Single, p => Edit(p, ed => ed.EditBlock(FsLeaf(ed), b => new NodeHeader(b).Bytenr += 16384)),
                FindingCode.BlockBytenrMismatch, true),
            new("bad key order", Single, p => Edit(p, ed => ed.EditBlock(FsLeaf(ed), b =>
            {
                var leaf = new Leaf(b);
                var k0 = leaf.Key(0);
                leaf.SetKey(0, leaf.Key(1));
                leaf.SetKey(1, k0);
            })), FindingCode.BlockKeyOrder, true),
            new("item data overlaps the item array", Single, p => Edit(p, ed => ed.EditBlock(FsLeaf(ed), b =>
            {
                var leaf = new Leaf(b);
                int last = leaf.NrItems - 1;
                uint end = leaf.DataOffset(last) + leaf.DataSize(last);
                uint off = (uint)(leaf.NrItems * ItemHeader.Size - 10);
                leaf.SetItemPlacement(last, off, end - off);
            })), FindingCode.BlockItemOffsetInvalid, true),
            new("extent refs count off by one", Single, p => Edit(p, ed =>
            {
                var (leaf, slot, _) = Find(ed, ObjectIds.ExtentTree, (k, _) => k.Type == ItemType.MetadataItem && k.ObjectId == FsLeaf(ed));
                ed.EditItem(leaf, slot, d => new ExtentItem(d).Refs += 1);
            }), FindingCode.ExtentRefCountMismatch, true),
            new("missing backref (inline TREE_BLOCK_REF removed)", Single, p => Edit(p, ed =>
            {
                var (leaf, slot, _) = Find(ed, ObjectIds.ExtentTree, (k, _) => k.Type == ItemType.MetadataItem && k.ObjectId == FsLeaf(ed));
                ed.EditBlock(leaf, b => LeafSurgery.ShrinkItem(b, slot, ExtentItem.Size, 9));
            }), FindingCode.ExtentBackrefMissing, true),
            new("backref names another root", Single, p => Edit(p, ed =>
            {
                var (leaf, slot, _) = Find(ed, ObjectIds.ExtentTree, (k, _) => k.Type == ItemType.MetadataItem && k.ObjectId == FsLeaf(ed));
                ed.EditItem(leaf, slot, d => BitConverter.TryWriteBytes(d.Slice(ExtentItem.Size + 1, 8), 9999UL));
            }), FindingCode.ExtentBackrefUnmatched, true),
            new("block group used off", Single, p => Edit(p, ed =>
            {
                var (leaf, slot, _) = Find(ed, ObjectIds.ExtentTree, (k, _) => k.Type == ItemType.BlockGroupItem);
                ed.EditItem(leaf, slot, d => new BlockGroupItem(d).Used += 4096);
            }), FindingCode.BlockGroupUsedMismatch, true),
            new("superblock bytes_used off", Single, p => Edit(p, ed => ed.EditSuper(b => new Superblock(b).BytesUsed += 4096)),
                FindingCode.SuperBytesUsedMismatch, true),
            new("superblock csum flipped", Single, p => Edit(p, ed => ed.EditSuper(b => b[0] ^= 0xFF, restampCsum: false)),
                FindingCode.SuperCsumMismatch, true),
            new("dev extent length off", Single, p => Edit(p, ed =>
            {
                var (leaf, slot, _) = Find(ed, ObjectIds.DevTree, (k, _) => k.Type == ItemType.DevExtent);
                ed.EditItem(leaf, slot, d => new DevExtent(d).Length -= 1 << 20);
            }), FindingCode.DevExtentMismatch, true),
            new("DEV_ITEM bytes_used off (chunk tree)", Single, p => Edit(p, ed =>
            {
                var (leaf, slot, _) = Find(ed, ObjectIds.ChunkTree, (k, _) => k.Type == ItemType.DevItem);
                ed.EditItem(leaf, slot, d => new DevItem(d).BytesUsed += 1 << 20);
            }), FindingCode.DevItemBytesUsedMismatch, true),
            new("orphan data extent (file extent disk_bytenr cleared)", Single, p => Edit(p, ed =>
            {
                var (leaf, slot, _) = Find(ed, ObjectIds.FsTree, IsRegExtent);
                ed.EditItem(leaf, slot, d => new FileExtentItem(d).DiskBytenr = 0);
            }), FindingCode.ExtentUnreferenced, true),
            new("data csum value wrong", Single, p => Edit(p, ed =>
            {
                var (leaf, slot, _) = Find(ed, ObjectIds.CsumTree, (k, _) => k.Type == ItemType.ExtentCsum);
                ed.EditItem(leaf, slot, d => d[0] ^= 0xFF);
            }), FindingCode.CsumMismatch, true, new[] { "--check-data-csum" }, DataCsum: true),
            new("csum item missing", Single, p => Edit(p, ed =>
            {
                var (leaf, slot, _) = Find(ed, ObjectIds.CsumTree, (k, _) => k.Type == ItemType.ExtentCsum);
                ed.EditBlock(leaf, b => LeafSurgery.RemoveItem(b, slot));
            }), FindingCode.CsumMissing, true),
            new("free space extent wrong", Single, p => Edit(p, ed =>
            {
                var (leaf, slot, key) = Find(ed, ObjectIds.FreeSpaceTree, (k, _) => k.Type == ItemType.FreeSpaceExtent);
                ed.EditBlock(leaf, b => new Leaf(b).SetKey(slot, key with { Offset = key.Offset - 4096 }));
            }), FindingCode.FreeSpaceMismatch, true),
            new("ROOT_ITEM generation off (parent transid)", Single, p => Edit(p, ed =>
            {
                var (leaf, slot, _) = Find(ed, ObjectIds.RootTree, (k, _) => k.Type == ItemType.RootItem && k.ObjectId == ObjectIds.CsumTree);
                ed.EditItem(leaf, slot, d => new RootItem(d).Generation += 1);
            }), FindingCode.BlockTransidMismatch, true),
            new("leaf owner wrong", Single, p => Edit(p, ed => ed.EditBlock(ed.Image.GetRoot(ObjectIds.CsumTree).Bytenr, b => new NodeHeader(b).Owner = 5)),
                FindingCode.BlockOwnerMismatch, true),
            // btrfs check 6.2 does not look at these (7.6 of btrfs-format.md and below): we flag them, it passes.
            new("header WRITTEN flag cleared", Single, p => Edit(p, ed => ed.EditBlock(FsLeaf(ed), b => new NodeHeader(b).Flags &= ~NodeHeader.FlagWritten)),
                FindingCode.BlockNotWritten, false),
            new("DUP copies differ (second copy only)", Dup, p =>
            {
                ulong leaf;
                using (var ed = new ImageEditor(p)) leaf = FsLeaf(ed);
                EditOneCopy(p, leaf, 1, b => b[0x2000] ^= 0x01); // unused middle of the leaf: copy 2 stays a valid block
            }, FindingCode.BlockDupCopyMismatch, false),
            new("superblock mirror differs", Single, p =>
            {
                var buf = new byte[Superblock.Size];
                using var dev = FileBlockDevice.Open(p, writable: true);
                long off = Superblock.MirrorOffset(1);
                dev.Read(buf, off);
                var sb = new Superblock(buf);
                sb.Label = "tampered";
                sb.StampCsum();
                dev.Write(buf, off);
            }, FindingCode.SuperMirrorMismatch, false),
            new("header fsid wrong", Single, p => Edit(p, ed => ed.EditBlock(FsLeaf(ed), b => b[NodeHeader.Offsets.Fsid] ^= 0xFF)),
                FindingCode.BlockFsidMismatch, true),
            new("header generation newer than the superblock", Single, p => Edit(p, ed => ed.EditBlock(FsLeaf(ed), b => new NodeHeader(b).Generation += 100)),
                FindingCode.BlockGenerationTooNew, true),
            new("node key differs from the child's first key", Nodes, p => Edit(p, ed => ed.EditBlock(FsLeaf(ed), b =>
            {
                var n = new InternalNode(b);
                var k = n.Key(1);
                n.SetPtr(1, k with { Offset = k.Offset - 1 }, n.BlockPtr(1), n.PtrGeneration(1)); // still after key 0
            })), FindingCode.BlockFirstKeyMismatch, true),
            new("tree block extent item removed", Single, p => Edit(p, ed =>
            {
                var (leaf, slot, _) = Find(ed, ObjectIds.ExtentTree, (k, _) => k.Type == ItemType.MetadataItem && k.ObjectId == FsLeaf(ed));
                ed.EditBlock(leaf, b => LeafSurgery.RemoveItem(b, slot));
            }), FindingCode.ExtentItemMissing, true),
            new("dev extent moved off its chunk stripe", Single, p => Edit(p, ed =>
            {
                var (leaf, slot, key) = Find(ed, ObjectIds.DevTree, (k, _) => k.Type == ItemType.DevExtent);
                ed.EditBlock(leaf, b => new Leaf(b).SetKey(slot, key with { Offset = key.Offset + 4096 }));
            }), FindingCode.DevExtentWithoutChunk, true),
            new("csum item moved outside the data extents", Single, p => Edit(p, ed =>
            {
                ulong leafNr = 0; int last = -1; Key lastKey = default;
                var cur = ed.Image.NewCursor();
                cur.First(ed.Image.GetRoot(ObjectIds.CsumTree));
                do { leafNr = cur.LeafBytenr; last = cur.Slot; lastKey = cur.Key; } while (cur.Next());
                ed.EditBlock(leafNr, b => new Leaf(b).SetKey(last, lastKey with { Offset = lastKey.Offset + (1UL << 30) }));
            }), FindingCode.CsumOutsideExtent, true),
            new("free space info extent count off", Single, p => Edit(p, ed =>
            {
                var (leaf, slot, _) = Find(ed, ObjectIds.FreeSpaceTree, (k, _) => k.Type == ItemType.FreeSpaceInfo);
                ed.EditItem(leaf, slot, d => d[0]++);
            }), FindingCode.FreeSpaceMismatch, true),
            // btrfs check 6.2 only warns ("minor unaligned/mismatch device size detected", exit 0); the filesystem claims
            // space the device does not have, so we count it.
            new("superblock total_bytes beyond the device", Single, p => Edit(p, ed => ed.EditSuper(b => new Superblock(b).TotalBytes += 1UL << 30)),
                FindingCode.SuperTotalBytesInvalid, false),
            // btrfs check 6.2 prints "Chunk[...] mismatch with block group[...]" and "didn't find the relative chunk"
            // but does not count them: exit code 0 and "no error found". We count it.
            new("block group profile differs from its chunk", Single, p => Edit(p, ed =>
            {
                var (leaf, slot, _) = Find(ed, ObjectIds.ExtentTree, (k, _) => k.Type == ItemType.BlockGroupItem);
                ed.EditItem(leaf, slot, d => new BlockGroupItem(d).Flags |= BlockGroupFlags.Dup);
            }), FindingCode.BlockGroupChunkMismatch, false),
            // The hostile-images issue's misses, each made from a kernel-made image (images/kernel-small): the kernel's
            // tree-checker rules, which btrfs check also enforces.
            new("symlink inode flagged IMMUTABLE (odd inode flags)", Kernel, p => Edit(p, ed =>
            {
                var (leaf, slot, _) = Find(ed, ObjectIds.FsTree, (k, d) => k.Type == ItemType.InodeItem && (new InodeItem(d.ToArray()).Mode & InodeItem.SIfMt) == InodeItem.SIfLnk);
                ed.EditItem(leaf, slot, d => new InodeItem(d).Flags |= InodeFlags.Immutable);
            }), FindingCode.ItemInvalid, true),
            // btrfs check 6.2 passes an unknown flag bit; the kernel's tree-checker refuses the leaf, and so do we.
            new("inode flags with an unknown bit", Kernel, p => Edit(p, ed =>
            {
                var (leaf, slot, _) = Find(ed, ObjectIds.FsTree, (k, _) => k.Type == ItemType.InodeItem && k.ObjectId > 256);
                ed.EditItem(leaf, slot, d => new InodeItem(d).Flags |= (InodeFlags)0x1000);
            }), FindingCode.ItemInvalid, false),
            new("inode generation beyond the superblock's", Kernel, p => Edit(p, ed =>
            {
                ulong gen = ed.Image.Generation;
                var (leaf, slot, _) = Find(ed, ObjectIds.FsTree, (k, _) => k.Type == ItemType.InodeItem && k.ObjectId > 256);
                ed.EditItem(leaf, slot, d => new InodeItem(d).Generation = gen + 100);
            }), FindingCode.ItemInvalid, true),
            new("inode transid beyond the superblock's", Kernel, p => Edit(p, ed =>
            {
                ulong gen = ed.Image.Generation;
                var (leaf, slot, _) = Find(ed, ObjectIds.FsTree, (k, _) => k.Type == ItemType.InodeItem && k.ObjectId > 256);
                ed.EditItem(leaf, slot, d => new InodeItem(d).Transid = gen + 100);
            }), FindingCode.ItemInvalid, true),
            new("inode mode with junk in the high bits", Kernel, p => Edit(p, ed =>
            {
                var (leaf, slot, _) = Find(ed, ObjectIds.FsTree, (k, _) => k.Type == ItemType.InodeItem && k.ObjectId > 256);
                ed.EditItem(leaf, slot, d => new InodeItem(d).Mode |= 0x100000);
            }), FindingCode.ItemInvalid, true),
            new("free space info keyed to a block group that does not exist (its own group left without one)", Kernel, p => Edit(p, ed =>
            {
                var (leaf, slot, key) = Find(ed, ObjectIds.FreeSpaceTree, (k, _) => k.Type == ItemType.FreeSpaceInfo);
                ed.EditBlock(leaf, b => new Leaf(b).SetKey(slot, new Key(key.ObjectId, key.Type, key.Offset + 4096)));
            }), FindingCode.FreeSpaceMismatch, true),
            new("dev extent on a device that does not exist", Kernel, p => Edit(p, ed =>
            {
                (ulong Leaf, int Slot, Key Key) last = default;
                var cur = ed.Image.NewCursor();
                if (cur.First(ed.Image.GetRoot(ObjectIds.DevTree)))
                    do if (cur.Type == ItemType.DevExtent) last = (cur.LeafBytenr, cur.Slot, cur.Key); while (cur.Next());
                ed.EditBlock(last.Leaf, b => new Leaf(b).SetKey(last.Slot, new Key(7, last.Key.Type, last.Key.Offset)));
            }), FindingCode.DevExtentMismatch, true),
            new("global root key with a nonzero offset", Kernel, p => Edit(p, ed =>
            {
                var (leaf, slot, key) = Find(ed, ObjectIds.RootTree, (k, _) => k.Type == ItemType.RootItem && k.ObjectId == ObjectIds.CsumTree);
                ed.EditBlock(leaf, b => new Leaf(b).SetKey(slot, new Key(key.ObjectId, key.Type, 1)));
            }), FindingCode.ItemInvalid, true),
        };
        return rows.Select(r => new object[] { r });
    }

    [RequiresBtrfsProgsFact]
    public void UnsupportedFeatureIsNamed()
    {
        using var tmp = new TempDir();
        var img = MakeBase(tmp, Single);
        var buf = new byte[Superblock.Size];
        using (var dev = FileBlockDevice.Open(img, writable: true))
        {
            dev.Read(buf, Superblock.PrimaryOffset);
            var sb = new Superblock(buf);
            sb.IncompatFlags |= IncompatFlags.CompressZstd;
            sb.StampCsum();
            dev.Write(buf, Superblock.PrimaryOffset);
        }
        var report = Checker.Check(img);
        Assert.False(report.IsClean);
        Assert.Contains(report.Findings, f => f.Message.Contains("COMPRESS_ZSTD"));
    }

    private static string MakeBase(TempDir tmp, string kind)
    {
        if (kind == Kernel) return GoldenImages.Extract("kernel-small", tmp);
        var root = tmp.File("root");
        if (kind == Nodes)
        {
            // 4 KiB nodes and many names: the fs tree root is a node.
            Directory.CreateDirectory(root);
            for (int i = 0; i < 1500; i++) File.WriteAllText(Path.Combine(root, $"file-with-a-long-name-{i:D5}"), "");
            return RealTools.Mkfs(tmp.File("nodes.img"), 128L << 20, "-n", "4096", "-m", "single", "-d", "single", "--rootdir", root);
        }
        if (!Directory.Exists(root)) CheckCoreTests.MakeRootDir(root);
        var args = kind == Single ? new[] { "-m", "single", "-d", "single", "--rootdir", root } : new[] { "--rootdir", root };
        return RealTools.Mkfs(tmp.File(kind + ".img"), 256L << 20, args);
    }

    [RequiresBtrfsProgsTheory]
    [MemberData(nameof(Corruptions))]
    public void DetectsCorruption(Corruption c)
    {
        using var tmp = new TempDir();
        var img = MakeBase(tmp, c.Base);
        var baseReport = Checker.Check(img, new CheckOptions { CheckDataCsum = true });
        Assert.True(baseReport.IsClean, $"base image not clean:\n{CheckCoreTests.Describe(baseReport)}");
        c.Apply(img);

        var report = Checker.Check(img, new CheckOptions { CheckDataCsum = c.DataCsum });
        Assert.True(report.Count(c.Expected) > 0, $"expected {c.Expected}; got:\n{CheckCoreTests.Describe(report)}");
        Assert.DoesNotContain(report.Findings, f => f.Code == FindingCode.PhaseAborted);

        var progs = RealTools.BtrfsCheck(img, c.ProgsArgs ?? Array.Empty<string>());
        if (c.ProgsFlags)
            Assert.True(progs.ExitCode != 0, $"btrfs check did not flag '{c.Name}':\n{progs.All}");
        else
            Assert.True(progs.ExitCode == 0, $"btrfs check now flags '{c.Name}' (update the table):\n{progs.All}");
    }
}

/// <summary>A csum item over the kernel's per-item limit (MAX_CSUM_ITEMS) is an error for btrfs check and for us.</summary>
public class CsumItemLimitTests
{
    [RequiresBtrfsProgsFact]
    public void OversizedCsumItemIsFlaggedByBothCheckers()
    {
        using var tmp = new TempDir();
        var img = BtrfsLite.Tests.Fs.WriterEndToEndTests.NewImage(tmp, size: 256L << 20, quota: false);
        using (var fs = BtrfsLite.Fs.Filesystem.Open(img))
        {
            fs.Write("big", 0, new byte[20 << 20]); // 5120 sectors: our writer splits its csums at 4057 per item
            // Rewrite the csums of that extent as one item of 4058: one more than allowed.
            fs.Run(tx =>
            {
                var csum = tx.Tree(ObjectIds.CsumTree);
                var c = tx.NewCursor();
                var items = new List<(Key Key, byte[] Data)>();
                if (c.SeekPrefix(tx.CurrentRoot(ObjectIds.CsumTree), ObjectIds.ExtentCsum, ItemType.ExtentCsum))
                    do items.Add((c.Key, c.Data.ToArray())); while (c.Next());
                Assert.True(items.Count >= 2);
                var all = items.SelectMany(i => i.Data).ToArray();
                foreach (var (k, _) in items) csum.Delete(k);
                int first = 4058 * Checksums.CsumSize;
                all.AsSpan(0, first).CopyTo(csum.Insert(items[0].Key, first));
                var rest = new Key(ObjectIds.ExtentCsum, ItemType.ExtentCsum, items[0].Key.Offset + 4058UL * 4096);
                all.AsSpan(first).CopyTo(csum.Insert(rest, all.Length - first));
            });
        }
        var report = Checker.Check(img);
        Assert.Contains(report.Findings, f => f.Code == FindingCode.ItemInvalid && f.Message.Contains("more than the 4057"));
        Assert.NotEqual(0, RealTools.BtrfsCheck(img).ExitCode);
    }
}
