#!/usr/bin/env bash
# Builds images/kernel-reloc.img.gz: a crash image taken by Linux in the middle of a metadata balance, so its root
# tree holds relocation trees (TREE_RELOC ROOT_ITEMs, one per subvolume being relocated) as an interrupted balance
# leaves them. btrfs check reads such images clean, the kernel merges the trees at the next mount.
#
# usage: sudo images/make-reloc-image.sh
#
# How: the image lives on a host btrfs (itself a loop mount); while `btrfs balance start -m` runs on the image's own
# loop mount, `cp --reflink` takes point-in-time copies of it (each one a state a power cut could leave). The copy
# with the most relocation trees is kept, after btrfs check (full and --qgroup-report) passes on it.
# Writes images/kernel-reloc.img.gz and images/kernel-reloc.check.txt.
set -euo pipefail
export LC_ALL=C TZ=UTC
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ $(id -u) -eq 0 ]] || { echo "make-reloc-image.sh: needs root (loop mounts)" >&2; exit 1; }
WORK=$(mktemp -d)
HOSTLOOP="" LOOP=""
cleanup() {
    set +e
    mountpoint -q "$WORK/mnt" && umount "$WORK/mnt"
    [[ -n $LOOP ]] && losetup -d "$LOOP"
    mountpoint -q "$WORK/host" && umount "$WORK/host"
    [[ -n $HOSTLOOP ]] && losetup -d "$HOSTLOOP"
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/host" "$WORK/mnt"
truncate -s 2G "$WORK/host.img"
mkfs.btrfs -q "$WORK/host.img" >/dev/null
HOSTLOOP=$(losetup -f --show "$WORK/host.img")
mount "$HOSTLOOP" "$WORK/host"
img=$WORK/host/reloc.img
truncate -s 128M "$img"
mkfs.btrfs -q -U 1b7f0020-0000-4000-8000-000000000020 -m dup -d single "$img" >/dev/null
LOOP=$(losetup -f --show "$img")
mount -o commit=600 "$LOOP" "$WORK/mnt"
m=$WORK/mnt
btrfs quota enable "$m"
btrfs subvolume create "$m/sv" >/dev/null
for i in $(seq 1 4); do { yes "data $i" || true; } | head -c 1000000 > "$m/sv/big$i"; done
for i in $(seq 1 3000); do echo "small $i" > "$m/sv/s$i"; done
sync
for i in $(seq 1 24); do btrfs subvolume snapshot "$m/sv" "$m/snap$i" >/dev/null; echo "changed $i" > "$m/snap$i/s$i"; done
sync
btrfs balance start -m "$m" >/dev/null &
bal=$!
n=0
while kill -0 $bal 2>/dev/null; do n=$((n + 1)); cp --reflink=always "$img" "$WORK/host/c$n.img"; done
wait $bal
umount "$m"; losetup -d "$LOOP"; LOOP=""
best=0 pick=""
for f in "$WORK"/host/c*.img; do
    c=$(btrfs inspect-internal dump-tree -t root "$f" 2>/dev/null | grep -c "TREE_RELOC ROOT_ITEM" || true)
    if (( c > best )); then best=$c pick=$f; fi
done
(( best > 0 )) || { echo "make-reloc-image.sh: none of the $n copies holds a relocation tree; run again" >&2; exit 1; }
cp "$pick" "$WORK/kernel-reloc.img"
cd "$WORK"
{ btrfs check --qgroup-report kernel-reloc.img 2>&1; echo "exit=$?"; btrfs check kernel-reloc.img 2>&1; echo "exit=$?"; } > "$HERE/kernel-reloc.check.txt"
grep -q "exit=0" "$HERE/kernel-reloc.check.txt" && ! grep -q "exit=[1-9]" "$HERE/kernel-reloc.check.txt" \
    || { echo "make-reloc-image.sh: btrfs check is not clean on the copy" >&2; cat "$HERE/kernel-reloc.check.txt" >&2; exit 1; }
gzip -9n < kernel-reloc.img > "$HERE/kernel-reloc.img.gz"
echo "kernel-reloc: $best relocation trees (from $n copies); $(stat -c %s "$HERE/kernel-reloc.img.gz") bytes gzipped"
