using System.CommandLine;
using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.Qgroups;
using BtrfsLite.Text;

namespace BtrfsLite.Cli.Commands;

/// <summary>
/// <c>btrfslite quota enable|disable|rescan IMG</c> and <c>btrfslite qgroup create|destroy|assign|remove|limit|show</c>,
/// with btrfs-progs' argument order (the image last, like progs' path). Each changing command is one transaction
/// (<see cref="QuotaAdmin"/>): it commits, or fails with <c>ERROR: ERRNO: ...</c> and exit 1 leaving the image as it
/// was (ENOTCONN when quotas are off, ENOENT, EEXIST, EBUSY, EINVAL); 2 for bad arguments.
/// </summary>
internal static class QuotaCommands
{
    public static Command CreateQuota()
    {
        var cmd = new Command("quota", "Enable, disable or rescan quotas (like btrfs quota)");
        cmd.Subcommands.Add(Simple("enable", "Enable quotas: create the quota tree with a qgroup for every subvolume (numbers computed at commit)", QuotaAdmin.Enable));
        cmd.Subcommands.Add(Simple("disable", "Disable quotas: remove the quota tree and every qgroup, limit and relation", QuotaAdmin.Disable));
        cmd.Subcommands.Add(Simple("rescan", "Recompute every qgroup's numbers and clear the inconsistent flag (done at once, not in the background)", QuotaAdmin.Rescan));
        return cmd;
    }

    public static Command CreateQgroup()
    {
        var cmd = new Command("qgroup", "Create, destroy, relate, limit and list quota groups (like btrfs qgroup)");
        cmd.Subcommands.Add(CreateOrDestroy(create: true));
        cmd.Subcommands.Add(CreateOrDestroy(create: false));
        cmd.Subcommands.Add(AssignOrRemove(assign: true));
        cmd.Subcommands.Add(AssignOrRemove(assign: false));
        cmd.Subcommands.Add(Limit());
        cmd.Subcommands.Add(Show());
        return cmd;
    }

    private static Command Simple(string name, string description, Action<Transactions.Transaction> op)
    {
        var image = FsCli.ImageArgument();
        var cmd = new Command(name, description) { image };
        cmd.SetAction(pr =>
        {
            using var fs = FsCli.Open(pr.GetValue(image)!, writable: true);
            fs.Run(op);
            return ExitCodes.Ok;
        });
        return cmd;
    }

    private static Argument<string> QgroupArgument(string name, string description) => new(name) { Description = description + " (level/id; a bare number is 0/N)" };

    /// <summary>"level/id", or a bare number as 0/N (like btrfs-progs' parse_qgroupid).</summary>
    public static ulong ParseQgroup(string text)
    {
        if (QgroupId.TryParse(text.AsSpan().Trim(), out ulong id)) return id;
        throw new ArgumentException($"invalid qgroup id '{text}', expected <level>/<id> or a subvolume id");
    }

    private static Command CreateOrDestroy(bool create)
    {
        var qgroup = QgroupArgument("qgroupid", create ? "The qgroup to create" : "The qgroup to destroy");
        var image = FsCli.ImageArgument();
        var cmd = create
            ? new Command("create", "Create a qgroup (EEXIST when it exists)") { qgroup, image }
            : new Command("destroy", "Destroy a qgroup (EBUSY while it has members or its subvolume exists)") { qgroup, image };
        cmd.SetAction(pr =>
        {
            ulong id = ParseQgroup(pr.GetValue(qgroup)!);
            using var fs = FsCli.Open(pr.GetValue(image)!, writable: true);
            fs.Run(tx => { if (create) QuotaAdmin.CreateQgroup(tx, id); else QuotaAdmin.DestroyQgroup(tx, id); });
            return ExitCodes.Ok;
        });
        return cmd;
    }

    private static Command AssignOrRemove(bool assign)
    {
        var child = QgroupArgument("child", "The member qgroup");
        var parent = QgroupArgument("parent", "The qgroup of a higher level");
        var image = FsCli.ImageArgument();
        var noRescan = new Option<bool>("--no-rescan") { Description = "Do not rescan when the numbers cannot be updated directly (the qgroups stay marked inconsistent)" };
        var rescan = new Option<bool>("--rescan") { Description = "Rescan when the numbers cannot be updated directly (default)" };
        var cmd = assign
            ? new Command("assign", "Make CHILD a member of PARENT") { child, parent, image, noRescan, rescan }
            : new Command("remove", "End the membership of CHILD in PARENT") { child, parent, image, noRescan, rescan };
        cmd.SetAction(pr =>
        {
            ulong c = ParseQgroup(pr.GetValue(child)!), p = ParseQgroup(pr.GetValue(parent)!);
            bool doRescan = !pr.GetValue(noRescan);
            string? note = null;
            using var fs = FsCli.Open(pr.GetValue(image)!, writable: true);
            fs.Run(tx =>
            {
                var member = QuotaAdmin.Read(tx)?.Find(c);
                if (assign) QuotaAdmin.Assign(tx, c, p); else QuotaAdmin.Remove(tx, c, p);
                // The kernel answers > 0 when it could not update the parents' numbers directly (the member's referenced
                // and exclusive differ) and marks the qgroups inconsistent; progs then rescans (--rescan, the default).
                if (member == null || member.Referenced == member.Exclusive) return;
                if (doRescan) { QuotaAdmin.Rescan(tx); note = "Quota data changed, rescan scheduled"; }
                else note = "WARNING: quotas may be inconsistent, rescan needed";
            });
            if (note != null) (note.StartsWith("WARNING", StringComparison.Ordinal) ? Console.Error : Console.Out).WriteLine(note);
            return ExitCodes.Ok;
        });
        return cmd;
    }

