/* tests/test_io_h5util.c: io/h5util.h's string attributes are read whatever
 * the writer chose: fixed length with NULLTERM (cordseg's own), NULLPAD (h5py
 * for bytes) or SPACEPAD padding, and variable length (h5py's default for a
 * Python str, which was read as missing before 2026-12-07); absent and
 * non-string attributes read as missing. Written here with the HDF5 C API. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/h5util.h"
#include "tests/testutil.h"

static void put_fixed(hid_t f, const char *name, const char *text, size_t size, H5T_str_t pad) {
  hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
  H5Tset_size(t, size);
  H5Tset_strpad(t, pad);
  char *buf = calloc(size + 1, 1);
  memset(buf, pad == H5T_STR_SPACEPAD ? ' ' : 0, size);
  memcpy(buf, text, strlen(text) < size ? strlen(text) : size);
  hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, t, buf);
  H5Aclose(a), H5Sclose(sp), H5Tclose(t);
  free(buf);
}

static void put_variable(hid_t f, const char *name, const char *text) {
  hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, t, &text);
  H5Aclose(a), H5Sclose(sp), H5Tclose(t);
}

int main(void) {
  char path[300];
  snprintf(path, sizeof path, "%s/test_io_h5util.%d.h5", CORDSEG_BINARY_DIR, (int)getpid());
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  put_fixed(f, "nullterm", "vgg16", 6, H5T_STR_NULLTERM);
  put_fixed(f, "nullpad", "resnet50", 8, H5T_STR_NULLPAD); /* exactly full: no terminator in the file */
  put_fixed(f, "spacepad", "hdl", 10, H5T_STR_SPACEPAD);
  put_variable(f, "variable", "b0+fa, written as h5py writes a str");
  int32_t one = 1;
  hid_t sp = H5Screate(H5S_SCALAR), a = H5Acreate2(f, "number", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_INT32, &one);
  H5Aclose(a), H5Sclose(sp);
  static const struct {
    const char *name, *want;
  } CASES[] = {{"nullterm", "vgg16"},
               {"nullpad", "resnet50"},
               {"spacepad", "hdl"},
               {"variable", "b0+fa, written as h5py writes a str"}};
  for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
    char buf[128];
    int ok = h5_attr_read_string(f, CASES[i].name, buf, sizeof buf);
    T_CHECK(ok && !strcmp(buf, CASES[i].want), "%s string attribute read as '%s' (want '%s')", CASES[i].name,
            ok ? buf : "(missing)", CASES[i].want);
    char *s = h5_attr_read_string_alloc(f, CASES[i].name);
    T_CHECK(s && !strcmp(s, CASES[i].want), "%s through the allocating reader: '%s'", CASES[i].name, s ? s : "(NULL)");
    free(s);
  }
  char buf[16];
  T_CHECK(!h5_attr_read_string(f, "absent", buf, sizeof buf) && !buf[0], "an absent attribute reads as missing");
  T_CHECK(!h5_attr_read_string(f, "number", buf, sizeof buf), "an integer attribute is not a string");
  T_CHECK(h5_attr_read_string(f, "variable", buf, 6) && !strcmp(buf, "b0+fa"), "a short buffer is truncated: '%s'",
          buf);
  H5Fclose(f);
  unlink(path);
  return t_finish("test_io_h5util");
}
