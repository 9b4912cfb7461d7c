# Limit overrun: a 20 MiB write into a file under an exclusive limit of 16 MiB on 0/5 stops short.
# The write reserves batch by batch; the batch that crosses the limit gets EDQUOT, the kernel flushes and
# commits the subvolume once and retries, then returns a short count. The next write gets EDQUOT with
# nothing written. After rm + sync the space is free again and a 12 MiB write fits.
size 1G
quota enable
limit excl 0/5 16M
write big 0 20M 1          # short write, EDQUOT, `written` = the prefix
write more 0 1M 2          # EDQUOT, written 0
sync
rm big
sync
write again 0 12M 3        # fits again: nothing leaked
sync
limit excl 0/5 none
write after 0 8M 4         # no limit any more
sync
