#!/usr/bin/env bash
# Makes a benchmark image with the Linux kernel (loop mount), quota on: FILES files (default 100,000, the check
# benchmark's image) in directories of 1,000.
# Usage: sudo bench/make-100k-image.sh [OUT.img] [FILES]   (default: /tmp/btrfslite-100k.img 100000)
# Sizes cycle through SIZES (default: inline 100 B and 2000 B, one sector, 3 sectors and 64 KiB).
set -euo pipefail
out=${1:-/tmp/btrfslite-100k.img}
files=${2:-100000}
sizes=${SIZES:-100 2000 4096 12288 65536}
mnt=$(mktemp -d)
cleanup() { mountpoint -q "$mnt" && umount "$mnt"; rmdir "$mnt" 2>/dev/null || true; }
trap cleanup EXIT
rm -f "$out"
# Room for the data (the largest size for every file is an upper bound) plus metadata, at least 4 GiB.
largest=$(printf '%s\n' $sizes | sort -n | tail -1)
bytes=$(( files * (largest + 2048) * 5 / 4 ))
(( bytes < 4 << 30 )) && bytes=$(( 4 << 30 ))
truncate -s "$bytes" "$out"
mkfs.btrfs -q -f -m single -d single -R quota "$out"
mount -o loop,noatime "$out" "$mnt"
python3 - "$mnt" "$files" $sizes <<'PY' 2>/dev/null || {
import os, sys
root, files = sys.argv[1], int(sys.argv[2])
sizes = [int(s) for s in sys.argv[3:]]
blob = bytes((i * 7 + 3) & 0xFF for i in range(max(sizes)))
for d in range((files + 999) // 1000):
    dp = os.path.join(root, f"d{d:03d}")
    os.mkdir(dp)
    for f in range(min(1000, files - d * 1000)):
        n = d * 1000 + f
        with open(os.path.join(dp, f"f{f:04d}"), "wb") as fh:
            fh.write(blob[: sizes[n % len(sizes)]])
PY
  # No python3: the same tree with coreutils (slower).
  read -r -a sz <<< "$sizes"
  largest=$(printf '%s\n' "${sz[@]}" | sort -n | tail -1)
  head -c "$largest" /dev/zero | tr '\0' 'x' > "$mnt/.blob"
  for d in $(seq 0 $(( (files + 999) / 1000 - 1 ))); do
    dp=$(printf '%s/d%03d' "$mnt" "$d"); mkdir "$dp"
    for f in $(seq 0 $(( (files - d * 1000 < 1000 ? files - d * 1000 : 1000) - 1 ))); do
      n=$((d * 1000 + f)); head -c "${sz[$((n % ${#sz[@]}))]}" "$mnt/.blob" > "$(printf '%s/f%04d' "$dp" "$f")"
    done
  done
  rm "$mnt/.blob"
}
sync
umount "$mnt"
btrfs check "$out" >/dev/null 2>&1 || { echo "btrfs check failed on $out" >&2; exit 1; }
echo "$out"
