using System.Collections.Concurrent;
using System.IO.Compression;
using BtrfsLite.Check;
using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.IO;
using BtrfsLite.Images;
using BtrfsLite.Text;
using BtrfsLite.Tests.Support;
using Xunit.Abstractions;

namespace BtrfsLite.Tests.Check;

/// <summary>
/// The library's error policy, entry point by entry point: over a corpus of damaged images (kernel-made images with
/// seeded damage, checksums re-stamped or not, and the committed corrupt images), opening, reading, dumping, checking
/// and every kind of transaction end normally or with an exception the library promises (typed corruption,
/// unsupported feature, a refusal with its errno, no space, I/O). The checker never throws. A transaction that fails
/// changes no byte of the image: each one runs on a copy-on-write overlay that is compared with the image afterwards.
/// </summary>
public class LibraryEntryPointTests(ITestOutputHelper output)
{
    private static readonly ConcurrentDictionary<string, byte[]> Bases = new();

    private static byte[] Base(string name) => Bases.GetOrAdd(name, n =>
    {
        var path = File.Exists(GoldenImages.Sidecar(n, "img.gz")) ? GoldenImages.Sidecar(n, "img.gz") : Path.Combine(GoldenImages.Dir, "corrupt", n + ".img.gz");
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        return ms.ToArray();
    });

    private static bool Promised(Exception ex) =>
        ex is InvalidDataException or BtrfsUnsupportedException or FsException or NoSpaceException
        || (ex is IOException && ex is not FileNotFoundException);

    /// <summary>Seeded damage of one tree block: 1 to 3 bits flipped past the checksum field; the checksum of every copy
    /// re-stamped (restamp), or only the first copy changed and left with a bad checksum.</summary>
    private static byte[] Damage(string name, int seed, bool restamp)
    {
        var bytes = (byte[])Base(name).Clone();
        if (seed == 0) return bytes;
        var rng = new Random(seed * 7919 + name.Length);
        using var img = BtrfsImage.Open(new MemoryBlockDevice(bytes), new BtrfsImage.OpenOptions(TreeChecks: false));
        var blocks = ImageEditor.TreeBlocks(img);
        var (_, phys) = blocks[rng.Next(blocks.Count)];
        var block = bytes.AsSpan((int)phys[0], img.NodeSize).ToArray();
        // Where the bytes mean something: the header past the checksum and fsid, the item or pointer array, item data.
        var h = new NodeHeader(block);
        int nr = (int)Math.Min(h.NrItems, 400), arrayEnd = NodeHeader.Size + nr * (h.Level == 0 ? ItemHeader.Size : KeyPtr.Size);
        int dataStart = h.Level == 0 && nr > 0 ? NodeHeader.Size + (int)Math.Min((uint)block.Length - NodeHeader.Size - 1, new Leaf(block).DataOffset(nr - 1)) : arrayEnd;
        for (int i = 0, n = rng.Next(1, 4); i < n; i++)
        {
            int at = rng.Next(3) switch
            {
                0 => rng.Next(0x30, NodeHeader.Size),
                1 => rng.Next(NodeHeader.Size, Math.Max(NodeHeader.Size + 1, arrayEnd)),
                _ => rng.Next(Math.Min(dataStart, block.Length - 1), block.Length),
            };
            block[at] ^= (byte)(1 << rng.Next(8));
        }
        if (!restamp) { block.CopyTo(bytes, (int)phys[0]); return bytes; }
        Checksums.StampBlockCsum(block);
        foreach (var p in phys) block.CopyTo(bytes, (int)p);
        return bytes;
    }

