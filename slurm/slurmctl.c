/* slurm/slurmctl.c: Slurm notations, the sinfo resource check, template
 * rendering and the sbatch/squeue/sacct calls. See slurm/slurmctl.h. */
#define _POSIX_C_SOURCE 200809L
#include "slurm/slurmctl.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "io/textio.h"
#include "io/path.h"

void slurm_resources_default(SlurmResources *r) {
  memset(r, 0, sizeof *r);
  r->time_s = 24 * 3600;
  r->nodes = 1;
  r->ntasks_per_node = 1;
  r->gpus_per_node = 1;
  r->cpus_per_task = 8;
  r->throttle = 8;
  r->max_requeues = 3;
  r->signal_lead_s = 300;
  snprintf(r->launcher, sizeof r->launcher, "srun");
  snprintf(r->mpi, sizeof r->mpi, "pmix");
  r->report_time_s = 3600;
  r->report_cpus = 2;
  r->report_mem_mb = 8192;
}

/* ------------------------------------------------------------ notations -- */

static int parse_uints(const char *s, char sep, long long *v, int maxn) {
  int n = 0;
  for (;;) {
    if (!isdigit((unsigned char)*s) || n == maxn) return -1;
    char *end;
    v[n++] = strtoll(s, &end, 10);
    if (!*end) return n;
    if (*end != sep) return -1;
    s = end + 1;
  }
}

int64_t slurm_parse_time(const char *s) {
  if (!strcasecmp(s, "infinite") || !strcasecmp(s, "unlimited")) return INT64_MAX;
  long long days = 0, v[3];
  const char *dash = strchr(s, '-');
  if (dash) {
    long long d[1];
    char head[32];
    size_t n = (size_t)(dash - s);
    if (n == 0 || n >= sizeof head) return -1;
    memcpy(head, s, n), head[n] = 0;
    if (parse_uints(head, ':', d, 1) != 1) return -1;
    days = d[0];
    int m = parse_uints(dash + 1, ':', v, 3); /* D-H, D-H:M, D-H:M:S */
    if (m < 1) return -1;
    long long h = v[0], mi = m > 1 ? v[1] : 0, se = m > 2 ? v[2] : 0;
    return ((days * 24 + h) * 60 + mi) * 60 + se;
  }
  int m = parse_uints(s, ':', v, 3); /* M, M:S, H:M:S */
  if (m == 1) return v[0] * 60;
  if (m == 2) return v[0] * 60 + v[1];
  if (m == 3) return (v[0] * 60 + v[1]) * 60 + v[2];
  return -1;
}

void slurm_format_time(int64_t s, char *buf, size_t n) {
  if (s == INT64_MAX) {
    snprintf(buf, n, "infinite");
    return;
  }
  long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, se = s % 60;
  if (d) snprintf(buf, n, "%lld-%02lld:%02lld:%02lld", d, h, m, se);
  else snprintf(buf, n, "%02lld:%02lld:%02lld", h, m, se);
}

int64_t slurm_parse_mem(const char *s) {
  char *end;
  errno = 0;
  if (!isdigit((unsigned char)*s)) return -1;
  double v = strtod(s, &end);
  if (errno || end == s) return -1;
  double mul = 1;
  switch (toupper((unsigned char)*end)) {
    case 'K': mul = 1.0 / 1024, end++; break;
    case 'M': end++; break;
    case 'G': mul = 1024, end++; break;
    case 'T': mul = 1024.0 * 1024, end++; break;
    default: break;
  }
  if (*end == 'B' || *end == 'b') end++;
  if (*end == '+') end++;
  if (*end) return -1;
  return (int64_t)(v * mul + 0.5);
}

