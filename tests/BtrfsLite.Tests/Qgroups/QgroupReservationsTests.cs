using BtrfsLite.Format;
using BtrfsLite.Qgroups;

namespace BtrfsLite.Tests.Qgroups;

public class QgroupReservationsTests
{
    private const ulong KiB = 1024, MiB = 1024 * KiB;
    private const ulong Node = 16384;
    private const ulong Fs = 5, Sub = 256, Sub2 = 257;
    private const ulong Ino = 257;

    private static QgroupReservations NewEngine(QgroupReservationMode mode = QgroupReservationMode.Default, params ulong[] level0)
    {
        var q = new QgroupReservations(mode);
        foreach (var id in level0.Length == 0 ? [Fs] : level0) Assert.Equal(QgroupStatus.Ok, q.CreateQgroup(id));
        return q;
    }

    private static ulong Q(ushort level, ulong id) => QgroupId.Make(level, id);

    /// <summary>Flusher that writes back and commits like the kernel's try_flush_qgroup, plus a hook for the commit's accounting.</summary>
    private sealed class Flusher(QgroupReservations q, params ulong[] inodes) : IQgroupFlusher
    {
        public int Calls;
        public Action? OnCommit;
        public void FlushAndCommit(ulong rootId)
        {
            Calls++;
            var records = new List<QgroupReservedRecord>();
            foreach (var ino in inodes) records.Add(q.ReleaseData(rootId, ino, 0, 1UL << 50));
            q.ConvertMetaPreallocToPertrans(rootId, ulong.MaxValue);
            foreach (var r in records) q.FreeRecord(r);
            OnCommit?.Invoke();
            q.FreeAllMetaPertrans();
        }
    }

    // ------------------------------------------------------------------ the seed scenario

    /// <summary>
    /// The 2015 cover letter: limit excl of 0/5 to 16 MiB, write [0, 2 MiB) ten times without sync,
    /// EDQUOT "at about the 8th write". Inputs: a fresh image, so 0/5 has committed excl = 16384 (the
    /// fs tree leaf); each write batch reserves data, then one nodesize of metadata (PREALLOC) for
    /// its outstanding extent; the rewrite merges into the same outstanding extent, so the excess
    /// nodesize is given back right after the batch and one 16384 stays outstanding.
    ///
    /// Legacy arithmetic (limit 16 MiB = 16777216, strict "greater than" fails):
    ///   before write k: excl 16384 + meta 16384 + data (k-1) × 2097152
    ///   write 7: 16384 + 16384 + 6 × 2097152 + 2097152 = 14712832 ≤ 16777216 → ok
    ///   write 8: 16384 + 16384 + 7 × 2097152 + 2097152 = 16809984 > 16777216 → EDQUOT
    /// Without the metadata the 8th still fails (16793600); it is the committed 16 KiB that makes it
    /// the 8th and not the 9th (8 × 2 MiB = 16777216 alone would still be allowed).
    /// </summary>
    private static (int firstFailure, int failures) SeedWrites(QgroupReservations q)
    {
        int first = 0, failures = 0;
        bool hasOutstandingExtent = false;
        for (int i = 1; i <= 10; i++)
        {
            var data = q.ReserveData(Fs, Ino, 0, 2 * MiB);
            if (data.IsEdquot)
            {
                Assert.Equal("EDQUOT", data.Status.Name());
                failures++;
                if (first == 0) first = i;
                continue;
            }
            Assert.True(q.ReserveMetaPrealloc(Fs, Node).Succeeded);
            if (hasOutstandingExtent) q.FreeMetaPrealloc(Fs, Node); // merged into the existing outstanding extent
            hasOutstandingExtent = true;
        }
        return (first, failures);
    }

    private static QgroupReservations SeedSetup(QgroupReservationMode mode)
    {
        var q = NewEngine(mode);
        q.SetUsage(Fs, Node, Node); // fresh image: the fs tree's one leaf
        q.SetLimit(Fs, QgroupLimitFlags.MaxExcl, 0, 16 * MiB);
        return q;
    }

