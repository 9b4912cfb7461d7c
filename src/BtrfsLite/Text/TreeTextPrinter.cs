using BtrfsLite.Format;

namespace BtrfsLite.Text;

/// <summary>
/// One tree block as btrfs-progs 6.2 prints it (print-tree.c: header, key pointers, items and their bodies).
/// Fixed-size bodies are read from the item start as progs does: a short (corrupt) item reads on into the block,
/// and past the block end reads zeros instead of crashing.
/// </summary>
internal sealed class TreeTextPrinter
{
    private readonly TextOut _o;
    private readonly TextWriter _err;
    private readonly int _sectorSize, _csumSize;
    private readonly TimeZoneInfo _tz;
    private readonly byte[] _scratch = new byte[1024];

    public TreeTextPrinter(TextOut o, TextWriter errors, DumpSource src, DumpTreeOptions opt)
        : this(o, errors, src.NodeSize, src.SectorSize, src.CsumSize, opt.TimeZone) { }

    public TreeTextPrinter(TextOut o, TextWriter errors, int nodeSize, int sectorSize, int csumSize, TimeZoneInfo tz)
    {
        _o = o; _err = errors; _sectorSize = sectorSize; _csumSize = csumSize; _tz = tz;
    }

    public TextOut Out => _o;
    public TextWriter Errors => _err;
    public int Problems { get; private set; }

    private void Error(string msg)
    {
        Problems++;
        _o.Writer.Flush();
        _err.Write("ERROR: ");
        _err.Write(msg);
        _err.Write('\n');
    }

    /// <summary><paramref name="need"/> bytes from <paramref name="p"/>; zero-padded in a scratch copy when the block ends first.</summary>
    private Span<byte> Need(Span<byte> p, int need)
    {
        if (p.Length >= need) return p;
        var s = _scratch.AsSpan(0, need);
        s.Clear();
        p.CopyTo(s);
        return s;
    }

    public void Block(Span<byte> b, ulong readAt)
    {
        var h = new NodeHeader(b);
        uint nr = h.NrItems;
        int level = h.Level;
        int maxPtrs = (b.Length - NodeHeader.Size) / KeyPtr.Size;
        if (level != 0 && nr > maxPtrs)
        {
            _o.Writer.Flush();
            _err.Write($"WARNING: node nr_items corrupted, has {nr} limit {maxPtrs}, continue anyway\n");
            Problems++;
        }
        Header(b, readAt);
        if (level == 0) { LeafItems(b, nr); return; }
        int n = (int)Math.Min(nr, (uint)maxPtrs);
        var node = new InternalNode(b);
        for (int i = 0; i < n; i++)
        {
            _o.C('\t');
            ProgsNames.Key(_o, node.Key(i));
            _o.S(" block ").U(node.BlockPtr(i)).S(" gen ").U(node.PtrGeneration(i)).Nl();
        }
    }

    private void Header(Span<byte> b, ulong readAt)
    {
        var h = new NodeHeader(b);
        uint nr = h.NrItems;
        ulong flags = h.Flags & ~(0xFFUL << NodeHeader.BackrefRevShift);
        int rev = (int)(h.Flags >> NodeHeader.BackrefRevShift);
        if (h.Level != 0)
        {
            uint ptrs = (uint)((b.Length - NodeHeader.Size) / KeyPtr.Size);
            _o.S("node ").U(readAt).S(" level ").U(h.Level).S(" items ").U(nr).S(" free space ").U(unchecked(ptrs - nr))
              .S(" generation ").U(h.Generation).S(" owner ");
        }
        else
        {
            _o.S("leaf ").U(h.Bytenr).S(" items ").U(nr).S(" free space ").I(LeafFreeSpace(b, nr))
              .S(" generation ").U(h.Generation).S(" owner ");
        }
        ProgsNames.ObjectId(_o, h.Owner, 0);
        _o.Nl();
        _o.S(h.Level != 0 ? "node " : "leaf ").U(h.Bytenr).S(" flags 0x").X(flags).C('(');
        ProgsNames.HeaderFlags(_o, flags);
        _o.S(") backref revision ").I(rev).Nl();
        _o.S("fs uuid ").Uuid(b.Slice(NodeHeader.Offsets.Fsid, 16)).Nl();
        _o.S("chunk uuid ").Uuid(b.Slice(NodeHeader.Offsets.ChunkTreeUuid, 16)).Nl();
    }

