# Delalloc extent states (fuzzer seed 10290): dirty pages in a row with the same bits are one state, and the inode holds
# one nodesize of qgroup metadata per state. A write over mapped data that goes on past EOF makes two states
# (EXTENT_DELALLOC_NEW past EOF); three dirty runs of one file are three. The EDQUOT flush comes where data plus
# that metadata reach the limit, so what the write holds after it shows the count.
size 1G
quota enable
write f1 0 400K 1
sync
limit excl 0/5 900K
write f1 0 800K 2
sync
subvol create v
limit excl 0/256 1290K
write v/g 0 64K 3
write v/g 256K 64K 4
write v/g 512K 64K 5
write v/h 0 1M 6
sync
