# tests/gpu/gpu.cmake: the binaries tests/gpu/device-check.sh carries to a GPU
# machine, linked against cordseg_core only (oneDNN and the CUDA libraries,
# no HDF5/MPI/Cairo): gpu_backend_ops (tests/test_backend_ops.c),
# gpu_torch_ref (tests/test_torch_ref.c) and gpu_bench. Not ctests: on a GPU
# host the ctests test_backend_ops / test_torch_ref run the same code.
if(CORDSEG_WITH_CUDA)
  foreach(t gpu_backend_ops:tests/test_backend_ops.c gpu_torch_ref:tests/test_torch_ref.c gpu_bench:tests/gpu/gpu_bench.c)
    string(REPLACE ":" ";" tt ${t})
    list(GET tt 0 name)
    list(GET tt 1 src)
    add_executable(${name} EXCLUDE_FROM_ALL ${src} tests/testutil.c)
    target_link_libraries(${name} PRIVATE cordseg_core)
    target_compile_definitions(${name} PRIVATE CORDSEG_SOURCE_DIR="." CORDSEG_BINARY_DIR=".")
  endforeach()
endif()
