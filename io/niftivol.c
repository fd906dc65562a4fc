/* io/niftivol.c: NIfTI read (libnifti2) / write (NIfTI-1 via zlib, atomic),
 * grid checks and axial slice extraction in the store's orientation. */
#define _POSIX_C_SOURCE 200809L
#include "io/niftivol.h"

#include <errno.h>
#include <math.h>
#include <nifti2_io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/common.h"
#include "io/atomic.h"
#include "io/path.h"

#define NIFTIVOL_MAX_T 4096 /* volumes of a 4-D series this reader accepts (the DTI fit takes DTI_MAX_VOLUMES) */
#define NII_HINT "check that the file is a NIfTI-1/2 volume (.nii or .nii.gz) and not truncated"

static double convert_one(const void *d, int64_t i, int datatype, int swap);

/* libnifti2 silently replaces NaN/Inf of float data by 0 when it reads them;
 * cordseg refuses such voxels (niftivol_check_finite), so look at the raw
 * bytes: the index of the first non-finite value, or -1 */
static int64_t raw_first_nonfinite(const nifti_image *nim) {
  if (nim->datatype != DT_FLOAT32 && nim->datatype != DT_FLOAT64) return -1;
  gzFile f = gzopen(nim->iname, "rb");
  if (!f) return -1;
  int64_t n = (int64_t)nim->nvox, found = -1, done = 0;
  const int sz = nim->nbyper, swap = nim->byteorder != nifti_short_order();
  enum { CH = 1 << 16 };
  unsigned char *buf = mallocCheck((size_t)CH * (size_t)sz);
  if (gzseek(f, (z_off_t)nim->iname_offset, SEEK_SET) >= 0)
    while (done < n && found < 0) {
      int64_t m = n - done < CH ? n - done : CH;
      if (gzread(f, buf, (unsigned)(m * sz)) != (int)(m * sz)) break;
      for (int64_t i = 0; i < m && found < 0; i++)
        if (!isfinite(convert_one(buf, i, nim->datatype, swap))) found = done + i;
      done += m;
    }
  free(buf);
  gzclose(f);
  return found;
}

/* the header fields every reader relies on: positive dimensions that fit in
 * memory, finite positive voxel sizes, a finite voxel->world matrix */
static void check_header(const nifti_image *nim, const char *path) {
  if (nim->nx < 1 || nim->ny < 1 || nim->nz < 1 || nim->nx > (1 << 16) || nim->ny > (1 << 16) || nim->nz > (1 << 16) ||
      (nim->ndim >= 4 && (nim->nt < 1 || nim->nt > NIFTIVOL_MAX_T)))
    cs_fatal(NII_HINT, "'%s': header field dim = [%lld %lld %lld %lld] is not a valid volume size", path,
             (long long)nim->nx, (long long)nim->ny, (long long)nim->nz, (long long)(nim->ndim >= 4 ? nim->nt : 1));
  if ((double)nim->nx * (double)nim->ny * (double)nim->nz * (double)(nim->ndim >= 4 ? nim->nt : 1) > 4e9)
    cs_fatal("crop the volume (e.g. fslroi) before importing", "'%s': %lld x %lld x %lld x %lld voxels is too large",
             path, (long long)nim->nx, (long long)nim->ny, (long long)nim->nz, (long long)(nim->ndim >= 4 ? nim->nt : 1));
  const double px[3] = {nim->dx, nim->dy, nim->dz};
  for (int k = 0; k < 3; k++)
    if (!isfinite(px[k]) || !(fabs(px[k]) > 1e-6) || fabs(px[k]) > 1e4)
      cs_fatal("fix the voxel size in the header (pixdim, mm)", "'%s': header field pixdim[%d] = %g is not a voxel size",
               path, k + 1, px[k]);
  if (!isfinite(nim->scl_slope) || !isfinite(nim->scl_inter))
    cs_fatal("set scl_slope/scl_inter to finite values (0 = no scaling)", "'%s': header field scl_slope = %g, scl_inter = %g",
             path, nim->scl_slope, nim->scl_inter);
  const nifti_dmat44 *M = nim->sform_code > 0 ? &nim->sto_xyz : nim->qform_code > 0 ? &nim->qto_xyz : NULL;
  if (M)
    for (int r = 0; r < 4; r++)
      for (int c = 0; c < 4; c++)
        if (!isfinite(M->m[r][c]))
          cs_fatal("fix the sform/qform of the header", "'%s': header field %s has a non-finite entry [%d][%d]", path,
                   nim->sform_code > 0 ? "srow (sform)" : "quatern (qform)", r, c);
}

