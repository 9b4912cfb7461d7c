# A truncate of a dirty file below max_inline writes its first sector back with i_size already the new one
# (truncate_setsize, then btrfs_truncate waits for the ordered range), so it goes inline and its data reservation is
# freed at once (fuzzer seed 12133; the replay wrote a 4 KiB extent). `reflink F F` opens F with O_TRUNC: btrfs_setsize
# runs btrfs_truncate although the size stays 0, so a KEEP_SIZE preallocation past EOF goes, and a later write is
# copied on write, not written in place (seed 12096; the replay freed the write's reservation at writeback).
size 1G
quota enable
write f0 4096 112K 7
sync
snapshot s .
write s/f0 0 128K 42
truncate s/f0 1735
fallocate f4 26843 236K keep
reflink f4 f4
write f4 0 224K 19
clone f4 147456 0 f5 258048
sync
