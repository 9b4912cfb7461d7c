# Parent-qgroup limits: 1/100 over two subvolumes with an exclusive limit of 8 MiB; a parent's rsv_data is
# the sum of its members'; the parent's limit stops a child without limits; a third subvolume outside the
# parent is unaffected. Also subvol create -i and a qgroup assign of a fresh subvolume.
size 1G
quota enable
qgroup create 1/100
subvol create a -i 1/100
subvol create b
qgroup assign 0/257 1/100  # empty member: quick update, no rescan
subvol create c            # outside 1/100
limit excl 1/100 8M
write a/f 0 3M 1
write b/f 0 3M 2           # parent rsv_data = 6 MiB
write c/f 0 10M 3          # not limited
write b/g 0 4M 4           # parent crosses 8 MiB: short write, EDQUOT
sync
write a/h 0 1M 5           # EDQUOT: parent is full
rm b/g
sync
write a/h 0 1M 6           # fits again
sync
limit excl 1/100 none
sync
