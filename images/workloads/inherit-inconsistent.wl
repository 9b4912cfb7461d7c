# snapshot -i QG where the quick inherit does not apply (the source has no parent) marks the qgroups inconsistent:
# until the rescan no commit accounts anything (numbers frozen; a new snapshot copies the source's referenced and one
# node exclusive; a new subvolume stays at 0); limits are checked against the frozen numbers; the rescan fixes all.
size 1G
quota enable
subvol create a
write a/f 0 1M 1
qgroup create 1/1
sync
snapshot b a -i 1/1
write a/g 0 1M 2
sync
snapshot c a
subvol create d -i 1/1
write d/h 0 100K
rm a/f
sync
limit excl 0/256 1500K
write a/k 0 1M 3
sync
quota rescan
sync
# The quick inherit: the source's only parent owns all its bytes exclusively, the snapshot joins it: +1 node, consistent.
subvol create e
write e/x 0 200K 4
qgroup create 1/3
qgroup assign 0/260 1/3
sync
snapshot f e -i 1/3
write f/y 0 8K 5
sync
# A snapshot without -i of a subvolume whose qgroup has a parent: inconsistent again.
snapshot g e
write e/z 0 100K 6
sync
