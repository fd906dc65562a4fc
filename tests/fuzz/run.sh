#!/usr/bin/env bash
# tests/fuzz/run.sh [--long]: builds the libFuzzer harnesses of tests/fuzz/fuzz.c
# with clang under AddressSanitizer + UBSan into ./build-fuzz and runs each:
#   default (CI): FUZZ_RUNS inputs per reader (default 8000; 1000 for the two
#     HDF5 readers, FUZZ_RUNS_H5, whose inputs cost ~10x more), libFuzzer seed 1
#     (the same inputs on every run), at most FUZZ_SECONDS each;
#   --long: FUZZ_SECONDS (default 600) per reader, no input limit, a new seed.
# Seeds are valid files of each kind: the shipped configs and sweeps, folds
# manifests with their hash line in today's format, a small NIfTI, a b-table,
# and for the model and store readers edit lists (fuzz.c) applied to a valid
# file the harness makes. The fuzz build skips the folds and model content
# hashes (io/hash.h HASH_CHECKED) so mutation reaches the parsers behind them.
# Prints each reader's edge coverage (libFuzzer "cov:") at the end. Fails on
# any crash, sanitizer report or hang (the reproducer is kept in build-fuzz/crashes).
# Memory a refused input leaves allocated is not a finding (detect_leaks=0;
# the readers' error path is exit), hence the raised RSS limit.
# Skips (exit 77, saying why) when clang is missing.
set -uo pipefail
cd "$(dirname "$0")/../.."
long=0
[ "${1:-}" = "--long" ] && long=1
if [ $long = 1 ]; then
  secs=${FUZZ_SECONDS:-600} runs=-1 runs_h5=-1 seed=0   # 10 minutes a reader, a new seed each time
else
  secs=${FUZZ_SECONDS:-120}   # a cap per reader
  runs=${FUZZ_RUNS:-8000}     # inputs per reader; with -seed=1 the same inputs every run (CI is reproducible)
  runs_h5=${FUZZ_RUNS_H5:-1000} seed=1
fi
targets="config folds sweep nifti btable model store"
say() { echo "fuzz: $*"; }
command -v clang >/dev/null || { say "SKIPPED: clang is not installed (apt-get install clang)"; exit 77; }
mkdir -p build-fuzz; log=build-fuzz/build.log
say "build ./build-fuzz (clang, -fsanitize=fuzzer,address,undefined; about 2 min on 2 cores)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCORDSEG_FUZZ=ON -DCORDSEG_SANITIZE=address,undefined \
  -DCORDSEG_WITH_CUDA=OFF -DCORDSEG_CUDA_EMUL=OFF -DCORDSEG_WITH_MPI=OFF -DCORDSEG_NATIVE=OFF >"$log" 2>&1 ||
  { tail -20 "$log"; exit 1; }
cmake --build build-fuzz -j"$(nproc)" --target $(printf 'fuzz_%s ' $targets) >>"$log" 2>&1 ||
  { awk '/error/ && n++ < 20' "$log"; exit 1; }
