/* io/h5cord.c: the per-slice cord shape of a slice store (io/h5store.h):
 * /cord_ratio float32 [N], the AP/LR diameter ratio of the labelled cord of
 * each slice (core/metrics.h metrics_cord_ratio over labels 1..8, with the
 * slice's spacing; NaN without cord), the compression measure `evaluate`
 * breaks its results down by. Derived from /labels and /spacing, so not part
 * of the store's checksum: every writer gets it from h5store_append (phantom,
 * import, re-import), an append to a store of older cordseg first fills it
 * for the slices already there, and a reader of such a store computes it from
 * the slice's labels (h5store_cord_ratio). */
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/metrics.h"
#include "io/h5store.h"
#include "io/h5util.h"
#include "io/labels.h"

#define DS "cord_ratio"
#define HINT_WRITE "check free disk space, quota and write permission of the output directory"
#define HINT_READ "the store's /cord_ratio was changed after writing or is damaged; regenerate or re-import the store"

static double slice_ratio(const uint8_t *labels, const H5Store *s, const SliceMeta *m) {
  return metrics_cord_ratio(labels, s->h, s->w, m->spacing, LABEL_COUNT);
}

static void cord_create(H5Store *s) {
  hsize_t dims[1] = {0}, maxd[1] = {H5S_UNLIMITED}, chunk[1] = {1024};
  hid_t sp = H5Screate_simple(1, dims, maxd), pl = H5Pcreate(H5P_DATASET_CREATE);
  H5_CHECK(H5Pset_chunk(pl, 1, chunk), s->tmp, DS, HINT_WRITE);
  hid_t ds = H5Dcreate2(s->file, DS, H5T_IEEE_F32LE, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
  H5_CHECK(ds, s->tmp, DS, HINT_WRITE);
  h5_attr_write_string(ds, s->tmp, "description",
                       "AP/LR diameter ratio of the labelled cord (labels 1..8): row extent x row spacing over column "
                       "extent x column spacing; NaN without cord; derived from /labels, not in the checksum");
  h5_attr_write_string(ds, s->tmp, "units", "ratio");
  H5Dclose(ds), H5Pclose(pl), H5Sclose(sp);
}

/* rows [n0, n0 + n) of /cord_ratio */
static void cord_write(H5Store *s, int64_t n0, int64_t n, const float *v) {
  if (n <= 0) return;
  hid_t ds = H5Dopen2(s->file, DS, H5P_DEFAULT);
  H5_CHECK(ds, s->tmp, DS, HINT_WRITE);
  hsize_t size[1] = {(hsize_t)(n0 + n)}, start[1] = {(hsize_t)n0}, count[1] = {(hsize_t)n};
  H5_CHECK(H5Dset_extent(ds, size), s->tmp, DS, HINT_WRITE);
  hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(1, count, NULL);
  H5_CHECK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL), s->tmp, DS, HINT_WRITE);
  H5_CHECK(H5Dwrite(ds, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, v), s->tmp, DS, HINT_WRITE);
  H5Sclose(ms), H5Sclose(fs), H5Dclose(ds);
}

void h5store_cord_create(H5Store *s) { cord_create(s); }

void h5store_cord_append(H5Store *s, int32_t n0, int32_t n, const uint8_t *labels, const SliceMeta *meta) {
  const size_t hw = (size_t)s->h * s->w;
  float *v = mallocCheck(sizeof(float) * (size_t)(n > 0 ? n : 1));
  for (int32_t i = 0; i < n; i++) v[i] = (float)slice_ratio(labels + i * hw, s, &meta[i]);
  cord_write(s, n0, n, v);
  free(v);
}

void h5store_cord_open(H5Store *s) {
  s->cord_ratio = NULL;
  const int present = H5Lexists(s->file, DS, H5P_DEFAULT) > 0;
  if (s->writable) { /* an append to a store of older cordseg: the slices already there first */
    if (present) return;
    cord_create(s);
    uint8_t *lab = mallocCheck((size_t)s->h * s->w);
    float *v = mallocCheck(sizeof(float) * (size_t)(s->n > 0 ? s->n : 1));
    for (int32_t i = 0; i < s->n; i++) {
      h5store_read_slices(s, &i, 1, NULL, NULL, lab);
      v[i] = (float)slice_ratio(lab, s, &s->meta[i]);
    }
    cord_write(s, 0, s->n, v);
    free(lab), free(v);
    return;
  }
  if (!present) return; /* a store of older cordseg: h5store_cord_ratio computes it */
  hid_t ds = H5Dopen2(s->file, DS, H5P_DEFAULT);
  H5_CHECK(ds, s->path, DS, HINT_READ);
  hid_t sp = H5Dget_space(ds);
  hsize_t d[1] = {0};
  const int ok = H5Sget_simple_extent_ndims(sp) == 1 && H5Sget_simple_extent_dims(sp, d, NULL) == 1 &&
                 d[0] == (hsize_t)s->n;
  H5Sclose(sp);
  if (!ok) cs_fatal(HINT_READ, "'%s': dataset /%s holds %llu values for %d slices", s->path, DS, (unsigned long long)d[0], s->n);
  s->cord_ratio = mallocCheck(sizeof(float) * (size_t)(s->n > 0 ? s->n : 1));
  if (s->n) H5_CHECK(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->cord_ratio), s->path, DS, HINT_READ);
  H5Dclose(ds);
}

void h5store_cord_free(H5Store *s) {
  free(s->cord_ratio);
  s->cord_ratio = NULL;
}

double h5store_cord_ratio(const H5Store *s, int32_t i) {
  CS_CHECK(i >= 0 && i < s->n, NULL, "internal: h5store_cord_ratio slice %d of %d", i, s->n);
  if (s->cord_ratio) return s->cord_ratio[i];
  uint8_t *lab = mallocCheck((size_t)s->h * s->w);
  h5store_read_slices(s, &i, 1, NULL, NULL, lab);
  const double r = slice_ratio(lab, s, &s->meta[i]);
  free(lab);
  return (double)(float)r; /* as the dataset stores it */
}
