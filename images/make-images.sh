#!/usr/bin/env bash
# Build the golden btrfs images in this folder with the REAL tools
# (mkfs.btrfs from btrfs-progs, the Linux kernel through a loop mount).
#
# usage: sudo images/make-images.sh [IMAGE...]      (default: every image)
#
# For every image NAME it writes, beside this script:
#   NAME.img.gz               gzip -9n of the raw image (the raw NAME.img is git-ignored)
#   NAME.dump-super.txt       btrfs inspect-internal dump-super -f NAME.img
#   NAME.dump-tree.txt        btrfs inspect-internal dump-tree NAME.img
#   NAME.dump-tree-fst.txt    btrfs inspect-internal dump-tree -t 10 NAME.img (free-space tree images)
#   NAME.check.txt            btrfs check --qgroup-report, then btrfs check; each ends with exit=N
#   NAME.files.txt            kernel images: one line per path (path, type, size, mode, nlink, ino,
#                             sha256 or symlink target)
#   NAME.xattrs.txt           kernel images: one line per xattr (path, name, length, sha256, hex value)
#   NAME.qgroups.txt          kernel images with quota: btrfs qgroup show -pcre --raw
# The last three are taken from a READ-ONLY mount of the finished image (after the rw mount was
# unmounted), so they describe the same committed state as the dumps.
#
# All tool commands run inside this folder with the relative path NAME.img, so the
# text never contains a machine-specific path: nothing is normalized.
set -euo pipefail

export LC_ALL=C
export TZ=UTC
umask 022

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SIZE=128M

if [[ $(id -u) -ne 0 ]]; then
    echo "make-images.sh: needs root (mkfs on files is fine, but loop mounts are not)" >&2
    exit 1
fi
for tool in mkfs.btrfs btrfs losetup mount umount truncate gzip sha256sum stat find awk \
            setfattr getfattr chattr fallocate mkfifo cp; do
    command -v "$tool" >/dev/null || { echo "make-images.sh: missing tool: $tool" >&2; exit 1; }
done

# ---------------------------------------------------------------------------------------------
# cleanup: every exit path unmounts and detaches what this script set up
MNT=""
LOOP=""
WORK=""
cleanup() {
    local rc=$?
    set +e
    cd /
    if [[ -n $MNT ]] && mountpoint -q "$MNT"; then
        sync
        umount "$MNT" || umount -l "$MNT"
    fi
    if [[ -n $LOOP ]]; then
        losetup -d "$LOOP" 2>/dev/null
    fi
    if [[ -n $WORK && -d $WORK ]]; then
        rmdir "$WORK/mnt" 2>/dev/null
        rmdir "$WORK" 2>/dev/null
    fi
    MNT="" LOOP=""
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

WORK=$(mktemp -d /tmp/btrfslite-images.XXXXXX)
mkdir "$WORK/mnt"

log() { printf '== %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------------------------
# deterministic file contents: text lines "<tag> <counter>\n", cut to exactly N bytes.
# Same tag + size => same bytes on every machine; compresses well, so the .gz stays small.
gen() { # gen TAG BYTES
    awk -v t="$1" -v n="$2" 'BEGIN {
        s = 0; i = 0
        while (s < n) {
            l = sprintf("%s %08d\n", t, i++)
            if (s + length(l) > n) l = substr(l, 1, n - s)
            printf "%s", l
            s += length(l)
        }
    }'
}
# write N bytes of gen TAG into FILE at byte OFFSET (no truncation)
gen_at() { # gen_at FILE OFFSET BYTES TAG
    gen "$4" "$3" | dd of="$1" bs=4096 seek="$2" oflag=seek_bytes conv=notrunc status=none
}

# ---------------------------------------------------------------------------------------------
new_image() { # new_image NAME UUID mkfs-args...
    local name=$1 uuid=$2
    shift 2
    log "mkfs $name.img: $*"
    rm -f "$name.img" "$name.img.gz"
    truncate -s "$SIZE" "$name.img"
    mkfs.btrfs -f -q -K -U "$uuid" "$@" "$name.img"
}

# noatime: reading files (cp --reflink, sha256sum) must not COW inodes, so blocks a
# snapshot shares stay shared unless the workload changes them on purpose.
mount_image() { # mount_image NAME [extra mount options]
    LOOP=$(losetup -f --show "$1.img")
    MNT=$WORK/mnt
    mount -t btrfs -o "noatime${2:+,$2}" "$LOOP" "$MNT"
}

umount_image() {
    sync
    umount "$MNT"
    MNT=""
    losetup -d "$LOOP"
    LOOP=""
}

# list every path below the mount (the fs root) with type, size, mode, nlink, ino, sha256
list_files() { # list_files NAME   (mounted)
    (
        cd "$MNT"
        printf '# path\ttype\tsize\tmode(octal)\tnlink\tino\tsha256|symlink-target|-\n'
        find . -mindepth 1 -print0 | sort -z | while IFS= read -r -d '' p; do
            IFS=$'\t' read -r type size modehex nlink ino < <(stat -c $'%F\t%s\t%f\t%h\t%i' -- "$p")
            extra=-
            case $type in
                "regular file"|"regular empty file")
                    type=file
                    extra=$(sha256sum -- "$p" | cut -d' ' -f1) ;;
                "symbolic link") type=symlink; extra=$(readlink -- "$p") ;;
                directory) type=dir ;;
                fifo) type=fifo ;;
            esac
            printf '%s\t%s\t%s\t0%o\t%s\t%s\t%s\n' "${p#./}" "$type" "$size" "$((16#$modehex))" \
                "$nlink" "$ino" "$extra"
        done
    ) >"$HERE/$1.files.txt"
    list_xattrs "$1"
}

