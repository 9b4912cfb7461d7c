# Snapshots: the snapshot copies the source's rfer and both have excl = one node; writes in the source and
# in the snapshot become exclusive to the writer; rm in the source makes the snapshot own the shared data;
# a read-only snapshot of the top level; a snapshot taken while data is dirty (flushed by the snapshot).
size 1G
quota enable
subvol create sv
write sv/a 0 4M 1
write sv/b 0 1M 2
sync
snapshot snap sv
sync
write sv/a 0 1M 3          # COW in the source
write snap/c 0 1M 4        # new data in the snapshot
write snap/b 0 512K 5      # partial overwrite of shared data in the snapshot
sync
rm sv/a                    # the snapshot now owns a's old extent
sync
write top 0 2M 6
snapshot topsnap . ro      # read-only snapshot of the top level (contains the empty sv dir)
sync
write sv/d 0 3M 7          # dirty in the source when the snapshot is taken
snapshot snap2 sv
sync
