# tests/tests.cmake: shell-driven tests of the `cordseg` program (included by
# CMakeLists.txt). Exit code 77 = skipped.
add_test(NAME test_cmd_train COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_cmd_train.sh $<TARGET_FILE:cordseg>)
set_tests_properties(test_cmd_train PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
# HDL learns with its defaults and not with the old ones; best.h5 = the highest threshold-searched Dice
add_test(NAME test_cmd_train_hdl COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_cmd_train_hdl.sh $<TARGET_FILE:cordseg>)
set_tests_properties(test_cmd_train_hdl PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
add_test(NAME test_cmd_train_select COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_cmd_train_select.sh $<TARGET_FILE:cordseg>)
set_tests_properties(test_cmd_train_select PROPERTIES TIMEOUT 900)
# a real single-node Slurm (../shared/slurm/start-local-slurm.sh): sweep submit, requeue, kill, resubmit, report
add_test(NAME test_cmd_sweep COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_cmd_sweep.sh $<TARGET_FILE:cordseg>)
set_tests_properties(test_cmd_sweep PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
add_test(NAME test_cmd_segment_slurm COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_cmd_segment_slurm.sh $<TARGET_FILE:cordseg>)
set_tests_properties(test_cmd_segment_slurm PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
add_test(NAME test_cmd_evaluate COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_cmd_evaluate.sh $<TARGET_FILE:cordseg>)
set_tests_properties(test_cmd_evaluate PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600 ENVIRONMENT "OMP_NUM_THREADS=2")
# `cmake --install` into a temporary prefix; `sweep plan` from the installed tree (no source paths)
add_test(NAME test_cmake_install COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_cmake_install.sh ${CMAKE_CURRENT_BINARY_DIR})
set_tests_properties(test_cmake_install PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
add_test(NAME test_cmd_segment COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_cmd_segment.sh $<TARGET_FILE:cordseg>)
set_tests_properties(test_cmd_segment PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600 ENVIRONMENT "OMP_NUM_THREADS=2")
# the quickstart's weak model (demo.ini: HDL on B0) trips the low-coverage flag on the real series (issue 29)
add_test(NAME test_cmd_segment_weak COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_cmd_segment_weak.sh $<TARGET_FILE:cordseg>)
set_tests_properties(test_cmd_segment_weak PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900 ENVIRONMENT "OMP_NUM_THREADS=2")
add_test(NAME test_cmd_phantom COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_cmd_phantom.sh $<TARGET_FILE:cordseg>)
set_tests_properties(test_cmd_phantom PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 ENVIRONMENT "OMP_NUM_THREADS=2")
# the folders are floors: no #include from a higher floor (tests/test_include_layers.sh lists the rule)
add_test(NAME test_include_layers COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_include_layers.sh ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(test_include_layers PROPERTIES TIMEOUT 60)
# a command's --help lists every option of its table (cmd/cli.h), and `cordseg --help` every command
add_test(NAME test_cmd_help COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_cmd_help.sh $<TARGET_FILE:cordseg>)
set_tests_properties(test_cmd_help PROPERTIES TIMEOUT 120)
# README.md's command table is the one `cordseg help --markdown` prints (cmd/commands.c); regenerate: scripts/gen-readme-commands.sh
add_test(NAME test_readme_commands COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scripts/gen-readme-commands.sh --check $<TARGET_FILE:cordseg>)
set_tests_properties(test_readme_commands PROPERTIES TIMEOUT 60)
# every repository path that README.md, docs/*.md and results/**/README.md name exists (docs/check_paths.py)
add_test(NAME test_docs_paths COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/docs/check_paths.py WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})

add_test(NAME test_shell_pipes COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_shell_pipes.sh ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(test_shell_pipes PROPERTIES TIMEOUT 60)

# the end-to-end path with ../shared absent (CORDSEG_DATA at an empty folder): the phantoms are built on the
# synthetic atlas (tests/atlas.sh), nothing skips but the real-series parts
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/no-shared-data)
foreach(t cmd_evaluate cmd_phantom)
  add_test(NAME test_${t}_synthetic COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_${t}.sh $<TARGET_FILE:cordseg>)
  set_tests_properties(test_${t}_synthetic PROPERTIES TIMEOUT 600
    ENVIRONMENT "OMP_NUM_THREADS=2;CORDSEG_DATA=${CMAKE_CURRENT_BINARY_DIR}/no-shared-data")
endforeach()
# report's arms never mix settings (lr_max in the arm name); export refuses runs of other data or config unless --force
add_test(NAME test_cmd_arms COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_cmd_arms.sh $<TARGET_FILE:cordseg>)
set_tests_properties(test_cmd_arms PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 ENVIRONMENT "OMP_NUM_THREADS=2")
# issue 28: a BIDS folder of 6 named subjects in with one `import --bids`, a repeated subject refused by name,
# `folds --k` refusing an impossible split, `folds --from` an edited split, and a 1-epoch train on it
add_test(NAME test_cmd_import COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_cmd_import.sh $<TARGET_FILE:cordseg>)
set_tests_properties(test_cmd_import PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 ENVIRONMENT "OMP_NUM_THREADS=2")
# hybrid keeps every ROI with the default (prior) head and loses one with the old head
add_test(NAME test_cmd_train_hybrid COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_cmd_train_hybrid.sh $<TARGET_FILE:cordseg>)
set_tests_properties(test_cmd_train_hybrid PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
# issue 29: scripts/make-model.sh (the real-data model in one command) at a tiny scale: usage errors, a kill and
# resume, nothing retrained, other cohort settings refused, info's provenance, the real-series check
add_test(NAME test_make_model COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_make_model.sh $<TARGET_FILE:cordseg>)
set_tests_properties(test_make_model PROPERTIES TIMEOUT 300)
# HDL keeps every ROI with revive_dead (a saturated class's head row re-initialised) and loses one without
add_test(NAME test_cmd_train_revive COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_cmd_train_revive.sh $<TARGET_FILE:cordseg>)
set_tests_properties(test_cmd_train_revive PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