/* libnifti2 quietly repairs a damaged header (dims < 1 become 1, non-finite
 * pixdim/scl_slope become defaults, a missing magic reads as ANALYZE), so
 * the raw header is checked first: magic, dim, pixdim, scaling, sform/qform */
static uint64_t get_u(const unsigned char *h, int off, int n, int swap) {
  uint64_t v = 0;
  for (int k = 0; k < n; k++) v |= (uint64_t)h[off + (swap ? n - 1 - k : k)] << (8 * k);
  return v;
}
static double get_f(const unsigned char *h, int off, int n, int swap) {
  uint64_t u = get_u(h, off, n, swap);
  if (n == 4) {
    uint32_t w = (uint32_t)u;
    float f;
    memcpy(&f, &w, 4);
    return f;
  }
  double d;
  memcpy(&d, &u, 8);
  return d;
}

static void check_raw_header(const char *path) {
  gzFile f = gzopen(path, "rb");
  if (!f) cs_fatal(NII_HINT, "cannot open NIfTI volume '%s': %s", path, strerror(errno));
  unsigned char h[540];
  memset(h, 0, sizeof h);
  int got = gzread(f, h, sizeof h);
  gzclose(f);
  if (got < 348) cs_fatal(NII_HINT, "'%s' is %d bytes long: too short for a NIfTI header", path, got < 0 ? 0 : got);
  const uint32_t sz = (uint32_t)get_u(h, 0, 4, 0), szs = (uint32_t)get_u(h, 0, 4, 1);
  const int v2 = sz == 540 || szs == 540, swap = v2 ? sz != 540 : sz != 348;
  if (!v2 && sz != 348 && szs != 348)
    cs_fatal(NII_HINT, "'%s': header field sizeof_hdr = %u (348 for NIfTI-1, 540 for NIfTI-2): not a NIfTI file", path,
             sz);
  if (v2 && got < 540) cs_fatal(NII_HINT, "'%s': NIfTI-2 header is truncated (%d bytes)", path, got);
  const unsigned char *mg = v2 ? h + 4 : h + 344;
  if (!(v2 ? !memcmp(mg, "n+2\0", 4) || !memcmp(mg, "ni2\0", 4) : !memcmp(mg, "n+1\0", 4) || !memcmp(mg, "ni1\0", 4)))
    cs_fatal(NII_HINT " (an ANALYZE 7.5 header without the NIfTI magic is not accepted: convert it, e.g. fslchfiletype)",
             "'%s': header field magic is '%.3s', not '%s'", path, (const char *)mg, v2 ? "n+2" : "n+1");
  const int doff = v2 ? 16 : 40, poff = v2 ? 104 : 76, pn = v2 ? 8 : 4;
  const int64_t d0 = v2 ? (int64_t)get_u(h, doff, 8, swap) : (int64_t)(int16_t)get_u(h, doff, 2, swap);
  if (d0 < 1 || d0 > 7) cs_fatal(NII_HINT, "'%s': header field dim[0] = %lld (1..7)", path, (long long)d0);
  for (int i = 1; i <= d0; i++) {
    int64_t di = v2 ? (int64_t)get_u(h, doff + 8 * i, 8, swap) : (int64_t)(int16_t)get_u(h, doff + 2 * i, 2, swap);
    if (di < 1) cs_fatal(NII_HINT, "'%s': header field dim[%d] = %lld (every used dimension must be >= 1)", path, i,
                         (long long)di);
  }
  for (int i = 1; i <= (d0 < 3 ? d0 : 3); i++) {
    double p = get_f(h, poff + pn * i, pn, swap);
    if (!isfinite(p) || !(fabs(p) > 1e-6) || fabs(p) > 1e4)
      cs_fatal("fix the voxel size in the header (pixdim, mm)", "'%s': header field pixdim[%d] = %g is not a voxel size",
               path, i, p);
  }
  const double slope = get_f(h, v2 ? 176 : 112, pn, swap), inter = get_f(h, v2 ? 184 : 116, pn, swap);
  if (!isfinite(slope) || (slope != 0 && !isfinite(inter)))
    cs_fatal("set scl_slope/scl_inter to finite values (0 = no scaling)", "'%s': header field scl_slope = %g, scl_inter = %g",
             path, slope, inter);
  const int qc = (int)(int16_t)get_u(h, v2 ? 344 : 252, v2 ? 4 : 2, swap), sc = (int)(int16_t)get_u(h, v2 ? 348 : 254, v2 ? 4 : 2, swap);
  if (qc > 0)
    for (int i = 0; i < 6; i++) {
      double q = get_f(h, (v2 ? 352 : 256) + pn * i, pn, swap);
      if (!isfinite(q)) cs_fatal("fix the qform of the header", "'%s': header field quatern/qoffset [%d] = %g", path, i, q);
    }
  if (sc > 0)
    for (int i = 0; i < 12; i++) {
      double q = get_f(h, (v2 ? 400 : 280) + pn * i, pn, swap);
      if (!isfinite(q)) cs_fatal("fix the sform of the header", "'%s': header field srow[%d][%d] = %g", path, i / 4, i % 4, q);
    }
}

