# quota rescan with dirty data (the random-workload issue, point 5): the rescan's commit writes nothing back, so the
# dirty data keeps its reservation through it; a rescan after a sync finds the data; nothing stays reserved after.
size 1G
quota enable
write a 0 64K 5
quota rescan
write b 0 1000 5
quota rescan
sync
write c 0 1M 6
sync
quota rescan
write c 4096 10 7
quota rescan
sync
