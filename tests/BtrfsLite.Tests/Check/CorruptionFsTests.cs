using System.Text;
using BtrfsLite.Check;
using BtrfsLite.Format;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Check;

/// <summary>
/// One field broken on a copy of a valid image; we must report the expected code, and the real btrfs check is
/// asked too (it must fail, or pass where it is documented not to catch the damage).
/// </summary>
[Collection(KernelImageCollection.Name)]
public class CorruptionFsTests
{
    private readonly KernelImageFixture _kernel;
    public CorruptionFsTests(KernelImageFixture kernel) => _kernel = kernel;

    public enum Base { RootDir, Kernel }

    public sealed record Corruption(string Name, Base On, Action<ImageEditor> Apply, FindingCode Expected,
        bool ProgsCatches, bool QgroupReportCatches = false);

    private static (ulong, int, Key) InodeItemOf(ImageEditor ed, ulong tree, string name)
    {
        ulong ino = ed.InodeOf(tree, name);
        return ed.FindItem(tree, k => k.ObjectId == ino && k.Type == ItemType.InodeItem);
    }

    private static void EditInode(ImageEditor ed, ulong tree, string name, Action<InodeItem> edit)
    {
        var (leaf, slot, _) = InodeItemOf(ed, tree, name);
        ed.EditItem(leaf, slot, d => edit(new InodeItem(d)));
    }

    private static bool DirEntryNamed(Key k, byte[] d, ItemType type, string name)
    {
        if (k.Type != type) return false;
        var r = new DirEntryReader(d);
        return r.Next(out var e) && e.Name.SequenceEqual(Encoding.UTF8.GetBytes(name));
    }

