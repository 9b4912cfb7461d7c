# fallocate then write: fallocate reserves only the holes it fills and the prealloc extent is accounted at
# commit; writes into preallocated ranges reserve first and free at writeback (in-place), so no new space;
# KEEP_SIZE preallocation past EOF; a second fallocate over allocated ranges costs nothing; under a limit a
# fallocate that does not fit fails with EDQUOT and changes nothing, while writing into the preallocated
# file still works (fstests btrfs/153 in small).
size 1G
quota enable
fallocate pa 0 4M
sync
write pa 0 4M 1            # into prealloc: reserved, then freed at writeback
sync                       # no new extent: exclusive unchanged
fallocate pa 0 6M          # only the 2 MiB past the old end is new
fallocate pk 0 1M keep     # keep size: EOF stays 0
write pk 4096 8192 2       # write inside the keep-size prealloc
sync
limit excl 0/5 16M
fallocate huge 0 20M       # does not fit: EDQUOT, nothing reserved or allocated
fallocate fits 0 4M
sync
write pa 0 6M 3            # in place: no EDQUOT although usage is near the limit
write fits 0 4M 4
sync
