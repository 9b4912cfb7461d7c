# Punch and truncate of dirty ranges: truncating dirty data frees the dropped sectors at once (the tail
# sector is kept whole); punch writes back and waits first, so rsv_data does not drop at the punch and
# only goes to 0 at the commit; an unaligned punch edge re-reserves the edge sector (truncate_block).
size 1G
quota enable
write t 0 4M 1
truncate t 100K            # 4 MiB dirty -> 102400 reserved
write s 0 64K 2
truncate s 8K              # 56 KiB given back
truncate s 1000000         # extend: a hole, no data
sync
write p 0 2M 3
punch p 256K 512K          # aligned punch of dirty data
punch p 1000001 10000      # unaligned edges
sync
write c 0 3M 4
sync
punch c 1M 1M              # committed data: the extent stays referenced (bookend)
truncate c 500000          # unaligned truncate of committed data: the tail sector is rewritten
sync
truncate c 0
sync
