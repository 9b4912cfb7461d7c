using BtrfsLite.Format;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Check;

/// <summary>Test-side helpers around the editor: find items by predicate over key and payload.</summary>
public static class EditorExtensions
{
    public static (ulong Leaf, int Slot, Key Key) Find(this ImageEditor ed, ulong tree, Func<Key, byte[], bool> match)
    {
        var cur = ed.Image.NewCursor();
        if (!cur.First(ed.Image.GetRoot(tree))) throw new InvalidOperationException($"tree {tree} is empty");
        do
        {
            if (match(cur.Key, cur.Data.ToArray())) return (cur.LeafBytenr, cur.Slot, cur.Key);
        } while (cur.Next());
        throw new InvalidOperationException($"no matching item in tree {tree}");
    }

    public static void DeleteItem(this ImageEditor ed, (ulong Leaf, int Slot, Key Key) item) =>
        ed.EditBlock(item.Leaf, b => LeafSurgery.RemoveItem(b, item.Slot));

    public static void SetKeyOffset(this ImageEditor ed, (ulong Leaf, int Slot, Key Key) item, ulong offset) =>
        ed.EditBlock(item.Leaf, b =>
        {
            var leaf = new Leaf(b);
            leaf.SetKey(item.Slot, item.Key with { Offset = offset });
            if (item.Slot > 0 && leaf.Key(item.Slot - 1) >= leaf.Key(item.Slot)) throw new InvalidOperationException("edit breaks key order");
            if (item.Slot + 1 < leaf.NrItems && leaf.Key(item.Slot + 1) <= leaf.Key(item.Slot)) throw new InvalidOperationException("edit breaks key order");
        });

    /// <summary>The inode number of the file named <paramref name="name"/> (first DIR_INDEX with that name).</summary>
    public static ulong InodeOf(this ImageEditor ed, ulong tree, string name)
    {
        var want = System.Text.Encoding.UTF8.GetBytes(name);
        ulong ino = 0;
        ed.Find(tree, (k, d) =>
        {
            if (k.Type != ItemType.DirIndex) return false;
            var r = new DirEntryReader(d);
            if (r.Next(out var e) && e.Name.SequenceEqual(want)) { ino = e.Location.ObjectId; return true; }
            return false;
        });
        return ino;
    }
}

/// <summary>
/// Images written by the running kernel (loop mount), built once per test run: files, hard links, xattrs, a
/// subvolume, a snapshot, reflinks across subvolumes, qgroups (1/100 holding 0/256 and 0/257, 1/200 holding
/// 0/257, a limit). Unmounted in finally; the directory goes away on dispose.
/// </summary>
public sealed class KernelImageFixture : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly Lazy<string> _quota;

    public KernelImageFixture() => _quota = new Lazy<string>(BuildQuotaImage);

    /// <summary>The kernel-written image (quotas on, consistent). Copy before editing.</summary>
    public string QuotaImage => _quota.Value;

    public string CopyOf(string image, string name)
    {
        var p = _dir.File(name);
        File.Copy(image, p, true);
        return p;
    }

    private static void Sh(string script)
    {
        var r = RealTools.Run("bash", "-ec", script);
        if (r.ExitCode != 0) throw new InvalidOperationException($"script failed ({r.ExitCode}): {script}\n{r.All}");
    }

    private string BuildQuotaImage()
    {
        var img = _dir.File("kernel-quota.img");
        var mnt = _dir.File("mnt");
        Directory.CreateDirectory(mnt);
        RealTools.Mkfs(img, 512L << 20);
        Sh($"mount -o loop '{img}' '{mnt}'");
        try
        {
            Sh($@"cd '{mnt}'
btrfs quota enable .
mkdir -p d1/d2
echo hello > d1/a
for i in $(seq 1 40); do echo $i > d1/f$i; done
ln d1/a d1/a_link
ln d1/a d1/d2/a_link2
ln -s ../a d1/d2/sym
mkfifo d1/fifo
setfattr -n user.test -v value d1/a
setfattr -n user.other -v 12345 d1/d2
dd if=/dev/urandom of=big bs=1M count=3 status=none
btrfs subvolume create sv >/dev/null
dd if=/dev/urandom of=sv/data bs=64K count=10 status=none
sync
dd if=/dev/urandom of=sv/twoext bs=64K count=1 status=none
sync
dd if=/dev/urandom of=sv/twoext bs=64K count=1 seek=1 conv=notrunc status=none
cp --reflink=always big sv/big_reflink
sync
btrfs subvolume snapshot sv snap >/dev/null
echo more >> snap/data
btrfs qgroup create 1/100 .
btrfs qgroup create 1/200 .
btrfs qgroup assign 0/256 1/100 . || true
btrfs qgroup assign 0/257 1/100 . || true
btrfs qgroup assign 0/257 1/200 . || true
btrfs qgroup limit 100M 0/256 .
sync
btrfs quota rescan -w . >/dev/null 2>&1 || btrfs quota rescan -W . >/dev/null
sync");
        }
        finally
        {
            RealTools.Run("umount", mnt);
        }
        return img;
    }

    public void Dispose() => _dir.Dispose();
}

[CollectionDefinition(Name)]
public sealed class KernelImageCollection : ICollectionFixture<KernelImageFixture>
{
    public const string Name = "kernel images";
}
