# Failed steps are data: every failure gives ok=false and the errno name, and later steps go on. Writes
# into a missing directory, mkdir of an existing path, truncate/punch/zero/fsync of missing files, a
# clone with overlapping ranges in one file, a clone with unaligned offsets, limit of a missing qgroup,
# qgroup create of an existing one, snapshot/subvol create onto an existing name, snapshot of a missing
# source or of a plain file, subvol delete of a plain file, quota rescan and limit while quota is off.
size 512M
quota rescan               # quota off: ENOTCONN
quota enable
write nodir/a 0 4K 1       # ENOENT
mkdir d
mkdir d                    # EEXIST
truncate missing 10        # ENOENT
punch missing 0 4K         # ENOENT
zero missing 0 4K          # ENOENT
fsync missing              # ENOENT
write f 0 1M 2
sync
clone f 0 512K f 256K      # overlapping ranges in one file: EINVAL
clone f 1 4096 g 0         # unaligned source offset: EINVAL
reflink missing g          # ENOENT
limit excl 1/77 1M         # no such qgroup: ENOENT
qgroup create 1/5
qgroup create 1/5          # EEXIST
subvol create s
snapshot f s               # onto an existing file: EEXIST
snapshot sn s
snapshot sn s              # onto an existing snapshot: EEXIST (progs would snapshot into it)
subvol create s            # EEXIST
snapshot x nosuch          # no such source: ENOENT
snapshot y f               # the source is not a subvolume: EINVAL
subvol delete f            # not a subvolume: EINVAL
qgroup destroy 1/99        # ENOENT
qgroup assign 0/256 1/1    # no such parent: EINVAL
quota disable
limit excl 0/5 1M          # quota off: ENOTCONN
quota enable
rm d
sync
