/* jobs/paths.h: where the installed or built `cordseg` finds what it needs at
 * run time, without any path of the build host compiled in:
 *  - its share directory (slurm/ templates, configs/): <exe>/../share/cordseg
 *    when installed (`cmake --install build --prefix P` -> P/bin/cordseg,
 *    P/share/cordseg), <exe>/share/cordseg in a build tree (CMake links it to
 *    the source's slurm/ and configs/); $CORDSEG_SLURM_DIR overrides slurm/;
 *  - the data beside the checkout (../shared/...) for defaults: $PAM50,
 *    $CORDSEG_DATA/PAM50, ../shared/data/PAM50 from the working directory,
 *    or from the checkout holding a build-tree binary (<exe>/../../shared);
 *  - a python that can import torch: $CORDSEG_PYTHON, else the first python3
 *    on PATH that imports torch;
 *  - the temporary directory: $TMPDIR, else /tmp.
 * defines: paths_exe_dir, paths_share_dir, paths_slurm_dir, paths_pam50,
 *          paths_beside_checkout, paths_python_torch, paths_tmpdir */
#ifndef CORDSEG_PATHS_H
#define CORDSEG_PATHS_H
#include <stddef.h>

/* directory of the running binary (/proc/self/exe); "." if unknown */
const char *paths_exe_dir(void);
/* the share directory (holding slurm/task-run.sh), or NULL */
const char *paths_share_dir(void);
/* the Slurm template directory; exits with a message naming CORDSEG_SLURM_DIR if none */
const char *paths_slurm_dir(void);
/* the PAM50 directory (holding atlas/info_label.txt) into out: 0 found; -1 not
 * found, out then holds a message naming what was tried and the variables */
int paths_pam50(char *out, size_t n);
/* ../shared/REL next to the checkout (from the working directory, then from a
 * build-tree binary's checkout) into out: 0 found (readable), -1 not (out =
 * the first candidate) */
int paths_beside_checkout(const char *rel, char *out, size_t n);
/* a python interpreter that imports torch, or NULL with why[] saying what was
 * tried and how to fix it */
const char *paths_python_torch(char *why, size_t n);
/* $TMPDIR, else /tmp */
const char *paths_tmpdir(void);
#endif
