using BtrfsLite.Format;
using BtrfsLite.Images;

namespace BtrfsLite.Check;

/// <summary>
/// Phase "checking superblock": the primary copy's checksum, magic, flags and sizes (kernel validate_super rules),
/// features outside the subset (named), generations, the DEV_ITEM copy, and every mirror that fits the device (same
/// bytes as the primary except bytenr and csum).
/// </summary>
internal static class SuperblockChecker
{
    // btrfs-image dumps (METADUMP, METADUMP_V2) read like any image, as btrfs check reads them.
    private const ulong KnownFlags = NodeHeader.FlagWritten | NodeHeader.FlagReloc | Superblock.FlagMetadump | Superblock.FlagMetadumpV2;

    public static void Run(CheckContext ctx)
    {
        var img = ctx.Image;
        var report = ctx.Report;
        var primary = new byte[Superblock.Size];
        long devLen = img.Device.Length;
        const ulong at = (ulong)Superblock.PrimaryOffset;
        try
        {
            img.Device.Read(primary, Superblock.PrimaryOffset);
        }
        catch (IOException ex)
        {
            report.Add(FindingCode.SuperInvalidField, 0, at, -1, $"cannot read the primary superblock: {ex.Message}");
            return;
        }
        var sb = new Superblock(primary);
        void Bad(FindingCode code, string msg) => report.Add(code, 0, at, -1, "superblock: " + msg);

        if (!sb.CsumMatches(out uint stored, out uint computed))
            Bad(FindingCode.SuperCsumMismatch, $"checksum mismatch, stored 0x{stored:x8} computed 0x{computed:x8}");
        if (sb.Magic != Superblock.MagicValue) Bad(FindingCode.SuperInvalidField, $"bad magic 0x{sb.Magic:x16}");
        if (sb.Bytenr != at) Bad(FindingCode.SuperInvalidField, $"bytenr {sb.Bytenr} is not its offset {at}");
        if ((sb.Flags & ~KnownFlags) != 0) Bad(FindingCode.SuperInvalidField, $"unsupported flags 0x{sb.Flags & ~KnownFlags:x} (ERROR, SEEDING or CHANGING_FSID)");
        if (sb.CsumType != 0) Bad(FindingCode.SuperUnsupportedFeature, $"checksum type {BtrfsImage.CsumTypeName(sb.CsumType)} is not supported");
        foreach (var f in SupportedFeatures.Unsupported(sb.IncompatFlags, sb.CompatRoFlags, sb.CompatFlags))
            Bad(FindingCode.SuperUnsupportedFeature, $"unsupported feature {f}");
        if ((sb.IncompatFlags & IncompatFlags.MixedBackref) == 0) Bad(FindingCode.SuperInvalidField, "incompat MIXED_BACKREF is not set");
        bool fst = (sb.CompatRoFlags & CompatRoFlags.FreeSpaceTree) != 0, fstValid = (sb.CompatRoFlags & CompatRoFlags.FreeSpaceTreeValid) != 0;
        if (fst != fstValid) Bad(FindingCode.SuperInvalidField, $"compat_ro FREE_SPACE_TREE {(fst ? "set" : "clear")} but FREE_SPACE_TREE_VALID {(fstValid ? "set" : "clear")}");
        if (sb.NumDevices != 1) Bad(FindingCode.SuperUnsupportedFeature, $"num_devices {sb.NumDevices}; only single-device filesystems are supported");

        uint ss = sb.SectorSize, ns = sb.NodeSize;
        bool sizesOk = true;
        if (ss < 4096 || ss > 65536 || !IsPow2(ss)) { Bad(FindingCode.SuperInvalidField, $"invalid sectorsize {ss}"); sizesOk = false; }
        if (ns < ss || ns > 65536 || !IsPow2(ns)) { Bad(FindingCode.SuperInvalidField, $"invalid nodesize {ns}"); sizesOk = false; }
        if (sb.LeafSize != ns) Bad(FindingCode.SuperInvalidField, $"leafsize {sb.LeafSize} != nodesize {ns}");
        if (!IsPow2(sb.StripeSize)) Bad(FindingCode.SuperInvalidField, $"invalid stripesize {sb.StripeSize}");
        if (sizesOk)
        {
            if (sb.Root % ss != 0) Bad(FindingCode.SuperInvalidField, $"root {sb.Root} is not aligned to sectorsize {ss}");
            if (sb.ChunkRoot % ss != 0) Bad(FindingCode.SuperInvalidField, $"chunk_root {sb.ChunkRoot} is not aligned to sectorsize {ss}");
            if (sb.LogRoot % ss != 0) Bad(FindingCode.SuperInvalidField, $"log_root {sb.LogRoot} is not aligned to sectorsize {ss}");
            if (sb.TotalBytes % ss != 0) Bad(FindingCode.SuperTotalBytesInvalid, $"total_bytes {sb.TotalBytes} is not aligned to sectorsize {ss}");
            if (sb.BytesUsed < 6UL * ns) Bad(FindingCode.SuperBytesUsedMismatch, $"bytes_used {sb.BytesUsed} is below the minimum 6 x nodesize = {6UL * ns}");
        }
        if (sb.RootLevel >= NodeHeader.MaxLevel) Bad(FindingCode.SuperInvalidField, $"root_level {sb.RootLevel} is out of range");
        if (sb.ChunkRootLevel >= NodeHeader.MaxLevel) Bad(FindingCode.SuperInvalidField, $"chunk_root_level {sb.ChunkRootLevel} is out of range");
        if (sb.LogRootLevel >= NodeHeader.MaxLevel) Bad(FindingCode.SuperInvalidField, $"log_root_level {sb.LogRootLevel} is out of range");
        if (sb.SysChunkArraySize > Superblock.SysChunkArrayMax || sb.SysChunkArraySize < Key.Size + ChunkItem.SizeWith(1))
            Bad(FindingCode.SuperInvalidField, $"sys_chunk_array_size {sb.SysChunkArraySize} out of range [{Key.Size + ChunkItem.SizeWith(1)}, {Superblock.SysChunkArrayMax}]");
        if (sb.Generation < sb.ChunkRootGeneration)
            Bad(FindingCode.SuperGenerationMismatch, $"chunk_root_generation {sb.ChunkRootGeneration} is newer than generation {sb.Generation}");
        if (fst && sb.CacheGeneration != 0 && sb.CacheGeneration != ulong.MaxValue && sb.CacheGeneration > sb.Generation)
            Bad(FindingCode.SuperGenerationMismatch, $"cache_generation {sb.CacheGeneration} is newer than generation {sb.Generation}");
        if (sb.LogRoot == 0 && sb.LogRootTransid != 0) Bad(FindingCode.SuperInvalidField, $"log_root_transid {sb.LogRootTransid} without a log root");

        // The DEV_ITEM copy.
        var dev = sb.DevItem;
        bool metadataUuid = (sb.IncompatFlags & IncompatFlags.MetadataUuid) != 0;
        if (!metadataUuid && dev.Fsid != sb.Fsid) Bad(FindingCode.SuperInvalidField, $"dev_item fsid {dev.Fsid} != fsid {sb.Fsid}");
        // Any device id: a file system left on device 2 after a device add and remove is single-device all the same.
        if (dev.DevId == 0) Bad(FindingCode.SuperInvalidField, "dev_item devid is 0");
        if (dev.BytesUsed > dev.TotalBytes) Bad(FindingCode.DevItemBytesUsedMismatch, $"dev_item bytes_used {dev.BytesUsed} > total_bytes {dev.TotalBytes}");
        if ((long)Math.Min(dev.TotalBytes, long.MaxValue) > devLen)
            Bad(FindingCode.SuperTotalBytesInvalid, $"dev_item total_bytes {dev.TotalBytes} is larger than the device ({devLen} bytes)");
        if (sb.TotalBytes < dev.TotalBytes)
            Bad(FindingCode.SuperTotalBytesInvalid, $"total_bytes {sb.TotalBytes} is smaller than dev_item total_bytes {dev.TotalBytes}");
        if ((long)Math.Min(sb.TotalBytes, long.MaxValue) > devLen)
            Bad(FindingCode.SuperTotalBytesInvalid, $"total_bytes {sb.TotalBytes} is larger than the device ({devLen} bytes)");
        if (sb.LogRoot != 0) report.Notes.Add($"superblock has a log tree at {sb.LogRoot}: the kernel replays it at mount");

        CheckMirrors(img, report, primary, devLen);
    }

