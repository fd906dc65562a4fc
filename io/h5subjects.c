/* io/h5subjects.c: the subjects of a slice store (io/h5store.h): the string
 * names users read ("sub-01"; the integer /subject id stays internal), their
 * lookup, and copying one store's slices into another (re-import with
 * --replace, the BIDS import's per-subject stores). Stores without
 * /subject_names name every subject by its id as text. Also each subject's
 * site (/subject_sites, same shape; folds --group-by site). */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/h5store.h"
#include "io/h5util.h"
#include "io/hash.h"

#define HINT_READ "the store's /subject_names was changed after writing or is damaged; re-import the subjects"
#define HINT_WRITE "check free disk space, quota and write permission of the output directory"

int h5store_name_valid(const char *name, char *why, int n) {
  size_t len = strlen(name);
  if (len == 0 || len >= H5STORE_NAME_MAX)
    return snprintf(why, (size_t)n, "has %zu characters (1..%d)", len, H5STORE_NAME_MAX - 1), 0;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
             c == '.';
    if (!ok) return snprintf(why, (size_t)n, "has '%c' at position %zu (use letters, digits, '-', '_', '.')", c, i + 1), 0;
  }
  return 1;
}

int h5store_name_is_id(const char *name, int32_t *id) {
  char *e = NULL;
  long v = strtol(name, &e, 10);
  char txt[24];
  if (e == name || *e || v < 0 || v > INT32_MAX) return 0;
  snprintf(txt, sizeof txt, "%ld", v);
  if (strcmp(txt, name)) return 0; /* "007", "+7": a name, not the id 7 */
  *id = (int32_t)v;
  return 1;
}

const char *h5store_subject_name(const H5Store *s, int32_t id, char *buf) {
  for (int32_t i = 0; i < s->n_names; i++)
    if (s->names[i].id == id) return s->names[i].name;
  snprintf(buf, H5STORE_NAME_MAX, "%d", id);
  return buf;
}

int h5store_subject_find(const H5Store *s, const char *name, int32_t *id, int32_t *nslices) {
  int32_t want = -1, c = 0;
  if (!h5store_name_is_id(name, &want))
    for (int32_t i = 0; i < s->n_names && want < 0; i++)
      if (!strcmp(s->names[i].name, name)) want = s->names[i].id;
  if (want < 0) return 0;
  for (int32_t i = 0; i < s->n; i++) c += s->meta[i].subject == want;
  if (nslices) *nslices = c;
  *id = want;
  return c > 0;
}

int32_t h5store_subject_next_id(const H5Store *s) {
  int32_t m = -1;
  for (int32_t i = 0; i < s->n; i++) m = s->meta[i].subject > m ? s->meta[i].subject : m;
  for (int32_t i = 0; i < s->n_names; i++) m = s->names[i].id > m ? s->names[i].id : m;
  return m + 1;
}

void h5store_subject_set_name(H5Store *s, int32_t id, const char *name) {
  char why[128];
  CS_CHECK(h5store_name_valid(name, why, sizeof why), "name subjects like sub-01", "subject name '%s' %s", name, why);
  int32_t as_id;
  if (h5store_name_is_id(name, &as_id)) {
    CS_CHECK(as_id == id, NULL, "h5store_subject_set_name: '%s' is the id %d, not %d", name, as_id, id);
    return;
  }
  for (int32_t i = 0; i < s->n_names; i++) {
    if (!strcmp(s->names[i].name, name) && s->names[i].id != id)
      cs_fatal("give each subject its own name", "store '%s': subject name '%s' is already subject id %d", s->path, name,
               s->names[i].id);
    if (s->names[i].id == id) {
      snprintf(s->names[i].name, H5STORE_NAME_MAX, "%s", name);
      return;
    }
  }
  SubjectName *nn = realloc(s->names, sizeof(SubjectName) * (size_t)(s->n_names + 1));
  CS_CHECK(nn, NULL, "out of memory (subject names)");
  s->names = nn;
  s->names[s->n_names].id = id;
  snprintf(s->names[s->n_names].name, H5STORE_NAME_MAX, "%s", name);
  s->n_names++;
}

