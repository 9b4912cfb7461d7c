# Writing into preallocated space under a limit (fstests btrfs/153 in small): with 14+ MiB of a 16 MiB
# exclusive limit used by preallocation, writing the preallocated ranges still works, because a write
# into a prealloc extent falls back to a NOCOW (metadata-only) reservation when the data reservation fails.
size 1G
quota enable
limit excl 0/5 16M
fallocate p 0 12M
fallocate q 0 2M
sync
write p 0 12M 1            # into prealloc, above what the limit leaves free
write q 0 2M 2
sync
write p 12M 2M 3           # past the prealloc: needs new space, crosses the limit: short write
sync
