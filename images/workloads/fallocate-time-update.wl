# Found by the fuzzer (seeds 203, 213, 237, 238 at 150 steps): fallocate's file_modified updates the inode's times
# through btrfs_dirty_inode, whose delayed-inode reservation is one item at BTRFS_MAX_LEVEL (8 x 16 KiB) as
# rsv_meta_prealloc until the commit; where it does not fit, the kernel flushes (writing back g here, whose rsv_data
# goes at that commit) and retries with a transaction of one item. Times set in the same clock tick (a write right
# before) need no update and reserve nothing.
size 1G
quota enable
write f 0 64K
sync
limit excl 0/5 320K
write g 0 32K
fallocate f 64K 64K
sync
limit excl 0/5 1M
fallocate f 128K 16K
write f 200K 4K
fallocate f 256K 16K
sync
