using System.CommandLine;
using BtrfsLite.Format;
using BtrfsLite.Fs;

namespace BtrfsLite.Cli.Commands;

/// <summary>
/// <c>btrfslite subvolume create|snapshot|delete|list</c> (like <c>btrfs subvolume</c>), and the reflink commands
/// <c>reflink IMG SRC DST</c> and <c>clone-range IMG SRC SRCOFF LEN DST DSTOFF</c>. One transaction each.
/// </summary>
internal static class SubvolumeCommands
{
    public static Command Create()
    {
        var cmd = new Command("subvolume", "Create, snapshot, delete and list subvolumes (like btrfs subvolume)");
        cmd.Subcommands.Add(CreateCmd());
        cmd.Subcommands.Add(SnapshotCmd());
        cmd.Subcommands.Add(DeleteCmd());
        cmd.Subcommands.Add(ListCmd());
        return cmd;
    }

    private static Command CreateCmd()
    {
        var image = FsCli.ImageArgument();
        var path = FsCli.PathArgument("path", "Where the new subvolume appears (its parent directory must exist)");
        var inherit = InheritOption();
        var cmd = new Command("create", "Create an empty subvolume") { image, path, inherit };
        cmd.SetAction(pr =>
        {
            var p = pr.GetValue(path)!;
            ulong id;
            if (pr.GetValue(inherit) is string qg)
            {
                ulong q = QuotaCommands.ParseQgroup(qg);
                ulong made = 0;
                FsCli.InSession(pr.GetValue(image)!, s => made = s.CreateSubvolume(p, q));
                id = made;
            }
            else
            {
                using var fs = FsCli.Open(pr.GetValue(image)!, writable: true);
                id = fs.CreateSubvolume(p);
            }
            Console.Out.WriteLine($"Create subvolume '{p.TrimStart('/')}' (ID {id})");
            return ExitCodes.Ok;
        });
        return cmd;
    }

    private static Command SnapshotCmd()
    {
        var image = FsCli.ImageArgument();
        var src = FsCli.PathArgument("source", "Subvolume to snapshot ('/' for the top level)");
        var dst = FsCli.PathArgument("dest", "Name of the snapshot, or an existing directory to put it in");
        var ro = new Option<bool>("--readonly", "-r") { Description = "Make a read-only snapshot" };
        var inherit = InheritOption();
        var cmd = new Command("snapshot", "Snapshot a subvolume (shares every block with the source)") { image, src, dst, ro, inherit };
        cmd.SetAction(pr =>
        {
            var s = pr.GetValue(src)!;
            bool readOnly = pr.GetValue(ro);
            string d;
            ulong id;
            using (var fs = FsCli.Open(pr.GetValue(image)!, writable: pr.GetValue(inherit) == null))
            {
                d = FsCli.IntoDirectory(fs, s, pr.GetValue(dst)!);
                id = pr.GetValue(inherit) == null ? fs.Snapshot(s, d, readOnly) : 0;
            }
            if (pr.GetValue(inherit) is string qg)
            {
                ulong q = QuotaCommands.ParseQgroup(qg);
                FsCli.InSession(pr.GetValue(image)!, session => id = session.Snapshot(s, d, readOnly, q));
            }
            Console.Out.WriteLine($"Create {(readOnly ? "a readonly" : "a")} snapshot of '{s}' in '{d.TrimStart('/')}' (ID {id})");
            return ExitCodes.Ok;
        });
        return cmd;
    }

    /// <summary>-i QG: the new subvolume's qgroup joins QG (btrfs_qgroup_inherit), with the reservations and limits of
    /// a kernel session; a QG that does not exist is ENOENT and nothing is created.</summary>
    private static Option<string?> InheritOption() => new("--inherit", "-i")
    {
        Description = "Add the new subvolume's qgroup to this qgroup (LEVEL/ID, level above 0), as btrfs subvolume -i does",
    };

