# rm of a subvolume (rmdir of an emptied one): the kernel's cleaner drops the tree after the next commit and only then
# removes the level-0 qgroup (btrfs_qgroup_cleanup_dropped_subvolume), so until that commit the qgroup takes a limit
# and a relation (found by the fuzzer: 46 seeds, e.g. 1004, 1317, 6026, 9279: limit ENOENT, assign EINVAL); after the
# sync it is gone.
size 1G
quota enable
qgroup create 1/100
subvol create v
write v/f 0 64K 1
sync
rm v/f
rm v
limit excl 0/256 1M
qgroup assign 0/256 1/100
write g 0 8K 2
sync                       # the cleaner runs after this commit: listed or not right after it, by timing
subvol sync
sync
limit excl 0/256 2M        # ENOENT
qgroup create 0/256        # EINVAL
sync
