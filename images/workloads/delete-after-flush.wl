# Found by the fuzzer (seeds 349, 359 at 150 steps): `subvol delete` whose metadata reservation fails at a limit,
# flushes (a commit) and then succeeds; the replay failed with an internal error (a tree of the committed
# transaction), leaving the image at its last commit. Also truncate, whose reservation can flush the same way.
size 1G
quota enable
subvol create v
write v/f 0 8K
sync
limit rfer 0/5 128K
mkdir a
subvol delete v
mkdir b
truncate g 0
write g 0 4K
mkdir c
truncate g 100
sync
