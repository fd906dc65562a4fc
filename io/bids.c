/* io/bids.c: `cordseg import --bids DIR` (io/bids.h): find each subject's
 * files, convert each subject in a child process (io/import.c, so that a
 * broken file ends only that child) into a temporary store, then append the
 * good ones to the store in one atomic commit. */
#define _POSIX_C_SOURCE 200809L
#include "io/bids.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "io/atomic.h"
#include "io/h5store.h"
#include "io/subjlist.h"

#define BIDS_HINT_LAYOUT                                                                                            \
  "lay out DIR/sub-X/dwi/ with sub-X_dwi.nii.gz + .bval + .bvec, or sub-X_desc-b0.nii.gz + sub-X_FA.nii.gz, and " \
  "the labels as --labels-pattern says (docs/data.md, 'Importing a BIDS folder')"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* how many files match pattern; the one into out when exactly one does, else problem[] says how many */
static size_t bids_glob(const char *pattern, char *out, char *problem, size_t pn, const char *what) {
  glob_t g;
  memset(&g, 0, sizeof g);
  const size_t n = glob(pattern, 0, NULL, &g) == 0 ? g.gl_pathc : 0;
  if (n == 1) snprintf(out, BIDS_PATH, "%s", g.gl_pathv[0]);
  else snprintf(problem, pn, "%.200s: %zu files match '%.4000s' (want exactly one)", what, n, pattern);
  globfree(&g);
  return n;
}

/* pattern with every {sub} replaced by name */
static void bids_subst(const char *pattern, const char *name, char *out, size_t n) {
  size_t o = 0;
  for (const char *p = pattern; *p && o + 1 < n;) {
    if (!strncmp(p, "{sub}", 5)) o += (size_t)snprintf(out + o, n - o, "%s", name), p += 5;
    else out[o++] = *p++;
  }
  out[o < n ? o : n - 1] = 0;
}

void bids_unit_rel(const BidsSubject *s, char *out, size_t n) {
  snprintf(out, n, "%s%s%s", s->name, s->session[0] ? "/" : "", s->session);
}

void bids_unit_prefix(const BidsSubject *s, char *out, size_t n) {
  snprintf(out, n, "%s%s%s", s->name, s->session[0] ? "_" : "", s->session);
}

