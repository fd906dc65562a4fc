/* io/h5util.c: HDF5 helpers shared by the slice store and the checkpoints
 * (see io/h5util.h). */
#include "io/h5util.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

#define H5_HINT_WRITE "check free disk space, quota and write permission of the output directory"

_Noreturn void h5_fail(const char *file, int line, const char *path, const char *what, const char *hint) {
  cs_fatal_at(file, line, hint, "HDF5: %s failed on '%s'", what, path);
}

void h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

int64_t h5_open_read(const char *path) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0) return -1;
  if (H5Pset_file_locking(fapl, 0, 1) < 0) return H5Pclose(fapl), -1;
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  return f;
}

/* ---------------------------------------------------------------- attrs -- */
void h5_attr_write_string(int64_t loc, const char *path, const char *name, const char *value) {
  if (H5Aexists(loc, name) > 0) H5_CHECK(H5Adelete(loc, name), path, name, H5_HINT_WRITE);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, strlen(value) + 1);
  H5Tset_strpad(t, H5T_STR_NULLTERM);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  H5_CHECK(a, path, name, H5_HINT_WRITE);
  H5_CHECK(H5Awrite(a, t, value), path, name, H5_HINT_WRITE);
  H5Aclose(a), H5Sclose(sp), H5Tclose(t);
}

/* one scalar attribute of file type ft from memory type mt (replaced if present) */
static void attr_write_scalar(int64_t loc, const char *path, const char *name, hid_t ft, hid_t mt, const void *v) {
  if (H5Aexists(loc, name) > 0) H5_CHECK(H5Adelete(loc, name), path, name, H5_HINT_WRITE);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT);
  H5_CHECK(a, path, name, H5_HINT_WRITE);
  H5_CHECK(H5Awrite(a, mt, v), path, name, H5_HINT_WRITE);
  H5Aclose(a), H5Sclose(sp);
}

void h5_attr_write_i64(int64_t loc, const char *path, const char *name, int64_t v) {
  attr_write_scalar(loc, path, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

/* a string attribute as a malloc'd C string: fixed length (read with the file's own padding, NULLTERM,
 * NULLPAD as h5py writes bytes, or SPACEPAD, and size: a NULLTERM memory type of the same size would drop the
 * last character of a NULLPAD string) or variable length (h5py's default for str); NULL when absent or not a
 * scalar string */
static char *attr_string_dup(int64_t loc, const char *name) {
  if (H5Aexists(loc, name) <= 0) return NULL;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  if (a < 0) return NULL;
  hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
  char *out = NULL;
  const int scalar = H5Sget_simple_extent_npoints(sp) == 1;
  if (scalar && H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) > 0) {
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5Tget_cset(ft));
    char *p = NULL;
    if (H5Aread(a, mt, &p) >= 0 && p) {
      out = mallocCheck(strlen(p) + 1);
      memcpy(out, p, strlen(p) + 1);
    }
    if (p) H5free_memory(p);
    H5Tclose(mt);
  } else if (scalar && H5Tget_class(ft) == H5T_STRING) {
    size_t sz = H5Tget_size(ft);
    H5T_str_t pad = H5Tget_strpad(ft);
    char *tmp = mallocCheck(sz + 1);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, sz);
    H5Tset_strpad(mt, pad == H5T_STR_SPACEPAD ? H5T_STR_SPACEPAD : H5T_STR_NULLPAD);
    if (H5Aread(a, mt, tmp) >= 0) {
      tmp[sz] = 0;
      if (pad == H5T_STR_SPACEPAD)
        for (size_t q = sz; q > 0 && tmp[q - 1] == ' '; q--) tmp[q - 1] = 0;
      out = tmp;
    } else {
      free(tmp);
    }
    H5Tclose(mt);
  }
  H5Sclose(sp), H5Tclose(ft), H5Aclose(a);
  return out;
}

int h5_attr_read_string(int64_t loc, const char *name, char *buf, int n) {
  buf[0] = 0;
  char *s = attr_string_dup(loc, name);
  if (!s) return 0;
  snprintf(buf, (size_t)n, "%s", s);
  free(s);
  return 1;
}


/* one scalar attribute into memory type mt; 1 when it exists and was read */
static int attr_read_scalar(int64_t loc, const char *name, hid_t mt, void *v) {
  if (H5Aexists(loc, name) <= 0) return 0;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  if (a < 0) return 0;
  int ok = H5Aread(a, mt, v) >= 0;
  H5Aclose(a);
  return ok;
}

char *h5_attr_read_string_alloc(int64_t loc, const char *name) { return attr_string_dup(loc, name); }

int h5_attr_read_i64(int64_t loc, const char *name, int64_t *v) { return attr_read_scalar(loc, name, H5T_NATIVE_INT64, v); }

void h5_attr_write_f64(int64_t loc, const char *path, const char *name, double v) {
  attr_write_scalar(loc, path, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

int h5_attr_read_f64(int64_t loc, const char *name, double *v) { return attr_read_scalar(loc, name, H5T_NATIVE_DOUBLE, v); }
