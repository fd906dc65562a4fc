/* core/cpu/conv.h: 2-D convolution on the CPU through oneDNN (forward, backward
 * data, backward weights), with activations in the blocked nChw16c layout
 * (or plain NCHW for the network input and the logits) and weights kept in
 * plain OIHW in the model's flat buffers; oneDNN's preferred weight layouts
 * are reordered to/from each step. ReLU can be fused into the forward pass.
 * All buffers are bound at init (fixed batch and image size).
 * Algorithms: direct (the reference; bit-reproducible) or, on request, oneDNN's
 * Winograd F(4x4,3x3): about 2x faster on 3x3 stride-1 layers of 16x16 and
 * larger on AVX-512, with fp32 rounding differences of <= 1.7e-6 relative to the
 * largest value (measured in test_core_layers; direct <= 6e-7). Both are
 * deterministic for a fixed thread count.
 * defines: ConvCtx, conv_ctx_init/free, Conv, conv_init, conv_forward, conv_backward, conv_free,
 *          conv_set_threads, DNNL_CHECK */
#ifndef CORDSEG_CONV_H
#define CORDSEG_CONV_H
#include <dnnl.h>
#include <stdint.h>

#include "core/backend.h"
#include "core/common.h"

#define DNNL_CHECK(call) dnnl_check_at((call), #call, __FILE__, __LINE__)
void dnnl_check_at(dnnl_status_t st, const char *what, const char *file, int line);

/* one oneDNN engine + stream + the user-managed scratchpad that every
 * primitive of the context shares (they run one at a time) */
typedef struct {
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  void *scratch;
  size_t need, cap;
} ConvCtx;
void conv_ctx_init(ConvCtx *x);
void conv_ctx_free(ConvCtx *x);

typedef struct {
  ConvCtx *ctx;
  ConvSpec s;
  int32_t hout, wout;
  dnnl_primitive_t fwd, bwd_data, bwd_w;
  dnnl_primitive_t reo_w_fwd, reo_w_bwd, reo_dw; /* NULL where the layouts are plain already */
  dnnl_memory_t m_scr[3]; /* scratchpads of fwd, bwd data, bwd weights (NULL: none); bound at execute */
  dnnl_memory_t m_src, m_dst, m_w, m_b, m_w_fwd, m_w_bwd, m_dsrc, m_ddst, m_dw, m_db, m_dw_blk;
  float *w_fwd, *w_bwd, *dw_blk; /* reordered weight copies (owned) */
  float *dst_plain, *ddst_plain;  /* caller's plain dst/ddst when plain_dst */
  float *dst_blk, *ddst_blk;      /* padded nChw16c stand-ins (owned) */
  double macs;                   /* forward multiply-accumulates for the whole batch */
  int winograd;                  /* 1 when the Winograd kernels were created */
} Conv;

/* Buffers: src/dst activations, w [cout][cin][k][k], b [cout] (or NULL),
 * dsrc/ddst their gradients (dsrc may be NULL when !need_dsrc), dw/db the
 * weight/bias gradients (overwritten by conv_backward). */
void conv_init(Conv *c, ConvCtx *x, const ConvSpec *spec, float *src, float *dst, float *w, float *b, float *dsrc, float *ddst,
               float *dw, float *db);
void conv_forward(Conv *c);
void conv_backward(Conv *c); /* backward data (if need_dsrc) and backward weights */
void conv_free(Conv *c);
const char *conv_impl_name(const Conv *c, int which); /* 0 fwd, 1 bwd data, 2 bwd weights */
#endif
