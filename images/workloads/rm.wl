# rm of dirty and of committed files: rm of a never-synced file frees its whole reservation at once (inode
# eviction); rm of committed data frees rfer/excl at the next commit; rm of a file written then fsynced;
# rm of a directory tree with dirty and committed files; rm of a missing path fails (ENOENT).
size 1G
quota enable
write d 0 6M 1
rm d                       # 6 MiB reserved -> 0 at once
write c 0 3M 2
sync
rm c                       # committed: counters drop at the commit
sync
mkdir dir
mkdir dir/sub
write dir/x 0 1M 3
write dir/sub/y 0 2M 4
sync
write dir/sub/z 0 1M 5     # dirty
write dir/x 0 4K 6         # dirty rewrite of a committed file
rm dir                     # recursive
sync
rm nothing                 # ENOENT
sync