int32_t slurm_gres_gpus(const char *gres) {
  int32_t total = 0;
  const char *p = gres;
  while (*p) {
    /* one comma-separated item; commas inside (...) belong to the item */
    const char *q = p;
    int depth = 0;
    while (*q && (depth || *q != ',')) {
      if (*q == '(') depth++;
      if (*q == ')' && depth) depth--;
      q++;
    }
    if (!strncmp(p, "gpu", 3) && (p[3] == ':' || p[3] == ',' || p[3] == '(' || p + 3 == q)) {
      /* the count is the last ':'-field before any '(' */
      const char *end = p;
      while (end < q && *end != '(') end++;
      const char *colon = NULL;
      for (const char *c = p; c < end; c++)
        if (*c == ':') colon = c;
      if (colon && isdigit((unsigned char)colon[1])) total += (int32_t)strtol(colon + 1, NULL, 10);
      else if (!colon) total += 1; /* bare "gpu" = one */
    }
    p = *q ? q + 1 : q;
  }
  return total;
}

/* ---------------------------------------------------------- the check -- */

typedef struct {
  char node[128], part[64], avail[16], state[32];
  int64_t time_s, mem_mb;
  int32_t cpus, gpus;
  int is_default;
} SinfoRow;

/* one line "node|part|avail|timelimit|cpus|mem|gres|state"; 0 when malformed */
static int sinfo_row(char *line, SinfoRow *r) {
  char *f[8];
  int n = 0;
  for (char *tok = line; n < 8; n++) {
    f[n] = tok;
    char *bar = strchr(tok, '|');
    if (!bar) {
      n++;
      break;
    }
    *bar = 0;
    tok = bar + 1;
  }
  if (n != 8) return 0;
  memset(r, 0, sizeof *r);
  snprintf(r->node, sizeof r->node, "%s", f[0]);
  size_t pl = strlen(f[1]);
  r->is_default = pl && f[1][pl - 1] == '*';
  if (r->is_default) f[1][pl - 1] = 0;
  snprintf(r->part, sizeof r->part, "%s", f[1]);
  snprintf(r->avail, sizeof r->avail, "%s", f[2]);
  r->time_s = slurm_parse_time(f[3]);
  r->cpus = (int32_t)strtol(f[4], NULL, 10);
  r->mem_mb = slurm_parse_mem(f[5]);
  r->gpus = slurm_gres_gpus(f[6]);
  snprintf(r->state, sizeof r->state, "%s", f[7]);
  return 1;
}

static int row_fits(const SinfoRow *n, int32_t cpus, int64_t mem_mb, int32_t gpus) {
  return n->cpus >= cpus && (mem_mb <= 0 || n->mem_mb >= mem_mb) && n->gpus >= gpus;
}

