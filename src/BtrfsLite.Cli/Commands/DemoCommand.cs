using System.CommandLine;
using System.IO.Compression;
using BtrfsLite.Check;
using BtrfsLite.Format;
using BtrfsLite.Images;
using BtrfsLite.Qgroups;

namespace BtrfsLite.Cli.Commands;

/// <summary>
/// <c>btrfslite demo</c>: the main job on the embedded default image (a kernel-made image from images/):
/// read it, verify it like btrfs check, show its qgroups, and replay the seed's reservation scenario on
/// its qgroup 0/5 in both modes.
/// </summary>
internal static class DemoCommand
{
    private const string ResourceName = "BtrfsLite.Cli.default.img.gz";
    private const ulong MiB = 1 << 20;

    public static Command Create()
    {
        var image = new Option<string?>("--image") { Description = "Use this image instead of the embedded default (kernel-small from images/)" };
        var keep = new Option<string?>("--keep") { Description = "Also write the embedded image to this path" };
        var cmd = new Command("demo", "Tour the embedded default image: superblock, trees, check, qgroups, and the seed's reservation scenario")
        {
            image, keep,
        };
        cmd.SetAction(pr => Run(pr.GetValue(image), pr.GetValue(keep)));
        return cmd;
    }

    private static int Run(string? imagePath, string? keep)
    {
        var o = Console.Out;
        string? temp = null;
        try
        {
            if (imagePath == null)
            {
                temp = Path.Combine(Path.GetTempPath(), $"btrfslite-demo-{Environment.ProcessId}.img");
                ExtractDefault(temp);
                if (keep != null) File.Copy(temp, keep, overwrite: true);
                imagePath = temp;
                o.WriteLine("== image: the embedded default (images/kernel-small.img.gz: made by mkfs.btrfs 6.2, written by Linux 6.18)");
            }
            else o.WriteLine($"== image: {imagePath}");

            QuotaState? quota;
            uint sectorSize, nodeSize;
            using (var fs = BtrfsImage.Open(imagePath))
            {
                var sb = fs.Super;
                sectorSize = sb.SectorSize;
                nodeSize = sb.NodeSize;
                o.WriteLine($"fsid {sb.Fsid}  label '{sb.Label}'  generation {sb.Generation}");
                o.WriteLine($"size {sb.TotalBytes} bytes, used {sb.BytesUsed}, nodesize {sb.NodeSize}, sectorsize {sb.SectorSize}");
                o.WriteLine($"incompat 0x{(ulong)sb.IncompatFlags:x} ({sb.IncompatFlags}), compat_ro 0x{(ulong)sb.CompatRoFlags:x}");
                o.WriteLine();
                o.WriteLine("== trees (id, root block, level, items)");
                var cur = fs.NewCursor();
                foreach (var root in fs.Roots.Values.OrderBy(r => r.TreeId == ObjectIds.DataRelocTree ? ulong.MaxValue : r.TreeId))
                {
                    long items = 0;
                    if (cur.First(root)) do items++; while (cur.Next());
                    o.WriteLine($"  {Text.ProgsNames.ObjectIdString(root.TreeId),-18} {root.Bytenr,12} {root.Level,2} {items,7}");
                }
                quota = QgroupTree.Read(fs);
            }

            o.WriteLine();
            o.WriteLine("== check (like btrfs check --qgroup-report)");
            var report = Checker.Check(imagePath, new CheckOptions { OnPhase = (i, n, name) => o.WriteLine($"  [{i}/{n}] {name}") });
            foreach (var f in report.Findings) o.WriteLine($"  ERROR: {f}");
            if (report.Qgroups is { } qr)
                foreach (var c in qr.Counts)
                    o.WriteLine($"  qgroup {c.Id,-8} referenced {c.OurRfer,10} (disk {c.DiskRfer,10})  exclusive {c.OurExcl,10} (disk {c.DiskExcl,10})  {(c.IsDifferent ? "DIFFERENT" : "ok")}");
            o.WriteLine(report.IsClean ? "  no error found" : $"  {report.ErrorCount} error(s) found");

            if (quota == null)
            {
                o.WriteLine();
                o.WriteLine("quotas are not enabled on this image: no reservation demo");
                return report.IsClean ? ExitCodes.Ok : ExitCodes.Findings;
            }
            o.WriteLine();
            o.WriteLine("== qgroups on disk");
            foreach (var q in quota.Qgroups)
                o.WriteLine($"  {q.Id,-8} rfer {q.Referenced,10} excl {q.Exclusive,10} limit-flags {(ulong)q.LimitFlags} max_rfer {q.MaxReferenced} max_excl {q.MaxExclusive}");

            o.WriteLine();
            o.WriteLine("== the seed: limit excl of 0/5 to 16 MiB, write [0, 2 MiB) of one file ten times without sync");
            o.WriteLine("   (reservation engine on this image's committed 0/5 numbers; the image is not modified)");
            foreach (var mode in new[] { QgroupReservationMode.Legacy, QgroupReservationMode.Default })
                SeedScenario(o, quota, mode, sectorSize, nodeSize);
            return report.IsClean ? ExitCodes.Ok : ExitCodes.Findings;
        }
        finally
        {
            if (temp != null) File.Delete(temp);
        }
    }