    /// <summary>btrfs_leaf_free_space: data size - (end of item 0 - start of item n-1) - 25 n.</summary>
    internal static long LeafFreeSpace(ReadOnlySpan<byte> b, uint nr)
    {
        long dataSize = b.Length - NodeHeader.Size;
        if (nr == 0) return dataSize;
        long maxItems = dataSize / ItemHeader.Size;
        long last = Math.Min(nr, maxItems) - 1;
        int p0 = NodeHeader.Size, pl = NodeHeader.Size + (int)last * ItemHeader.Size;
        long end0 = (long)Le.U32(b, p0 + ItemHeader.DataOffset) + Le.U32(b, p0 + ItemHeader.DataSize);
        long startLast = Le.U32(b, pl + ItemHeader.DataOffset);
        return (int)(dataSize - (int)((end0 - startLast) + ItemHeader.Size * (long)nr));
    }

    private void LeafItems(Span<byte> b, uint nr)
    {
        var leaf = new Leaf(b);
        uint limit = (uint)(b.Length - NodeHeader.Size);
        ulong bytenr = leaf.Header.Bytenr;
        for (uint i = 0; i < nr; i++)
        {
            if (NodeHeader.Size + (long)(i + 1) * ItemHeader.Size > b.Length)
            {
                Error($"leaf {bytenr} slot {i} item header lies past the block end (nritems {nr})");
                Error("skip remaining slots");
                break;
            }
            int slot = (int)i;
            uint off = leaf.DataOffset(slot), size = leaf.DataSize(slot);
            if (off > limit || (ulong)size + off > limit)
            {
                Error($"leaf {bytenr} slot {i} pointer invalid, offset {off} size {size} leaf data limit {limit}");
                Error("skip remaining slots");
                break;
            }
            var k = leaf.Key(slot);
            _o.S("\titem ").U(i).C(' ');
            ProgsNames.Key(_o, k);
            _o.S(" itemoff ").U(off).S(" itemsize ").U(size).Nl();
            var p = b[(NodeHeader.Size + (int)off)..];
            Item(b, k, p, (int)size);
        }
    }

