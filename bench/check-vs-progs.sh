#!/usr/bin/env bash
# Whole-process wall time and peak memory of `btrfslite check` and `btrfs check` on the same image, in one run.
# BTRFSLITE=PATH runs that executable (e.g. the native build) instead of the JIT build.
# Usage: bench/check-vs-progs.sh IMG [extra check args, e.g. --qgroup-report]
set -euo pipefail
img=$1; shift || true
here=$(cd "$(dirname "$0")/.." && pwd)
dotnet build -c Release "$here/src/BtrfsLite.Cli" -v q -nologo >/dev/null
cli="$here/src/BtrfsLite.Cli/bin/Release/net10.0/btrfslite.dll"
measure() {
  local label=$1; shift
  local log; log=$(mktemp)
  /usr/bin/time -v "$@" >/dev/null 2>"$log" || true
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  printf '%-22s wall %-10s max RSS %8s KiB\n' "$label" "$wall" "$rss"
  rm -f "$log"
}
cat "$img" >/dev/null  # same page-cache state for both
for i in 1 2 3; do
  measure "btrfslite check" ${BTRFSLITE:-dotnet "$cli"} check "$@" "$img"
  measure "btrfs check" btrfs check "$@" "$img"
done
