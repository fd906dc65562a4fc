/* io/h5store.h: the HDF5 slice store, one file per dataset (schema below).
 * Writer: h5store_create / h5store_open_append -> h5store_append ->
 * h5store_commit (temp file + fsync + rename; nothing half written).
 * Reader: h5store_open (read-only, HDF5 file locking off so NFS/Lustre work)
 * -> h5store_read_slices / h5store_verify -> h5store_close.
 *
 * Schema "cordseg-slices" version 1 (all [N,H,W] datasets chunked [1,H,W],
 * shuffle + deflate):
 *   /b0      float32 [N,H,W]  mean b=0 signal (scanner units, not normalised)
 *   /fa      float32 [N,H,W]  fractional anisotropy in [0,1]
 *            (a B0-only or FA-only store has one of the two: has_b0, has_fa;
 *            the checksum then covers the one it has)
 *   /md,/ad,/rd float32 [N,H,W] optional, mean/axial/radial diffusivity, mm^2/s
 *   /labels  uint8   [N,H,W]  0..8, see io/labels.h
 *   /subject int32 [N], /slice int32 [N] (index along the cord within the
 *   subject), /level int32 [N] (vertebral level, io/labels.h coding),
 *   /spacing float32 [N,2] (row, column pixel size in mm)
 *   root attributes: schema, schema_version, class_names, orientation,
 *   level_coding, created_by, n_slices, n_subjects, checksum
 *   ("fnv1a64:<hex>" over each slice in order: b0, fa, [md, ad, rd], labels,
 *   subject, slice, level, spacing; little-endian bytes).
 * Optional (io/h5subjects.c; absent in stores of unnamed subjects, whose
 * names are their ids as text): /subject_names string[K] (64 bytes, the name
 * a user reads, e.g. "sub-01") and /subject_name_ids int32 [K] (the /subject
 * id it names), root attribute subject_names_checksum ("fnv1a64:<hex>" over
 * each (id, name) pair; checked on open, not part of `checksum`).
 * Optional, the same shape: /subject_sites string[K] (64 bytes, the site,
 * centre or scanner of a subject; several subjects share one) and
 * /subject_site_ids int32 [K], attribute subject_sites_checksum.
 * Derived (io/h5cord.c; absent in stores of cordseg before issue 30, then
 * computed from /labels on reading): /cord_ratio float32 [N], the AP/LR
 * diameter ratio of the labelled cord (core/metrics.h metrics_cord_ratio),
 * written by h5store_append, not part of `checksum`.
 */
#ifndef CORDSEG_IO_H5STORE_H
#define CORDSEG_IO_H5STORE_H
#include <stddef.h>
#include <stdint.h>

#include "io/path.h"

#define H5STORE_SCHEMA "cordseg-slices"
#define H5STORE_SCHEMA_VERSION 1
#define H5STORE_NAME_MAX 64 /* a subject name's bytes, NUL included */

typedef struct {
  int32_t id;                   /* the /subject id */
  char name[H5STORE_NAME_MAX];  /* [A-Za-z0-9._-], not a plain integer */
} SubjectName;

typedef struct {
  int32_t subject;    /* subject id */
  int32_t slice;      /* slice index within the subject (cranial -> caudal) */
  int32_t level;      /* vertebral level, io/labels.h coding */
  float spacing[2];   /* pixel size (row, column) in mm */
} SliceMeta;

typedef struct {
  char path[4096];    /* the file as the user named it */
  char tmp[PATH_CAP];     /* writer: the temp file actually written */
  int64_t file;       /* hid_t */
  int writable;
  int has_dti;        /* md/ad/rd present */
  int has_b0, has_fa; /* /b0, /fa present (at least one; both in stores from DWI, the phantom, older imports) */
  int32_t n, h, w;    /* slices, rows, columns */
  uint64_t hash;      /* running content hash (writer) */
  SliceMeta *meta;    /* [n] (reader and writer) */
  int32_t cap;        /* meta capacity */
  char created_by[1024];
  int64_t ds[6];      /* reader: open ids of b0, fa, md, ad, rd, labels (-1 when absent) */
  int fast[6];        /* reader: chunk pipeline is exactly shuffle+deflate -> direct chunk read */
  int32_t n_names;    /* subjects with a string name (io/h5subjects.c); the others are named by their id */
  SubjectName *names; /* [n_names] */
  int32_t n_sites;    /* subjects with a site (io/h5subjects.c; folds --group-by site) */
  SubjectName *sites; /* [n_sites]: id and site */
  float *cord_ratio;  /* reader: /cord_ratio [n] (io/h5cord.c), NULL when the store has none */
} H5Store;

/* ---- writer ---- */
void h5store_create(H5Store *s, const char *path, int32_t h, int32_t w, int with_dti, const char *created_by);
/* a store with the maps asked for (with_b0, with_fa: at least one; h5store_create = both) */
void h5store_create_maps(H5Store *s, const char *path, int32_t h, int32_t w, int with_b0, int with_fa, int with_dti,
                         const char *created_by);
