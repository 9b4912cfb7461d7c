#!/usr/bin/env bash
# End-to-end replay of a large workload: `btrfslite replay` against the same workload on the Linux kernel
# (tools/kernel-replay.py: a fresh loop-mounted image, the same steps as syscalls), in the same run.
# Whole-process wall time and peak RSS (/usr/bin/time), then the final qgroup numbers of both compared.
# Needs root (loop mounts), btrfs-progs and python3. Usage: bench/replay-vs-kernel.sh [STEPS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-10000}
runs=${2:-3}
work=$(mktemp -d /tmp/replay-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
dotnet build src/BtrfsLite.Cli -c Release -nologo -v q >/dev/null
cli=src/BtrfsLite.Cli/bin/Release/net10.0/btrfslite
python3 bench/make-replay-workload.py "$steps" > "$work/w.wl"
echo "workload: $(grep -cv '^\(#\|size\)' "$work/w.wl") steps, $(grep -c '^sync' "$work/w.wl") syncs; kernel $(uname -r)"
printf '%-22s %10s %12s\n' run "wall s" "max RSS MiB"
for i in $(seq 1 "$runs"); do
  rm -f "$work/ours.img" "$work/kernel.img"
  /usr/bin/time -f "%e %M" -o "$work/t-ours" "$cli" replay "$work/ours.img" "$work/w.wl" --format json > "$work/ours.jsonl"
  /usr/bin/time -f "%e %M" -o "$work/t-kernel" python3 tools/kernel-replay.py "$work/kernel.img" "$work/w.wl" > "$work/kernel.jsonl"
  read -r ow orss < "$work/t-ours"; read -r kw krss < "$work/t-kernel"
  printf '%-22s %10s %12d\n' "btrfslite replay #$i" "$ow" $((orss / 1024)) "kernel-replay.py #$i" "$kw" $((krss / 1024))
done
# The same final numbers: referenced and exclusive of every qgroup after the last sync; every step's ok/errno.
python3 - "$work/ours.jsonl" "$work/kernel.jsonl" <<'PY'
import json, sys
ours = [json.loads(l) for l in open(sys.argv[1])]
kern = [json.loads(l) for l in open(sys.argv[2])]
assert len(ours) == len(kern), (len(ours), len(kern))
bad = [(o["step"], o["line"], o["errno"], k["errno"]) for o, k in zip(ours, kern) if o["errno"] != k["errno"]]
fo = {q: (v["referenced"], v["exclusive"]) for q, v in ours[-1]["qgroups"].items()}
fk = {q: (v["referenced"], v["exclusive"]) for q, v in kern[-1]["qgroups"].items()}
print("steps with a different outcome:", len(bad), bad[:5])
print("final qgroups equal:", fo == fk)
rsv = sum(1 for o, k in zip(ours, kern) for q in k["qgroups"] if q in o["qgroups"] and o["qgroups"][q]["rsv_data"] != k["qgroups"][q]["rsv_data"])
wr = sum(1 for o, k in zip(ours, kern) if o.get("written") != k.get("written"))
print("steps x qgroups with a different rsv_data:", rsv, "; writes with a different byte count:", wr)
for q in sorted(set(fo) | set(fk)):
    o, k = fo.get(q), fk.get(q)
    blocks = "" if not o or not k else "  (difference in 16 KiB tree blocks: rfer %+.2f, excl %+.2f)" % ((o[0] - k[0]) / 16384, (o[1] - k[1]) / 16384)
    print(f"  {q:8} ours {o}  kernel {k}{blocks}")
PY