static int supported_datatype(int dt) {
  return dt == DT_UINT8 || dt == DT_INT8 || dt == DT_INT16 || dt == DT_UINT16 || dt == DT_INT32 || dt == DT_UINT32 ||
         dt == DT_INT64 || dt == DT_FLOAT32 || dt == DT_FLOAT64;
}

void niftivol_read(NiftiVol *v, const char *path) {
  memset(v, 0, sizeof *v);
  snprintf(v->path, sizeof v->path, "%s", path);
  struct stat sb;
  if (stat(path, &sb) != 0) cs_fatal("check the path", "cannot open NIfTI volume '%s': %s", path, strerror(errno));
  if (!S_ISREG(sb.st_mode)) cs_fatal("give a NIfTI file, not a directory", "'%s' is not a regular file", path);
  /* header first: datatype and dimensions are refused before any data is read */
  check_raw_header(path);
  nifti_image *nim = nifti_image_read(path, 0);
  if (!nim) cs_fatal(NII_HINT, "cannot read NIfTI header of '%s' (bad magic, size or dimensions)", path);
  const int dt = nim->datatype;
  const int64_t ndim = nim->ndim, extra = (int64_t)nim->nu * nim->nv * nim->nw;
  if (!supported_datatype(dt)) {
    char name[64];
    snprintf(name, sizeof name, "%s", nifti_datatype_string(dt));
    nifti_image_free(nim);
    cs_fatal("convert the volume to an integer or float datatype (e.g. fslmaths IN OUT -odt float)",
             "'%s': header field datatype = %d (%s) is not supported", path, dt, name);
  }
  if (ndim > 4 && extra > 1) {
    nifti_image_free(nim);
    cs_fatal("give 3-D volumes, or one 4-D DWI series", "'%s' has %lld dimensions (header field dim[0])", path,
             (long long)ndim);
  }
  check_header(nim, path);
  { /* the data the header promises must fit the file before it is allocated: a damaged dim[] can ask for GBs */
    const double bytes = (double)nim->nvox * (double)nim->nbyper, size = (double)sb.st_size;
    const size_t pl = strlen(path);
    const int gz = pl > 3 && !strcmp(path + pl - 3, ".gz");
    const double room = gz ? size * 1032.0 /* deflate's largest ratio */ : size - (double)nim->iname_offset;
    if (bytes > room) {
      const long long nv = (long long)nim->nvox;
      nifti_image_free(nim);
      cs_fatal(NII_HINT, "'%s': the header's dimensions ask for %lld voxels (%.0f bytes), more than the file%s holds", path,
               nv, bytes, gz ? " (compressed)" : "");
    }
  }
  if (nifti_image_load(nim) != 0 || !nim->data) {
    nifti_image_free(nim);
    cs_fatal(NII_HINT, "cannot read the voxel data of NIfTI volume '%s' (truncated?)", path);
  }
  v->nx = nim->nx, v->ny = nim->ny > 0 ? nim->ny : 1, v->nz = nim->nz > 0 ? nim->nz : 1;
  v->nt = nim->ndim >= 4 && nim->nt > 0 ? nim->nt : 1;
  v->pix[0] = fabs(nim->dx), v->pix[1] = fabs(nim->dy), v->pix[2] = fabs(nim->dz);
  const nifti_dmat44 *M = nim->sform_code > 0 ? &nim->sto_xyz : nim->qform_code > 0 ? &nim->qto_xyz : NULL;
  memset(v->xyz, 0, sizeof v->xyz);
  if (M) memcpy(v->xyz, M->m, sizeof v->xyz);
  else v->xyz[0][0] = -v->pix[0], v->xyz[1][1] = v->pix[1], v->xyz[2][2] = v->pix[2], v->xyz[3][3] = 1;
  v->oriented = M != NULL;
  int64_t n = v->nx * v->ny * v->nz * v->nt;
  CS_CHECK(n <= (int64_t)nim->nvox, NII_HINT, "'%s': header dimensions exceed the %lld voxels read", path,
           (long long)nim->nvox);
  v->data = mallocCheck(sizeof(float) * (size_t)n);
  double slope = nim->scl_slope != 0 ? nim->scl_slope : 1, inter = nim->scl_slope != 0 ? nim->scl_inter : 0;
  const void *d = nim->data;
  for (int64_t i = 0; i < n; i++) {
    double x = 0;
    switch (dt) {
      case DT_UINT8: x = ((const uint8_t *)d)[i]; break;
      case DT_INT8: x = ((const int8_t *)d)[i]; break;
      case DT_INT16: x = ((const int16_t *)d)[i]; break;
      case DT_UINT16: x = ((const uint16_t *)d)[i]; break;
      case DT_INT32: x = ((const int32_t *)d)[i]; break;
      case DT_UINT32: x = ((const uint32_t *)d)[i]; break;
      case DT_INT64: x = (double)((const int64_t *)d)[i]; break;
      case DT_FLOAT32: x = ((const float *)d)[i]; break;
      case DT_FLOAT64: x = ((const double *)d)[i]; break;
    }
    v->data[i] = (float)(x * slope + inter);
  }
  int64_t bad = raw_first_nonfinite(nim);
  if (bad >= 0 && bad < n) v->data[bad] = NAN; /* niftivol_check_finite names it */
  nifti_image_free(nim);
}

