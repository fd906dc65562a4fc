/* io/path.h: the one size for a path cordseg composes, and the one way to
 * compose it. A path a user gives is at most PATH_MAX (4096) bytes; cordseg
 * adds a few hundred at most (a file under a run or output directory,
 * ".tmp.<pid>", a staging folder and a file in it), so every composed path
 * fits a char[PATH_CAP]. path_fmt writes one and is fatal, naming the start
 * of the path, where a plain snprintf would cut it silently. A message that
 * quotes a path fits a char[PATH_MSG_CAP].
 * defines: PATH_CAP, PATH_MSG_CAP, path_fmt */
#ifndef CORDSEG_IO_PATH_H
#define CORDSEG_IO_PATH_H
#include <stddef.h>

enum { PATH_CAP = 4608, PATH_MSG_CAP = PATH_CAP + 1024 };

/* printf into out[n]; fatal ("path too long", with the hint to use a shorter one) when it does not fit */
void path_fmt(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#endif
