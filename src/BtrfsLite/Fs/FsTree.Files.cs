using System.Buffers;
using BtrfsLite.Format;
using BtrfsLite.Trees;

namespace BtrfsLite.Fs;

/// <summary>One EXTENT_DATA item of a file, copied out.</summary>
/// <param name="FileOffset">The EXTENT_DATA key offset: where in the file the item starts, in bytes.</param>
/// <param name="Type">btrfs_file_extent_item.type.</param>
/// <param name="DiskBytenr">btrfs_file_extent_item.disk_bytenr (0 for a hole or inline data).</param>
/// <param name="DiskNumBytes">btrfs_file_extent_item.disk_num_bytes.</param>
/// <param name="Offset">btrfs_file_extent_item.offset: where in the extent this item's data starts.</param>
/// <param name="NumBytes">btrfs_file_extent_item.num_bytes: bytes of the file the item covers (0 for inline
/// data).</param>
/// <param name="RamBytes">btrfs_file_extent_item.ram_bytes (for inline data, its length).</param>
/// <param name="Inline">The inline data; null for other types.</param>
public readonly record struct FileExtent(ulong FileOffset, FileExtentType Type, ulong DiskBytenr, ulong DiskNumBytes,
    ulong Offset, ulong NumBytes, ulong RamBytes, byte[]? Inline)
{
    /// <summary>The file offset just past the item: key offset plus num_bytes (ram_bytes for inline data).</summary>
    public ulong End => FileOffset + (Type == FileExtentType.Inline ? RamBytes : NumBytes);
    /// <summary>True for a hole: a regular extent with disk_bytenr 0.</summary>
    public bool IsHole => Type != FileExtentType.Inline && DiskBytenr == 0;
}

public sealed partial class FsTree
{
    /// <summary>The file's extent items in order.</summary>
    public List<FileExtent> ReadExtents(ulong ino)
    {
        var list = new List<FileExtent>();
        var c = _tx.NewCursor();
        if (!c.SeekPrefix(Root, ino, ItemType.ExtentData)) return list;
        do
        {
            if (c.ObjectId != ino || c.Type != ItemType.ExtentData) break;
            var fe = new FileExtentItem(c.Data);
            if (fe.Type == FileExtentType.Inline)
                list.Add(new FileExtent(c.Offset, fe.Type, 0, 0, 0, 0, fe.RamBytes, fe.InlineData.ToArray()));
            else
                list.Add(new FileExtent(c.Offset, fe.Type, fe.DiskBytenr, fe.DiskNumBytes, fe.Offset, fe.NumBytes, fe.RamBytes, null));
        } while (c.Next());
        return list;
    }

    /// <summary>
    /// Sets <paramref name="flag"/> in <paramref name="bits"/> (one entry per sector from <paramref name="start"/>) for
    /// every sector no extent maps: a hole item or no item at all, as the extent map sees it (btrfs_find_new_delalloc_bytes;
    /// an inline extent maps its whole sector). The other entries are cleared of it.
    /// </summary>
    public void MarkUnmapped(ulong ino, ulong start, uint sectorSize, Span<byte> bits, byte flag)
    {
        for (int i = 0; i < bits.Length; i++) bits[i] |= flag;
        ulong end = start + (ulong)bits.Length * sectorSize;
        var c = _tx.NewCursor();
        // The item that may cover start begins at or before it.
        bool ok = c.SeekBefore(Root, new Key(ino, ItemType.ExtentData, start + 1)) && c.ObjectId == ino && c.Type == ItemType.ExtentData;
        if (!ok) ok = c.SeekPrefix(Root, ino, ItemType.ExtentData, start);
        byte keep = (byte)~flag;
        for (; ok && c.ObjectId == ino && c.Type == ItemType.ExtentData && c.Offset < end; ok = c.Next())
        {
            var fe = new FileExtentItem(c.Data);
            bool inline = fe.Type == FileExtentType.Inline;
            if (!inline && fe.DiskBytenr == 0) continue;
            ulong eEnd = inline ? c.Offset + (fe.RamBytes + sectorSize - 1) / sectorSize * sectorSize : c.Offset + fe.NumBytes;
            if (eEnd <= start) continue;
            ulong from = (Math.Max(c.Offset, start) - start) / sectorSize, to = (Math.Min(eEnd, end) - start + sectorSize - 1) / sectorSize;
            for (ulong i = from; i < to; i++) bits[(int)i] &= keep;
        }
    }