    private static void CommitSeedExtent(QgroupReservations q)
    {
        // Writeback: one 2 MiB extent; ordered completion converts the metadata; commit frees the record and pertrans.
        var rec = q.ReleaseData(Fs, Ino, 0, 2 * MiB);
        Assert.Equal(new QgroupReservedRecord(Fs, 2 * MiB), rec);
        q.ConvertMetaPreallocToPertrans(Fs, Node);
        q.FreeRecord(rec);
        q.ApplyAccounting(Fs, (long)(2 * MiB), (long)(2 * MiB));
        q.FreeAllMetaPertrans();
    }

    [Fact]
    public void Seed_scenario_legacy_hits_EDQUOT_at_the_8th_write_and_leaks_until_close()
    {
        var q = SeedSetup(QgroupReservationMode.Legacy);
        var flusher = new Flusher(q, Ino);
        q.Flusher = flusher; // Legacy never calls it (the flush-and-retry came later)

        var (first, failures) = SeedWrites(q);
        Assert.Equal(8, first);
        Assert.Equal(3, failures); // writes 8, 9, 10
        Assert.Equal(0, flusher.Calls);
        var c = q.GetCounters(Fs);
        Assert.Equal(7 * 2 * MiB, c.RsvData); // every successful write charged its full length
        Assert.Equal(Node, c.RsvMetaPrealloc);
        Assert.Equal(2 * MiB, q.GetInodeReserved(Fs, Ino)); // but only 2 MiB is actually dirty

        CommitSeedExtent(q);
        c = q.GetCounters(Fs);
        Assert.Equal(12 * MiB, c.RsvData); // freed once per extent: 14 MiB charged, 2 MiB freed
        Assert.Equal(0UL, c.RsvMetaPrealloc + c.RsvMetaPertrans);
        Assert.Equal(Node + 2 * MiB, c.Exclusive);
        // The leak blocks even a small new write: 16384 + 2 MiB + 12 MiB + 4 MiB > 16 MiB.
        Assert.True(q.ReserveData(Fs, Ino + 1, 0, 4 * MiB).IsEdquot);

        Assert.Equal(12 * MiB, q.Close());
        Assert.Equal(0UL, q.GetCounters(Fs).RsvTotal);
    }

    [Fact]
    public void Seed_scenario_default_reserves_2MiB_once_and_nothing_after_commit()
    {
        var q = SeedSetup(QgroupReservationMode.Default);
        var flusher = new Flusher(q, Ino);
        q.Flusher = flusher;

        var (first, failures) = SeedWrites(q);
        Assert.Equal(0, first);
        Assert.Equal(0, failures);
        Assert.Equal(0, flusher.Calls);
        var c = q.GetCounters(Fs);
        Assert.Equal(2 * MiB, c.RsvData);
        Assert.Equal(Node, c.RsvMetaPrealloc);

        CommitSeedExtent(q);
        c = q.GetCounters(Fs);
        Assert.Equal(0UL, c.RsvTotal);
        Assert.Equal(Node + 2 * MiB, c.Exclusive);
        Assert.Equal(0UL, q.Close());
        Assert.Equal(0, q.UnderflowCount);
    }

    [Fact]
    public void Legacy_charges_every_rewrite_default_charges_once()
    {
        foreach (var mode in new[] { QgroupReservationMode.Default, QgroupReservationMode.Legacy })
        {
            var q = NewEngine(mode);
            for (int i = 0; i < 10; i++) Assert.True(q.ReserveData(Fs, Ino, 0, 2 * MiB).Succeeded);
            ulong expected = mode == QgroupReservationMode.Legacy ? 20 * MiB : 2 * MiB;
            Assert.Equal(expected, q.GetCounters(Fs).RsvData);
            q.FreeRecord(q.ReleaseData(Fs, Ino, 0, 2 * MiB));
            Assert.Equal(expected - 2 * MiB, q.GetCounters(Fs).RsvData);
        }
    }

    // ------------------------------------------------------------------ limits

