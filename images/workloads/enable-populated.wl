# Quota enable on a populated filesystem: data written (some committed, some dirty) before quota is on is
# found by the rescan (committed data only; dirty data of the time is never reserved, and is accounted
# at its commit); a disable/enable cycle; an explicit rescan; qgroup create while quota is off (ENOTCONN).
size 1G
write a 0 3M 1
subvol create sv
write sv/b 0 2M 2
sync
write c 0 1M 3             # dirty when quota is enabled
quota enable
sync
write d 0 1M 4
sync
quota rescan
quota disable
qgroup create 1/1          # ENOTCONN: quota not enabled
write e 0 1M 5
sync
quota enable
sync
