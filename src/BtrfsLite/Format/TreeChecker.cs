namespace BtrfsLite.Format;

/// <summary>
/// Item rules of the kernel's tree-checker (fs/btrfs/tree-checker.c, check_leaf_item and the key checks): what every
/// leaf read for use must hold before anything trusts an item's bytes. Each returns null when the item is sound, else
/// what is wrong; the caller adds the location. Only rules the kernel enforces on read are here, so an image Linux
/// mounts passes.
/// </summary>
public static class TreeChecker
{
    /// <summary>The superblock's generation (items may carry one more: the running transaction) and the sector size.</summary>
    /// <param name="SuperGeneration">The superblock's generation.</param>
    /// <param name="SectorSize">The sector size in bytes.</param>
    public readonly record struct Context(ulong SuperGeneration, uint SectorSize);

    // S_IFMT | S_IALLUGO (07777): any other mode bit is junk.
    private const uint ModeBits = InodeItem.SIfMt | 0xFFF;
    // BTRFS_INODE_FLAG_MASK: the flags of Features.InodeFlags (incl. ROOT_ITEM_INIT); the high 32 bits are RO compat
    // flags, of which only VERITY (bit 0 there) exists.
    private const ulong InodeFlagMask = 0xFFF | 0x80000000UL;
    private const ulong InodeRoFlagMask = 1UL << 32;
    private const ulong RootRdonly = 1, RootSubvolDead = 1UL << 48;

    /// <summary>Checks one leaf item against the kernel's read-time rules for its key type.</summary>
    /// <returns>Null when the item is sound or its type has no rules here; else what is wrong, without the
    /// location.</returns>
    public static string? CheckItem(in Key key, ReadOnlySpan<byte> d, in Context c) => key.Type switch
    {
        ItemType.InodeItem => CheckInode(key, d, c),
        ItemType.ExtentData => CheckFileExtent(key, d, c),
        ItemType.ExtentCsum => key.ObjectId != ObjectIds.ExtentCsum ? $"invalid csum item objectid {(long)key.ObjectId}"
            : key.Offset % c.SectorSize != 0 ? $"unaligned csum key offset {key.Offset}"
            : d.Length % Checksums.CsumSize != 0 ? $"unaligned csum item size {d.Length}" : null,
        ItemType.DirItem or ItemType.DirIndex or ItemType.XattrItem => CheckDirItems(key, d),
        ItemType.InodeRef => CheckInodeRefs(d),
        ItemType.RootItem => CheckRootItem(key, d, c),
        ItemType.RootRef or ItemType.RootBackref => d.Length < 18 || d.Length != 18 + Le.U16(d, 16) ? $"invalid root ref item size {d.Length}" : null,
        ItemType.ExtentItem or ItemType.MetadataItem => CheckExtentItem(key, d, c),
        ItemType.TreeBlockRef or ItemType.SharedBlockRef => d.Length != 0 ? $"invalid {key.Type} item size {d.Length}, expect 0" : null,
        ItemType.ExtentDataRef => d.Length != ExtentDataRef.Size ? $"invalid extent data ref item size {d.Length}" : null,
        ItemType.SharedDataRef => d.Length != SharedDataRef.Size ? $"invalid shared data ref item size {d.Length}" : null,
        ItemType.BlockGroupItem => CheckBlockGroup(key, d),
        ItemType.ChunkItem => CheckChunk(key, d, c),
        ItemType.DevExtent => d.Length != 48 ? $"invalid dev extent item size {d.Length}, expect 48" : null,
        ItemType.DevItem => key.ObjectId == ObjectIds.DevItems && d.Length != 98 ? $"invalid dev item size {d.Length}, expect 98" : null,
        ItemType.FreeSpaceInfo => d.Length != 8 ? $"invalid free space info size {d.Length}" : null,
        ItemType.FreeSpaceExtent => d.Length != 0 ? $"invalid free space extent size {d.Length}" : null,
        ItemType.QgroupInfo => d.Length != QgroupInfoItem.Size ? $"invalid qgroup info size {d.Length}" : null,
        ItemType.QgroupLimit => d.Length != QgroupLimitItem.Size ? $"invalid qgroup limit size {d.Length}" : null,
        ItemType.QgroupStatus => d.Length != QgroupStatusItem.Size && d.Length != QgroupStatusItem.SizeWithEnableGen ? $"invalid qgroup status size {d.Length}" : null,
        ItemType.UuidKeySubvol or ItemType.UuidKeyReceivedSubvol => d.Length == 0 || d.Length % 8 != 0 ? $"invalid uuid item size {d.Length}" : null,
        _ => null,
    };

