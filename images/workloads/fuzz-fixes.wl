# Cut-down cases the differential fuzzer found (seeds 12, 24, 29, 32, 33), each fixed to the kernel's behaviour:
# a file truncated to 0 is written back at its next close (FLUSH_ON_CLOSE); a punch past EOF is not clipped (no
# tail sector zeroed); a zero range's tail page stays dirty until a truncate frees it; subvol delete of a subvolume
# holding another is ENOTEMPTY even over a limit; qgroup assign reserves metadata on the top level (EDQUOT).
size 1G
quota enable
write t 0 100K 1
sync
truncate t 0
write t 0 164K 2
write t 0 204K 3
sync
write p 9764 96K 3
sync
punch p 69838 72K
sync
write z 29465 512K 4
sync
zero z 176128 6686
truncate z 72K
sync
subvol create v
subvol create v/w
qgroup create 1/1
limit excl 0/5 64K
write big 0 1M 5
subvol delete v
qgroup assign 0/256 1/1
sync
