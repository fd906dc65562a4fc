/* jobs/preflight.h: what rank 0 of `cordseg train` checks before any work
 * starts, so that a bad run fails in seconds with one message instead of on
 * every rank or after an epoch: store and folds paths made absolute, the
 * batch split over the ranks, the folds' store checksum, the fold, the model
 * against the store (config_check_fit), the store's content checksum, the run
 * directory (default runs/<config name>-fold<K>) and whether it belongs to
 * this config, and a resume: ckpt/last.h5 written by this config.
 * defines: train_preflight */
#ifndef CORDSEG_JOBS_PREFLIGHT_H
#define CORDSEG_JOBS_PREFLIGHT_H
#include "jobs/trainer.h"

/* job->cfg resolved (config file + --set), job->run as given (may be empty);
 * config_path names the run directory when it is empty; want_resume: --resume.
 * Fatal on every problem; sets job->resume; returns 0 when the run directory
 * holds DONE (nothing to do), 1 otherwise */
int train_preflight(TrainJob *job, const char *config_path, int want_resume);
#endif
