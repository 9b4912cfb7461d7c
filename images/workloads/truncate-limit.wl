# Found by the fuzzer (seeds 206, 294, 297 at 150 steps): at an excl limit with one node of room, a truncate that
# grows the file takes a transaction of 1 item (btrfs_setsize) and succeeds; one that shrinks or keeps the size
# takes 2 (btrfs_truncate) and fails with EDQUOT. Growing from an unaligned size also zeroes the old last sector.
size 1G
quota enable
write f 0 128K
sync
limit excl 0/5 160K
sync
truncate f 100000
truncate f 131072
truncate f 200000
sync
truncate f 204800
sync
truncate f 300000
sync
