#!/usr/bin/env bash
# tests/fuzz/run.sh: builds the libFuzzer harnesses of tests/fuzz/fuzz.c with
# clang under AddressSanitizer + UBSan into ./build-fuzz and runs each on
# FUZZ_RUNS inputs (default 8000, libFuzzer seed 1: the same inputs on every
# run, at most FUZZ_SECONDS each) from seeds made of the shipped files (configs,
# a folds manifest, a small phantom NIfTI, the sct_dmri b-table). Fails on any
# crash, sanitizer report or hang (the reproducer is kept in build-fuzz/crashes).
# Memory a refused input leaves allocated is not a finding (detect_leaks=0;
# the readers' error path is exit), hence the raised RSS limit.
# Skips (exit 77, saying why) when clang is missing.
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-120}   # a cap per reader
runs=${FUZZ_RUNS:-8000}    # inputs per reader; with -seed=1 the same inputs every run (CI is reproducible)
say() { echo "fuzz: $*"; }
command -v clang >/dev/null || { say "SKIPPED: clang is not installed (apt-get install clang)"; exit 77; }
mkdir -p build-fuzz; log=build-fuzz/build.log
say "build ./build-fuzz (clang, -fsanitize=fuzzer,address,undefined; about 2 min on 2 cores)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCORDSEG_FUZZ=ON -DCORDSEG_SANITIZE=address,undefined \
  -DCORDSEG_WITH_CUDA=OFF -DCORDSEG_CUDA_EMUL=OFF -DCORDSEG_WITH_MPI=OFF -DCORDSEG_NATIVE=OFF >"$log" 2>&1 ||
  { tail -20 "$log"; exit 1; }
cmake --build build-fuzz -j"$(nproc)" --target fuzz_config fuzz_folds fuzz_sweep fuzz_nifti fuzz_btable >>"$log" 2>&1 ||
  { awk '/error/ && n++ < 20' "$log"; exit 1; }
B=build-fuzz
S=$B/seeds
rm -rf "$S" $B/crashes && mkdir -p "$S"/{config,folds,sweep,nifti,btable} $B/crashes
cp configs/*.ini "$S/config/" && rm -f "$S"/config/sweep_*.ini
cp configs/sweep_*.ini "$S/sweep/"
printf 'cordseg-folds 1\nk 3\nseed 11\nstore s.h5\nstore_checksum fnv1a64:0\nfold0 train 1 2 val 3 test 4\nfold1 train 2 4 val 1 test 3\nfold2 train 3 4 val 2 test 1\n' > "$S/folds/f.txt"
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
fail=0
for t in config folds sweep nifti btable; do
  say "fuzz_$t: $runs inputs (seed 1, at most ${secs} s)"
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    timeout $((secs + 60)) $B/fuzz_$t -seed=1 -runs="$runs" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=8192 -close_fd_mask=2 \
    -artifact_prefix=$B/crashes/$t- "$S/$t" > $B/fuzz_$t.log 2>&1
  rc=$?
  got=$(grep -oE "Done [0-9]+ runs in [0-9]+ second" $B/fuzz_$t.log | tail -1)
  if [ $rc -ne 0 ]; then
    say "FAIL: fuzz_$t exit $rc; see $B/fuzz_$t.log and $B/crashes/"
    tail -30 $B/fuzz_$t.log
    fail=1
  else
    say "fuzz_$t: no finding (${got:-?})"
  fi
done
exit $fail
