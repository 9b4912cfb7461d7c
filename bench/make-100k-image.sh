#!/usr/bin/env bash
# Makes the check benchmark's image: 100,000 files written by the Linux kernel (loop mount), quota on.
# Usage: sudo bench/make-100k-image.sh [OUT.img]   (default: /tmp/btrfslite-100k.img)
# Sizes cycle through inline (100 B, 2000 B), one sector, 3 sectors and 64 KiB, in 100 directories.
set -euo pipefail
out=${1:-/tmp/btrfslite-100k.img}
mnt=$(mktemp -d)
cleanup() { mountpoint -q "$mnt" && umount "$mnt"; rmdir "$mnt" 2>/dev/null || true; }
trap cleanup EXIT
rm -f "$out"
truncate -s 4G "$out"
mkfs.btrfs -q -f -m single -d single -R quota "$out"
mount -o loop,noatime "$out" "$mnt"
python3 - "$mnt" <<'PY' 2>/dev/null || {
import os, sys
root = sys.argv[1]
sizes = [100, 2000, 4096, 12288, 65536]
blob = bytes((i * 7 + 3) & 0xFF for i in range(65536))
for d in range(100):
    dp = os.path.join(root, f"d{d:03d}")
    os.mkdir(dp)
    for f in range(1000):
        n = d * 1000 + f
        with open(os.path.join(dp, f"f{f:04d}"), "wb") as fh:
            fh.write(blob[: sizes[n % len(sizes)]])
PY
  # No python3: the same tree with coreutils (slower).
  head -c 65536 /dev/zero | tr '\0' 'x' > "$mnt/.blob"
  sizes=(100 2000 4096 12288 65536)
  for d in $(seq 0 99); do
    dp=$(printf '%s/d%03d' "$mnt" "$d"); mkdir "$dp"
    for f in $(seq 0 999); do
      n=$((d * 1000 + f)); head -c "${sizes[$((n % 5))]}" "$mnt/.blob" > "$(printf '%s/f%04d' "$dp" "$f")"
    done
  done
  rm "$mnt/.blob"
}
sync
umount "$mnt"
btrfs check "$out" >/dev/null 2>&1 || { echo "btrfs check failed on $out" >&2; exit 1; }
echo "$out"
