# What a new subvolume or snapshot takes over: a snapshot's level-0 qgroup gets the source's limits (max_rfer,
# max_excl, flags) as btrfs_qgroup_inherit does; -i naming a missing qgroup fails with ENOENT and creates
# nothing; a subvol create that fails with EDQUOT still uses up its objectid.
size 1G
quota enable
subvol create sv
limit excl 0/256 8M
limit rfer 0/256 12M
write sv/a 0 1M 1
sync
snapshot snap sv           # 0/257 with 0/256's limits
write snap/b 0 16M 2       # stops under the inherited excl limit
sync
subvol create s2 -i 1/200  # ENOENT: nothing created
snapshot s3 sv -i 1/200    # ENOENT
qgroup create 1/200
subvol create s4 -i 1/200  # 0/258
sync
limit excl 0/256 16K       # 0/256 holds 16 KiB: no new reservation in sv fits
subvol create sv/v1        # EDQUOT, and 0/259 is used up
limit excl 0/256 none
subvol create sv/v2        # 0/260
subvol sync                # commits; nothing left to clean
sync
