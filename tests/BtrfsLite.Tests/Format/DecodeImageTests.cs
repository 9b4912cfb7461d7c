using BtrfsLite.Format;
using BtrfsLite.Images;
using BtrfsLite.Tests.Support;
using BtrfsLite.Tests.Text;

namespace BtrfsLite.Tests.Format;

/// <summary>The Format views on the committed golden images: values as btrfs-progs printed them, and every stored hash recomputed.</summary>
public class DecodeImageTests
{
    public static IEnumerable<object[]> Images() => Golden.ImageNames();

    private static Dictionary<string, string> SuperFields(string name)
    {
        var text = File.ReadAllText(Path.Combine(Golden.ImagesDir()!, name + ".dump-super.txt"), Golden.Bytes);
        return text.Split('\n').Select(l => l.Split('\t', StringSplitOptions.RemoveEmptyEntries))
            .Where(p => p.Length == 2).GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.First()[1]);
    }

    [Theory]
    [MemberData(nameof(Images))]
    public void SuperblockViewMatchesDumpSuper(string name)
    {
        using var tmp = new TempDir();
        var img = Golden.Gunzip(Path.Combine(Golden.ImagesDir()!, name + ".img.gz"), tmp.File(name + ".img"));
        var f = SuperFields(name);
        using var fs = BtrfsImage.Open(img);
        var sb = fs.Super;
        Assert.True(sb.CsumMatches(out uint stored, out _));
        Assert.Equal(f["csum"], $"0x{Convert.ToHexStringLower(BitConverter.GetBytes(stored))} [match]");
        Assert.Equal(f["bytenr"], sb.Bytenr.ToString());
        Assert.Equal(f["flags"], $"0x{sb.Flags:x}");
        Assert.Equal(f["fsid"], sb.Fsid.ToString());
        Assert.Equal(f["generation"], sb.Generation.ToString());
        Assert.Equal(f["root"], sb.Root.ToString());
        Assert.Equal(f["sys_array_size"], sb.SysChunkArraySize.ToString());
        Assert.Equal(f["chunk_root_generation"], sb.ChunkRootGeneration.ToString());
        Assert.Equal(f["root_level"], sb.RootLevel.ToString());
        Assert.Equal(f["chunk_root"], sb.ChunkRoot.ToString());
        Assert.Equal(f["chunk_root_level"], sb.ChunkRootLevel.ToString());
        Assert.Equal(f["log_root"], sb.LogRoot.ToString());
        Assert.Equal(f["total_bytes"], sb.TotalBytes.ToString());
        Assert.Equal(f["bytes_used"], sb.BytesUsed.ToString());
        Assert.Equal(f["sectorsize"], sb.SectorSize.ToString());
        Assert.Equal(f["nodesize"], sb.NodeSize.ToString());
        Assert.Equal(f["stripesize"], sb.StripeSize.ToString());
        Assert.Equal(f["root_dir"], sb.RootDirObjectId.ToString());
        Assert.Equal(f["num_devices"], sb.NumDevices.ToString());
        Assert.Equal(f["compat_flags"], $"0x{sb.CompatFlags:x}");
        Assert.Equal(f["compat_ro_flags"], $"0x{(ulong)sb.CompatRoFlags:x}");
        Assert.Equal(f["incompat_flags"], $"0x{(ulong)sb.IncompatFlags:x}");
        Assert.Equal(f["cache_generation"], sb.CacheGeneration.ToString());
        Assert.Equal(f["uuid_tree_generation"], sb.UuidTreeGeneration.ToString());
        var d = sb.DevItem;
        Assert.Equal(f["dev_item.uuid"], d.Uuid.ToString());
        Assert.Equal(f["dev_item.fsid"], $"{d.Fsid} [match]");
        Assert.Equal(f["dev_item.total_bytes"], d.TotalBytes.ToString());
        Assert.Equal(f["dev_item.bytes_used"], d.BytesUsed.ToString());
        Assert.Equal(f["dev_item.io_align"], d.IoAlign.ToString());
        Assert.Equal(f["dev_item.sector_size"], d.SectorSize.ToString());
        Assert.Equal(f["dev_item.devid"], d.DevId.ToString());
        var text = File.ReadAllText(Path.Combine(Golden.ImagesDir()!, name + ".dump-super.txt"), Golden.Bytes);
        for (int i = 0; i < Superblock.BackupRootCount; i++)
        {
            var b = sb.BackupRoot(i);
            var m = System.Text.RegularExpressions.Regex.Match(text, $"\tbackup {i}:\n\t\tbackup_tree_root:\t(\\d+)\tgen: (\\d+)\tlevel: (\\d+)\n\t\tbackup_chunk_root:\t(\\d+)");
            if (!m.Success) { Assert.True(b.TreeRoot == 0 && b.TreeRootGen == 0); continue; }
            Assert.Equal(m.Groups[1].Value, b.TreeRoot.ToString());
            Assert.Equal(m.Groups[2].Value, b.TreeRootGen.ToString());
            Assert.Equal(m.Groups[3].Value, b.TreeRootLevel.ToString());
            Assert.Equal(m.Groups[4].Value, b.ChunkRoot.ToString());
        }
    }

    /// <summary>Every DIR_ITEM/XATTR_ITEM key is name_hash(name), every INODE_EXTREF key extref_hash(parent, name), inline data refs descend by hash.</summary>
    [Theory]
    [MemberData(nameof(Images))]
    public void StoredHashesRecompute(string name)
    {
        using var tmp = new TempDir();
        var img = Golden.Gunzip(Path.Combine(Golden.ImagesDir()!, name + ".img.gz"), tmp.File(name + ".img"));
        using var fs = BtrfsImage.Open(img);
        var cur = fs.NewCursor();
        int dirs = 0, extrefs = 0, drefs = 0;
        foreach (var root in fs.Roots.Values)
        {
            if (!cur.First(root)) continue;
            do
            {
                var k = cur.Key;
                switch (k.Type)
                {
                    case ItemType.DirItem:
                    case ItemType.XattrItem:
                        {
                            var r = new DirEntryReader(cur.Data);
                            while (r.Next(out var e)) { Assert.Equal(k.Offset, Checksums.NameHash(e.Name)); dirs++; }
                            Assert.False(r.Malformed);
                            break;
                        }
                    case ItemType.InodeExtref:
                        {
                            var r = new InodeExtrefReader(cur.Data);
                            while (r.Next(out var e)) { Assert.Equal(k.Offset, Checksums.ExtrefHash(e.Parent, e.Name)); extrefs++; }
                            Assert.False(r.Malformed);
                            break;
                        }
                    case ItemType.ExtentItem:
                        {
                            var data = cur.Data;
                            var ei = new ExtentItem(data);
                            var r = new InlineRefReader(data, ExtentItem.InlineRefStart(k.Type, ei.Flags));
                            ulong prev = ulong.MaxValue;
                            while (r.Next(out var ir))
                            {
                                if (ir.Type != ItemType.ExtentDataRef) continue;
                                Assert.True(ir.SortValue <= prev, $"extent {k.ObjectId}: inline data refs out of order");
                                prev = ir.SortValue;
                                drefs++;
                            }
                            Assert.False(r.Malformed, r.Error);
                            break;
                        }
                    case ItemType.ExtentDataRef:
                        {
                            var d = new ExtentDataRef(cur.Data);
                            Assert.Equal(k.Offset, Checksums.ExtentDataRefHash(d.Root, d.ObjectId, d.Offset));
                            break;
                        }
                }
            } while (cur.Next());
        }
        Assert.True(dirs > 0);
        if (name == "kernel-rich") { Assert.True(extrefs >= 120 - 81, $"{extrefs} extref entries"); Assert.True(drefs > 100); }
    }
}
