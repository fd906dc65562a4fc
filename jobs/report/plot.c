/* jobs/report/plot.c: cairo drawing of the report charts (see jobs/report/plot.h). */
#define _POSIX_C_SOURCE 200809L
#include "jobs/report/plot.h"

#include <cairo.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/stats.h"
#include "io/atomic.h"
#include "io/path.h"

#define CR(p) ((cairo_t *)(p)->cr)
#define PLOT_PI 3.14159265358979323846

/* Okabe-Ito colour-blind-safe palette */
const double PLOT_PALETTE[8][3] = {{0.000, 0.447, 0.698}, {0.835, 0.369, 0.000}, {0.000, 0.620, 0.451},
                                   {0.800, 0.475, 0.655}, {0.902, 0.624, 0.000}, {0.337, 0.706, 0.914},
                                   {0.941, 0.894, 0.259}, {0.300, 0.300, 0.300}};

void plot_init(Plot *p, int32_t w, int32_t h) {
  p->w = w, p->h = h;
  p->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  CS_CHECK(cairo_surface_status(p->surface) == CAIRO_STATUS_SUCCESS, "make the chart smaller",
           "cairo cannot create a %dx%d image", (int)w, (int)h);
  p->cr = cairo_create(p->surface);
  cairo_set_source_rgb(CR(p), 1, 1, 1);
  cairo_paint(CR(p));
  cairo_select_font_face(CR(p), "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
}

void plot_free(Plot *p) {
  cairo_destroy(CR(p));
  cairo_surface_destroy(p->surface);
  memset(p, 0, sizeof *p);
}

void plot_write_png(Plot *p, const char *path) {
  char tmp[PATH_CAP];
  atomic_begin(path, tmp, sizeof tmp);
  cairo_surface_flush(p->surface);
  cairo_status_t st = cairo_surface_write_to_png(p->surface, tmp);
  if (st != CAIRO_STATUS_SUCCESS)
    cs_fatal("check that the output directory is writable and has space", "cairo cannot write '%s': %s", tmp,
             cairo_status_to_string(st));
  atomic_commit(tmp, path);
}

typedef struct {
  unsigned char *b;
  size_t n, cap;
} ByteBuf;

static cairo_status_t png_sink(void *closure, const unsigned char *data, unsigned int len) {
  ByteBuf *bb = closure;
  if (bb->n + len > bb->cap) {
    while (bb->n + len > bb->cap) bb->cap = bb->cap ? 2 * bb->cap : 65536;
    bb->b = realloc(bb->b, bb->cap);
    if (!bb->b) return CAIRO_STATUS_NO_MEMORY;
  }
  memcpy(bb->b + bb->n, data, len);
  bb->n += len;
  return CAIRO_STATUS_SUCCESS;
}

unsigned char *plot_png_bytes(Plot *p, size_t *n) {
  ByteBuf bb = {0};
  cairo_surface_flush(p->surface);
  CS_CHECK(cairo_surface_write_to_png_stream(p->surface, png_sink, &bb) == CAIRO_STATUS_SUCCESS, NULL,
           "cairo could not encode a PNG (out of memory)");
  *n = bb.n;
  return bb.b;
}

void plot_text(Plot *p, double x, double y, double size, double align, double angle, const char *fmt, ...) {
  char s[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s, sizeof s, fmt, ap);
  va_end(ap);
  cairo_t *cr = CR(p);
  cairo_save(cr);
  cairo_set_font_size(cr, size);
  cairo_text_extents_t e;
  cairo_text_extents(cr, s, &e);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, angle * PLOT_PI / 180);
  cairo_move_to(cr, -align * e.x_advance, 0);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  cairo_show_text(cr, s);
  cairo_restore(cr);
}

double plot_x(const PlotAxes *ax, double v) { return ax->x + (v - ax->x0) / (ax->x1 - ax->x0) * ax->w; }
double plot_y(const PlotAxes *ax, double v) { return ax->y + ax->h - (v - ax->y0) / (ax->y1 - ax->y0) * ax->h; }

