/* io/atomic.h: "nothing half written": every output goes to
 * "<path>.tmp.<pid>" first, then fsync + rename onto <path>. Pending temp
 * files are removed at exit if the process dies through cs_fatal/exit.
 * defines: atomic_begin, atomic_commit, atomic_abort */
#ifndef CORDSEG_IO_ATOMIC_H
#define CORDSEG_IO_ATOMIC_H
#include <stddef.h>

/* fills tmp (size n) with "<path>.tmp.<pid>" and registers it for cleanup */
void atomic_begin(const char *path, char *tmp, size_t n);
/* fsync tmp, rename onto path, fsync the directory; fatal with a hint on failure */
void atomic_commit(const char *tmp, const char *path);
/* remove tmp and forget it */
void atomic_abort(const char *tmp);
#endif
