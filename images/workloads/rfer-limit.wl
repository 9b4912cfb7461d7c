# Referenced limits: a subvolume with `limit rfer 8M`; shared data counts against rfer (a snapshot of
# 6 MiB starts at 6 MiB referenced), so a small write in the snapshot already crosses the limit; an rfer
# limit on 0/5; then the limit is cleared.
size 1G
quota enable
subvol create sv
write sv/a 0 6M 1
sync
snapshot snap sv
limit rfer 0/257 8M
sync
write snap/b 0 4M 2        # 6 + 4 > 8: short write, EDQUOT
sync
write sv/c 0 4M 3          # the source has no limit
limit rfer 0/5 2M
write top 0 3M 4           # crosses 2 MiB: short write
sync
limit rfer 0/257 none
write snap/b 0 4M 5        # fits now
sync
