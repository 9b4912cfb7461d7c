using System.IO.Compression;
using System.Text;
using BtrfsLite.Check;
using BtrfsLite.Format;
using BtrfsLite.Fs;
using BtrfsLite.IO;
using BtrfsLite.Images;
using BtrfsLite.Text;
using BtrfsLite.Workloads;

namespace BtrfsLite.Fuzz;

/// <summary>
/// Fuzz targets for afl++ through SharpFuzz. The image targets damage a base image (images/*.img.gz, kept in memory)
/// with the fuzz input read as edits: 8 bytes each, [u32 block selector][u16 offset][u8 value][u8 flags]; the selector
/// picks one of the base image's tree blocks (or the superblock), the byte at the offset is replaced, and flags bit 0
/// re-stamps that block's checksum (checksum-valid damage reaches past the checksum test). Every run starts from the
/// clean base through a copy-on-write overlay. A crash is an exception of a type the library does not promise (typed
/// corruption, unsupported feature, refused operation, I/O): those are expected outcomes and return normally.
///
///   btrfslite-fuzz open|check|dump|ls|write IMAGE.img.gz      (afl++ drives stdin)
///   btrfslite-fuzz workload                                    (the input is a workload text)
///   btrfslite-fuzz --run TARGET [IMAGE.img.gz] FILE...         (replays inputs without afl, for regressions)
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine("usage: btrfslite-fuzz open|check|dump|ls|write IMAGE.img.gz | workload | --run TARGET [IMAGE.img.gz] FILE...");
            return 2;
        }
        bool replay = args[0] == "--run";
        var rest = replay ? args[1..] : args;
        string target = rest[0];
        // Loaded on first use, inside the fuzz loop: instrumented code must not run before SharpFuzz maps afl's map.
        string? basePath = target == "workload" ? null : rest[1];
        Base? loaded = null;
        Base Image() => loaded ??= Base.Load(basePath!);
        Action<byte[]> run = target switch
        {
            "workload" => Workload,
            "open" => input => Open(Image(), input),
            "check" => input => CheckTarget(Image(), input),
            "dump" => input => Dump(Image(), input),
            "ls" => input => Ls(Image(), input),
            "write" => input => Write(Image(), input),
            _ => throw new ArgumentException($"unknown target '{target}'"),
        };
        if (replay)
        {
            int failed = 0;
            foreach (var file in rest[(basePath == null ? 1 : 2)..])
            {
                try { run(File.ReadAllBytes(file)); Console.WriteLine($"ok {file}"); }
                catch (Exception ex) { failed++; Console.WriteLine($"CRASH {file}: {ex.GetType().Name}: {ex.Message}"); if (Environment.GetEnvironmentVariable("FUZZ_TRACE") == "1") Console.WriteLine(ex.StackTrace); }
            }
            return failed == 0 ? 0 : 1;
        }
        SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
        {
            using var ms = new MemoryStream();
            stream.CopyTo(ms);
            run(ms.ToArray());
        });
        return 0;
    }

    /// <summary>What the library promises for bad input: these end a run normally.</summary>
    private static bool Expected(Exception ex) =>
        ex is InvalidDataException or BtrfsUnsupportedException or FsException or NoSpaceException or WorkloadException
        || (ex is IOException && ex is not FileNotFoundException);

    private static void Guard(Action a)
    {
        try { a(); }
        catch (Exception ex) when (Expected(ex)) { }
    }

    private static void Workload(byte[] input) => Guard(() => BtrfsLite.Workloads.Workload.Parse(Encoding.UTF8.GetString(input)));

    private static void Open(Base b, byte[] input) => Guard(() =>
    {
        using var img = BtrfsImage.Open(b.Damaged(input));
        foreach (var (id, _) in img.Roots) img.TryGetRoot(id, out _);
    });

    private static void CheckTarget(Base b, byte[] input)
    {
        // The checker records findings and never throws: any exception but the open's is a crash.
        var dev = b.Damaged(input);
        BtrfsImage img;
        try { img = BtrfsImage.Open(dev, new BtrfsImage.OpenOptions(VerifySuperCsum: false, TreeChecks: false)); }
        catch (Exception ex) when (Expected(ex)) { return; }
        using (img) Checker.Check(img, new CheckOptions { CheckDataCsum = true });
    }

    private static void Dump(Base b, byte[] input) => Guard(() =>
    {
        using var src = DumpSource.Open(b.Damaged(input));
        DumpTreeWriter.Text(src, TextWriter.Null, TextWriter.Null).WriteFilesystem();
    });

    private static void Ls(Base b, byte[] input) => Guard(() =>
    {
        using var fs = new Filesystem(BtrfsImage.Open(b.Damaged(input)));
        Walk(fs, "", 0);
    });

    private static void Walk(Filesystem fs, string dir, int depth)
    {
        if (depth > 8) return;
        foreach (var (name, info) in fs.List(dir).Take(64))
        {
            string path = dir.Length == 0 ? name : dir + "/" + name;
            Guard(() =>
            {
                if (info.IsDir) Walk(fs, path, depth + 1);
                else if (info.IsReg && info.Size < (1 << 20)) fs.ReadAll(path);
                else if (info.IsSymlink) fs.ReadLink(path);
            });
        }
    }

    private static void Write(Base b, byte[] input) => Guard(() =>
    {
        // Damaged QGROUP_INFO numbers are input, not an accounting bug: no verifier here (the tests turn it on everywhere).
        var img = BtrfsImage.Open(b.Damaged(input), new BtrfsImage.OpenOptions(Writable: true) { VerifyAccounting = false });
        using var s = new FsSession(new Filesystem(img));
        s.Write("fuzz-new", 0, new byte[9000]);
        s.Mkdir("fuzz-dir");
        s.Write("dir/file", 100, new byte[5000]);
        s.Sync();
    });

    /// <summary>The base image, decompressed once, with the places the edits may land: its tree blocks and the superblock.</summary>
    private sealed class Base
    {
        private readonly byte[] _data;
        private readonly List<(long Phys, int Length)> _blocks = new();

        private Base(byte[] data)
        {
            _data = data;
            _blocks.Add((Superblock.PrimaryOffset, Superblock.Size));
            using var img = BtrfsImage.Open(new MemoryBlockDevice(data));
            var buf = new byte[img.NodeSize];
            foreach (var chunk in img.Chunks.Chunks)
            {
                if ((chunk.Type & (BlockGroupFlags.Metadata | BlockGroupFlags.System)) == 0) continue;
                for (ulong at = chunk.Logical; at + (ulong)buf.Length <= chunk.End; at += (ulong)buf.Length)
                {
                    img.Nodes.ReadRaw(at, buf);
                    if (!Checksums.VerifyBlockCsum(buf, out _, out _) || new NodeHeader(buf).Bytenr != at) continue;
                    foreach (var phys in chunk.PhysicalStripes) _blocks.Add(((long)(phys + (at - chunk.Logical)), buf.Length));
                }
            }
        }

        public static Base Load(string path)
        {
            using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
            using var ms = new MemoryStream();
            gz.CopyTo(ms);
            return new Base(ms.ToArray());
        }

        public IBlockDevice Damaged(byte[] input)
        {
            var dev = new OverlayBlockDevice(new MemoryBlockDevice(_data));
            var touched = new HashSet<int>();
            for (int i = 0; i + 8 <= input.Length && i < 8 * 64; i += 8)
            {
                int which = (int)(BitConverter.ToUInt32(input, i) % (uint)_blocks.Count);
                var (phys, len) = _blocks[which];
                int off = BitConverter.ToUInt16(input, i + 4) % len;
                dev.Write(new[] { input[i + 6] }, phys + off);
                if ((input[i + 7] & 1) != 0) touched.Add(which);
            }
            foreach (int which in touched)
            {
                var (phys, len) = _blocks[which];
                var buf = new byte[len];
                dev.Read(buf, phys);
                if (which == 0) new Superblock(buf).StampCsum();
                else Checksums.StampBlockCsum(buf);
                dev.Write(buf, phys);
            }
            return dev;
        }
    }
}