/* the subject's (or session's) input files, or problem[] */
static void bids_find(const char *dir, const char *lab_pattern, BidsSubject *s) {
  char pat[BIDS_PATH + 256], why[128], rel[2 * H5STORE_NAME_MAX + 2], pre[2 * H5STORE_NAME_MAX + 2];
  const size_t pn = sizeof s->problem;
  if (!h5store_name_valid(s->name, why, sizeof why)) {
    snprintf(s->problem, pn, "folder name '%s' %s", s->name, why);
    return;
  }
  bids_unit_rel(s, rel, sizeof rel), bids_unit_prefix(s, pre, sizeof pre);
  snprintf(pat, sizeof pat, "%s/%s/dwi", dir, rel);
  struct stat sb;
  if (stat(pat, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    snprintf(s->problem, pn, "no folder %.4000s%s", pat,
             lab_pattern ? " (import reads no sessions, sub-X/ses-Y/)" : "");
    return;
  }
  snprintf(pat, sizeof pat, "%s/%s/dwi/%s*_dwi.nii*", dir, rel, pre);
  const size_t ndwi = bids_glob(pat, s->dwi, s->problem, pn, "DWI series");
  if (ndwi > 1) return; /* two series: which one is meant is not for import to guess */
  s->problem[0] = 0;
  if (ndwi == 1) {
    char stem[BIDS_PATH];
    snprintf(stem, sizeof stem, "%s", s->dwi);
    char *e = strstr(stem, ".nii");
    if (e) *e = 0;
    snprintf(s->bval, BIDS_PATH, "%.4000s.bval", stem), snprintf(s->bvec, BIDS_PATH, "%.4000s.bvec", stem);
    if (stat(s->bval, &sb) != 0 || stat(s->bvec, &sb) != 0) {
      snprintf(s->problem, pn, "DWI %.2000s without its %.3000s and .bvec", s->dwi, s->bval);
      return;
    }
  } else {
    s->dwi[0] = 0; /* the maps: B0 and FA, or one of them (a B0-only or FA-only subject) */
    char fa_why[sizeof s->problem];
    snprintf(pat, sizeof pat, "%s/%s/dwi/%s*_desc-b0.nii*", dir, rel, pre);
    const size_t nb = bids_glob(pat, s->b0, s->problem, pn, "B0 map");
    if (nb > 1) return;
    snprintf(pat, sizeof pat, "%s/%s/dwi/%s*_FA.nii*", dir, rel, pre);
    const size_t nf = bids_glob(pat, s->fa, fa_why, sizeof fa_why, "FA map");
    if (nf > 1) {
      snprintf(s->problem, pn, "%s", fa_why);
      return;
    }
    if (nb == 0 && nf == 0) {
      snprintf(s->problem, pn, "no DWI series (%s_dwi.nii.gz), B0 map (%s_desc-b0.nii.gz) or FA map (%s_FA.nii.gz) in "
               "%.3000s/%s/dwi", pre, pre, pre, dir, rel);
      return;
    }
    s->problem[0] = 0;
  }
  if (!lab_pattern) return; /* inputs only (segment --bids) */
  char lrel[BIDS_PATH];
  bids_subst(lab_pattern, s->name, lrel, sizeof lrel);
  snprintf(pat, sizeof pat, "%s/%s", dir, lrel);
  if (bids_glob(pat, s->labels, s->problem, pn, "labels") == 1) s->problem[0] = 0;
}

/* the subject folders DIR/sub-* (sorted) */
static int bids_list(const char *dir, BidsSubject **out) {
  DIR *d = opendir(dir);
  if (!d) cs_fatal("give the BIDS folder (holding sub-X/ folders)", "--bids '%s': %s", dir, strerror(errno));
  char **names = NULL;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (strncmp(e->d_name, "sub-", 4)) continue;
    char p[BIDS_PATH + 256];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) continue;
    char **nn = realloc(names, sizeof(char *) * (size_t)(n + 1));
    CS_CHECK(nn, NULL, "out of memory listing '%s'", dir);
    names = nn;
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  CS_CHECK(n > 0, BIDS_HINT_LAYOUT, "--bids '%s': no sub-* folders", dir);
  qsort(names, (size_t)n, sizeof(char *), cmp_str);
  BidsSubject *s = callocCheck((size_t)n, sizeof(BidsSubject));
  for (int i = 0; i < n; i++) {
    snprintf(s[i].name, sizeof s[i].name, "%.63s", names[i]);
    if (strlen(names[i]) >= H5STORE_NAME_MAX) snprintf(s[i].name, sizeof s[i].name, "%s", "(name too long)");
    free(names[i]);
  }
  free(names);
  *out = s;
  return n;
}

int bids_subjects(const char *dir, const char *labels_pattern, BidsSubject **out) {
  const int n = bids_list(dir, out);
  for (int i = 0; i < n; i++) bids_find(dir, labels_pattern, &(*out)[i]);
  return n;
}

static int cmp_name(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

/* the ses-* folders of dir/sub (sorted) into names[] (at most cap); their number */
static int bids_sessions(const char *dir, const char *sub, char (*names)[H5STORE_NAME_MAX], int cap) {
  char p[BIDS_PATH + 256];
  snprintf(p, sizeof p, "%s/%s", dir, sub);
  DIR *d = opendir(p);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d)) && n < cap;) {
    struct stat sb;
    char q[2 * BIDS_PATH];
    snprintf(q, sizeof q, "%s/%s", p, e->d_name);
    if (strncmp(e->d_name, "ses-", 4) || strlen(e->d_name) >= H5STORE_NAME_MAX || stat(q, &sb) != 0 ||
        !S_ISDIR(sb.st_mode))
      continue;
    snprintf(names[n++], H5STORE_NAME_MAX, "%s", e->d_name);
  }
  if (d) closedir(d);
  qsort(names, (size_t)n, sizeof *names, cmp_name);
  return n;
}