    /// <summary>Reads file bytes [offset, offset+buffer.Length) (clamped to the file size); returns the count.</summary>
    public int Read(ulong ino, ulong offset, Span<byte> buffer)
    {
        var info = ReadInode(ino);
        if (offset >= info.Size) return 0;
        int n = (int)Math.Min((ulong)buffer.Length, info.Size - offset);
        var dst = buffer[..n];
        dst.Clear();
        ulong end = offset + (ulong)n;
        foreach (var e in ReadExtents(ino))
        {
            if (e.End <= offset || e.FileOffset >= end) continue;
            ulong s = Math.Max(offset, e.FileOffset), t = Math.Min(end, e.End);
            var part = dst.Slice((int)(s - offset), (int)(t - s));
            if (e.Type == FileExtentType.Inline) e.Inline.AsSpan((int)(s - e.FileOffset), part.Length).CopyTo(part);
            else if (e.Type == FileExtentType.Regular && !e.IsHole) _tx.ReadData(e.DiskBytenr + e.Offset + (s - e.FileOffset), part);
            // prealloc and holes read as zeros
        }
        return n;
    }

    /// <summary>Replaces the file's content with an inline extent (a small file or a symlink target).</summary>
    public void WriteInline(ulong ino, ReadOnlySpan<byte> data)
    {
        var d = Tree.Insert(new Key(ino, ItemType.ExtentData, 0), FileExtentItem.HeaderSize + data.Length);
        var fe = new FileExtentItem(d);
        fe.Generation = _tx.Generation;
        fe.RamBytes = (ulong)data.Length;
        fe.Type = FileExtentType.Inline;
        data.CopyTo(fe.InlineData);
    }

    /// <summary>
    /// Writes <paramref name="data"/> at <paramref name="offset"/> copy-on-write: whole sectors in new extents, the
    /// edges read-modify-written, old extents cut back (bookends keep referencing their whole extent). A small
    /// whole file is stored inline.
    /// Returns the disk bytenr of the first new extent (0 when the file stayed or became inline).
    /// </summary>
    public ulong Write(ulong ino, ulong offset, ReadOnlySpan<byte> data)
    {
        if (data.Length == 0) return 0;
        var info = ReadInode(ino);
        if (!info.IsReg) throw FsException.NotRegular(info, $"inode {ino}");
        ulong end = offset + (ulong)data.Length;
        ulong newSize = Math.Max(info.Size, end);
        var extents = ReadExtents(ino);
        bool inlineNow = extents.Count == 1 && extents[0].Type == FileExtentType.Inline;
        // Small files stay (or become) inline: the whole file in one inline extent at offset 0. As
        // cow_file_range_inline, whatever extent held the first sector before goes (a file truncated below max_inline
        // writes its first sector inline again); a file flagged PREALLOC or NODATACOW takes the nocow path, which
        // never writes inline.
        bool prealloc = (info.Flags & InodeFlags.Prealloc) != 0;
        if (newSize <= MaxInline && newSize < SectorSize && (inlineNow || !prealloc) && (info.Flags & InodeFlags.NoDataCow) == 0)
        {
            var whole = new byte[newSize];
            if (inlineNow) extents[0].Inline.AsSpan(0, (int)Math.Min((ulong)extents[0].Inline!.Length, newSize)).CopyTo(whole);
            else if (extents.Count > 0) Read(ino, 0, whole.AsSpan(0, (int)Math.Min(info.Size, newSize)));
            data.CopyTo(whole.AsSpan((int)offset));
            ulong kept = info.NBytes;
            if (inlineNow) { Tree.Delete(new Key(ino, ItemType.ExtentData, 0)); kept -= extents[0].RamBytes; }
            else if (extents.Count > 0) { DropExtents(ino, 0, SectorSize); kept = ReadInode(ino).NBytes; }
            WriteInline(ino, whole);
            var now0 = Clock();
            // Extents past the first sector stay counted (a truncate drops them right after this writeback).
            EditInode(ino, i => { i.FileSize = newSize; i.NBytes = kept + newSize; i.Mtime = now0; i.Ctime = now0; });
            return 0;
        }
        if (inlineNow) ConvertInlineToRegular(ino, extents[0]);

        ulong sector = SectorSize;
        ulong aStart = offset / sector * sector, aEnd = (end + sector - 1) / sector * sector;
        var buf = new byte[aEnd - aStart];
        // Edges keep the bytes around the write (read before the old extents are cut).
        if (aStart < offset) Read(ino, aStart, buf.AsSpan(0, (int)(offset - aStart)));
        if (end < aEnd && end < info.Size) Read(ino, end, buf.AsSpan((int)(end - aStart)));
        data.CopyTo(buf.AsSpan((int)(offset - aStart)));
        DropExtents(ino, aStart, aEnd);
        ulong first = InsertNewExtents(ino, aStart, buf, (info.Flags & InodeFlags.NoDataSum) == 0);
        var now = Clock();
        EditInode(ino, i =>
        {
            i.FileSize = newSize;
            i.NBytes += aEnd - aStart;
            i.Mtime = now; i.Ctime = now;
        });
        return first;
    }