static double convert_one(const void *d, int64_t i, int datatype, int swap) {
  unsigned char b[8];
  int sz = datatype == DT_UINT8 || datatype == DT_INT8 ? 1 : datatype == DT_INT16 || datatype == DT_UINT16 ? 2
         : datatype == DT_INT64 || datatype == DT_FLOAT64 ? 8 : 4;
  memcpy(b, (const unsigned char *)d + i * sz, (size_t)sz);
  if (swap)
    for (int k = 0; k < sz / 2; k++) {
      unsigned char t = b[k];
      b[k] = b[sz - 1 - k], b[sz - 1 - k] = t;
    }
  switch (datatype) {
    case DT_UINT8: return *(uint8_t *)b;
    case DT_INT8: return *(int8_t *)b;
    case DT_INT16: { int16_t x; memcpy(&x, b, 2); return x; }
    case DT_UINT16: { uint16_t x; memcpy(&x, b, 2); return x; }
    case DT_INT32: { int32_t x; memcpy(&x, b, 4); return x; }
    case DT_UINT32: { uint32_t x; memcpy(&x, b, 4); return x; }
    case DT_INT64: { int64_t x; memcpy(&x, b, 8); return (double)x; }
    case DT_FLOAT32: { float x; memcpy(&x, b, 4); return x; }
    case DT_FLOAT64: { double x; memcpy(&x, b, 8); return x; }
  }
  return NAN;
}

static nifti_image *read_header(NiftiVol *v, const char *path) {
  memset(v, 0, sizeof *v);
  snprintf(v->path, sizeof v->path, "%s", path);
  check_raw_header(path);
  nifti_image *nim = nifti_image_read(path, 0);
  if (!nim) cs_fatal(NII_HINT, "cannot read NIfTI header of '%s' (bad magic, size or dimensions)", path);
  if (!supported_datatype(nim->datatype)) {
    const int dt = nim->datatype;
    nifti_image_free(nim);
    cs_fatal("convert the volume to an integer or float datatype (e.g. fslmaths IN OUT -odt float)",
             "'%s': header field datatype = %d is not supported", path, dt);
  }
  check_header(nim, path);
  v->nx = nim->nx, v->ny = nim->ny, v->nz = nim->nz, v->nt = 1;
  v->pix[0] = fabs(nim->dx), v->pix[1] = fabs(nim->dy), v->pix[2] = fabs(nim->dz);
  const nifti_dmat44 *M = nim->sform_code > 0 ? &nim->sto_xyz : nim->qform_code > 0 ? &nim->qto_xyz : NULL;
  if (M) memcpy(v->xyz, M->m, sizeof v->xyz);
  else v->xyz[0][0] = -v->pix[0], v->xyz[1][1] = v->pix[1], v->xyz[2][2] = v->pix[2], v->xyz[3][3] = 1;
  v->oriented = M != NULL;
  return nim;
}

