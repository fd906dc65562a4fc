/* io/path.c: path_fmt (io/path.h). */
#include "io/path.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/common.h"

void path_fmt(char *out, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const int w = vsnprintf(out, n, fmt, ap);
  va_end(ap);
  CS_CHECK(w >= 0 && (size_t)w < n, "use shorter directory and file names (a path cordseg composes holds at most "
           "PATH_CAP - 1 bytes, io/path.h)", "path too long (%d bytes, at most %zu): '%.200s...'", w, n - 1, out);
}
