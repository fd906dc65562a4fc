/* core/cpu/conv.c: oneDNN-backed convolution (see core/cpu/conv.h). One CPU
 * engine, one stream and one scratchpad per ConvCtx (the CPU backend owns one);
 * oneDNN runs on the same OpenMP pool as the rest of
 * cordseg (Debian's libdnnl is built with the OpenMP runtime), so no second
 * thread pool spins on the cores. */
#include "core/cpu/conv.h"

#include "core/cpu/layers.h"

#include <dnnl_debug.h>
#include <stdlib.h>
#include <string.h>


void dnnl_check_at(dnnl_status_t st, const char *what, const char *file, int line) {
  if (st == dnnl_success) return;
  cs_fatal_at(file, line,
              st == dnnl_out_of_memory ? "reduce the batch size or image size"
              : st == dnnl_unimplemented
                  ? "this oneDNN build has no implementation for the shape/layout; run with ONEDNN_VERBOSE=1 for details"
                  : "run with ONEDNN_VERBOSE=1 to see the failing primitive",
              "oneDNN call failed: %s: %s", what, dnnl_status2str(st));
}

void conv_ctx_init(ConvCtx *x) {
  memset(x, 0, sizeof *x);
  DNNL_CHECK(dnnl_engine_create(&x->engine, dnnl_cpu, 0));
  DNNL_CHECK(dnnl_stream_create(&x->stream, x->engine, dnnl_stream_default_flags));
}

void conv_ctx_free(ConvCtx *x) {
  if (x->stream) dnnl_stream_destroy(x->stream);
  if (x->engine) dnnl_engine_destroy(x->engine);
  free(x->scratch);
  memset(x, 0, sizeof *x);
}

static dnnl_memory_desc_t md_act(int32_t n, int32_t c, int32_t h, int32_t w, int plain) {
  dnnl_memory_desc_t md;
  dnnl_dims_t d = {n, c, h, w};
  DNNL_CHECK(dnnl_memory_desc_init_by_tag(&md, 4, d, dnnl_f32, plain ? dnnl_nchw : dnnl_nChw16c));
  return md;
}

static dnnl_memory_t mem(ConvCtx *x, const dnnl_memory_desc_t *md, void *ptr) {
  dnnl_memory_t m;
  DNNL_CHECK(dnnl_memory_create(&m, md, x->engine, ptr ? ptr : DNNL_MEMORY_NONE));
  return m;
}

/* Reorder from `from` layout into `to` layout; returns NULL if identical. */
static dnnl_primitive_t make_reorder(ConvCtx *x, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to) {
  if (dnnl_memory_desc_equal(from, to)) return NULL;
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t p;
  DNNL_CHECK(dnnl_reorder_primitive_desc_create(&pd, from, x->engine, to, x->engine, NULL));
  DNNL_CHECK(dnnl_primitive_create(&p, pd));
  DNNL_CHECK(dnnl_primitive_desc_destroy(pd));
  return p;
}

static void run_reorder(ConvCtx *x, dnnl_primitive_t p, dnnl_memory_t from, dnnl_memory_t to) {
  dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
  DNNL_CHECK(dnnl_primitive_execute(p, x->stream, 2, a));
}


static const char *impl_of(dnnl_primitive_t p) {
  if (!p) return "none";
  const_dnnl_primitive_desc_t pd;
  const char *name = "?";
  if (dnnl_primitive_get_primitive_desc(p, &pd) == dnnl_success)
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, (void *)&name);
  return name;
}

const char *conv_impl_name(const Conv *c, int which) {
  return impl_of(which == 0 ? c->fwd : which == 1 ? c->bwd_data : c->bwd_w);
}

/* ---- scratchpad ----------------------------------------------------------
 * One buffer shared by every primitive of a ConvCtx (they run one at a
 * time on one stream), sized to the largest need and bound at execute time.
 * With oneDNN's default (library-managed) scratchpad, a build for concurrent
 * execution allocates scratch memory on every execution; this way there is
 * one allocation for the process. (Its effect on speed was not measured
 * separately from the other changes.) */
static dnnl_memory_t scratch_mem(ConvCtx *x, const_dnnl_primitive_desc_t pd) {
  const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  const size_t sz = md ? dnnl_memory_desc_get_size(md) : 0;
  if (sz == 0) return NULL;
  if (sz > x->need) x->need = sz;
  return mem(x, md, NULL);
}

