using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace BtrfsLite.Format;

/// <summary>Little-endian field access at a byte offset; every on-disk integer goes through here.</summary>
internal static class Le
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong U64(ReadOnlySpan<byte> b, int off) => BinaryPrimitives.ReadUInt64LittleEndian(b[off..]);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint U32(ReadOnlySpan<byte> b, int off) => BinaryPrimitives.ReadUInt32LittleEndian(b[off..]);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort U16(ReadOnlySpan<byte> b, int off) => BinaryPrimitives.ReadUInt16LittleEndian(b[off..]);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void U64(Span<byte> b, int off, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(b[off..], v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void U32(Span<byte> b, int off, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b[off..], v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void U16(Span<byte> b, int off, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(b[off..], v);

    public static Guid Uuid(ReadOnlySpan<byte> b, int off) => new(b.Slice(off, 16), bigEndian: true);
    public static void Uuid(Span<byte> b, int off, Guid g)
    {
        if (!g.TryWriteBytes(b.Slice(off, 16), bigEndian: true, out _)) throw new ArgumentException("uuid");
    }
}

/// <summary>btrfs_timespec: sec u64 (signed), nsec u32 — 12 bytes.</summary>
/// <param name="Sec">btrfs_timespec.sec: seconds since the Unix epoch.</param>
/// <param name="Nsec">btrfs_timespec.nsec: nanoseconds within the second.</param>
public readonly record struct Timespec(long Sec, uint Nsec)
{
    /// <summary>Bytes of a btrfs_timespec on disk: 12.</summary>
    public const int Size = 12;
    /// <summary>Reads a btrfs_timespec: sec at 0 (u64, read as signed), nsec at 8 (u32), little-endian.</summary>
    public static Timespec Read(ReadOnlySpan<byte> b) => new((long)Le.U64(b, 0), Le.U32(b, 8));
    /// <summary>Writes the btrfs_timespec into the first 12 bytes of <paramref name="b"/>, little-endian.</summary>
    public void Write(Span<byte> b) { Le.U64(b, 0, (ulong)Sec); Le.U32(b, 8, Nsec); }
    /// <summary>
    /// The btrfs_timespec of an instant: seconds since the Unix epoch (floored, so negative before 1970) and
    /// nanoseconds (100 ns resolution).
    /// </summary>
    public static Timespec FromDateTimeOffset(DateTimeOffset t)
    {
        long ticks = t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        long sec = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rem);
        if (rem < 0) { sec--; rem += TimeSpan.TicksPerSecond; }
        return new(sec, (uint)(rem * 100));
    }
}