/* a table of (id, string) pairs: the names, or the sites, of the store's subjects */
typedef struct {
  const char *ds, *ds_ids, *checksum; /* its datasets and the root attribute of its checksum */
  int unique;                         /* 1: names (unique, not plain integers); 0: sites (shared, any text) */
  const char *what, *desc, *desc_ids;
} StrTab;
static const StrTab TAB_NAMES = {"subject_names", "subject_name_ids", "subject_names_checksum", 1, "subject name",
                                 "the name users read for each subject (cordseg import --subject)",
                                 "the /subject id each /subject_names entry names"};
static const StrTab TAB_SITES = {"subject_sites", "subject_site_ids", "subject_sites_checksum", 0, "site",
                                 "the site (centre, scanner) of each subject (cordseg import --site, --list, "
                                 "participants.tsv); folds --group-by site keeps a site's subjects together",
                                 "the /subject id each /subject_sites entry is the site of"};

static uint64_t strtab_hash(const SubjectName *v, int32_t n) {
  uint64_t h = HASH_FNV_INIT;
  for (int32_t i = 0; i < n; i++) {
    h = hash_fnv1a(h, &v[i].id, 4);
    h = hash_fnv1a(h, v[i].name, strlen(v[i].name) + 1);
  }
  return h;
}

static hid_t name_type(void) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5STORE_NAME_MAX);
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  return t;
}

static void strtab_read(H5Store *s, const StrTab *T, SubjectName **out, int32_t *nout) {
  *nout = 0, *out = NULL;
  if (H5Lexists(s->file, T->ds, H5P_DEFAULT) <= 0) return;
  CS_CHECK(H5Lexists(s->file, T->ds_ids, H5P_DEFAULT) > 0, HINT_READ, "'%s': /%s without /%s", s->path, T->ds, T->ds_ids);
  hid_t dn = H5Dopen2(s->file, T->ds, H5P_DEFAULT), di = H5Dopen2(s->file, T->ds_ids, H5P_DEFAULT);
  H5_CHECK(dn, s->path, T->ds, HINT_READ);
  H5_CHECK(di, s->path, T->ds_ids, HINT_READ);
  hid_t sn = H5Dget_space(dn), si = H5Dget_space(di), ft = H5Dget_type(dn);
  hssize_t k = H5Sget_simple_extent_npoints(sn);
  CS_CHECK(k >= 0 && k == H5Sget_simple_extent_npoints(si) && k <= INT32_MAX / 2 && H5Tget_class(ft) == H5T_STRING &&
               H5Tget_size(ft) == H5STORE_NAME_MAX,
           HINT_READ, "'%s': /%s and /%s differ in length or type", s->path, T->ds, T->ds_ids);
  char *buf = callocCheck((size_t)k + 1, H5STORE_NAME_MAX);
  int32_t *ids = mallocCheck(sizeof(int32_t) * ((size_t)k + 1));
  hid_t mt = name_type();
  if (k) {
    H5_CHECK(H5Dread(dn, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), s->path, T->ds, HINT_READ);
    H5_CHECK(H5Dread(di, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids), s->path, T->ds_ids, HINT_READ);
  }
  H5Tclose(mt), H5Tclose(ft), H5Sclose(sn), H5Sclose(si), H5Dclose(dn), H5Dclose(di);
  SubjectName *v = callocCheck((size_t)k + 1, sizeof(SubjectName));
  *out = v;
  for (int32_t i = 0; i < (int32_t)k; i++) {
    char name[H5STORE_NAME_MAX + 1], why[128], *p = buf + (size_t)i * H5STORE_NAME_MAX;
    memcpy(name, p, H5STORE_NAME_MAX), name[H5STORE_NAME_MAX] = 0;
    int32_t dummy;
    CS_CHECK(h5store_name_valid(name, why, sizeof why) && !(T->unique && h5store_name_is_id(name, &dummy)), HINT_READ,
             "'%s': /%s entry %d '%s' is not a %s", s->path, T->ds, i, name, T->what);
    for (int32_t j = 0; j < i; j++)
      CS_CHECK((!T->unique || strcmp(v[j].name, name)) && v[j].id != ids[i], HINT_READ,
               "'%s': /%s lists '%s' (id %d) twice", s->path, T->ds, name, ids[i]);
    v[i].id = ids[i];
    memcpy(v[i].name, name, H5STORE_NAME_MAX - 1); /* valid: shorter than H5STORE_NAME_MAX */
    *nout = i + 1;
  }
  free(buf), free(ids);
  char want[64] = "", got[64];
  h5_attr_read_string(s->file, T->checksum, want, sizeof want);
  snprintf(got, sizeof got, "fnv1a64:%016llx", (unsigned long long)strtab_hash(v, *nout));
  CS_CHECK(!strcmp(want, got), HINT_READ, "'%s': %s checksum is %s, the file records '%s'", s->path, T->ds, got, want);
}

