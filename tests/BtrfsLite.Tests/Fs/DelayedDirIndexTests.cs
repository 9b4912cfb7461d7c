using System.Text;
using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Fs;

/// <summary>
/// Directory index items wait for the commit where a session replays the kernel's calls (delayed-inode.c): the tree
/// gets them at the commit, a directory sees them at once, a delete of a waiting insert leaves nothing, and a delete of
/// a committed one waits too.
/// </summary>
public class DelayedDirIndexTests
{
    private const ulong Top = 256;

    private static Key Index(ulong dir, ulong i) => new(dir, ItemType.DirIndex, i);

    private static string[] Names(FsTree t, ulong dir) => t.ReadDir(dir).Select(e => Encoding.UTF8.GetString(e.Name)).ToArray();

    [Fact]
    public void IndexItemsWaitForTheCommitAndTheDirectorySeesThemAtOnce()
    {
        using var tmp = new TempDir();
        var img = WriterEndToEndTests.NewImage(tmp);
        using (var fs = Filesystem.Open(img))
        {
            using (var tx = fs.BeginTransaction())
            {
                tx.DelayedDirIndex.Enabled = true;
                var t = fs.TreeOf(tx, ObjectIds.FsTree);
                t.CreateFile(Top, "a"u8);
                t.CreateFile(Top, "b"u8);
                ulong d = t.Mkdir(Top, "d"u8);
                t.CreateFile(d, "c"u8);
                // DIR_ITEM at once, DIR_INDEX not yet; the directory lists every entry in index order.
                Assert.True(t.TryLookup(Top, "b"u8, out _, out _));
                Assert.False(tx.Tree(ObjectIds.FsTree).Contains(Index(Top, 2)));
                Assert.Equal(new[] { "a", "b", "d" }, Names(t, Top));
                // Removing an entry whose index item waits cancels the insert.
                t.Unlink(Top, "b"u8);
                Assert.Equal(new[] { "a", "d" }, Names(t, Top));
                Assert.False(tx.DelayedDirIndex.IsEmpty);
                tx.Commit();
            }
            using (var tx = fs.BeginTransaction())
            {
                var tree = tx.Tree(ObjectIds.FsTree);
                Assert.True(tree.Contains(Index(Top, 2)));  // a
                Assert.False(tree.Contains(Index(Top, 3))); // b: never reached the tree
                Assert.True(tree.Contains(Index(Top, 4)));  // d
                tx.DelayedDirIndex.Enabled = true;
                var t = fs.TreeOf(tx, ObjectIds.FsTree);
                // A committed index item's delete waits too; the directory no longer lists it, the tree still holds it,
                // and its index is not given out again while the delete waits.
                t.Unlink(Top, "a"u8);
                Assert.True(tree.Contains(Index(Top, 2)));
                Assert.Equal(new[] { "d" }, Names(t, Top));
                t.CreateFile(Top, "e"u8);
                Assert.Equal(new[] { "d", "e" }, Names(t, Top));
                tx.Commit();
            }
            using (var tx = fs.BeginTransaction())
            {
                var tree = tx.Tree(ObjectIds.FsTree);
                Assert.False(tree.Contains(Index(Top, 2)));
                Assert.True(tree.Contains(Index(Top, 5)));
                Assert.Equal(new[] { "d", "e" }, Names(fs.TreeOf(tx, ObjectIds.FsTree), Top));
            }
        }
        WriterEndToEndTests.AssertClean(img, quota: true);
    }

    [Fact]
    public void ATransactionDisposedWithoutCommitLeavesNoIndexItem()
    {
        using var tmp = new TempDir();
        var img = WriterEndToEndTests.NewImage(tmp);
        var before = File.ReadAllBytes(img);
        using (var fs = Filesystem.Open(img))
        using (var tx = fs.BeginTransaction())
        {
            tx.DelayedDirIndex.Enabled = true;
            fs.TreeOf(tx, ObjectIds.FsTree).CreateFile(Top, "a"u8);
        }
        Assert.Equal(before, File.ReadAllBytes(img));
    }
}
