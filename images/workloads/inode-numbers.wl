# Inode numbers are not handed out twice in one mount (root->free_objectid; fuzzer seed 10259): after rm of the newest
# file its number stays used, and the next file gets the one after it. The replay gave f6 the number of f7 again.
size 1G
quota enable
write f7 0 3939 27
subvol create v0
sync
qgroup create 1/101
punch f7 56864 36K
fallocate f7 0 80K
write f7 0 204K 9
truncate f7 3953
sync
truncate f7 0
rm f7
write f6 25863 1792K 21
sync
