# The level-0 qgroup of a subvolume dropped while qgroups are inconsistent, in a parent, with referenced != exclusive:
# the kernel's removal stops at the quick update of the first parent and keeps the qgroup in memory (sysfs lists it,
# its items are gone; the kernel leaves the relation to its second parent on disk, ours removes it). A rescan zeroes
# it, cannot write it, and accounting stops until the next rescan.
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
quota rescan
sync
write h 0 4K
sync
quota rescan
write h2 0 8K
sync
