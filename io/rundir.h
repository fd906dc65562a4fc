/* io/rundir.h: the run directory of one training run, and its small files.
 *   RUN/config.ini   resolved config (io/config.h canonical text)
 *   RUN/run.json     provenance (config/folds/data hashes, commit, versions,
 *                    hosts, world size, arm, fold, seed)
 *   RUN/log.csv      one row per epoch (rundir_log_* below)
 *   RUN/ckpt/last.h5 full state; RUN/ckpt/best.h5 weights of the best
 *                    validation Dice; RUN/ckpt/epoch-NNNNN.h5 (hard links to
 *                    past last.h5 files, pruned to the newest `keep`)
 *   RUN/DONE         written when training finished
 * Every file is replaced atomically (io/textio.h, io/atomic.h).
 * defines: rundir_prepare, rundir_path, rundir_exists, rundir_log_*,
 *          rundir_keep_epoch */
#ifndef CORDSEG_IO_RUNDIR_H
#define CORDSEG_IO_RUNDIR_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* mkdir -p dir and dir/ckpt; fatal with a hint when not possible. Removes
 * temp files (*.tmp.PID) of dead processes in both, and, when there is no
 * ckpt/last.h5 and no DONE, keeps only the header of log.csv (a fresh start
 * logs every epoch again). */
void rundir_prepare(const char *dir);
/* dir + "/" + name into out (fatal when too long) */
void rundir_path(char *out, size_t n, const char *dir, const char *name);
int rundir_exists(const char *dir, const char *name);
/* log.csv: header written when the file is new; rows appended and flushed */
void rundir_log_append(const char *path, const char *header, const char *row);
/* keeps the header and the rows whose first column (epoch) <= max_epoch
 * (a resumed run rewrites the epochs after its checkpoint) */
void rundir_log_truncate(const char *path, int64_t max_epoch);

/* hard-links RUN/ckpt/last.h5 to RUN/ckpt/epoch-<epoch>.h5, then removes
 * the oldest epoch-*.h5 beyond `keep` */
void rundir_keep_epoch(const char *dir, int64_t epoch, int32_t keep);
#endif
