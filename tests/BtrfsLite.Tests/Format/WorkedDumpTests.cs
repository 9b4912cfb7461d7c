using System.Text;
using BtrfsLite.Format;
using BtrfsLite.Text;

namespace BtrfsLite.Tests.Format;

/// <summary>btrfs-format.md section 8: the fs tree leaf of a fresh image, rebuilt from the listed bytes.</summary>
public class WorkedDumpTests
{
    private static readonly (int Offset, string Hex)[] Rows =
    {
        (0x000, "6c 01 67 70 00 00 00 00 00 00 00 00 00 00 00 00"),
        (0x010, "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"),
        (0x020, "4a 71 56 df d3 c6 4f f1 9b c7 5c 1b ff 72 52 43"),
        (0x030, "00 80 50 00 00 00 00 00 01 00 00 00 00 00 00 01"),
        (0x040, "35 85 fb 2c de 1a 4b 3c bb 5e 4f 47 cf 18 39 92"),
        (0x050, "05 00 00 00 00 00 00 00 05 00 00 00 00 00 00 00"),
        (0x060, "02 00 00 00 00 00 01 00 00 00 00 00 00 01 00 00"),
        (0x070, "00 00 00 00 00 00 fb 3e 00 00 a0 00 00 00 00 01"),
        (0x080, "00 00 00 00 00 00 0c 00 01 00 00 00 00 00 00 ef"),
        (0x090, "3e 00 00 0c 00 00 00"),
        (0x3f54, "00 00 00 00 00 00 00 00 02 00 2e 2e"),
        (0x3f60, "03 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"),
        (0x3f70, "00 00 00 00 00 00 00 00 00 40 00 00 00 00 00 00"),
        (0x3f80, "00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00"),
        (0x3f90, "00 00 00 00 ed 41 00 00 00 00 00 00 00 00 00 00"),
        (0x3fd0, "8d 47 05 6b 00 00 00 00 00 00 00 00 8d 47 05 6b"),
        (0x3fe0, "00 00 00 00 00 00 00 00 8d 47 05 6b 00 00 00 00"),
        (0x3ff0, "00 00 00 00 8d 47 05 6b 00 00 00 00 00 00 00 00"),
    };

    internal static byte[] Block()
    {
        var b = new byte[16384];
        foreach (var (off, hex) in Rows)
        {
            var bytes = Convert.FromHexString(hex.Replace(" ", ""));
            bytes.CopyTo(b, off);
        }
        return b;
    }

    [Fact]
    public void ChecksumOfTheRebuiltBlock()
    {
        var b = Block();
        Assert.Equal(0x7067016Cu, Checksums.BlockCsum(b));
        Assert.True(Checksums.VerifyBlockCsum(b, out _, out _));
    }

