/* io/h5store.c: the HDF5 slice store writer and reader (schema in h5store.h).
 * Every HDF5 call goes through H5_CHECK, which names the file, the object and
 * the fix. HDF5's own error-stack printing is silenced (per thread). */
#define _POSIX_C_SOURCE 200809L
#include "io/h5store.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/common.h"
#include "io/atomic.h"
#include "io/h5util.h"
#include "io/hash.h"
#include "io/labels.h"
#include "io/prep.h"

/* One open store is read by the loader's prefetch thread (io/loader.c) and by
 * the trainer's validation at the same time: HDF5 must serialise its calls. */
#ifndef H5_HAVE_THREADSAFE
#error "cordseg needs a thread-safe HDF5 (H5_HAVE_THREADSAFE; Debian's libhdf5-dev is built so): the loader thread and validation read one store at once"
#endif

#define H5_HINT_READ "the file is truncated, not a cordseg store, or of another schema version; regenerate it with `cordseg phantom` or `cordseg import`"
#define H5_HINT_WRITE "check free disk space, quota and write permission of the output directory"

enum { DS_B0, DS_FA, DS_MD, DS_AD, DS_RD, DS_LABELS, DS_IMG_COUNT };
static const char *const IMG_NAMES[DS_IMG_COUNT] = {"b0", "fa", "md", "ad", "rd", "labels"};
static const char *const IMG_DESC[DS_IMG_COUNT] = {
    "mean of the b=0 volumes, scanner units (the loader normalises per slice)",
    "fractional anisotropy of the fitted diffusion tensor, [0,1]",
    "mean diffusivity (l1+l2+l3)/3", "axial diffusivity l1", "radial diffusivity (l2+l3)/2",
    "ROI label per pixel: 0 background, 1 L dorsal, 2 L lateral, 3 L ventral column, 4 L gray matter, "
    "5 R dorsal, 6 R lateral, 7 R ventral column, 8 R gray matter"};
static const char *const IMG_UNITS[DS_IMG_COUNT] = {"a.u.", "1", "mm^2/s", "mm^2/s", "mm^2/s", "label id"};

static void attr_write_class_names(int64_t loc, const char *path) {
  const char *name = "class_names";
  if (H5Aexists(loc, name) > 0) H5_CHECK(H5Adelete(loc, name), path, name, H5_HINT_WRITE);
  enum { LEN = 24 };
  char buf[LABEL_COUNT][LEN];
  memset(buf, 0, sizeof buf);
  for (int i = 0; i < LABEL_COUNT; i++) snprintf(buf[i], LEN, "%s", LABEL_NAMES[i]);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, LEN);
  hsize_t d = LABEL_COUNT;
  hid_t sp = H5Screate_simple(1, &d, NULL);
  hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  H5_CHECK(a, path, name, H5_HINT_WRITE);
  H5_CHECK(H5Awrite(a, t, buf), path, name, H5_HINT_WRITE);
  H5Aclose(a), H5Sclose(sp), H5Tclose(t);
}