static void strtab_write(H5Store *s, const StrTab *T, const SubjectName *v, int32_t n) {
  const char *const dsn[2] = {T->ds, T->ds_ids};
  for (int q = 0; q < 2; q++)
    if (H5Lexists(s->file, dsn[q], H5P_DEFAULT) > 0)
      H5_CHECK(H5Ldelete(s->file, dsn[q], H5P_DEFAULT), s->tmp, dsn[q], HINT_WRITE);
  if (n == 0) {
    if (H5Aexists(s->file, T->checksum) > 0) H5_CHECK(H5Adelete(s->file, T->checksum), s->tmp, T->checksum, HINT_WRITE);
    return;
  }
  char *buf = callocCheck((size_t)n, H5STORE_NAME_MAX);
  int32_t *ids = mallocCheck(sizeof(int32_t) * (size_t)n);
  for (int32_t i = 0; i < n; i++) {
    memcpy(buf + (size_t)i * H5STORE_NAME_MAX, v[i].name, strlen(v[i].name));
    ids[i] = v[i].id;
  }
  hsize_t d = (hsize_t)n;
  hid_t sp = H5Screate_simple(1, &d, NULL), t = name_type();
  hid_t dn = H5Dcreate2(s->file, dsn[0], t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5_CHECK(dn, s->tmp, dsn[0], HINT_WRITE);
  H5_CHECK(H5Dwrite(dn, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), s->tmp, dsn[0], HINT_WRITE);
  hid_t di = H5Dcreate2(s->file, dsn[1], H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5_CHECK(di, s->tmp, dsn[1], HINT_WRITE);
  H5_CHECK(H5Dwrite(di, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids), s->tmp, dsn[1], HINT_WRITE);
  h5_attr_write_string(dn, s->tmp, "description", T->desc);
  h5_attr_write_string(di, s->tmp, "description", T->desc_ids);
  H5Dclose(dn), H5Dclose(di), H5Tclose(t), H5Sclose(sp);
  char sum[64];
  snprintf(sum, sizeof sum, "fnv1a64:%016llx", (unsigned long long)strtab_hash(v, n));
  h5_attr_write_string(s->file, s->tmp, T->checksum, sum);
  free(buf), free(ids);
}

void h5store_names_read(H5Store *s) {
  strtab_read(s, &TAB_NAMES, &s->names, &s->n_names);
  strtab_read(s, &TAB_SITES, &s->sites, &s->n_sites);
}

void h5store_names_write(H5Store *s) {
  strtab_write(s, &TAB_NAMES, s->names, s->n_names);
  strtab_write(s, &TAB_SITES, s->sites, s->n_sites);
}

void h5store_names_free(H5Store *s) {
  free(s->names), free(s->sites);
  s->names = NULL, s->n_names = 0, s->sites = NULL, s->n_sites = 0;
}

const char *h5store_subject_site(const H5Store *s, int32_t id) {
  for (int32_t i = 0; i < s->n_sites; i++)
    if (s->sites[i].id == id) return s->sites[i].name;
  return "";
}

void h5store_subject_set_site(H5Store *s, int32_t id, const char *site) {
  char why[128];
  int32_t i = 0;
  while (i < s->n_sites && s->sites[i].id != id) i++;
  if (!site || !site[0]) { /* no site: any old one removed */
    if (i < s->n_sites) s->sites[i] = s->sites[--s->n_sites];
    return;
  }
  CS_CHECK(h5store_name_valid(site, why, sizeof why), "name sites like site-a or 01 (letters, digits, '-', '_', '.')",
           "site '%s' %s", site, why);
  if (i == s->n_sites) {
    SubjectName *nn = realloc(s->sites, sizeof(SubjectName) * (size_t)(s->n_sites + 1));
    CS_CHECK(nn, NULL, "out of memory (subject sites)");
    s->sites = nn, s->n_sites++;
  }
  s->sites[i].id = id;
  snprintf(s->sites[i].name, H5STORE_NAME_MAX, "%s", site);
}

void h5store_append_store(H5Store *dst, const H5Store *src, int32_t skip, int32_t as_id) {
  CS_CHECK(dst->h == src->h && dst->w == src->w, "use one --size for every subject of a store",
           "'%s' has %dx%d slices, '%s' %dx%d", dst->path, dst->h, dst->w, src->path, src->h, src->w);
  CS_CHECK(!dst->has_dti || src->has_dti, "import every subject of a store with MD/AD/RD from DWI (--dwi), or start a "
           "new store", "'%s' has md/ad/rd, the slices of '%s' do not", dst->path, src->path);
  if ((dst->has_b0 && !src->has_b0) || (dst->has_fa && !src->has_fa))
    cs_fatal("import every subject of a store with the maps it holds, or start a new store",
             "'%s' holds %s maps, the slices of '%s' have %s", dst->path, h5store_maps_name(dst->has_b0, dst->has_fa),
             src->path, h5store_maps_name(src->has_b0, src->has_fa));
  enum { BATCH = 32 };
  const size_t hw = (size_t)src->h * (size_t)src->w;
  float *img = mallocCheck(hw * 5 * BATCH * sizeof(float));
  uint8_t *lab = mallocCheck(hw * BATCH);
  SliceMeta meta[BATCH];
  int32_t idx[BATCH];
  float *b0 = img, *fa = img + hw * BATCH, *md = img + 2 * hw * BATCH, *ad = img + 3 * hw * BATCH,
        *rd = img + 4 * hw * BATCH;
  for (int32_t i = 0; i < src->n;) {
    int32_t m = 0;
    for (; i < src->n && m < BATCH; i++) {
      if (src->meta[i].subject == skip) continue;
      idx[m] = i, meta[m] = src->meta[i];
      if (as_id >= 0) meta[m].subject = as_id;
      m++;
    }
    float *b = dst->has_b0 ? b0 : NULL, *f = dst->has_fa ? fa : NULL; /* src's other map dropped, as md/ad/rd */
    h5store_read_slices(src, idx, m, b, f, lab);
    if (dst->has_dti)
      for (int32_t j = 0; j < m; j++) h5store_read_dti(src, idx[j], md + j * hw, ad + j * hw, rd + j * hw);
    h5store_append(dst, m, b, f, dst->has_dti ? md : NULL, dst->has_dti ? ad : NULL, dst->has_dti ? rd : NULL, lab,
                   meta);
  }
  free(img), free(lab);
  for (int32_t i = 0; i < src->n_names; i++)
    if (src->names[i].id != skip) h5store_subject_set_name(dst, as_id >= 0 ? as_id : src->names[i].id, src->names[i].name);
  for (int32_t i = 0; i < src->n_sites; i++)
    if (src->sites[i].id != skip) h5store_subject_set_site(dst, as_id >= 0 ? as_id : src->sites[i].id, src->sites[i].name);
}
