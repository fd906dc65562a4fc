/* tests/cuda_emul/nccl.h: test double of the NCCL subset core/cuda/ uses; one
 * rank only (world 1): an all-reduce is a copy. CUEMUL_NCCL_HANG=1 makes the
 * stream of an all-reduce never finish (a lost peer), for the watchdog's
 * test. Multi-rank NCCL stays untested until a machine with several GPUs is
 * lent (tests/gpu/device-check.sh runs world 1 on a real GPU). */
#ifndef CUEMUL_NCCL_H
#define CUEMUL_NCCL_H
#include <stddef.h>

#include "cuda_runtime.h"

typedef enum { ncclSuccess = 0, ncclInternalError = 3, ncclInvalidArgument = 4, ncclRemoteError = 6, ncclInProgress = 7 } ncclResult_t;
typedef enum { ncclFloat = 7, ncclDouble = 8 } ncclDataType_t;
typedef enum { ncclSum = 0, ncclAvg = 4 } ncclRedOp_t;
typedef struct {
  char internal[128];
} ncclUniqueId;
struct CuemulNccl;
typedef CuemulNccl *ncclComm_t;
const char *ncclGetErrorString(ncclResult_t r);
ncclResult_t ncclGetVersion(int *v);
ncclResult_t ncclGetUniqueId(ncclUniqueId *id);
ncclResult_t ncclCommInitRank(ncclComm_t *c, int world, ncclUniqueId id, int rank);
ncclResult_t ncclCommDestroy(ncclComm_t c);
ncclResult_t ncclCommFinalize(ncclComm_t c);
ncclResult_t ncclCommAbort(ncclComm_t c);
ncclResult_t ncclCommGetAsyncError(ncclComm_t c, ncclResult_t *e);
ncclResult_t ncclGroupStart(void);
ncclResult_t ncclGroupEnd(void);
ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, ncclDataType_t t, ncclRedOp_t op, ncclComm_t c,
                           cudaStream_t s);
#endif