    private static void CheckMirrors(BtrfsImage img, CheckReport report, byte[] primary, long devLen)
    {
        var mirror = new byte[Superblock.Size];
        for (int i = 1; i < 3; i++)
        {
            long off = Superblock.MirrorOffset(i);
            if (off + Superblock.Size > devLen) break;
            try { img.Device.Read(mirror, off); }
            catch (IOException ex)
            {
                report.Add(FindingCode.SuperMirrorMismatch, 0, (ulong)off, -1, $"superblock mirror {i} at {off}: cannot read: {ex.Message}");
                continue;
            }
            var m = new Superblock(mirror);
            if (m.Magic != Superblock.MagicValue)
            {
                // An image without mirrors is valid (kernel and btrfs check read the primary); say so.
                report.Notes.Add($"superblock mirror {i} at {off} is absent (no magic)");
                continue;
            }
            bool csumOk = m.CsumMatches(out uint stored, out uint computed);
            if (!csumOk)
                report.Add(FindingCode.SuperMirrorMismatch, 0, (ulong)off, -1, $"superblock mirror {i} at {off}: checksum mismatch, stored 0x{stored:x8} computed 0x{computed:x8}");
            if (m.Bytenr != (ulong)off)
                report.Add(FindingCode.SuperMirrorMismatch, 0, (ulong)off, -1, $"superblock mirror {i} at {off}: bytenr {m.Bytenr} is not its offset");
            var p = new Superblock(primary);
            if (csumOk && m.Bytenr == (ulong)off && m.Fsid == p.Fsid && m.Generation < p.Generation)
            {
                // Mirrors are written after the primary (the commit point): power lost in between leaves an intact
                // older mirror. That is a crash's normal state, not damage; the next commit rewrites it.
                report.Notes.Add($"superblock mirror {i} at {off} is at generation {m.Generation}, older than the primary's {p.Generation} (a commit was interrupted after its primary superblock)");
                continue;
            }
            int diff = FirstDifference(primary, mirror);
            if (diff >= 0)
                report.Add(FindingCode.SuperMirrorMismatch, 0, (ulong)off, -1,
                    $"superblock mirror {i} at {off} differs from the primary at byte 0x{diff:x} (mirror generation {m.Generation}, primary {new Superblock(primary).Generation})");
        }
    }

    /// <summary>
    /// First differing byte, ignoring csum (0x00..0x1F), bytenr (0x30..0x37) and the log tree fields (log_root,
    /// log_root_transid, log_root_level): an fsync's log commit rewrites only the primary, so after a crash (or a
    /// copy) mirrors differ there legitimately, as btrfs check accepts. -1 when equal.
    /// </summary>
    private static int FirstDifference(byte[] a, byte[] b)
    {
        var x = a.AsSpan(0, Superblock.Size).ToArray();
        var y = b.AsSpan(0, Superblock.Size).ToArray();
        foreach (var buf in new[] { x, y })
        {
            buf.AsSpan(0, 0x20).Clear();
            buf.AsSpan(Superblock.Offsets.Bytenr, 8).Clear();
            buf.AsSpan(Superblock.Offsets.LogRoot, 16).Clear(); // log_root, log_root_transid
            buf[Superblock.Offsets.LogRootLevel] = 0;
        }
        int d = x.AsSpan().CommonPrefixLength(y);
        return d < x.Length ? d : -1;
    }

    private static bool IsPow2(uint v) => v != 0 && (v & (v - 1)) == 0;
}
