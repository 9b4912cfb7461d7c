# Found by the fuzzer (seed 6409, "referenced after a sync" +4096): a clone past the first sector of a file held
# inline leaves the inline extent as it is, followed by a hole and the cloned extent; the replay wrote the inline data
# out as a 4 KiB extent first. A clone over the first sector replaces it.
size 1G
quota enable
write src 0 64K 1
write dst 0 431 2
write dst2 0 431 3
sync
clone src 0 64K dst 65536
sync
clone src 0 64K dst2 0
sync