    [Fact]
    public void Limit_is_strict_and_counts_usage_data_and_metadata()
    {
        var q = NewEngine();
        q.SetUsage(Fs, 100 * KiB, 40 * KiB);
        q.SetLimit(Fs, QgroupLimitFlags.MaxExcl, 0, 40 * KiB + 64 * KiB);
        Assert.True(q.ReserveMetaPrealloc(Fs, 32 * KiB).Succeeded);
        Assert.True(q.ReserveMetaPertrans(Fs, 16 * KiB).Succeeded);
        Assert.True(q.ReserveData(Fs, Ino, 0, 16 * KiB).Succeeded); // ends exactly at the limit: allowed
        var before = q.GetCounters(Fs);
        Assert.True(q.ReserveData(Fs, Ino, 16 * KiB, 1).IsEdquot);
        Assert.True(q.ReserveMetaPrealloc(Fs, Node).IsEdquot);
        Assert.Equal(before, q.GetCounters(Fs));
        Assert.Equal(16 * KiB, q.GetInodeReserved(Fs, Ino));

        // Referenced limit uses rfer (100 KiB).
        q.SetLimit(Fs, QgroupLimitFlags.MaxRfer, 100 * KiB + 64 * KiB, 0);
        Assert.True(q.ReserveData(Fs, Ino, 16 * KiB, 1).IsEdquot);
        q.SetLimit(Fs, QgroupLimitFlags.None, 0, 0);
        Assert.True(q.ReserveData(Fs, Ino, 16 * KiB, 1).Succeeded);
        // Reserved-only flags are stored but not enforced.
        q.SetLimit(Fs, QgroupLimitFlags.RsvExcl | QgroupLimitFlags.RsvRfer, 1, 1);
        Assert.True(q.ReserveData(Fs, Ino, 1 * MiB, 1).Succeeded);
    }

    [Fact]
    public void Limit_changed_while_reservations_are_outstanding()
    {
        var q = NewEngine();
        Assert.True(q.ReserveData(Fs, Ino, 0, 3 * MiB).Succeeded);
        q.SetLimit(Fs, QgroupLimitFlags.MaxExcl, 0, 2 * MiB); // already over
        Assert.True(q.ReserveData(Fs, Ino, 3 * MiB, 4 * KiB).IsEdquot);
        Assert.True(q.ReserveData(Fs, Ino, 1 * MiB, 1 * MiB).Succeeded); // rewriting dirty data needs nothing new
        Assert.Equal(3 * MiB, q.FreeData(Fs, Ino, 0, 3 * MiB));
        Assert.Equal(0UL, q.GetCounters(Fs).RsvData);
        Assert.True(q.ReserveData(Fs, Ino, 0, 2 * MiB).Succeeded);
        q.SetLimit(Fs, QgroupLimitFlags.MaxExcl, 0, 8 * MiB);
        Assert.True(q.ReserveData(Fs, Ino, 2 * MiB, 6 * MiB).Succeeded);
        Assert.Equal(0, q.UnderflowCount);
    }

    [Fact]
    public void Quota_override_records_but_does_not_enforce()
    {
        var q = NewEngine();
        q.SetLimit(Fs, QgroupLimitFlags.MaxExcl, 0, 4 * KiB);
        q.QuotaOverride = true;
        Assert.True(q.ReserveData(Fs, Ino, 0, 1 * MiB).Succeeded);
        Assert.Equal(1 * MiB, q.GetCounters(Fs).RsvData);
    }

    [Fact]
    public void Non_subvolume_roots_and_zero_lengths_reserve_nothing()
    {
        var q = NewEngine();
        Assert.Equal(ReserveResult.Ok(0), q.ReserveData(7, Ino, 0, 1 * MiB)); // csum tree
        Assert.Null(q.GetInodeMap(7, Ino));
        Assert.Equal(0UL, q.ReleaseData(7, Ino, 0, 1 * MiB).Bytes);
        Assert.Equal(ReserveResult.Ok(0), q.ReserveData(Fs, Ino, 5, 0));
        Assert.Equal(ReserveResult.Ok(0), q.ReserveMetaPrealloc(1, Node)); // root tree
        Assert.Equal(0UL, q.GetCounters(Fs).RsvTotal);
        Assert.True(QgroupReservations.IsSubvolumeRoot(5));
        Assert.True(QgroupReservations.IsSubvolumeRoot(256));
        Assert.False(QgroupReservations.IsSubvolumeRoot(255));
        Assert.False(QgroupReservations.IsSubvolumeRoot(unchecked((ulong)-7L))); // data reloc tree
    }

    // ------------------------------------------------------------------ flush and retry

