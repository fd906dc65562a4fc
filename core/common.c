/* core/common.c: fatal errors, checked stdio/allocation, clock, PRNG. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, CLOCK_MONOTONIC */
#include "core/common.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static void (*g_exit_hook)(int) = NULL;

void cs_set_exit_hook(void (*hook)(int code)) { g_exit_hook = hook; }

void cs_fatal_at(const char *file, int line, const char *hint, const char *fmt, ...) {
  fflush(stdout);
  fprintf(stderr, "cordseg: error: ");
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  if (hint && hint[0]) fprintf(stderr, "  hint: %s\n", hint);
  fprintf(stderr, "  (at %s:%d)\n", file, line);
  fflush(stderr);
  if (g_exit_hook) g_exit_hook(1);
  exit(1);
}

void *malloc_check(size_t size, const char *file, int line) {
  void *p = malloc(size ? size : 1);
  if (!p) cs_fatal_at(file, line, "reduce the batch size or image size, or run on a node with more memory",
                      "out of memory allocating %zu bytes", size);
  return p;
}

void *calloc_check(size_t n, size_t size, const char *file, int line) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) cs_fatal_at(file, line, "reduce the batch size or image size, or run on a node with more memory",
                      "out of memory allocating %zu x %zu bytes", n, size);
  return p;
}

void *aligned_alloc_check(size_t size, const char *file, int line) {
  size_t sz = (size + 63) / 64 * 64;
  if (sz == 0) sz = 64;
  void *p = aligned_alloc(64, sz);
  if (!p) cs_fatal_at(file, line, "reduce the batch size or image size, or run on a node with more memory",
                      "out of memory allocating %zu bytes", size);
  memset(p, 0, sz);
  return p;
}

FILE *fopen_check(const char *path, const char *mode, const char *file, int line) {
  FILE *f = fopen(path, mode);
  if (!f)
    cs_fatal_at(file, line, mode[0] == 'r' ? "check the path and its read permission" : "check that the directory exists and is writable",
                "cannot open '%s' (mode %s): %s", path, mode, strerror(errno));
  return f;
}

void fread_check(void *ptr, size_t size, size_t n, FILE *f, const char *what, const char *file, int line) {
  size_t got = fread(ptr, size, n, f);
  if (got != n)
    cs_fatal_at(file, line, "the file is truncated or of another format; recreate it",
                "short read of %s: wanted %zu items, got %zu (%s)", what, n, got, feof(f) ? "end of file" : "read error");
}

void fwrite_check(const void *ptr, size_t size, size_t n, FILE *f, const char *what, const char *file, int line) {
  size_t put = fwrite(ptr, size, n, f);
  if (put != n)
    cs_fatal_at(file, line, "check free disk space and quota", "short write of %s: wanted %zu items, wrote %zu: %s", what, n, put,
                strerror(errno));
}

void fclose_check(FILE *f, const char *what, const char *file, int line) {
  if (fclose(f) != 0)
    cs_fatal_at(file, line, "check free disk space and quota", "closing %s failed: %s", what, strerror(errno));
}

double cs_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cs_enum_parse(const CsEnum *e, const char *s) {
  for (int32_t v = 0; s && v < e->n; v++)
    if (e->names[v] && !strcasecmp(e->names[v], s)) return v;
  return -1;
}

const char *cs_enum_name(const CsEnum *e, int v) { return v >= 0 && v < e->n && e->names[v] ? e->names[v] : "?"; }

void cs_enum_list(const CsEnum *e, char *out, size_t cap) {
  size_t k = 0;
  if (cap) out[0] = 0;
  for (int32_t v = 0; v < e->n; v++)
    if (e->names[v] && k < cap) k += (size_t)snprintf(out + k, cap - k, "%s%s", k ? "|" : "", e->names[v]);
}

/* ---- xoshiro256** seeded through splitmix64 ------------------------------ */
static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void rng_init(Rng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next_u64(Rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double rng_uniform(Rng *r) { return (double)(rng_next_u64(r) >> 11) * 0x1.0p-53; }

double rng_normal(Rng *r) {
  double u1 = rng_uniform(r), u2 = rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

uint32_t rng_below(Rng *r, uint32_t n) { return (uint32_t)(rng_uniform(r) * (double)n); }
