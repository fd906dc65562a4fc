/* tests/cuda_emul/conv_cudnn_emul.cpp: core/cuda/conv_cudnn.cu compiled as host C++ against the test doubles here */
#include "core/cuda/conv_cudnn.cu"
