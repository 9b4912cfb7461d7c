# Found by the differential fuzzer (seed 16): a file only ever dirty, truncated to under 2 KiB, is written back
# inline; replay used to truncate that inline extent to the size read before the writeback (0) and lost the data.
# Then a write past its end turns the inline block into a regular one (truncate_block: one sector reserved).
size 1G
quota enable
subvol create v3
sync
write v3/f5 0 92K 34
truncate v3/f5 1370
sync
write v3/f5 28672 764
sync
write v3/g 0 1370 34
sync
write v3/g 28672 764
sync