    private static string? CheckInode(in Key key, ReadOnlySpan<byte> d, in Context c)
    {
        if (key.Offset != 0) return $"invalid inode key offset {key.Offset}, expect 0";
        if (d.Length != InodeItem.Size) return $"invalid inode item size {d.Length}, expect {InodeItem.Size}";
        ulong gen = Le.U64(d, InodeItem.Offsets.Generation), transid = Le.U64(d, InodeItem.Offsets.Transid);
        if (gen > c.SuperGeneration + 1) return $"invalid inode generation: has {gen} expect (0, {c.SuperGeneration + 1}]";
        if (transid > c.SuperGeneration + 1) return $"invalid inode transid: has {transid} expect [0, {c.SuperGeneration + 1}]";
        uint mode = Le.U32(d, InodeItem.Offsets.Mode);
        if ((mode & ~ModeBits) != 0) return $"unknown mode bit detected: 0{Convert.ToString(mode & ~ModeBits, 8)}";
        if (InodeItem.TypeFromMode(mode) == DirEntryType.Unknown) return $"invalid mode: has 0{Convert.ToString(mode & InodeItem.SIfMt, 8)}";
        if ((mode & InodeItem.SIfMt) == InodeItem.SIfDir && Le.U32(d, InodeItem.Offsets.NLink) > 1)
            return $"invalid nlink: has {Le.U32(d, InodeItem.Offsets.NLink)} expect no more than 1 for dir";
        ulong flags = Le.U64(d, InodeItem.Offsets.Flags);
        if ((flags & 0xFFFFFFFFUL & ~InodeFlagMask) != 0) return $"unknown incompat flags detected: 0x{flags & 0xFFFFFFFFUL & ~InodeFlagMask:x}";
        if ((flags & ~0xFFFFFFFFUL & ~InodeRoFlagMask) != 0) return $"unknown ro-compat flags detected: 0x{(flags >> 32) & ~1UL:x}";
        return null;
    }

    private static string? CheckFileExtent(in Key key, ReadOnlySpan<byte> d, in Context c)
    {
        if (key.Offset % c.SectorSize != 0) return $"unaligned file_offset for file extent, have {key.Offset} should be aligned to {c.SectorSize}";
        if (d.Length < FileExtentItem.HeaderSize) return $"invalid file extent item size, have {d.Length} expect [{FileExtentItem.HeaderSize}, ...)";
        byte type = d[20], compression = d[16];
        if (type > (byte)FileExtentType.Prealloc) return $"invalid type for file extent, have {type} expect range [0, 2]";
        if (compression > 3) return $"invalid compression for file extent, have {compression} expect range [0, 3]";
        if (d[17] != 0) return $"invalid encryption for file extent, have {d[17]} expect 0";
        if (type == (byte)FileExtentType.Inline)
        {
            ulong ram = Le.U64(d, 8);
            if (compression == 0 && (ulong)d.Length != (ulong)FileExtentItem.HeaderSize + ram)
                return $"invalid ram_bytes for uncompressed inline extent, have {d.Length - FileExtentItem.HeaderSize} expect {ram}";
            return null;
        }
        if (d.Length != FileExtentItem.Size) return $"invalid item size for reg/prealloc file extent, have {d.Length} expect {FileExtentItem.Size}";
        for (int off = 21; off <= 45; off += 8)
            if (Le.U64(d, off) % c.SectorSize != 0) return $"unaligned file extent field at {off}: {Le.U64(d, off)} should be aligned to {c.SectorSize}";
        return null;
    }

    private static string? CheckDirItems(in Key key, ReadOnlySpan<byte> d)
    {
        int pos = 0, count = 0;
        while (pos < d.Length)
        {
            if (d.Length - pos < DirEntry.HeaderSize) return $"dir item header too short: {d.Length - pos} < {DirEntry.HeaderSize}";
            var h = d[pos..];
            byte ft = h[DirEntry.Offsets.Type];
            int nameLen = Le.U16(h, DirEntry.Offsets.NameLen), dataLen = Le.U16(h, DirEntry.Offsets.DataLen);
            if (ft == 0 || ft > (byte)DirEntryType.Xattr) return $"invalid dir item type {ft}";
            if ((key.Type == ItemType.XattrItem) != (ft == (byte)DirEntryType.Xattr))
                return key.Type == ItemType.XattrItem ? $"invalid dir item type for XATTR key, have {ft} expect {(byte)DirEntryType.Xattr}" : "xattr dir type found for non-XATTR key";
            if (ft != (byte)DirEntryType.Xattr && dataLen != 0) return $"dir item data_len {dataLen} for a non-xattr entry";
            if (nameLen > 255) return $"invalid dir item name len {nameLen}";
            if (DirEntry.HeaderSize + nameLen + dataLen > d.Length - pos) return $"invalid dir item name/data len: name {nameLen} data {dataLen} past the item end";
            if (key.Type != ItemType.DirIndex && Checksums.NameHash(h.Slice(DirEntry.HeaderSize, nameLen)) != key.Offset)
                return $"name hash mismatch with key, have 0x{Checksums.NameHash(h.Slice(DirEntry.HeaderSize, nameLen)):x16} expect 0x{key.Offset:x16}";
            pos += DirEntry.HeaderSize + nameLen + dataLen;
            count++;
        }
        if (key.Type == ItemType.DirIndex && count > 1) return $"dir index item holds {count} entries, expect 1";
        return null;
    }