    private static Command DeleteCmd()
    {
        var image = FsCli.ImageArgument();
        var path = FsCli.PathArgument("path", "Subvolume to delete (it must not contain subvolumes)");
        var cmd = new Command("delete", "Delete a subvolume or snapshot with everything in it") { image, path };
        cmd.SetAction(pr =>
        {
            using var fs = FsCli.Open(pr.GetValue(image)!, writable: true);
            var p = pr.GetValue(path)!;
            fs.DeleteSubvolume(p);
            Console.Out.WriteLine($"Delete subvolume '{p.TrimStart('/')}'");
            return ExitCodes.Ok;
        });
        return cmd;
    }

    private static Command ListCmd()
    {
        var image = FsCli.ImageArgument();
        var force = FsCli.ForceMountedOption();
        var cmd = new Command("list", "List subvolumes like 'btrfs subvolume list': ID, gen, top level, path (read-only)") { image, force };
        cmd.SetAction(pr =>
        {
            using var fs = FsCli.Open(pr.GetValue(image)!, writable: false, pr.GetValue(force));
            foreach (var (s, path) in ListWithPaths(fs))
                Console.Out.WriteLine($"ID {s.Id} gen {s.Generation} top level {s.ParentId} path {path}");
            return ExitCodes.Ok;
        });
        return cmd;
    }

    /// <summary>Every subvolume by id, with its path from the top level (parent subvolume path / directory path / name).</summary>
    public static List<(SubvolumeInfo Info, string Path)> ListWithPaths(Filesystem fs)
    {
        var subs = fs.ListSubvolumes();
        var byId = subs.GroupBy(s => s.Id).ToDictionary(g => g.Key, g => g.First());
        var paths = new Dictionary<ulong, string>();
        return fs.ReadOnly(tx =>
        {
            string PathOf(ulong id, int depth)
            {
                if (id == ObjectIds.FsTree || depth > 4096) return "";
                if (paths.TryGetValue(id, out var known)) return known;
                if (!byId.TryGetValue(id, out var s)) return $"<orphan {id}>";
                string parent = PathOf(s.ParentId, depth + 1);
                string dir = fs.TreeOf(tx, s.ParentId).PathOf(s.DirId);
                string p = string.Join('/', new[] { parent, dir, s.Name }.Where(x => x.Length > 0));
                paths[id] = p;
                return p;
            }
            return subs.OrderBy(s => s.Id).Select(s => (s, PathOf(s.Id, 0))).ToList();
        });
    }

    public static IEnumerable<Command> CreateReflink()
    {
        var image = FsCli.ImageArgument();
        var src = FsCli.PathArgument("source", "Regular file to share");
        var dst = FsCli.PathArgument("dest", "File that gets the source's content (created, or its old content replaced)");
        var reflink = new Command("reflink", "Make DEST share SRC's data extents (cp --reflink=always; no data is copied)") { image, src, dst };
        reflink.SetAction(pr =>
        {
            using var fs = FsCli.Open(pr.GetValue(image)!, writable: true);
            fs.Reflink(pr.GetValue(src)!, pr.GetValue(dst)!);
            return ExitCodes.Ok;
        });
        yield return reflink;

        var image2 = FsCli.ImageArgument();
        var src2 = FsCli.PathArgument("source", "Regular file to share from");
        var srcOff = FsCli.PathArgument("src-offset", "Sector-aligned offset in SOURCE");
        var len = FsCli.PathArgument("length", "Bytes to share: a sector multiple, or reaching SOURCE's end; 0 = to the end");
        var dst2 = FsCli.PathArgument("dest", "Regular file (created when missing)");
        var dstOff = FsCli.PathArgument("dest-offset", "Sector-aligned offset in DEST");
        var clone = new Command("clone-range", "Share a range of SRC's extents at an offset of DEST (ioctl FICLONERANGE)") { image2, src2, srcOff, len, dst2, dstOff };
        clone.SetAction(pr =>
        {
            ulong so = FsCli.ParseSize(pr.GetValue(srcOff)!, "src-offset");
            ulong l = FsCli.ParseSize(pr.GetValue(len)!, "length");
            ulong dof = FsCli.ParseSize(pr.GetValue(dstOff)!, "dest-offset");
            using var fs = FsCli.Open(pr.GetValue(image2)!, writable: true);
            fs.CloneRange(pr.GetValue(src2)!, so, l, pr.GetValue(dst2)!, dof);
            return ExitCodes.Ok;
        });
        yield return clone;
    }
}
