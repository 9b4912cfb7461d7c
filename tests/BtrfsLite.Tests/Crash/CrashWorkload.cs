using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.IO;
using BtrfsLite.Mkfs;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Crash;

/// <summary>
/// A deterministic multi-transaction workload over a post-mkfs image (each step is one Filesystem operation, one
/// transaction), and the model of the file tree after each step's commit.
/// </summary>
public sealed class CrashWorkload
{
    public const long DeviceSize = 128L << 20;

    public sealed record Step(string Name, Action<Filesystem> Apply, Action<FsModel> Model);

    public IReadOnlyList<Step> Steps { get; }
    /// <summary>The post-mkfs image (DUP metadata, quota, free space tree).</summary>
    public byte[] BaseImage { get; }
    public ulong BaseGeneration { get; }
    /// <summary>Expected manifest after step k (index 0: after mkfs).</summary>
    public IReadOnlyList<SortedDictionary<string, string>> Expected { get; }

    public CrashWorkload(MetadataProfile profile = MetadataProfile.Dup)
    {
        var rnd = new Random(20240601);
        byte[] Bytes(int n) { var b = new byte[n]; rnd.NextBytes(b); return b; }
        var big = Bytes(3 << 20);
        var mid = Bytes(300_000);
        var patch = Bytes(70_000);
        var vol = Bytes(1_500_000);
        var snapPatch = Bytes(20_000);
        var grow = Bytes(6 << 20);
        var hello = "hello, crash\n"u8.ToArray();

        Steps = new Step[]
        {
            new("mkdir -p docs/deep", f => f.Mkdir("docs/deep", parents: true), m => { m.Mkdir("docs"); m.Mkdir("docs/deep"); }),
            new("write inline docs/hello.txt", f => f.Write("docs/hello.txt", 0, hello), m => m.Write("docs/hello.txt", 0, hello)),
            new("write 3 MiB big.bin", f => f.Write("big.bin", 0, big), m => m.Write("big.bin", 0, big)),
            new("write 300 KB docs/deep/mid.bin", f => f.Write("docs/deep/mid.bin", 0, mid), m => m.Write("docs/deep/mid.bin", 0, mid)),
            new("overwrite 70 KB inside big.bin (unaligned)", f => f.Write("big.bin", (1 << 20) + 123, patch), m => m.Write("big.bin", (1 << 20) + 123, patch)),
            new("truncate big.bin", f => f.Truncate("big.bin", 2_000_001), m => m.Truncate("big.bin", 2_000_001)),
            new("rm docs/hello.txt", f => f.Remove("docs/hello.txt"), m => m.Remove("docs/hello.txt")),
            new("mv docs/deep/mid.bin docs/mid.bin", f => f.Rename("docs/deep/mid.bin", "docs/mid.bin"), m => m.Rename("docs/deep/mid.bin", "docs/mid.bin")),
            new("ln docs/mid.bin docs/mid.link", f => f.HardLink("docs/mid.bin", "docs/mid.link"), m => m.HardLink("docs/mid.bin", "docs/mid.link")),
            new("subvolume create vol", f => f.CreateSubvolume("vol"), m => m.CreateSubvolume("vol")),
            new("write 1.5 MB vol/a.bin", f => f.Write("vol/a.bin", 0, vol), m => m.Write("vol/a.bin", 0, vol)),
            new("write 6 MiB grow.bin (a new data chunk)", f => f.Write("grow.bin", 0, grow), m => m.Write("grow.bin", 0, grow)),
            new("snapshot vol snap", f => f.Snapshot("vol", "snap"), m => m.Snapshot("vol", "snap")),
            new("write inside the snapshot", f => f.Write("snap/a.bin", 3 * 4096 + 5, snapPatch), m => m.Write("snap/a.bin", 3 * 4096 + 5, snapPatch)),
            new("reflink big.bin big.clone", f => f.Reflink("big.bin", "big.clone"), m => m.CloneRange("big.bin", 0, 0, "big.clone", 0)),
            new("symlink", f => f.Symlink("../big.clone", "docs/clone-link"), m => m.Symlink("../big.clone", "docs/clone-link")),
        };

        var dev = new MemoryBlockDevice(DeviceSize);
        ImageBuilder.Create(dev, new ImageOptions
        {
            Size = DeviceSize, Quota = true, FreeSpaceTree = true, MetadataProfile = profile,
            Deterministic = true, Time = new DateTimeOffset(2024, 6, 1, 0, 0, 0, TimeSpan.Zero),
        });
        BaseImage = dev.Data;
        BaseGeneration = new Superblock(BaseImage.AsSpan((int)Superblock.PrimaryOffset, Superblock.Size).ToArray()).Generation;

        var model = new FsModel();
        var expected = new List<SortedDictionary<string, string>> { model.Manifest() };
        foreach (var s in Steps)
        {
            s.Model(model);
            expected.Add(model.Manifest());
        }
        Expected = expected;
    }

    /// <summary>Deterministic options: a fixed clock and seeded subvolume UUIDs, so that every replay writes the same bytes.</summary>
    /// <remarks>Each handle on one image needs its own <paramref name="seed"/>: a restarted sequence would repeat UUIDs already in the uuid tree.</remarks>
    public static FilesystemOptions Options(int seed = 99)
    {
        var r = new Random(seed);
        return new FilesystemOptions
        {
            Clock = () => new DateTimeOffset(2024, 6, 2, 12, 0, 0, TimeSpan.Zero),
            NewUuid = () => { var b = new byte[16]; r.NextBytes(b); return new Guid(b); },
        };
    }
}