/* -------------------------------------------------------------- writer -- */
static void create_dataset(H5Store *s, const char *name, hid_t type, int rank, const hsize_t *chunk,
                           const char *desc, const char *units) {
  hsize_t dims[3] = {0, 0, 0}, maxd[3];
  for (int i = 0; i < rank; i++) dims[i] = i ? chunk[i] : 0, maxd[i] = i ? chunk[i] : H5S_UNLIMITED;
  hid_t sp = H5Screate_simple(rank, dims, maxd);
  hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
  H5_CHECK(H5Pset_chunk(pl, rank, chunk), s->tmp, name, H5_HINT_WRITE);
  H5_CHECK(H5Pset_shuffle(pl), s->tmp, name, H5_HINT_WRITE);
  H5_CHECK(H5Pset_deflate(pl, 4), s->tmp, name, "this HDF5 library lacks the deflate filter; install the Debian libhdf5");
  hid_t ds = H5Dcreate2(s->file, name, type, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
  H5_CHECK(ds, s->tmp, name, H5_HINT_WRITE);
  h5_attr_write_string(ds, s->tmp, "description", desc);
  h5_attr_write_string(ds, s->tmp, "units", units);
  H5Dclose(ds), H5Pclose(pl), H5Sclose(sp);
}

void h5store_create(H5Store *s, const char *path, int32_t h, int32_t w, int with_dti, const char *created_by) {
  h5store_create_maps(s, path, h, w, 1, 1, with_dti, created_by);
}

void h5store_create_maps(H5Store *s, const char *path, int32_t h, int32_t w, int with_b0, int with_fa, int with_dti,
                         const char *created_by) {
  h5_quiet();
  memset(s, 0, sizeof *s);
  CS_CHECK(with_b0 || with_fa, "a store holds a B0 map, an FA map or both", "h5store_create('%s'): no map", path);
  CS_CHECK(h > 0 && w > 0 && h <= 4096 && w <= 4096, "slices must be 1..4096 pixels per side",
           "h5store_create('%s'): bad slice size %dx%d", path, h, w);
  snprintf(s->path, sizeof s->path, "%s", path);
  snprintf(s->created_by, sizeof s->created_by, "%s", created_by ? created_by : "");
  atomic_begin(path, s->tmp, sizeof s->tmp);
  s->file = H5Fcreate(s->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5_CHECK(s->file, s->tmp, "create file", H5_HINT_WRITE);
  s->writable = 1, s->has_dti = with_dti ? 1 : 0, s->h = h, s->w = w, s->hash = HASH_FNV_INIT;
  s->has_b0 = with_b0 ? 1 : 0, s->has_fa = with_fa ? 1 : 0;
  hsize_t chunk[3] = {1, (hsize_t)h, (hsize_t)w};
  for (int d = 0; d < DS_IMG_COUNT; d++) {
    if (!s->has_dti && (d == DS_MD || d == DS_AD || d == DS_RD)) continue;
    if ((d == DS_B0 && !s->has_b0) || (d == DS_FA && !s->has_fa)) continue;
    create_dataset(s, IMG_NAMES[d], d == DS_LABELS ? H5T_STD_U8LE : H5T_IEEE_F32LE, 3, chunk, IMG_DESC[d],
                   IMG_UNITS[d]);
  }
  hsize_t c1[1] = {1024}, c2[2] = {1024, 2};
  create_dataset(s, "subject", H5T_STD_I32LE, 1, c1, "subject id of each slice", "id");
  create_dataset(s, "slice", H5T_STD_I32LE, 1, c1, "slice index within its subject, cranial to caudal", "index");
  create_dataset(s, "level", H5T_STD_I32LE, 1, c1,
                 "vertebral level at the slice centre: 0 unknown, 1..7 C1..C7, 8..19 T1..T12, 20..24 L1..L5", "code");
  create_dataset(s, "spacing", H5T_IEEE_F32LE, 2, c2, "pixel size (row, column)", "mm");
  h5store_cord_create(s);
}

void h5store_open_append(H5Store *s, const char *path, const char *created_by) {
  h5_quiet();
  H5Store r;
  h5store_open(&r, path); /* validates the schema and loads the metadata */
  const uint64_t stored = h5store_require_verified(&r, "refusing to append to it");
  memset(s, 0, sizeof *s);
  *s = r;
  s->file = -1;
  for (int d = 0; d < DS_IMG_COUNT; d++) {
    if (r.ds[d] > 0) H5Dclose(r.ds[d]);
    s->ds[d] = -1, s->fast[d] = 0;
  }
  H5Fclose(r.file);
  atomic_begin(path, s->tmp, sizeof s->tmp);
  FILE *in = fopenCheck(path, "rb"), *out = fopenCheck(s->tmp, "wb");
  char *buf = mallocCheck(1 << 20);
  size_t got;
  while ((got = fread(buf, 1, 1 << 20, in)) > 0) fwriteCheck(buf, 1, got, out, s->tmp);
  free(buf);
  fclose(in);
  fcloseCheck(out, s->tmp);
  s->file = H5Fopen(s->tmp, H5F_ACC_RDWR, H5P_DEFAULT);
  H5_CHECK(s->file, s->tmp, "reopen copy for append", H5_HINT_WRITE);
  s->writable = 1;
  s->hash = stored;
  h5store_cord_free(s); /* the reader's copy; the writer fills /cord_ratio of an older store */
  h5store_cord_open(s);
  char prev[1024];
  h5_attr_read_string(s->file, "created_by", prev, sizeof prev);
  snprintf(s->created_by, sizeof s->created_by, "%.500s; %.500s", prev, created_by ? created_by : "");
}

static void append_rows(H5Store *s, const char *name, hid_t memtype, int rank, int64_t n0, int64_t n, const void *data) {
  hid_t ds = H5Dopen2(s->file, name, H5P_DEFAULT);
  H5_CHECK(ds, s->tmp, name, H5_HINT_WRITE);
  hsize_t dims[3] = {(hsize_t)(n0 + n), (hsize_t)s->h, (hsize_t)s->w};
  if (!strcmp(name, "spacing")) dims[1] = 2;
  H5_CHECK(H5Dset_extent(ds, dims), s->tmp, name, H5_HINT_WRITE);
  hid_t fs = H5Dget_space(ds);
  hsize_t start[3] = {(hsize_t)n0, 0, 0}, count[3] = {(hsize_t)n, dims[1], dims[2]};
  H5_CHECK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL), s->tmp, name, H5_HINT_WRITE);
  hid_t ms = H5Screate_simple(rank, count, NULL);
  H5_CHECK(H5Dwrite(ds, memtype, ms, fs, H5P_DEFAULT, data), s->tmp, name, H5_HINT_WRITE);
  H5Sclose(ms), H5Sclose(fs), H5Dclose(ds);
}

