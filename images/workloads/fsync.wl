# fsync writes the data and logs it but does not commit: the reservation stays (moved into the ordered
# extent and then the extent record) until the next commit, rfer/excl unchanged until then. Also fsync
# of an untouched file and of a directory.
size 1G
quota enable
write f 0 2M 1
fsync f                    # rsv_data stays 2 MiB
write f 1M 2M 2            # 1 MiB of it is past the written range
fsync f
sync
write g 0 1M 3
fsync g
write g 0 1M 4             # rewrite of fsynced, uncommitted data: COW again
fsync g
fsync f                    # nothing dirty
mkdir dd
fsync dd
sync