    private static string? CheckInodeRefs(ReadOnlySpan<byte> d)
    {
        // A name is never empty, so an item of the header size or less is invalid.
        if (d.Length <= InodeRefEntry.HeaderSize) return $"invalid inode ref item size {d.Length}";
        int pos = 0;
        while (pos < d.Length)
        {
            if (d.Length - pos < InodeRefEntry.HeaderSize) return $"inode ref header too short: {d.Length - pos}";
            int nameLen = Le.U16(d, pos + 8);
            if (pos + InodeRefEntry.HeaderSize + nameLen > d.Length) return $"inode ref name len {nameLen} past the item end";
            pos += InodeRefEntry.HeaderSize + nameLen;
        }
        return null;
    }

    private static string? CheckRootItem(in Key key, ReadOnlySpan<byte> d, in Context c)
    {
        // check_root_key: a relocation tree's offset names the subvolume it relocates. Besides those, only subvolume
        // trees (the snapshot's transid) and log trees (in the log root tree: the subvolume logged) carry a nonzero
        // offset; btrfs check flags it on the global trees.
        if (key.ObjectId == ObjectIds.TreeReloc && !ObjectIds.IsFsTree(key.Offset))
            return $"invalid reloc tree for root {(long)key.Offset}, root id is not a subvolume tree";
        if (key.Offset != 0 && !ObjectIds.IsFsTree(key.ObjectId) && key.ObjectId is not (ObjectIds.TreeReloc or ObjectIds.TreeLog))
            return $"invalid root key offset {key.Offset} for root {(long)key.ObjectId}, expect 0";
        if (d.Length != RootItem.Size && d.Length != RootItem.LegacySize)
            return $"invalid root item size, have {d.Length} expect {RootItem.Size} or {RootItem.LegacySize}";
        var ri = d.Length == RootItem.Size ? d : default;
        ulong gen = Le.U64(d, RootItem.Offsets.Generation);
        if (gen > c.SuperGeneration + 1) return $"invalid root generation, have {gen} expect (0, {c.SuperGeneration + 1}]";
        byte level = d[RootItem.Offsets.Level];
        if (level >= NodeHeader.MaxLevel) return $"invalid root level, have {level} expect [0, {NodeHeader.MaxLevel - 1}]";
        if (Le.U64(d, RootItem.Offsets.Bytenr) % c.SectorSize != 0) return $"invalid root bytenr {Le.U64(d, RootItem.Offsets.Bytenr)}, not sector aligned";
        ulong flags = Le.U64(d, RootItem.Offsets.Flags);
        if ((flags & ~(RootRdonly | RootSubvolDead)) != 0) return $"invalid root flags 0x{flags:x}";
        if (!ri.IsEmpty && Le.U64(ri, RootItem.Offsets.GenerationV2) > c.SuperGeneration + 1)
            return $"invalid root generation_v2 {Le.U64(ri, RootItem.Offsets.GenerationV2)}";
        if (Le.U64(d, RootItem.Offsets.LastSnapshot) > c.SuperGeneration + 1)
            return $"invalid root last_snapshot {Le.U64(d, RootItem.Offsets.LastSnapshot)} expect [0, {c.SuperGeneration + 1}]";
        if (d[RootItem.Offsets.DropLevel] >= NodeHeader.MaxLevel) return $"invalid root drop_level {d[RootItem.Offsets.DropLevel]}";
        return null;
    }