    private void ConvertInlineToRegular(ulong ino, FileExtent inline)
    {
        Tree.Delete(new Key(ino, ItemType.ExtentData, 0));
        ulong ram = inline.RamBytes;
        EditInode(ino, i => i.NBytes -= ram);
        var buf = new byte[(ulong)inline.Inline!.Length + SectorSize - 1 & ~(SectorSize - 1)];
        inline.Inline.CopyTo(buf, 0);
        InsertNewExtents(ino, 0, buf, (ReadInode(ino).Flags & InodeFlags.NoDataSum) == 0);
        EditInode(ino, i => i.NBytes += (ulong)buf.Length);
    }

    /// <summary>Allocates extents for <paramref name="buf"/> (sector multiple) at file offset <paramref name="fileOffset"/>, writes them, inserts items, csums and refs.</summary>
    private ulong InsertNewExtents(ulong ino, ulong fileOffset, ReadOnlySpan<byte> buf, bool csum)
    {
        int done = 0;
        ulong first = 0;
        while (done < buf.Length)
        {
            var (bytenr, len) = _tx.AllocateData((ulong)(buf.Length - done));
            var chunk = buf.Slice(done, (int)len);
            _tx.WriteData(bytenr, chunk);
            InsertFileExtent(ino, fileOffset + (ulong)done, FileExtentType.Regular, bytenr, len, 0, len);
            if (csum) InsertCsums(bytenr, chunk);
            if (first == 0) first = bytenr;
            done += (int)len;
        }
        return first;
    }

    /// <summary>
    /// The kernel's NOCOW check for a write into preallocated space: the inode is flagged PREALLOC and [start, end)
    /// (sectors) lies inside prealloc extents that only this inode references (no other item, inode, subvolume or
    /// snapshot), so the data can go to the extent's own blocks and no new extent is needed.
    /// </summary>
    public bool CanWriteInPlace(ulong ino, ulong start, ulong end, List<FileExtent>? extents = null)
    {
        if ((ReadInode(ino).Flags & InodeFlags.Prealloc) == 0) return false;
        extents ??= ReadExtents(ino);
        ulong pos = start;
        foreach (var e in extents)
        {
            if (e.End <= pos || e.FileOffset >= end) continue;
            if (e.FileOffset > pos || e.Type != FileExtentType.Prealloc || e.IsHole || !ExclusivelyOurs(ino, e, extents)) return false;
            pos = e.End;
            if (pos >= end) return true;
        }
        return pos >= end;
    }

    private bool ExclusivelyOurs(ulong ino, in FileExtent e, List<FileExtent> extents)
    {
        // check_committed_ref: one data ref (root, inode, file offset − extent offset) holding every reference. Items
        // of this inode that reach the extent from another such offset (a clone within the file) share it: writing
        // in place would write both (fuzzer seeds 692, 750: the same sectors' checksums inserted twice).
        long ours = 0;
        ulong? refOffset = null;
        foreach (var x in extents)
        {
            if (x.DiskBytenr != e.DiskBytenr || x.IsHole) continue;
            ours++;
            ulong o = unchecked(x.FileOffset - x.Offset);
            if (refOffset is ulong r && r != o) return false;
            refOffset = o;
        }
        long refs = 0;
        bool newHere = false;
        if (_tx.DelayedRefs.TryGet(e.DiskBytenr, out var head))
        {
            foreach (var (k, d) in head.Deltas)
                if (k.Type != ItemType.ExtentDataRef || k.Root != RootId || k.ObjectId != ino || k.Offset != refOffset) return false;
            refs += head.NetDelta;
            newHere = head.IsNew;
        }
        if (!newHere)
        {
            var c = _tx.NewCursor();
            if (!c.Find(_tx.CurrentRoot(ObjectIds.ExtentTree), new Key(e.DiskBytenr, ItemType.ExtentItem, e.DiskNumBytes))) return false;
            var item = new ExtentItem(c.Data);
            refs += (long)item.Refs;
            // check_committed_ref: the committed item holds one inline ref, this inode's EXTENT_DATA_REF at that offset,
            // counting every reference. A shared data ref (a snapshot's leaf CoWed by the other side, fuzzer seed
            // 9002) or keyed refs are references of other trees.
            var rd = new InlineRefReader(c.Data, ExtentItem.InlineRefStart(ItemType.ExtentItem, item.Flags));
            if (!rd.Next(out var only) || only.Type != ItemType.ExtentDataRef || only.Offset != RootId || only.ObjectId != ino
                || only.FileOffset != refOffset || only.Count != item.Refs || rd.Next(out _)) return false;
            // Written before the subvolume's last snapshot: a snapshot may share it through its tree blocks.
            var rc = _tx.NewCursor();
            if (rc.SeekPrefix(_tx.CurrentRoot(ObjectIds.RootTree), RootId, ItemType.RootItem) && rc.ObjectId == RootId && rc.Type == ItemType.RootItem
                && item.Generation <= new RootItem(rc.Data).LastSnapshot) return false;
        }
        return refs == ours;
    }

