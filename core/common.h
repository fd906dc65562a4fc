/* core/common.h: what every cordseg file shares: fatal-error reporting with
 * file:line and an actionable hint, the stdio/malloc check macros, timing, and
 * the seeded random number generator (xoshiro256** + Box-Muller).
 * defines: cs_fatal, CS_CHECK, CS_CHECK_ALLOC, mallocCheck, callocCheck,
 *          fopenCheck, freadCheck, fwriteCheck, fcloseCheck, cs_now,
 *          CsEnum, cs_enum_parse, cs_enum_name, cs_enum_list,
 *          Rng, rng_init, rng_next_u64, rng_uniform, rng_normal */
#ifndef CORDSEG_COMMON_H
#define CORDSEG_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
#define _Noreturn [[noreturn]]
extern "C" {
#endif

/* Print "cordseg: error: <msg>" (+ "  hint: <hint>" when hint is non-NULL)
 * with the source location, then exit(1). Every fatal path ends here. The
 * process-exit hook lets the MPI layer abort all ranks instead of hanging. */
_Noreturn void cs_fatal_at(const char *file, int line, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define cs_fatal(hint, ...) cs_fatal_at(__FILE__, __LINE__, hint, __VA_ARGS__)
void cs_set_exit_hook(void (*hook)(int code));

/* Generic condition check: CS_CHECK(cond, hint, fmt, ...). */
#define CS_CHECK(cond, hint, ...)                 \
  do {                                            \
    if (!(cond)) cs_fatal_at(__FILE__, __LINE__, hint, __VA_ARGS__); \
  } while (0)

/* stdio / allocation checks (llm.c style): abort with file:line on failure. */
void *malloc_check(size_t size, const char *file, int line);
void *calloc_check(size_t n, size_t size, const char *file, int line);
void *aligned_alloc_check(size_t size, const char *file, int line); /* 64-byte aligned, zeroed */
FILE *fopen_check(const char *path, const char *mode, const char *file, int line);
void fread_check(void *ptr, size_t size, size_t n, FILE *f, const char *what, const char *file, int line);
void fwrite_check(const void *ptr, size_t size, size_t n, FILE *f, const char *what, const char *file, int line);
void fclose_check(FILE *f, const char *what, const char *file, int line);
#define mallocCheck(sz) malloc_check(sz, __FILE__, __LINE__)
#define callocCheck(n, sz) calloc_check(n, sz, __FILE__, __LINE__)
#define alignedAllocCheck(sz) aligned_alloc_check(sz, __FILE__, __LINE__)
#define fopenCheck(path, mode) fopen_check(path, mode, __FILE__, __LINE__)
#define freadCheck(p, sz, n, f, what) fread_check(p, sz, n, f, what, __FILE__, __LINE__)
#define fwriteCheck(p, sz, n, f, what) fwrite_check(p, sz, n, f, what, __FILE__, __LINE__)
#define fcloseCheck(f, what) fclose_check(f, what, __FILE__, __LINE__)

double cs_now(void); /* monotonic seconds */

/* An enum's spellings, written once in the module that owns the enum and
 * read by every parser, printer and error message (CLI, config, files):
 * names[v] is value v's spelling, NULL for a value without one. */
typedef struct {
  const char *const *names;
  int32_t n;
} CsEnum;
int cs_enum_parse(const CsEnum *e, const char *s);         /* case-insensitive; -1 when unknown */
const char *cs_enum_name(const CsEnum *e, int v);         /* "?" for a value without a spelling */
void cs_enum_list(const CsEnum *e, char *out, size_t cap); /* "a|b|c" */

/* Seeded PRNG. Same seed, same stream, on every platform. */
typedef struct {
  uint64_t s[4];
} Rng;
void rng_init(Rng *r, uint64_t seed);
uint64_t rng_next_u64(Rng *r);
double rng_uniform(Rng *r);             /* [0, 1) */
double rng_normal(Rng *r);              /* N(0, 1), Box-Muller */
uint32_t rng_below(Rng *r, uint32_t n); /* uniform in [0, n) */

#ifdef __cplusplus
}
#endif
#endif