    [Fact]
    public void EDQUOT_flushes_once_and_the_retry_can_succeed()
    {
        // btrfs/180: freed space only comes back at the commit the flush triggers.
        var q = NewEngine(QgroupReservationMode.Default, Sub);
        q.SetUsage(Sub, 3 * MiB, 3 * MiB); // a deleted file, not yet committed away
        q.SetLimit(Sub, QgroupLimitFlags.MaxExcl, 0, 4 * MiB);
        var f = new Flusher(q, Ino) { OnCommit = () => q.ApplyAccounting(Sub, -(long)(3 * MiB), -(long)(3 * MiB)) };
        q.Flusher = f;
        var r = q.ReserveData(Sub, Ino, 0, 2 * MiB);
        Assert.Equal(ReserveResult.Ok(2 * MiB), r);
        Assert.Equal(1, f.Calls);
        Assert.Equal(1, q.FlushCount);
        Assert.Equal(2 * MiB, q.GetCounters(Sub).RsvData);
    }

    [Fact]
    public void EDQUOT_after_the_retry_leaves_state_unchanged_and_legacy_never_flushes()
    {
        foreach (var mode in new[] { QgroupReservationMode.Default, QgroupReservationMode.Legacy })
        {
            var q = NewEngine(mode, Sub);
            q.SetLimit(Sub, QgroupLimitFlags.MaxExcl, 0, 1 * MiB);
            int calls = 0;
            q.Flusher = new CountingFlusher(() => calls++);
            Assert.True(q.ReserveData(Sub, Ino, 0, 512 * KiB).Succeeded);
            var cs = new ChangeSet();
            var r = q.ReserveData(Sub, Ino, 256 * KiB, 1 * MiB, cs); // 768 KiB new (legacy: 1 MiB) → over
            Assert.True(r.IsEdquot);
            Assert.Equal(0, cs.Count);
            Assert.Equal(mode == QgroupReservationMode.Default ? 1 : 0, calls);
            Assert.Equal(512 * KiB, q.GetCounters(Sub).RsvData);
            Assert.Equal(new[] { new FileRange(0, 512 * KiB) }, q.GetInodeMap(Sub, Ino)!.ToArray());
        }
    }

    private sealed class CountingFlusher(Action a) : IQgroupFlusher
    {
        public void FlushAndCommit(ulong rootId) => a();
    }

    [Fact]
    public void Metadata_reservation_flushes_unless_told_not_to()
    {
        var q = NewEngine(QgroupReservationMode.Default, Sub);
        q.SetLimit(Sub, QgroupLimitFlags.MaxExcl, 0, 64 * KiB);
        var f = new Flusher(q, Ino);
        q.Flusher = f;
        Assert.True(q.ReserveData(Sub, Ino, 0, 48 * KiB).Succeeded);
        Assert.True(q.ReserveMetaPrealloc(Sub, 2 * Node, noFlush: true).IsEdquot);
        Assert.Equal(0, f.Calls);
        // With the flush: the 48 KiB is written back and committed (accounted elsewhere), then it fits.
        Assert.True(q.ReserveMetaPrealloc(Sub, 2 * Node).Succeeded);
        Assert.Equal(1, f.Calls);
        Assert.Equal(0UL, q.GetCounters(Sub).RsvData);
    }

    // ------------------------------------------------------------------ in-place writes, fallocate, truncate, errors

    [Fact]
    public void Write_into_prealloc_reserves_then_frees_at_writeback()
    {
        var q = NewEngine(QgroupReservationMode.Default, Sub);
        Assert.Equal(QgroupStatus.Ok, q.ReserveDataOrInPlace(Sub, Ino, 0, 1 * MiB, canWriteInPlace: true).Status);
        Assert.Equal(1 * MiB, q.GetCounters(Sub).RsvData);
        // Writeback finds the prealloc extent: written in place, no new extent, freed at once.
        Assert.Equal(1 * MiB, q.FreeData(Sub, Ino, 0, 1 * MiB));
        Assert.Equal(0UL, q.GetCounters(Sub).RsvData);
    }

