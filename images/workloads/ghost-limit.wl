# `limit` on the qgroup of a subvolume dropped while the qgroups are inconsistent, kept in memory without items (a
# "ghost", see ghost-qgroup): btrfs_limit_qgroup sets the limit in memory, then finds no LIMIT item to update, marks the
# qgroups inconsistent and the ioctl fails with ENOENT (found by the fuzzer: seeds 10177, 12133, 14186; the replay
# said ok).
size 1G
quota enable
subvol create a
write a/f 0 64K
sync
snapshot b a
sync
qgroup create 1/100
qgroup create 1/101
qgroup assign 0/256 1/100
qgroup assign 0/256 1/101
snapshot c b -i 1/100
subvol delete a
sync
limit rfer 0/256 1M        # ENOENT: 0/256 is listed, but has no items
limit excl 0/256 none      # ENOENT
write h 0 4K
sync