    public static readonly Dictionary<string, Corruption> Cases = new Corruption[]
    {
        new("qgroup-info-referenced", Base.RootDir, ed =>
        {
            var (leaf, slot, _) = ed.FindItem(ObjectIds.QuotaTree, k => k.Type == ItemType.QgroupInfo && k.Offset == 5);
            ed.EditItem(leaf, slot, d => { var i = new QgroupInfoItem(d); i.Rfer += 4096; i.RferCmpr += 4096; });
        }, FindingCode.QgroupReferencedMismatch, ProgsCatches: true, QgroupReportCatches: true),
        new("qgroup-info-exclusive", Base.RootDir, ed =>
        {
            var (leaf, slot, _) = ed.FindItem(ObjectIds.QuotaTree, k => k.Type == ItemType.QgroupInfo && k.Offset == 5);
            ed.EditItem(leaf, slot, d => { var i = new QgroupInfoItem(d); i.Excl -= 4096; i.ExclCmpr -= 4096; });
        }, FindingCode.QgroupExclusiveMismatch, ProgsCatches: true, QgroupReportCatches: true),
        new("qgroup-level1-referenced", Base.Kernel, ed =>
        {
            var (leaf, slot, _) = ed.FindItem(ObjectIds.QuotaTree, k => k.Type == ItemType.QgroupInfo && k.Offset == QgroupId.Make(1, 100));
            ed.EditItem(leaf, slot, d => { var i = new QgroupInfoItem(d); i.Rfer += 16384; });
        }, FindingCode.QgroupReferencedMismatch, ProgsCatches: true, QgroupReportCatches: true),
        // btrfs check 6.2 ignores LIMIT items and computes only qgroups with INFO: it passes. The kernel marks the
        // qgroups inconsistent when it loads a LIMIT without INFO; we report it.
        new("qgroup-info-deleted-limit-kept", Base.RootDir, ed =>
            ed.DeleteItem(ed.FindItem(ObjectIds.QuotaTree, k => k.Type == ItemType.QgroupInfo && k.Offset == 5)),
            FindingCode.QgroupInfoMissing, ProgsCatches: false),
        new("dir-index-missing", Base.RootDir, ed =>
            ed.DeleteItem(ed.Find(ObjectIds.FsTree, (k, d) => DirEntryNamed(k, d, ItemType.DirIndex, "fifo"))),
            FindingCode.DirIndexMissing, ProgsCatches: true),
        new("dir-item-missing", Base.RootDir, ed =>
            ed.DeleteItem(ed.Find(ObjectIds.FsTree, (k, d) => DirEntryNamed(k, d, ItemType.DirItem, "link"))),
            FindingCode.DirItemMissing, ProgsCatches: true),
        new("dir-item-name-hash", Base.RootDir, ed =>
        {
            var item = ed.Find(ObjectIds.FsTree, (k, d) => DirEntryNamed(k, d, ItemType.DirItem, "fifo"));
            ed.SetKeyOffset(item, item.Key.Offset + 1);
        }, FindingCode.NameHashMismatch, ProgsCatches: true),
        new("nlink-wrong", Base.RootDir, ed => EditInode(ed, ObjectIds.FsTree, "big.bin", i => i.NLink += 1),
            FindingCode.NlinkMismatch, ProgsCatches: true),
        new("nbytes-wrong", Base.RootDir, ed => EditInode(ed, ObjectIds.FsTree, "big.bin", i => i.NBytes += 4096),
            FindingCode.NbytesMismatch, ProgsCatches: true),
        new("dir-size-wrong", Base.RootDir, ed => EditInode(ed, ObjectIds.FsTree, "sub", i => i.FileSize += 2),
            FindingCode.DirSizeMismatch, ProgsCatches: true),
        new("dir-nlink-2", Base.RootDir, ed => EditInode(ed, ObjectIds.FsTree, "deeper", i => i.NLink = 2),
            FindingCode.InodeInvalid, ProgsCatches: true),
        new("inode-ref-missing", Base.RootDir, ed =>
        {
            ulong ino = ed.InodeOf(ObjectIds.FsTree, "big.bin");
            ed.DeleteItem(ed.FindItem(ObjectIds.FsTree, k => k.ObjectId == ino && k.Type == ItemType.InodeRef));
        }, FindingCode.InodeRefMissing, ProgsCatches: true),
        new("inode-item-missing", Base.RootDir, ed =>
        {
            ulong ino = ed.InodeOf(ObjectIds.FsTree, "fifo");
            ed.DeleteItem(ed.FindItem(ObjectIds.FsTree, k => k.ObjectId == ino && k.Type == ItemType.InodeItem));
        }, FindingCode.InodeMissing, ProgsCatches: true),
        new("nlink-zero-without-orphan", Base.RootDir, ed => EditInode(ed, ObjectIds.FsTree, "fifo", i => i.NLink = 0),
            FindingCode.OrphanMissing, ProgsCatches: true),
        new("dir-index-filetype", Base.RootDir, ed =>
        {
            var (leaf, slot, _) = ed.Find(ObjectIds.FsTree, (k, d) => DirEntryNamed(k, d, ItemType.DirIndex, "fifo"));
            ed.EditItem(leaf, slot, d => d[DirEntry.Offsets.Type] = (byte)DirEntryType.RegFile);
        }, FindingCode.DirEntryMismatch, ProgsCatches: true),
        // btrfs check 6.2 (original mode) verifies DIR_ITEM hashes only; a wrong XATTR_ITEM hash passes it. The
        // kernel tree-checker rejects the leaf, so we report it.
        new("xattr-hash", Base.Kernel, ed =>
        {
            var item = ed.FindItem(ObjectIds.FsTree, k => k.Type == ItemType.XattrItem);
            ed.SetKeyOffset(item, item.Key.Offset + 1);
        }, FindingCode.NameHashMismatch, ProgsCatches: false),
        new("file-extents-overlap", Base.Kernel, ed =>
        {
            ulong ino = ed.InodeOf(256, "twoext");
            var item = ed.FindItem(256, k => k.ObjectId == ino && k.Type == ItemType.ExtentData && k.Offset == 65536);
            ed.SetKeyOffset(item, 65536 - 4096);
        }, FindingCode.FileExtentOverlap, ProgsCatches: true),
        new("root-ref-missing", Base.Kernel, ed =>
            ed.DeleteItem(ed.FindItem(ObjectIds.RootTree, k => k.ObjectId == 5 && k.Type == ItemType.RootRef && k.Offset == 256)),
            FindingCode.RootRefMissing, ProgsCatches: true),
        new("root-backref-missing", Base.Kernel, ed =>
            ed.DeleteItem(ed.FindItem(ObjectIds.RootTree, k => k.ObjectId == 257 && k.Type == ItemType.RootBackref && k.Offset == 5)),
            FindingCode.RootBackrefMissing, ProgsCatches: true),
        new("root-backref-name-mismatch", Base.Kernel, ed =>
        {
            var (leaf, slot, _) = ed.FindItem(ObjectIds.RootTree, k => k.ObjectId == 256 && k.Type == ItemType.RootBackref && k.Offset == 5);
            ed.EditItem(leaf, slot, d => d[RootRef.HeaderSize] ^= 0x20); // "sv" -> "Sv"
        }, FindingCode.RootRefMismatch, ProgsCatches: true),
        new("root-ref-sequence-mismatch", Base.Kernel, ed =>
        {
            var (leaf, slot, _) = ed.FindItem(ObjectIds.RootTree, k => k.ObjectId == 5 && k.Type == ItemType.RootRef && k.Offset == 257);
            ed.EditItem(leaf, slot, d => { var r = new RootRef(d); r.Sequence += 100; });
        }, FindingCode.RootRefMismatch, ProgsCatches: true),
    }.ToDictionary(c => c.Name);

