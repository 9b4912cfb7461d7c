# Qgroup relations: assign of members that already have data (quick update when rfer == excl, rescan when
# shared), remove, two parents, destroy of a parent with members (EBUSY) and after removing them,
# assign of a missing qgroup (EINVAL), a relation of the wrong level (EINVAL), limits on a level-1 qgroup.
size 1G
quota enable
subvol create a
subvol create b
write a/f 0 2M 1
write b/f 0 1M 2
sync
qgroup create 1/1
qgroup create 1/2
qgroup assign 0/256 1/1    # rfer == excl: quick update
qgroup assign 0/257 1/1
reflink a/f b/g            # shared between a and b
sync
qgroup assign 0/256 1/2    # rfer != excl: marked inconsistent, rescan
qgroup remove 0/257 1/1    # a shared member leaves: rescan
sync
qgroup destroy 1/2         # has a member: EBUSY
qgroup remove 0/256 1/2
qgroup destroy 1/2
qgroup assign 0/999 1/1    # no such member: EINVAL (the kernel, not ENOENT)
qgroup assign 1/1 0/256    # wrong direction: EINVAL
limit rfer 1/1 100M
limit excl 1/1 50M
write a/h 0 1M 3
sync
