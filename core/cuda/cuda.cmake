# core/cuda/cuda.cmake: the CUDA backend (CORDSEG_WITH_CUDA=ON), compiled into
# cordseg_core, for an explicit architecture list (sm_80 A100, sm_90 H100/H200;
# override with -DCMAKE_CUDA_ARCHITECTURES=...). Warnings are errors under
# CORDSEG_FATAL_WARNINGS, for nvcc's own and the host compiler's.
# Also the host emulation library of tests/cuda_emul (see there), which CI runs.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES "80;90" CACHE STRING "GPU architectures of the CUDA backend (80 A100, 90 H100/H200)")
endif()
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
find_package(CUDAToolkit REQUIRED)
find_library(CORDSEG_CUDNN_LIB cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64 ENV CUDNN_HOME PATH_SUFFIXES lib lib64)
find_library(CORDSEG_NCCL_LIB nccl HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64 ENV NCCL_HOME PATH_SUFFIXES lib lib64)
find_path(CORDSEG_NCCL_INCLUDE nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include ENV NCCL_HOME PATH_SUFFIXES include)
foreach(v CORDSEG_CUDNN_LIB CORDSEG_NCCL_LIB CORDSEG_NCCL_INCLUDE CORDSEG_CUDNN_INCLUDE)
  if(NOT ${v})
    message(FATAL_ERROR "cordseg: CORDSEG_WITH_CUDA=ON but ${v} was not found: load the cudnn/nccl modules, set CUDNN_HOME / NCCL_HOME, or configure with -DCORDSEG_WITH_CUDA=OFF")
  endif()
endforeach()
set(CUDA_SRC core/cuda/backend_cuda.cu core/cuda/conv_cudnn.cu core/cuda/kernels.cu)
target_sources(cordseg_core PRIVATE ${CUDA_SRC})
set_target_properties(cordseg_core PROPERTIES CUDA_ARCHITECTURES "${CMAKE_CUDA_ARCHITECTURES}")
target_include_directories(cordseg_core PUBLIC ${CORDSEG_CUDNN_INCLUDE} ${CORDSEG_NCCL_INCLUDE})
target_compile_definitions(cordseg_core PUBLIC CORDSEG_WITH_CUDA=1)
target_link_libraries(cordseg_core PUBLIC CUDA::cudart_static ${CORDSEG_CUDNN_LIB} ${CORDSEG_NCCL_LIB})
set(_nvcc_werror "")
if(CORDSEG_FATAL_WARNINGS)
  set(_nvcc_werror "-Werror=all-warnings;-Xcompiler=-Werror")
endif()
target_compile_options(cordseg_core PRIVATE
  "$<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall;-Xcompiler=-Wno-unused-parameter;${_nvcc_werror};-O3;-Xcompiler=-ffile-prefix-map=${CMAKE_CURRENT_SOURCE_DIR}/=>")
message(STATUS "cordseg: CUDA backend on (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES}, cuDNN ${CORDSEG_CUDNN_LIB}, NCCL ${CORDSEG_NCCL_LIB})")
