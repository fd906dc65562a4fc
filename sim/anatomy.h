/* sim/anatomy.h: the anatomy around the cord and the acquisition effects of
 * the phantom's `--anatomy full` mode (sim/phantom.c draws the cord and CSF
 * from PAM50; this module draws everything else), and the measurements that
 * compare a phantom with a real DWI series (`cordseg phantom --compare`).
 *
 * Geometry (mm, in the phantom's render frame: x toward the patient's left =
 * store columns, y toward posterior = store rows; origin at the centre of the
 * spinal canal), per vertebral level (PAM50 level labels; the disc weight of
 * a slab = its overlap with a 5 mm disc at each level boundary):
 *   canal       ellipse, C3-C7 semi-axes LR 10.5-12.5, AP 6.5-8 (MRI C3-C7
 *               sagittal 14.1 +- 1.3 mm: More et al., Int J Res Pharm Sci
 *               2019;10(2)), times the level's ratio to the C3-C7 mean
 *               (anatomy_canal): AP C1 1.35, C2 1.155, C3-C7 0.98-1.02
 *               (radiographic sagittal diameters C1 21.0, C2 18.0, C3 15.8,
 *               C4 15.2, C5 15.3, C6 15.7, C7 15.9 mm in 997 Japanese adults,
 *               magnification 1.17), LR C3 0.96 ... C6 1.03, C7 0.99
 *               (interpediculate C3 27.1, C4 28.1, C5 29.0, C6 29.1, C7 27.8 mm:
 *               Kim & Song, J Korean Neurosurg Soc 1975;4:239); x0.75-1 in AP
 *               where the cord is compressed; widened where the dural sac and
 *               an epidural margin (0.3-1 mm) need it
 *   dural sac   the CSF (replacing PAM50's CSF map in this mode): an ellipse
 *               through the cord's rendered extent plus the subarachnoid
 *               thickness of the level (anatomy_sas), lateral / anterior /
 *               posterior: C2 4-6.5 / 3-5 / 3-5.5 mm (the wide upper
 *               cervical cistern; the real series' C2 slices: 5-15 / 3-4 /
 *               4-5 mm), C4-T1 1-3 / 1-3 / 1-3 mm, C3 halfway (subarachnoid
 *               space 3.4 mm lateral on average, anterior and posterior
 *               alike 1-6 mm, means 2.57 and 2.59: Khanapurkar et al., Int J
 *               Med Res Health Sci 2014;3:610; dorsal CSF 1.5-4 mm
 *               at C4-C6: Holsheimer et al., AJNR 1994;15:951; cord 58 +- 7 % of
 *               the dural tube's area at C5: Kato et al., Eur Spine J
 *               2012;21:1499); effaced (AP) where the cord is compressed; what
 *               the cord and the sac leave of the canal is the
 *               anterior epidural venous plexus (a plexus_mm layer in front
 *               of the sac, plexus_lat beside its anterior part, where its
 *               longitudinal channels lie) and epidural fat (fat-suppressed);
 *               the nerve roots cross the sac and the canal to the foramen
 *   anterior    vertebral body (superellipse, LR semi 8-10, AP semi 7-8.5,
 *               1 mm from the canal) with a 1 mm cortical rim, fat-suppressed
 *               marrow inside; at a disc the body becomes intervertebral disc
 *               (partial volume by the disc weight); longus colli muscles
 *               anterolateral; pharynx/oesophagus air further anterior
 *   lateral     pedicles, lateral masses with the facet joint (a 1.5 mm
 *               fluid line, 60 % fluid, 100 % at a disc), transverse
 *               processes around the vertebral arteries (radius 1.8-2.6 mm,
 *               not at C7); carotid arteries anterolateral
 *   posterior   laminae, spinous process (length by level: C2 long, C3-C5
 *               short, C6-C7 longer), paraspinal muscles (left and right,
 *               fibres oblique: 10-30 deg medio-lateral, 5-20 deg AP, mirrored),
 *               with thin fat septa; lateral neck muscles
 *   outside     subcutaneous fat (4-9 mm, suppressed) inside a neck ellipse
 *               (semi 48-60 LR, 45-58 AP), air beyond
 * The whole anatomy follows the cord's rotation; cord + anatomy are shifted
 * together in the field of view (+-10 mm LR, +-7 mm AP), the cord a little
 * off the canal centre (+-0.8 mm LR, -0.5..1 mm AP).
 *
 * Tissue signal (b=0, relative to CSF = 1; the cord's WM is 0.55, GM 0.65)
 * and diffusion (mm^2/s), each drawn per subject, uniform in the range:
 *   other soft tissue  0.25-0.40 x0.5-0.7 (the old phantom's background tensor)
 *   cortical bone      0.00-0.03  iso 0.3e-3
 *   marrow (fat-sat)   0.08-0.18  iso 0.3-0.6e-3
 *   disc               0.35-0.60  iso 1.2-1.8e-3
 *   facet fluid        0.60-1.00  iso 2.5-3.0e-3
 *   fat (suppressed)   0.03-0.10  iso 0.1-0.3e-3
 *   muscle             0.15-0.27  par 1.9-2.3e-3, perp 0.9-1.3e-3 (FA ~0.3-0.45),
 *                      x(1 +- 0.12) smooth texture
 *   vessels            0.02-0.25  iso 8-12e-3 (flow void; gone at b=600)
 *   epidural veins     0.35-0.70  iso 3-6e-3 (the anterior internal vertebral venous plexus, slow flow:
 *                      bright at b=0, dark at b=600; a layer of 1-2.5 mm in front of the dural sac and
 *                      1.5-3.5 mm beside it, from the front back to 0-0.4 of the sac's AP semi-axis
 *                      behind its centre: its two longitudinal channels lie anterolaterally, and the
 *                      cervical canal holds little fat there; the rest of the canal outside the sac
 *                      is epidural fat)
 *   nerve roots        0.45-0.65  par 1.4-1.8e-3, perp 0.3-0.5e-3 along the root (lateral), FA ~0.6-0.8:
 *                      the segment's ventral and dorsal roots cross the lateral subarachnoid space to
 *                      the foramen (cervical roots run nearly horizontally, the rootlets of one segment
 *                      spread over most of its length): on each side a strand 0.6-1.2 mm wide from the
 *                      cord's anterolateral surface (0.35-0.6 of its anterior extent, 5-25 deg toward
 *                      anterior) and one from its posterolateral surface (0.3-0.55 of its posterior
 *                      extent, 15-35 deg toward anterior), each filling 0.2-0.7 of the slab per slice
 *                      (partial volume with CSF); so the cord is not the only tissue touching the CSF
 * Acquisition effects: a smooth quadratic coil-sensitivity field (+-15 %
 * linear, +-12 % quadratic), an EPI Nyquist ghost (the image shifted by half
 * the FOV along AP, 1-4 %), a smooth AP distortion (0.3-1.2 mm, applied to
 * image and labels alike: labels are drawn on the distorted EPI), rigid
 * in-plane motion between volumes (sd 0.1-0.35 mm), CSF pulsation loss in a
 * fraction 0.1-0.3 of volumes (CSF signal x0.3-0.7 in that volume), and in
 * half the subjects a reduced field of view along AP (28-44 mm around the
 * cord +-4 mm; zero outside, as `cordseg segment` pads a reduced-FOV series
 * such as sct_dmri's 32 mm).
 *
 * Measurements (anatomy_measure): the same procedure on the real series and
 * on the phantom: cord mask = dti_cord_mask of B0*exp(-max(b, 1000) MD) (a
 * DW proxy), per slice its centroid and second moments; GM = normalised radius
 * < 0.4, WM = 0.55..0.9; CSF = within 2.5 mm outside the mask; "muscle" = the
 * paravertebral window 14..32 mm lateral, within +-10 mm AP of the cord;
 * "outside" = > 8 mm from the mask in the window |dx| <= 40, |dy| <= 14 mm
 * (the real series' field of view); all B0 values as medians relative to the
 * cord's median. Documented phantom ranges (tests/test_sim_anatomy.c):
 * CSF/cord 0.7-1.4, muscle/cord 0.2-0.5, outside/cord 0.2-0.5 (the real sct_dmri series:
 * 0.97, 0.34, 0.31; the phantom at SNR 20: 1.10, 0.30, 0.32). Per slice also the ring's 90th
 * percentile / the slice's cord median, over the whole ring and in front of / behind the cord
 * (|dx| < half the cord's semi-axis; real 1.57, 1.11, 1.57), and the eroded cord's B0 in front of its
 * centre / behind it (real 0.96). Rows that are zero in every slice
 * (outside a reduced field of view) are left out of every measure.
 * Calibration (full only, against sct_dmri): the cord stream's CSF b=0 x1.0-1.5 (pure CSF 1.8-2.7 x
 * WM: the real C2 ring peaks at 2.3-2.6 x the cord) and, below C3, x0.55-1.0 more per slice (the thin
 * sac's through-plane partial volume and flow dephasing: the real ring peaks 1.0-2.0 x the cord
 * there), soft tissue x0.5-0.7, WM radial diffusivity x0.45-0.65, noise sigma x1.15-1.5 (the real
 * series' measured SNR 14 vs 19). The mask's proxy uses b >= 1000 so CSF stays out of it at b=600.
 * defines: AnatomySubject, anatomy_subject_draw, anatomy_class, anatomy_canal,
 *          anatomy_sas, anatomy_root_vis, anatomy_root_frac, anatomy_in_ellipse, AT_*, AnatomyStats,
 *          anatomy_measure, anatomy_stats_print */
