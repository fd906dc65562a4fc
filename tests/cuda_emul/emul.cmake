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
  # precision = bf16: the conversions around every convolution (limits for 8-bit mantissas)
  add_test(NAME test_backend_ops_emul_bf16 COMMAND test_backend_ops_emul)
  set_tests_properties(test_backend_ops_emul_bf16 PROPERTIES SKIP_RETURN_CODE 77
    ENVIRONMENT "OMP_NUM_THREADS=2;CORDSEG_TEST_PRECISION=bf16")
  # a graph capture that fails (an uncapturable op): the steps fall back to eager, same results
  add_test(NAME test_backend_ops_emul_nograph COMMAND test_backend_ops_emul)
  set_tests_properties(test_backend_ops_emul_nograph PROPERTIES SKIP_RETURN_CODE 77
    ENVIRONMENT "OMP_NUM_THREADS=2;CUEMUL_FAIL_CAPTURE=1")
endif()