int bids_units(const char *dir, BidsSubject **out) {
  BidsSubject *s;
  const int n = bids_list(dir, &s);
  enum { SES_MAX = 256 };
  char (*ses)[H5STORE_NAME_MAX] = callocCheck(SES_MAX, H5STORE_NAME_MAX);
  int nu = 0, cap = n;
  BidsSubject *u = callocCheck((size_t)cap, sizeof *u);
  for (int i = 0; i < n; i++) {
    const int k = bids_sessions(dir, s[i].name, ses, SES_MAX);
    for (int j = 0; j < (k ? k : 1); j++) {
      if (nu == cap) {
        BidsSubject *g = realloc(u, sizeof *u * (size_t)(cap *= 2));
        CS_CHECK(g, NULL, "out of memory listing '%s'", dir);
        u = g;
      }
      memset(&u[nu], 0, sizeof *u);
      snprintf(u[nu].name, sizeof u[nu].name, "%s", s[i].name);
      if (k) snprintf(u[nu].session, sizeof u[nu].session, "%s", ses[j]);
      bids_find(dir, NULL, &u[nu++]);
    }
  }
  free(ses), free(s);
  *out = u;
  return nu;
}

/* converts one subject into its temporary store in a child process; 1 when it succeeded */
static int bids_convert(const BidsSpec *sp, BidsSubject *s) {
  ImportSpec is = sp->base;
  is.name = s->name, is.site = NULL, is.replace = 0, is.store = s->tmp, is.nifti_out = NULL, is.labels = s->labels;
  is.b0 = s->dwi[0] || !s->b0[0] ? NULL : s->b0, is.fa = s->dwi[0] || !s->fa[0] ? NULL : s->fa;
  is.levels = s->levels[0] ? s->levels : NULL;
  is.dwi = s->dwi[0] ? s->dwi : NULL, is.bvals = s->dwi[0] ? s->bval : NULL, is.bvecs = s->dwi[0] ? s->bvec : NULL;
  fflush(stdout), fflush(stderr);
  pid_t pid = fork();
  CS_CHECK(pid >= 0, "check the process limit (ulimit -u)", "import --bids: fork failed: %s", strerror(errno));
  if (pid == 0) {
    import_subject(&is);
    exit(0);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* one row per subject: name, input, slices, what happened */
static void bids_summary(const BidsSubject *s, int n, FILE *out) {
  fprintf(out, "\n%-20s %-12s %-6s %7s  %s\n", "subject", "site", "input", "slices", "status");
  for (int i = 0; i < n; i++)
    fprintf(out, "%-20s %-12s %-6s %7d  %s\n", s[i].name, s[i].site[0] ? s[i].site : "-",
            s[i].dwi[0] ? "dwi" : s[i].b0[0] && s[i].fa[0] ? "maps" : s[i].b0[0] ? "b0" : s[i].fa[0] ? "fa" : "-",
            s[i].slices,
            s[i].ok ? "imported" : s[i].problem[0] ? s[i].problem : "skipped: conversion failed (message above)");
}

/* before anything is converted: no subject already in the store, every one fits it (MD/AD/RD, size) */
static void bids_check_store(const BidsSpec *sp, const BidsSubject *s, int n) {
  struct stat sb;
  if (stat(sp->base.store, &sb) != 0) return;
  H5Store r;
  h5store_open(&r, sp->base.store);
  for (int i = 0; i < n; i++) {
    int32_t id, ns;
    if (h5store_subject_find(&r, s[i].name, &id, &ns))
      cs_fatal("leave the subject out of the folder, or replace it alone with `cordseg import --subject NAME --replace`",
               "subject '%s' (of %s) is already in store '%s' (%d slices): nothing written", s[i].name,
               sp->list ? sp->list : sp->dir, sp->base.store, ns);
    if (!s[i].problem[0] && !s[i].dwi[0] && ((r.has_b0 && !s[i].b0[0]) || (r.has_fa && !s[i].fa[0])))
      cs_fatal("import the subject's other map too, or import it into a store of the maps it has",
               "store '%s' holds %s maps; subject '%s' has %s only: nothing written", sp->base.store,
               h5store_maps_name(r.has_b0, r.has_fa), s[i].name, h5store_maps_name(s[i].b0[0] != 0, s[i].fa[0] != 0));
    if (r.has_dti && !s[i].problem[0] && !s[i].dwi[0])
      cs_fatal("import B0/FA maps into a store without MD/AD/RD (a new store), or give the subject's DWI series",
               "store '%s' has md/ad/rd; subject '%s' has B0/FA maps only: nothing written", sp->base.store, s[i].name);
  }
  CS_CHECK(r.h == sp->base.size, "use the store's --size, or write to a new store",
           "store '%s' has %dx%d slices, --size is %d: nothing written", sp->base.store, r.h, r.w, sp->base.size);
  h5store_close(&r);
}

/* the converted subjects appended to the store, one commit (checked to fit by bids_check_store) */
static void bids_commit(const BidsSpec *sp, BidsSubject *s, int n, const char *tmpdir) {
  const char *store = sp->base.store;
  struct stat sb;
  int all_dti = 1, all_b0 = 1, all_fa = 1, any = 0;
  for (int i = 0; i < n; i++)
    if (s[i].ok) {
      all_dti &= s[i].dwi[0] != 0, any = 1;
      all_b0 &= s[i].dwi[0] || s[i].b0[0], all_fa &= s[i].dwi[0] || s[i].fa[0];
    }
  if (!any) return;
  if (!all_b0 && !all_fa) { /* a new store keeps the maps every subject has: here none */
    atomic_dir_end(tmpdir);
    cs_fatal("import the B0-only and the FA-only subjects into two stores",
             "import %s: some subjects have a B0 map only and others an FA map only: no map is common to all, nothing "
             "written to '%s'", sp->list ? sp->list : sp->dir, store);
  }
  H5Store st;
  if (stat(store, &sb) == 0) h5store_open_append(&st, store, sp->base.created_by);
  else h5store_create_maps(&st, store, sp->base.size, sp->base.size, all_b0, all_fa, all_dti, sp->base.created_by);
  int32_t id = h5store_subject_next_id(&st);
  for (int i = 0; i < n; i++) {
    if (!s[i].ok) continue;
    H5Store t;
    h5store_open(&t, s[i].tmp);
    h5store_append_store(&st, &t, -1, id);
    h5store_subject_set_site(&st, id, s[i].site);
    h5store_subject_set_name(&st, id++, s[i].name);
    h5store_close(&t);
  }
  if (sp->fail_before_commit) cs_fatal("a test hook (--test-fail-before commit)", "import --bids: stopping before the commit, as asked");
  h5store_commit(&st);
}

/* a subject that could not be found or converted: listed, or the end of the import */
static void bids_bad(const BidsSpec *sp, BidsSubject *s, int i, int n, const char *tmpdir, FILE *out) {
  fprintf(out, "import [%d/%d] %s: %s\n", i + 1, n, s[i].name, s[i].problem[0] ? s[i].problem : "failed (message above)");
  fflush(out);
  if (sp->skip_bad) return;
  if (tmpdir) atomic_dir_end(tmpdir);
  cs_fatal("fix the subject's files, or pass --skip-bad to import the others and list the bad ones",
           "import %s '%s': subject '%s' is broken (%s): nothing written to '%s'", sp->list ? "--list" : "--bids",
           sp->list ? sp->list : sp->dir, s[i].name,
           s[i].problem[0] ? s[i].problem : "its conversion failed; the message above names the file", sp->base.store);
}

/* each subject's optional level image: none when no file matches the pattern, a problem when several do */
static void bids_levels(const BidsSpec *sp, BidsSubject *s, int n) {
  const char *pat = sp->levels_pattern ? sp->levels_pattern : BIDS_LEVELS_DEFAULT;
  CS_CHECK(strstr(pat, "{sub}"), "write the pattern with {sub} where the subject folder's name goes",
           "--levels-pattern '%s' has no {sub}", pat);
  for (int i = 0; i < n; i++) {
    if (s[i].problem[0]) continue;
    char rel[BIDS_PATH], full[BIDS_PATH + 256], why[sizeof s[i].problem];
    bids_subst(pat, s[i].name, rel, sizeof rel);
    snprintf(full, sizeof full, "%s/%s", sp->dir, rel);
    if (bids_glob(full, s[i].levels, why, sizeof why, "level image") > 1) snprintf(s[i].problem, sizeof why, "%s", why);
  }
}

int bids_import(const BidsSpec *sp, FILE *out) {
  const char *lab = sp->labels_pattern ? sp->labels_pattern : BIDS_LABELS_DEFAULT;
  CS_CHECK(strstr(lab, "{sub}"), "write the pattern with {sub} where the subject folder's name goes",
           "--labels-pattern '%s' has no {sub}", lab);
  BidsSubject *s;
  int n; /* every subject's files found before any is read */
  if (sp->list) n = subjlist_read(sp->list, sp->site_column, &s);
  else {
    n = bids_subjects(sp->dir, lab, &s), subjlist_sites(sp->dir, sp->site_column, s, n);
    bids_levels(sp, s, n);
  }
  for (int i = 0; i < n; i++)
    if (s[i].problem[0] && !sp->skip_bad) bids_bad(sp, s, i, n, NULL, out);
  bids_check_store(sp, s, n);
  char tmpdir[BIDS_PATH], sdir[BIDS_PATH];
  snprintf(sdir, sizeof sdir, "%s", sp->base.store);
  atomic_remove_stale(dirname(sdir));                         /* scratch folders and temp stores of killed imports */
  atomic_dir_begin(sp->base.store, "import", tmpdir, sizeof tmpdir); /* removed at exit, a failed commit included */
  int bad = 0;
  for (int i = 0; i < n; i++) {
    snprintf(s[i].tmp, sizeof s[i].tmp, "%s/%d.h5", tmpdir, i);
    if (!s[i].problem[0]) s[i].ok = bids_convert(sp, &s[i]);
    if (!s[i].ok) {
      bad++;
      bids_bad(sp, s, i, n, tmpdir, out);
      continue;
    }
    H5Store t;
    h5store_open(&t, s[i].tmp);
    s[i].slices = t.n;
    h5store_close(&t);
    fprintf(out, "import [%d/%d] %s: %s, %d slices%s\n", i + 1, n, s[i].name, s[i].dwi[0] ? "DWI fitted" : "B0/FA maps",
            s[i].slices, s[i].levels[0] ? ", levels from its level image" : "");
    fflush(out);
  }
  bids_commit(sp, s, n, tmpdir);
  atomic_dir_end(tmpdir);
  bids_summary(s, n, out);
  fprintf(out, "\n%d of %d subjects imported into %s", n - bad, n, sp->base.store);
  if (bad) {
    fprintf(out, "; %d skipped as bad (--skip-bad):", bad);
    for (int i = 0; i < n; i++)
      if (!s[i].ok) fprintf(out, " %s", s[i].name);
  }
  fprintf(out, "\n");
  free(s);
  return n - bad;
}