    private static void ExtractDefault(string path)
    {
        using var res = typeof(DemoCommand).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"embedded resource {ResourceName} is missing from this build");
        using var gz = new GZipStream(res, CompressionMode.Decompress);
        using var outp = File.Create(path);
        gz.CopyTo(outp);
    }

    /// <summary>
    /// The cover letter's reproducer, through the engine the write path uses: each write reserves data for
    /// [0, 2 MiB) and one nodesize of metadata for its outstanding extent; the commit writes one extent,
    /// frees the bytes its record carries and the per-transaction metadata.
    /// </summary>
    private static void SeedScenario(TextWriter o, QuotaState quota, QgroupReservationMode mode, uint sectorSize, uint nodeSize)
    {
        const ulong fsTree = ObjectIds.FsTree, ino = 257;
        var q = quota.ToEngine(mode, sectorSize, nodeSize);
        if (!q.TryGetCounters(fsTree, out var before)) { q.CreateQgroup(fsTree); before = q.GetCounters(fsTree); }
        q.SetLimit(fsTree, QgroupLimitFlags.MaxExcl, 0, 16 * MiB);
        o.WriteLine($"-- {(mode == QgroupReservationMode.Legacy ? "legacy (2015: every write reserves its length)" : "default (the seed's fix: per-inode reserved ranges)")}");
        o.WriteLine($"   0/5 committed excl {before.Exclusive}");
        bool outstanding = false;
        for (int i = 1; i <= 10; i++)
        {
            var r = q.ReserveData(fsTree, ino, 0, 2 * MiB);
            if (r.Succeeded)
            {
                q.ReserveMetaPrealloc(fsTree, nodeSize);
                if (outstanding) q.FreeMetaPrealloc(fsTree, nodeSize); // the rewrite joins the same outstanding extent
                outstanding = true;
            }
            var c = q.GetCounters(fsTree);
            o.WriteLine($"   write {i,2}: {(r.Succeeded ? "ok    " : r.Status.Name()),-6} charged {r.Bytes,8}  rsv_data {c.RsvData,9}  rsv_meta_prealloc {c.RsvMetaPrealloc}");
        }
        // Commit: writeback makes one 2 MiB extent; accounting frees what its record carries.
        var rec = q.ReleaseData(fsTree, ino, 0, 2 * MiB);
        q.ConvertMetaPreallocToPertrans(fsTree, nodeSize);
        q.FreeRecord(rec);
        q.ApplyAccounting(fsTree, (long)(2 * MiB), (long)(2 * MiB));
        q.FreeAllMetaPertrans();
        var after = q.GetCounters(fsTree);
        o.WriteLine($"   after commit: excl {after.Exclusive}, rsv_data {after.RsvData}{(after.RsvData > 0 ? $"  <- leaked: {after.RsvData / MiB} MiB stays reserved until the handle closes" : "")}");
    }
}