/* a 1-2-5 tick step giving about `want` ticks over span */
static double nice_step(double span, int want) {
  double raw = span / want, mag = pow(10, floor(log10(raw))), f = raw / mag;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

void plot_axes(Plot *p, PlotAxes *ax, double x, double y, double w, double h, double x0, double x1, double y0,
               double y1, int xticks, const char *title, const char *xlabel, const char *ylabel) {
  if (!(x1 > x0)) x1 = x0 + 1;
  if (!(y1 > y0)) y1 = y0 + 1;
  *ax = (PlotAxes){x, y, w, h, x0, x1, y0, y1};
  cairo_t *cr = CR(p);
  cairo_set_line_width(cr, 1);
  double ys = nice_step(y1 - y0, 5);
  for (double v = ceil(y0 / ys) * ys; v <= y1 + 1e-9 * ys; v += ys) {
    double py = round(plot_y(ax, v)) + 0.5;
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_move_to(cr, x, py), cairo_line_to(cr, x + w, py), cairo_stroke(cr);
    plot_text(p, x - 5, py + 4, 11, 1, 0, "%g", fabs(v) < 1e-12 * ys ? 0 : v);
  }
  if (xticks) {
    double xs = nice_step(x1 - x0, 6);
    for (double v = ceil(x0 / xs) * xs; v <= x1 + 1e-9 * xs; v += xs) {
      double px = round(plot_x(ax, v)) + 0.5;
      cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
      cairo_move_to(cr, px, y), cairo_line_to(cr, px, y + h), cairo_stroke(cr);
      plot_text(p, px, y + h + 15, 11, 0.5, 0, "%g", fabs(v) < 1e-12 * xs ? 0 : v);
    }
  }
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_rectangle(cr, round(x) + 0.5, round(y) + 0.5, round(w), round(h));
  cairo_stroke(cr);
  if (title && *title) plot_text(p, x + w / 2, y - 8, 13, 0.5, 0, "%s", title);
  if (xlabel && *xlabel) plot_text(p, x + w / 2, y + h + 34, 12, 0.5, 0, "%s", xlabel);
  if (ylabel && *ylabel) plot_text(p, x - 44, y + h / 2, 12, 0.5, -90, "%s", ylabel);
}

void plot_categories(Plot *p, const PlotAxes *ax, const char *const *names, int32_t n) {
  for (int32_t i = 0; i < n; i++) plot_text(p, plot_x(ax, i + 0.5), ax->y + ax->h + 15, 11, 0.5, 0, "%s", names[i]);
}

static void set_rgb(Plot *p, const double rgb[3]) { cairo_set_source_rgb(CR(p), rgb[0], rgb[1], rgb[2]); }

/* save the state and clip drawing to the data box (undo with cairo_restore) */
static cairo_t *clip_to(Plot *p, const PlotAxes *ax) {
  cairo_t *cr = CR(p);
  cairo_save(cr);
  cairo_rectangle(cr, ax->x, ax->y, ax->w, ax->h);
  cairo_clip(cr);
  return cr;
}

void plot_line(Plot *p, const PlotAxes *ax, const double *x, const double *y, int64_t n, const double rgb[3],
               double width) {
  cairo_t *cr = clip_to(p, ax);
  set_rgb(p, rgb);
  cairo_set_line_width(cr, width);
  int pen = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(x[i]) || !isfinite(y[i])) {
      pen = 0;
      continue;
    }
    if (pen) cairo_line_to(cr, plot_x(ax, x[i]), plot_y(ax, y[i]));
    else cairo_move_to(cr, plot_x(ax, x[i]), plot_y(ax, y[i])), pen = 1;
  }
  cairo_stroke(cr);
  cairo_restore(cr);
}

void plot_points(Plot *p, const PlotAxes *ax, const double *x, const double *y, int64_t n, const double rgb[3],
                 double radius) {
  cairo_t *cr = clip_to(p, ax);
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(x[i]) || !isfinite(y[i])) continue;
    cairo_arc(cr, plot_x(ax, x[i]), plot_y(ax, y[i]), radius, 0, 2 * PLOT_PI);
    cairo_set_source_rgba(cr, rgb[0], rgb[1], rgb[2], 0.7);
    cairo_fill(cr);
  }
  cairo_restore(cr);
}

void plot_bar(Plot *p, const PlotAxes *ax, double x0, double x1, double y, const double rgb[3]) {
  if (!isfinite(y)) return;
  double base = ax->y0 > 0 ? ax->y0 : 0, py = plot_y(ax, y), pb = plot_y(ax, base);
  set_rgb(p, rgb);
  cairo_rectangle(CR(p), plot_x(ax, x0), fmin(py, pb), plot_x(ax, x1) - plot_x(ax, x0), fabs(pb - py));
  cairo_fill(CR(p));
}

void plot_errbar(Plot *p, const PlotAxes *ax, double x, double lo, double hi) {
  if (!isfinite(lo) || !isfinite(hi)) return;
  cairo_t *cr = CR(p);
  double px = plot_x(ax, x), a = plot_y(ax, fmax(lo, ax->y0)), b = plot_y(ax, fmin(hi, ax->y1));
  cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
  cairo_set_line_width(cr, 1.2);
  cairo_move_to(cr, px, a), cairo_line_to(cr, px, b);
  cairo_move_to(cr, px - 3, a), cairo_line_to(cr, px + 3, a);
  cairo_move_to(cr, px - 3, b), cairo_line_to(cr, px + 3, b);
  cairo_stroke(cr);
}

void plot_hline(Plot *p, const PlotAxes *ax, double y, const double rgb[3], int dashed, const char *label) {
  if (!isfinite(y) || y < ax->y0 || y > ax->y1) return;
  cairo_t *cr = CR(p);
  double d[2] = {6, 4};
  cairo_save(cr);
  set_rgb(p, rgb);
  cairo_set_line_width(cr, 1.3);
  if (dashed) cairo_set_dash(cr, d, 2, 0);
  cairo_move_to(cr, ax->x, plot_y(ax, y)), cairo_line_to(cr, ax->x + ax->w, plot_y(ax, y));
  cairo_stroke(cr);
  cairo_restore(cr);
  if (label) plot_text(p, ax->x + ax->w - 4, plot_y(ax, y) - 3, 10, 1, 0, "%s", label);
}