/* Adds the scratchpad argument (if the primitive has one) to a[*na]. */
static void scratch_arg(ConvCtx *x, dnnl_memory_t m, dnnl_exec_arg_t *a, int *na) {
  if (!m) return;
  if (x->cap < x->need) {
    free(x->scratch);
    x->scratch = alignedAllocCheck(x->need);
    x->cap = x->need;
  }
  DNNL_CHECK(dnnl_memory_set_data_handle(m, x->scratch));
  a[(*na)++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, m};
}

/* The three primitive descriptors for one algorithm; *bpd stays NULL when the
 * input gradient is not needed. On failure nothing is left allocated. */
static dnnl_status_t make_pds(ConvCtx *x, const ConvSpec *s, dnnl_alg_kind_t alg, const_dnnl_primitive_attr_t attr,
                              const dnnl_memory_desc_t *src_md, const dnnl_memory_desc_t *w_any,
                              const dnnl_memory_desc_t *b_md, const dnnl_memory_desc_t *dst_md,
                              dnnl_primitive_desc_t *fpd, dnnl_primitive_desc_t *bpd, dnnl_primitive_desc_t *wpd) {
  dnnl_dims_t strides = {s->stride, s->stride}, pad = {s->pad, s->pad};
  dnnl_convolution_desc_t fd, bd, wd;
  *fpd = *bpd = *wpd = NULL;
  dnnl_primitive_attr_t battr;
  DNNL_CHECK(dnnl_primitive_attr_create(&battr));
  DNNL_CHECK(dnnl_primitive_attr_set_scratchpad_mode(battr, dnnl_scratchpad_mode_user));
  dnnl_status_t st = dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, alg, src_md, w_any,
                                                        s->bias ? b_md : NULL, dst_md, strides, pad, pad);
  if (st == dnnl_success) st = dnnl_primitive_desc_create(fpd, &fd, attr, x->engine, NULL);
  if (st == dnnl_success && s->need_dsrc) {
    st = dnnl_convolution_backward_data_desc_init(&bd, alg, src_md, w_any, dst_md, strides, pad, pad);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(bpd, &bd, battr, x->engine, *fpd);
  }
  if (st == dnnl_success) {
    st = dnnl_convolution_backward_weights_desc_init(&wd, alg, src_md, w_any, s->bias ? b_md : NULL, dst_md, strides,
                                                      pad, pad);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(wpd, &wd, battr, x->engine, *fpd);
  }
  DNNL_CHECK(dnnl_primitive_attr_destroy(battr));
  if (st != dnnl_success) {
    dnnl_primitive_desc_t *all[3] = {fpd, bpd, wpd};
    for (int i = 0; i < 3; i++)
      if (*all[i]) dnnl_primitive_desc_destroy(*all[i]), *all[i] = NULL;
  }
  return st;
}

