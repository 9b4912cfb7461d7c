# Unaligned and overlapping writes: reservations are whole 4 KiB sectors; a write charges only the sectors
# not yet reserved (a 2-byte write across a sector boundary charges 8 KiB; a write inside reserved sectors
# charges 0); overlapping and odd-sized writes, an append, and a write past EOF leaving a hole.
size 1G
quota enable
write u 4095 2 1           # 2 bytes over a sector boundary: 8 KiB
write u 4000 100 2         # inside reserved sectors: 0
write u 8191 4098 3        # overlaps the last reserved sector, 2 new ones
write u 100000 1 4         # 1 byte far out: one sector, a hole before it
write u 99999 3 5          # same sector as the byte at 100000: 0
write v 1 1048575 6        # 1 MiB - 1 at offset 1: 256 sectors
write v 524289 1048576 7   # overlapping, unaligned: +128 sectors... and one more
write v 2097151 2 zeros    # zeros are data too (no compression here)
sync
write u 4095 2 8           # rewrite of committed unaligned bytes: 2 sectors again
write w 12345 67890 9
write w 0 12345 10         # fills the head: the sector shared with the first write is reserved once
sync
