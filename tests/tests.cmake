# tests/tests.cmake: shell-driven tests of the `cordseg` program (included by
# CMakeLists.txt). Exit code 77 = skipped.
add_test(NAME test_train COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_train.sh $<TARGET_FILE:cordseg>)
set_tests_properties(test_train PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
# a real single-node Slurm (../shared/slurm/start-local-slurm.sh): sweep submit, requeue, kill, resubmit, report
add_test(NAME test_slurm_sweep COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_slurm_sweep.sh $<TARGET_FILE:cordseg>)
set_tests_properties(test_slurm_sweep PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
add_test(NAME test_evaluate_cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_evaluate_cli.sh $<TARGET_FILE:cordseg>)
set_tests_properties(test_evaluate_cli PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600 ENVIRONMENT "OMP_NUM_THREADS=2")
