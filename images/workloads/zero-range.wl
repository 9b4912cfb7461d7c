# Zero range (FALLOC_FL_ZERO_RANGE) on dirty data, on committed data, with unaligned edges, and past EOF.
# Zero range writes back and waits first, then drops the range and preallocates it (+ its reservation).
size 1G
quota enable
write z 0 2M 1
zero z 512K 512K           # dirty range, aligned
zero z 1500000 4096        # unaligned: partial edge sectors are zeroed in place
sync
write y 0 1M 2
sync
zero y 0 4K                # committed data: a new 4 KiB prealloc extent, bookend keeps the old one
zero y 2M 1M               # past EOF: preallocates and extends the size
sync
