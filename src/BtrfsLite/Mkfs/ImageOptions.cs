using System.Globalization;

namespace BtrfsLite.Mkfs;

/// <summary>Metadata (and system) chunk profile of a new filesystem. Data is always SINGLE.</summary>
public enum MetadataProfile
{
    /// <summary>Metadata and system chunks have one copy (mkfs.btrfs -m single).</summary>
    Single,
    /// <summary>Two copies on the one device (mkfs.btrfs -m dup); the system chunk is DUP as well.</summary>
    Dup,
}

/// <summary>What <see cref="ImageBuilder.Create"/> makes: mkfs.btrfs options without --rootdir.</summary>
public sealed record ImageOptions
{
    /// <summary>Smallest filesystem accepted (btrfs' practical minimum for a single-device image).</summary>
    public const long MinimumSize = 128L << 20;

    /// <summary>Filesystem size in bytes; null = the whole device. Rounded down to the sector size.</summary>
    public long? Size { get; init; }
    /// <summary>Label, at most 255 UTF-8 bytes, no newline.</summary>
    public string Label { get; init; } = "";
    /// <summary>Filesystem uuid; null = random (or from <see cref="Seed"/> when deterministic).</summary>
    public Guid? Fsid { get; init; }
    /// <summary>Tree block size: a power of two in [sectorsize, 65536].</summary>
    public int NodeSize { get; init; } = 16384;
    /// <summary>4096, or the page size of this machine.</summary>
    public int SectorSize { get; init; } = 4096;
    /// <summary>Enable quotas (quota tree, qgroup 0/5), like mkfs.btrfs -R quota (6.2) / -O quota.</summary>
    public bool Quota { get; init; }
    /// <summary>Free space tree (compat_ro FREE_SPACE_TREE + VALID); without it the kernel uses the v1 space cache.</summary>
    public bool FreeSpaceTree { get; init; } = true;
    /// <summary>The metadata and system chunk profile (data is always SINGLE).</summary>
    public MetadataProfile MetadataProfile { get; init; } = MetadataProfile.Single;
    /// <summary>
    /// Every uuid (fsid unless given, device, chunk tree, fs tree) comes from a generator seeded with <see cref="Seed"/>,
    /// and times default to SOURCE_DATE_EPOCH (or 0): the same options give a byte-identical image.
    /// </summary>
    public bool Deterministic { get; init; }
    /// <summary>Seed of the deterministic uuid generator.</summary>
    public string Seed { get; init; } = "btrfslite";
    /// <summary>Every timestamp (inodes, fs tree ROOT_ITEM times); null = SOURCE_DATE_EPOCH if set, else 0 when deterministic, else now.</summary>
    public DateTimeOffset? Time { get; init; }

    /// <summary>SOURCE_DATE_EPOCH as a time, or null when unset; a malformed value is an error (named).</summary>
    public static DateTimeOffset? SourceDateEpoch()
    {
        var s = Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH");
        if (string.IsNullOrWhiteSpace(s)) return null;
        if (!long.TryParse(s.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long sec))
            throw new ArgumentException($"SOURCE_DATE_EPOCH '{s}' is not a number of seconds since 1970");
        return DateTimeOffset.FromUnixTimeSeconds(sec);
    }

    internal DateTimeOffset ResolveTime() =>
        Time ?? SourceDateEpoch() ?? (Deterministic ? DateTimeOffset.UnixEpoch : DateTimeOffset.UtcNow);

    /// <summary>Parses "128M", "1G", "4096", "2T" (powers of 1024; K/M/G/T/P/E, optional "iB"/"B").</summary>
    public static long ParseSize(string text)
    {
        var s = text.Trim();
        if (s.EndsWith("iB", StringComparison.OrdinalIgnoreCase)) s = s[..^2];
        else if (s.Length > 1 && char.IsLetter(s[^2]) && (s[^1] == 'B' || s[^1] == 'b')) s = s[..^1];
        int shift = 0;
        if (s.Length > 0 && char.IsLetter(s[^1]))
        {
            shift = char.ToUpperInvariant(s[^1]) switch
            {
                'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, 'P' => 50, 'E' => 60,
                _ => throw new ArgumentException($"size '{text}': unknown suffix '{s[^1]}' (use K, M, G, T)"),
            };
            s = s[..^1];
        }
        if (!ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out ulong n))
            throw new ArgumentException($"size '{text}' is not a number with an optional K/M/G/T suffix");
        if (n == 0) throw new ArgumentException($"size '{text}' is zero");
        if (shift > 0 && n > (ulong)(long.MaxValue >> shift))
            throw new ArgumentException($"size '{text}' is too large");
        if (n > (ulong)long.MaxValue) throw new ArgumentException($"size '{text}' is too large");
        return (long)n << shift;
    }
}