static void check_finite(const H5Store *s, const char *what, const float *p, size_t n, const SliceMeta *m) {
  if (!p) return;
  for (size_t i = 0; i < n; i++)
    if (!isfinite(p[i]))
      cs_fatal("fix or mask the NaN/Inf voxels in the input volume before importing",
               "'%s': %s of subject %d slice %d has a non-finite value at pixel %zu", s->path, what, m->subject,
               m->slice, i);
}

void h5store_append(H5Store *s, int32_t n, const float *b0, const float *fa, const float *md, const float *ad,
                    const float *rd, const uint8_t *labels, const SliceMeta *meta) {
  h5_quiet();
  CS_CHECK(s->writable, "open the store with h5store_create or h5store_open_append", "'%s' is not open for writing",
           s->path);
  CS_CHECK(!s->has_dti == !(md && ad && rd), "pass md, ad and rd exactly when the store was created with DTI maps",
           "'%s': md/ad/rd presence does not match the store", s->path);
  if (!s->has_b0 != !b0 || !s->has_fa != !fa)
    cs_fatal("import every subject of a store with the same maps, or start a new store",
             "store '%s' holds %s maps; the slices appended bring %s", s->path, h5store_maps_name(s->has_b0, s->has_fa),
             h5store_maps_name(b0 != NULL, fa != NULL));
  if (n <= 0) return;
  size_t hw = (size_t)s->h * (size_t)s->w;
  for (int32_t i = 0; i < n; i++) {
    const SliceMeta *m = &meta[i];
    if (b0) check_finite(s, "b0", b0 + i * hw, hw, m);
    if (fa) check_finite(s, "fa", fa + i * hw, hw, m);
    if (s->has_dti) {
      check_finite(s, "md", md + i * hw, hw, m);
      check_finite(s, "ad", ad + i * hw, hw, m);
      check_finite(s, "rd", rd + i * hw, hw, m);
    }
    for (size_t k = 0; k < hw; k++)
      if (labels[i * hw + k] > LABEL_MAX)
        cs_fatal("labels must be 0..8 (io/labels.h); map the label volume with --label-kind",
                 "'%s': labels of subject %d slice %d has value %d at pixel %zu (outside 0..8)", s->path,
                 m->subject, m->slice, labels[i * hw + k], k);
  }
  int64_t n0 = s->n;
  if (b0) append_rows(s, "b0", H5T_NATIVE_FLOAT, 3, n0, n, b0);
  if (fa) append_rows(s, "fa", H5T_NATIVE_FLOAT, 3, n0, n, fa);
  if (s->has_dti) {
    append_rows(s, "md", H5T_NATIVE_FLOAT, 3, n0, n, md);
    append_rows(s, "ad", H5T_NATIVE_FLOAT, 3, n0, n, ad);
    append_rows(s, "rd", H5T_NATIVE_FLOAT, 3, n0, n, rd);
  }
  append_rows(s, "labels", H5T_NATIVE_UINT8, 3, n0, n, labels);
  h5store_cord_append(s, (int32_t)n0, n, labels, meta);
  int32_t *iv = mallocCheck(sizeof(int32_t) * 3 * (size_t)n);
  float *sp = mallocCheck(sizeof(float) * 2 * (size_t)n);
  for (int32_t i = 0; i < n; i++) {
    iv[i] = meta[i].subject, iv[n + i] = meta[i].slice, iv[2 * n + i] = meta[i].level;
    sp[2 * i] = meta[i].spacing[0], sp[2 * i + 1] = meta[i].spacing[1];
  }
  append_rows(s, "subject", H5T_NATIVE_INT32, 1, n0, n, iv);
  append_rows(s, "slice", H5T_NATIVE_INT32, 1, n0, n, iv + n);
  append_rows(s, "level", H5T_NATIVE_INT32, 1, n0, n, iv + 2 * n);
  append_rows(s, "spacing", H5T_NATIVE_FLOAT, 2, n0, n, sp);
  free(iv), free(sp);
  if (s->n + n > s->cap) {
    s->cap = (s->n + n) * 2;
    SliceMeta *nm = mallocCheck(sizeof(SliceMeta) * (size_t)s->cap);
    if (s->n) memcpy(nm, s->meta, sizeof(SliceMeta) * (size_t)s->n);
    free(s->meta);
    s->meta = nm;
  }
  for (int32_t i = 0; i < n; i++) {
    const SliceMeta *m = &meta[i];
    uint64_t h = s->hash;
    if (b0) h = hash_fnv1a(h, b0 + i * hw, hw * 4);
    if (fa) h = hash_fnv1a(h, fa + i * hw, hw * 4);
    if (s->has_dti) {
      h = hash_fnv1a(h, md + i * hw, hw * 4);
      h = hash_fnv1a(h, ad + i * hw, hw * 4);
      h = hash_fnv1a(h, rd + i * hw, hw * 4);
    }
    h = hash_fnv1a(h, labels + i * hw, hw);
    h = hash_fnv1a(h, &m->subject, 4);
    h = hash_fnv1a(h, &m->slice, 4);
    h = hash_fnv1a(h, &m->level, 4);
    h = hash_fnv1a(h, m->spacing, 8);
    s->hash = h;
    s->meta[s->n + i] = *m;
  }
  s->n += n;
}

