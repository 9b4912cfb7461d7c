using BtrfsLite.Fs;
using BtrfsLite.IO;
using BtrfsLite.Mkfs;
using BtrfsLite.Tests.Support;
using Xunit.Abstractions;

namespace BtrfsLite.Tests.Fs;

/// <summary>
/// Seeded random sequences of path operations against an in-memory model: after every operation the image's file
/// tree equals the model byte for byte; after each sequence our checker, btrfs check and its qgroup report are clean.
/// The kernel then reads every file, writes some of its own, and we check and change the image again.
/// </summary>
public class RandomOpsTests
{
    private readonly ITestOutputHelper _out;
    public RandomOpsTests(ITestOutputHelper output) => _out = output;

    private static FilesystemOptions Options(int seed)
    {
        var r = new Random(seed ^ 0x5eed);
        return new FilesystemOptions
        {
            Clock = () => new DateTimeOffset(2024, 7, 1, 0, 0, 0, TimeSpan.Zero),
            NewUuid = () => { var b = new byte[16]; r.NextBytes(b); return new Guid(b); },
        };
    }

    /// <summary>Runs <paramref name="count"/> random operations, comparing the whole file tree with the model after each.</summary>
    internal static void RunOps(string img, FsModel model, RandomFsOps ops, int count, int seed, ITestOutputHelper? output = null)
    {
        using var fs = Filesystem.Open(img, Options(seed + ops.Log.Count));
        for (int i = 0; i < count; i++)
        {
            string op;
            try { op = ops.Step(fs); }
            catch (Exception ex)
            {
                throw new Xunit.Sdk.XunitException($"seed {seed}: operation {ops.Log.Count + 1} threw {ex.GetType().Name}: {ex.Message}\nlast operations:\n  {string.Join("\n  ", ops.Log.TakeLast(12))}\n{ex.StackTrace}");
            }
            var diff = FsModel.Diff(model.Manifest(), FsModel.ManifestOf(fs));
            if (diff.Length > 0)
                throw new Xunit.Sdk.XunitException($"seed {seed}: after operation {ops.Log.Count} ({op}) the image differs from the model:\n{diff}\nlast operations:\n  {string.Join("\n  ", ops.Log.TakeLast(12))}");
        }
        output?.WriteLine($"seed {seed}: {ops.Log.Count} operations ({string.Join(", ", ops.Log.GroupBy(o => o.Split(' ')[0] + (o.StartsWith("subvolume") ? " " + o.Split(' ')[1] : "")).Select(g => $"{g.Key} {g.Count()}"))}), {model.Walk().Count()} paths");
    }

    internal static string NewImage(TempDir tmp, int seed) =>
        WriterEndToEndTests.NewImage(tmp, size: 256L << 20, quota: true, profile: seed % 2 == 0 ? MetadataProfile.Dup : MetadataProfile.Single);

    private void RunSeed(int seed, int count)
    {
        using var tmp = new TempDir();
        var img = NewImage(tmp, seed);
        var model = new FsModel();
        var ops = new RandomFsOps(seed, model);
        RunOps(img, model, ops, count, seed, _out);
        try { WriterEndToEndTests.AssertClean(img, quota: true); }
        catch (Exception ex) { throw new Xunit.Sdk.XunitException($"seed {seed}: {ex.Message}\noperations:\n  {string.Join("\n  ", ops.Log)}"); }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public void FixedSeedSequencesMatchTheModelAndCheckClean(int seed) => RunSeed(seed, 100);

    [Fact]
    public void ARandomSeedSequenceMatchesTheModelAndChecksClean()
    {
        int seed = Environment.GetEnvironmentVariable("BTRFSLITE_RANDOM_SEED") is { } s ? int.Parse(s) : Random.Shared.Next(1000, int.MaxValue);
        _out.WriteLine($"seed {seed} (set BTRFSLITE_RANDOM_SEED={seed} to replay)");
        RunSeed(seed, 100);
    }

    /// <summary>A long soak, off by default: BTRFSLITE_SOAK=seeds[,operations] runs that many random seeds.</summary>
    [Fact]
    public void Soak()
    {
        if (Environment.GetEnvironmentVariable("BTRFSLITE_SOAK") is not { } spec) return;
        var parts = spec.Split(',');
        int seeds = int.Parse(parts[0]), count = parts.Length > 1 ? int.Parse(parts[1]) : 100;
        int first = Random.Shared.Next(1000, 1 << 30);
        var failures = new List<string>();
        for (int seed = first; seed < first + seeds && failures.Count < 5; seed++)
        {
            try { RunSeed(seed, count); }
            catch (Exception ex) { failures.Add(ex.Message); }
        }
        Assert.True(failures.Count == 0, string.Join("\n=====\n", failures));
    }

    /// <summary>
    /// Our operations, then the kernel mounts the image: every path, type, size, link count and sha256 equals the
    /// model; it writes files of its own (contents known to the model); we check, change the image again, and the
    /// kernel verifies once more.
    /// </summary>
    [RequiresRootMountFact]
    public void TheKernelReadsEveryFileWritesItsOwnAndWeContinue()
    {
        const int seed = 77;
        using var tmp = new TempDir();
        var img = NewImage(tmp, seed);
        var model = new FsModel();
        var ops = new RandomFsOps(seed, model);
        RunOps(img, model, ops, 30, seed, _out);
        WriterEndToEndTests.AssertClean(img, quota: true);

        // Files the kernel writes: their bytes come from here so that the model knows them.
        var k1 = new byte[1_234_567];
        new Random(seed).NextBytes(k1);
        var k1Path = tmp.File("k1.bin");
        File.WriteAllBytes(k1Path, k1);
        var victim = model.Walk().FirstOrDefault(e => e.Node is FsModel.FileNode && model.SubvolumeOf(e.Path) == model.Root).Path;
        KernelImages.WithMounted(img, model.KernelVerifyScript() + $"""
            mkdir kdir
            cp '{k1Path}' kdir/k1.bin
            printf 'written by the kernel\n' > kdir/small
            ln -s kdir/k1.bin klink
            dd if='{k1Path}' of=kdir/k1.bin bs=4096 count=3 seek=100 conv=notrunc status=none
            {(victim != null ? $"rm -f '{victim}'" : "true")}
            """);
        model.Mkdir("kdir");
        model.Write("kdir/k1.bin", 0, k1);
        model.Write("kdir/k1.bin", 100 * 4096, k1.AsSpan(0, 3 * 4096));
        model.Write("kdir/small", 0, "written by the kernel\n"u8);
        model.Symlink("kdir/k1.bin", "klink");
        if (victim != null) model.Remove(victim);
        WriterEndToEndTests.AssertClean(img, quota: true);

        // We read what the kernel wrote, then change the image again.
        RunOps(img, model, ops, 25, seed, _out);
        WriterEndToEndTests.AssertClean(img, quota: true);
        KernelImages.WithMounted(img, model.KernelVerifyScript());
        WriterEndToEndTests.AssertClean(img, quota: true);
    }
}