    /// <summary>
    /// Writes whole sectors into this inode's preallocated extents in place (check <see cref="CanWriteInPlace"/> first):
    /// the data goes to the extent's blocks and the written part of each item becomes a regular extent referencing the
    /// same disk extent, as the kernel's prealloc NOCOW writeback does. No new extent; nbytes unchanged.
    /// </summary>
    public void WriteInPlace(ulong ino, ulong offset, ReadOnlySpan<byte> data, ulong newSize)
    {
        ulong end = offset + (ulong)data.Length;
        bool csum = (ReadInode(ino).Flags & InodeFlags.NoDataSum) == 0;
        foreach (var e in ReadExtents(ino))
        {
            if (e.End <= offset || e.FileOffset >= end) continue;
            if (e.Type != FileExtentType.Prealloc) throw new InvalidOperationException($"inode {ino}: [{e.FileOffset}, {e.End}) is not preallocated");
            ulong os = Math.Max(offset, e.FileOffset), oe = Math.Min(end, e.End);
            var part = data.Slice((int)(os - offset), (int)(oe - os));
            ulong disk = e.DiskBytenr + e.Offset + (os - e.FileOffset);
            _tx.WriteData(disk, part);
            if (csum) InsertCsums(disk, part);
            Tree.Delete(new Key(ino, ItemType.ExtentData, e.FileOffset));
            _tx.AddDataRef(e.DiskBytenr, e.DiskNumBytes, RootId, ino, e.FileOffset - e.Offset, -1);
            if (os > e.FileOffset) InsertFileExtent(ino, e.FileOffset, FileExtentType.Prealloc, e.DiskBytenr, e.DiskNumBytes, e.Offset, os - e.FileOffset);
            InsertFileExtent(ino, os, FileExtentType.Regular, e.DiskBytenr, e.DiskNumBytes, e.Offset + (os - e.FileOffset), oe - os);
            if (oe < e.End) InsertFileExtent(ino, oe, FileExtentType.Prealloc, e.DiskBytenr, e.DiskNumBytes, e.Offset + (oe - e.FileOffset), e.End - oe);
        }
        var now = Clock();
        EditInode(ino, i => { i.FileSize = Math.Max(i.FileSize, newSize); i.Mtime = now; i.Ctime = now; });
    }

    /// <summary>Inserts one regular/prealloc EXTENT_DATA item and its data backref.</summary>
    internal void InsertFileExtent(ulong ino, ulong fileOffset, FileExtentType type, ulong diskBytenr, ulong diskNumBytes, ulong extentOffset, ulong numBytes)
    {
        var fe = new FileExtentItem(Tree.Insert(new Key(ino, ItemType.ExtentData, fileOffset), FileExtentItem.Size));
        fe.Generation = _tx.Generation;
        fe.RamBytes = diskNumBytes;
        fe.Type = type;
        fe.DiskBytenr = diskBytenr;
        fe.DiskNumBytes = diskNumBytes;
        fe.Offset = extentOffset;
        fe.NumBytes = numBytes;
        if (diskBytenr != 0) _tx.AddDataRef(diskBytenr, diskNumBytes, RootId, ino, fileOffset - extentOffset, +1);
    }

    /// <summary>Fills <paramref name="buffer"/> with file bytes from <paramref name="fileOffset"/>; returns how many (0 at EOF).</summary>
    public delegate int DataSource(Span<byte> buffer, ulong fileOffset);

