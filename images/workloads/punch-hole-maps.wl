# btrfs_punch_hole skips a leading hole by the extent map btrfs_get_extent returns (find_first_non_hole), and the
# kernel caches those maps: btrfs_cont_expand maps the whole hole up to a new size (truncate up, a write or fallocate
# past EOF), a punch maps what it punched. A punch whose range starts in such a hole and ends past the lookup's own
# length is wholly in it: nothing is zeroed or reserved (fuzzer seed 10282). The replay zeroed the last partial sector.
size 1G
quota enable
write f 0 232K 1
truncate f 1792K
sync
punch f 276683 76K
write g 0 8K 2
write g 1M 8K 3
sync
punch g 100001 73728
punch g 8192 40K
punch g 4097 60000
fsync g
punch g 2049 300000
write h 0 64K 4
sync
punch h 16384 16K
sync
punch h 12289 24000
fallocate h 200K 8K
punch h 100001 80000
sync