void plot_legend(Plot *p, double x, double y, const char *const *names, const double (*rgb)[3], int32_t n) {
  for (int32_t i = 0; i < n; i++) {
    set_rgb(p, rgb[i]);
    cairo_rectangle(CR(p), x, y + 18 * i - 10, 12, 12);
    cairo_fill(CR(p));
    plot_text(p, x + 18, y + 18 * i, 11, 0, 0, "%s", names[i]);
  }
}

void plot_heatmap(Plot *p, double x, double y, double cell, const double *m, int32_t rows, int32_t cols,
                  const char *const *row_labels, const char *const *col_labels, double vmin, double vmax) {
  cairo_t *cr = CR(p);
  for (int32_t r = 0; r < rows; r++) {
    plot_text(p, x - 6, y + (r + 0.5) * cell + 4, 11, 1, 0, "%s", row_labels[r]);
    for (int32_t c = 0; c < cols; c++) {
      double v = m[r * cols + c], t = (v - vmin) / (vmax - vmin) * 2 - 1; /* -1 blue .. 0 white .. 1 red */
      if (isnan(v)) cairo_set_source_rgb(cr, 0.75, 0.75, 0.75);
      else if (t >= 0) t = fmin(t, 1), cairo_set_source_rgb(cr, 1, 1 - 0.8 * t, 1 - 0.8 * t);
      else t = fmin(-t, 1), cairo_set_source_rgb(cr, 1 - 0.8 * t, 1 - 0.8 * t, 1);
      cairo_rectangle(cr, x + c * cell, y + r * cell, cell, cell);
      cairo_fill(cr);
      if (!isnan(v)) plot_text(p, x + (c + 0.5) * cell, y + (r + 0.5) * cell + 4, 10, 0.5, 0, "%.2f", v);
    }
  }
  for (int32_t c = 0; c < cols; c++) plot_text(p, x + (c + 0.5) * cell, y - 6, 11, 0.5, 0, "%s", col_labels[c]);
  cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, x + 0.5, y + 0.5, cols * cell, rows * cell);
  cairo_stroke(cr);
}

/* segments along pixel edges where (lab != 0) and the neighbour's label differs */
static void outline(cairo_t *cr, double x, double y, int32_t zoom, const uint8_t *lab, int32_t h, int32_t w) {
  for (int32_t r = 0; r < h; r++)
    for (int32_t c = 0; c < w; c++) {
      uint8_t l = lab[r * w + c];
      if (!l) continue;
      double X = x + c * zoom, Y = y + r * zoom;
      if (r == 0 || lab[(r - 1) * w + c] != l) cairo_move_to(cr, X, Y), cairo_line_to(cr, X + zoom, Y);
      if (r == h - 1 || lab[(r + 1) * w + c] != l)
        cairo_move_to(cr, X, Y + zoom), cairo_line_to(cr, X + zoom, Y + zoom);
      if (c == 0 || lab[r * w + c - 1] != l) cairo_move_to(cr, X, Y), cairo_line_to(cr, X, Y + zoom);
      if (c == w - 1 || lab[r * w + c + 1] != l) cairo_move_to(cr, X + zoom, Y), cairo_line_to(cr, X + zoom, Y + zoom);
    }
  cairo_stroke(cr);
}

void plot_overlay(Plot *p, double x, double y, int32_t zoom, const float *img, int32_t h, int32_t w,
                  const uint8_t *pred, const uint8_t *ref) {
  const int64_t hw = (int64_t)h * w;
  double *v = mallocCheck(sizeof(double) * (size_t)hw);
  for (int64_t i = 0; i < hw; i++) v[i] = img[i];
  double lo = stats_percentile(v, hw, 0.5), hi = stats_percentile(v, hw, 99.5);
  free(v);
  if (!(hi > lo)) hi = lo + 1;
  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  unsigned char *d = cairo_image_surface_get_data(s);
  int stride = cairo_image_surface_get_stride(s);
  cairo_surface_flush(s);
  for (int32_t r = 0; r < h; r++)
    for (int32_t c = 0; c < w; c++) {
      double t = (img[r * w + c] - lo) / (hi - lo);
      uint32_t g = (uint32_t)(255 * (t < 0 ? 0 : t > 1 ? 1 : t));
      ((uint32_t *)(d + (size_t)r * stride))[c] = g << 16 | g << 8 | g;
    }
  cairo_surface_mark_dirty(s);
  cairo_t *cr = CR(p);
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_scale(cr, zoom, zoom);
  cairo_set_source_surface(cr, s, 0, 0);
  cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
  cairo_paint(cr);
  cairo_restore(cr);
  cairo_surface_destroy(s);
  cairo_set_line_width(cr, zoom >= 4 ? 1.5 : 1);
  if (ref) cairo_set_source_rgb(cr, 0.15, 0.45, 1.0), outline(cr, x, y, zoom, ref, h, w);
  if (pred) cairo_set_source_rgb(cr, 1.0, 0.15, 0.1), outline(cr, x, y, zoom, pred, h, w);
}