void h5store_commit(H5Store *s) {
  h5_quiet();
  CS_CHECK(s->writable, NULL, "h5store_commit: '%s' is not open for writing", s->path);
  char buf[128];
  h5_attr_write_string(s->file, s->tmp, "schema", H5STORE_SCHEMA);
  h5_attr_write_i64(s->file, s->tmp, "schema_version", H5STORE_SCHEMA_VERSION);
  attr_write_class_names(s->file, s->tmp);
  h5_attr_write_string(s->file, s->tmp, "orientation",
                    "slices [H][W]: row 0 anterior (rows anterior->posterior), column 0 patient right "
                    "(columns right->left, radiological); axial, cranial->caudal slice order");
  h5_attr_write_string(s->file, s->tmp, "level_coding", "0 unknown, 1..7 C1..C7, 8..19 T1..T12, 20..24 L1..L5");
  h5_attr_write_string(s->file, s->tmp, "created_by", s->created_by);
  h5_attr_write_i64(s->file, s->tmp, "n_slices", s->n);
  h5_attr_write_i64(s->file, s->tmp, "n_subjects", h5store_subject_count(s));
  snprintf(buf, sizeof buf, "fnv1a64:%016llx", (unsigned long long)s->hash);
  h5_attr_write_string(s->file, s->tmp, "checksum", buf);
  h5_attr_write_string(s->file, s->tmp, "checksum_covers",
                    "per slice in order: [b0], [fa], [md, ad, rd], labels, subject, slice, level, spacing (LE bytes; each "
                    "[map] when the store has it)");
  h5store_names_write(s);
  H5_CHECK(H5Fflush(s->file, H5F_SCOPE_GLOBAL), s->tmp, "flush", H5_HINT_WRITE);
  H5_CHECK(H5Fclose(s->file), s->tmp, "close", H5_HINT_WRITE);
  s->file = -1;
  atomic_commit(s->tmp, s->path);
  free(s->meta);
  s->meta = NULL;
  h5store_names_free(s);
  s->writable = 0;
}

/* -------------------------------------------------------------- reader -- */
static void check_dataset(const H5Store *s, const char *name, H5T_class_t cls, size_t size, int rank,
                          const hsize_t *want) {
  if (H5Lexists(s->file, name, H5P_DEFAULT) <= 0)
    cs_fatal(H5_HINT_READ, "'%s': dataset '/%s' is missing", s->path, name);
  hid_t ds = H5Dopen2(s->file, name, H5P_DEFAULT);
  H5_CHECK(ds, s->path, name, H5_HINT_READ);
  hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds);
  hsize_t d[3] = {0, 0, 0};
  int r = H5Sget_simple_extent_ndims(sp);
  if (r == rank) H5Sget_simple_extent_dims(sp, d, NULL);
  int ok = H5Tget_class(t) == cls && H5Tget_size(t) == size && r == rank;
  for (int i = 0; ok && i < rank; i++) ok = d[i] == want[i];
  H5Tclose(t), H5Sclose(sp), H5Dclose(ds);
  if (!ok)
    cs_fatal(H5_HINT_READ, "'%s': dataset '/%s' has the wrong type or shape (want rank %d, first dims %llu x %llu)",
             s->path, name, rank, (unsigned long long)want[0], rank > 1 ? (unsigned long long)want[1] : 1ull);
}

static void read_all(const H5Store *s, const char *name, hid_t memtype, void *out) {
  hid_t ds = H5Dopen2(s->file, name, H5P_DEFAULT);
  H5_CHECK(ds, s->path, name, H5_HINT_READ);
  H5_CHECK(H5Dread(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), s->path, name, H5_HINT_READ);
  H5Dclose(ds);
}

