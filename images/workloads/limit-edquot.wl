# The qgroup ioctls start transactions on the top level (the mount point), whose qgroup metadata reservation is
# enforced: while 0/5 is over a limit, `limit` (1 item) and `qgroup create`/`destroy` (2 items) fail with EDQUOT,
# even a `limit ... none` that would lift it. A limit on another qgroup does not stop them.
size 1G
quota enable
write big 0 3M 3
sync
qgroup create 1/100
limit excl 0/5 3M
limit excl 0/5 none
limit rfer 1/100 10M
qgroup create 1/101
qgroup destroy 1/100
rm big
sync
limit excl 0/5 none
qgroup create 1/101
qgroup destroy 1/100
sync
