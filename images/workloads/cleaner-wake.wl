# The kernel's cleaner drops a subvolume removed by `rm` (rmdir) and then removes its level-0 qgroup only when
# something wakes it after the removal was committed: a writeback of dirty pages (every writepages and ordered extent
# ends with a delayed iput, btrfs_add_delayed_iput), BTRFS_IOC_SYNC (`sync`). A commit alone (a snapshot of a clean
# subvolume, a qgroup ioctl) wakes nothing, so `limit` and `qgroup assign` still find the qgroup several steps later
# (found by the fuzzer: seeds 10049, 10129, 14027, 14184; the replay removed it at the first call after any commit).
# How soon after a wake the qgroup is gone is the cleaner's timing (the harness may still see it right after an fsync
# or a sync); `subvol sync` waits for it.
size 1G
quota enable
qgroup create 1/100
subvol create v
subvol create w
write v/f 0 64K 1
sync
rm v/f
rm v
snapshot s w               # commits; w is clean: nothing written back
limit excl 0/256 1M        # still there
qgroup assign 0/256 1/100
write g 0 8K 2
subvol sync                # the cleaner has run
limit excl 0/256 2M        # ENOENT
sync
