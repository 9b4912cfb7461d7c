# Qgroup relations while the qgroups are inconsistent (a snapshot's -i made them so): an exclusive subvolume deleted
# from a parent takes its bytes out of the parent (the kernel's quick update, not refused); `qgroup assign` and
# `qgroup remove` rescan (btrfs-progs does when the kernel says so) even where the quick update applies.
size 1G
quota enable
subvol create a
write a/f 0 64K
sync
snapshot b a
subvol create x
write x/f 0 32K
subvol create y
sync
qgroup create 1/100
qgroup create 1/101
qgroup assign 0/256 1/100
qgroup assign 0/258 1/101
snapshot c b -i 1/100
write a/g 0 8K
sync
subvol delete x
sync
qgroup assign 0/259 1/101
write a/g2 0 8K
sync
snapshot d b -i 1/100
write a/g3 0 12K
sync
qgroup remove 0/259 1/101
sync
