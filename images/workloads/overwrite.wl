# Overwrite patterns: rewrites of dirty data cost nothing, rewrites of committed data need fresh space
# (COW), a partial overwrite of a committed extent keeps the whole old extent referenced (bookend), and
# the COW rewrite of 10 MiB committed data under a 16 MiB exclusive limit stops short.
size 1G
quota enable
write f 0 4M 1
write f 1M 1M 2            # inside dirty sectors: rsv_data unchanged
write f 3M 2M 3            # half dirty, half new: +1 MiB
sync                       # one 5 MiB file: exclusive +5 MiB
write f 0 5M 4             # full rewrite of committed data: rsv 5 MiB again
sync                       # old extents freed in the same commit
write f 1M 1M 5            # partial rewrite of a committed extent
sync                       # bookend: +1 MiB, the old 5 MiB extent stays
limit excl 0/5 16M
write g 0 9M 6
sync
write g 0 9M 7             # COW rewrite: needs 9 MiB more than committed, stops short
sync