#ifndef CORDSEG_SIM_ANATOMY_H
#define CORDSEG_SIM_ANATOMY_H
#include <stdint.h>

/* anatomy classes of a fine-grid pixel; AT_BODY and AT_FACET are split by
 * the caller by the disc weight (body -> marrow/disc, facet -> bone/fluid) */
/* (x, y) inside the axis-aligned ellipse of centre (cx, cy) and semi-axes a, b */
static inline int anatomy_in_ellipse(double x, double y, double cx, double cy, double a, double b) {
  double u = (x - cx) / a, v = (y - cy) / b;
  return u * u + v * v <= 1;
}

enum { AT_OTHER, AT_BONE, AT_MARROW, AT_DISC, AT_FLUID, AT_FAT, AT_MUS_L, AT_MUS_R, AT_PLEXUS, AT_ROOT, AT_VESSEL, AT_AIR,
       AT_N,
       AT_BODY = 100, AT_FACET, AT_CANAL };

typedef struct {
  /* geometry (mm) */
  double canal_a, canal_b, body_a, body_b, body_gap, ped_w, mass_x, mass_y, mass_r, facet_ang, va_x, va_y, va_r;
  double lam_t, spin_len, spin_w, neck_a, neck_b, neck_y, subcut, car_x, car_y, car_r, phar_y, phar_a, phar_b;
  double mus_x, mus_y, mus_a, mus_b, septa_k[2], septa_ph[2];
  double cord_dx, cord_dy, fov_dx, fov_dy; /* cord off the canal centre; cord + canal in the FOV */
  /* tissue signal (x gain, CSF = 1) and diffusivities (mm^2/s) */
  double s0[AT_N], dpar[AT_N], dperp[AT_N];
  double mus_dir[3];             /* left muscle fibre direction (x toward left, y posterior, z axis) */
  double tex_k[3][2], tex_ph[3]; /* muscle texture */
  /* acquisition */
  double bias[5], ghost, dist_amp, dist_k, dist_ph, motion_sd, puls_p;
  double csf_scale, other_scale; /* the cord stream's CSF and soft-tissue b=0 signal, scaled (calibration) */
  double wm_perp_scale;          /* the cord stream's WM radial diffusivity, scaled (calibration) */
  /* the dural sac (CSF) per level: subarachnoid thickness (mm) lateral, anterior, posterior of the cord,
   * [0] at C2 (the upper cervical cistern), [1] at C4-T1 (C3 between); epidural margin (mm) */
  double sas_lat[2], sas_ant[2], sas_post[2], epi_min;
  double csf_low[2];  /* below C3 the CSF b=0 signal is further x U(csf_low[0], csf_low[1]) per slice */
  double plexus_mm;   /* the anterior epidural venous plexus: a layer this thick in front of the sac, */
  double plexus_lat;  /* this thick beside it (its longitudinal channels lie anterolaterally), */
  double plexus_back; /* reaching back along the sac's sides to this fraction of its AP semi-axis */
  /* the nerve roots in the lateral subarachnoid space, [0] ventral, [1] dorsal: strand width (mm), where each
   * leaves the cord (fraction of its anterior / posterior extent), its angle toward anterior (rad) as it runs
   * laterally, and the range of the slab it fills (per slice and root, drawn by anatomy_root_vis) */
  double root_w, root_y[2], root_ang[2], root_vis[2];
  double ap_fov, ap_fov_dy; /* a reduced AP field of view (mm, 0 = none) around the cord + offset (mm) */
  double noise_scale; /* the cord stream's noise sigma, scaled (calibration of the measured SNR) */
} AnatomySubject;

