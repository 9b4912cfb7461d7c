# A file truncated below max_inline (2048 bytes) whose first sector is written again: the kernel's writeback
# (cow_file_range_inline) writes it inline and drops the regular extent that held the sector, also where a snapshot
# shares that extent (the replay kept writing a regular 4 KiB extent, so referenced differed by one sector). A file
# flagged PREALLOC takes the nocow path, which never writes inline, even after its preallocation went.
size 1G
quota enable
write f 0 64K 1
sync
snapshot s .
truncate s/f 1409
sync
write s/f 0 1210 2
sync
write f 0 1210 3
sync
truncate f 1409
write f 0 1210 4
sync
write p 0 64K 3
fallocate p 64K 4K keep
truncate p 1409
sync
write p 0 1210 4
sync
fallocate a 0 4K keep
sync
clone a 0 4K c 64K
truncate c 1409
sync
write c 0 1210 5
sync
