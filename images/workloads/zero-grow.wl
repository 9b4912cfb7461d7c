# A zero range past EOF that starts in a preallocated extent (fuzzer seed 10083): the part past that extent is
# preallocated anew, and __btrfs_prealloc_file_range grows i_size inside the extent's own transaction (3 items), so
# btrfs_fallocate_update_isize has nothing left to do: no fourth item. The write after it flushes where that shows.
size 1G
quota enable
fallocate f1 0 64K
sync
limit excl 0/5 1200K
zero f1 16384 96K
write f2 0 1M 7
sync
