#!/usr/bin/env bash
# Coverage-guided fuzzing of BtrfsLite with afl++ and SharpFuzz (tools/BtrfsLite.Fuzz).
#
#   tools/fuzz.sh TARGET [MINUTES] [BASE]     TARGET: open | check | dump | ls | write | workload
#
# Builds the harness, instruments BtrfsLite.Core.dll with sharpfuzz, seeds a corpus (a few edit lists for the image
# targets, the workloads of images/workloads for `workload`) and runs afl-fuzz for MINUTES (default 60) on BASE
# (default images/kernel-small.img.gz). Findings land in fuzz-out/TARGET/ (crashes/, hangs/); replay one (plain build) with
#   dotnet tools/BtrfsLite.Fuzz/bin/Release/net10.0/btrfslite-fuzz.dll --run TARGET BASE FILE
# Needs afl++ (apt-get install afl++; .ci/run installs it); installs the SharpFuzz.CommandLine tool (2.3.0) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?target: open|check|dump|ls|write|workload}
minutes=${2:-60}
base=${3:-images/kernel-small.img.gz}
out=fuzz-out/$target
bin=tools/BtrfsLite.Fuzz/bin/Release/net10.0
export PATH="$PATH:$HOME/.dotnet/tools"
command -v afl-fuzz >/dev/null || { echo "afl-fuzz missing: apt-get install afl++" >&2; exit 2; }
command -v sharpfuzz >/dev/null || dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0 >/dev/null
dotnet build tools/BtrfsLite.Fuzz -c Release -v quiet -nologo >/dev/null
# Instrument a copy: the build output stays plain for replays (--run), which instrumented code cannot do outside afl.
inst=fuzz-out/bin-instrumented
rm -rf "$inst" && mkdir -p fuzz-out && cp -r "$bin" "$inst"
sharpfuzz "$inst/BtrfsLite.Core.dll" >/dev/null
corpus=$(mktemp -d)
if [ "$target" = workload ]; then
  cp images/workloads/*.wl "$corpus/"
else
  # Edit lists: [u32 block][u16 offset][u8 value][u8 flags], flags bit 0 re-stamps the checksum.
  python3 - "$corpus" <<'PY'
import struct, sys, random
d = sys.argv[1]
rnd = random.Random(1)
for i in range(8):
    recs = b"".join(struct.pack("<IHBB", rnd.randrange(1 << 32), rnd.randrange(16384), rnd.randrange(256), i % 2) for _ in range(1 + i % 3))
    open("%s/seed-%d" % (d, i), "wb").write(recs)
PY
fi
mkdir -p "$out"
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1
args=("$target"); [ "$target" = workload ] || args+=("$base")
timeout --preserve-status $((minutes * 60)) afl-fuzz -i "$corpus" -o "$out" -t 10000 -m none -- dotnet "$inst/btrfslite-fuzz.dll" "${args[@]}" || true
rm -rf "$corpus"
stats=$(find "$out" -name fuzzer_stats | head -1)
[ -n "$stats" ] && grep -E "execs_done|execs_per_sec|saved_crashes|saved_hangs|run_time|corpus_count" "$stats"
