using System.Buffers.Binary;
using System.IO.Hashing;
using System.Numerics;

namespace BtrfsLite.Format;

/// <summary>crc32c as btrfs uses it, and the hashes derived from it.</summary>
public static class Checksums
{
    /// <summary>
    /// Bytes of one crc32c checksum (btrfs_super_block.csum_type 0), per data sector in EXTENT_CSUM items and at the
    /// start of every tree block and superblock.
    /// </summary>
    public const int CsumSize = 4;

    /// <summary>Standard CRC-32C (init and final xor all ones).</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data) =>
        // The hardware crc32c loop is ~2x the generic parameterized CRC here, and needs no JIT of generic code at startup.
        System.Runtime.Intrinsics.X86.Sse42.X64.IsSupported || System.Runtime.Intrinsics.Arm.Crc32.Arm64.IsSupported
            ? ~Crc32CRaw(uint.MaxValue, data)
            : Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, data);

    /// <summary>The kernel's raw crc32c(seed, data): the update loop from register <paramref name="seed"/>, no final xor.</summary>
    public static uint Crc32CRaw(uint seed, ReadOnlySpan<byte> data)
    {
        // The standard CRC is ~raw(~0, data); to start from an arbitrary register we run the
        // hardware-accelerated loop directly. Names are at most 255 bytes: this path is short.
        uint crc = seed;
        int i = 0;
        for (; i + 8 <= data.Length; i += 8)
            crc = (uint)BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
        for (; i < data.Length; i++)
            crc = BitOperations.Crc32C(crc, data[i]);
        return crc;
    }

    /// <summary>btrfs_name_hash: key offset of DIR_ITEM and XATTR_ITEM.</summary>
    public static ulong NameHash(ReadOnlySpan<byte> name) => Crc32CRaw(0xFFFFFFFE, name);

    /// <summary>btrfs_extref_hash: key offset of INODE_EXTREF.</summary>
    public static ulong ExtrefHash(ulong parentIno, ReadOnlySpan<byte> name) => Crc32CRaw((uint)parentIno, name);

    /// <summary>hash_extent_data_ref: key offset of keyed EXTENT_DATA_REF and the inline sort order.</summary>
    public static ulong ExtentDataRefHash(ulong root, ulong objectId, ulong offset)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, root);
        uint high = Crc32CRaw(uint.MaxValue, b);
        BinaryPrimitives.WriteUInt64LittleEndian(b, objectId);
        uint low = Crc32CRaw(uint.MaxValue, b);
        BinaryPrimitives.WriteUInt64LittleEndian(b, offset);
        low = Crc32CRaw(low, b);
        return ((ulong)high << 31) ^ low;
    }

    /// <summary>Checksum of a tree block or superblock: crc32c of bytes 0x20.., stored LE at 0.</summary>
    public static uint BlockCsum(ReadOnlySpan<byte> block) => Crc32C(block[0x20..]);

    /// <summary>
    /// Zeroes the 32-byte csum area of a tree block or superblock and stores <see cref="BlockCsum"/> of the rest there,
    /// little-endian.
    /// </summary>
    public static void StampBlockCsum(Span<byte> block)
    {
        block[..0x20].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(block, BlockCsum(block));
    }

    /// <summary>
    /// Compares the checksum stored little-endian at byte 0 of a tree block or superblock with the crc32c of bytes 0x20
    /// to the end.
    /// </summary>
    /// <returns>True when they are equal; <paramref name="stored"/> and <paramref name="computed"/> are set either
    /// way.</returns>
    public static bool VerifyBlockCsum(ReadOnlySpan<byte> block, out uint stored, out uint computed)
    {
        stored = BinaryPrimitives.ReadUInt32LittleEndian(block);
        computed = BlockCsum(block);
        return stored == computed;
    }
}