void h5store_open(H5Store *s, const char *path) {
  h5_quiet();
  memset(s, 0, sizeof *s);
  snprintf(s->path, sizeof s->path, "%s", path);
  FILE *f = fopen(path, "rb");
  if (!f) cs_fatal("check the path; create a store with `cordseg phantom` or `cordseg import`",
                   "cannot open store '%s': %s", path, strerror(errno));
  fclose(f);
  if (H5Fis_hdf5(path) <= 0) cs_fatal(H5_HINT_READ, "'%s' is not an HDF5 file (or its superblock is damaged)", path);
  s->file = h5_open_read(path);
  H5_CHECK(s->file, path, "open (the file may be truncated: its end-of-file is before its end of data)", H5_HINT_READ);
  char schema[64];
  int64_t ver = -1;
  if (!h5_attr_read_string(s->file, "schema", schema, sizeof schema) || strcmp(schema, H5STORE_SCHEMA))
    cs_fatal(H5_HINT_READ, "'%s': root attribute 'schema' is '%s', expected '%s'", path, schema, H5STORE_SCHEMA);
  if (!h5_attr_read_i64(s->file, "schema_version", &ver) || ver != H5STORE_SCHEMA_VERSION)
    cs_fatal(H5_HINT_READ, "'%s': schema_version is %lld, this cordseg reads version %d", path, (long long)ver,
             H5STORE_SCHEMA_VERSION);
  h5_attr_read_string(s->file, "created_by", s->created_by, sizeof s->created_by);
  /* which maps it has (B0, FA or both); the shape from /labels, then every dataset must agree */
  s->has_b0 = H5Lexists(s->file, "b0", H5P_DEFAULT) > 0, s->has_fa = H5Lexists(s->file, "fa", H5P_DEFAULT) > 0;
  if (!s->has_b0 && !s->has_fa) cs_fatal(H5_HINT_READ, "'%s': neither '/b0' nor '/fa' is there", path);
  if (H5Lexists(s->file, "labels", H5P_DEFAULT) <= 0) cs_fatal(H5_HINT_READ, "'%s': dataset '/labels' is missing", path);
  hid_t ds = H5Dopen2(s->file, "labels", H5P_DEFAULT);
  H5_CHECK(ds, path, "labels", H5_HINT_READ);
  hid_t sp = H5Dget_space(ds);
  hsize_t d[3] = {0, 0, 0};
  if (H5Sget_simple_extent_ndims(sp) != 3) cs_fatal(H5_HINT_READ, "'%s': '/labels' is not [N,H,W]", path);
  H5Sget_simple_extent_dims(sp, d, NULL);
  H5Sclose(sp), H5Dclose(ds);
  if (d[0] > (hsize_t)INT32_MAX / 2 || d[1] < 1 || d[2] < 1 || d[1] > 4096 || d[2] > 4096)
    cs_fatal(H5_HINT_READ, "'%s': dataset '/labels' has shape %llu x %llu x %llu (slices of 1..4096 pixels per side)",
             path, (unsigned long long)d[0], (unsigned long long)d[1], (unsigned long long)d[2]);
  s->n = (int32_t)d[0], s->h = (int32_t)d[1], s->w = (int32_t)d[2];
  if (s->has_b0) check_dataset(s, "b0", H5T_FLOAT, 4, 3, d);
  if (s->has_fa) check_dataset(s, "fa", H5T_FLOAT, 4, 3, d);
  check_dataset(s, "labels", H5T_INTEGER, 1, 3, d);
  s->has_dti = H5Lexists(s->file, "md", H5P_DEFAULT) > 0;
  if (s->has_dti) {
    check_dataset(s, "md", H5T_FLOAT, 4, 3, d);
    check_dataset(s, "ad", H5T_FLOAT, 4, 3, d);
    check_dataset(s, "rd", H5T_FLOAT, 4, 3, d);
  }
  hsize_t d1[1] = {d[0]}, d2[2] = {d[0], 2};
  check_dataset(s, "subject", H5T_INTEGER, 4, 1, d1);
  check_dataset(s, "slice", H5T_INTEGER, 4, 1, d1);
  check_dataset(s, "level", H5T_INTEGER, 4, 1, d1);
  check_dataset(s, "spacing", H5T_FLOAT, 4, 2, d2);
  s->cap = s->n;
  s->meta = mallocCheck(sizeof(SliceMeta) * (size_t)(s->n ? s->n : 1));
  int32_t *iv = mallocCheck(sizeof(int32_t) * 3 * (size_t)(s->n + 1));
  float *spc = mallocCheck(sizeof(float) * 2 * (size_t)(s->n + 1));
  if (s->n) {
    read_all(s, "subject", H5T_NATIVE_INT32, iv);
    read_all(s, "slice", H5T_NATIVE_INT32, iv + s->n);
    read_all(s, "level", H5T_NATIVE_INT32, iv + 2 * s->n);
    read_all(s, "spacing", H5T_NATIVE_FLOAT, spc);
  }
  for (int32_t i = 0; i < s->n; i++) {
    s->meta[i].subject = iv[i], s->meta[i].slice = iv[s->n + i], s->meta[i].level = iv[2 * s->n + i];
    s->meta[i].spacing[0] = spc[2 * i], s->meta[i].spacing[1] = spc[2 * i + 1];
    const SliceMeta *m = &s->meta[i];
    if (m->slice < 0 || m->level < 0 || m->level > 24)
      cs_fatal(H5_HINT_READ, "'%s': slice %d (subject %d) has %s = %d (slice >= 0, level 0..24)", path, i, m->subject,
               m->slice < 0 ? "/slice" : "/level", m->slice < 0 ? m->slice : m->level);
    for (int k = 0; k < 2; k++)
      if (!isfinite(m->spacing[k]) || !(m->spacing[k] > 0) || m->spacing[k] > 1e3)
        cs_fatal(H5_HINT_READ, "'%s': dataset /spacing, slice %d (subject %d) has %s pixel size %g mm", path, i,
                 m->subject, k ? "column" : "row", (double)m->spacing[k]);
  }
  int64_t n_attr = -1;
  if (h5_attr_read_i64(s->file, "n_slices", &n_attr) && n_attr != s->n)
    cs_fatal(H5_HINT_READ, "'%s': root attribute n_slices = %lld but the datasets hold %d slices", path,
             (long long)n_attr, s->n);
  free(iv), free(spc);
  h5store_names_read(s);
  for (int q = 0; q < DS_IMG_COUNT; q++) {
    s->ds[q] = -1, s->fast[q] = 0;
    if (H5Lexists(s->file, IMG_NAMES[q], H5P_DEFAULT) <= 0) continue;
    s->ds[q] = H5Dopen2(s->file, IMG_NAMES[q], H5P_DEFAULT);
    H5_CHECK(s->ds[q], path, IMG_NAMES[q], H5_HINT_READ);
    hid_t pl = H5Dget_create_plist(s->ds[q]);
    hsize_t ch[3] = {0, 0, 0};
    unsigned flags, cd[8];
    size_t ncd = 8;
    int ok = H5Pget_layout(pl) == H5D_CHUNKED && H5Pget_chunk(pl, 3, ch) == 3 && ch[0] == 1 &&
             ch[1] == (hsize_t)s->h && ch[2] == (hsize_t)s->w && H5Pget_nfilters(pl) == 2;
    ok = ok && H5Pget_filter2(pl, 0, &flags, &ncd, cd, 0, NULL, NULL) == H5Z_FILTER_SHUFFLE;
    ncd = 8;
    ok = ok && H5Pget_filter2(pl, 1, &flags, &ncd, cd, 0, NULL, NULL) == H5Z_FILTER_DEFLATE;
    s->fast[q] = ok;
    H5Pclose(pl);
  }
  h5store_cord_open(s);
}

