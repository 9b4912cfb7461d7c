namespace BtrfsLite.Check;

/// <summary>What a check does (btrfs check's options).</summary>
public sealed record CheckOptions
{
    /// <summary>Only verify qgroups (btrfs check --qgroup-report); other phases still run to find the data they need.</summary>
    public bool QgroupReport { get; init; }
    /// <summary>Read every data sector and verify its crc32c against the csum tree.</summary>
    public bool CheckDataCsum { get; init; }
    /// <summary>Called when a phase starts: (index, total, name). The CLI prints "[i/n] name" on stderr.</summary>
    public Action<int, int, string>? OnPhase { get; init; }
    /// <summary>Wait for a writer's lock on the image instead of failing with <see cref="Format.ImageInUseException"/>.</summary>
    public bool Wait { get; init; }
    /// <summary>Check an image that a mounted file system uses (btrfs check --force): the result may be inconsistent.</summary>
    public bool AllowMounted { get; init; }
}