void conv_init(Conv *c, ConvCtx *x, const ConvSpec *spec, float *src, float *dst, float *w, float *b, float *dsrc, float *ddst,
               float *dw, float *db) {
  memset(c, 0, sizeof(*c));
  c->ctx = x;
  c->s = *spec;
  const ConvSpec *s = &c->s;
  c->hout = (s->hin + 2 * s->pad - s->k) / s->stride + 1;
  c->wout = (s->win + 2 * s->pad - s->k) / s->stride + 1;
  c->macs = (double)s->n * c->hout * c->wout * s->cout * s->cin * s->k * s->k;

  dnnl_memory_desc_t src_md = md_act(s->n, s->cin, s->hin, s->win, s->plain_src);
  /* A plain-NCHW dst (the logits, K=9 channels) would fall back to oneDNN's
   * reference kernels; compute into a zero-padded nChw16c buffer instead and
   * convert at the edge (conv_forward / conv_backward). */
  dnnl_memory_desc_t dst_md = md_act(s->n, s->cout, c->hout, c->wout, 0);
  if (s->plain_dst) {
    c->dst_plain = dst, c->ddst_plain = ddst;
    dst = c->dst_blk = alignedAllocCheck(dnnl_memory_desc_get_size(&dst_md));
    ddst = c->ddst_blk = alignedAllocCheck(dnnl_memory_desc_get_size(&dst_md));
  }
  dnnl_memory_desc_t w_plain, w_any, b_md;
  dnnl_dims_t wd = {s->cout, s->cin, s->k, s->k}, bd = {s->cout};
  DNNL_CHECK(dnnl_memory_desc_init_by_tag(&w_plain, 4, wd, dnnl_f32, dnnl_oihw));
  DNNL_CHECK(dnnl_memory_desc_init_by_tag(&w_any, 4, wd, dnnl_f32, dnnl_format_tag_any));
  DNNL_CHECK(dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_x));

  /* forward (training) with optional fused ReLU, backward data, backward
   * weights; Winograd for all three when asked and oneDNN has it, else direct */
  dnnl_primitive_attr_t attr;
  DNNL_CHECK(dnnl_primitive_attr_create(&attr));
  DNNL_CHECK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
  if (s->relu) {
    dnnl_post_ops_t po;
    DNNL_CHECK(dnnl_post_ops_create(&po));
    DNNL_CHECK(dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_relu, 0.f, 0.f));
    DNNL_CHECK(dnnl_primitive_attr_set_post_ops(attr, po));
    DNNL_CHECK(dnnl_post_ops_destroy(po));
  }
  dnnl_primitive_desc_t fpd = NULL, bpd = NULL, wpd = NULL;
  dnnl_status_t st = dnnl_unimplemented;
  if (s->winograd && s->k == 3 && s->stride == 1)
    st = make_pds(x, s, dnnl_convolution_winograd, attr, &src_md, &w_any, &b_md, &dst_md, &fpd, &bpd, &wpd);
  c->winograd = st == dnnl_success;
  if (!c->winograd)
    DNNL_CHECK(make_pds(x, s, dnnl_convolution_direct, attr, &src_md, &w_any, &b_md, &dst_md, &fpd, &bpd, &wpd));
  DNNL_CHECK(dnnl_primitive_attr_destroy(attr));
  DNNL_CHECK(dnnl_primitive_create(&c->fwd, fpd));
  const dnnl_memory_desc_t *wf_md = dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0);

  c->m_src = mem(x, &src_md, src);
  c->m_dst = mem(x, &dst_md, dst);
  c->m_w = mem(x, &w_plain, w);
  c->m_b = s->bias ? mem(x, &b_md, b) : NULL;
  c->reo_w_fwd = make_reorder(x, &w_plain, wf_md);
  if (c->reo_w_fwd) {
    c->w_fwd = alignedAllocCheck(dnnl_memory_desc_get_size(wf_md));
    c->m_w_fwd = mem(x, wf_md, c->w_fwd);
  } else {
    c->m_w_fwd = c->m_w;
  }

  /* backward data */
  if (s->need_dsrc) {
    DNNL_CHECK(dnnl_primitive_create(&c->bwd_data, bpd));
    const dnnl_memory_desc_t *wb_md = dnnl_primitive_desc_query_md(bpd, dnnl_query_weights_md, 0);
    if (dnnl_memory_desc_equal(wb_md, wf_md)) {
      c->m_w_bwd = c->m_w_fwd; /* forward copy serves backward too */
    } else {
      c->reo_w_bwd = make_reorder(x, &w_plain, wb_md);
      if (c->reo_w_bwd) {
        c->w_bwd = alignedAllocCheck(dnnl_memory_desc_get_size(wb_md));
        c->m_w_bwd = mem(x, wb_md, c->w_bwd);
      } else {
        c->m_w_bwd = c->m_w;
      }
    }
    c->m_dsrc = mem(x, &src_md, dsrc);
    c->m_scr[1] = scratch_mem(x, bpd);
    DNNL_CHECK(dnnl_primitive_desc_destroy(bpd));
  }
  c->m_ddst = mem(x, &dst_md, ddst);

  /* backward weights */
  DNNL_CHECK(dnnl_primitive_create(&c->bwd_w, wpd));
  const dnnl_memory_desc_t *dw_md = dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_weights_md, 0);
  c->m_dw = mem(x, &w_plain, dw);
  c->m_db = s->bias ? mem(x, &b_md, db) : NULL;
  c->reo_dw = make_reorder(x, dw_md, &w_plain);
  if (c->reo_dw) {
    c->dw_blk = alignedAllocCheck(dnnl_memory_desc_get_size(dw_md));
    c->m_dw_blk = mem(x, dw_md, c->dw_blk);
  }
  c->m_scr[0] = scratch_mem(x, fpd);
  c->m_scr[2] = scratch_mem(x, wpd);
  DNNL_CHECK(dnnl_primitive_desc_destroy(wpd));
  DNNL_CHECK(dnnl_primitive_desc_destroy(fpd));
}

