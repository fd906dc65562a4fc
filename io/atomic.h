/* io/atomic.h: "nothing half written": every output goes to
 * "<path>.tmp.<pid>" first, then fsync + rename onto <path>. Pending temp
 * files are removed at exit if the process dies through cs_fatal/exit.
 * An output SET (several files that belong together, as segment's) is
 * staged in "<dir>/.set.tmp.<pid>/" and moved in at the end, so a failure
 * leaves the previous set whole; temp files and stages of dead processes
 * are removed by atomic_remove_stale.
 * A scratch folder beside an output (import --bids's converted subjects) is
 * "<path>.<what>.tmp.<pid>", removed at exit too. Only the process that
 * registered a temp removes it (a forked child's exit leaves them alone).
 * defines: atomic_begin, atomic_commit, atomic_abort, atomic_dir_begin,
 *          atomic_dir_end, atomic_set_begin, atomic_set_commit, atomic_remove_stale */
#ifndef CORDSEG_IO_ATOMIC_H
#define CORDSEG_IO_ATOMIC_H
#include <stddef.h>

/* fills tmp (size n) with "<path>.tmp.<pid>" and registers it for cleanup */
void atomic_begin(const char *path, char *tmp, size_t n);
/* fsync tmp, rename onto path, fsync the directory; fatal with a hint on failure */
void atomic_commit(const char *tmp, const char *path);
/* remove tmp and forget it */
void atomic_abort(const char *tmp);
/* creates the scratch folder "<path>.<what>.tmp.<pid>" (mode 0700) into tmp (size n); removed with what it holds
 * at exit (cs_fatal included) unless atomic_dir_end removed it first */
void atomic_dir_begin(const char *path, const char *what, char *tmp, size_t n);
/* removes the scratch folder and what it holds, and forgets it */
void atomic_dir_end(const char *tmp);
/* creates the stage "<dir>/.set.tmp.<pid>" (dir is created if missing) into stage (size n); removed at exit
 * unless committed */
void atomic_set_begin(const char *dir, char *stage, size_t n);
/* moves every file of stage into dir (fsync, rename), removes dir/<name> for each of the set's names[n] the
 * stage does not hold (a file of the previous set this run did not write), removes the stage */
void atomic_set_commit(const char *stage, const char *dir, const char *const *names, int n);
/* removes "*.tmp.<pid>" files and stages in dir whose process is dead on this host (a live pid may be a
 * concurrent writer and is left alone); says so on stderr */
void atomic_remove_stale(const char *dir);
#endif
