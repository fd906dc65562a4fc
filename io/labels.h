/* io/labels.h: the one label-id convention used by every cordseg file, test
 * and command: names, the left<->right swap applied on horizontal flips, and
 * the image orientation all slices are stored in.
 *
 * ids: 0 background, 1 L dorsal column, 2 L lateral column, 3 L ventral column,
 *      4 L gray matter, 5 R dorsal column, 6 R lateral column, 7 R ventral
 *      column, 8 R gray matter.
 * orientation of every stored slice [H][W]: row 0 = anterior, rows run
 *      anterior -> posterior; column 0 = patient RIGHT, columns run right ->
 *      left (radiological display). A horizontal flip (reversing columns)
 *      therefore mirrors left and right and must apply LABEL_LR_SWAP. */
#ifndef CORDSEG_IO_LABELS_H
#define CORDSEG_IO_LABELS_H
#include <stdint.h>

#define LABEL_COUNT 9
#define LABEL_MAX 8

static const char *const LABEL_NAMES[LABEL_COUNT] = {
    "background",         "L dorsal column",  "L lateral column",  "L ventral column", "L gray matter",
    "R dorsal column",    "R lateral column", "R ventral column",  "R gray matter"};

/* short names (file attributes, CSV headers) */
static const char *const LABEL_KEYS[LABEL_COUNT] = {"bg", "L_dc", "L_lc", "L_vc", "L_gm",
                                                    "R_dc", "R_lc", "R_vc", "R_gm"};

/* abbreviations (log.csv's per-ROI columns dice_LDC .. thr_RGM, progress lines, plots) */
static const char *const LABEL_ABBREV[LABEL_COUNT] = {"BG", "LDC", "LLC", "LVC", "LGM", "RDC", "RLC", "RVC", "RGM"};

/* label id after a left<->right mirror: 1<->5, 2<->6, 3<->7, 4<->8 */
static const uint8_t LABEL_LR_SWAP[LABEL_COUNT] = {0, 5, 6, 7, 8, 1, 2, 3, 4};

#define LABEL_LEVEL_MAX 24
/* vertebral level coding stored per slice: 0 unknown, 1..7 = C1..C7,
 * 8..19 = T1..T12, 20..24 = L1..L5 (the PAM50_levels.nii.gz values). */
static inline const char *label_level_name(int32_t level, char buf[8]) {
  const char *reg = "?";
  int n = 0;
  if (level >= 1 && level <= 7) reg = "C", n = level;
  else if (level >= 8 && level <= 19) reg = "T", n = level - 7;
  else if (level >= 20 && level <= 24) reg = "L", n = level - 19;
  if (n == 0) {
    buf[0] = '?', buf[1] = 0;
  } else {
    buf[0] = reg[0];
    buf[1] = (char)('0' + n / 10);
    buf[2] = (char)('0' + n % 10);
    buf[3] = 0;
    if (n < 10) buf[1] = buf[2], buf[2] = 0;
  }
  return buf;
}
#endif
