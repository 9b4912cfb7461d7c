# Found by the fuzzer (seeds 692, 750 at 150 steps): a preallocated sector cloned within its own file is shared (two
# data refs of one inode at different file offsets), so a write over both places must copy on write. The replay wrote
# such ranges in place, twice into the same sectors, and stopped with a corruption error (their checksums inserted
# twice) before anything was committed.
size 1G
quota enable
fallocate f 0 60K
sync
clone f 0 4K f 128K
write f 0 176K 3
sync
fallocate g 0 64K
write g 8K 4K 4
write g 40K 8K 5
sync
