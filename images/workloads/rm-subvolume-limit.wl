# rm of a directory holding a subvolume, over a limit: rm -r empties the subvolume (unlinks are not held to the
# limit), then its rmdir is btrfs_delete_subvolume, whose reservation in the parent's qgroups is: EDQUOT, and the
# emptied subvolume stays. Found by the fuzzer (seeds 10025, 12120, 12277 and 8 more). Over the limit the limit
# ioctl itself is EDQUOT too, so the second rm fails the same way.
size 1G
quota enable
mkdir d
subvol create d/v
write d/v/f 0 64K
write d/g 0 64K
write big 0 1M
sync
limit rfer 0/5 512K
rm d
sync
limit rfer 0/5 none
rm d
sync
