/* tests/testutil.h: the tiny harness every test uses: checks that count
 * failures and print file:line, relative-error comparison, skip (exit 77).
 * defines: T_CHECK, T_CLOSE, t_rel_err, t_finish, t_skip */
#ifndef CORDSEG_TESTUTIL_H
#define CORDSEG_TESTUTIL_H
#include <stddef.h>

extern int t_failures;
extern int t_checks;
#define T_CHECK(cond, ...) t_check_at((cond), __FILE__, __LINE__, __VA_ARGS__)
void t_check_at(int ok, const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* max |a-b| / max(|b|, floor) over n elements */
double t_max_rel_err(const double *a, const double *b, size_t n, double floor);
double t_max_rel_err_f(const float *a, const float *b, size_t n, double floor);
/* prints a summary; returns the process exit code (0 pass, 1 fail) */
int t_finish(const char *name);
/* directory holding the shared data sets (PAM50/, sct_dmri/): $CORDSEG_DATA,
 * else <source>/../shared/data */
const char *t_data_dir(void);
/* runs fn(arg) in a forked child with stderr discarded; returns the child's
 * exit status (128 if it did not exit normally). For checking fatal errors. */
int t_child_exit(void (*fn)(void *), void *arg);
/* a python that imports torch: $CORDSEG_PYTHON, else the first python3 on PATH
 * that does; NULL (why[] says what was tried and the fix) if none */
const char *t_python_torch(char *why, size_t n);
/* prints why and exits 77 (ctest SKIP_RETURN_CODE) */
_Noreturn void t_skip(const char *why);
/* the CPU backend (one per test process, created on first use) */
struct Backend;
struct Backend *t_cpu(void);
/* malloc'ed host copies of a net's flat buffers (the caller frees or leaks) */
struct Unet;
float *t_params(struct Unet *net);
float *t_grads(struct Unet *net);
float *t_buffers(struct Unet *net);
#endif
