# FICLONERANGE in btrfs_remap_file_range's order: the source and the destination range are written back before the
# arguments are checked (a refused clone still writes back); a destination offset past EOF zeroes the rest of the
# last sector through the page cache (a COW of a committed sector: +4096 reserved, then written back at once).
size 1G
quota enable
write a 0 100K 1
write b 0 10000 2
sync
clone a 0 64K b 200K
sync
write d 0 5000 3
clone a 0 8K d 6000
clone a 4K 8K d 20K
sync
write e 0 20000 3
clone a 0 0 e 100K
sync
