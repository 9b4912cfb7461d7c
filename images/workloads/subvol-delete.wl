# Subvolume delete: the level-0 qgroup of a live subvolume cannot be destroyed (EBUSY); after delete (the
# harness commits and waits for the cleaner) the level-0 qgroup disappears; deleting a snapshot source
# hands the shared data to the snapshot; a deleted subvolume with dirty data; deleting a member of 1/100.
size 1G
quota enable
subvol create sv
write sv/a 0 4M 1
sync
qgroup destroy 0/256       # live subvolume: EBUSY
snapshot snap sv
sync
subvol delete sv           # the snapshot now owns a alone
sync
subvol create d            # 0/258
write d/dirty 0 2M 2       # never synced
subvol delete d
sync
qgroup create 1/100
subvol create m -i 1/100   # 0/259
write m/f 0 1M 3
sync
subvol delete m
sync
subvol delete nosuch       # ENOENT
qgroup destroy 1/100
sync