/* Direct chunk read + our own inflate and unshuffle: the HDF5 deflate filter
 * grows its buffer by doubling and costs ~5x more per slice. Returns 0 when the
 * chunk's filters were not all applied (then the caller uses H5Dread). */
static int read_chunk_fast(const H5Store *s, int d, int32_t i, size_t elem, void *out) {
  hsize_t off[3] = {(hsize_t)i, 0, 0}, csz = 0;
  if (H5Dget_chunk_storage_size(s->ds[d], off, &csz) < 0 || csz == 0) return 0;
  unsigned char *raw = mallocCheck((size_t)csz);
  uint32_t mask = 0;
  size_t n = (size_t)s->h * s->w * elem;
  unsigned char *tmp = elem > 1 ? mallocCheck(n) : out;
  int ok = H5Dread_chunk(s->ds[d], H5P_DEFAULT, off, &mask, raw) >= 0 && mask == 0;
  uLongf len = (uLongf)n;
  ok = ok && uncompress(tmp, &len, raw, (uLong)csz) == Z_OK && len == n;
  if (ok && elem > 1) { /* unshuffle: byte plane b holds byte b of every element */
    size_t ne = n / elem;
    unsigned char *o = out;
    for (size_t b = 0; b < elem; b++)
      for (size_t k = 0; k < ne; k++) o[k * elem + b] = tmp[b * ne + k];
  }
  free(raw);
  if (elem > 1) free(tmp);
  return ok;
}

/* what a slice must hold, checked on every read so that no command (info,
 * folds, train, evaluate) works on garbage: finite images, labels 0..8 */
