# fallocate under a limit in btrfs_fallocate's order: the holes' data is reserved first, then each new extent's
# transaction reserves 3 metadata items; when that fails (after a flush) the call fails with EDQUOT and the data
# reservation goes back. A file created by such a fallocate stays (size 0). Fallocate in a snapshot with unaligned
# edges, over shared extents and past EOF.
size 1G
quota enable
subvol create s
limit excl 0/256 4M
write s/a 0 3M 1
sync
fallocate s/c 0 900K
fallocate s/d 0 100K
sync
fallocate s/e 0 64K
write s/e 0 10000 2
fallocate s/e 0 1M
sync
limit excl 0/256 none
write s/h 100K 100K 2
sync
fallocate s/h 0 400K
sync
snapshot sn s
fallocate sn/h 1000 10000
fallocate sn/a 3000 5000
fallocate sn/h 1023K 12345
sync