    private void Item(Span<byte> block, in Key k, Span<byte> p, int size)
    {
        byte type = (byte)k.Type;
        if (type == 0 && k.ObjectId == ObjectIds.FreeSpace) FreeSpaceHeader(p);
        switch (k.Type)
        {
            case ItemType.InodeItem: Inode(Need(p, InodeItem.Size)); break;
            case ItemType.InodeRef: InodeRefs(p, size); break;
            case ItemType.InodeExtref: InodeExtrefs(p, size); break;
            case ItemType.DirItem:
            case ItemType.DirIndex:
            case ItemType.XattrItem: DirItems(p, size); break;
            case ItemType.DirLogIndex:
            case ItemType.DirLogItem: _o.S("\t\tdir log end ").U(Le.U64(Need(p, 8), 0)).Nl(); break;
            case ItemType.OrphanItem: _o.S("\t\torphan item\n"); break;
            case ItemType.RootItem: Root(p, size); break;
            case ItemType.RootRef: RootRefText(p, "ref"); break;
            case ItemType.RootBackref: RootRefText(p, "backref"); break;
            case ItemType.ExtentItem: Extent(p, size, k, metadata: false); break;
            case ItemType.MetadataItem: Extent(p, size, k, metadata: true); break;
            case ItemType.TreeBlockRef: _o.S("\t\ttree block backref\n"); break;
            case ItemType.SharedBlockRef: _o.S("\t\tshared block backref\n"); break;
            case ItemType.ExtentDataRef:
                {
                    var d = new ExtentDataRef(Need(p, ExtentDataRef.Size));
                    _o.S("\t\textent data backref root ");
                    ProgsNames.ObjectId(_o, d.Root, 0);
                    _o.S(" objectid ").U(d.ObjectId).S(" offset ").U(d.Offset).S(" count ").U(d.Count).Nl();
                    break;
                }
            case ItemType.SharedDataRef: _o.S("\t\tshared data backref count ").U(Le.U32(Need(p, 4), 0)).Nl(); break;
            case (ItemType)180: _o.S("\t\textent ref v0 (deprecated)\n"); break;
            case (ItemType)120: _o.S("\t\tcsum item\n"); break;
            case ItemType.ExtentCsum:
                {
                    uint len = unchecked((uint)(size / _csumSize) * (uint)_sectorSize);
                    _o.S("\t\trange start ").U(k.Offset).S(" end ").U(k.Offset + len).S(" length ").U(len).Nl();
                    break;
                }
            case ItemType.ExtentData: FileExtent(p, size); break;
            case ItemType.BlockGroupItem:
                {
                    var g = new BlockGroupItem(Need(p, BlockGroupItem.Size));
                    _o.S("\t\tblock group used ").U(g.Used).S(" chunk_objectid ").U(g.ChunkObjectId).S(" flags ");
                    ProgsNames.BlockGroupFlags(_o, (ulong)g.Flags);
                    _o.Nl();
                    break;
                }
            case ItemType.FreeSpaceInfo:
                {
                    var f = Need(p, FreeSpaceInfoItem.Size);
                    _o.S("\t\tfree space info extent count ").U(Le.U32(f, 0)).S(" flags ").U(Le.U32(f, 4)).Nl();
                    break;
                }
            case ItemType.FreeSpaceExtent: _o.S("\t\tfree space extent\n"); break;
            case ItemType.FreeSpaceBitmap: _o.S("\t\tfree space bitmap\n"); break;
            case ItemType.ChunkItem: ChunkItemText(_o, p, p.Length, Need); break;
            case ItemType.DevItem: DevItemText(_o, new DevItem(Need(p, DevItem.Size))); break;
            case ItemType.DevExtent:
                {
                    var d = new DevExtent(Need(p, DevExtent.Size));
                    _o.S("\t\tdev extent chunk_tree ").U(d.ChunkTree).Nl()
                      .S("\t\tchunk_objectid ").U(d.ChunkObjectId).S(" chunk_offset ").U(d.ChunkOffset).S(" length ").U(d.Length).Nl()
                      .S("\t\tchunk_tree_uuid ").Uuid(Need(p, DevExtent.Size).Slice(DevExtent.Offsets.ChunkTreeUuid, 16)).Nl();
                    break;
                }
            case ItemType.QgroupStatus:
                {
                    var q = new QgroupStatusItem(Need(p, QgroupStatusItem.Size));
                    _o.S("\t\tversion ").U(q.Version).S(" generation ").U(q.Generation).S(" flags ");
                    ProgsNames.QgroupStatusFlags(_o, (ulong)q.Flags);
                    _o.S(" scan ").U(q.Rescan).Nl();
                    break;
                }
            case ItemType.QgroupRelation: break;
            case ItemType.QgroupInfo:
                {
                    var q = new QgroupInfoItem(Need(p, QgroupInfoItem.Size));
                    _o.S("\t\tgeneration ").U(q.Generation).Nl()
                      .S("\t\treferenced ").U(q.Rfer).S(" referenced_compressed ").U(q.RferCmpr).Nl()
                      .S("\t\texclusive ").U(q.Excl).S(" exclusive_compressed ").U(q.ExclCmpr).Nl();
                    break;
                }
            case ItemType.QgroupLimit:
                {
                    var q = new QgroupLimitItem(Need(p, QgroupLimitItem.Size));
                    _o.S("\t\tflags ").X((ulong)q.Flags).Nl()
                      .S("\t\tmax_referenced ").I((long)q.MaxRfer).S(" max_exclusive ").I((long)q.MaxExcl).Nl()
                      .S("\t\trsv_referenced ").I((long)q.RsvRfer).S(" rsv_exclusive ").I((long)q.RsvExcl).Nl();
                    break;
                }
            case ItemType.UuidKeySubvol:
            case ItemType.UuidKeyReceivedSubvol:
                if ((size & 7) != 0) { _o.S("btrfs: uuid item with illegal size ").U((uint)size).S("!\n"); break; }
                for (int i = 0; i + 8 <= size; i += 8) _o.S("\t\tsubvol_id ").U(Le.U64(p, i)).Nl();
                break;
            case ItemType.StringItem:
                _o.S("\t\titem data ").Name(p[..Math.Min(size, p.Length)]).Nl();
                break;
            case ItemType.PersistentItem: Persistent(p, size, k); break;
            case ItemType.TemporaryItem: Temporary(p, k); break;
        }
    }

