# Found by the fuzzer (seed 5642 at 150 steps): a snapshot made inside a read-only snapshot. The kernel refuses it
# with EROFS (btrfs_may_create asks btrfs_permission first) and makes nothing; the replay copied the tree and wrote
# its ROOT_ITEM before its own EROFS, so the next commit wrote a subvolume without refs (btrfs check: "fs tree 257 not
# referenced"). Subvolume create, mkdir, rm and a new file there are EROFS before anything is reserved or changed;
# a writable snapshot of the read-only one takes all of them.
size 1G
quota enable
write f 0 64K 1
mkdir d
sync
snapshot rs . ro
snapshot rs/s .
subvol create rs/v
mkdir rs/e
rm rs/f
rm rs/d
write rs/g 0 4K 2
sync
snapshot rw rs
snapshot rw/s .
subvol create rw/v
mkdir rw/e
rm rw/f
write rw/g 0 4K 3
sync
