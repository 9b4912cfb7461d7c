# Nested subvolumes seen through a snapshot: the snapshot's entry for a subvolume it does not own is an empty
# directory stub (the kernel's BTRFS_EMPTY_SUBVOL_DIR_OBJECTID inode); writing or deleting through it fails,
# removing it drops the entry; rm of a tree removes the (empty) subvolumes nested in it.
size 1G
quota enable
subvol create sv
subvol create sv/nested
write sv/nested/f 0 8K 1
write sv/g 0 4K 2
sync
snapshot snap sv
write snap/nested/x 0 4K 3
mkdir snap/nested/d
write snap/g 0 4K 4
subvol delete snap/nested
fsync snap/nested
sync
subvol delete sv/nested
sync
rm snap/nested
sync
mkdir t
subvol create t/a
subvol create t/a/b
sync
rm t
subvol sync
sync
