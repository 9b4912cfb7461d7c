# A stub in a read-only snapshot (fuzzer seed 3 at 150 steps): a new file there is EACCES, as the stub has no
# create operation and the VFS asks that before any permission check; mkdir there is EPERM; a write to an existing
# file or a new name in the snapshot itself is EROFS. Then a snapshot onto an existing name with a missing source:
# EEXIST comes first (fuzzer seed 8). Subvolume create or snapshot into a stub: ENOTTY (the stub has no ioctls),
# and nothing changes (fuzzer seed 97: ours had left an entry in the stub's inode 2).
size 1G
quota enable
subvol create sv
subvol create sv/nested
write sv/g 0 4K 1
sync
snapshot snapro sv ro
write snapro/nested/x 0 4K 3
mkdir snapro/nested/d
write snapro/g 0 4K 4
write snapro/new 0 4K 5
mkdir snapro/d
snapshot snapro nosuch
snapshot other nosuch
snapshot snaprw sv
subvol create snaprw/nested/v
snapshot snaprw/nested/s sv
subvol create snapro/nested/v
write snaprw/h 0 8K 6
sync
