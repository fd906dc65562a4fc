/* jobs/report/plot.h: PNG charts a person opens directly, drawn with cairo (Debian
 * libcairo2): a canvas, axes with numeric or category ticks, lines, points,
 * bars, error bars, reference lines, legends, an annotated heatmap and the
 * segmentation overlay of Fei et al. Figure 5 (input slice in grey, reference
 * outline blue, prediction outline red). Output is written atomically
 * (io/atomic.h) or returned as PNG bytes (for the self-contained HTML page).
 * defines: Plot, PlotAxes, PLOT_PALETTE, plot_init, plot_free,
 *          plot_write_png, plot_png_bytes, plot_text, plot_axes,
 *          plot_categories, plot_x, plot_y, plot_line, plot_points, plot_bar,
 *          plot_errbar, plot_hline, plot_legend, plot_heatmap, plot_overlay */
#ifndef CORDSEG_JOBS_REPORT_PLOT_H
#define CORDSEG_JOBS_REPORT_PLOT_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
  void *surface; /* cairo_surface_t */
  void *cr;      /* cairo_t */
  int32_t w, h;
} Plot;

/* a data box: pixel rectangle (x, y, w, h) showing [x0, x1] x [y0, y1] */
typedef struct {
  double x, y, w, h;
  double x0, x1, y0, y1;
} PlotAxes;

extern const double PLOT_PALETTE[8][3];

void plot_init(Plot *p, int32_t w, int32_t h); /* white canvas */
void plot_free(Plot *p);
void plot_write_png(Plot *p, const char *path);
unsigned char *plot_png_bytes(Plot *p, size_t *n); /* malloc'ed PNG file bytes */

/* align: 0 left, 0.5 centre, 1 right of x; y is the baseline; angle in degrees */
void plot_text(Plot *p, double x, double y, double size, double align, double angle, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* frame, grid and numeric ticks (xticks = 0: no x tick labels, for categories) */
void plot_axes(Plot *p, PlotAxes *ax, double x, double y, double w, double h, double x0, double x1, double y0,
               double y1, int xticks, const char *title, const char *xlabel, const char *ylabel);
/* category labels under the x axis at centres i + 0.5 of an [0, n] x range */
void plot_categories(Plot *p, const PlotAxes *ax, const char *const *names, int32_t n);
double plot_x(const PlotAxes *ax, double v);
double plot_y(const PlotAxes *ax, double v);
/* polyline; NaN values break the line */
void plot_line(Plot *p, const PlotAxes *ax, const double *x, const double *y, int64_t n, const double rgb[3],
               double width);
void plot_points(Plot *p, const PlotAxes *ax, const double *x, const double *y, int64_t n, const double rgb[3],
                 double radius);
void plot_bar(Plot *p, const PlotAxes *ax, double x0, double x1, double y, const double rgb[3]);
void plot_errbar(Plot *p, const PlotAxes *ax, double x, double lo, double hi);
void plot_hline(Plot *p, const PlotAxes *ax, double y, const double rgb[3], int dashed, const char *label);
void plot_legend(Plot *p, double x, double y, const char *const *names, const double (*rgb)[3], int32_t n);
/* rows x cols cells of size `cell` at (x, y), blue-white-red over [vmin, vmax],
 * value printed in each cell, NaN grey; labels left and on top */
void plot_heatmap(Plot *p, double x, double y, double cell, const double *m, int32_t rows, int32_t cols,
                  const char *const *row_labels, const char *const *col_labels, double vmin, double vmax);
/* img [h][w] windowed to its 0.5..99.5th percentile, zoomed; outlines of every
 * ROI of ref (blue) and pred (red) along pixel edges; either may be NULL */
void plot_overlay(Plot *p, double x, double y, int32_t zoom, const float *img, int32_t h, int32_t w,
                  const uint8_t *pred, const uint8_t *ref);
#endif
