/* io/hash.h: the content hash cordseg records (HDF5 store checksum, folds
 * files): 64-bit FNV-1a, streamed, byte order = in-memory little-endian. */
#ifndef CORDSEG_IO_HASH_H
#define CORDSEG_IO_HASH_H
#include <stddef.h>
#include <stdint.h>

#define HASH_FNV_INIT 0xcbf29ce484222325ull

/* 0 only in the fuzz build (cmake -DCORDSEG_FUZZ=ON, tests/fuzz/run.sh): the folds and model readers then take
 * content that does not match its recorded hash, so mutated inputs reach the parsers and value checks behind the
 * hash check instead of stopping at it. 1 in every other build. */
#ifdef CORDSEG_FUZZ_SKIP_HASH
#define HASH_CHECKED 0
#else
#define HASH_CHECKED 1
#endif

static inline uint64_t hash_fnv1a(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = (const unsigned char *)data;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

/* deterministic 64-bit mix of a few integers (seeding per-epoch/per-sample RNGs) */
static inline uint64_t hash_mix3(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t h = HASH_FNV_INIT;
  h = hash_fnv1a(h, &a, 8);
  h = hash_fnv1a(h, &b, 8);
  h = hash_fnv1a(h, &c, 8);
  h ^= h >> 33, h *= 0xff51afd7ed558ccdull, h ^= h >> 33;
  return h;
}
#endif
