/* tests/cuda_emul/kernels_emul.cpp: core/cuda/kernels.cu compiled as host C++ against the test doubles here */
#include "core/cuda/kernels.cu"
