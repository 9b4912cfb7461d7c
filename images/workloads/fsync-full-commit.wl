# fsync where the kernel's log cannot be used and btrfs_sync_file commits the transaction instead: the reservations
# of everything written back so far go with that commit (found by the fuzzer: 149 of 541 disagreeing seeds, e.g.
# 945, 975, 1102). A block group made in the transaction sets the full-commit flag (btrfs_make_block_group), and so
# does a subvolume created in it (its root item is not on disk yet).
size 1G
quota enable
# Data space (btrfs_reserve_data_bytes never overcommits): 4 MiB dirty plus 4200 KiB more are past the first data
# group's 8 MiB, so the write makes a data chunk at once; the fsync after it commits.
write a 0 4M 1
write b 0 4200K 2
fsync a
sync
# Size classes (find_free_extent): both data groups hold medium extents now, so a 76 KiB (small) extent finds no
# group of its class and none without one: writeback makes a chunk, and the fsync commits.
write f 0 76K 3
fsync f
# No block group in this transaction: the fsync is logged, its reservation stays until the commit.
write g 0 8K 4
fsync g
sync
# A subvolume created in this transaction: an fsync inside it commits, an fsync outside it afterwards does not.
subvol create v
write v/h 0 8K 5
fsync v/h
write g 8K 4K 6
fsync g
sync
# A group emptied by a commit loses its class (btrfs_maybe_reset_size_class): with the small group empty, a 9 MiB
# (large) extent goes there without a new chunk, and its fsync is logged.
rm f
rm g
rm v/h
sync
write k 0 9M 7
fsync k
sync
# A 76 KiB extent (small) when no group is small or empty makes a chunk at writeback (here in a sync); then a
# 1.25 MiB zero range past EOF (medium) goes into a medium group with room: no chunk, its fsync is logged.
write m 0 76K 8
sync
zero m 20449 1280K
fsync m
sync