    [Fact]
    public void Write_into_prealloc_falls_back_to_metadata_only_when_data_fails()
    {
        var q = NewEngine(QgroupReservationMode.Default, Sub);
        q.SetUsage(Sub, 15 * MiB, 15 * MiB); // the prealloc extent is already accounted
        q.SetLimit(Sub, QgroupLimitFlags.MaxExcl, 0, 16 * MiB);
        var probed = 0;
        var r = q.ReserveDataOrInPlace(Sub, Ino, 0, 10 * MiB, (s, l) => { probed++; return s == 0 && l == 10 * MiB; });
        Assert.Equal(QgroupStatus.MetadataOnly, r.Status);
        Assert.True(r.Succeeded);
        Assert.Equal(1, probed);
        Assert.Equal(0UL, q.GetCounters(Sub).RsvData);
        Assert.Equal(0UL, q.GetInodeReserved(Sub, Ino));
        Assert.Equal(0UL, q.FreeData(Sub, Ino, 0, 10 * MiB)); // writeback in place: nothing to free
        // A COW target cannot fall back.
        Assert.True(q.ReserveDataOrInPlace(Sub, Ino, 0, 10 * MiB, canWriteInPlace: false).IsEdquot);
        // The probe is only asked after a failure.
        Assert.Equal(QgroupStatus.Ok, q.ReserveDataOrInPlace(Sub, Ino, 0, 4 * KiB, (_, _) => throw new InvalidOperationException()).Status);
    }

    [Fact]
    public void Fallocate_reserves_only_new_extent_ranges_and_is_all_or_nothing()
    {
        var q = NewEngine(QgroupReservationMode.Default, Sub);
        // [1M, 3M) is already allocated: only the hole and the part past EOF are passed.
        FileRange[] holes = [new(0, 1 * MiB), new(3 * MiB, 4 * MiB)];
        var r = q.ReserveFallocate(Sub, Ino, holes);
        Assert.Equal(ReserveResult.Ok(2 * MiB), r);
        // The prealloc extents are inserted: released into their records, freed at commit.
        var r1 = q.ReleaseData(Sub, Ino, 0, 1 * MiB);
        var r2 = q.ReleaseData(Sub, Ino, 3 * MiB, 1 * MiB);
        Assert.Equal(2 * MiB, q.GetCounters(Sub).RsvData);
        q.FreeRecord(r1);
        q.FreeRecord(r2);
        Assert.Equal(0UL, q.GetCounters(Sub).RsvData);

        // btrfs/193: EDQUOT on a later hole frees what the earlier holes reserved; dirty data of others stays.
        Assert.True(q.ReserveData(Sub, 999, 0, 8 * KiB).Succeeded);
        q.SetLimit(Sub, QgroupLimitFlags.MaxExcl, 0, 1 * MiB + 8 * KiB + 4 * KiB);
        var cs = new ChangeSet();
        r = q.ReserveFallocate(Sub, Ino, [new(0, 1 * MiB), new(2 * MiB, 2 * MiB + 8 * KiB)], cs);
        Assert.True(r.IsEdquot);
        Assert.Equal(0, cs.Count);
        Assert.Equal(8 * KiB, q.GetCounters(Sub).RsvData);
        Assert.Equal(0UL, q.GetInodeReserved(Sub, Ino));
    }

    [Fact]
    public void Truncate_of_dirty_data_frees_at_once()
    {
        var q = NewEngine();
        q.ReserveData(Fs, Ino, 0, 4 * MiB);
        Assert.Equal(4 * MiB - 102400, q.FreeData(Fs, Ino, 102400, ulong.MaxValue / 2));
        Assert.Equal(102400UL, q.GetCounters(Fs).RsvData);
        // 64 KiB written, truncated to 8 KiB: 56 KiB back.
        q.ReserveData(Fs, Ino + 1, 0, 64 * KiB);
        Assert.Equal(56 * KiB, q.FreeData(Fs, Ino + 1, 8 * KiB, 56 * KiB));
        // Eviction of a never-synced file frees the rest.
        Assert.Equal(102400UL, q.FreeInode(Fs, Ino));
        Assert.Equal(8 * KiB, q.GetCounters(Fs).RsvData);
    }

    [Fact]
    public void Error_path_frees_only_what_the_failing_call_reserved()
    {
        var q = NewEngine();
        Assert.Equal(8 * KiB, q.ReserveData(Fs, Ino, 0, 8 * KiB).Bytes); // writer A
        var mine = new ChangeSet();
        Assert.Equal(8 * KiB, q.ReserveData(Fs, Ino, 0, 16 * KiB, mine).Bytes); // writer B: only [8K, 16K) is B's
        Assert.Equal(8 * KiB, q.FreeData(Fs, Ino, mine)); // B fails (short copy / error)
        Assert.Equal(8 * KiB, q.GetCounters(Fs).RsvData);
        Assert.Equal(new[] { new FileRange(0, 8 * KiB) }, q.GetInodeMap(Fs, Ino)!.ToArray());
        Assert.Equal(0UL, q.FreeData(Fs, Ino, mine)); // twice: nothing
    }

