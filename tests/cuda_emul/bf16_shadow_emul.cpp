/* tests/cuda_emul/bf16_shadow_emul.cpp: core/cuda/bf16_shadow.cu compiled as host C++ against the test doubles here */
#include "core/cuda/bf16_shadow.cu"