void niftivol_read_header(NiftiVol *v, const char *path) { nifti_image_free(read_header(v, path)); }

void niftivol_read_planes(NiftiVol *v, const char *path, int64_t k0, int64_t k1, float *out) {
  nifti_image *nim = read_header(v, path);
  int dt = nim->datatype, swap = nim->byteorder != nifti_short_order();
  double slope = nim->scl_slope != 0 ? nim->scl_slope : 1, inter = nim->scl_slope != 0 ? nim->scl_inter : 0;
  if (convert_one("\0\0\0\0\0\0\0\0", 0, dt, 0) != 0 || k0 < 0 || k1 > nim->nz || k0 >= k1) {
    nifti_image_free(nim);
    cs_fatal(NII_HINT, "'%s': unsupported datatype or plane range [%lld, %lld)", path, (long long)k0, (long long)k1);
  }
  int64_t plane = nim->nx * nim->ny, nb = nim->nbyper;
  gzFile f = gzopen(nim->iname, "rb");
  if (!f) cs_fatal(NII_HINT, "cannot open '%s'", nim->iname);
  gzbuffer(f, 1 << 18);
  size_t bytes = (size_t)(plane * nb * (k1 - k0));
  int direct = dt == DT_FLOAT32 && !swap && slope == 1 && inter == 0;
  unsigned char *raw = direct ? (unsigned char *)out : mallocCheck(bytes);
  int ok = gzseek(f, (z_off_t)(nim->iname_offset + k0 * plane * nb), SEEK_SET) >= 0;
  for (size_t off = 0; ok && off < bytes;) {
    unsigned chunk = (unsigned)(bytes - off < (1u << 30) ? bytes - off : (1u << 30));
    int got = gzread(f, raw + off, chunk);
    ok = got == (int)chunk;
    off += chunk;
  }
  gzclose(f);
  nifti_image_free(nim);
  if (!ok) cs_fatal(NII_HINT, "'%s' is truncated (short read of planes %lld..%lld)", path, (long long)k0, (long long)k1);
  int64_t n = plane * (k1 - k0);
  if (!direct) {
    for (int64_t i = 0; i < n; i++) out[i] = (float)(convert_one(raw, i, dt, swap) * slope + inter);
    free(raw);
  }
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(out[i]))
      cs_fatal("replace NaN/Inf voxels (e.g. fslmaths in -nan out) before using the volume",
               "'%s': voxel %lld of plane %lld is not finite", path, (long long)(i % plane), (long long)(k0 + i / plane));
}

void niftivol_free(NiftiVol *v) {
  free(v->data);
  v->data = NULL;
}

void niftivol_check_same_grid(const NiftiVol *a, const NiftiVol *b) {
  if (a->nx != b->nx || a->ny != b->ny || a->nz != b->nz)
    cs_fatal("resample all volumes of a subject onto one grid (e.g. sct_register_multimodal or FSL flirt -applyxfm)",
             "shape mismatch: '%s' is %lldx%lldx%lld but '%s' is %lldx%lldx%lld", a->path, (long long)a->nx,
             (long long)a->ny, (long long)a->nz, b->path, (long long)b->nx, (long long)b->ny, (long long)b->nz);
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 4; c++)
      if (fabs(a->xyz[r][c] - b->xyz[r][c]) > 1e-3 * (1 + fabs(a->xyz[r][c])))
        cs_fatal("the volumes must share orientation and position (same sform/qform); reslice one onto the other",
                 "orientation mismatch: voxel->world of '%s' and '%s' differ at [%d][%d] (%g vs %g)", a->path,
                 b->path, r, c, a->xyz[r][c], b->xyz[r][c]);
}

