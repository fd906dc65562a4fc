/* tests/cuda_emul/backend_cuda_emul.cpp: core/cuda/backend_cuda.cu compiled as host C++ against the test doubles here */
#include "core/cuda/backend_cuda.cu"