/* "B0 and FA", "B0", "FA": the maps a store (or a subject) has, for messages */
const char *h5store_maps_name(int b0, int fa);
/* copies an existing store to a temp file and reopens it for appending */
void h5store_open_append(H5Store *s, const char *path, const char *created_by);
/* appends n slices; md/ad/rd must be non-NULL iff the store has_dti, b0 iff has_b0, fa iff has_fa (else fatal
 * naming the maps).
 * labels are checked to lie in 0..8 and images to be finite. */
void h5store_append(H5Store *s, int32_t n, const float *b0, const float *fa, const float *md, const float *ad,
                    const float *rd, const uint8_t *labels, const SliceMeta *meta);
/* writes the summary attributes, closes, fsyncs and renames onto path */
void h5store_commit(H5Store *s);

/* ---- reader ---- */
void h5store_open(H5Store *s, const char *path);
/* reads slice indices idx[0..n) (any order); any output may be NULL; asking for a map the store lacks is fatal
 * naming the store and the map */
void h5store_read_slices(const H5Store *s, const int32_t *idx, int32_t n, float *b0, float *fa, uint8_t *labels);
void h5store_read_dti(const H5Store *s, int32_t i, float *md, float *ad, float *rd);
/* recomputes the content checksum; returns 1 when it matches the stored one (0 also when the store has no
 * checksum attribute or a malformed one: *stored is then 0) */
int h5store_verify(const H5Store *s, uint64_t *computed, uint64_t *stored);
/* the same check, with msg saying what was found: the checksum verified, no checksum attribute, a damaged one
 * (its text quoted), or content that hashes to another value (both values) */
int h5store_verify_explain(const H5Store *s, char *msg, size_t n);
/* h5store_verify_explain, fatal on failure: "<what is wrong>: <refusing>" with H5STORE_HINT_REBUILD; returns the
 * verified checksum */
uint64_t h5store_require_verified(const H5Store *s, const char *refusing);
#define H5STORE_HINT_REBUILD                                                                                          \
  "the store was changed or damaged after cordseg wrote it; write it again (cordseg import / cordseg phantom), or "   \
  "restore it from a copy"
int32_t h5store_subject_count(const H5Store *s);
void h5store_close(H5Store *s);

/* reads a string attribute of the root group into buf ("" when absent) */
void h5store_attr_string(const H5Store *s, const char *name, char *buf, int n);

/* ---- subject names (io/h5subjects.c) ---- */
/* 1 when name is a valid subject name or id text; else 0 with why[] saying what is wrong */
int h5store_name_valid(const char *name, char *why, int n);
/* 1 (and *id) when name is a plain non-negative integer as "%d" prints it: the id itself */
int h5store_name_is_id(const char *name, int32_t *id);
/* the name users read for subject id: its string name, else the id as text (buf: H5STORE_NAME_MAX) */
const char *h5store_subject_name(const H5Store *s, int32_t id, char *buf);
/* 1 (and *id) when the store holds a subject of that name (or id text); slices it has in *nslices */
int h5store_subject_find(const H5Store *s, const char *name, int32_t *id, int32_t *nslices);
/* an id no slice or name of the store uses (max + 1; 0 for an empty store) */
int32_t h5store_subject_next_id(const H5Store *s);
/* writer: gives subject id the string name (a plain integer name is not stored: it is the id);
 * fatal when another subject already has it */
void h5store_subject_set_name(H5Store *s, int32_t id, const char *name);
/* the site of subject id ("" when the store records none) */
const char *h5store_subject_site(const H5Store *s, int32_t id);
/* writer: subject id's site (NULL or "": none); fatal on a site that is not letters, digits, '-', '_', '.' */
void h5store_subject_set_site(H5Store *s, int32_t id, const char *site);
/* writer: appends src's slices (and names, sites) to dst, those of subject `skip` left out (-1: none),
 * every subject id set to `as_id` (-1: kept); src's md/ad/rd dropped when dst has none */
void h5store_append_store(H5Store *dst, const H5Store *src, int32_t skip, int32_t as_id);
/* ---- cord shape (io/h5cord.c) ---- */
/* slice i's AP/LR cord diameter ratio: /cord_ratio, or (a store without it)
 * computed from the slice's labels; NaN when the slice holds no cord */
double h5store_cord_ratio(const H5Store *s, int32_t i);
/* internal to io/h5store.c: create with the store, append with its slices,
 * read on open (append: fill a store of older cordseg), free on close */
void h5store_cord_create(H5Store *s);
void h5store_cord_append(H5Store *s, int32_t n0, int32_t n, const uint8_t *labels, const SliceMeta *meta);
void h5store_cord_open(H5Store *s);
void h5store_cord_free(H5Store *s);
/* internal to io/h5store.c: load on open, write on commit, free on close */
void h5store_names_read(H5Store *s);
void h5store_names_write(H5Store *s);
void h5store_names_free(H5Store *s);
#endif
