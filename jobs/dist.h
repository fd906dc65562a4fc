/* jobs/dist.h: the process group of a data-parallel job. With MPI (the
 * default build) ranks come from mpirun or srun; without it, one rank.
 * Collectives are in place and blocking. Errors go through MPI_CHECK with
 * file:line and a hint.
 * Setup protocol (errors reported once, no hang): rank 0 reads and checks
 * everything, then dist_setup_share() hands the resolved config text to the
 * other ranks. If rank 0 exits in setup (any error), an atexit handler tells
 * the waiting ranks to leave quietly with status 1; after setup any exit
 * without dist_finalize aborts all ranks (no hang).
 * defines: Dist, dist_init, dist_finalize, dist_setup_share, dist_allreduce_*,
 *          dist_bcast, dist_barrier, dist_hosts, dist_library_version */
#ifndef CORDSEG_JOBS_DIST_H
#define CORDSEG_JOBS_DIST_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
  int rank, world;
  int local_rank, local_size; /* among the ranks on this host */
  char host[64];
} Dist;

void dist_init(Dist *d, int *argc, char ***argv);
void dist_finalize(void);
/* rank 0: *text (its NUL-terminated content) is sent; others: *text receives
 * a malloc'ed copy. Ends the setup phase. */
void dist_setup_share(char **text);
/* in-place sums, in buckets of at most BACKEND_ALLREDUCE_BUCKET_BYTES (core/backend.h), the same order on every rank */
void dist_allreduce_sum_f32(float *buf, size_t n);
void dist_allreduce_sum_f64(double *buf, size_t n);
void dist_allreduce_max_i32(int32_t *buf, size_t n);
void dist_bcast(void *buf, size_t bytes, int root);
void dist_barrier(void);
/* rank 0 gets "h1,h2,..." (distinct host names in rank order) */
void dist_hosts(const Dist *d, char *out, size_t n);
/* "Open MPI v4.1.4 ..." (first line) or "none (single process build)" */
void dist_library_version(char *out, size_t n);
#endif