    private void FreeSpaceHeader(Span<byte> p)
    {
        var f = Need(p, Key.Size + 24);
        _o.S("\t\tlocation ");
        ProgsNames.Key(_o, Key.Read(f));
        _o.Nl().S("\t\tcache generation ").U(Le.U64(f, 17)).S(" entries ").U(Le.U64(f, 25)).S(" bitmaps ").U(Le.U64(f, 33)).Nl();
    }

    private void Inode(Span<byte> p)
    {
        var ii = new InodeItem(p);
        _o.S("\t\tgeneration ").U(ii.Generation).S(" transid ").U(ii.Transid).S(" size ").U(ii.FileSize).S(" nbytes ").U(ii.NBytes).Nl()
          .S("\t\tblock group ").U(ii.BlockGroup).S(" mode ").O(ii.Mode).S(" links ").U(ii.NLink).S(" uid ").U(ii.Uid)
          .S(" gid ").U(ii.Gid).S(" rdev ").U(ii.Rdev).Nl()
          .S("\t\tsequence ").U(ii.Sequence).S(" flags 0x").X((ulong)ii.Flags).C('(');
        ProgsNames.InodeFlags(_o, (ulong)ii.Flags);
        _o.S(")\n");
        Time("\t\tatime ", p[InodeItem.Offsets.Atime..]);
        Time("\t\tctime ", p[InodeItem.Offsets.Ctime..]);
        Time("\t\tmtime ", p[InodeItem.Offsets.Mtime..]);
        Time("\t\totime ", p[InodeItem.Offsets.Otime..]);
    }

    private void Time(string prefix, ReadOnlySpan<byte> ts)
    {
        _o.S(prefix);
        ProgsNames.Timespec(_o, Le.U64(ts, 0), Le.U32(ts, 8), _tz);
        _o.Nl();
    }

    private const int NameMax = 255;

    private void InodeRefs(Span<byte> p, int size)
    {
        int cur = 0;
        while (cur < size)
        {
            if (cur + InodeRefEntry.HeaderSize > p.Length) break;
            ulong index = Le.U64(p, cur);
            int nameLen = Le.U16(p, cur + 8);
            _o.S("\t\tindex ").U(index).S(" namelen ").U((uint)nameLen).S(" name: ");
            _o.Name(Clip(p, cur + InodeRefEntry.HeaderSize, Math.Min(nameLen, NameMax))).Nl();
            cur += InodeRefEntry.HeaderSize + nameLen;
        }
    }

