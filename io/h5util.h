/* io/h5util.h: the HDF5 check macro (names the file, the object and the fix)
 * and scalar attribute helpers, shared by io/h5store.c and io/ckpt.c.
 * defines: H5_CHECK, h5_fail, h5_quiet, h5_open_read, h5_attr_write_string/_i64/_f64,
 *          h5_attr_read_string/_i64/_f64 */
#ifndef CORDSEG_IO_H5UTIL_H
#define CORDSEG_IO_H5UTIL_H
#include <stdint.h>

_Noreturn void h5_fail(const char *file, int line, const char *path, const char *what, const char *hint);
/* H5_CHECK(call, path, what, hint): any negative HDF5 return is fatal */
#define H5_CHECK(call, path, what, hint)                                        \
  do {                                                                          \
    if ((int64_t)(call) < 0) h5_fail(__FILE__, __LINE__, path, what, hint);     \
  } while (0)
/* silence HDF5's own error-stack printing (per thread) */
void h5_quiet(void);
/* H5Fopen read-only with POSIX file locking off (locks fail or hang on
 * NFS/Lustre); the file id, negative when it cannot be opened */
int64_t h5_open_read(const char *path);

void h5_attr_write_string(int64_t loc, const char *path, const char *name, const char *value);
void h5_attr_write_i64(int64_t loc, const char *path, const char *name, int64_t v);
void h5_attr_write_f64(int64_t loc, const char *path, const char *name, double v);
/* return 1 when the attribute exists and was read, else 0 (buf "" / v untouched) */
int h5_attr_read_string(int64_t loc, const char *name, char *buf, int n);
/* the whole string attribute, malloc'ed at the attribute's size (as
 * h5_attr_read_string reads it); NULL when it does not exist or cannot be opened */
char *h5_attr_read_string_alloc(int64_t loc, const char *name);
int h5_attr_read_i64(int64_t loc, const char *name, int64_t *v);
int h5_attr_read_f64(int64_t loc, const char *name, double *v);
#endif
