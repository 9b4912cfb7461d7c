# Found by the fuzzer (seeds 201, 235 at 150 steps): a punch wholly inside the first hole extent map that
# btrfs_get_extent returns (start rounded down, length rounded up) returns before anything; otherwise the inode's
# time update (file_modified) reserves an item first, and btrfs_replace_file_extents two more only when whole
# sectors are punched. Over an excl limit: EDQUOT exactly where those reservations come. (Not here: a second punch
# that meets the hole extent map an earlier one cached, which the kernel does not extend; see the README.)
size 1G
quota enable
write f 0 64K
sync
limit excl 0/5 16K
punch f 200000 1M
punch f 200000 100
punch f 70000 100
zero f 200000 1M
truncate f 70000
sync