    private void InodeExtrefs(Span<byte> p, int size)
    {
        int cur = 0;
        while (cur < size)
        {
            if (cur + InodeExtrefEntry.HeaderSize > p.Length) break;
            ulong parent = Le.U64(p, cur), index = Le.U64(p, cur + 8);
            int nameLen = Le.U16(p, cur + 16);
            _o.S("\t\tindex ").U(index).S(" parent ").U(parent).S(" namelen ").U((uint)nameLen).S(" name: ");
            _o.Name(Clip(p, cur + InodeExtrefEntry.HeaderSize, Math.Min(nameLen, NameMax))).Nl();
            cur += InodeExtrefEntry.HeaderSize + nameLen;
        }
    }

    private static ReadOnlySpan<byte> Clip(ReadOnlySpan<byte> p, int start, int len)
    {
        if (start >= p.Length) return default;
        return p.Slice(start, Math.Min(len, p.Length - start));
    }

    private void DirItems(Span<byte> p, int size)
    {
        int cur = 0;
        while (cur < size)
        {
            if (cur + DirEntry.HeaderSize > p.Length) break;
            var e = p[cur..];
            _o.S("\t\tlocation ");
            ProgsNames.Key(_o, Key.Read(e));
            _o.S(" type ");
            byte t = e[DirEntry.Offsets.Type];
            var tn = ProgsNames.DirTypeName(t);
            if (tn != null) _o.S(tn); else _o.S("DIR_ITEM.").U(t);
            _o.Nl();
            int nameLen = Le.U16(e, DirEntry.Offsets.NameLen), dataLen = Le.U16(e, DirEntry.Offsets.DataLen);
            _o.S("\t\ttransid ").U(Le.U64(e, DirEntry.Offsets.Transid)).S(" data_len ").U((uint)dataLen).S(" name_len ").U((uint)nameLen).Nl();
            _o.S("\t\tname: ").Name(Clip(e, DirEntry.HeaderSize, Math.Min(nameLen, NameMax))).Nl();
            if (dataLen != 0)
                _o.S("\t\tdata ").Name(Clip(e, DirEntry.HeaderSize + nameLen, Math.Min(dataLen, NameMax))).Nl();
            cur += DirEntry.HeaderSize + nameLen + dataLen;
        }
    }

    private void Root(Span<byte> p, int size)
    {
        // progs copies the item (at most sizeof(root_item)) into a zeroed struct; times come from the leaf itself.
        var copy = _scratch.AsSpan(0, RootItem.Size);
        copy.Clear();
        p[..Math.Min(Math.Min(size, RootItem.Size), p.Length)].CopyTo(copy);
        var ri = new RootItem(copy);
        ulong flags = ri.Flags;
        _o.S("\t\tgeneration ").U(ri.Generation).S(" root_dirid ").U(ri.RootDirId).S(" bytenr ").U(ri.Bytenr)
          .S(" byte_limit ").U(ri.ByteLimit).S(" bytes_used ").U(ri.BytesUsed).Nl()
          .S("\t\tlast_snapshot ").U(ri.LastSnapshot).S(" flags 0x").X(flags).C('(').S((flags & RootItem.FlagReadOnly) != 0 ? "RDONLY" : "none")
          .S(") refs ").U(ri.Refs).Nl()
          .S("\t\tdrop_progress ");
        ProgsNames.Key(_o, ri.DropProgress);
        _o.S(" drop_level ").U(ri.DropLevel).Nl();
        ulong gen2 = Le.U64(copy, RootItem.Offsets.GenerationV2);
        _o.S("\t\tlevel ").U(ri.Level).S(" generation_v2 ").U(gen2).Nl();
        if (ri.Generation != gen2) return;
        _o.S("\t\tuuid ").Uuid(copy.Slice(RootItem.Offsets.Uuid, 16)).Nl()
          .S("\t\tparent_uuid ").Uuid(copy.Slice(RootItem.Offsets.ParentUuid, 16)).Nl()
          .S("\t\treceived_uuid ").Uuid(copy.Slice(RootItem.Offsets.ReceivedUuid, 16)).Nl()
          .S("\t\tctransid ").U(Le.U64(copy, RootItem.Offsets.Ctransid)).S(" otransid ").U(Le.U64(copy, RootItem.Offsets.Otransid))
          .S(" stransid ").U(Le.U64(copy, RootItem.Offsets.Stransid)).S(" rtransid ").U(Le.U64(copy, RootItem.Offsets.Rtransid)).Nl();
        // Times are read from the leaf (not the zeroed copy); beyond the block end they read as zero here.
        var leafTimes = p.Length >= RootItem.Offsets.Reserved ? p : CopyTail(p, RootItem.Offsets.Reserved);
        Time("\t\tctime ", leafTimes[RootItem.Offsets.Ctime..]);
        Time("\t\totime ", leafTimes[RootItem.Offsets.Otime..]);
        Time("\t\tstime ", leafTimes[RootItem.Offsets.Stime..]);
        Time("\t\trtime ", leafTimes[RootItem.Offsets.Rtime..]);
    }