    [Fact]
    public void Release_twice_and_record_free_at_commit()
    {
        var q = NewEngine();
        q.ReserveData(Fs, Ino, 0, 1 * MiB);
        var rec = q.ReleaseData(Fs, Ino, 0, 1 * MiB);
        Assert.Equal(1 * MiB, rec.Bytes);
        Assert.Equal(0UL, q.ReleaseData(Fs, Ino, 0, 1 * MiB).Bytes);
        Assert.Equal(1 * MiB, q.GetCounters(Fs).RsvData); // still charged until accounting
        // The next write of the same range needs a fresh reservation (COW: a new extent).
        Assert.Equal(1 * MiB, q.ReserveData(Fs, Ino, 0, 1 * MiB).Bytes);
        Assert.Equal(2 * MiB, q.GetCounters(Fs).RsvData);
        q.FreeRecord(rec);
        Assert.Equal(1 * MiB, q.GetCounters(Fs).RsvData);
    }

    // ------------------------------------------------------------------ metadata

    [Fact]
    public void Metadata_frees_and_conversion_are_clamped_to_what_the_root_holds()
    {
        var q = NewEngine(QgroupReservationMode.Default, Sub, Sub2);
        q.CreateQgroup(Q(1, 1));
        q.AddRelation(Sub, Q(1, 1));
        q.AddRelation(Sub2, Q(1, 1));
        q.ReserveMetaPrealloc(Sub, 3 * Node);
        q.ReserveMetaPrealloc(Sub2, 1 * Node);
        Assert.Equal(4 * Node, q.GetCounters(Q(1, 1)).RsvMetaPrealloc);
        // Sub2 holds only one node: freeing more must not take Sub's reservation from the parent.
        Assert.Equal(Node, q.FreeMetaPrealloc(Sub2, 5 * Node));
        Assert.Equal(3 * Node, q.GetCounters(Q(1, 1)).RsvMetaPrealloc);
        Assert.Equal(2 * Node, q.ConvertMetaPreallocToPertrans(Sub, 2 * Node));
        Assert.Equal(Node, q.ConvertMetaPreallocToPertrans(Sub, 9 * Node));
        var c = q.GetCounters(Q(1, 1));
        Assert.Equal((0UL, 3 * Node), (c.RsvMetaPrealloc, c.RsvMetaPertrans));
        Assert.Equal((0UL, 3 * Node), q.GetRootMeta(Sub));
        Assert.True(q.ReserveMetaPertrans(Sub2, Node).Succeeded);
        Assert.Equal(4 * Node, q.FreeAllMetaPertrans());
        Assert.Equal(0UL, q.GetCounters(Q(1, 1)).RsvTotal);
        Assert.Equal(0, q.UnderflowCount);
    }

    [Fact]
    public void Conversion_never_checks_limits()
    {
        var q = NewEngine();
        q.ReserveMetaPrealloc(Fs, 2 * Node);
        q.SetLimit(Fs, QgroupLimitFlags.MaxExcl, 0, Node);
        Assert.Equal(2 * Node, q.ConvertMetaPreallocToPertrans(Fs, 2 * Node));
        Assert.Equal(2 * Node, q.GetCounters(Fs).RsvMetaPertrans);
    }

    // ------------------------------------------------------------------ hierarchy

