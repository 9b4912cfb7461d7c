# Dropping a snapshot that shares blocks with a later snapshot of it: snap1 owns the blocks that mkdir CoWed,
# snap2 (a snapshot of snap1) shares them. The drop must leave them referenced by snap2 alone: blocks snap1
# owned switch to full (parent) backrefs, as the kernel's drop does. Full btrfs check judges the final image.
size 1G
write f01 0 2000
write f02 0 2000
write f03 0 2000
write f04 0 2000
write f05 0 2000
write f06 0 2000
write f07 0 2000
write f08 0 2000
write big 0 64K
snapshot snap1
mkdir snap1/x
snapshot snap2 snap1
subvol delete snap1
sync
