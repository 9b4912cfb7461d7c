# differential fuzzer, seed 5642 (150 steps), the first 28 steps: our image fails btrfs check ("errors found in root refs"; our check: fs trees 257 and 258 not referenced) after `snapshot s4/s0 .`; found by a re-check of our images after the run, not fixed yet (also on d5b6193)
# fuzz seed 5642
size 1G
quota enable
sync
sync
write f4 41521 192K 46
zero f4 0 144K
sync
write f4 159744 160K 37
write f4 0 216K 19
write f5 0 7592
subvol sync
snapshot s4 . ro
truncate f5 152K
write f5 16079 236K 31
write f5 0 36K 1
limit excl 0/5 256K
write f4 96666 116K 11
write f5 124254 248K
subvol delete s4
write f4 0 5286 32
snapshot s1 . ro
fallocate f4 173194 1536K
snapshot s4 s1
write s4/f5 278528 4K
write s4/f4 0 1890 2
clone s1/f4 172032 155648 s4/f4 49152
snapshot s4/s0 .
sync
