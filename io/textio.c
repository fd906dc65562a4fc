/* io/textio.c: directories, whole-file text, atomic writes, JSON (see
 * io/textio.h). */
#define _POSIX_C_SOURCE 200809L
#include "io/textio.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/common.h"
#include "io/atomic.h"
#include "io/path.h"

char *textio_strdup(const char *s) {
  char *d = strdup(s);
  CS_CHECK(d, NULL, "out of memory (strdup of %zu bytes)", strlen(s) + 1);
  return d;
}

static void mkdir_one(const char *p, const char *hint) {
  if (mkdir(p, 0775) == 0) return;
  int e = errno;
  struct stat st;
  if (e == EEXIST && stat(p, &st) == 0 && S_ISDIR(st.st_mode)) return;
  cs_fatal(hint, "cannot create '%s': %s", p, e == EEXIST ? "a file of that name exists" : strerror(e));
}

void textio_mkdir_p(const char *dir, const char *hint) {
  char p[PATH_CAP];
  int w = snprintf(p, sizeof p, "%s", dir);
  CS_CHECK(w > 0 && (size_t)w < sizeof p, "use a shorter path", "directory path too long: '%s'", dir);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    mkdir_one(p, hint);
    *s = '/';
  }
  mkdir_one(p, hint);
}

char *textio_read(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *b = mallocCheck(cap);
  size_t r;
  while ((r = fread(b + n, 1, cap - n - 1, f)) > 0) {
    n += r;
    if (cap - n - 1 == 0) {
      b = realloc(b, cap *= 2);
      CS_CHECK(b, NULL, "out of memory reading '%s'", path);
    }
  }
  CS_CHECK(!ferror(f), "check the file and its filesystem", "cannot read '%s'", path);
  fclose(f);
  b[n] = 0;
  return b;
}

char *textio_read_bounded(const char *path, size_t max, const char *hint) {
  FILE *fp = fopenCheck(path, "r");
  fseek(fp, 0, SEEK_END);
  const long sz = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  CS_CHECK(sz > 0 && (size_t)sz < max, hint, "'%s': %s", path, sz > 0 ? "too large for this kind of file" : "empty");
  char *b = mallocCheck((size_t)sz + 1);
  freadCheck(b, 1, (size_t)sz, fp, path);
  fclose(fp);
  b[sz] = 0;
  return b;
}

void textio_write(const char *path, const char *text) {
  char tmp[PATH_CAP];
  atomic_begin(path, tmp, sizeof tmp);
  FILE *f = fopenCheck(tmp, "w");
  fwriteCheck(text, 1, strlen(text), f, path);
  fcloseCheck(f, path);
  atomic_commit(tmp, path);
}

FILE *textbuf_open(TextBuf *t) {
  memset(t, 0, sizeof *t);
  t->f = open_memstream(&t->buf, &t->n);
  CS_CHECK(t->f, NULL, "out of memory (open_memstream)");
  return t->f;
}

char *textbuf_take(TextBuf *t) {
  CS_CHECK(fclose(t->f) == 0, NULL, "out of memory (open_memstream)");
  char *b = t->buf;
  memset(t, 0, sizeof *t);
  return b;
}

void textbuf_commit(TextBuf *t, const char *path) {
  char *b = textbuf_take(t);
  textio_write(path, b);
  free(b);
}

int textio_fail(char *err, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (err && n) vsnprintf(err, n, fmt, ap);
  va_end(ap);
  return -1;
}