    public static IEnumerable<object[]> MkfsCases => Cases.Values.Where(c => c.On == Base.RootDir).Select(c => new object[] { c.Name });
    public static IEnumerable<object[]> KernelCases => Cases.Values.Where(c => c.On == Base.Kernel).Select(c => new object[] { c.Name });

    [RequiresBtrfsProgsTheory]
    [MemberData(nameof(MkfsCases))]
    public void DetectsOnMkfsImage(string name)
    {
        using var tmp = new TempDir();
        Detects(name, FsRootCheckTests.MkfsRootDir(tmp, name + ".img"));
    }

    /// <summary>Needs subvolumes, snapshots, xattrs and multi-extent files: a kernel-written image (skipped without loop mounts).</summary>
    [RequiresTheory(Need.BtrfsProgs, Need.RootLoopMount, Need.Attr)]
    [MemberData(nameof(KernelCases))]
    public void DetectsOnKernelImage(string name)
    {
        Detects(name, _kernel.CopyOf(_kernel.QuotaImage, name + ".img"));
    }

    private static void Detects(string name, string img)
    {
        var c = Cases[name];
        Assert.Equal(0, RealTools.BtrfsCheck(img).ExitCode); // the base is valid
        using (var ed = new ImageEditor(img)) c.Apply(ed);

        var report = Checker.Check(img);
        Assert.True(report.Count(c.Expected) > 0, $"{name}: expected {c.Expected}, got:\n{string.Join("\n", report.Findings)}");

        var progs = RealTools.BtrfsCheck(img);
        if (c.ProgsCatches) Assert.True(progs.ExitCode != 0, $"{name}: btrfs check passed:\n{progs.All}");
        else Assert.True(progs.ExitCode == 0, $"{name}: btrfs check is documented to pass this but failed:\n{progs.All}");

        if (c.QgroupReportCatches)
        {
            var q = RealTools.BtrfsCheck(img, "--qgroup-report");
            Assert.True(q.ExitCode != 0, $"{name}: btrfs check --qgroup-report passed:\n{q.All}");
            var ours = Checker.Check(img, new CheckOptions { QgroupReport = true });
            Assert.True(ours.Count(c.Expected) > 0);
        }
    }
}
