# The time update of a zero range near a limit (found by the fuzzer: seeds 10008 and 12103, which agreed before the
# seventh session and not after it). btrfs_dirty_inode first joins the transaction and reserves the delayed inode
# item, 8 x nodesize of PREALLOC, *without* a flush (btrfs_delayed_inode_reserve_metadata -> btrfs_qgroup_reserve_meta);
# only when that fails does it start a transaction of one item, whose reservation flushes (commit) and then holds
# 16 KiB. The replay flushed at the first reservation and then held the 128 KiB, so the `limit` after the zero range
# (1 item) flushed once more in the replay only: rsv_data 0 where the kernel keeps 40960.
size 1G
quota enable
subvol create v2
qgroup create 1/100
subvol create v0 -i 1/100
snapshot s4 v0
snapshot v2/s0 v0
write s4/f7 57401 768K 48
qgroup create 1/101
quota rescan
write f6 0 256K 9
limit rfer 0/5 1088K
clone s4/f7 290816 0 f1 81920
snapshot s4/s2 v2/s0 -i 1/101
zero f6 216235 36K
limit rfer 0/5 none
sync