    private static Command Limit()
    {
        var size = new Argument<string>("size") { Description = "The limit in bytes (K/M/G/T suffixes, powers of 1024) or 'none' to remove it" };
        var qgroup = QgroupArgument("qgroupid", "The qgroup to limit");
        var image = FsCli.ImageArgument();
        var excl = new Option<bool>("-e", "--exclusive") { Description = "Limit the exclusive size (default: the referenced size)" };
        var cmd = new Command("limit", "Set or remove the referenced (or, with -e, exclusive) size limit of a qgroup") { size, qgroup, image, excl };
        cmd.SetAction(pr =>
        {
            var text = pr.GetValue(size)!;
            ulong? max = string.Equals(text, "none", StringComparison.OrdinalIgnoreCase) ? null : FsCli.ParseSize(text, "size");
            ulong id = ParseQgroup(pr.GetValue(qgroup)!);
            bool e = pr.GetValue(excl);
            using var fs = FsCli.Open(pr.GetValue(image)!, writable: true);
            fs.Run(tx => QuotaAdmin.Limit(tx, id, e, max));
            return ExitCodes.Ok;
        });
        return cmd;
    }

    private static Command Show()
    {
        var image = FsCli.ImageArgument();
        var parent = new Option<bool>("-p") { Description = "Print parent qgroup id" };
        var child = new Option<bool>("-c") { Description = "Print child qgroup id" };
        var rfer = new Option<bool>("-r") { Description = "Print limit of referenced size of qgroup" };
        var excl = new Option<bool>("-e") { Description = "Print limit of exclusive size of qgroup" };
        var raw = new Option<bool>("--raw") { Description = "Raw numbers in bytes" };
        var human = new Option<bool>("--human-readable") { Description = "Human friendly numbers, base 1024 (default)" };
        var iec = new Option<bool>("--iec") { Description = "Use 1024 as a base (KiB, MiB, GiB, TiB)" };
        var si = new Option<bool>("--si") { Description = "Use 1000 as a base (kB, MB, GB, TB)" };
        var kb = new Option<bool>("--kbytes") { Description = "Show sizes in KiB, or kB with --si" };
        var mb = new Option<bool>("--mbytes") { Description = "Show sizes in MiB, or MB with --si" };
        var gb = new Option<bool>("--gbytes") { Description = "Show sizes in GiB, or GB with --si" };
        var tb = new Option<bool>("--tbytes") { Description = "Show sizes in TiB, or TB with --si" };
        var reserved = new Option<bool>("--reserved")
        {
            Description = "Add the columns rsv_data, rsv_meta_pertrans, rsv_meta_prealloc: the reservations of a reservation engine " +
                "primed from the image; an offline image has no writes in flight, so they are 0",
        };
        var format = new Option<string>("--format") { Description = "Output format: text (btrfs qgroup show of btrfs-progs 6.2) or json", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "json");
        var force = FsCli.ForceMountedOption();
        var cmd = new Command("show", "List qgroups: referenced and exclusive sizes, limits, relations and paths (read-only)")
        {
            image, parent, child, rfer, excl, raw, human, iec, si, kb, mb, gb, tb, reserved, format, force,
        };
        cmd.SetAction(pr =>
        {
            var unit = pr.GetValue(raw) ? SizeUnit.Raw
                : pr.GetValue(tb) ? SizeUnit.TiB : pr.GetValue(gb) ? SizeUnit.GiB : pr.GetValue(mb) ? SizeUnit.MiB : pr.GetValue(kb) ? SizeUnit.KiB
                : SizeUnit.Human;
            var opt = new QgroupShowOptions
            {
                Parent = pr.GetValue(parent), Child = pr.GetValue(child), MaxReferenced = pr.GetValue(rfer), MaxExclusive = pr.GetValue(excl),
                Reserved = pr.GetValue(reserved), Unit = unit, Decimal = pr.GetValue(si) && !pr.GetValue(iec),
            };
            using var fs = FsCli.Open(pr.GetValue(image)!, writable: false, pr.GetValue(force));
            var state = QgroupTree.Read(fs.Image) ?? throw new FsException("ENOTCONN", "can't list qgroups: quotas not enabled");
            if ((state.Status & QgroupStatusFlags.On) == 0) Console.Error.WriteLine("WARNING: quota disabled, qgroup data may be out of date");
            else if ((state.Status & QgroupStatusFlags.Rescan) != 0) Console.Error.WriteLine("WARNING: rescan is running, qgroup data may be incorrect");
            else if ((state.Status & QgroupStatusFlags.Inconsistent) != 0) Console.Error.WriteLine("WARNING: qgroup data inconsistent, rescan recommended");

            var paths = new Dictionary<ulong, string> { [QgroupId.ForSubvolume(ObjectIds.FsTree)] = "" };
            foreach (var (info, path) in SubvolumeCommands.ListWithPaths(fs)) paths[QgroupId.ForSubvolume(info.Id)] = path;

            Func<ulong, QgroupReserved>? rsv = null;
            if (opt.Reserved)
            {
                var engine = state.ToEngine(QgroupReservationMode.Default, (uint)fs.Image.SectorSize, (uint)fs.Image.NodeSize);
                rsv = id => engine.TryGetCounters(id, out var c) ? new QgroupReserved(c.RsvData, c.RsvMetaPertrans, c.RsvMetaPrealloc) : default;
            }
            if (pr.GetValue(format) == "json")
            {
                Console.Out.Flush();
                using var stdout = Console.OpenStandardOutput();
                QgroupTableWriter.WriteJson(stdout, state, paths, rsv);
            }
            else
            {
                QgroupTableWriter.WriteTable(Console.Out, state, paths, opt, rsv);
                Console.Out.Flush();
            }
            return ExitCodes.Ok;
        });
        return cmd;
    }
}
