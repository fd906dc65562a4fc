/* core/cuda/bf16_shadow.cu: bf16 copies ("shadows") of the fp32 device
 * buffers that convolutions read, so that precision = bf16 converts each
 * activation and each weight once instead of around every cuDNN call.
 *
 * A convolution plan takes a reference on the shadow of its src and of its
 * weights (one shadow per buffer: two convolutions reading the same input
 * share it). A shadow is "valid" while it holds bf16(buffer) as of the last
 * op queued on the stream; the host tracks that, op by op:
 *  - every backend op that writes device memory calls cuda_shadow_dirty on
 *    what it writes (the range of strided writes included), which makes the
 *    shadows overlapping it invalid;
 *  - an op that writes a whole buffer with a shadow (a convolution's
 *    epilogue, BatchNorm's apply, the max-pools) calls cuda_shadow_out and
 *    writes the bf16 copy in the same pass: the shadow stays valid;
 *  - an op that writes a slice of such a buffer (upsample and
 *    copy_channels into a concatenation) calls cuda_shadow_part and writes
 *    the copy of its slice: a valid shadow stays valid, an invalid one
 *    becomes valid once such slices have covered every image of it;
 *  - a convolution that finds its src or weight shadow invalid converts it
 *    (one kernel) and marks it valid; backward-filter reads the same src
 *    shadow the forward made (activations do not change in between);
 *  - Adam writes the weights' shadows in its own pass: at its first call on
 *    a parameter buffer holding convolution weights, those weights' shadows
 *    move into one bf16 mirror of the whole buffer (cuda_shadow_adam).
 * Graphs: a capture starts with every activation shadow invalid, so the
 * kernels it records never rely on work done before it; it does rely on the
 * weight shadows Adam keeps valid between replays, so a weight shadow made
 * invalid by any other write (an upload of new weights) bumps wgen, and a
 * graph captured under another wgen is stale (core/step.c captures again).
 * A capture that fails ran nothing: every shadow becomes invalid.
 * fp32 precision registers no shadow; the calls then cost a loop over none.
 * defines: cuda_shadow_ref, cuda_shadow_unref, cuda_shadow_dirty,
 *          cuda_shadow_out, cuda_shadow_part, cuda_shadow_forget, cuda_shadow_adam, cuda_shadow_free_all */
#include <stdlib.h>
#include <string.h>

#include "core/cuda/cuda_impl.h"

static int overlaps(const CudaShadow *s, const char *p, size_t bytes) {
  const char *a = (const char *)s->f;
  return p < a + s->n * sizeof(float) && a < p + bytes;
}

CudaShadow *cuda_shadow_ref(Backend *be, const float *f, size_t n, int weight) {
  CudaImpl *im = cuda_impl(be);
  for (int i = 0; i < im->nsh; i++) {
    CudaShadow *s = im->sh[i];
    if (s->f == f && s->n == n && s->weight == weight) {
      s->refs++;
      return s;
    }
  }
  if (im->nsh == im->sh_cap) {
    im->sh_cap = im->sh_cap ? 2 * im->sh_cap : 64;
    CudaShadow **grown = (CudaShadow **)realloc(im->sh, (size_t)im->sh_cap * sizeof *im->sh);
    CS_CHECK(grown != NULL, NULL, "out of host memory for the bf16 shadow table");
    im->sh = grown;
  }
  CudaShadow *s = (CudaShadow *)callocCheck(1, sizeof *s);
  s->f = f, s->n = n, s->weight = weight, s->refs = 1, s->own = 1;
  s->h = (uint16_t *)cuda_dev_alloc(be, n * sizeof(uint16_t));
  im->sh[im->nsh++] = s;
  return s;
}

void cuda_shadow_unref(Backend *be, CudaShadow *s) {
  CudaImpl *im = cuda_impl(be);
  if (!s || --s->refs > 0) return;
  for (int i = 0; i < im->nsh; i++)
    if (im->sh[i] == s) {
      im->sh[i] = im->sh[--im->nsh];
      break;
    }
  if (s->own) be->free(be, s->h);
  free(s);
}

static void invalidate(CudaImpl *im, CudaShadow *s) {
  if (s->valid && s->weight) im->wgen++; /* a graph that relied on it is stale */
  s->valid = 0, s->nruns = 0;
}

void cuda_shadow_dirty(Backend *be, const void *p, size_t bytes) {
  CudaImpl *im = cuda_impl(be);
  if (!p || !bytes) return;
  for (int i = 0; i < im->nsh; i++)
    if (overlaps(im->sh[i], (const char *)p, bytes)) invalidate(im, im->sh[i]);
}

uint16_t *cuda_shadow_out(Backend *be, const float *f, size_t n) {
  CudaImpl *im = cuda_impl(be);
  cuda_shadow_dirty(be, f, n * sizeof(float));
  for (int i = 0; i < im->nsh; i++) {
    CudaShadow *s = im->sh[i];
    if (s->f == f && s->n == n && !s->weight) {
      s->valid = 1;
      return s->h;
    }
  }
  return NULL;
}