static void check_slice(const H5Store *s, int d, int32_t i, const void *out) {
  const size_t hw = (size_t)s->h * (size_t)s->w;
  const SliceMeta *m = &s->meta[i];
  if (d == DS_LABELS) {
    const uint8_t *l = out;
    for (size_t k = 0; k < hw; k++)
      if (l[k] > LABEL_MAX)
        cs_fatal("labels are 0..8 (io/labels.h); re-import the subject with the right --label-map",
                 "store '%s': dataset /labels, slice %d (subject %d, slice %d) has value %d at pixel (%zu,%zu), "
                 "outside 0..%d",
                 s->path, i, m->subject, m->slice, l[k], k / (size_t)s->w, k % (size_t)s->w, LABEL_MAX);
    return;
  }
  const float *f = out;
  for (size_t k = 0; k < hw; k++) {
    if (isfinite(f[k]) && !(d == DS_FA && prep_fa_out_of_range(f[k])) && !(d >= DS_MD && d <= DS_RD && f[k] < 0))
      continue;
    char why[64];
    if (!isfinite(f[k])) snprintf(why, sizeof why, " (not finite)");
    else if (d == DS_FA) snprintf(why, sizeof why, " (outside the FA range [%g, %g])", (double)PREP_FA_MIN,
                 (double)PREP_FA_MAX);
    else snprintf(why, sizeof why, " (a diffusivity is >= 0)");
    cs_fatal("the store is damaged or was not written by cordseg; regenerate it with `cordseg import` or `cordseg "
             "phantom`",
             "store '%s': dataset /%s, slice %d (subject %d, slice %d) has value %g at pixel (%zu,%zu)%s", s->path,
             IMG_NAMES[d], i, m->subject, m->slice, (double)f[k], k / (size_t)s->w, k % (size_t)s->w, why);
  }
}

static void read_slice(const H5Store *s, const char *name, hid_t memtype, int32_t i, void *out) {
  CS_CHECK(i >= 0 && i < s->n, "slice indices come from the folds file of this very store",
           "'%s': slice index %d outside [0, %d)", s->path, i, s->n);
  int d = 0;
  while (d < DS_IMG_COUNT && strcmp(IMG_NAMES[d], name)) d++;
  int cached = d < DS_IMG_COUNT && !s->writable && s->ds[d] >= 0;
  size_t elem = d == DS_LABELS ? 1 : 4;
  if (cached && s->fast[d] && read_chunk_fast(s, d, i, elem, out)) {
    check_slice(s, d, i, out);
    return;
  }
  hid_t ds = cached ? s->ds[d] : H5Dopen2(s->file, name, H5P_DEFAULT);
  H5_CHECK(ds, s->path, name, H5_HINT_READ);
  hid_t fs = H5Dget_space(ds);
  hsize_t start[3] = {(hsize_t)i, 0, 0}, count[3] = {1, (hsize_t)s->h, (hsize_t)s->w};
  H5_CHECK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL), s->path, name, H5_HINT_READ);
  hid_t ms = H5Screate_simple(3, count, NULL);
  H5_CHECK(H5Dread(ds, memtype, ms, fs, H5P_DEFAULT, out), s->path, name, H5_HINT_READ);
  H5Sclose(ms), H5Sclose(fs);
  if (!cached) H5Dclose(ds);
  if (d < DS_IMG_COUNT && !s->writable) check_slice(s, d, i, out);
}

void h5store_read_slices(const H5Store *s, const int32_t *idx, int32_t n, float *b0, float *fa, uint8_t *labels) {
  h5_quiet();
  size_t hw = (size_t)s->h * (size_t)s->w;
  if ((b0 && !s->has_b0) || (fa && !s->has_fa))
    cs_fatal("use the map the store has (cordseg info lists them), or import the subjects with both maps",
             "store '%s' holds %s maps only: it has no %s map", s->path, h5store_maps_name(s->has_b0, s->has_fa),
             b0 && !s->has_b0 ? "B0" : "FA");
  for (int32_t k = 0; k < n; k++) {
    if (b0) read_slice(s, "b0", H5T_NATIVE_FLOAT, idx[k], b0 + k * hw);
    if (fa) read_slice(s, "fa", H5T_NATIVE_FLOAT, idx[k], fa + k * hw);
    if (labels) read_slice(s, "labels", H5T_NATIVE_UINT8, idx[k], labels + k * hw);
  }
}

void h5store_read_dti(const H5Store *s, int32_t i, float *md, float *ad, float *rd) {
  h5_quiet();
  CS_CHECK(s->has_dti, "import raw DWI (cordseg import --dwi) or build a phantom to get md/ad/rd",
           "'%s' has no md/ad/rd datasets", s->path);
  read_slice(s, "md", H5T_NATIVE_FLOAT, i, md);
  read_slice(s, "ad", H5T_NATIVE_FLOAT, i, ad);
  read_slice(s, "rd", H5T_NATIVE_FLOAT, i, rd);
}

/* the recorded checksum attribute: 1 with *v when it is "fnv1a64:" and 16 hex digits; 0 with why[] saying what is
 * wrong with it (missing, or what it holds instead) */
