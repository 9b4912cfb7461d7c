#!/usr/bin/env bash
# Whole-process wall time and peak memory of `btrfslite mkfs --rootdir` and `mkfs.btrfs --rootdir` on the same
# trees, in the same run. Trees (built once, kept under $BENCH_DIR, default /tmp/btrfslite-rootdir-bench):
#   small: 100,000 files of 100 B - 8 KiB (seeded sizes) in 100 directories
#   large: ~1 GiB in files of 1 - 64 MiB
# Both tools write an image file in $BENCH_DIR (same file system), sized by themselves (no -b / --size).
# BTRFSLITE=PATH runs that executable (e.g. the native build) instead of the JIT build.
# Usage: bench/mkfs-rootdir-vs-progs.sh [rounds=3]
set -euo pipefail
rounds=${1:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${BENCH_DIR:-/tmp/btrfslite-rootdir-bench}
mkdir -p "$dir"
dotnet build -c Release "$here/src/BtrfsLite.Cli" -v q -nologo >/dev/null
cli="$here/src/BtrfsLite.Cli/bin/Release/net10.0/btrfslite.dll"

if [ ! -e "$dir/small.done" ]; then
  rm -rf "$dir/small"; mkdir -p "$dir/small"
  python3 - "$dir/small" <<'PY'
import os, random, sys
root = sys.argv[1]; rnd = random.Random(42); blob = os.urandom(8192)
for d in range(100):
    p = os.path.join(root, f"d{d:03}"); os.mkdir(p)
    for f in range(1000):
        n = rnd.randint(100, 8192)
        with open(os.path.join(p, f"f{f:04}"), "wb") as fh: fh.write(blob[:n])
PY
  touch "$dir/small.done"
fi
if [ ! -e "$dir/large.done" ]; then
  rm -rf "$dir/large"; mkdir -p "$dir/large"
  total=0; i=0; RANDOM=7
  while [ $total -lt $((1024 * 1024 * 1024)) ]; do
    mb=$(( (RANDOM % 64) + 1 ))
    head -c $((mb * 1048576)) /dev/urandom > "$dir/large/file$i"
    total=$((total + mb * 1048576)); i=$((i + 1))
  done
  touch "$dir/large.done"
fi

measure() {
  local label=$1 tree=$2; shift 2
  local log; log=$(mktemp)
  rm -f "$dir/out.img"
  /usr/bin/time -v "$@" >/dev/null 2>"$log" || { echo "FAILED: $label"; cat "$log"; }
  local wall rss size
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  size=$(stat -c %s "$dir/out.img" 2>/dev/null || echo 0)
  printf '%-6s %-22s wall %-9s max RSS %8s KiB  image %6s MiB\n' "$tree" "$label" "$wall" "$rss" $((size >> 20))
  rm -f "$log" "$dir/out.img"
}
for tree in ${TREES:-small large}; do
  # Same page-cache state for both: read the tree once before the rounds.
  tar -cf - -C "$dir" "$tree" >/dev/null
  for r in $(seq 1 "$rounds"); do
    measure "btrfslite mkfs" "$tree" ${BTRFSLITE:-dotnet "$cli"} mkfs "$dir/out.img" --rootdir "$dir/$tree"
    measure "mkfs.btrfs" "$tree" mkfs.btrfs -q -m single -d single --rootdir "$dir/$tree" "$dir/out.img"
  done
done