    /// <summary>
    /// The import path: streams [fileOffset, fileOffset+length) of a file from <paramref name="source"/> straight into
    /// newly allocated extents (sector aligned; the last sector zero padded; no read-modify-write, no copy of the whole
    /// range), with their items, csums and data refs. The range must hold no extents yet. Does not touch the inode item:
    /// returns the bytes now mapped, for the caller's nbytes.
    /// </summary>
    public ulong ImportData(ulong ino, ulong fileOffset, ulong length, DataSource source, byte[] buffer, bool csum = true)
    {
        ulong sector = SectorSize;
        if (fileOffset % sector != 0) throw new ArgumentException("import offset must be sector aligned");
        if (buffer.Length == 0 || (ulong)buffer.Length % sector != 0) throw new ArgumentException("buffer must be a sector multiple");
        ulong aligned = (length + sector - 1) / sector * sector;
        ulong done = 0;
        // The sums of one csum item at a time, inserted as each fills: a 128 MiB extent's 128 KiB of sums never
        // exist at once. The file extent item goes first, then the csum items in order: the same tree changes as
        // inserting every sum after the data.
        int perItem = MaxCsumsPerItem;
        uint[]? sums = csum ? ArrayPool<uint>.Shared.Rent(perItem) : null;
        try
        {
            while (done < aligned)
            {
                var (bytenr, len) = _tx.AllocateData(aligned - done);
                InsertFileExtent(ino, fileOffset + done, FileExtentType.Regular, bytenr, len, 0, len);
                ulong off = 0, itemStart = 0;
                int count = 0;
                while (off < len)
                {
                    var span = buffer.AsSpan(0, (int)Math.Min((ulong)buffer.Length, len - off));
                    ulong pos = fileOffset + done + off;
                    int got = 0;
                    // Bytes past the requested length read as zeros (the padding of the last sector).
                    int want = (int)Math.Min((ulong)span.Length, fileOffset + length > pos ? fileOffset + length - pos : 0);
                    while (got < want)
                    {
                        int n = source(span[got..want], pos + (ulong)got);
                        if (n <= 0) break; // the file shrank meanwhile: zeros
                        got += n;
                    }
                    span[got..].Clear();
                    _tx.WriteData(bytenr + off, span);
                    off += (ulong)span.Length;
                    if (sums == null) continue;
                    for (int i = 0; i < span.Length; i += (int)sector)
                    {
                        sums[count++] = Checksums.Crc32C(span.Slice(i, (int)sector));
                        bool extentEnd = off == len && i + (int)sector == span.Length;
                        if (count < perItem && !extentEnd) continue;
                        InsertCsumItem(bytenr + itemStart * sector, sums.AsSpan(0, count));
                        itemStart += (ulong)count;
                        count = 0;
                    }
                }
                done += len;
            }
        }
        finally
        {
            if (sums != null) ArrayPool<uint>.Shared.Return(sums);
        }
        return aligned;
    }

    /// <summary>The kernel's MAX_CSUM_ITEMS: (leaf data size - 2 item headers) / csum size - 1 (4057 for 16K nodes, 985 for 4K).</summary>
    private int MaxCsumsPerItem => (_tx.Image.NodeSize - NodeHeader.Size - 2 * ItemHeader.Size) / Checksums.CsumSize - 1;

    /// <summary>One EXTENT_CSUM item at <paramref name="bytenr"/> (at most <see cref="MaxCsumsPerItem"/> sums).</summary>
    private void InsertCsumItem(ulong bytenr, ReadOnlySpan<uint> sums)
    {
        var item = new ExtentCsumItem(_tx.Tree(ObjectIds.CsumTree).Insert(new Key(ObjectIds.ExtentCsum, ItemType.ExtentCsum, bytenr), sums.Length * Checksums.CsumSize));
        for (int i = 0; i < sums.Length; i++) item[i] = sums[i];
    }

    /// <summary>crc32c of every sector, in EXTENT_CSUM items of at most one leaf's worth.</summary>
    private void InsertCsums(ulong bytenr, ReadOnlySpan<byte> data)
    {
        var csum = _tx.Tree(ObjectIds.CsumTree);
        int sector = (int)SectorSize;
        int perItem = MaxCsumsPerItem;
        int sectors = data.Length / sector;
        for (int first = 0; first < sectors; first += perItem)
        {
            int n = Math.Min(perItem, sectors - first);
            var item = new ExtentCsumItem(csum.Insert(new Key(ObjectIds.ExtentCsum, ItemType.ExtentCsum, bytenr + (ulong)(first * sector)), n * Checksums.CsumSize));
            for (int i = 0; i < n; i++) item[i] = Checksums.Crc32C(data.Slice((first + i) * sector, sector));
        }
    }