/* adds run [at, at + len) of the period; valid once the runs cover [0, period) */
static void add_run(CudaShadow *s, int64_t period, int64_t at, int64_t len) {
  if (s->period != period) s->period = period, s->nruns = 0;
  if (s->nruns == (int)(sizeof s->run_at / sizeof s->run_at[0])) return; /* no room: stays invalid (safe) */
  s->run_at[s->nruns] = at, s->run_len[s->nruns] = len, s->nruns++;
  int64_t covered = 0; /* the covered prefix [0, covered): extend it while some run starts inside it */
  for (int grew = 1; grew;) {
    grew = 0;
    for (int i = 0; i < s->nruns; i++)
      if (s->run_at[i] <= covered && s->run_at[i] + s->run_len[i] > covered) covered = s->run_at[i] + s->run_len[i], grew = 1;
  }
  if (covered >= period) s->valid = 1, s->nruns = 0;
}

uint16_t *cuda_shadow_part(Backend *be, const float *f, int64_t ds, int32_t n, int64_t per) {
  CudaImpl *im = cuda_impl(be);
  if (n <= 0 || per <= 0) return NULL;
  const size_t span = (size_t)(ds * (n - 1) + per);
  CudaShadow *e = NULL; /* the activation shadow whose buffer holds the whole write, as n periods of ds */
  for (int i = 0; i < im->nsh && !e; i++) {
    CudaShadow *s = im->sh[i];
    if (!s->weight && f >= s->f && f + span <= s->f + s->n && (size_t)ds * n == s->n && f - s->f + per <= ds) e = s;
  }
  for (int i = 0; i < im->nsh; i++) /* every other shadow the write touches */
    if (im->sh[i] != e && overlaps(im->sh[i], (const char *)f, span * sizeof(float))) invalidate(im, im->sh[i]);
  if (!e) return NULL;
  if (!e->valid) add_run(e, ds, f - e->f, per); /* a valid copy stays valid: the op writes both */
  return e->h + (f - e->f);
}

void cuda_shadow_forget(Backend *be, int weights) {
  CudaImpl *im = cuda_impl(be);
  for (int i = 0; i < im->nsh; i++)
    if (weights || !im->sh[i]->weight) invalidate(im, im->sh[i]);
}

/* 1 when a shadow still lives in mirror m */
static int mirror_used(const CudaImpl *im, const CudaMirror *m) {
  for (int i = 0; i < im->nsh; i++)
    if (im->sh[i]->h >= m->h && im->sh[i]->h < m->h + m->n) return 1;
  return 0;
}

uint16_t *cuda_shadow_adam(Backend *be, const float *params, size_t n) {
  CudaImpl *im = cuda_impl(be);
  int any = 0;
  for (int i = 0; i < im->nsh; i++) {
    const CudaShadow *s = im->sh[i];
    any |= s->weight && s->f >= params && s->f + s->n <= params + n;
  }
  if (!any || cuda_capture_log) { /* Adam never runs inside a capture; if it did, it would only dirty */
    cuda_shadow_dirty(be, params, n * sizeof(float));
    return NULL;
  }
  CudaMirror *m = NULL;
  for (int i = 0; i < im->nmirror; i++)
    if (im->mirror[i].p == params && im->mirror[i].n == n) m = &im->mirror[i];
  for (int i = 0; !m && i < im->nmirror; i++) /* the mirror of a freed net's parameters is reused */
    if (!mirror_used(im, &im->mirror[i])) {
      be->free(be, im->mirror[i].h);
      im->mirror[i] = im->mirror[--im->nmirror];
      im->scratch_gen++;
      i--;
    }
  if (!m && im->nmirror < (int)(sizeof im->mirror / sizeof im->mirror[0])) {
    m = &im->mirror[im->nmirror++];
    m->p = params, m->n = n, m->h = (uint16_t *)cuda_dev_alloc(be, n * sizeof(uint16_t));
  }
  if (!m) {
    cuda_shadow_dirty(be, params, n * sizeof(float));
    return NULL;
  }
  for (int i = 0; i < im->nsh; i++) {
    CudaShadow *s = im->sh[i];
    if (!overlaps(s, (const char *)params, n * sizeof(float))) continue;
    if (!s->weight || s->f < params || s->f + s->n > params + n) {
      invalidate(im, s);
      continue;
    }
    uint16_t *at = m->h + (s->f - params);
    if (s->h != at) { /* moves into the mirror: graphs naming its old copy are stale */
      if (s->own) be->free(be, s->h);
      s->h = at, s->own = 0;
      im->scratch_gen++;
    }
    s->valid = 1; /* the Adam pass queued next writes it */
  }
  return m->h;
}

void cuda_shadow_free_all(Backend *be) {
  CudaImpl *im = cuda_impl(be);
  for (int i = 0; i < im->nsh; i++) {
    if (im->sh[i]->own) cudaFree(im->sh[i]->h);
    free(im->sh[i]);
  }
  for (int i = 0; i < im->nmirror; i++) cudaFree(im->mirror[i].h);
  free(im->sh);
  im->sh = NULL, im->nsh = im->sh_cap = im->nmirror = 0;
}
