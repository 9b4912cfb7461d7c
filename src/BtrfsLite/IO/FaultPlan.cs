namespace BtrfsLite.IO;

/// <summary>
/// Test hook for fault sweeps through whole commands (the CLI run in-process): while <see cref="Current"/> is set on
/// the calling flow, every <see cref="FileBlockDevice"/> write and every extent allocation is counted and logged, and
/// the N-th one fails as a real device or a full disk would. Costs one AsyncLocal read per write and allocation.
/// </summary>
internal sealed class FaultPlan
{
    public static readonly AsyncLocal<FaultPlan?> CurrentSlot = new();
    public static FaultPlan? Current => CurrentSlot.Value;

    /// <summary>1-based number of the device write that fails (0: none). A failed write leaves the device unchanged.</summary>
    public long FailWrite { get; init; }
    /// <summary>1-based number of the allocation (data extent or tree block) that fails with ENOSPC (0: none).</summary>
    public long FailAllocation { get; init; }

    public long Writes { get; private set; }
    public long Allocations { get; private set; }
    /// <summary>Writes that reached the device: (device name, offset, length).</summary>
    public List<(string Device, long Offset, int Length)> Landed { get; } = new();

    public void BeforeWrite(string device, long offset, int length)
    {
        if (++Writes == FailWrite) throw new IOException($"{device}: injected write failure (write #{Writes}, {length} bytes at {offset})");
    }

    public void AfterWrite(string device, long offset, int length) => Landed.Add((device, offset, length));

    public void BeforeAllocation(string what)
    {
        if (++Allocations == FailAllocation) throw new Format.NoSpaceException($"injected allocation failure (allocation #{Allocations}, {what})");
    }
}