B=build-fuzz
S=$B/seeds
rm -rf "$S" $B/crashes && mkdir -p $(printf "$S/%s " $targets) $B/crashes
cp configs/*.ini "$S/config/" && rm -f "$S"/config/sweep_*.ini
cp configs/sweep_*.ini "$S/sweep/"
python3 - "$S/folds" <<'PYEOF'
import sys
# folds manifests as io/folds.c writes them, each with its valid hash line
def fnv(b):
    h = 0xcbf29ce484222325
    for c in b: h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
    return h
heads = "# cordseg folds: seeds for tests/fuzz\ncordseg-folds 1\nstore s.h5 fnv1a64:00112233445566aa\nseed 11\n"
bodies = {
  "k3": heads + "subjects 6\nfolds 3\nids 1 2 3 4 5 7\nnames sub-a sub-b sub-c sub-d sub-e sub-f\n"
        "split TTTTVX\nfold0 XXTTVT\nfold1 TVXXTT\nfold2 VTTTXX\n",
  "k2": heads + "subjects 4\nfolds 2\nfrom splits.json\nids 10 20 30 40\nsplit TVTX\nfold0 XXVT\nfold1 TVXX\n",
}
for name, body in bodies.items():
    b = body.encode()
    open(f"{sys.argv[1]}/{name}.txt", "wb").write(b + b"hash fnv1a64:%016x\n" % fnv(b))
PYEOF
# edit lists for the model and store harnesses (tests/fuzz/fuzz.c); the empty one is the valid file itself
: > "$S/model/valid"; : > "$S/store/valid"
printf 'a / mode s argmax\na / height i 4096\na / width i 4096\n' > "$S/model/attrs"
printf 'a / spacing_row f 1e-30\na / input v b0\na member_00 fold i 99\n' > "$S/model/vlen"
printf 'z member_00/params 0\nm member_00/buffers 100000\nd member_00/thresholds 3 nan\n' > "$S/model/values"
printf 'x member_00 config\nr member_00/buffers\na / members i 2\n' > "$S/model/missing"
printf 'a / checksum s fnv1a64:zz\na / n_slices i 99\n' > "$S/store/attrs"
printf 'x / checksum\nd labels 5 9\nd fa 3 nan\nd spacing 1 0\n' > "$S/store/values"
printf 'r level\na / schema_version i 7\na / created_by v x\n' > "$S/store/missing"
data=${CORDSEG_DATA:-../shared/data}
if [ -f "$data/sct_dmri/bvals.txt" ] && [ -f "$data/sct_dmri/bvecs.txt" ]; then
  { cat "$data/sct_dmri/bvals.txt"; printf '\0'; cat "$data/sct_dmri/bvecs.txt"; } > "$S/btable/sct"
else
  { printf '0 1000 1000\0'; printf '0 1 0\n0 0 1\n0 0 0\n'; } > "$S/btable/min"
fi
python3 - "$S/nifti/small.nii" <<'PYEOF'
import struct, sys
# a 4x3x2 float32 NIfTI-1 (.nii), RAS, 1 mm
hdr = bytearray(348)
struct.pack_into("<i", hdr, 0, 348)
struct.pack_into("<8h", hdr, 40, 3, 4, 3, 2, 1, 1, 1, 1)
struct.pack_into("<hh", hdr, 70, 16, 32)  # datatype FLOAT32, bitpix
struct.pack_into("<8f", hdr, 76, 1, 1, 1, 1, 1, 1, 1, 1)
struct.pack_into("<f", hdr, 108, 352.0)   # vox_offset
struct.pack_into("<f", hdr, 112, 1.0)     # scl_slope
struct.pack_into("<hh", hdr, 252, 0, 1)   # qform 0, sform 1 (scanner)
struct.pack_into("<4f", hdr, 280, 1, 0, 0, 0)
struct.pack_into("<4f", hdr, 296, 0, 1, 0, 0)
struct.pack_into("<4f", hdr, 312, 0, 0, 1, 0)
hdr[344:348] = b"n+1\0"
data = struct.pack("<24f", *[float(i) for i in range(24)])
open(sys.argv[1], "wb").write(bytes(hdr) + b"\0\0\0\0" + data)
PYEOF
# the harnesses write each input to a file: in memory where there is /dev/shm (the HDF5 ones copy a model per input)
fuzz_tmp=$(mktemp -d /dev/shm/cordseg-fuzz.XXXXXX 2>/dev/null || mktemp -d "$PWD/$B/tmp.XXXXXX")
trap 'rm -rf "$fuzz_tmp"' EXIT
fail=0 cov=""
for t in $targets; do
  n=$runs
  case $t in model|store) n=$runs_h5 ;; esac
  say "fuzz_$t: $([ "$n" = -1 ] && echo "${secs} s" || echo "$n inputs (seed $seed, at most ${secs} s)")"
  TMPDIR=$fuzz_tmp ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    timeout $((secs + 60)) $B/fuzz_$t -seed=$seed -runs="$n" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=8192 -close_fd_mask=2 \
    -artifact_prefix=$B/crashes/$t- "$S/$t" > $B/fuzz_$t.log 2>&1
  rc=$?
  got=$(grep -oE "Done [0-9]+ runs in [0-9]+ second" $B/fuzz_$t.log | tail -1)
  c=$(grep -oE "cov: [0-9]+" $B/fuzz_$t.log | tail -1)
  cov="$cov $t=${c#cov: }"
  if [ $rc -ne 0 ]; then
    say "FAIL: fuzz_$t exit $rc; see $B/fuzz_$t.log and $B/crashes/"
    tail -30 $B/fuzz_$t.log
    fail=1
  else
    say "fuzz_$t: no finding (${got:-?}; edges ${c#cov: })"
  fi
done
say "edge coverage per reader:$cov"
exit $fail