    [Fact]
    public void HeaderAndItemsDecode()
    {
        var b = Block();
        var leaf = new Leaf(b);
        var h = leaf.Header;
        Assert.Equal(new Guid("4a7156df-d3c6-4ff1-9bc7-5c1bff725243"), h.Fsid);
        Assert.Equal(0x508000UL, h.Bytenr);
        Assert.Equal(0x0100000000000001UL, h.Flags);
        Assert.Equal(1UL, h.BackrefRev);
        Assert.Equal(new Guid("3585fb2c-de1a-4b3c-bb5e-4f47cf183992"), h.ChunkTreeUuid);
        Assert.Equal(5UL, h.Generation);
        Assert.Equal(5UL, h.Owner);
        Assert.Equal(2, leaf.NrItems);
        Assert.Equal(0, h.Level);
        Assert.Null(leaf.Validate(out _));
        Assert.Equal(16061, leaf.FreeSpace);

        Assert.Equal(new Key(256, ItemType.InodeItem, 0), leaf.Key(0));
        Assert.Equal(16123u, leaf.DataOffset(0));
        Assert.Equal(160u, leaf.DataSize(0));
        Assert.Equal(new Key(256, ItemType.InodeRef, 256), leaf.Key(1));
        Assert.Equal(16111u, leaf.DataOffset(1));
        Assert.Equal(12u, leaf.DataSize(1));

        var ii = new InodeItem(leaf.Data(0));
        Assert.Equal(3UL, ii.Generation);
        Assert.Equal(0UL, ii.Transid);
        Assert.Equal(0UL, ii.FileSize);
        Assert.Equal(16384UL, ii.NBytes);
        Assert.Equal(0UL, ii.BlockGroup);
        Assert.Equal(1u, ii.NLink);
        Assert.Equal(0u, ii.Uid);
        Assert.Equal(0u, ii.Gid);
        Assert.Equal(Convert.ToUInt32("40755", 8), ii.Mode);
        Assert.True(ii.IsDir);
        Assert.Equal(InodeFlags.None, ii.Flags);
        var t = new Timespec(0x6B05478D, 0);
        Assert.Equal(t, ii.Atime);
        Assert.Equal(t, ii.Ctime);
        Assert.Equal(t, ii.Mtime);
        Assert.Equal(t, ii.Otime);

        var refs = new InodeRefReader(leaf.Data(1));
        Assert.True(refs.Next(out var e));
        Assert.Equal(0UL, e.Index);
        Assert.Equal("..", Encoding.ASCII.GetString(e.Name));
        Assert.False(refs.Next(out _));
        Assert.False(refs.Malformed);
    }

    [Fact]
    public void PrintsAsProgsDoes()
    {
        var sw = new StringWriter();
        DumpTreeWriter.WriteBlockText(sw, new StringWriter(), Block(), 4096, new DumpTreeOptions { TimeZone = TimeZoneInfo.Utc });
        const string time = "1795508109.0 (2026-11-24 08:15:09)";
        var expected = string.Join("\n",
            "leaf 5275648 items 2 free space 16061 generation 5 owner FS_TREE",
            "leaf 5275648 flags 0x1(WRITTEN) backref revision 1",
            "fs uuid 4a7156df-d3c6-4ff1-9bc7-5c1bff725243",
            "chunk uuid 3585fb2c-de1a-4b3c-bb5e-4f47cf183992",
            "\titem 0 key (256 INODE_ITEM 0) itemoff 16123 itemsize 160",
            "\t\tgeneration 3 transid 0 size 0 nbytes 16384",
            "\t\tblock group 0 mode 40755 links 1 uid 0 gid 0 rdev 0",
            "\t\tsequence 0 flags 0x0(none)",
            "\t\tatime " + time,
            "\t\tctime " + time,
            "\t\tmtime " + time,
            "\t\totime " + time,
            "\titem 1 key (256 INODE_REF 256) itemoff 16111 itemsize 12",
            "\t\tindex 0 namelen 2 name: ..",
            "");
        Assert.Equal(expected, sw.ToString());
    }

    [Fact]
    public void DefaultDirItemOfTheRootTree()
    {
        // Section 8: key (6, 84, 0x8DBFC2D2) and its 37-byte payload.
        var key = Convert.FromHexString("0600000000000000" + "54" + "d2c2bf8d00000000");
        Assert.Equal(new Key(6, ItemType.DirItem, 0x8DBFC2D2), Key.Read(key));
        var data = Convert.FromHexString("0500000000000000" + "84" + "ffffffffffffffff" + "0000000000000000" + "0000" + "0700" + "02" + "64656661756c74");
        var r = new DirEntryReader(data);
        Assert.True(r.Next(out var e));
        Assert.Equal(new Key(5, ItemType.RootItem, ulong.MaxValue), e.Location);
        Assert.Equal(0UL, e.Transid);
        Assert.Equal(DirEntryType.Dir, e.Type);
        Assert.Equal("default", Encoding.ASCII.GetString(e.Name));
        Assert.True(e.Data.IsEmpty);
        Assert.Equal(Checksums.NameHash(e.Name), Key.Read(key).Offset);
        Assert.False(r.Next(out _));
    }
}