    private static Span<byte> CopyTail(Span<byte> p, int need)
    {
        var s = new byte[need];
        p.CopyTo(s);
        return s;
    }

    private void RootRefText(Span<byte> p, string tag)
    {
        var r = Need(p, RootRef.HeaderSize);
        int nameLen = Le.U16(r, RootRef.Offsets.NameLen);
        _o.S("\t\troot ").S(tag).S(" key dirid ").U(Le.U64(r, 0)).S(" sequence ").U(Le.U64(r, 8)).S(" name ")
          .Name(Clip(p, RootRef.HeaderSize, nameLen)).Nl();
    }

    private void Extent(Span<byte> p, int size, in Key k, bool metadata)
    {
        if (size < ExtentItem.Size) return;
        var ei = new ExtentItem(p);
        ulong flags = (ulong)ei.Flags;
        _o.S("\t\trefs ").U(ei.Refs).S(" gen ").U(ei.Generation).S(" flags ");
        ProgsNames.ExtentFlags(_o, flags);
        _o.Nl();
        int ptr;
        if ((flags & (ulong)ExtentFlags.TreeBlock) != 0 && !metadata)
        {
            var info = Need(p, ExtentItem.Size + ExtentItem.TreeBlockInfoSize)[ExtentItem.Size..];
            _o.S("\t\ttree block ");
            ProgsNames.Key(_o, Key.Read(info));
            _o.S(" level ").U(info[Key.Size]).Nl();
            ptr = ExtentItem.Size + ExtentItem.TreeBlockInfoSize;
        }
        else
        {
            if (metadata) _o.S("\t\ttree block skinny level ").I((int)k.Offset).Nl();
            ptr = ExtentItem.Size;
        }
        while (ptr < size)
        {
            var r = Need(p[Math.Min(ptr, p.Length)..], 1 + ExtentDataRef.Size);
            byte type = r[0];
            ulong offset = Le.U64(r, 1);
            switch ((ItemType)type)
            {
                case ItemType.TreeBlockRef:
                    _o.S("\t\ttree block backref root ");
                    ProgsNames.ObjectId(_o, offset, 0);
                    _o.Nl();
                    break;
                case ItemType.SharedBlockRef:
                    _o.S("\t\tshared block backref parent ").U(offset).Nl();
                    break;
                case ItemType.ExtentDataRef:
                    {
                        var d = new ExtentDataRef(r[1..]);
                        _o.S("\t\textent data backref root ");
                        ProgsNames.ObjectId(_o, d.Root, 0);
                        _o.S(" objectid ").U(d.ObjectId).S(" offset ").U(d.Offset).S(" count ").U(d.Count).Nl();
                        break;
                    }
                case ItemType.SharedDataRef:
                    _o.S("\t\tshared data backref parent ").U(offset).S(" count ").U(Le.U32(r, 9)).Nl();
                    break;
                default:
                    return;
            }
            ptr += InlineRef.SizeOf((ItemType)type);
        }
    }