static int stored_checksum(const H5Store *s, uint64_t *v, char *why, size_t n) {
  char buf[64];
  *v = 0;
  if (!h5_attr_read_string(s->file, "checksum", buf, sizeof buf)) {
    snprintf(why, n, "has no 'checksum' attribute (a store cordseg did not finish writing, or one written by another tool)");
    return 0;
  }
  char *e = NULL;
  const int hex = !strncmp(buf, "fnv1a64:", 8) && strlen(buf + 8) == 16 && strspn(buf + 8, "0123456789abcdefABCDEF") == 16;
  if (hex) *v = strtoull(buf + 8, &e, 16);
  if (!hex || !e || *e) {
    snprintf(why, n, "has a damaged 'checksum' attribute '%.40s' (want fnv1a64: and 16 hex digits)", buf);
    return 0;
  }
  return 1;
}

static uint64_t content_hash(const H5Store *s) {
  size_t hw = (size_t)s->h * (size_t)s->w;
  float *f = mallocCheck(hw * 4 * 5);
  uint8_t *l = mallocCheck(hw);
  uint64_t h = HASH_FNV_INIT;
  for (int32_t i = 0; i < s->n; i++) {
    h5store_read_slices(s, &i, 1, s->has_b0 ? f : NULL, s->has_fa ? f + hw : NULL, l);
    if (s->has_dti) h5store_read_dti(s, i, f + 2 * hw, f + 3 * hw, f + 4 * hw);
    if (s->has_b0) h = hash_fnv1a(h, f, hw * 4);
    if (s->has_fa) h = hash_fnv1a(h, f + hw, hw * 4);
    if (s->has_dti) h = hash_fnv1a(h, f + 2 * hw, hw * 4 * 3);
    h = hash_fnv1a(h, l, hw);
    const SliceMeta *m = &s->meta[i];
    h = hash_fnv1a(h, &m->subject, 4);
    h = hash_fnv1a(h, &m->slice, 4);
    h = hash_fnv1a(h, &m->level, 4);
    h = hash_fnv1a(h, m->spacing, 8);
  }
  free(f), free(l);
  return h;
}

int h5store_verify(const H5Store *s, uint64_t *computed, uint64_t *stored) {
  h5_quiet();
  char why[160];
  const int has = stored_checksum(s, stored, why, sizeof why);
  *computed = content_hash(s);
  return has && *computed == *stored;
}

/* the check with its message; *stored: the recorded checksum (0 when there is none) */
static int verify_explain(const H5Store *s, uint64_t *stored, char *msg, size_t n) {
  h5_quiet();
  char why[160];
  if (!stored_checksum(s, stored, why, sizeof why)) return snprintf(msg, n, "store '%s' %s", s->path, why), 0;
  const uint64_t computed = content_hash(s);
  if (computed == *stored)
    return snprintf(msg, n, "store '%s': content checksum fnv1a64:%016llx verified", s->path,
                    (unsigned long long)computed), 1;
  snprintf(msg, n, "store '%s': its content hashes to fnv1a64:%016llx but its 'checksum' attribute records "
           "fnv1a64:%016llx (slices changed after it was written, or the file is damaged)", s->path,
           (unsigned long long)computed, (unsigned long long)*stored);
  return 0;
}

int h5store_verify_explain(const H5Store *s, char *msg, size_t n) {
  uint64_t stored;
  return verify_explain(s, &stored, msg, n);
}

uint64_t h5store_require_verified(const H5Store *s, const char *refusing) {
  char msg[sizeof s->path + 400];
  uint64_t stored;
  if (!verify_explain(s, &stored, msg, sizeof msg)) cs_fatal(H5STORE_HINT_REBUILD, "%s: %s", msg, refusing);
  return stored;
}

const char *h5store_maps_name(int b0, int fa) { return b0 && fa ? "B0 and FA" : b0 ? "B0" : fa ? "FA" : "no"; }

int32_t h5store_subject_count(const H5Store *s) {
  int32_t c = 0;
  for (int32_t i = 0; i < s->n; i++) {
    int seen = 0;
    for (int32_t j = 0; j < i && !seen; j++) seen = s->meta[j].subject == s->meta[i].subject;
    c += !seen;
  }
  return c;
}

void h5store_attr_string(const H5Store *s, const char *name, char *buf, int n) {
  h5_quiet();
  h5_attr_read_string(s->file, name, buf, n);
}

void h5store_close(H5Store *s) {
  if (s->writable) {
    if (s->file >= 0) H5Fclose(s->file);
    atomic_abort(s->tmp);
  } else if (s->file > 0) {
    for (int d = 0; d < DS_IMG_COUNT; d++)
      if (s->ds[d] > 0) H5Dclose(s->ds[d]);
    H5Fclose(s->file);
  }
  free(s->meta);
  h5store_names_free(s);
  h5store_cord_free(s);
  memset(s, 0, sizeof *s);
  s->file = -1;
}
