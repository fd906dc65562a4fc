# tests/cuda_emul/emul.cmake: the CUDA backend's own sources (core/cuda/*.cu)
# compiled as host C++ against the test doubles in tests/cuda_emul, in a
# library of their own with the rest of core (cordseg_core_emul), and
# test_backend_ops built against it as test_backend_ops_emul. Needs no CUDA
# toolkit; CI runs it on every machine.
option(CORDSEG_CUDA_EMUL "build the host emulation of the CUDA backend and its test" ON)
if(CORDSEG_CUDA_EMUL)
  enable_language(CXX)
  set(CMAKE_CXX_STANDARD 17)
  set(CMAKE_CXX_STANDARD_REQUIRED ON)
  file(GLOB EMUL_SRC CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/cuda_emul/*.cpp)
  add_library(cordseg_core_emul STATIC ${CORE_SRC} ${CPU_SRC} ${EMUL_SRC})
  target_include_directories(cordseg_core_emul BEFORE PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/tests/cuda_emul)
  target_include_directories(cordseg_core_emul PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  target_compile_definitions(cordseg_core_emul PUBLIC CORDSEG_WITH_CUDA=1 CORDSEG_CUDA_EMUL=1)
  # the kernels' lambdas capture their arguments by value; nvcc-only attributes are absent
  target_compile_options(cordseg_core_emul PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wno-unused-function>)
  target_link_libraries(cordseg_core_emul PUBLIC OpenMP::OpenMP_C DNNL::dnnl ${CORDSEG_LIBM})
  add_executable(test_backend_ops_emul tests/test_backend_ops.c tests/testutil.c)
  target_compile_definitions(test_backend_ops_emul PRIVATE CORDSEG_TEST_EMUL=1 CORDSEG_SOURCE_DIR="${CMAKE_CURRENT_SOURCE_DIR}"
    CORDSEG_BINARY_DIR="${CMAKE_CURRENT_BINARY_DIR}")
  target_link_libraries(test_backend_ops_emul PRIVATE cordseg_core_emul stdc++)
  add_test(NAME test_backend_ops_emul COMMAND test_backend_ops_emul)
  set_tests_properties(test_backend_ops_emul PROPERTIES SKIP_RETURN_CODE 77 ENVIRONMENT "OMP_NUM_THREADS=2")
  # the cuDNN double itself: NHWC channel-slice views against packed NCHW (docs/backends.md, the NHWC plan's step 1)
  add_executable(test_cuda_emul_dnn tests/test_cuda_emul_dnn.cpp tests/testutil.c)
  target_compile_definitions(test_cuda_emul_dnn PRIVATE CORDSEG_SOURCE_DIR="${CMAKE_CURRENT_SOURCE_DIR}")
  target_link_libraries(test_cuda_emul_dnn PRIVATE cordseg_core_emul stdc++)
  add_test(NAME test_cuda_emul_dnn COMMAND test_cuda_emul_dnn)
  # precision = bf16: bf16 NHWC activations (limits for 8-bit mantissas, lim16 in the test)
  add_test(NAME test_backend_ops_emul_bf16 COMMAND test_backend_ops_emul)
  set_tests_properties(test_backend_ops_emul_bf16 PROPERTIES SKIP_RETURN_CODE 77
    ENVIRONMENT "OMP_NUM_THREADS=2;CORDSEG_TEST_PRECISION=bf16")
  # a graph capture that fails at its end: the steps fall back to eager, same results
  add_test(NAME test_backend_ops_emul_nograph COMMAND test_backend_ops_emul)
  set_tests_properties(test_backend_ops_emul_nograph PROPERTIES SKIP_RETURN_CODE 77
    ENVIRONMENT "OMP_NUM_THREADS=2;CUEMUL_FAIL_CAPTURE=1")
  # an op failing inside the capture (as an uncapturable op on a GPU): the first upload,
  # a cuDNN call (op 37) and a kernel launch (op 150); the steps fall back to eager
  foreach(op 1 37 150)
    add_test(NAME test_backend_ops_emul_failop${op} COMMAND test_backend_ops_emul)
    set_tests_properties(test_backend_ops_emul_failop${op} PROPERTIES SKIP_RETURN_CODE 77
      ENVIRONMENT "OMP_NUM_THREADS=2;CUEMUL_FAIL_AT_OP=${op}")
  endforeach()
  # work runs only at synchronisation points, as on a GPU: a host read before a sync or a
  # pinned staging buffer rewritten under a queued upload fails
  add_test(NAME test_backend_ops_emul_deferred COMMAND test_backend_ops_emul)
  set_tests_properties(test_backend_ops_emul_deferred PROPERTIES SKIP_RETURN_CODE 77
    ENVIRONMENT "OMP_NUM_THREADS=2;CUEMUL_DEFERRED=1")
  # bf16 with deferred execution: bf16 NHWC activations and the convolutions' KRSC weight copies under graphs and
  # work that runs only at synchronisation points
  add_test(NAME test_backend_ops_emul_bf16_deferred COMMAND test_backend_ops_emul)
  set_tests_properties(test_backend_ops_emul_bf16_deferred PROPERTIES SKIP_RETURN_CODE 77
    ENVIRONMENT "OMP_NUM_THREADS=2;CUEMUL_DEFERRED=1;CORDSEG_TEST_PRECISION=bf16")
  # the carried GPU-check binaries, built against the emulation for the rehearsal
  # (tests/gpu/device-check.sh --rehearse, test_gpu_rehearse)
  foreach(t gpu_bench_emul:tests/gpu/gpu_bench.c gpu_torch_ref_emul:tests/test_torch_ref.c)
    string(REPLACE ":" ";" tt ${t})
    list(GET tt 0 name)
    list(GET tt 1 src)
    add_executable(${name} ${src} tests/testutil.c)
    target_compile_definitions(${name} PRIVATE CORDSEG_TEST_EMUL=1 CORDSEG_SOURCE_DIR="${CMAKE_CURRENT_SOURCE_DIR}"
      CORDSEG_BINARY_DIR="${CMAKE_CURRENT_BINARY_DIR}")
    target_link_libraries(${name} PRIVATE cordseg_core_emul stdc++)
  endforeach()
  # the GPU check's own scripts, rehearsed here on the emulation binaries (tests/gpu/rehearse.sh)
  add_test(NAME test_gpu_rehearse COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/gpu/rehearse.sh ${CMAKE_CURRENT_BINARY_DIR}
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(test_gpu_rehearse PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=2")
endif()