    private static string? CheckExtentItem(in Key key, ReadOnlySpan<byte> d, in Context c)
    {
        if (key.ObjectId % c.SectorSize != 0) return $"invalid extent bytenr {key.ObjectId}, not sector aligned";
        if (key.Type == ItemType.MetadataItem && key.Offset >= NodeHeader.MaxLevel) return $"invalid tree level, have {key.Offset} expect [0, {NodeHeader.MaxLevel - 1}]";
        if (key.Type == ItemType.ExtentItem && (key.Offset == 0 || key.Offset % c.SectorSize != 0)) return $"invalid extent length {key.Offset}";
        if (d.Length < ExtentItem.Size) return $"invalid extent item size, have {d.Length} expect [{ExtentItem.Size}, ...)";
        ulong refs = Le.U64(d, ExtentItem.Offsets.Refs);
        var flags = (ExtentFlags)Le.U64(d, ExtentItem.Offsets.Flags);
        bool data = (flags & ExtentFlags.Data) != 0, tree = (flags & ExtentFlags.TreeBlock) != 0;
        if (data == tree) return $"invalid extent flags 0x{(ulong)flags:x}: exactly one of DATA and TREE_BLOCK";
        if (data && (flags & ExtentFlags.FullBackref) != 0) return "FULL_BACKREF on a data extent";
        if (key.Type == ItemType.MetadataItem && !tree) return "METADATA_ITEM without TREE_BLOCK";
        if (refs == 0) return "extent item with 0 refs";
        int pos = ExtentItem.InlineRefStart(key.Type, flags);
        if (pos > d.Length) return $"extent item too short for its tree block info: {d.Length}";
        ulong inlineRefs = 0;
        while (pos < d.Length)
        {
            var t = (ItemType)d[pos];
            int size = t switch
            {
                ItemType.TreeBlockRef or ItemType.SharedBlockRef => 1 + 8,
                ItemType.ExtentDataRef => 1 + ExtentDataRef.Size,
                ItemType.SharedDataRef => 1 + 8 + SharedDataRef.Size,
                ItemType.ExtentOwnerRef => 1 + 8,
                _ => 0,
            };
            if (size == 0) return $"unknown inline ref type {(byte)t} at offset {pos}";
            if (tree != (t is ItemType.TreeBlockRef or ItemType.SharedBlockRef) && t != ItemType.ExtentOwnerRef)
                return $"inline ref type {t} does not match the extent's flags";
            if (pos + size > d.Length) return $"inline ref of type {t} at {pos} runs past the item end {d.Length}";
            inlineRefs += t switch
            {
                ItemType.ExtentDataRef => Le.U32(d, pos + 1 + ExtentDataRef.Offsets.Count),
                ItemType.SharedDataRef => Le.U32(d, pos + 1 + 8),
                ItemType.ExtentOwnerRef => 0,
                _ => 1,
            };
            pos += size;
        }
        if (inlineRefs > refs) return $"invalid extent refs, have {refs} expect >= inline {inlineRefs}";
        return null;
    }

    private static string? CheckBlockGroup(in Key key, ReadOnlySpan<byte> d)
    {
        if (d.Length != 24) return $"invalid block group item size, have {d.Length} expect 24";
        if (key.Offset == 0) return "invalid block group length 0";
        if (Le.U64(d, 8) != ObjectIds.FirstChunkTree) return $"invalid block group chunk objectid {Le.U64(d, 8)}";
        if (Le.U64(d, 0) > key.Offset) return $"invalid block group used, have {Le.U64(d, 0)} expect [0, {key.Offset}]";
        return CheckTypeAndProfile((BlockGroupFlags)Le.U64(d, 16), "block group");
    }

    private static string? CheckChunk(in Key key, ReadOnlySpan<byte> d, in Context c)
    {
        if (d.Length < ChunkItem.Size + Stripe.Size) return $"invalid chunk item size {d.Length}";
        int stripes = Le.U16(d, ChunkItem.Offsets.NumStripes);
        if (stripes == 0 || d.Length != ChunkItem.SizeWith(stripes))
            return $"invalid chunk item size {d.Length} for {stripes} stripes";
        ulong length = Le.U64(d, ChunkItem.Offsets.Length);
        if (length == 0 || length % c.SectorSize != 0) return $"invalid chunk length {length}";
        if (key.Offset % c.SectorSize != 0) return $"invalid chunk logical {key.Offset}";
        return CheckTypeAndProfile((BlockGroupFlags)Le.U64(d, ChunkItem.Offsets.Type), "chunk");
    }

    private static string? CheckTypeAndProfile(BlockGroupFlags flags, string what)
    {
        var type = flags & BlockGroupFlags.TypeMask;
        if (type == 0 || (type != BlockGroupFlags.Data && type != BlockGroupFlags.System && type != BlockGroupFlags.Metadata
            && type != (BlockGroupFlags.Data | BlockGroupFlags.Metadata)))
            return $"invalid {what} type flags 0x{(ulong)flags:x}";
        ulong profile = (ulong)(flags & BlockGroupFlags.ProfileMask);
        if ((profile & (profile - 1)) != 0) return $"invalid {what} profile flags 0x{(ulong)flags:x}";
        if (((ulong)flags & ~(ulong)(BlockGroupFlags.TypeMask | BlockGroupFlags.ProfileMask)) != 0) return $"unknown {what} flags 0x{(ulong)flags:x}";
        return null;
    }
}