    /// <summary>A regular or preallocated file extent item of <paramref name="ino"/> goes: its data reference with it.</summary>
    private void DropDataRef(ulong ino, in FileExtent e)
    {
        // The data backref's offset (file offset less the offset into the extent) is the same for every piece of it.
        if (e.Type != FileExtentType.Inline && !e.IsHole) _tx.AddDataRef(e.DiskBytenr, e.DiskNumBytes, RootId, ino, e.FileOffset - e.Offset, -1);
    }

    /// <summary>
    /// Removes file data in [start, end) (sector aligned): extents inside go, extents across an edge are cut,
    /// keeping the same data reference (a bookend). nbytes shrinks by what no longer maps.
    /// </summary>
    public void DropExtents(ulong ino, ulong start, ulong end)
    {
        ulong dropped = 0;
        foreach (var e in ReadExtents(ino))
        {
            if (e.End <= start || e.FileOffset >= end) continue;
            var key = new Key(ino, ItemType.ExtentData, e.FileOffset);
            if (e.Type == FileExtentType.Inline)
            {
                // Only whole-file operations reach an inline extent (truncate/punch convert or rewrite it first).
                Tree.Delete(key);
                dropped += e.RamBytes;
                continue;
            }
            ulong ks = e.FileOffset, ke = e.End;
            Tree.Delete(key);
            DropDataRef(ino, e);
            if (ks < start) InsertFileExtent(ino, ks, e.Type, e.DiskBytenr, e.DiskNumBytes, e.Offset, start - ks);
            if (ke > end) InsertFileExtent(ino, end, e.Type, e.DiskBytenr, e.DiskNumBytes, e.Offset + (end - ks), ke - end);
            if (!e.IsHole) dropped += Math.Min(ke, end) - Math.Max(ks, start);
        }
        if (dropped != 0) EditInode(ino, i => i.NBytes -= dropped);
    }

    /// <summary>Sets the file size; shrinking drops data past it and zeroes the tail of the last sector.</summary>
    public void Truncate(ulong ino, ulong size)
    {
        var info = ReadInode(ino);
        if (!info.IsReg) throw FsException.NotRegular(info, $"inode {ino}");
        var now = Clock();
        if (size >= info.Size)
        {
            EditInode(ino, i => { i.FileSize = size; i.Mtime = now; i.Ctime = now; });
            return;
        }
        var extents = ReadExtents(ino);
        if (extents.Count == 1 && extents[0].Type == FileExtentType.Inline)
        {
            Tree.Delete(new Key(ino, ItemType.ExtentData, 0));
            ulong old = extents[0].RamBytes;
            if (size > 0) WriteInline(ino, extents[0].Inline.AsSpan(0, (int)Math.Min(size, old)));
            EditInode(ino, i => { i.FileSize = size; i.NBytes = Math.Min(size, old); i.Mtime = now; i.Ctime = now; });
            return;
        }
        ulong sector = SectorSize;
        ulong keep = (size + sector - 1) / sector * sector;
        if (size % sector != 0 && ExtentAt(extents, size) is { IsHole: false, Type: FileExtentType.Regular })
        {
            // The kernel zeroes the rest of the last sector so that a later extension reads zeros.
            var tail = new byte[sector];
            ulong s0 = size / sector * sector;
            Read(ino, s0, tail.AsSpan(0, (int)(size - s0)));
            EditInode(ino, i => i.FileSize = keep); // let Write see the whole sector
            Write(ino, s0, tail);
        }
        DropExtents(ino, keep, ulong.MaxValue);
        EditInode(ino, i => { i.FileSize = size; i.Mtime = now; i.Ctime = now; });
        TrimInlineHead(ino, size);
    }

    /// <summary>
    /// An inline extent that other extents followed and that now reaches past <paramref name="size"/> is cut to it, as
    /// btrfs_truncate_inode_items truncates an inline item (nbytes follows).
    /// </summary>
    public void TrimInlineHead(ulong ino, ulong size)
    {
        var extents = ReadExtents(ino);
        if (extents.Count == 0 || extents[0].Type != FileExtentType.Inline || extents[0].RamBytes <= size) return;
        var head = extents[0];
        Tree.Delete(new Key(ino, ItemType.ExtentData, 0));
        if (size > 0) WriteInline(ino, head.Inline.AsSpan(0, (int)size));
        EditInode(ino, i => i.NBytes -= head.RamBytes - size);
    }