# every xattr of every path: name, value length, sha256 of the value, value in hex if <= 64 bytes
list_xattrs() { # list_xattrs NAME   (mounted)
    (
        cd "$MNT"
        printf '# path\tname\tlength\tsha256\thex-value(if length <= 64)\n'
        find . -print0 | sort -z | while IFS= read -r -d '' p; do
            getfattr -h -m - -- "$p" 2>/dev/null | { grep -v '^#\|^$' || true; } | sort |
            while IFS= read -r n; do
                len=$(getfattr -h --only-values -n "$n" -- "$p" | wc -c)
                sha=$(getfattr -h --only-values -n "$n" -- "$p" | sha256sum | cut -d' ' -f1)
                hex=-
                if (( len <= 64 )); then
                    hex=$(getfattr -h --only-values -n "$n" -- "$p" | od -An -v -tx1 | tr -d ' \n')
                    [[ -n $hex ]] || hex=-
                fi
                printf '%s\t%s\t%s\t%s\t%s\n' "$p" "$n" "$len" "$sha" "$hex"
            done
        done
    ) >"$HERE/$1.xattrs.txt"
}

show_qgroups() { # show_qgroups NAME   (mounted)
    btrfs qgroup show -pcre --raw "$MNT" >"$HERE/$1.qgroups.txt"
}

# files/xattrs/qgroups sidecars from a READ-ONLY mount of the final image, so they describe
# exactly the committed state that the dumps show (a ro mount writes nothing; checked below)
snapshot_mounted_state() { # snapshot_mounted_state NAME
    local before after
    before=$(sha256sum <"$1.img")
    mount_image "$1" ro
    list_files "$1"
    rm -f "$1.qgroups.txt"
    if btrfs qgroup show "$MNT" >/dev/null 2>&1; then   # quotas enabled
        show_qgroups "$1"
    fi
    umount_image
    after=$(sha256sum <"$1.img")
    [[ $before == "$after" ]] || { echo "make-images.sh: ro mount changed $1.img" >&2; exit 1; }
}

# sidecars of an unmounted image, then compress it
finish_image() { # finish_image NAME
    local name=$1 rc
    log "sidecars $name"
    btrfs inspect-internal dump-super -f "$name.img" >"$name.dump-super.txt"
    btrfs inspect-internal dump-tree "$name.img" >"$name.dump-tree.txt"
    rm -f "$name.dump-tree-fst.txt"
    if grep -q 'FREE_SPACE_TREE' "$name.dump-super.txt"; then
        btrfs inspect-internal dump-tree -t 10 "$name.img" >"$name.dump-tree-fst.txt"
    fi
    {
        echo "\$ btrfs check --qgroup-report $name.img"
        set +e; btrfs check --qgroup-report "$name.img" 2>&1; rc=$?; set -e
        echo "exit=$rc"
        echo "\$ btrfs check $name.img"
        set +e; btrfs check "$name.img" 2>&1; rc=$?; set -e
        echo "exit=$rc"
    } >"$name.check.txt"
    if grep -qv '^exit=0$' <(grep '^exit=' "$name.check.txt"); then
        echo "make-images.sh: $name.img does not check clean, see $name.check.txt" >&2
        exit 1
    fi
    gzip -9n -c "$name.img" >"$name.img.gz"
}

