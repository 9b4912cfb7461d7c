#!/usr/bin/env bash
# Qgroup accounting per changed extent on file systems of growing size (issue 11), side by side in one run:
#  (a)+(b) `btrfslite write IMG NEW --length 4096` (open, one 4 KiB file, commit) on kernel-made images of
#          10,000, 100,000 and 1,000,000 files: RUNS times with quotas on, then RUNS times with quotas off
#          (`btrfslite quota disable`; enabled again afterwards);
#  (c)     200 x (4 KiB write into an existing file + sync) on the 100,000-file image: `btrfslite replay` against
#          tools/kernel-replay.py --existing (the kernel on a loop mount of a copy of the same image, mount and
#          unmount included).
# Whole-process wall time and peak RSS from /usr/bin/time. Images are made once with bench/make-100k-image.sh
# (SIZES "100 2000 4096 12288") and kept in $IMAGES (default /tmp). Needs root, btrfs-progs, python3.
# Usage: bench/accounting-vs-files.sh [RUNS]     BTRFSLITE=path/to/btrfslite to time another build.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
images=${IMAGES:-/tmp}
work=$(mktemp -d /tmp/accounting-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
if [[ -z "${BTRFSLITE:-}" ]]; then
  dotnet build src/BtrfsLite.Cli -c Release -nologo -v q >/dev/null
  BTRFSLITE=src/BtrfsLite.Cli/bin/Release/net10.0/btrfslite
fi
echo "btrfslite: $BTRFSLITE; kernel $(uname -r); $(nproc) cores"
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
timed() { /usr/bin/time -f "%e %M" -o "$work/t" "$@" >/dev/null; cat "$work/t"; }

printf '\n(a)+(b) 4 KiB write + commit, %s runs each (median wall s, median peak RSS MiB)\n' "$runs"
printf '%-10s %10s %10s %10s %10s %8s %8s\n' files "on s" "on MiB" "off s" "off MiB" "time x" "mem x"
for n in 10000 100000 1000000; do
  img="$images/btrfslite-files-$n.img"
  [[ -f "$img" ]] || SIZES="100 2000 4096 12288" bench/make-100k-image.sh "$img" "$n" >/dev/null
  : > "$work/on"; : > "$work/off"
  for i in $(seq 1 "$runs"); do timed "$BTRFSLITE" write "$img" "d000/bench-on-$$-$i" --length 4096 >> "$work/on"; done
  "$BTRFSLITE" quota disable "$img" >/dev/null
  for i in $(seq 1 "$runs"); do timed "$BTRFSLITE" write "$img" "d000/bench-off-$$-$i" --length 4096 >> "$work/off"; done
  "$BTRFSLITE" quota enable "$img" >/dev/null
  for i in $(seq 1 "$runs"); do "$BTRFSLITE" rm "$img" "d000/bench-on-$$-$i" >/dev/null; "$BTRFSLITE" rm "$img" "d000/bench-off-$$-$i" >/dev/null; done
  ont=$(cut -d' ' -f1 "$work/on" | median); onm=$(cut -d' ' -f2 "$work/on" | median)
  oft=$(cut -d' ' -f1 "$work/off" | median); ofm=$(cut -d' ' -f2 "$work/off" | median)
  printf '%-10s %10.3f %10.1f %10.3f %10.1f %8.2f %8.2f\n' "$n" "$ont" "$(echo "$onm/1024" | bc -l)" "$oft" "$(echo "$ofm/1024" | bc -l)" \
    "$(echo "$ont/$oft" | bc -l)" "$(echo "$onm/$ofm" | bc -l)"
  echo "$n $ont" >> "$work/per-commit"
done
awk 'NR==1 {a=$2} END {printf "(b) per-commit time, 1,000,000 files against 10,000: %.2fx\n", $2 / a}' "$work/per-commit"
btrfs check --qgroup-report "$images/btrfslite-files-100000.img" >/dev/null 2>&1 && echo "100k image after the runs: btrfs check --qgroup-report clean" \
  || echo "100k image after the runs: btrfs check --qgroup-report FAILED"

printf '\n(c) 200 x (4 KiB write into an existing file + sync) on the 100,000-file image\n'
python3 - > "$work/c.wl" <<'PY'
for i in range(200):
    print(f"write d{(i * 37) % 100:03d}/f{(i * 7919) % 1000:04d} 0 4096 {i + 1}")
    print("sync")
PY
printf '%-26s %10s %12s\n' run "wall s" "max RSS MiB"
for i in $(seq 1 3); do
  cp --sparse=always "$images/btrfslite-files-100000.img" "$work/ours.img"
  cp --sparse=always "$images/btrfslite-files-100000.img" "$work/kernel.img"
  read -r ow orss < <(timed "$BTRFSLITE" replay "$work/ours.img" "$work/c.wl" --format json)
  read -r kw krss < <(timed python3 tools/kernel-replay.py "$work/kernel.img" "$work/c.wl" --existing)
  printf '%-26s %10s %12d\n' "btrfslite replay #$i" "$ow" $((orss / 1024)) "kernel-replay.py #$i" "$kw" $((krss / 1024))
  rm -f "$work/ours.img" "$work/kernel.img"
done
