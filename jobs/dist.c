/* jobs/dist.c: MPI process group and collectives (see jobs/dist.h). */
#define _POSIX_C_SOURCE 200809L
#include "jobs/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/backend.h" /* BACKEND_ALLREDUCE_BUCKET_BYTES */
#include "core/common.h"


#ifdef CORDSEG_WITH_MPI
#include <mpi.h>

#define MPI_CHECK(call)                                                                                       \
  do {                                                                                                        \
    int rc_ = (call);                                                                                         \
    if (rc_ != MPI_SUCCESS) {                                                                                 \
      char msg_[MPI_MAX_ERROR_STRING];                                                                        \
      int len_ = 0;                                                                                           \
      MPI_Error_string(rc_, msg_, &len_);                                                                     \
      cs_fatal_at(__FILE__, __LINE__, "a rank died or the network failed; check the other ranks' output and " \
                  "the launcher (mpirun/srun) settings", "MPI: %s: %s", #call, msg_);                         \
    }                                                                                                         \
  } while (0)

static int g_setup = 1, g_rank = 0, g_inited = 0;

/* any exit while MPI is up (cs_fatal, a usage error, a plain exit): in setup,
 * rank 0 tells the waiting ranks to leave quietly; after setup, abort all */
static void dist_atexit(void) {
  if (!g_inited) return;
  g_inited = 0;
  fflush(stdout), fflush(stderr);
  if (g_setup && g_rank == 0) {
    int64_t len = -1;
    MPI_Bcast(&len, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
    MPI_Finalize();
    return;
  }
  MPI_Abort(MPI_COMM_WORLD, 1);
}

void dist_init(Dist *d, int *argc, char ***argv) {
  MPI_CHECK(MPI_Init(argc, argv));
  g_inited = 1;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &d->rank));
  MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &d->world));
  g_rank = d->rank;
  MPI_Comm node;
  MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node));
  MPI_CHECK(MPI_Comm_rank(node, &d->local_rank));
  MPI_CHECK(MPI_Comm_size(node, &d->local_size));
  MPI_Comm_free(&node);
  gethostname(d->host, sizeof d->host - 1);
  d->host[sizeof d->host - 1] = 0;
  atexit(dist_atexit);
}

void dist_finalize(void) {
  if (!g_inited) return;
  g_inited = 0;
  MPI_Finalize();
}

void dist_setup_share(char **text) {
  int64_t len = g_rank == 0 ? (int64_t)strlen(*text) + 1 : 0;
  MPI_CHECK(MPI_Bcast(&len, 1, MPI_INT64_T, 0, MPI_COMM_WORLD));
  if (len < 0) { /* rank 0 failed in setup and printed why */
    g_inited = 0;
    MPI_Finalize();
    exit(1);
  }
  if (g_rank != 0) *text = mallocCheck((size_t)len);
  MPI_CHECK(MPI_Bcast(*text, (int)len, MPI_CHAR, 0, MPI_COMM_WORLD));
  g_setup = 0;
}

static void allreduce(void *buf, size_t n, size_t elem, MPI_Datatype t, MPI_Op op) {
  size_t per = BACKEND_ALLREDUCE_BUCKET_BYTES / elem;
  for (size_t o = 0; o < n; o += per) {
    size_t c = n - o < per ? n - o : per;
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, (char *)buf + o * elem, (int)c, t, op, MPI_COMM_WORLD));
  }
}
void dist_allreduce_sum_f32(float *b, size_t n) { allreduce(b, n, 4, MPI_FLOAT, MPI_SUM); }
void dist_allreduce_sum_f64(double *b, size_t n) { allreduce(b, n, 8, MPI_DOUBLE, MPI_SUM); }
void dist_allreduce_max_i32(int32_t *b, size_t n) { allreduce(b, n, 4, MPI_INT32_T, MPI_MAX); }
void dist_bcast(void *buf, size_t bytes, int root) {
  for (size_t o = 0; o < bytes; o += BACKEND_ALLREDUCE_BUCKET_BYTES) {
    size_t c = bytes - o < BACKEND_ALLREDUCE_BUCKET_BYTES ? bytes - o : BACKEND_ALLREDUCE_BUCKET_BYTES;
    MPI_CHECK(MPI_Bcast((char *)buf + o, (int)c, MPI_BYTE, root, MPI_COMM_WORLD));
  }
}
void dist_barrier(void) { MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD)); }

void dist_hosts(const Dist *d, char *out, size_t n) {
  char *all = d->rank == 0 ? mallocCheck((size_t)d->world * 64) : NULL;
  MPI_CHECK(MPI_Gather(d->host, 64, MPI_CHAR, all, 64, MPI_CHAR, 0, MPI_COMM_WORLD));
  if (d->rank != 0) return;
  out[0] = 0;
  for (int r = 0; r < d->world; r++) {
    const char *h = all + (size_t)r * 64;
    int seen = 0;
    for (int q = 0; q < r; q++) seen |= !strcmp(h, all + (size_t)q * 64);
    if (seen) continue;
    size_t l = strlen(out);
    snprintf(out + l, n - l, "%s%s", l ? "," : "", h);
  }
  free(all);
}

void dist_library_version(char *out, size_t n) {
  char v[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(v, &len);
  char *nl = strpbrk(v, ",\n");
  if (nl) *nl = 0;
  snprintf(out, n, "%s", v);
}

#else /* single process */

void dist_init(Dist *d, int *argc, char ***argv) {
  d->rank = 0, d->world = 1, d->local_rank = 0, d->local_size = 1;
  gethostname(d->host, sizeof d->host - 1);
  d->host[sizeof d->host - 1] = 0;
}
void dist_finalize(void) {}
void dist_setup_share(char **text) {}
void dist_allreduce_sum_f32(float *b, size_t n) {}
void dist_allreduce_sum_f64(double *b, size_t n) {}
void dist_allreduce_max_i32(int32_t *b, size_t n) {}
void dist_bcast(void *buf, size_t bytes, int root) {}
void dist_barrier(void) {}
void dist_hosts(const Dist *d, char *out, size_t n) { snprintf(out, n, "%s", d->host); }
void dist_library_version(char *out, size_t n) { snprintf(out, n, "none (built without MPI)"); }
#endif