void conv_forward(Conv *c) {
  ConvCtx *x = c->ctx;
  if (c->reo_w_fwd) run_reorder(x, c->reo_w_fwd, c->m_w, c->m_w_fwd);
  dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, c->m_src}, {DNNL_ARG_WEIGHTS, c->m_w_fwd}, {DNNL_ARG_DST, c->m_dst}};
  int na = 3;
  if (c->m_b) a[na++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, c->m_b};
  scratch_arg(x, c->m_scr[0], a, &na);
  DNNL_CHECK(dnnl_primitive_execute(c->fwd, x->stream, na, a));
  DNNL_CHECK(dnnl_stream_wait(x->stream));
  if (c->dst_plain) layer_from_blocked(c->dst_blk, c->dst_plain, c->s.n, c->s.cout, c->hout, c->wout);
}

void conv_backward(Conv *c) {
  ConvCtx *x = c->ctx;
  if (c->ddst_plain) layer_to_blocked(c->ddst_plain, c->ddst_blk, c->s.n, c->s.cout, c->hout, c->wout);
  if (c->bwd_data) {
    if (c->reo_w_bwd) run_reorder(x, c->reo_w_bwd, c->m_w, c->m_w_bwd); /* else the forward's copy is still valid */
    dnnl_exec_arg_t a[4] = {{DNNL_ARG_DIFF_DST, c->m_ddst}, {DNNL_ARG_WEIGHTS, c->m_w_bwd}, {DNNL_ARG_DIFF_SRC, c->m_dsrc}};
    int na = 3;
    scratch_arg(x, c->m_scr[1], a, &na);
    DNNL_CHECK(dnnl_primitive_execute(c->bwd_data, x->stream, na, a));
  }
  dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, c->m_src},
                          {DNNL_ARG_DIFF_DST, c->m_ddst},
                          {DNNL_ARG_DIFF_WEIGHTS, c->reo_dw ? c->m_dw_blk : c->m_dw}};
  int na = 3;
  if (c->m_db) a[na++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_BIAS, c->m_db};
  scratch_arg(x, c->m_scr[2], a, &na);
  DNNL_CHECK(dnnl_primitive_execute(c->bwd_w, x->stream, na, a));
  if (c->reo_dw) run_reorder(x, c->reo_dw, c->m_dw_blk, c->m_dw);
  DNNL_CHECK(dnnl_stream_wait(x->stream));
}

static void destroy_mem(dnnl_memory_t *m) {
  if (*m) dnnl_memory_destroy(*m);
  *m = NULL;
}

void conv_free(Conv *c) {
  dnnl_primitive_t *ps[] = {&c->fwd, &c->bwd_data, &c->bwd_w, &c->reo_w_fwd, &c->reo_w_bwd, &c->reo_dw};
  for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
    if (*ps[i]) dnnl_primitive_destroy(*ps[i]), *ps[i] = NULL;
  if (c->m_w_bwd == c->m_w_fwd || c->m_w_bwd == c->m_w) c->m_w_bwd = NULL;
  if (c->m_w_fwd == c->m_w) c->m_w_fwd = NULL;
  dnnl_memory_t *ms[] = {&c->m_src, &c->m_dst, &c->m_w, &c->m_b, &c->m_w_fwd, &c->m_w_bwd,
                         &c->m_dsrc, &c->m_ddst, &c->m_dw, &c->m_db, &c->m_dw_blk,
                         &c->m_scr[0], &c->m_scr[1], &c->m_scr[2]};
  for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) destroy_mem(ms[i]);
  free(c->w_fwd);
  free(c->w_bwd);
  free(c->dw_blk);
  free(c->dst_blk);
  free(c->ddst_blk);
  memset(c, 0, sizeof(*c));
}
