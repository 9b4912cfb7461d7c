# Reflinks and clones within and across subvolumes: within one subvolume nothing changes; across
# subvolumes the destination's rfer grows and both lose the extent from excl; cloning a sub-range of an
# already shared extent changes nothing more; reflinking a dirty file flushes it first (its reservation
# stays until the commit); rm of the sources afterwards.
size 1G
quota enable
subvol create s1
subvol create s2
write s1/a 0 2M 1
sync
reflink s1/a s1/a2         # within s1
sync
reflink s1/a s2/a          # across subvolumes
sync
clone s1/a 1M 512K s2/part 0
clone s1/a 0 64K s1/a2 4M  # within, extends a2 with a hole
sync
write s1/dirty 0 1M 2
reflink s1/dirty s2/dirty  # dirty source: flushed, reserved until commit
sync
rm s1/a
rm s1/a2
sync                       # s2 owns the extent alone again
write top 0 256K 3
clone top 0 256K s1/fromtop 0
sync