void niftivol_check_finite(const NiftiVol *v) {
  int64_t n = v->nx * v->ny * v->nz * v->nt;
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(v->data[i])) {
      int64_t x = i % v->nx, y = (i / v->nx) % v->ny, z = (i / (v->nx * v->ny)) % v->nz, t = i / (v->nx * v->ny * v->nz);
      cs_fatal("replace NaN/Inf voxels (e.g. fslmaths in -nan out) or mask them before importing",
               "'%s': voxel (%lld,%lld,%lld,%lld) is not finite", v->path, (long long)x, (long long)y, (long long)z,
               (long long)t);
    }
}

/* header with ref's grid: sform and qform both set (viewers differ in which they read) */
static nifti_1_header *make_header(const char *path, const NiftiVol *ref, int64_t nt, int datatype) {
  int64_t dims[8] = {nt > 1 ? 4 : 3, ref->nx, ref->ny, ref->nz, nt, 1, 1, 1};
  nifti_1_header *h = nifti_make_new_n1_header(dims, datatype);
  CS_CHECK(h, NULL, "cannot make a NIfTI header for '%s'", path);
  h->pixdim[1] = (float)ref->pix[0], h->pixdim[2] = (float)ref->pix[1], h->pixdim[3] = (float)ref->pix[2];
  h->sform_code = NIFTI_XFORM_SCANNER_ANAT;
  for (int c = 0; c < 4; c++)
    h->srow_x[c] = (float)ref->xyz[0][c], h->srow_y[c] = (float)ref->xyz[1][c], h->srow_z[c] = (float)ref->xyz[2][c];
  nifti_dmat44 R;
  memcpy(R.m, ref->xyz, sizeof R.m);
  double qb, qc, qd, qx, qy, qz, dx, dy, dz, qfac;
  nifti_dmat44_to_quatern(R, &qb, &qc, &qd, &qx, &qy, &qz, &dx, &dy, &dz, &qfac);
  h->qform_code = NIFTI_XFORM_SCANNER_ANAT;
  h->quatern_b = (float)qb, h->quatern_c = (float)qc, h->quatern_d = (float)qd;
  h->qoffset_x = (float)qx, h->qoffset_y = (float)qy, h->qoffset_z = (float)qz;
  h->pixdim[0] = (float)(qfac < 0 ? -1 : 1);
  h->vox_offset = 352;
  h->xyzt_units = NIFTI_UNITS_MM;
  memcpy(h->magic, "n+1\0", 4);
  snprintf(h->descrip, sizeof h->descrip, "cordseg");
  return h;
}

static void write_image(const char *path, const NiftiVol *ref, int64_t nt, int datatype, const void *data,
                        size_t nbytes) {
  nifti_1_header *h = make_header(path, ref, nt, datatype);
  char tmp[PATH_CAP];
  atomic_begin(path, tmp, sizeof tmp);
  size_t len = strlen(path);
  int gz = len > 3 && !strcmp(path + len - 3, ".gz");
  gzFile f = gzopen(tmp, gz ? "wb6" : "wb0T");
  if (!f) cs_fatal("check that the output directory exists and is writable", "cannot create '%s'", tmp);
  char ext[4] = {0, 0, 0, 0};
  int ok = gzwrite(f, h, 348) == 348 && gzwrite(f, ext, 4) == 4;
  for (size_t off = 0; ok && off < nbytes; off += 1u << 30) {
    unsigned chunk = (unsigned)(nbytes - off < (1u << 30) ? nbytes - off : (1u << 30));
    ok = gzwrite(f, (const char *)data + off, chunk) == (int)chunk;
  }
  ok = (gzclose(f) == Z_OK) && ok;
  free(h);
  if (!ok) cs_fatal("check free disk space and quota", "writing NIfTI '%s' failed", tmp);
  atomic_commit(tmp, path);
}

void niftivol_write(const char *path, const NiftiVol *ref, int64_t nt, const float *data) {
  write_image(path, ref, nt, DT_FLOAT32, data, sizeof(float) * (size_t)(ref->nx * ref->ny * ref->nz * nt));
}

void niftivol_write_u8(const char *path, const NiftiVol *ref, const uint8_t *data) {
  write_image(path, ref, 1, DT_UINT8, data, (size_t)(ref->nx * ref->ny * ref->nz));
}