int slurm_check_resources(SlurmResources *r, const char *sinfo_text, char *why, size_t nwhy, char *summary,
                          size_t nsummary) {
  char *text = textio_strdup(sinfo_text ? sinfo_text : "");
  char parts[1024] = "";
  SinfoRow best = {0}, row;
  int nodes = 0, fits = 0, fits_report = 0, usable = 0, any = 0;
  int64_t part_time = -1;
  char def[64] = "";
  for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (!sinfo_row(line, &row)) continue;
    any = 1;
    if (row.is_default) snprintf(def, sizeof def, "%s", row.part);
    char key[80];
    snprintf(key, sizeof key, " %s,", row.part);
    if (!strstr(parts, key)) {
      size_t l = strlen(parts);
      snprintf(parts + l, sizeof parts - l, "%s", key);
    }
    if (!r->partition[0] && !row.is_default) continue;
    if (r->partition[0] && strcmp(r->partition, row.part)) continue;
    if (!r->partition[0]) snprintf(r->partition, sizeof r->partition, "%s", row.part);
    nodes++;
    part_time = row.time_s;
    int32_t want_cpus = r->ntasks_per_node * r->cpus_per_task;
    if (row_fits(&row, want_cpus, r->mem_mb, r->gpus_per_node)) fits++;
    if (row_fits(&row, r->report_cpus, r->report_mem_mb, 0)) fits_report++;
    if (!strstr(row.state, "down") && !strstr(row.state, "drain") && !strstr(row.state, "fail")) usable++;
    if (row.cpus > best.cpus) best.cpus = row.cpus;
    if (row.mem_mb > best.mem_mb) best.mem_mb = row.mem_mb;
    if (row.gpus > best.gpus) best.gpus = row.gpus;
  }
  free(text);
  size_t pl = strlen(parts);
  if (pl) parts[pl - 1] = 0; /* " a, b," -> " a, b" */
  if (!any) return snprintf(why, nwhy, "sinfo listed no nodes: is this a Slurm login node?"), 1;
  if (!nodes) {
    if (!r->partition[0]) return snprintf(why, nwhy, "the cluster has no default partition: set [slurm] partition = one of:%s", parts), 1;
    return snprintf(why, nwhy, "partition '%s' does not exist; the cluster has:%s", r->partition, parts), 1;
  }
  char t1[32], t2[32];
  if (part_time >= 0 && r->time_s > part_time) {
    slurm_format_time(r->time_s, t1, sizeof t1), slurm_format_time(part_time, t2, sizeof t2);
    return snprintf(why, nwhy, "time %s is above partition '%s''s limit %s: lower [slurm] time (tasks requeue themselves)",
                    t1, r->partition, t2), 1;
  }
  if (part_time >= 0 && r->report_time_s > part_time) {
    slurm_format_time(r->report_time_s, t1, sizeof t1), slurm_format_time(part_time, t2, sizeof t2);
    return snprintf(why, nwhy, "report_time %s is above partition '%s''s limit %s", t1, r->partition, t2), 1;
  }
  if (fits < r->nodes) {
    int32_t want_cpus = r->ntasks_per_node * r->cpus_per_task;
    if (want_cpus > best.cpus)
      return snprintf(why, nwhy,
                      "a task needs %d CPUs per node (ntasks_per_node %d x cpus_per_task %d) but partition '%s''s "
                      "largest node has %d: lower cpus_per_task or ntasks_per_node",
                      want_cpus, r->ntasks_per_node, r->cpus_per_task, r->partition, best.cpus), 1;
    if (r->gpus_per_node > best.gpus)
      return snprintf(why, nwhy, "a task needs %d GPUs per node but partition '%s''s nodes have at most %d%s",
                      r->gpus_per_node, r->partition, best.gpus,
                      best.gpus ? ": lower gpus_per_node" : ": set gpus_per_node = 0 or pick a GPU partition"), 1;
    if (r->mem_mb > best.mem_mb)
      return snprintf(why, nwhy, "a task needs %lld MB per node but partition '%s''s largest node has %lld MB: lower mem",
                      (long long)r->mem_mb, r->partition, (long long)best.mem_mb), 1;
    return snprintf(why, nwhy, "a task needs %d nodes with %d CPUs, %d GPUs, %lld MB each; partition '%s' has %d such "
                    "nodes (of %d): lower nodes",
                    r->nodes, r->ntasks_per_node * r->cpus_per_task, r->gpus_per_node, (long long)r->mem_mb,
                    r->partition, fits, nodes), 1;
  }
  if (!fits_report)
    return snprintf(why, nwhy, "the report job (report_cpus %d, report_mem %lld MB) fits no node of partition '%s'",
                    r->report_cpus, (long long)r->report_mem_mb, r->partition), 1;
  slurm_format_time(part_time, t2, sizeof t2);
  snprintf(summary, nsummary, "partition '%s'%s: %d nodes (%d usable now), %d fit a task (largest: %d CPUs, %d GPUs, "
           "%lld MB), time limit %s",
           r->partition, r->partition[0] && !strcmp(r->partition, def) ? " (default)" : "", nodes, usable, fits,
           best.cpus, best.gpus, (long long)best.mem_mb, t2);
  return 0;
}

/* ----------------------------------------------------------- templates -- */

