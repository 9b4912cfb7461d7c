using BtrfsLite.Check;
using BtrfsLite.Format;
using BtrfsLite.Images;
using BtrfsLite.Tests.Support;
using BtrfsLite.Trees;

namespace BtrfsLite.Tests.Check;

/// <summary>
/// images/kernel-reloc.img.gz: a crash image Linux left in the middle of a metadata balance
/// (images/make-reloc-image.sh), its root tree holding one relocation tree per subvolume being relocated, all with
/// objectid -8 and told apart by their offset. btrfs check reads it clean; so must we, and a write beside the
/// relocation trees must leave an image both checkers accept and the kernel can finish the balance on.
/// </summary>
[Collection(InProcessCliCollection.Name)]
public class RelocationTreeTests
{
    /// <summary>The relocation trees' ROOT_ITEMs: the subvolume each relocates (the key offset) and its root block.</summary>
    private static List<(ulong Subvolume, ulong Bytenr)> RelocationTrees(string img)
    {
        using var fs = BtrfsImage.Open(img);
        var c = fs.NewCursor();
        var list = new List<(ulong, ulong)>();
        if (c.SeekPrefix(fs.RootTree, ObjectIds.TreeReloc, ItemType.RootItem))
            do
            {
                if (c.Key.ObjectId != ObjectIds.TreeReloc || c.Type != ItemType.RootItem) break;
                list.Add((c.Key.Offset, new RootItem(c.Data).Bytenr));
            } while (c.Next());
        return list;
    }

    /// <summary>The lines of btrfs check's closing summary ("found … bytes used", "total … bytes", …).</summary>
    private static string[] Summary(string output) => output.Split('\n')
        .Where(l => l.StartsWith("found ") || l.StartsWith("total ") || l.StartsWith("btree ") || l.StartsWith("file data") || l.StartsWith(" referenced"))
        .ToArray();

    [RequiresBtrfsProgsFact]
    public void RelocationTreesCheckCleanWithBtrfsChecksNumbers()
    {
        using var tmp = new TempDir();
        var img = GoldenImages.Extract("kernel-reloc", tmp);
        var reloc = RelocationTrees(img).Select(r => r.Subvolume).ToList();
        Assert.True(reloc.Count >= 2, $"the image should hold several relocation trees, has {reloc.Count}");
        Assert.Equal(reloc.Count, reloc.Distinct().Count());

        var report = Checker.Check(img, new CheckOptions { QgroupReport = true });
        Assert.True(report.IsClean, string.Join("\n", report.Findings.Take(10)));
        Assert.Equal(reloc.Count, report.Notes.Count(n => n.StartsWith("relocation tree for ")));

        var progs = RealTools.BtrfsCheck(img);
        Assert.True(progs.ExitCode == 0, progs.All);
        var ours = InProcessCli.Run("check", img);
        Assert.Equal(0, ours.ExitCode);
        // Same totals, the relocation trees' own blocks counted as fs-tree bytes (by their owner) as btrfs check does.
        Assert.Equal(Summary(progs.All), Summary(ours.All));
    }

    /// <summary>dump-tree of the root tree (with its TREE_RELOC items) and of three relocation trees' root blocks (the
    /// RELOC flag) is line for line btrfs-progs' (the banner aside).</summary>
    [RequiresBtrfsProgsFact]
    public void DumpTreeOfRelocationTreesMatchesProgs()
    {
        using var tmp = new TempDir();
        var img = GoldenImages.Extract("kernel-reloc", tmp);
        var args = new List<string[]> { new[] { "-t", "root" } };
        args.AddRange(RelocationTrees(img).Take(3).Select(r => new[] { "-b", r.Bytenr.ToString() }));
        Assert.Equal(4, args.Count);
        foreach (var a in args)
        {
            var progs = RealTools.Run("btrfs", new[] { "inspect-internal", "dump-tree" }.Concat(a).Append(img).ToArray());
            var ours = CliProcess.Run(new[] { "dump-tree", img }.Concat(a).ToArray()); // a process: dump-tree writes stdout raw
            Assert.Equal(0, ours.ExitCode);
            static IEnumerable<string> Body(string text) => text.Split('\n').Where(l => !l.StartsWith("btrfs-progs v") && !l.StartsWith("btrfslite dump-tree"));
            Assert.Equal(Body(progs.Stdout), Body(ours.Stdout));
        }
    }

    [RequiresRootMountFact]
    public void AWriteBesideRelocationTreesPassesBothChecksAndTheKernelFinishesTheBalance()
    {
        using var tmp = new TempDir();
        var img = GoldenImages.Extract("kernel-reloc", tmp);
        Assert.NotEmpty(RelocationTrees(img));

        var host = tmp.File("host");
        File.WriteAllBytes(host, Enumerable.Range(0, 20000).Select(i => (byte)(i * 7 + i / 251)).ToArray());
        Assert.Equal(0, InProcessCli.Run("write", img, "snap3/new", "--from", host).ExitCode);
        Assert.Equal(0, InProcessCli.Run("mkdir", img, "sv/dir").ExitCode);
        Assert.Equal(0, InProcessCli.Run("rm", img, "snap5/s100").ExitCode);
        Assert.True(Checker.Check(img, new CheckOptions { QgroupReport = true }).IsClean);
        foreach (var mode in new[] { Array.Empty<string>(), new[] { "--qgroup-report" } })
        {
            var progs = RealTools.BtrfsCheck(img, mode);
            Assert.True(progs.ExitCode == 0, progs.All);
        }

        // The kernel merges the relocation trees while mounting; it must see what we wrote. skip_balance: a resumed
        // balance would make new relocation trees of its own, which an unmount can leave behind.
        KernelImages.WithMounted(img, $"""
            cmp snap3/new '{host}'
            test -d sv/dir
            test ! -e snap5/s100
            test "$(cat snap7/s7)" = "changed 7"
            """, mountOptions: "skip_balance");
        Assert.Empty(RelocationTrees(img));
        var after = RealTools.BtrfsCheck(img);
        Assert.True(after.ExitCode == 0, after.All);
        Assert.True(Checker.Check(img).IsClean);
    }
}
