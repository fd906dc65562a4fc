/* tests/cuda_emul/nccl.h: test double of the NCCL subset core/cuda/ uses; one
 * rank only (world 1): an all-reduce is a copy. Multi-rank NCCL is what the
 * GPU check (tests/gpu/device-check.sh) exercises. */
#ifndef CUEMUL_NCCL_H
#define CUEMUL_NCCL_H
#include <stddef.h>

#include "cuda_runtime.h"

typedef enum { ncclSuccess = 0, ncclInvalidArgument = 4 } ncclResult_t;
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
ncclResult_t ncclGroupStart(void);
ncclResult_t ncclGroupEnd(void);
ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, ncclDataType_t t, ncclRedOp_t op, ncclComm_t c,
                           cudaStream_t s);
#endif