/* draws one subject's anatomy and acquisition from its own stream (seed,
 * subject): the cord's stream is untouched, so `--anatomy none` keeps its bytes */
void anatomy_subject_draw(AnatomySubject *s, uint64_t seed, int32_t subject);
/* class at (x, y) mm from the canal centre (x toward left, y posterior), at
 * vertebral level `level` (PAM50: 2 = C2 ... 8 = T1), canal AP scaled by
 * canal_scale */
int anatomy_class(const AnatomySubject *s, double x, double y, int level, double canal_scale);

/* the bony canal's semi-axes (mm) at vertebral level `level` (PAM50 coding): the subject's C3-C7
 * canal_a / canal_b times the level's documented ratio (C1-C2 wider in AP, C5-C6 wider LR) */
void anatomy_canal(const AnatomySubject *s, int level, double *semi_lr, double *semi_ap);
/* per slice: the fraction of the slab each nerve root fills, vis[side * 2 + root] (side 0 left, 1 right; root
 * 0 ventral, 1 dorsal), from the slice's own stream (seed, subject, slice) */
void anatomy_root_vis(const AnatomySubject *s, uint64_t seed, int32_t subject, int32_t slice, double vis[4]);
/* the nerve roots' share of the pixel at (x, y) mm in the cord's frame (x toward left, y posterior, origin at
 * the cord's centroid), the cord's rendered extent el, er, ea, ep (left, right, anterior, posterior, mm) and
 * this slice's vis[4]; 0 off the roots. The caller applies it inside the dural sac, outside the cord. */