char *slurm_render(const char *template_path, const char *const *vars) {
  FILE *in = fopen(template_path, "r");
  if (!in)
    cs_fatal("the templates live in slurm/ of the source tree; set [slurm] template = PATH for your own",
             "cannot open sbatch template '%s': %s", template_path, strerror(errno));
  TextBuf tb;
  FILE *out = textbuf_open(&tb);
  char line[8192];
  int lineno = 0;
  while (fgets(line, sizeof line, in)) {
    lineno++;
    for (const char *p = line; *p; p++) {
      if (*p != '@') {
        fputc(*p, out);
        continue;
      }
      const char *q = p + 1;
      while (isupper((unsigned char)*q) || isdigit((unsigned char)*q) || *q == '_') q++;
      if (*q != '@' || q == p + 1) {
        fputc('@', out);
        continue;
      }
      size_t n = (size_t)(q - p - 1);
      const char *val = NULL;
      for (int i = 0; vars[i]; i += 2)
        if (strlen(vars[i]) == n && !strncmp(vars[i], p + 1, n)) val = vars[i + 1];
      if (!val)
        cs_fatal("template placeholders are the names `cordseg sweep --help` lists",
                 "sbatch template '%s' line %d: unknown placeholder @%.*s@", template_path, lineno, (int)n, p + 1);
      fputs(val, out);
      p = q;
    }
  }
  fclose(in);
  return textbuf_take(&tb);
}

void slurm_write_script(const char *path, const char *text) {
  textio_write(path, text);
  if (chmod(path, 0755) != 0)
    cs_fatal("check the permissions of the sweep directory", "cannot make '%s' executable: %s", path, strerror(errno));
}

/* ------------------------------------------------------------ commands -- */

