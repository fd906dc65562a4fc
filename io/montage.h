/* io/montage.h: a PNG a person can look at: for each of n slices a column of
 * three tiles (b0, FA, b0 with coloured label fill and outlines), each
 * upscaled by `zoom` (nearest). Atomic write. */
#ifndef CORDSEG_IO_MONTAGE_H
#define CORDSEG_IO_MONTAGE_H
#include <stdint.h>

/* label colours (RGB) used by montages and overlays, index = label id */
extern const uint8_t MONTAGE_COLORS[9][3];

void montage_write_png(const char *path, int32_t n, int32_t h, int32_t w, const float *b0, const float *fa,
                       const uint8_t *labels, int32_t zoom);
#endif
