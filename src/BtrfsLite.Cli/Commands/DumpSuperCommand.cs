using System.CommandLine;
using System.Text;
using System.Text.Json;
using BtrfsLite.Format;
using BtrfsLite.IO;
using BtrfsLite.Text;

namespace BtrfsLite.Cli.Commands;

/// <summary><c>btrfslite dump-super [-f] [-a|-s N] [-F] [--format text|json] IMG</c>: btrfs inspect-internal dump-super (6.2 text).</summary>
internal static class DumpSuperCommand
{
    public static Command Create()
    {
        var full = new Option<bool>("--full", "-f") { Description = "Print full superblock information: sys_chunk_array and backup roots" };
        var all = new Option<bool>("--all", "-a") { Description = "Print every superblock copy (0, 1, 2) the device holds" };
        var super = new Option<int?>("--super", "-s") { Description = "Which copy to print (0, 1, 2)" };
        var force = new Option<bool>("--force", "-F") { Description = "Dump a copy even when its magic is wrong, and an image a mounted file system uses" };
        var format = new Option<string>("--format") { Description = "Output format", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "json");
        var image = new Argument<string>("image") { Description = "Image file or block device" };
        var cmd = new Command("dump-super", "Dump a superblock in the text form of btrfs inspect-internal dump-super (btrfs-progs 6.2), or as JSON")
        {
            full, all, super, force, format, image,
        };
        cmd.SetAction(pr =>
        {
            int? s = pr.GetValue(super);
            bool a = pr.GetValue(all);
            if (s is < 0 or >= DumpSuperWriter.MirrorCount) throw new ArgumentException($"super mirror {s} out of range (0, 1, 2)");
            if (s != null && a) throw new ArgumentException("use either -a or -s N, not both");
            string path = pr.GetValue(image)!;
            var opt = new DumpSuperOptions { Full = pr.GetValue(full), All = a, Mirror = s ?? 0, Force = pr.GetValue(force), DeviceName = path };
            using var dev = FileBlockDevice.Open(path, new DeviceOpenOptions(Writable: false, Wait: FsCli.Wait, AllowMounted: pr.GetValue(force)));
            if (dev.MountedWarning is string m) Console.Error.WriteLine($"WARNING: {m}: the superblock may change while it is read");
            // progs prints a blank line and exits 0 when no requested copy fits on the device; nothing was dumped, so we
            // say so (a device shorter than only some mirrors still dumps the rest as progs does).
            int firstCopy = a ? 0 : s ?? 0;
            if (Superblock.MirrorOffset(firstCopy) + Superblock.Size > dev.Length)
                throw Corruption.Create($"{path} is too small for a btrfs superblock ({dev.Length} bytes; copy {firstCopy} is at {Superblock.MirrorOffset(firstCopy)})", 0);
            using var stdout = Console.OpenStandardOutput();
            int rc;
            if (pr.GetValue(format) == "json")
            {
                using var json = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true });
                rc = DumpSuperWriter.DumpJson(dev, json, Console.Error, opt);
                json.Flush();
                stdout.WriteByte((byte)'\n');
            }
            else
            {
                using var w = new StreamWriter(stdout, Encoding.Latin1, 1 << 16) { AutoFlush = false };
                rc = DumpSuperWriter.DumpText(dev, w, Console.Error, opt);
                w.Flush();
            }
            return rc == 0 ? ExitCodes.Ok : ExitCodes.Corrupt;
        });
        return cmd;
    }
}
