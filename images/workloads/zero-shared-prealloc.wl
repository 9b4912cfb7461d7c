# Found by the differential fuzzer (seed 3): zero range growing a file whose last sector is preallocated and shared
# with a snapshot: btrfs_fallocate first zeroes the rest of that sector through the page cache (a COW: 4096 reserved
# and written back), then btrfs_zero_range reserves the whole aligned range again (one sector more than the range's
# new part).
size 1G
quota enable
subvol create s7
fallocate s7/f3 0 8775
snapshot s6 s7
truncate s6/f3 8308
sync
zero s7/f3 8192 144K
sync
zero s7/f3 4096 100
zero s7/f3 0 1M
sync
