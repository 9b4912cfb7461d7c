# A file held inline keeps its inline extent when more extents follow it (fuzzer seeds 10285, 10274, 6409, 9080):
# btrfs_fallocate skips the inline extent's sector (its map covers the whole sector) and preallocates only the holes
# after it; a clone whose source starts with an inline extent copies it into the destination's page cache, reserved
# like a write of that sector (copy_inline_to_page), unless the destination at offset 0 takes the inline item itself;
# a clone into a file held inline past its first sector leaves the inline extent in place. The replay wrote the inline
# data out as a 4 KiB extent first: rsv_data and referenced +4096.
size 1G
quota enable
write f1 0 822 20
fallocate f1 0 7435
sync
clone f1 0 0 g 0
clone f1 0 0 h 65536
write k 0 500 3
sync
clone f1 4096 4096 k 8192
write m 0 700 4
fallocate m 0 128K keep
sync
truncate f1 300
clone m 0 0 n 4096
sync
