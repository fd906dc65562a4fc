/* io/montage.c: PNG montage of slices with label outlines (libpng). b0 is
 * windowed per slice to its 99.5th percentile, FA to [0, 1]. */
#define _POSIX_C_SOURCE 200809L
#include "io/montage.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/atomic.h"
#include "io/path.h"

const uint8_t MONTAGE_COLORS[9][3] = {{0, 0, 0},     {230, 25, 75},  {60, 180, 75}, {0, 130, 200}, {255, 225, 25},
                                      {245, 130, 48}, {145, 30, 180}, {70, 240, 240}, {240, 50, 230}};

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

void montage_write_png(const char *path, int32_t n, int32_t h, int32_t w, const float *b0, const float *fa,
                       const uint8_t *labels, int32_t zoom) {
  if (n <= 0) return;
  const int32_t tw = w * zoom, th = h * zoom, W = n * tw + (n - 1) * 2, H = 3 * th + 4;
  uint8_t *rgb = callocCheck((size_t)W * H * 3, 1);
  float *tmp = mallocCheck(sizeof(float) * (size_t)h * w);
  const size_t hw = (size_t)h * w;
  for (int32_t s = 0; s < n; s++) {
    memcpy(tmp, b0 + s * hw, sizeof(float) * hw);
    qsort(tmp, hw, sizeof(float), cmp_float);
    float hi = tmp[(size_t)(0.995 * (double)(hw - 1))];
    if (!(hi > 0)) hi = 1;
    const uint8_t *L = labels + s * hw;
    for (int32_t y = 0; y < th; y++)
      for (int32_t x = 0; x < tw; x++) {
        int32_t r = y / zoom, c = x / zoom;
        size_t i = (size_t)r * w + c;
        float vb = b0[s * hw + i] / hi, vf = fa[s * hw + i];
        uint8_t gb = (uint8_t)(255.f * (vb < 0 ? 0 : vb > 1 ? 1 : vb));
        uint8_t gf = (uint8_t)(255.f * (vf < 0 ? 0 : vf > 1 ? 1 : vf));
        int32_t X = s * (tw + 2) + x;
        uint8_t *p0 = rgb + ((size_t)y * W + X) * 3, *p1 = rgb + ((size_t)(y + th + 2) * W + X) * 3,
                *p2 = rgb + ((size_t)(y + 2 * th + 4) * W + X) * 3;
        p0[0] = p0[1] = p0[2] = gb;
        p1[0] = p1[1] = p1[2] = gf;
        int l = L[i] <= 8 ? L[i] : 0;
        int edge = 0;
        if (l) {
          edge = (r > 0 && L[i - w] != l) || (r < h - 1 && L[i + w] != l) || (c > 0 && L[i - 1] != l) ||
                 (c < w - 1 && L[i + 1] != l);
          edge = edge && ((y % zoom == 0 && r > 0 && L[i - w] != l) || (y % zoom == zoom - 1 && r < h - 1 && L[i + w] != l) ||
                          (x % zoom == 0 && c > 0 && L[i - 1] != l) || (x % zoom == zoom - 1 && c < w - 1 && L[i + 1] != l) || zoom == 1);
        }
        for (int k = 0; k < 3; k++)
          p2[k] = !l ? gb : edge ? MONTAGE_COLORS[l][k] : (uint8_t)(0.6f * gb + 0.4f * MONTAGE_COLORS[l][k]);
      }
  }
  free(tmp);
  char tmpath[PATH_CAP];
  atomic_begin(path, tmpath, sizeof tmpath);
  FILE *f = fopenCheck(tmpath, "wb");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!png || !info || setjmp(png_jmpbuf(png))) cs_fatal("check free disk space", "libpng failed writing '%s'", tmpath);
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)W, (png_uint_32)H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int32_t y = 0; y < H; y++) png_write_row(png, rgb + (size_t)y * W * 3);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  fcloseCheck(f, tmpath);
  free(rgb);
  atomic_commit(tmpath, path);
}
