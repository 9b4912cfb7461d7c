using System.CommandLine;
using System.Text;
using BtrfsLite.Text;

namespace BtrfsLite.Cli.Commands;

/// <summary>
/// <c>btrfslite dump-tree [-t TREE] [-b BYTENR]... [--follow] [--bfs|--dfs] [--format text|json] IMG</c>:
/// btrfs inspect-internal dump-tree (6.2 text). Unreadable blocks are reported on stderr (naming the bytenr),
/// the dump goes on, and the exit code is 3.
/// </summary>
internal static class DumpTreeCommand
{
    public static Command Create()
    {
        var tree = new Option<string?>("--tree", "-t") { Description = "Print only this tree: an id or a name (root, extent, chunk, dev, fs, csum, quota, uuid, free-space, data-reloc, block-group...)" };
        var block = new Option<ulong[]>("--block", "-b") { Description = "Print only the tree block at this logical address (repeatable)", AllowMultipleArgumentsPerToken = false };
        var follow = new Option<bool>("--follow") { Description = "With -b: also print the children of the block" };
        var bfs = new Option<bool>("--bfs") { Description = "Breadth-first: nodes of each level, then leaves (default)" };
        var dfs = new Option<bool>("--dfs") { Description = "Depth-first traversal" };
        var format = new Option<string>("--format") { Description = "Output format", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "json");
        var image = new Argument<string>("image") { Description = "Image file or block device" };
        var force = FsCli.ForceMountedOption();
        var cmd = new Command("dump-tree", "Dump tree blocks in the text form of btrfs inspect-internal dump-tree (btrfs-progs 6.2), or as JSON")
        {
            tree, block, follow, bfs, dfs, format, force, image,
        };
        cmd.SetAction(pr =>
        {
            ulong treeId = 0;
            string? t = pr.GetValue(tree);
            if (t != null && !TreeIds.TryParse(t, out treeId)) throw new ArgumentException($"unrecognized tree id: {t}");
            var blocks = pr.GetValue(block) ?? Array.Empty<ulong>();
            var opt = new DumpTreeOptions
            {
                // --bfs takes precedence, as in btrfs-progs.
                Traversal = pr.GetValue(dfs) && !pr.GetValue(bfs) ? DumpTraversal.Dfs : DumpTraversal.Bfs,
                NameEncoding = Encoding.Latin1, // names pass through byte for byte on the Latin-1 stdout below
            };
            string path = pr.GetValue(image)!;
            using var src = DumpSource.Open(path, FsCli.Wait, pr.GetValue(force));
            if (src.Device is IO.FileBlockDevice { MountedWarning: string m }) Console.Error.WriteLine($"WARNING: {m}: the trees may change while they are read");
            foreach (var p in src.Problems) Console.Error.WriteLine($"ERROR: {p}");
            using var stdout = Console.OpenStandardOutput();
            DumpTreeWriter w;
            StreamWriter? text = null;
            if (pr.GetValue(format) == "json") w = DumpTreeWriter.Json(src, stdout, Console.Error, opt);
            else
            {
                text = new StreamWriter(stdout, Encoding.Latin1, 1 << 16) { AutoFlush = false };
                w = DumpTreeWriter.Text(src, text, Console.Error, opt);
            }
            if (blocks.Length > 0) w.WriteBlocks(blocks, pr.GetValue(follow));
            else if (t != null) w.WriteTree(treeId);
            else w.WriteFilesystem();
            text?.Flush();
            if (text == null) stdout.WriteByte((byte)'\n');
            return w.ErrorCount == 0 && src.Problems.Count == 0 ? ExitCodes.Ok : ExitCodes.Corrupt;
        });
        return cmd;
    }
}
