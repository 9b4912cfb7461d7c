# Found by the differential fuzzer (seeds 73, 97): the source's unaligned EOF block may be cloned only to or past the
# destination's EOF (EINVAL into the middle, also within one file); to the end of the destination it is fine.
size 1G
quota enable
write a 0 10000 1
write b 0 100K 2
sync
clone a 0 0 b 8192
clone a 0 0 b 98304
clone a 0 10000 b 0
write c 0 20000 3
sync
clone c 16384 0 c 0
sync