# ---------------------------------------------------------------------------------------------
# images made by mkfs alone

img_mkfs_single() {
    new_image mkfs-single 1b7f0001-0000-4000-8000-000000000001 -m single -d single
    finish_image mkfs-single
}

img_mkfs_dup() {
    new_image mkfs-dup 1b7f0002-0000-4000-8000-000000000002
    finish_image mkfs-dup
}

img_mkfs_nofst() {
    new_image mkfs-nofst 1b7f0003-0000-4000-8000-000000000003 -R ^free-space-tree
    finish_image mkfs-nofst
}

img_mkfs_quota() {
    new_image mkfs-quota 1b7f0004-0000-4000-8000-000000000004 -m single -d single -R quota
    finish_image mkfs-quota
}

# ---------------------------------------------------------------------------------------------
# kernel-rich: the main golden image

img_kernel_rich() {
    local name=kernel-rich m i
    new_image $name 1b7f0010-0000-4000-8000-000000000010 -m single -d single -R quota
    mount_image $name
    m=$MNT

    # --- files of many sizes (<= 2048 bytes are inline with the default max_inline)
    mkdir "$m/sizes"
    for n in 1 100 2000 3000 4095 4096 5000 65536 1048576 3145728; do
        gen "size-$n" "$n" >"$m/sizes/f$n"
    done
    : >"$m/sizes/empty"

    # --- sparse file: 4 KiB at 0, 1 MiB and 5 MiB (NO_HOLES: no hole extents)
    mkdir "$m/sparse"
    gen_at "$m/sparse/holes" 0 4096 holes-0
    gen_at "$m/sparse/holes" 1048576 4096 holes-1M
    gen_at "$m/sparse/holes" 5242880 4096 holes-5M
    # a file that is only a hole, size 2 MiB
    truncate -s 2M "$m/sparse/all-hole"

    # --- preallocation
    mkdir "$m/prealloc"
    fallocate -l 1M "$m/prealloc/full"
    fallocate -l 256K "$m/prealloc/partial"
    gen_at "$m/prealloc/partial" 131072 4096 prealloc-mid
    # prealloc beyond EOF (KEEP_SIZE)
    gen "prealloc-keep" 8192 >"$m/prealloc/keep-size"
    fallocate -n -o 8192 -l 64K "$m/prealloc/keep-size"

    # --- hardlinks: several names in one dir and across dirs
    mkdir -p "$m/links/a" "$m/links/b"
    gen "hardlink" 6000 >"$m/links/a/target"
    ln "$m/links/a/target" "$m/links/a/second"
    ln "$m/links/a/target" "$m/links/a/third"
    ln "$m/links/a/target" "$m/links/b/other-dir"
    ln "$m/links/a/target" "$m/links/top-level-link"
    # so many long names for one inode in one dir that the INODE_REF item overflows
    # and the kernel switches to INODE_EXTREF items (extended iref)
    mkdir "$m/links/many"
    gen "extref" 100 >"$m/links/many/base"
    for i in $(seq -w 1 120); do
        ln "$m/links/many/base" "$m/links/many/link-$i-$(printf 'x%.0s' $(seq 1 180))"
    done

    # --- xattrs
    mkdir "$m/xattr"
    gen "xattr-file" 300 >"$m/xattr/file"
    setfattr -n user.x -v hello "$m/xattr/file"
    setfattr -n user.empty -v '' "$m/xattr/file"
    setfattr -n user.long -v "$(gen xattr-long 1500 | tr '\n' ' ')" "$m/xattr/file"
    setfattr -n trusted.t -v 0x00010203fffe "$m/xattr/file"
    setfattr -n user.dir -v on-a-directory "$m/xattr"
    : >"$m/xattr/empty-with-xattr"
    setfattr -n user.only -v 1 "$m/xattr/empty-with-xattr"

    # --- symlinks and a fifo
    mkdir "$m/special"
    ln -s ../sizes/f100 "$m/special/rel-link"
    ln -s /absolute/dangling/target "$m/special/dangling"
    ln -s "$(printf 'L%.0s' $(seq 1 1000))" "$m/special/long-target"
    ln -s ../links "$m/special/dir-link"
    mkfifo "$m/special/fifo"
    chmod 0640 "$m/special/fifo"
    chmod 4755 "$m/sizes/f1"     # setuid bit, odd modes
    chmod 0600 "$m/sizes/f100"

    # --- one directory with many entries: fs tree of several leaves, level >= 1 nodes
    mkdir "$m/many"
    for i in $(seq -w 1 300); do
        gen "many-$i" 64 >"$m/many/file-$i"
    done
    mkdir -p "$m/deep/a/b/c/d/e/f/g/h"
    gen "deep" 5000 >"$m/deep/a/b/c/d/e/f/g/h/leaf-file"

    # --- NODATACOW (=> NODATASUM): the flag must be set while the file is empty
    mkdir "$m/nocow"
    : >"$m/nocow/file"
    chattr +C "$m/nocow/file"
    gen "nocow" 20000 >>"$m/nocow/file"
    mkdir "$m/nocow/dir"
    chattr +C "$m/nocow/dir"          # files created here inherit NODATACOW
    gen "nocow-inherit" 12288 >"$m/nocow/dir/inherited"

    # --- reflinks within the top-level subvolume
    mkdir "$m/reflink"
    cp --reflink=always "$m/sizes/f1048576" "$m/reflink/clone-whole"
    sync

    # --- subvolume sub1: a level-2 fs tree. Every fat/p-NNNN file carries a 14000-byte xattr,
    # so each one fills a leaf of its own: > 493 leaves => level-1 nodes under a level-2 root.
    btrfs subvolume create "$m/sub1" >/dev/null
    mkdir "$m/sub1/dir"
    for i in $(seq -w 1 150); do
        if (( 10#$i % 3 == 0 )); then
            gen "sub1-$i" 8192 >"$m/sub1/dir/f-$i"      # regular extent
        else
            gen "sub1-$i" 200 >"$m/sub1/dir/f-$i"       # inline
        fi
    done
    gen "sub1-big" 262144 >"$m/sub1/big"
    ln "$m/sub1/big" "$m/sub1/dir/big-link"
    ln -s big "$m/sub1/big-symlink"
    setfattr -n user.sub -v one "$m/sub1/big"
    # reflink across subvolumes (top level -> sub1) and inside sub1
    cp --reflink=always "$m/sizes/f65536" "$m/sub1/from-top"
    cp --reflink=always "$m/sub1/big" "$m/sub1/big-clone"
    mkdir "$m/sub1/fat"
    for i in $(seq -w 1 600); do
        if (( 10#$i % 10 == 0 )); then
            gen "fat-$i" 4096 >"$m/sub1/fat/p-$i"       # regular extent in the fat leaves
        else
            : >"$m/sub1/fat/p-$i"
        fi
        setfattr -n user.pad -v "pad-$i:$(head -c 13992 /dev/zero | tr '\0' x)" "$m/sub1/fat/p-$i"
    done
    # a directory created last: its items sort after every fat file (last level-1 node)
    mkdir "$m/sub1/late"
    for i in 1 2 3 4; do
        gen "late-$i" $((i * 4096)) >"$m/sub1/late/l-$i"
    done
    sync

    # qgroup hierarchy: 1/100 above 0/5 and 0/<sub1>
    btrfs qgroup create 1/100 "$m"
    btrfs qgroup assign --no-rescan 0/5 1/100 "$m"
    local sub1id snap1id
    sub1id=$(btrfs inspect-internal rootid "$m/sub1")
    btrfs qgroup assign --no-rescan "0/$sub1id" 1/100 "$m"

    btrfs subvolume snapshot "$m/sub1" "$m/snap1" >/dev/null
    snap1id=$(btrfs inspect-internal rootid "$m/snap1")
    sync

    # changes in both, in different parts of the shared tree:
    # sub1 (the owner of every shared block) changes items under the FIRST level-1 node:
    # that node and the leaves it COWs become FULL_BACKREF, their children get
    # SHARED_BLOCK_REF / SHARED_DATA_REF.
    gen "sub1-changed" 8192 >"$m/sub1/dir/f-003"
    gen_at "$m/sub1/big" 65536 4096 sub1-big-overwrite
    rm "$m/sub1/dir/f-010"
    gen_at "$m/sub1/fat/p-050" 0 4096 sub1-fat-overwrite
    setfattr -n user.changed -v sub1 "$m/sub1/fat/p-051"
    # snap1 changes items under the LAST level-1 node only (normal backrefs for snap1)
    gen_at "$m/snap1/fat/p-590" 0 4096 snap1-fat-overwrite
    setfattr -n user.changed -v snap1 "$m/snap1/fat/p-599"
    gen "snap1-new" 7000 >"$m/snap1/late/new-after-snap"
    gen_at "$m/snap1/late/l-4" 4096 4096 snap1-late-overwrite
    mv "$m/snap1/late/l-2" "$m/snap1/late/l-2-renamed"
    rm "$m/snap1/late/l-1"
    # reflink from the snapshot into the top level (shared data across three roots)
    cp --reflink=always "$m/snap1/dir/f-009" "$m/reflink/from-snap1"
    # a top-level file deleted after it was written and committed
    gen "deleted" 40000 >"$m/deleted-later"
    sync
    rm "$m/deleted-later"

    # limits: rfer on level-0 qgroups, excl on 1/100 (far above the usage)
    btrfs qgroup limit 100M "0/$sub1id" "$m"
    btrfs qgroup limit 64M "0/$snap1id" "$m"
    btrfs qgroup limit -e 110M 1/100 "$m"
    sync
    btrfs quota rescan -w "$m" >/dev/null
    btrfs filesystem sync "$m"
    umount_image

    snapshot_mounted_state $name
    finish_image $name
}

# ---------------------------------------------------------------------------------------------
# kernel-small: quota, a few files, one subvolume

img_kernel_small() {
    local name=kernel-small m
    new_image $name 1b7f0011-0000-4000-8000-000000000011 -m single -d single -R quota
    mount_image $name
    m=$MNT
    gen "small-inline" 500 >"$m/inline"
    gen "small-regular" 12288 >"$m/regular"
    mkdir "$m/dir"
    gen "small-in-dir" 5000 >"$m/dir/file"
    ln "$m/regular" "$m/dir/regular-link"
    ln -s ../inline "$m/dir/symlink"
    btrfs subvolume create "$m/vol" >/dev/null
    gen "small-vol" 20000 >"$m/vol/data"
    gen "small-vol-inline" 42 >"$m/vol/tiny"
    sync
    btrfs quota rescan -w "$m" >/dev/null
    btrfs filesystem sync "$m"
    umount_image
    snapshot_mounted_state $name
    finish_image $name
}

# ---------------------------------------------------------------------------------------------
# kernel-dup: DUP metadata (mkfs default), no quota, mounted by the kernel

img_kernel_dup() {
    local name=kernel-dup m i
    new_image $name 1b7f0012-0000-4000-8000-000000000012
    mount_image $name
    m=$MNT
    gen "dup-inline" 700 >"$m/inline"
    gen "dup-regular" 70000 >"$m/regular"
    mkdir "$m/dir"
    for i in 1 2 3 4 5; do
        gen "dup-$i" $((i * 3000)) >"$m/dir/f$i"
    done
    ln -s dir/f1 "$m/link"
    btrfs filesystem sync "$m"
    umount_image
    snapshot_mounted_state $name
    finish_image $name
}

# ---------------------------------------------------------------------------------------------
ALL=(mkfs-single mkfs-dup mkfs-nofst mkfs-quota kernel-rich kernel-small kernel-dup)
cd "$HERE"
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${ALL[@]}")
for t in "${targets[@]}"; do
    case $t in
        mkfs-single) img_mkfs_single ;;
        mkfs-dup) img_mkfs_dup ;;
        mkfs-nofst) img_mkfs_nofst ;;
        mkfs-quota) img_mkfs_quota ;;
        kernel-rich) img_kernel_rich ;;
        kernel-small) img_kernel_small ;;
        kernel-dup) img_kernel_dup ;;
        *) echo "make-images.sh: unknown image $t (known: ${ALL[*]})" >&2; exit 2 ;;
    esac
done
log "done"
ls -l "$HERE"/*.img.gz >&2
