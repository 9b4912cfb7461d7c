# Found by the fuzzer (seed 9002): a snapshot records its creating transaction as its last snapshot
# (create_pending_snapshot stamps the source's root item, then copies it), so a write into the snapshot's preallocated
# space older than that copies on write even after the source let go of the extent; the replay gave the snapshot
# last_snapshot 0 and wrote such a sector in place (4096 bytes less referenced). Space preallocated in the snapshot
# after its creation is written in place.
size 1G
quota enable
fallocate f 0 64K
sync
snapshot s .
rm f
sync
write s/f 0 4K 1
sync
fallocate s/g 0 64K
sync
write s/g 0 4K 2
sync
