# Found by the differential fuzzer (seed 1, shrunk): a punch whose head is in a hole (here the first sector of a
# reflinked file whose source was punched) skips that hole (find_first_non_hole): no partial-sector zeroing, no
# reservation, nothing written.
size 1G
quota enable
mkdir d0
mkdir d0/d3
write d0/d3/f6 0 72K 15
punch d0/d3/f6 0 8871
reflink d0/d3/f6 f6
punch f6 0 2414
sync