    private void FileExtent(Span<byte> p, int size)
    {
        var h = Need(p, FileExtentItem.HeaderSize);
        var fe = new FileExtentItem(h);
        byte type = (byte)fe.Type;
        string comp = ProgsNames.CompressionName(fe.Compression);
        _o.S("\t\tgeneration ").U(fe.Generation).S(" type ").U(type).S(" (").S(ProgsNames.FileExtentTypeName(type)).S(")\n");
        if (type == (byte)FileExtentType.Inline)
        {
            _o.S("\t\tinline extent data size ").U(unchecked((uint)size - FileExtentItem.HeaderSize)).S(" ram_bytes ").U(fe.RamBytes)
              .S(" compression ").U(fe.Compression).S(" (").S(comp).S(")\n");
            return;
        }
        var body = new FileExtentItem(Need(p, FileExtentItem.Size));
        if (type == (byte)FileExtentType.Prealloc)
        {
            _o.S("\t\tprealloc data disk byte ").U(body.DiskBytenr).S(" nr ").U(body.DiskNumBytes).Nl()
              .S("\t\tprealloc data offset ").U(body.Offset).S(" nr ").U(body.NumBytes).Nl();
            return;
        }
        _o.S("\t\textent data disk byte ").U(body.DiskBytenr).S(" nr ").U(body.DiskNumBytes).Nl()
          .S("\t\textent data offset ").U(body.Offset).S(" nr ").U(body.NumBytes).S(" ram ").U(body.RamBytes).Nl()
          .S("\t\textent compression ").U(body.Compression).S(" (").S(comp).S(")\n");
    }

    internal delegate Span<byte> NeedFn(Span<byte> p, int need);

    /// <summary>print_chunk_item; <paramref name="room"/> = bytes from the chunk to the end of its container (block or superblock).</summary>
    internal static void ChunkItemText(TextOut o, Span<byte> p, int room, NeedFn need)
    {
        var c = need(p, ChunkItem.Size);
        int numStripes = Le.U16(c, ChunkItem.Offsets.NumStripes);
        if (numStripes < 1) { o.S("invalid num_stripes: ").U((uint)numStripes).Nl(); return; }
        if (ChunkItem.SizeWith(numStripes) > room) { o.S("\t\tchunk item invalid\n"); return; }
        var ci = new ChunkItem(p[..ChunkItem.SizeWith(numStripes)]);
        o.S("\t\tlength ").U(ci.Length).S(" owner ").U(ci.Owner).S(" stripe_len ").U(ci.StripeLen).S(" type ");
        ProgsNames.BlockGroupFlags(o, (ulong)ci.Type);
        o.Nl().S("\t\tio_align ").U(ci.IoAlign).S(" io_width ").U(ci.IoWidth).S(" sector_size ").U(ci.SectorSize).Nl()
         .S("\t\tnum_stripes ").U((uint)numStripes).S(" sub_stripes ").U(ci.SubStripes).Nl();
        for (int i = 0; i < numStripes; i++)
        {
            var s = ci.Stripe(i);
            o.S("\t\t\tstripe ").I(i).S(" devid ").U(s.DevId).S(" offset ").U(s.Offset).Nl()
             .S("\t\t\tdev_uuid ").Uuid(p.Slice(ChunkItem.Size + i * Stripe.Size + Stripe.Offsets.DevUuid, 16)).Nl();
        }
    }

    internal static void DevItemText(TextOut o, DevItem d)
    {
        Span<byte> u = stackalloc byte[16];
        o.S("\t\tdevid ").U(d.DevId).S(" total_bytes ").U(d.TotalBytes).S(" bytes_used ").U(d.BytesUsed).Nl()
         .S("\t\tio_align ").U(d.IoAlign).S(" io_width ").U(d.IoWidth).S(" sector_size ").U(d.SectorSize).S(" type ").U(d.Type).Nl()
         .S("\t\tgeneration ").U(d.Generation).S(" start_offset ").U(d.StartOffset).S(" dev_group ").U(d.DevGroup).Nl()
         .S("\t\tseek_speed ").U(d.SeekSpeed).S(" bandwidth ").U(d.Bandwidth).Nl();
        d.Uuid.TryWriteBytes(u, bigEndian: true, out _);
        o.S("\t\tuuid ").Uuid(u).Nl();
        d.Fsid.TryWriteBytes(u, bigEndian: true, out _);
        o.S("\t\tfsid ").Uuid(u).Nl();
    }