    [Fact]
    public void Three_level_hierarchy_charges_each_ancestor_once_and_parent_limits_bind_children()
    {
        // 0/256 → 1/1 and 1/2 (two parents), both → 2/1; 0/257 → 1/2; 0/5 outside.
        var q = NewEngine(QgroupReservationMode.Default, Fs, Sub, Sub2);
        foreach (var g in new[] { Q(1, 1), Q(1, 2), Q(2, 1) }) q.CreateQgroup(g);
        Assert.Equal(QgroupStatus.Ok, q.AddRelation(Sub, Q(1, 1)));
        Assert.Equal(QgroupStatus.Ok, q.AddRelation(Sub, Q(1, 2)));
        Assert.Equal(QgroupStatus.Ok, q.AddRelation(Sub2, Q(1, 2)));
        Assert.Equal(QgroupStatus.Ok, q.AddRelation(Q(1, 1), Q(2, 1)));
        Assert.Equal(QgroupStatus.Ok, q.AddRelation(Q(1, 2), Q(2, 1)));
        Assert.Equal(QgroupStatus.Exists, q.AddRelation(Sub, Q(1, 1)));
        Assert.Equal(QgroupStatus.Invalid, q.AddRelation(Q(1, 1), Q(1, 2)));
        Assert.Equal(QgroupStatus.NotFound, q.AddRelation(Sub, Q(3, 3)));

        q.ReserveData(Sub, Ino, 0, 1 * MiB);
        q.ReserveData(Sub2, Ino, 0, 2 * MiB);
        Assert.Equal(1 * MiB, q.GetCounters(Q(1, 1)).RsvData);
        Assert.Equal(3 * MiB, q.GetCounters(Q(1, 2)).RsvData);
        Assert.Equal(3 * MiB, q.GetCounters(Q(2, 1)).RsvData); // 0/256 reached twice, charged once
        Assert.Equal(0UL, q.GetCounters(Fs).RsvData);

        q.SetLimit(Q(2, 1), QgroupLimitFlags.MaxRfer, 4 * MiB, 0);
        Assert.True(q.ReserveData(Sub, Ino, 1 * MiB, 2 * MiB).IsEdquot); // child without limit, parent says no
        Assert.True(q.ReserveData(Sub, Ino, 1 * MiB, 1 * MiB).Succeeded);  // exactly 4 MiB
        Assert.True(q.ReserveData(Fs, Ino, 0, 64 * MiB).Succeeded);        // outside the parent: unaffected
        Assert.Equal(QgroupStatus.Busy, q.DestroyQgroup(Q(1, 2)));
    }

    [Fact]
    public void Assign_and_remove_move_outstanding_reservations_with_the_member()
    {
        var q = NewEngine(QgroupReservationMode.Default, Sub);
        q.CreateQgroup(Q(1, 1));
        q.CreateQgroup(Q(2, 1));
        q.AddRelation(Q(1, 1), Q(2, 1));
        q.SetUsage(Sub, 1 * MiB, 1 * MiB);
        q.ReserveData(Sub, Ino, 0, 3 * MiB);
        q.ReserveMetaPrealloc(Sub, Node);
        q.ReserveMetaPertrans(Sub, 2 * Node);

        Assert.Equal(QgroupStatus.Ok, q.AddRelation(Sub, Q(1, 1)));
        foreach (var g in new[] { Q(1, 1), Q(2, 1) })
        {
            var c = q.GetCounters(g);
            Assert.Equal((1 * MiB, 1 * MiB, 3 * MiB, Node, 2 * Node), (c.Referenced, c.Exclusive, c.RsvData, c.RsvMetaPrealloc, c.RsvMetaPertrans));
        }
        Assert.False(q.Inconsistent);
        // Frees by the member now reach the parents without underflow.
        q.FreeData(Sub, Ino, 0, 1 * MiB);
        Assert.Equal(2 * MiB, q.GetCounters(Q(2, 1)).RsvData);

        Assert.Equal(QgroupStatus.Ok, q.RemoveRelation(Sub, Q(1, 1)));
        foreach (var g in new[] { Q(1, 1), Q(2, 1) }) Assert.Equal(default, (q.GetCounters(g).RsvTotal, q.GetCounters(g).Exclusive));
        q.FreeData(Sub, Ino, 0, 3 * MiB);
        q.FreeAllMetaPertrans();
        q.FreeMetaPrealloc(Sub, Node);
        Assert.Equal(0UL, q.GetCounters(Sub).RsvTotal);
        Assert.Equal(0, q.UnderflowCount);
        Assert.Equal(QgroupStatus.NotFound, q.RemoveRelation(Sub, Q(1, 1)));
    }

    [Fact]
    public void Assign_without_quick_update_marks_inconsistent_and_moves_nothing()
    {
        var q = NewEngine(QgroupReservationMode.Default, Sub);
        q.CreateQgroup(Q(1, 1));
        q.SetUsage(Sub, 2 * MiB, 1 * MiB); // shares extents: rfer != excl
        q.ReserveData(Sub, Ino, 0, 1 * MiB);
        q.AddRelation(Sub, Q(1, 1));
        Assert.True(q.Inconsistent);
        Assert.Equal(0UL, q.GetCounters(Q(1, 1)).RsvData);
        // The member's later free cannot be taken from the parent: clamped and counted, like the kernel's warning.
        q.FreeData(Sub, Ino, 0, 1 * MiB);
        Assert.Equal(0UL, q.GetCounters(Q(1, 1)).RsvData);
        Assert.Equal(1, q.UnderflowCount);
        q.MarkConsistent();
        Assert.False(q.Inconsistent);
    }

