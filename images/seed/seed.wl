# The seed's reproducer (shared/seed: "btrfs: qgroup: Fix qgroup reserved space leaking").
# Quota on, a 16 MiB exclusive limit on the top-level subvolume, then the same 2 MiB range
# written ten times without a sync, then one commit.
#   btrfslite replay new.img images/seed/seed.wl                         -> no step fails; every reservation 0 after the sync
#   btrfslite replay new.img images/seed/seed.wl --legacy-reservations   -> the 8th write fails with EDQUOT (short), the 9th
#                                                                          and 10th too; after the sync rsv_data still holds
#                                                                          the reservation of every rewrite but one (the leak)
size 1G
quota enable
limit excl 0/5 16M
write a 0 2M 1
write a 0 2M 1
write a 0 2M 1
write a 0 2M 1
write a 0 2M 1
write a 0 2M 1
write a 0 2M 1
write a 0 2M 1
write a 0 2M 1
write a 0 2M 1
sync
