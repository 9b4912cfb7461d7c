# The seed's reproducer (shared/seed: "btrfs: qgroup: Fix qgroup reserved space leaking"; fstests btrfs/099 in
# small): quota on, an exclusive limit of 16 MiB on the top level, the same 2 MiB rewritten ten times without a
# commit, then a commit.
#   btrfslite replay new.img images/workloads/seed.wl
#       exact-range reservation charges the 2 MiB once: no write fails, rsv_data is 2 MiB until the sync and 0
#       after, exclusive grows by the one 2 MiB extent (as on Linux 6.18: seed.kernel.jsonl)
#   btrfslite replay new.img images/workloads/seed.wl --legacy-reservations
#       the 2015 scheme: every write reserves its full length again; the 8th write fails with EDQUOT (short), the
#       9th and 10th write nothing, and after the sync rsv_data still holds every rewrite's reservation but one
#       extent's: the leak
size 1G
quota enable
limit excl 0/5 16M
write a 0 2M; write a 0 2M; write a 0 2M; write a 0 2M; write a 0 2M
write a 0 2M; write a 0 2M; write a 0 2M; write a 0 2M; write a 0 2M
sync