int slurm_have(const char *tool) {
  const char *path = getenv("PATH");
  if (!path) return 0;
  char *dup = textio_strdup(path), *save = NULL;
  int found = 0;
  for (char *d = strtok_r(dup, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
    char f[PATH_CAP];
    path_fmt(f, sizeof f, "%s/%s", *d ? d : ".", tool);
    found = access(f, X_OK) == 0;
  }
  free(dup);
  return found;
}

char *slurm_capture(const char *cmd, int *status) {
  fflush(NULL);
  FILE *p = popen(cmd, "r");
  if (!p) return *status = -1, textio_strdup("");
  size_t cap = 4096, n = 0;
  char *buf = mallocCheck(cap);
  size_t got;
  while ((got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
    n += got;
    if (cap - n < 1024) {
      buf = realloc(buf, cap *= 2);
      CS_CHECK(buf, NULL, "out of memory reading the output of '%s'", cmd);
    }
  }
  buf[n] = 0;
  int st = pclose(p);
  *status = st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  return buf;
}

void slurm_quote(const char *s, char *out, size_t n) {
  size_t j = 0;
  CS_CHECK(n > 2, NULL, "internal: quote buffer too small");
  out[j++] = '\'';
  for (; *s; s++) {
    const char *piece = *s == '\'' ? "'\\''" : NULL;
    size_t len = piece ? 4 : 1;
    CS_CHECK(j + len + 2 < n, "use shorter paths", "shell word too long: %.60s...", s);
    if (piece) memcpy(out + j, piece, 4);
    else out[j] = *s;
    j += len;
  }
  out[j++] = '\'';
  out[j] = 0;
}

int64_t slurm_sbatch(const char *args) {
  if (!slurm_have("sbatch"))
    cs_fatal("run on a Slurm login node (or one with slurm-client installed and slurm.conf set up)",
             "sbatch is not on PATH");
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "sbatch --parsable %s", args);
  int st;
  char *out = slurm_capture(cmd, &st);
  char *end = NULL;
  long long id = strtoll(out, &end, 10);
  if (st != 0 || end == out || id <= 0)
    cs_fatal("sbatch's own message is above; fix the [slurm] section of the sweep file",
             "sbatch failed (exit %d): %s\n  command: %s", st, out, cmd);
  free(out);
  return id;
}

int slurm_state_active(const char *state) {
  static const char *ACTIVE[] = {"PENDING", "RUNNING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "CONFIGURING",
                                 "COMPLETING", "SUSPENDED", "RESIZING", "SIGNALING", "STAGE_OUT", "RESV_DEL_HOLD"};
  for (size_t i = 0; i < sizeof ACTIVE / sizeof ACTIVE[0]; i++)
    if (!strcmp(state, ACTIVE[i])) return 1;
  return 0;
}

int slurm_parse_queue(const char *text, int64_t job, int sacct, SlurmTaskState *st, int32_t ntasks) {
  char *dup = textio_strdup(text), *save = NULL;
  int found = 0;
  for (char *line = strtok_r(dup, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *end;
    long long j = strtoll(line, &end, 10);
    if (j != job || *end != '_' || !isdigit((unsigned char)end[1])) continue; /* steps, "123_[1-3]" summaries */
    long long t = strtoll(end + 1, &end, 10);
    if (*end != '|' || t < 0 || t >= ntasks) continue;
    char *state = end + 1, *bar = strchr(state, '|');
    if (bar) *bar = 0;
    char *space = strchr(state, ' '); /* sacct: "CANCELLED by 0" */
    if (space) *space = 0;
    SlurmTaskState *s = &st[t];
    if (!s->state[0]) found++;
    snprintf(s->state, sizeof s->state, "%s", state);
    snprintf(s->source, sizeof s->source, "%s", sacct ? "sacct" : "squeue");
    if (sacct && bar) {
      char *ec = bar + 1, *bar2 = strchr(ec, '|');
      if (bar2) *bar2 = 0;
      snprintf(s->exit_code, sizeof s->exit_code, "%s", ec);
    }
  }
  free(dup);
  return found;
}

int slurm_queue_states(int64_t job, SlurmTaskState *st, int32_t ntasks) {
  char cmd[256];
  int rc, found = 0;
  if (slurm_have("squeue")) {
    snprintf(cmd, sizeof cmd, "squeue -h -r -t all -j %lld -o '%%i|%%T' 2>/dev/null", (long long)job);
    char *out = slurm_capture(cmd, &rc);
    if (rc == 0) found += slurm_parse_queue(out, job, 0, st, ntasks);
    free(out);
  }
  if (found < ntasks && slurm_have("sacct")) {
    /* tasks squeue has forgotten (MinJobAge): ask the accounting database */
    SlurmTaskState *acc = callocCheck((size_t)ntasks, sizeof *acc);
    snprintf(cmd, sizeof cmd, "sacct -n -P -X -j %lld -o JobID,State,ExitCode 2>/dev/null", (long long)job);
    char *out = slurm_capture(cmd, &rc);
    if (rc == 0) slurm_parse_queue(out, job, 1, acc, ntasks);
    free(out);
    for (int32_t t = 0; t < ntasks; t++)
      if (!st[t].state[0] && acc[t].state[0]) st[t] = acc[t], found++;
    free(acc);
  }
  return found;
}

void slurm_job_state(int64_t job, char *state, size_t n) {
  static const char *CMDS[][2] = {{"squeue", "squeue -h -t all -j %lld -o '%%T' 2>/dev/null"},
                                  {"sacct", "sacct -n -P -X -j %lld -o State 2>/dev/null"}};
  state[0] = 0;
  for (int i = 0; i < 2 && !state[0]; i++) {
    if (!slurm_have(CMDS[i][0])) continue;
    char cmd[256];
    int rc;
    snprintf(cmd, sizeof cmd, CMDS[i][1], (long long)job);
    char *out = slurm_capture(cmd, &rc);
    if (rc == 0) {
      out[strcspn(out, " \n")] = 0; /* first word of the first line */
      snprintf(state, n, "%s", out);
    }
    free(out);
  }
}

int slurm_queue_reachable(void) {
  if (!slurm_have("squeue")) return 0;
  int rc;
  free(slurm_capture("squeue -h --me -o %i >/dev/null 2>&1", &rc));
  return rc == 0;
}