double anatomy_root_frac(const AnatomySubject *s, double x, double y, double el, double er, double ea, double ep,
                         const double vis[4]);
/* subarachnoid (CSF) thickness (mm) lateral / anterior / posterior of the cord at `level`, before
 * compression effaces it: s->sas_*[0] at C2 and above, [1] at C4 and below, halfway at C3 */
void anatomy_sas(const AnatomySubject *s, int level, double *lat, double *ant, double *post);

typedef struct {
  int64_t cord_n, slices;
  double cord_b0, csf_cord, muscle_cord, outside_cord; /* B0 medians / cord median */
  double csf_peak_cord, csf_peak_cord_low; /* per slice the ring's 90th percentile / that slice's cord median:
                                            * the median and the 10th percentile over slices */
  double csf_ant_cord, csf_post_cord;      /* the same for the ring in front of / behind the cord (|dx| < half
                                            * its semi-axis), medians over slices */
  double cord_ant_post; /* per slice the B0 median of the eroded cord in front of its centre / behind it (the
                         * posterior coil's falloff), the median over slices */
  double fa_wm, fa_gm, fa_muscle, fa_cord;                         /* FA medians */
  double md_cord;                                                  /* median, mm^2/s */
  double snr;     /* cord B0 median / noise SD, the SD from horizontal neighbour differences outside the canal
                   * (1.4826 MAD / sqrt 2) */
  double hist[9]; /* deciles 10..90 of B0/cord outside the canal */
} AnatomyStats;
/* b0, fa, md [nz][rows][cols] in the store orientation (row 0 anterior,
 * column 0 patient right), pixel sizes in mm; bval for the mean-DW proxy. */
void anatomy_measure(const float *b0, const float *fa, const float *md, int64_t rows, int64_t cols, int64_t nz,
                     double row_mm, double col_mm, double bval, AnatomyStats *out);
/* a real 4-D DWI series (+ FSL bvals/bvecs), fitted as `cordseg import --dwi` does, sliced into the
 * store orientation (io/niftigeom.h) and measured; png (or NULL): b0/FA montage of every 3rd slice */
void anatomy_measure_dwi(const char *dwi, const char *bvals, const char *bvecs, const char *png, AnatomyStats *out);
/* the table: one row per measurement, one column per stats set */
void anatomy_stats_print(int n, const AnatomyStats *st, const char *const *names);
#endif
