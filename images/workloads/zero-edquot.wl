# Found by the differential fuzzer (seed 31): a zero range that fails with EDQUOT changes nothing (btrfs_zero_range
# reserves the range before it drops and preallocates); replay used to drop the extents first and lose the data.
size 1G
quota enable
write a 0 1M 13
reflink a b
sync
limit rfer 0/5 768K
zero a 581632 108K
zero b 4000 10000
sync
limit rfer 0/5 none
zero a 581632 108K
sync