    public static IEnumerable<object[]> Corpus()
    {
        foreach (var name in new[] { "kernel-small", "kernel-dup", "kernel-rich", "kernel-reloc" })
            for (int seed = 1; seed <= 8; seed++)
                yield return new object[] { name, seed, seed % 3 != 0 };
        yield return new object[] { "drop-shared-snapshot", 0, false };
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public void EveryEntryPointEndsNormallyOrWithAPromisedError(string name, int seed, bool restamp)
    {
        var baseDev = new MemoryBlockDevice(Damage(name, seed, restamp));
        var crashes = new List<string>();
        var refused = new List<string>();

        void Try(string what, Action<IBlockDevice> act, bool changing)
        {
            var dev = new OverlayBlockDevice(baseDev);
            try { act(dev); }
            catch (Exception ex) when (Promised(ex))
            {
                refused.Add($"{what}: {ex.GetType().Name}");
                if (changing && dev.Changed) crashes.Add($"{what}: failed ({ex.GetType().Name}: {ex.Message}) but changed the image at {string.Join(", ", dev.ChangedPages().Take(8))}");
            }
            catch (Exception ex) { crashes.Add($"{what}: {ex.GetType().Name}: {ex.Message}\n{ex.StackTrace}"); }
        }

        Filesystem Fs(IBlockDevice d, bool writable = false) => new(BtrfsImage.Open(d, new BtrfsImage.OpenOptions(Writable: writable)));
        // Paths taken from the undamaged image, so the changing entry points aim at what exists.
        var (file, dir) = SamplePaths(name);

        // ---- opening and reading ----
        Try("open", d => { using var img = BtrfsImage.Open(d); foreach (var id in img.Roots.Keys) img.GetRoot(id); }, false);
        Try("walk: list, stat, read, readlink", d => { using var fs = Fs(d); Walk(fs, "", 0); }, false);
        Try("subvolume list", d => { using var fs = Fs(d); fs.ListSubvolumes(); }, false);
        Try("quota state", d => { using var fs = Fs(d); fs.ReadOnly(tx => QuotaAdmin.Read(tx)); }, false);
        Try("exists", d => { using var fs = Fs(d); fs.Exists(file); fs.Exists("no/such/path"); }, false);
        Try("dump-super", d => DumpSuperWriter.DumpText(d, TextWriter.Null, TextWriter.Null, new DumpSuperOptions()), false);
        Try("dump-tree", d => { using var src = DumpSource.Open(d); DumpTreeWriter.Text(src, TextWriter.Null, TextWriter.Null).WriteFilesystem(); }, false);
        // The checker records findings and never throws once the image is open.
        {
            BtrfsImage? img = null;
            try { img = BtrfsImage.Open(new OverlayBlockDevice(baseDev), new BtrfsImage.OpenOptions(VerifySuperCsum: false, TreeChecks: false)); }
            catch (Exception ex) when (Promised(ex)) { }
            if (img != null)
                using (img)
                    try { Checker.Check(img, new CheckOptions { QgroupReport = true, CheckDataCsum = true }); }
                    catch (Exception ex) { crashes.Add($"check threw {ex.GetType().Name}: {ex.Message}\n{ex.StackTrace}"); }
        }

        // ---- transactions (Filesystem: one commit each) ----
        Try("write new", d => { using var fs = Fs(d, true); fs.Write("lib-new", 0, new byte[9000]); }, true);
        Try("write into", d => { using var fs = Fs(d, true); fs.Write(file, 100, new byte[5000]); }, true);
        Try("mkdir", d => { using var fs = Fs(d, true); fs.Mkdir($"{dir}/lib-dir", parents: true); }, true);
        Try("remove", d => { using var fs = Fs(d, true); fs.Remove(file); }, true);
        Try("rename", d => { using var fs = Fs(d, true); fs.Rename(file, "lib-renamed"); }, true);
        Try("hard link", d => { using var fs = Fs(d, true); fs.HardLink(file, "lib-link"); }, true);
        Try("symlink", d => { using var fs = Fs(d, true); fs.Symlink(file, "lib-sym"); }, true);
        Try("reflink", d => { using var fs = Fs(d, true); fs.Reflink(file, "lib-clone"); }, true);
        Try("xattr", d => { using var fs = Fs(d, true); fs.SetXattr(file, "user.lib", new byte[] { 1, 2, 3 }); }, true);
        Try("subvolume create", d => { using var fs = Fs(d, true); fs.CreateSubvolume("lib-sv"); }, true);
        Try("snapshot", d => { using var fs = Fs(d, true); fs.Snapshot("", "lib-snap"); }, true);
        Try("quota enable", d => { using var fs = Fs(d, true); fs.Run(QuotaAdmin.Enable); }, true);
        Try("quota rescan", d => { using var fs = Fs(d, true); fs.Run(QuotaAdmin.Rescan); }, true);
        // ---- a session: reservations, writeback, delayed refs, one commit at the sync ----
        Try("session", d =>
        {
            using var s = new FsSession(Fs(d, true));
            s.Write("lib-s", 0, new byte[20000]);
            s.Write(file, 4096, new byte[4096]);
            s.Truncate(file, 1);
            s.Mkdir("lib-sd");
            s.Sync();
        }, true);
        // A snapshot commits on its own (as the kernel's does at the next commit): its session is one transaction too.
        Try("session snapshot", d =>
        {
            using var s = new FsSession(Fs(d, true));
            s.Snapshot("", "lib-ssnap");
            s.Sync();
        }, true);

        output.WriteLine($"{name} seed {seed}: {refused.Count} entry points ended in a promised error: {string.Join("; ", refused)}");
        Assert.True(crashes.Count == 0, $"{name} seed {seed}: " + string.Join("\n", crashes));
    }

    /// <summary>A regular file and a directory of the undamaged image (each image has both).</summary>
    private static (string File, string Dir) SamplePaths(string name)
    {
        using var fs = new Filesystem(BtrfsImage.Open(new MemoryBlockDevice((byte[])Base(name).Clone())));
        string? file = null, dir = null;
        void Find(string at, int depth)
        {
            foreach (var (n, info) in fs.List(at))
            {
                string p = at.Length == 0 ? n : at + "/" + n;
                if (info.IsReg) file ??= p;
                else if (info.IsDir && depth < 3) { dir ??= p; Find(p, depth + 1); }
                if (file != null && dir != null) return;
            }
        }
        Find("", 0);
        return (file ?? "missing-file", dir ?? "");
    }

    private static void Walk(Filesystem fs, string dir, int depth)
    {
        if (depth > 6) return;
        foreach (var (name, info) in fs.List(dir).Take(100))
        {
            string path = dir.Length == 0 ? name : dir + "/" + name;
            try
            {
                fs.Stat(path);
                if (info.IsDir) Walk(fs, path, depth + 1);
                else if (info.IsReg && info.Size < (1 << 20)) fs.ReadAll(path);
                else if (info.IsSymlink) fs.ReadLink(path);
            }
            catch (Exception ex) when (Promised(ex)) { } // readers go on where they can: the next entry
        }
    }
}