    private void Persistent(Span<byte> p, int size, in Key k)
    {
        _o.S("\t\tpersistent item objectid ");
        ProgsNames.ObjectId(_o, k.ObjectId, (byte)ItemType.PersistentItem);
        _o.S(" offset ").U(k.Offset).Nl();
        if (k.ObjectId != ObjectIds.DevStats)
        {
            _o.S("\t\tunknown persistent item objectid ").U(k.ObjectId).Nl();
            return;
        }
        var s = Need(p, DevStatsItem.Size);
        _o.S("\t\tdevice stats\n")
          .S("\t\twrite_errs ").U(Le.U64(s, 0)).S(" read_errs ").U(Le.U64(s, 8)).S(" flush_errs ").U(Le.U64(s, 16))
          .S(" corruption_errs ").U(Le.U64(s, 24)).S(" generation ").U(Le.U64(s, 32)).Nl();
        if (DevStatsItem.Size < size)
        {
            _o.S("\t\tunknown stats item bytes ").U((uint)(size - DevStatsItem.Size));
            for (int i = 5; i * 8 < size; i++)
                _o.S("\t\tunknown item ").I(i).S(" offset ").I(i * 8).S(" value ").U(Le.U64(Need(p, i * 8 + 8), i * 8)).Nl();
        }
    }

    private void Temporary(Span<byte> p, in Key k)
    {
        _o.S("\t\ttemporary item objectid ");
        ProgsNames.ObjectId(_o, k.ObjectId, (byte)ItemType.TemporaryItem);
        _o.S(" offset ").U(k.Offset).Nl();
        if (k.ObjectId == ObjectIds.Balance)
        {
            var b = Need(p, 8 + 3 * BalanceArgsSize);
            _o.S("\t\tbalance status flags ").U(Le.U64(b, 0)).Nl();
            _o.S("\t\tDATA\n"); BalanceArgs(b.Slice(8, BalanceArgsSize));
            _o.S("\t\tMETADATA\n"); BalanceArgs(b.Slice(8 + BalanceArgsSize, BalanceArgsSize));
            _o.S("\t\tSYSTEM\n"); BalanceArgs(b.Slice(8 + 2 * BalanceArgsSize, BalanceArgsSize));
        }
        else if (k.ObjectId == 13) _o.S("\t\tcsum tree tmp root ").U(k.Offset).Nl();
        else _o.S("\t\tunknown temporary item objectid ").U(k.ObjectId).Nl();
    }

    /// <summary>btrfs_disk_balance_args: 136 bytes.</summary>
    internal const int BalanceArgsSize = 136;

    private void BalanceArgs(ReadOnlySpan<byte> a)
    {
        _o.S("\t\tprofiles ").U(Le.U64(a, 0)).S(" devid ").U(Le.U64(a, 16)).S(" target ").U(Le.U64(a, 56)).S(" flags ").U(Le.U64(a, 64)).Nl()
          .S("\t\tusage_min ").U(Le.U32(a, 8)).S(" usage_max ").U(Le.U32(a, 12)).S(" pstart ").U(Le.U64(a, 24)).S(" pend ").U(Le.U64(a, 32)).Nl()
          .S("\t\tvstart ").U(Le.U64(a, 40)).S(" vend ").U(Le.U64(a, 48)).S(" limit_min ").U(Le.U32(a, 72)).S(" limit_max ").U(Le.U32(a, 76)).Nl()
          .S("\t\tstripes_min ").U(Le.U32(a, 80)).S(" stripes_max ").U(Le.U32(a, 84)).Nl();
    }
}