    internal static FileExtent? ExtentAt(List<FileExtent> extents, ulong pos)
    {
        foreach (var e in extents) if (pos >= e.FileOffset && pos < e.End) return e;
        return null;
    }

    /// <summary>Punches a hole: whole sectors are dropped, partial edge sectors zeroed (as the kernel does).</summary>
    public void PunchHole(ulong ino, ulong offset, ulong length)
    {
        var info = ReadInode(ino);
        if (!info.IsReg) throw FsException.NotRegular(info, $"inode {ino}");
        ulong end = Math.Min(offset + length, info.Size);
        if (end <= offset) return;
        var extents = ReadExtents(ino);
        if (extents.Count == 1 && extents[0].Type == FileExtentType.Inline)
        {
            var zeros = new byte[end - offset];
            Write(ino, offset, zeros);
            return;
        }
        ulong sector = SectorSize;
        ulong aStart = (offset + sector - 1) / sector * sector, aEnd = end / sector * sector;
        if (aStart > aEnd) { Write(ino, offset, new byte[end - offset]); return; }
        if (offset < aStart) Write(ino, offset, new byte[aStart - offset]);
        if (aEnd < end) Write(ino, aEnd, new byte[end - aEnd]);
        if (aStart < aEnd) DropExtents(ino, aStart, aEnd);
        var now = Clock();
        EditInode(ino, i => { i.Mtime = now; i.Ctime = now; });
    }

    /// <summary>Sets mtime and ctime to now (a content change that keeps the size, as a punch).</summary>
    public void Touch(ulong ino)
    {
        var now = Clock();
        EditInode(ino, i => { i.Mtime = now; i.Ctime = now; });
    }

    /// <summary>Preallocates the holes of [offset, offset+length) (sector aligned outward); extends the size unless keepSize.</summary>
    public void Fallocate(ulong ino, ulong offset, ulong length, bool keepSize)
    {
        var info = ReadInode(ino);
        if (!info.IsReg) throw FsException.NotRegular(info, $"inode {ino}");
        if (length == 0) throw new FsException("EINVAL", "fallocate of length 0");
        // An inline extent stays: it maps its whole sector, so only the holes after it get preallocated extents (the
        // kernel's btrfs_fallocate skips it; the file then has an inline extent followed by others).
        var extents = ReadExtents(ino);
        ulong sector = SectorSize;
        ulong aStart = offset / sector * sector, aEnd = (offset + length + sector - 1) / sector * sector;
        ulong added = 0;
        var inserted = new List<(ulong Start, ulong End)>();
        try
        {
            foreach (var (hs, he) in Holes(extents, aStart, aEnd, sector))
            {
                ulong pos = hs;
                while (pos < he)
                {
                    var (bytenr, len) = _tx.AllocateData(he - pos);
                    InsertFileExtent(ino, pos, FileExtentType.Prealloc, bytenr, len, 0, len);
                    inserted.Add((pos, pos + len));
                    pos += len;
                    added += len;
                }
            }
        }
        catch (NoSpaceException ex)
        {
            // All or nothing: the extents already inserted go again (their space, new in this transaction, is free at
            // once) and the inode is as it was. The kernel keeps the part it managed; a failed call here changes nothing.
            EditInode(ino, i => i.NBytes += added);
            foreach (var (s, e) in inserted) DropExtents(ino, s, e);
            throw new FsException("ENOSPC", $"no space to preallocate [{aStart}, {aEnd}) of inode {ino}: {ex.Message}");
        }
        var now = Clock();
        EditInode(ino, i =>
        {
            i.NBytes += added;
            if (added > 0) i.Flags |= InodeFlags.Prealloc;
            if (!keepSize && offset + length > i.FileSize) i.FileSize = offset + length;
            i.Ctime = now;
            if (!keepSize) i.Mtime = now;
        });
    }

    internal static IEnumerable<(ulong Start, ulong End)> Holes(List<FileExtent> extents, ulong start, ulong end, ulong sector)
    {
        ulong pos = start;
        foreach (var e in extents.OrderBy(e => e.FileOffset))
        {
            // An inline extent's map covers its whole sector (btrfs_get_extent aligns its length).
            ulong eEnd = e.Type == FileExtentType.Inline ? (e.End + sector - 1) / sector * sector : e.End;
            if (eEnd <= pos || e.IsHole) continue;
            if (e.FileOffset >= end) break;
            if (e.FileOffset > pos) yield return (pos, e.FileOffset);
            pos = Math.Max(pos, eEnd);
        }
        if (pos < end) yield return (pos, end);
    }

