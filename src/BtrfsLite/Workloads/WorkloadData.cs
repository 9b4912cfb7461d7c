using System.Buffers.Binary;
using System.Collections.Concurrent;

namespace BtrfsLite.Workloads;

/// <summary>
/// The bytes a <c>write PATH OFF LEN SEED</c> step writes: byte i of the write is B[i mod 1 MiB], B being the
/// little-endian SplitMix64(seed + w) for w = 0..131071. The kernel harness (tools/kernel-replay.py) writes the same.
/// </summary>
public static class WorkloadData
{
    /// <summary>Bytes of the repeating block of a seed: 1 MiB.</summary>
    public const int BlockSize = 1 << 20;
    private static readonly ConcurrentDictionary<ulong, byte[]> Blocks = new();

    /// <summary>
    /// The SplitMix64 output for state <paramref name="x"/>: x plus 0x9E3779B97F4A7C15, then its mixing steps.
    /// </summary>
    public static ulong SplitMix64(ulong x)
    {
        ulong z = unchecked(x + 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }

    /// <summary>The 1 MiB block of a seed (null seed: zeros).</summary>
    public static byte[] Block(ulong? seed) => Blocks.GetOrAdd(seed ?? ulong.MaxValue, _ =>
    {
        var b = new byte[BlockSize];
        if (seed is ulong s)
            for (int w = 0; w < BlockSize / 8; w++) BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(w * 8), SplitMix64(unchecked(s + (ulong)w)));
        return b;
    });
}
