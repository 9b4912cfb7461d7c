# Errno classes and read-only snapshots (the random-workload issue): changes inside a read-only snapshot fail
# with EROFS; truncate and punch of a directory fail with EISDIR; a clone whose length is neither sector aligned
# nor reaching the source's end fails with EINVAL.
size 1G
quota enable
mkdir d
write d/f1 0 10000 1
write big 0 1M 2
sync
snapshot sn2 . ro
write sn2/d/f1 0 4K 3        # EROFS
write sn2/new 0 4K 3         # EROFS
truncate sn2/big 0           # EROFS
rm sn2/big                   # EROFS
mkdir sn2/x                  # EROFS
fallocate sn2/big 0 2M       # EROFS
punch sn2/big 0 4K           # EROFS
sync
truncate d 0                 # EISDIR
punch d 0 4K                 # EISDIR
clone d/f1 0 5000 c1 0       # EINVAL: unaligned, not to the end
clone d/f1 0 12288 c2 0      # EINVAL: past the end
clone d/f1 0 10000 c3 0      # to the end: ok
clone big 0 0 c4 0           # 0 = to the end
sync