    /// <summary>
    /// Reflinks [srcOffset, srcOffset+length) of <paramref name="src"/> (in <paramref name="srcTree"/>) to
    /// <paramref name="dstOffset"/> of <paramref name="dst"/> in this tree: the destination's items reference the same
    /// data extents (no data is copied). Offsets and length are sector aligned (length may end at the source EOF).
    /// </summary>
    /// <remarks>
    /// <paramref name="inlineCopied"/>: the caller copied the source's inline extent into the destination's page cache
    /// (clone_copy_inline_extent's copy_inline_to_page); only the extents after it are cloned here.
    /// </remarks>
    public void Clone(FsTree srcTree, ulong src, ulong srcOffset, ulong length, ulong dst, ulong dstOffset, bool inlineCopied = false)
    {
        var sinfo = srcTree.ReadInode(src);
        var dinfo = ReadInode(dst);
        if (!sinfo.IsReg) throw FsException.NotRegular(sinfo, "clone source");
        if (!dinfo.IsReg) throw FsException.NotRegular(dinfo, "clone destination");
        ulong sector = SectorSize;
        if (length == 0) length = sinfo.Size - Math.Min(srcOffset, sinfo.Size);
        ulong srcEnd = srcOffset + length;
        bool toEof = srcEnd >= sinfo.Size;
        if (srcOffset % sector != 0 || dstOffset % sector != 0 || (!toEof && length % sector != 0))
            throw new FsException("EINVAL", "clone offsets and length must be sector aligned (length may end at EOF)");
        if (srcTree.RootId == RootId && src == dst && srcOffset < dstOffset + length && dstOffset < srcEnd)
            throw new FsException("EINVAL", "overlapping clone within one file");
        ulong alignedLen = (length + sector - 1) / sector * sector;
        var sExtents = srcTree.ReadExtents(src);
        if (sExtents.Count == 1 && sExtents[0].Type == FileExtentType.Inline && !inlineCopied)
        {
            // Inline data cannot be shared: copy it.
            var bytes = new byte[length];
            srcTree.Read(src, srcOffset, bytes);
            Write(dst, dstOffset, bytes);
            return;
        }
        // A destination held inline keeps its inline extent unless the range covers its sector (it is then dropped):
        // the cloned extents follow it, as in the kernel.
        var dExtents = ReadExtents(dst);
        bool takesInlineItem = dstOffset == 0 && (dExtents.Count == 0 || dExtents[0] is { FileOffset: 0, Type: FileExtentType.Inline });
        DropExtents(dst, dstOffset, dstOffset + alignedLen);
        ulong added = 0;
        foreach (var e in sExtents)
        {
            if (e.End <= srcOffset || e.FileOffset >= srcOffset + alignedLen || e.IsHole) continue;
            if (e.Type == FileExtentType.Inline)
            {
                if (inlineCopied) continue;
                ulong datal = Math.Min(e.RamBytes, srcEnd);
                if (takesInlineItem && dinfo.Size <= datal)
                {
                    // clone_copy_inline_extent: the destination takes the inline item itself.
                    WriteInline(dst, e.Inline.AsSpan(0, (int)datal));
                    added += datal;
                    continue;
                }
                // Otherwise its whole sector (zeros after the data) is written, as copy_inline_to_page dirties it.
                var head = new byte[Math.Min(sector, srcEnd) - srcOffset];
                srcTree.Read(src, srcOffset, head);
                Write(dst, dstOffset, head);
                continue;
            }
            ulong s = Math.Max(e.FileOffset, srcOffset), t = Math.Min(e.End, srcOffset + alignedLen);
            InsertFileExtent(dst, dstOffset + (s - srcOffset), e.Type, e.DiskBytenr, e.DiskNumBytes, e.Offset + (s - e.FileOffset), t - s);
            added += t - s;
        }
        var now = Clock();
        EditInode(dst, i =>
        {
            i.NBytes += added;
            if (dstOffset + length > i.FileSize) i.FileSize = dstOffset + length;
            i.Mtime = now; i.Ctime = now;
            if (sExtents.Any(x => x.Type == FileExtentType.Prealloc)) i.Flags |= InodeFlags.Prealloc;
        });
    }
}
