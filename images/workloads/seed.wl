# The seed scenario (the 2015 leak, fstests btrfs/099 in small): quota on, an exclusive limit of 16 MiB on
# the top level, the same 2 MiB rewritten ten times without a commit, then a commit.
# Exact-range reservation charges the 2 MiB once: no write fails, rsv_data is 2 MiB until the sync and 0
# after, exclusive grows by the one 2 MiB extent. (The legacy scheme reserved again at every write and hit
# EDQUOT at about the 8th.)
size 1G
quota enable
limit excl 0/5 16M
write a 0 2M; write a 0 2M; write a 0 2M; write a 0 2M; write a 0 2M
write a 0 2M; write a 0 2M; write a 0 2M; write a 0 2M; write a 0 2M
sync
