# tests/fuzz/fuzz.cmake: libFuzzer binaries (configure with CC=clang
# -DCORDSEG_FUZZ=ON -DCORDSEG_SANITIZE=address,undefined; tests/fuzz/run.sh
# does it), one per reader of tests/fuzz/fuzz.c.

if(CORDSEG_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "cordseg: CORDSEG_FUZZ needs clang (CC=clang): libFuzzer is clang's")
  endif()
  foreach(t CONFIG FOLDS SWEEP NIFTI BTABLE MODEL STORE)
    string(TOLOWER ${t} lt)
    add_executable(fuzz_${lt} tests/fuzz/fuzz.c)
    target_compile_definitions(fuzz_${lt} PRIVATE FUZZ_${t}=1)
    target_compile_options(fuzz_${lt} PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_${lt} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(fuzz_${lt} PRIVATE cordseg_slurm cordseg_sim)
    target_compile_definitions(fuzz_${lt} PRIVATE CORDSEG_BINARY_DIR="${CMAKE_CURRENT_BINARY_DIR}")
  endforeach()
endif()