    [Fact]
    public void Destroyed_qgroup_reserves_nothing_and_its_parent_lets_go()
    {
        var q = NewEngine(QgroupReservationMode.Default, Sub);
        q.CreateQgroup(Q(1, 1));
        q.AddRelation(Sub, Q(1, 1));
        q.SetLimit(Sub, QgroupLimitFlags.MaxExcl, 0, 1 * MiB);
        q.ReserveData(Sub, Ino, 0, 1 * MiB);
        var rec = q.ReleaseData(Sub, Ino, 0, 512 * KiB);
        Assert.Equal(QgroupStatus.Busy, q.DestroyQgroup(Q(1, 1)));
        Assert.Equal(QgroupStatus.Ok, q.DestroyQgroup(Sub));
        Assert.Equal(QgroupStatus.NotFound, q.DestroyQgroup(Sub));
        Assert.False(q.QgroupExists(Sub));
        Assert.Equal(0UL, q.GetCounters(Q(1, 1)).RsvData);
        Assert.False(q.TryGetCounters(Sub, out _));

        // No level-0 qgroup: the write goes on (no limit) and charges nobody; old frees are no-ops.
        Assert.True(q.ReserveData(Sub, Ino, 4 * MiB, 8 * MiB).Succeeded);
        q.FreeRecord(rec);
        q.FreeData(Sub, Ino, 0, 1UL << 40);
        Assert.Equal(0UL, q.GetCounters(Q(1, 1)).RsvData);
        Assert.Equal(0, q.UnderflowCount);

        // Recreated: starts from zero and charges again.
        q.CreateQgroup(Sub);
        Assert.Equal(1 * MiB, q.ReserveData(Sub, Ino, 0, 1 * MiB).Bytes);
        Assert.Equal(1 * MiB, q.GetCounters(Sub).RsvData);
        Assert.Equal(QgroupStatus.Ok, q.DestroyQgroup(Q(1, 1)));
    }

    [Fact]
    public void Accounting_clamps_at_zero_and_counts_underflow()
    {
        var q = NewEngine();
        q.ApplyAccounting(Fs, 100, 50);
        q.ApplyAccounting(Fs, -40, -60);
        var c = q.GetCounters(Fs);
        Assert.Equal((60UL, 0UL), (c.Referenced, c.Exclusive));
        Assert.Equal(1, q.UnderflowCount);
        Assert.Equal(QgroupStatus.NotFound, q.ApplyAccounting(Q(1, 9), 1, 1));
        Assert.Throws<KeyNotFoundException>(() => q.GetCounters(Q(1, 9)));
    }

    // ------------------------------------------------------------------ ids

    [Theory]
    [InlineData("0/5", 0, 5UL)]
    [InlineData("1/100", 1, 100UL)]
    [InlineData("65535/281474976710655", 65535, 281474976710655UL)]
    public void QgroupId_round_trips(string text, ushort level, ulong id)
    {
        var q = QgroupId.Parse(text);
        Assert.Equal(level, q.Level);
        Assert.Equal(id, q.Id);
        Assert.Equal(((ulong)level << 48) | id, q.Value);
        Assert.Equal(text, q.ToString());
        Assert.Equal(text, QgroupId.Format(q));
    }

    [Theory]
    [InlineData("5")]
    [InlineData("/5")]
    [InlineData("0/")]
    [InlineData("0/-1")]
    [InlineData("65536/1")]
    [InlineData("0/281474976710656")]
    public void QgroupId_rejects_bad_text(string text)
    {
        Assert.False(QgroupId.TryParse(text, out QgroupId _));
        Assert.Throws<FormatException>(() => QgroupId.Parse(text));
    }

    [Fact]
    public void Errno_names()
    {
        Assert.Equal("EDQUOT", QgroupStatus.Edquot.Name());
        Assert.Equal(-122, QgroupStatus.Edquot.ToErrno());
        Assert.Equal("", QgroupStatus.Ok.Name());
    }
}
