/* sweep.c - runs an experiment config row by row and keeps its results files (sweep.h).
 *
 * Invariant: runs.csv on disk always holds exactly the rows finished so far, each complete,
 * in canonical order. After every row the whole table is rewritten to a temp file and
 * renamed over the old one (dode_write_atomic), so an interruption at any instant leaves
 * the previous or the next complete table, and a rerun resumes by skipping the rows it
 * finds. The rewrite costs O(rows) per row; sweeps have hundreds of rows, not millions.
 *
 * Rows are independent: with opts->jobs > 1 they run on threads, each with its own model
 * and schedule objects (a "view" of the sweep), and are committed under one lock in any
 * order; the tables list them in canonical order, so the bytes do not depend on the
 * order. With opts->shard_n = N only rows i with i mod N = K - 1 run (into
 * shard-K-of-N/), and dode_sweep_merge loads the shards' tables as a resume would.
 *
 * Each row mirrors `diffode sample --seed S --n N`: x_T ~ N(0, I) from mt19937 seeded with
 * S (ziggurat), xbar_T = x_T sqrt(1 + sigma_T^2); the same generator then feeds any
 * stochastic step. The reference is the model's exact flow or one gsl:rk8pd solve at
 * ref_rtol / ref_atol in log sigma (in sigma when the grid ends at 0), cached on disk. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "diffode/diffode.h"
#include "cli.h"
#include "metrics.h"
#include "sweep.h"

#define PATH_LEN 1024
#define LINE_LEN 1024
#define CSV_FIELDS 20
#define KEY_FIELDS 7
#define TRUE_SEED 0x7275650aUL      /* the true-sample set's own stream, apart from seeds */

static const char csv_header[] =
    "model,schedule,spacing,solver,options,nfe,seed,n,steps,nfe_used,sigma_start,sigma_end,"
    "status,rmse,max_err,nll,fd,sw2,reference,diff_baseline";
static const char timing_header[] = "model,schedule,spacing,solver,options,nfe,seed,seconds";
static const char traj_header[] =
    "model,schedule,spacing,solver,options,nfe,seed,point,sigma,rmse,diff_baseline";

/* The three tables: runs.csv (one line per row), timings.csv (one, replaced on rerun) and
 * trajectories.csv (one per grid point, only with trajectory = yes). */
typedef enum { TABLE_RUNS, TABLE_TIMINGS, TABLE_TRAJ } table;

typedef struct {
    size_t index;            /* canonical index in this sweep; SIZE_MAX: another config's */
    char *line;              /* runs.csv line without its newline */
    char *timing;            /* timings.csv line, or NULL */
    char *traj;              /* trajectories.csv lines, each ending in '\n', or NULL */
    double nfe_used, rmse;   /* parsed back for the summary (rmse NaN unless status ok) */
    int ok;                  /* status column is "ok" */
} row;

typedef struct {
    unsigned long long key;
    size_t len;
    double *x;
} ref_entry;

/* The references in memory, shared by the workers: the lock is held while one is looked up
 * or computed, so each is computed once (and its cache file written once). */
typedef struct {
    pthread_mutex_t lock;
    ref_entry *refs;
    size_t nrefs, caprefs;
} ref_store;

/* A sweep. With jobs > 1 every worker runs rows on its own shallow copy (a "view") whose
 * models and schedules are its own objects; rows, stats, next, claimed and rc are shared
 * and touched only with lock held (rows are written to disk under it too). */
typedef struct {
    const dode_config *cfg;
    const dode_sweep_opts *opts;
    char dir[PATH_LEN], cache[PATH_LEN];
    dode_model *models[DODE_CFG_MAX_LIST];
    dode_schedule *schedules[DODE_CFG_MAX_LIST];
    unsigned long long model_fp[DODE_CFG_MAX_LIST], schedule_fp[DODE_CFG_MAX_LIST];
    row *rows;
    size_t nrows, caprows;
    ref_store *store;
    dode_sweep_stats stats;
    struct timespec t0;
    pthread_mutex_t lock;
    size_t next, claimed;    /* the next canonical index to consider; rows handed out */
    int rc;                  /* the first worker failure (setup, memory, files) */
    char err[1024];          /* and its message */
} sweep;

/* The coordinates of canonical row idx: seed varies fastest, then nfe, solver, spacing,
 * schedule, model. */
typedef struct {
    size_t model, schedule, spacing, solver, nfe, seed;
} coords;

unsigned long long dode_fnv1a(unsigned long long h, const void *bytes, size_t len)
{
    const unsigned char *p = bytes;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;          /* the 64-bit FNV prime */
    }
    return h;
}

void dode_sweep_opts_init(dode_sweep_opts *o)
{
    memset(o, 0, sizeof *o);
}

static coords decode(const dode_config *cfg, size_t idx)
{
    coords c;
    c.seed = idx % cfg->nseeds;
    idx /= cfg->nseeds;
    c.nfe = idx % cfg->nnfe;
    idx /= cfg->nnfe;
    c.solver = idx % cfg->nsolvers;
    idx /= cfg->nsolvers;
    c.spacing = idx % cfg->nspacings;
    idx /= cfg->nspacings;
    c.schedule = idx % cfg->nschedules;
    c.model = idx / cfg->nschedules;
    return c;
}

/* "model,schedule,spacing,solver,options,nfe,seed": the row's identity in every file. */
static void row_key(const dode_config *cfg, size_t idx, char *buf, size_t len)
{
    const coords c = decode(cfg, idx);
    snprintf(buf, len, "%s,%s,%s,%s,%s,%zu,%lu", cfg->models[c.model].name,
             cfg->schedules[c.schedule], dode_spacing_name(cfg->spacings[c.spacing]),
             cfg->solvers[c.solver].name, cfg->solvers[c.solver].options, cfg->nfe[c.nfe],
             cfg->seeds[c.seed]);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

/* A number as the tables print it: 11 significant digits, or "nan". */
static const char *num(double v, char *buf, size_t len)
{
    if (isnan(v))
        return "nan";
    snprintf(buf, len, "%.10e", v);
    return buf;
}

/* ---- directories and files ---- */

static int mkdir_p(const char *path, char *err, size_t errlen)
{
    char buf[PATH_LEN];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; ; p++) {
        const char c = *p;
        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return dode_fail(err, errlen, DODE_EIO, "cannot create directory %s: %s", buf,
                             strerror(errno));
        *p = c;
        if (c == '\0')
            return DODE_OK;
    }
}

int dode_sweep_dir(const dode_config *cfg, const char *root, char *buf, size_t len,
                   char *err, size_t errlen)
{
    const int w = snprintf(buf, len, "%s/%s", root ? root : "results", cfg->name);
    if (w < 0 || (size_t)w >= len || (size_t)w >= PATH_LEN - 32)
        return dode_fail(err, errlen, DODE_EINVAL, "results directory %s/%s: path too long",
                         root ? root : "results", cfg->name);
    return DODE_OK;
}

/* The whole of a (small) text file; *text NULL and DODE_OK if it does not exist. */
static int slurp(const char *path, char **text, char *err, size_t errlen)
{
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return errno == ENOENT ? DODE_OK : dode_fail(err, errlen, DODE_EIO, "cannot open %s:"
                                                      " %s", path, strerror(errno));
    size_t len = 0, cap = 0;
    char *buf = NULL;
    int oom = 0;
    for (size_t got = 1; got > 0 && !oom; len += got) {
        if (cap - len < 4097) {
            char *q = realloc(buf, cap = 2 * cap + 8192);
            oom = q == NULL;
            buf = q ? q : buf;
        }
        got = oom ? 0 : fread(buf + len, 1, cap - len - 1, f);
    }
    const int bad = ferror(f) || oom;
    fclose(f);
    if (bad) {
        free(buf);
        return dode_fail(err, errlen, DODE_EIO, "cannot read %s", path);
    }
    buf[len] = '\0';
    *text = buf;
    return DODE_OK;
}

/* ---- the rows held in memory (old and new), kept in canonical order ---- */

/* Field k (0-based) of a CSV line into buf; fields hold no commas or quotes. */
static void csv_field(const char *line, size_t k, char *buf, size_t len)
{
    for (; k > 0 && line != NULL; k--) {
        line = strchr(line, ',');
        line = line ? line + 1 : NULL;
    }
    const size_t n = line ? strcspn(line, ",") : 0;
    snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), line ? line : "");
}

static size_t csv_count(const char *line)
{
    size_t n = 1;
    for (; *line; line++)
        n += *line == ',';
    return n;
}

/* Length of the key (the first KEY_FIELDS fields) of a line. */
static size_t key_len(const char *line)
{
    const char *p = line;
    for (int k = 0; k < KEY_FIELDS && p != NULL; k++) {
        p = strchr(p, ',');
        p = p ? p + 1 : NULL;
    }
    return p ? (size_t)(p - line - 1) : strlen(line);
}

static void row_parse_numbers(row *r)
{
    char f[64];
    csv_field(r->line, 9, f, sizeof f);
    r->nfe_used = strtod(f, NULL);
    csv_field(r->line, 12, f, sizeof f);
    const int ok = strcmp(f, "ok") == 0;
    csv_field(r->line, 13, f, sizeof f);
    r->rmse = ok ? strtod(f, NULL) : NAN;
    r->ok = ok;
}

/* Inserts (or replaces, by index) a row, keeping rows sorted by index; takes line. */
static int rows_put(sweep *sw, size_t index, char *line, char *timing, char *traj)
{
    size_t at = 0;
    while (at < sw->nrows && sw->rows[at].index < index)
        at++;
    if (at < sw->nrows && sw->rows[at].index == index && index != SIZE_MAX) {
        free(sw->rows[at].line);
        free(sw->rows[at].timing);
        free(sw->rows[at].traj);
    } else {
        if (sw->nrows == sw->caprows) {
            const size_t cap = sw->caprows ? 2 * sw->caprows : 64;
            row *q = realloc(sw->rows, cap * sizeof *q);
            if (q == NULL)
                return DODE_ENOMEM;
            sw->rows = q;
            sw->caprows = cap;
        }
        if (index == SIZE_MAX)
            at = sw->nrows;             /* rows of another config keep their file order */
        memmove(sw->rows + at + 1, sw->rows + at, (sw->nrows - at) * sizeof *sw->rows);
        sw->nrows++;
    }
    sw->rows[at] = (row){ .index = index, .line = line, .timing = timing, .traj = traj };
    row_parse_numbers(&sw->rows[at]);
    return DODE_OK;
}

/* The canonical index of a key, SIZE_MAX if this config has no such row. */
static size_t index_of_key(const dode_config *cfg, const char *line, size_t klen)
{
    char key[LINE_LEN];
    const size_t total = dode_config_runs(cfg);
    for (size_t i = 0; i < total; i++) {
        row_key(cfg, i, key, sizeof key);
        if (strlen(key) == klen && strncmp(key, line, klen) == 0)
            return i;
    }
    return SIZE_MAX;
}

/* Splits text into lines in place; returns the count, lines[] pointing into text. */
static size_t split_lines(char *text, char **lines, size_t max)
{
    size_t n = 0;
    for (char *p = text; *p != '\0' && n < max; ) {
        char *nl = strchr(p, '\n');
        lines[n++] = p;
        if (nl == NULL)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    return n;
}

static int add_old_row(sweep *sw, const char *line)
{
    char *copy = strdup(line);
    if (copy == NULL)
        return DODE_ENOMEM;
    const size_t index = index_of_key(sw->cfg, line, key_len(line));
    for (size_t i = 0; i < sw->nrows; i++)
        if (index != SIZE_MAX && sw->rows[i].index == index)
            sw->stats.skipped--;        /* a repeated key: the later line wins */
    sw->stats.skipped += index != SIZE_MAX;
    int rc = rows_put(sw, index, copy, NULL, NULL);
    if (rc != DODE_OK)
        free(copy);
    return rc;
}

/* A timings.csv line replaces the timing of the row with its key; a trajectories.csv line
 * is appended to the row's points. Lines of rows not in runs.csv (unfinished) are dropped. */
static int attach(sweep *sw, const char *line, table t)
{
    const size_t klen = key_len(line);
    for (size_t i = 0; i < sw->nrows; i++) {
        row *r = &sw->rows[i];
        if (key_len(r->line) != klen || strncmp(r->line, line, klen) != 0)
            continue;
        char **slot = t == TABLE_TIMINGS ? &r->timing : &r->traj;
        const size_t old = t == TABLE_TRAJ && *slot ? strlen(*slot) : 0;
        char *q = malloc(old + strlen(line) + 2);
        if (q == NULL)
            return DODE_ENOMEM;
        memcpy(q, old ? *slot : "", old);
        strcpy(q + old, line);
        if (t == TABLE_TRAJ)
            strcat(q, "\n");
        free(*slot);
        *slot = q;
        return DODE_OK;
    }
    return DODE_OK;
}

/* Reads one table left by an earlier run of this experiment (runs.csv first). */
static int load_csv(sweep *sw, const char *path, const char *header, table t,
                    char *err, size_t errlen)
{
    char *text = NULL;
    int rc = slurp(path, &text, err, errlen);
    if (rc != DODE_OK || text == NULL)
        return rc;
    size_t max = 1;
    for (const char *p = text; *p; p++)
        max += *p == '\n';
    char **lines = malloc(max * sizeof *lines);
    if (lines == NULL) {
        free(text);
        return dode_fail(err, errlen, DODE_ENOMEM, "out of memory reading %s", path);
    }
    const size_t n = split_lines(text, lines, max);
    if (n == 0 || strcmp(lines[0], header) != 0)
        rc = dode_fail(err, errlen, DODE_EFORMAT, "%s:1: the header is not this version's "
                       "(\"%.60s...\"): move the directory away to start afresh", path,
                       n ? lines[0] : "");
    for (size_t i = 1; rc == DODE_OK && i < n; i++) {
        if (lines[i][0] == '\0')
            continue;
        const size_t want = t == TABLE_RUNS ? CSV_FIELDS : t == TABLE_TIMINGS ? KEY_FIELDS + 1
                                                                               : KEY_FIELDS + 4;
        if (csv_count(lines[i]) != want) {
            rc = dode_fail(err, errlen, DODE_EFORMAT, "%s:%zu: %zu fields, expected %zu",
                           path, i + 1, csv_count(lines[i]), want);
            break;
        }
        rc = t == TABLE_RUNS ? add_old_row(sw, lines[i]) : attach(sw, lines[i], t);
        if (rc != DODE_OK)
            dode_fail(err, errlen, rc, "out of memory reading %s", path);
    }
    free(lines);
    free(text);
    return rc;
}

/* ---- writing ---- */

typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} strbuf;

static void sb_add(strbuf *b, const char *s)
{
    const size_t n = strlen(s);
    if (b->oom)
        return;
    if (b->len + n + 2 > b->cap) {
        const size_t cap = 2 * (b->len + n + 2) + 4096;
        char *q = realloc(b->s, cap);
        if (q == NULL) {
            b->oom = 1;
            return;
        }
        b->s = q;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

static int write_text(const char *dir, const char *file, strbuf *b, char *err, size_t errlen)
{
    char path[PATH_LEN + 64];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int rc = b->oom ? dode_fail(err, errlen, DODE_ENOMEM, "out of memory writing %s", path)
                    : dode_write_atomic(path, b->s ? b->s : "", b->len, err, errlen);
    free(b->s);
    *b = (strbuf){ 0 };
    return rc;
}

/* runs.csv last: a crash between the renames leaves a timing or points without their row,
 * which the resumed run replaces, never a row without them. */
static int write_tables(sweep *sw, char *err, size_t errlen)
{
    strbuf b = { 0 };
    int rc = DODE_OK;
    if (sw->cfg->trajectory) {
        sb_add(&b, traj_header);
        sb_add(&b, "\n");
        for (size_t i = 0; i < sw->nrows; i++)
            if (sw->rows[i].traj != NULL)
                sb_add(&b, sw->rows[i].traj);
        rc = write_text(sw->dir, "trajectories.csv", &b, err, errlen);
    }
    if (rc != DODE_OK)
        return rc;
    sb_add(&b, timing_header);
    sb_add(&b, "\n");
    for (size_t i = 0; i < sw->nrows; i++)
        if (sw->rows[i].timing != NULL) {
            sb_add(&b, sw->rows[i].timing);
            sb_add(&b, "\n");
        }
    rc = write_text(sw->dir, "timings.csv", &b, err, errlen);
    if (rc != DODE_OK)
        return rc;
    sb_add(&b, csv_header);
    sb_add(&b, "\n");
    for (size_t i = 0; i < sw->nrows; i++) {
        sb_add(&b, sw->rows[i].line);
        sb_add(&b, "\n");
    }
    return write_text(sw->dir, "runs.csv", &b, err, errlen);
}

/* ---- references: exact flow, or gsl:rk8pd cached under ROOT/cache ---- */

/* A fingerprint of what a model computes: eps at fixed probe points (a changed GMM file
 * under the same spec gets a new key). */
static int model_fingerprint(const dode_model *m, const char *spec, unsigned long long *fp)
{
    enum { PROBES = 4 };
    double *x = malloc(2 * PROBES * m->dim * sizeof *x);
    if (x == NULL)
        return DODE_ENOMEM;
    for (size_t i = 0; i < PROBES * m->dim; i++)
        x[i] = sin(1.3 * (double)i + 0.1);
    int rc = m->eps(m, PROBES, x, 0.5, 1.0, x + PROBES * m->dim);
    unsigned long long h = dode_fnv1a(DODE_FNV_OFFSET, spec, strlen(spec));
    h = dode_fnv1a(h, &m->dim, sizeof m->dim);
    *fp = dode_fnv1a(h, x + PROBES * m->dim, PROBES * m->dim * sizeof *x);
    free(x);
    return rc;
}

static unsigned long long schedule_fingerprint(const dode_schedule *s)
{
    const char *name = dode_schedule_name(s);
    unsigned long long h = dode_fnv1a(DODE_FNV_OFFSET, name, strlen(name));
    for (int k = 1; k <= 8; k++) {
        const double t = dode_schedule_t_min(s) + (dode_schedule_t_max(s) -
                                                   dode_schedule_t_min(s)) * k / 8.0;
        const double sigma = dode_schedule_sigma(s, t);
        h = dode_fnv1a(h, &sigma, sizeof sigma);
    }
    return h;
}

static unsigned long long ref_key(const sweep *sw, size_t im, size_t ish, const double *xbar_T,
                                  size_t len, double s0, double s1)
{
    static const char tag[] = "diffode reference v1: gsl:rk8pd";
    const double tol[2] = { sw->cfg->ref_rtol, sw->cfg->ref_atol }, ends[2] = { s0, s1 };
    unsigned long long h = dode_fnv1a(DODE_FNV_OFFSET, tag, sizeof tag);
    h = dode_fnv1a(h, &sw->model_fp[im], sizeof sw->model_fp[im]);
    h = dode_fnv1a(h, &sw->schedule_fp[ish], sizeof sw->schedule_fp[ish]);
    h = dode_fnv1a(h, ends, sizeof ends);
    h = dode_fnv1a(h, tol, sizeof tol);
    h = dode_fnv1a(h, &len, sizeof len);
    return dode_fnv1a(h, xbar_T, len * sizeof *xbar_T);
}

/* Does model im's reference use its exact flow (reference = auto or exact)? */
static int ref_is_exact(const sweep *sw, size_t im)
{
    return sw->models[im]->exact_flow != NULL && sw->cfg->reference != DODE_REFERENCE_RK8PD;
}

/* The reference flow (dode_reference with the config's method and ref_rtol / ref_atol) of
 * n rows xbar_from at s0 to xbar_to at s1 (in place allowed). */
static int ref_flow(const sweep *sw, size_t im, size_t ish, size_t n, double s0, double s1,
                    const double *xbar_from, double *xbar_to, char *err, size_t errlen)
{
    dode_reference_opts o;
    dode_reference_opts_init(&o);
    o.method = sw->cfg->reference;
    o.rtol = sw->cfg->ref_rtol;
    o.atol = sw->cfg->ref_atol;
    return dode_reference(sw->models[im], sw->schedules[ish], n, s0, s1, xbar_from, xbar_to,
                          &o, NULL, NULL, err, errlen);
}

static int remember(ref_store *sw, unsigned long long key, const double *x, size_t len)
{
    if (sw->nrefs == sw->caprefs) {
        const size_t cap = sw->caprefs ? 2 * sw->caprefs : 8;
        ref_entry *q = realloc(sw->refs, cap * sizeof *q);
        if (q == NULL)
            return DODE_ENOMEM;
        sw->refs = q;
        sw->caprefs = cap;
    }
    double *copy = malloc(len * sizeof *copy);
    if (copy == NULL)
        return DODE_ENOMEM;
    memcpy(copy, x, len * sizeof *copy);
    sw->refs[sw->nrefs++] = (ref_entry){ .key = key, .len = len, .x = copy };
    return DODE_OK;
}

/* From memory, else from ROOT/cache/<key>.npy; 1 if found (into out). */
static int recall(ref_store *sw, unsigned long long key, size_t n, size_t dim, const char *path,
                  double *out)
{
    for (size_t i = 0; i < sw->nrefs; i++)
        if (sw->refs[i].key == key && sw->refs[i].len == n * dim) {
            memcpy(out, sw->refs[i].x, n * dim * sizeof *out);
            return 1;
        }
    double *data = NULL;
    size_t rows = 0, cols = 0;
    if (dode_npy_read(path, &data, &rows, &cols, NULL, 0) != DODE_OK)
        return 0;
    const int ok = rows == n && cols == dim && dode_all_finite(data, n * dim) == DODE_OK;
    if (ok)
        memcpy(out, data, n * dim * sizeof *out);
    free(data);
    return ok && remember(sw, key, out, n * dim) == DODE_OK;
}

/* The reference at s1 of the n rows xbar_T at s0 ([n][dim] into out); *kind says which. */
static int reference(sweep *sw, size_t im, size_t ish, size_t n, double s0, double s1,
                     const double *xbar_T, double *out, const char **kind, char *err,
                     size_t errlen)
{
    const dode_model *m = sw->models[im];
    const size_t len = n * m->dim;
    if (ref_is_exact(sw, im)) {
        *kind = "exact";
        return ref_flow(sw, im, ish, n, s0, s1, xbar_T, out, err, errlen);
    }
    *kind = "rk8pd";
    const unsigned long long key = ref_key(sw, im, ish, xbar_T, len, s0, s1);
    char path[PATH_LEN + 64];
    snprintf(path, sizeof path, "%s/%016llx.npy", sw->cache, key);
    pthread_mutex_lock(&sw->store->lock);
    if (recall(sw->store, key, n, m->dim, path, out)) {
        pthread_mutex_unlock(&sw->store->lock);
        return DODE_OK;
    }
    int rc = ref_flow(sw, im, ish, n, s0, s1, xbar_T, out, err, errlen);
    if (rc == DODE_OK)
        rc = dode_npy_write(path, out, n, m->dim, err, errlen);
    if (rc == DODE_OK && remember(sw->store, key, out, len) != DODE_OK)
        rc = dode_fail(err, errlen, DODE_ENOMEM, "out of memory keeping a reference");
    pthread_mutex_unlock(&sw->store->lock);
    return rc;
}

/* ---- one run ---- */

typedef struct {
    size_t steps, nfe_used;
    double s0, s1, seconds;
    int status;
    char why[256];           /* the solver's message when status != DODE_OK */
    double rmse, max_err, nll, fd, sw2;
    double diff;             /* RMSE of the final state against the baseline solver's */
    const char *ref_kind;
    char *traj;              /* trajectories.csv lines (malloc'ed) with trajectory = yes */
} result;

static int make_grid(const sweep *sw, const coords *c, dode_grid *g, char *err, size_t errlen)
{
    const dode_config *cfg = sw->cfg;
    dode_grid_opts go;
    dode_grid_opts_init(&go);
    go.spacing = cfg->spacings[c->spacing];
    go.t_max = cfg->t_max;
    go.t_min = cfg->t_min;
    go.rho = cfg->rho;
    go.to_zero = cfg->to_zero;
    const size_t steps = dode_solver_steps_for_nfe(cfg->solvers[c->solver].type,
                                                   cfg->nfe[c->nfe]);
    return dode_grid_make(sw->schedules[c->schedule], &go, steps, g, err, errlen);
}

/* n rows of x_T ~ N(0, I) from rng, scaled to xbar_T at sigma s0 (MATH.md section 4). */
static void draw_start(gsl_rng *rng, size_t len, double s0, double *xbar_T)
{
    for (size_t k = 0; k < len; k++)
        xbar_T[k] = gsl_ran_gaussian_ziggurat(rng, 1.0);
    dode_x_to_xbar(s0, xbar_T, xbar_T, len);
}

/* FD and SW2 against the model's own distribution at s1: true_samples fresh x_T (their
 * own seed) carried by the reference flow. SW2 pairs the n samples with the first n of
 * them (equal counts); NaN when there are fewer. */
static int distribution_metrics(sweep *sw, const coords *c, const double *xbar, result *r,
                                char *err, size_t errlen)
{
    const dode_config *cfg = sw->cfg;
    const size_t dim = sw->models[c->model]->dim, nt = cfg->true_samples, n = cfg->samples;
    if (nt < 2 || n < 2)
        return DODE_OK;
    double *x_T = malloc(2 * nt * dim * sizeof *x_T);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    int rc = x_T && rng ? DODE_OK : dode_fail(err, errlen, DODE_ENOMEM, "out of memory for "
                                              "%zu true samples", nt);
    const char *kind = NULL;
    if (rc == DODE_OK) {
        gsl_rng_set(rng, TRUE_SEED);
        draw_start(rng, nt * dim, r->s0, x_T);
        rc = reference(sw, c->model, c->schedule, nt, r->s0, r->s1, x_T, x_T + nt * dim,
                       &kind, err, errlen);
    }
    const double *truth = x_T + nt * dim;
    if (rc == DODE_OK && dode_metric_frechet(xbar, n, truth, nt, dim, &r->fd, NULL, 0) != 0)
        r->fd = NAN;
    if (rc == DODE_OK && (nt < n || dode_metric_sliced_w2(xbar, truth, n, dim,
                                                          cfg->projections, rng, &r->sw2,
                                                          NULL, 0) != DODE_OK))
        r->sw2 = NAN;
    gsl_rng_free(rng);
    free(x_T);
    return rc;
}

/* Errors against the reference, NLL under the model's density at s1, FD and SW2. */
static int measure(sweep *sw, const coords *c, const double *xbar, const double *ref,
                   result *r, char *err, size_t errlen)
{
    const dode_model *m = sw->models[c->model];
    const size_t len = sw->cfg->samples * m->dim;
    dode_metric_rmse(xbar, ref, len, &r->rmse, NULL, 0);
    dode_metric_max_abs(xbar, ref, len, &r->max_err, NULL, 0);
    if (m->log_density == NULL ||
        dode_metric_mean_nll(m, xbar, sw->cfg->samples, r->s1, &r->nll, NULL, 0) != DODE_OK)
        r->nll = NAN;
    return distribution_metrics(sw, c, xbar, r, err, errlen);
}

/* The reference at every recorded point: the exact flow from s0, or rk8pd carried from
 * point to point (each leg at ref_rtol, so the chain stays ~1e-12 from the true flow). */
static int point_reference(sweep *sw, const coords *c, double s0, double from, double to,
                           const double *xbar_T, double *ref, char *err, size_t errlen)
{
    if (ref_is_exact(sw, c->model))
        return ref_flow(sw, c->model, c->schedule, sw->cfg->samples, s0, to, xbar_T, ref, err,
                        errlen);
    return to == from ? DODE_OK : ref_flow(sw, c->model, c->schedule, sw->cfg->samples, from,
                                           to, ref, ref, err, errlen);
}

/* RMSE between trace points p of tr and base, NaN where base has no point at that sigma. */
static double point_diff(const dode_trace *tr, const dode_trace *base, size_t p, size_t len)
{
    double d = NAN;
    if (base != NULL && p < base->count && p < base->cap && base->sigma[p] == tr->sigma[p])
        dode_metric_rmse(tr->xbar + p * len, base->xbar + p * len, len, &d, NULL, 0);
    return d;
}

/* trajectories.csv lines of a solve: at each point, the RMSE against the reference and
 * against the baseline solver's trace (base, may be NULL). */
static int trajectory_errors(sweep *sw, size_t idx, const coords *c, const dode_trace *tr,
                             const dode_trace *base, const double *xbar_T, double s0,
                             char **out, char *err, size_t errlen)
{
    const size_t len = sw->cfg->samples * sw->models[c->model]->dim;
    const size_t points = tr->count < tr->cap ? tr->count : tr->cap;
    double *ref = malloc(len * sizeof *ref), prev = s0, e = NAN;
    strbuf b = { 0 };
    char key[LINE_LEN], line[LINE_LEN + 128], nb[32], db[32];
    int rc = ref ? DODE_OK : dode_fail(err, errlen, DODE_ENOMEM, "out of memory for the "
                                       "trajectory reference");
    row_key(sw->cfg, idx, key, sizeof key);
    if (rc == DODE_OK)
        memcpy(ref, xbar_T, len * sizeof *ref);
    for (size_t p = 0; rc == DODE_OK && p < points; p++) {
        rc = point_reference(sw, c, s0, prev, tr->sigma[p], xbar_T, ref, err, errlen);
        prev = tr->sigma[p];
        dode_metric_rmse(tr->xbar + p * len, ref, len, &e, NULL, 0);
        snprintf(line, sizeof line, "%s,%zu,%.17g,%s,%s\n", key, p, prev,
                 num(e, nb, sizeof nb), num(point_diff(tr, base, p, len), db, sizeof db));
        sb_add(&b, line);
    }
    free(ref);
    if (rc == DODE_OK && b.oom)
        rc = dode_fail(err, errlen, DODE_ENOMEM, "out of memory for trajectory errors");
    if (rc != DODE_OK)
        free(b.s);
    *out = rc == DODE_OK ? b.s : NULL;
    return rc;
}

/* A trace of steps + 2 points (a denoise_to_zero jump adds one), with trajectory = yes. */
static int trace_alloc(const sweep *sw, size_t len, size_t steps, dode_trace *tr)
{
    *tr = (dode_trace){ 0 };
    if (!sw->cfg->trajectory)
        return DODE_OK;
    tr->sigma = malloc((steps + 2) * sizeof *tr->sigma);
    tr->xbar = malloc((steps + 2) * len * sizeof *tr->xbar);
    tr->cap = steps + 2;
    return tr->sigma && tr->xbar ? DODE_OK : DODE_ENOMEM;
}

/* One solve of row c's problem with c's solver on grid g from xbar (in: xbar_T at
 * g->sigma[0]); rng continues the seed's stream. Returns the solver's status. */
static int solve_with(sweep *sw, const coords *c, const dode_grid *g, gsl_rng *rng,
                      double *xbar, dode_trace *tr, size_t *nfe, double *seconds, char *why,
                      size_t whylen)
{
    const dode_cfg_solver *sv = &sw->cfg->solvers[c->solver];
    dode_solver_opts o = sv->opts;
    o.spacing = sw->cfg->spacings[c->spacing];
    o.rho = sw->cfg->rho;
    o.rng = rng;
    dode_ode *ode = dode_ode_new(sw->models[c->model], sw->schedules[c->schedule],
                                 sw->cfg->samples, why, whylen);
    if (ode == NULL)
        return DODE_ENOMEM;
    dode_run_stats st;
    int rc = dode_run_xbar(sv->type, ode, g, &o, xbar, tr, &st, why, whylen);
    *seconds = st.seconds;
    *nfe = st.nfe;
    dode_ode_free(ode);
    return rc;
}

/* The baseline solver on row c's model, schedule, spacing, NFE and seed: its final state
 * ([len] into bx) and, with trajectory = yes, its trace. DODE_OK or the failing status. */
static int baseline_solve(sweep *sw, const coords *c, double *bx, dode_trace *btr)
{
    coords b = *c;
    b.solver = (size_t)sw->cfg->baseline;
    const size_t len = sw->cfg->samples * sw->models[c->model]->dim;
    dode_grid g = { 0 };
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    char why[256];
    size_t nfe;
    double secs;
    int rc = rng ? make_grid(sw, &b, &g, NULL, 0) : DODE_ENOMEM;
    if (rc == DODE_OK)
        rc = trace_alloc(sw, len, g.steps, btr);
    if (rc == DODE_OK) {
        gsl_rng_set(rng, sw->cfg->seeds[c->seed]);
        draw_start(rng, len, g.sigma[0], bx);
        rc = solve_with(sw, &b, &g, rng, bx, btr, &nfe, &secs, why, sizeof why);
    }
    dode_grid_free(&g);
    gsl_rng_free(rng);
    return rc;
}

/* r->diff and the trajectory lines, against the baseline (the row's own trace when it is
 * the baseline: zero by definition, not recomputed). */
static int compare(sweep *sw, size_t idx, const coords *c, const double *xbar,
                   const dode_trace *tr, const double *xbar_T, result *r, char *err,
                   size_t errlen)
{
    const dode_config *cfg = sw->cfg;
    const size_t len = cfg->samples * sw->models[c->model]->dim;
    const dode_trace *base = NULL;
    dode_trace btr = { 0 };
    double *bx = NULL;
    if (cfg->baseline >= 0 && c->solver == (size_t)cfg->baseline) {
        r->diff = 0;
        base = tr;
    } else if (cfg->baseline >= 0) {
        bx = malloc(len * sizeof *bx);
        if (bx != NULL && baseline_solve(sw, c, bx, &btr) == DODE_OK) {
            dode_metric_rmse(xbar, bx, len, &r->diff, NULL, 0);
            base = &btr;
        }
    }
    int rc = cfg->trajectory ? trajectory_errors(sw, idx, c, tr, base, xbar_T, r->s0, &r->traj,
                                                 err, errlen) : DODE_OK;
    free(btr.sigma);
    free(btr.xbar);
    free(bx);
    return rc;
}

/* Solves row c from its seed's x_T and measures it. A failing solve is a result (its
 * status); only setup failures (memory, reference) are returned. */
static int solve_row(sweep *sw, size_t idx, const coords *c, const dode_grid *g,
                     gsl_rng *rng, double *buf, result *r, char *err, size_t errlen)
{
    const dode_cfg_solver *sv = &sw->cfg->solvers[c->solver];
    const size_t n = sw->cfg->samples, len = n * sw->models[c->model]->dim;
    double *xbar_T = buf, *xbar = buf + len, *ref = buf + 2 * len;
    r->steps = g->steps;
    r->s0 = g->sigma[0];
    r->s1 = sv->opts.denoise_to_zero && g->sigma[g->steps] > 0 ? 0.0 : g->sigma[g->steps];
    gsl_rng_set(rng, sw->cfg->seeds[c->seed]);
    draw_start(rng, len, r->s0, xbar_T);
    memcpy(xbar, xbar_T, len * sizeof *xbar);
    int rc = reference(sw, c->model, c->schedule, n, r->s0, r->s1, xbar_T, ref, &r->ref_kind,
                       err, errlen);
    dode_trace tr = { 0 };
    if (rc == DODE_OK && trace_alloc(sw, len, g->steps, &tr) != DODE_OK)
        rc = dode_fail(err, errlen, DODE_ENOMEM, "out of memory for a trajectory of %zu "
                       "points", g->steps + 2);
    if (rc == DODE_OK)
        r->status = solve_with(sw, c, g, rng, xbar, &tr, &r->nfe_used, &r->seconds, r->why,
                               sizeof r->why);
    if (rc == DODE_OK && r->status == DODE_OK)
        rc = measure(sw, c, xbar, ref, r, err, errlen);
    if (rc == DODE_OK && r->status == DODE_OK)
        rc = compare(sw, idx, c, xbar, &tr, xbar_T, r, err, errlen);
    free(tr.sigma);
    free(tr.xbar);
    return rc;
}

/* mode = roundtrip: the start is the reference solution at the grid's end s1 (a sample of
 * p_s1 on the exact flow of the seed's x_T); the solver carries it up the reversed grid to
 * s0 (encoding) and back down the grid (decoding); rmse and max_err compare the result
 * with the start. nfe_used counts both legs; nll, fd and sw2 do not apply. */
static int roundtrip_row(sweep *sw, const coords *c, const dode_grid *g, gsl_rng *rng,
                         double *buf, result *r, char *err, size_t errlen)
{
    const size_t n = sw->cfg->samples, len = n * sw->models[c->model]->dim;
    double *xbar_T = buf, *xbar = buf + len, *start = buf + 2 * len;
    double *up = malloc((g->steps + 1) * sizeof *up), secs[2] = { 0, 0 };
    size_t nfe[2] = { 0, 0 };
    if (up == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "out of memory for a reversed grid");
    r->steps = g->steps;
    r->s0 = g->sigma[0];
    r->s1 = g->sigma[g->steps];
    for (size_t i = 0; i <= g->steps; i++)
        up[i] = g->sigma[g->steps - i];
    const dode_grid rev = { .steps = g->steps, .sigma = up, .t = NULL };
    gsl_rng_set(rng, sw->cfg->seeds[c->seed]);
    draw_start(rng, len, r->s0, xbar_T);
    int rc = reference(sw, c->model, c->schedule, n, r->s0, r->s1, xbar_T, start, &r->ref_kind,
                       err, errlen);
    if (rc == DODE_OK) {
        memcpy(xbar, start, len * sizeof *xbar);
        r->status = solve_with(sw, c, &rev, rng, xbar, NULL, &nfe[0], &secs[0], r->why,
                               sizeof r->why);
    }
    if (rc == DODE_OK && r->status == DODE_OK)
        r->status = solve_with(sw, c, g, rng, xbar, NULL, &nfe[1], &secs[1], r->why,
                               sizeof r->why);
    r->nfe_used = nfe[0] + nfe[1];
    r->seconds = secs[0] + (r->status == DODE_OK ? secs[1] : 0);
    if (rc == DODE_OK && r->status == DODE_OK) {
        dode_metric_rmse(xbar, start, len, &r->rmse, NULL, 0);
        dode_metric_max_abs(xbar, start, len, &r->max_err, NULL, 0);
    }
    free(up);
    return rc;
}

static int run_one(sweep *sw, size_t idx, result *r, char *err, size_t errlen)
{
    const coords c = decode(sw->cfg, idx);
    const size_t len = sw->cfg->samples * sw->models[c.model]->dim;
    *r = (result){ .rmse = NAN, .max_err = NAN, .nll = NAN, .fd = NAN, .sw2 = NAN,
                   .diff = NAN, .ref_kind = "none" };
    dode_grid g = { 0 };
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    double *buf = malloc(3 * len * sizeof *buf);
    int rc = rng && buf ? DODE_OK : dode_fail(err, errlen, DODE_ENOMEM, "out of memory for "
                                              "%zu samples", sw->cfg->samples);
    if (rc == DODE_OK)
        rc = make_grid(sw, &c, &g, err, errlen);
    if (rc == DODE_OK)
        rc = sw->cfg->roundtrip ? roundtrip_row(sw, &c, &g, rng, buf, r, err, errlen)
                                : solve_row(sw, idx, &c, &g, rng, buf, r, err, errlen);
    dode_grid_free(&g);
    free(buf);
    gsl_rng_free(rng);
    return rc;
}

/* ---- rows to text ---- */


/* The runs.csv and timings.csv lines of a finished row (malloc'ed). */
static int format_row(const sweep *sw, size_t idx, const result *r, char **line,
                      char **timing)
{
    char key[LINE_LEN], b[6][32], full[2 * LINE_LEN];
    row_key(sw->cfg, idx, key, sizeof key);
    snprintf(full, sizeof full, "%s,%zu,%zu,%zu,%.17g,%.17g,%s,%s,%s,%s,%s,%s,%s,%s", key,
             sw->cfg->samples, r->steps, r->nfe_used, r->s0, r->s1,
             r->status == DODE_OK ? "ok" : dode_strerror(r->status),
             num(r->rmse, b[0], 32), num(r->max_err, b[1], 32), num(r->nll, b[2], 32),
             num(r->fd, b[3], 32), num(r->sw2, b[4], 32), r->ref_kind, num(r->diff, b[5], 32));
    *line = strdup(full);
    snprintf(full, sizeof full, "%s,%.6f", key, r->seconds);
    *timing = strdup(full);
    if (*line == NULL || *timing == NULL) {
        free(*line);
        free(*timing);
        return DODE_ENOMEM;
    }
    return DODE_OK;
}

/* ---- summary.json and the plot tables ---- */

/* Mean RMSE over the seeds of point (group g, nfe k) that finished ok, and its NFE. */
static int group_point(const dode_config *cfg, row *const *by, size_t g, size_t k,
                       double *nfe, double *rmse)
{
    double s = 0;
    size_t count = 0;
    for (size_t j = 0; j < cfg->nseeds; j++) {
        const row *r = by[(g * cfg->nnfe + k) * cfg->nseeds + j];
        if (r != NULL && !isnan(r->rmse)) {
            s += r->rmse;
            *nfe = r->nfe_used;
            count++;
        }
    }
    *rmse = count ? s / (double)count : NAN;
    return count > 0;
}

/* "solver", followed by the model, schedule and spacing where the sweep has several. */
static void group_label(const dode_config *cfg, const coords *c, char *buf, size_t len)
{
    const char *parts[3] = { cfg->nmodels > 1 ? cfg->models[c->model].name : NULL,
                             cfg->nschedules > 1 ? cfg->schedules[c->schedule] : NULL,
                             cfg->nspacings > 1 ? dode_spacing_name(cfg->spacings[c->spacing])
                                                : NULL };
    size_t used = (size_t)snprintf(buf, len, "%s", cfg->solvers[c->solver].name);
    for (int k = 0; k < 3 && used < len; k++)
        if (parts[k] != NULL)
            used += (size_t)snprintf(buf + used, len - used, " %s", parts[k]);
}

/* One solver line's block of error_vs_nfe.dat and its bar of orders.dat. */
static void plot_rows(strbuf *dat, strbuf *ord, const char *label, const double *nfe,
                      const double *err, size_t n, double order, int theory)
{
    char text[512], ob[32];
    snprintf(text, sizeof text, "%s\"%s\" \"rmse\"\n", dat->len ? "\n\n" : "", label);
    sb_add(dat, text);
    for (size_t k = 0; k < n; k++) {
        snprintf(text, sizeof text, "%.0f %.10e\n", nfe[k], err[k]);
        sb_add(dat, text);
    }
    if (n == 0)
        sb_add(dat, "nan nan\n");          /* keeps the block count = the line count */
    snprintf(text, sizeof text, "%s\"%s\" %s %d\n", ord->len ? "" : "\"solver\" \"observed\" "
             "\"theory\"\n", label, num(order, ob, sizeof ob), theory);
    if (!isnan(order))                  /* no bar without a fit; no file without a bar */
        sb_add(ord, text);
}

/* The JSON object of one solver line; appends its rows to the plot tables. */
static cJSON *summary_line(const sweep *sw, row *const *by, size_t g, strbuf *dat,
                           strbuf *ord)
{
    const dode_config *cfg = sw->cfg;
    const coords c = decode(cfg, g * cfg->nnfe * cfg->nseeds);
    double nfe[DODE_CFG_MAX_LIST], err[DODE_CFG_MAX_LIST], pair[DODE_CFG_MAX_LIST], order = NAN;
    size_t n = 0, used = 0;
    char label[256];
    for (size_t k = 0; k < cfg->nnfe; k++)      /* budgets giving the same steps: once */
        if (group_point(cfg, by, g, k, &nfe[n], &err[n]) && (n == 0 || nfe[n] != nfe[n - 1]))
            n++;
    if (dode_metric_observed_order(nfe, err, n, cfg->order_nfe_min, cfg->order_floor, &order,
                                   &used, NULL, 0) != DODE_OK)
        order = NAN;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", cfg->models[c.model].name);
    cJSON_AddStringToObject(o, "schedule", cfg->schedules[c.schedule]);
    cJSON_AddStringToObject(o, "spacing", dode_spacing_name(cfg->spacings[c.spacing]));
    cJSON_AddStringToObject(o, "solver", cfg->solvers[c.solver].name);
    cJSON_AddStringToObject(o, "base", cfg->solvers[c.solver].type->name);
    cJSON_AddStringToObject(o, "options", cfg->solvers[c.solver].options);
    cJSON_AddNumberToObject(o, "theory_order", cfg->solvers[c.solver].type->order);
    cJSON_AddItemToObject(o, "nfe", cJSON_CreateDoubleArray(nfe, (int)n));
    cJSON_AddItemToObject(o, "rmse", cJSON_CreateDoubleArray(err, (int)n));
    cJSON_AddItemToObject(o, "observed_order", isnan(order) ? cJSON_CreateNull()
                                                            : cJSON_CreateNumber(order));
    cJSON_AddNumberToObject(o, "fit_points", (double)used);
    cJSON *pw = cJSON_AddArrayToObject(o, "pairwise_orders");
    if (n >= 2 && dode_metric_pairwise_orders(nfe, err, n, cfg->order_floor, pair, NULL, 0)
                      == DODE_OK)
        for (size_t k = 0; k + 1 < n; k++)
            cJSON_AddItemToArray(pw, isnan(pair[k]) ? cJSON_CreateNull()
                                                    : cJSON_CreateNumber(pair[k]));
    group_label(cfg, &c, label, sizeof label);
    plot_rows(dat, ord, label, nfe, err, n, order, cfg->solvers[c.solver].type->order);
    return o;
}

/* Per (model, schedule, spacing, nfe): the solver with the smallest mean RMSE. */
static cJSON *summary_best(const dode_config *cfg, row *const *by)
{
    cJSON *best = cJSON_CreateArray();
    const size_t cells = cfg->nmodels * cfg->nschedules * cfg->nspacings;
    for (size_t cell = 0; cell < cells; cell++)
        for (size_t k = 0; k < cfg->nnfe; k++) {
            double lo = INFINITY, nfe = 0, e = 0;
            size_t arg = 0;
            for (size_t s = 0; s < cfg->nsolvers; s++)
                if (group_point(cfg, by, cell * cfg->nsolvers + s, k, &nfe, &e) && e < lo) {
                    lo = e;
                    arg = s;
                }
            if (!isfinite(lo))
                continue;
            const coords c = decode(cfg, ((cell * cfg->nsolvers + arg) * cfg->nnfe + k) *
                                             cfg->nseeds);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "model", cfg->models[c.model].name);
            cJSON_AddStringToObject(o, "schedule", cfg->schedules[c.schedule]);
            cJSON_AddStringToObject(o, "spacing", dode_spacing_name(cfg->spacings[c.spacing]));
            cJSON_AddNumberToObject(o, "nfe", (double)cfg->nfe[k]);
            cJSON_AddStringToObject(o, "solver", cfg->solvers[arg].name);
            cJSON_AddNumberToObject(o, "rmse", lo);
            cJSON_AddItemToArray(best, o);
        }
    return best;
}

/* A trajectory table for plotting: "sigma value" at every point, value being field
 * KEY_FIELDS + 2 + col of the trajectories.csv lines (col 0: error against the reference,
 * 1: difference from the baseline), one block per row of the first seed and the first
 * NFE of the list (the coarsest grid: few points, the largest errors). */
static int write_trajectory_table(const sweep *sw, const char *file, int col, char *err,
                                  size_t errlen)
{
    const dode_config *cfg = sw->cfg;
    strbuf b = { 0 };
    char label[320], head[400], sigma[64], e[64];
    for (size_t i = 0; i < sw->nrows; i++) {
        const row *r = &sw->rows[i];
        if (r->index == SIZE_MAX || r->traj == NULL || r->index % (cfg->nseeds * cfg->nnfe))
            continue;
        const coords c = decode(cfg, r->index);
        if (col == 1 && c.solver == (size_t)cfg->baseline)
            continue;                       /* zero by definition: nothing to draw */
        group_label(cfg, &c, label, sizeof label);
        snprintf(head, sizeof head, "%s\"%s, NFE %zu\" \"%s\"\n", b.len ? "\n\n" : "",
                 label, cfg->nfe[c.nfe], col ? "diff" : "rmse");
        sb_add(&b, head);
        for (const char *p = r->traj; *p != '\0'; p = strchr(p, '\n') + 1) {
            csv_field(p, KEY_FIELDS + 1, sigma, sizeof sigma);
            csv_field(p, KEY_FIELDS + 2 + (size_t)col, e, sizeof e);
            e[strcspn(e, "\n")] = '\0';
            snprintf(head, sizeof head, "%s %s\n", sigma, e);
            sb_add(&b, head);
        }
    }
    return write_text(sw->dir, file, &b, err, errlen);
}

/* summary.json's text into js, the plot tables into dat and ord; by[] indexes the rows of
 * this config by canonical index (NULL: not finished). */
static void summary_text(sweep *sw, row *const *by, strbuf *js, strbuf *dat, strbuf *ord)
{
    const dode_config *cfg = sw->cfg;
    const size_t total = dode_config_runs(cfg), groups = total / (cfg->nnfe * cfg->nseeds);
    size_t finished = 0, failed = 0;
    for (size_t i = 0; i < total; i++) {
        finished += by[i] != NULL;
        failed += by[i] != NULL && !by[i]->ok;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "name", cfg->name);
    cJSON_AddStringToObject(root, "config", cfg->path);
    cJSON_AddNumberToObject(root, "rows", (double)total);
    cJSON_AddNumberToObject(root, "finished", (double)finished);
    cJSON_AddNumberToObject(root, "failed", (double)failed);
    cJSON_AddNumberToObject(root, "order_nfe_min", cfg->order_nfe_min);
    cJSON_AddNumberToObject(root, "order_floor", cfg->order_floor);
    cJSON *lines = cJSON_AddArrayToObject(root, "lines");
    for (size_t g = 0; g < groups; g++)
        cJSON_AddItemToArray(lines, summary_line(sw, by, g, dat, ord));
    cJSON_AddItemToObject(root, "best", summary_best(cfg, by));
    char *text = cJSON_Print(root);
    sb_add(js, text ? text : "");
    sb_add(js, "\n");
    js->oom |= text == NULL;            /* cJSON returns NULL when out of memory */
    free(text);
    cJSON_Delete(root);
}

static int write_summary(sweep *sw, char *err, size_t errlen)
{
    const dode_config *cfg = sw->cfg;
    row **by = calloc(dode_config_runs(cfg), sizeof *by);
    if (by == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "out of memory writing the summary");
    for (size_t i = 0; i < sw->nrows; i++)
        if (sw->rows[i].index != SIZE_MAX)
            by[sw->rows[i].index] = &sw->rows[i];
    strbuf dat = { 0 }, ord = { 0 }, js = { 0 };
    summary_text(sw, by, &js, &dat, &ord);
    free(by);
    int rc = write_text(sw->dir, "error_vs_nfe.dat", &dat, err, errlen);
    int rc2 = write_text(sw->dir, "orders.dat", &ord, err, errlen);
    int rc3 = write_text(sw->dir, "summary.json", &js, err, errlen);
    if (rc == DODE_OK && rc2 == DODE_OK && rc3 == DODE_OK && cfg->trajectory)
        rc3 = write_trajectory_table(sw, "trajectory_error.dat", 0, err, errlen);
    if (rc == DODE_OK && rc2 == DODE_OK && rc3 == DODE_OK && cfg->trajectory &&
        cfg->baseline >= 0)
        rc3 = write_trajectory_table(sw, "trajectory_diff.dat", 1, err, errlen);
    return rc != DODE_OK ? rc : rc2 != DODE_OK ? rc2 : rc3;
}

/* ---- the sweep ---- */

/* Models, schedules and their fingerprints; the checks only loading can make. */
static int load_inputs(sweep *sw, char *err, size_t errlen)
{
    const dode_config *cfg = sw->cfg;
    char why[512];
    size_t len;
    for (size_t i = 0; i < cfg->nmodels; i++) {
        const dode_cfg_model *cm = &cfg->models[i];
        int rc = dode_model_from_spec(cm->spec, &sw->models[i], why, sizeof why);
        if (rc != DODE_OK)
            return dode_fail(err, errlen, rc, "%s:%d: key 'spec': %s", cfg->path, cm->line, why);
        if (cfg->reference == DODE_REFERENCE_EXACT && sw->models[i]->exact_flow == NULL)
            return dode_fail(err, errlen, DODE_EUNSUPPORTED, "%s:%d: model %s has no exact "
                             "flow, but [experiment] asks for reference = exact (use auto or "
                             "rk8pd)", cfg->path, cm->line, cm->name);
        if (dode_mul_size(cfg->samples, 3 * sw->models[i]->dim, &len) != DODE_OK ||
            dode_mul_size(cfg->true_samples, 2 * sw->models[i]->dim, &len) != DODE_OK)
            return dode_fail(err, errlen, DODE_ENOMEM, "%s: samples x dim overflows", cfg->path);
        if (model_fingerprint(sw->models[i], cm->spec, &sw->model_fp[i]) != DODE_OK)
            return dode_fail(err, errlen, DODE_ESOLVER, "model %s: eps failed at the probe "
                             "points", cm->name);
    }
    for (size_t i = 0; i < cfg->nschedules; i++) {
        int rc = dode_schedule_from_spec(cfg->schedules[i], &sw->schedules[i], why, sizeof why);
        if (rc != DODE_OK)
            return dode_fail(err, errlen, rc, "%s: schedule %s: %s", cfg->path,
                             cfg->schedules[i], why);
        sw->schedule_fp[i] = schedule_fingerprint(sw->schedules[i]);
    }
    return DODE_OK;
}

/* Every grid of the sweep once, before any run: a bad combination fails now. */
static int check_grids(const sweep *sw, char *err, size_t errlen)
{
    const dode_config *cfg = sw->cfg;
    const size_t total = dode_config_runs(cfg);
    for (size_t idx = 0; idx < total; idx += cfg->nseeds) {
        const coords c = decode(cfg, idx);
        dode_grid g = { 0 };
        char why[512];
        int rc = make_grid(sw, &c, &g, why, sizeof why);
        dode_grid_free(&g);
        if (rc != DODE_OK)
            return dode_fail(err, errlen, rc, "%s: schedule %s, spacing %s, solver %s, nfe "
                             "%zu: %s", cfg->path, cfg->schedules[c.schedule],
                             dode_spacing_name(cfg->spacings[c.spacing]),
                             cfg->solvers[c.solver].name, cfg->nfe[c.nfe], why);
    }
    return DODE_OK;
}

/* Checks that only make sense for the whole config: the roundtrip mode's limits. */
static int check_mode(const dode_config *cfg, char *err, size_t errlen)
{
    if (!cfg->roundtrip)
        return DODE_OK;
    if (cfg->to_zero)
        return dode_fail(err, errlen, DODE_EINVAL, "%s: mode = roundtrip cannot encode from "
                         "sigma = 0 (drop to_zero)", cfg->path);
    if (cfg->trajectory || cfg->baseline >= 0)
        return dode_fail(err, errlen, DODE_EINVAL, "%s: mode = roundtrip records no "
                         "trajectory or baseline (drop those keys)", cfg->path);
    return DODE_OK;
}

/* ROOT/NAME, or ROOT/NAME/shard-K-of-N for one shard. */
static int sweep_dir(sweep *sw, const char *root, char *err, size_t errlen)
{
    const dode_sweep_opts *o = sw->opts;
    int rc = dode_sweep_dir(sw->cfg, root, sw->dir, sizeof sw->dir, err, errlen);
    if (rc == DODE_OK && o->shard_n > 0 && (o->shard_k < 1 || o->shard_k > o->shard_n))
        rc = dode_fail(err, errlen, DODE_EINVAL, "shard %zu/%zu: K must be 1 to N",
                       o->shard_k, o->shard_n);
    const size_t used = strlen(sw->dir);
    if (rc == DODE_OK && o->shard_n > 0)
        snprintf(sw->dir + used, sizeof sw->dir - used, "/shard-%zu-of-%zu", o->shard_k,
                 o->shard_n);
    return rc;
}

/* Reads the tables of an earlier run (or of a shard) in dir into sw. */
static int load_tables(sweep *sw, const char *dir, char *err, size_t errlen)
{
    static const char *const files[] = { "runs.csv", "timings.csv", "trajectories.csv" };
    static const char *const headers[] = { csv_header, timing_header, traj_header };
    static const table kinds[] = { TABLE_RUNS, TABLE_TIMINGS, TABLE_TRAJ };
    char path[PATH_LEN + 64];
    int rc = DODE_OK;
    for (int k = 0; k < 3 && rc == DODE_OK; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[k]);
        rc = load_csv(sw, path, headers[k], kinds[k], err, errlen);
    }
    return rc;
}

/* Is name FILE.tmp.XXXXXX for one of the files the sweep writes in its results directory,
 * XXXXXX being mkstemp's six letters or digits (dode_write_atomic's temporary files)? */
static int is_own_temp(const char *name)
{
    static const char *const files[] = {
        "runs.csv", "timings.csv", "trajectories.csv", "error_vs_nfe.dat", "orders.dat",
        "summary.json", "trajectory_error.dat", "trajectory_diff.dat", "config.ini",
    };
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        const size_t n = strlen(files[k]);
        if (strncmp(name, files[k], n) != 0 || strncmp(name + n, ".tmp.", 5) != 0)
            continue;
        const char *x = name + n + 5;
        size_t len = 0;
        while (isalnum((unsigned char)x[len]))
            len++;
        return len == 6 && x[6] == '\0';
    }
    return 0;
}

/* A SIGKILL between a temporary file's creation and its rename leaves FILE.tmp.XXXXXX
 * behind; a resumed run removes its own (the names above, in this run's directory only,
 * never the cache that parallel shards share). One run writes a results directory at a
 * time, so none of them is in use. They hold no results: a failed unlink is ignored. */
static void remove_stale_temps(const char *dir)
{
    char path[PATH_LEN + 258];              /* dir, '/', a d_name of up to 255 bytes */
    DIR *d = opendir(dir);
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        if (!is_own_temp(e->d_name))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d != NULL)
        closedir(d);
}

static int prepare(sweep *sw, char *err, size_t errlen)
{
    const char *root = sw->opts->root ? sw->opts->root : "results";
    int rc = sweep_dir(sw, root, err, errlen);
    if (rc == DODE_OK)
        rc = check_mode(sw->cfg, err, errlen);
    if (rc == DODE_OK)
        rc = load_inputs(sw, err, errlen);
    if (rc == DODE_OK)
        rc = check_grids(sw, err, errlen);
    snprintf(sw->cache, sizeof sw->cache, "%s/cache", root);
    if (rc == DODE_OK)
        rc = mkdir_p(sw->dir, err, errlen);
    if (rc == DODE_OK)
        rc = mkdir_p(sw->cache, err, errlen);
    if (rc == DODE_OK)
        remove_stale_temps(sw->dir);
    if (rc == DODE_OK)
        rc = load_tables(sw, sw->dir, err, errlen);
    char path[PATH_LEN + 64];
    snprintf(path, sizeof path, "%s/config.ini", sw->dir);
    if (rc == DODE_OK)
        rc = dode_write_atomic(path, sw->cfg->text, strlen(sw->cfg->text), err, errlen);
    return rc;
}

/* A zeroed sweep of cfg with its locks; NULL when out of memory. */
static sweep *sweep_new(const dode_config *cfg, const dode_sweep_opts *opts)
{
    sweep *sw = calloc(1, sizeof *sw);
    ref_store *st = calloc(1, sizeof *st);
    if (sw == NULL || st == NULL) {
        free(sw);
        free(st);
        return NULL;
    }
    pthread_mutex_init(&st->lock, NULL);
    pthread_mutex_init(&sw->lock, NULL);
    sw->store = st;
    sw->cfg = cfg;
    sw->opts = opts;
    clock_gettime(CLOCK_MONOTONIC, &sw->t0);
    return sw;
}

static void sweep_free(sweep *sw)
{
    for (size_t i = 0; i < DODE_CFG_MAX_LIST; i++) {
        dode_model_free(sw->models[i]);
        dode_schedule_free(sw->schedules[i]);
    }
    for (size_t i = 0; i < sw->nrows; i++) {
        free(sw->rows[i].line);
        free(sw->rows[i].timing);
        free(sw->rows[i].traj);
    }
    for (size_t i = 0; i < sw->store->nrefs; i++)
        free(sw->store->refs[i].x);
    pthread_mutex_destroy(&sw->store->lock);
    pthread_mutex_destroy(&sw->lock);
    free(sw->store->refs);
    free(sw->store);
    free(sw->rows);
    free(sw);
}

static int is_done(const sweep *sw, size_t idx)
{
    for (size_t i = 0; i < sw->nrows; i++)       /* rows are sorted: could bisect */
        if (sw->rows[i].index == idx)
            return 1;
    return 0;
}

static int in_shard(const sweep *sw, size_t idx)
{
    return sw->opts->shard_n == 0 || idx % sw->opts->shard_n == sw->opts->shard_k - 1;
}

static void report(sweep *sw)
{
    sw->stats.done = sw->stats.skipped + sw->stats.ran;
    sw->stats.elapsed = seconds_since(&sw->t0);
    if (sw->opts->progress != NULL)
        sw->opts->progress(sw->opts->progress_ctx, &sw->stats);
}

/* ---- running the rows: one worker per job, each on its own view ---- */

typedef struct {
    sweep *sw;               /* the shared sweep */
    sweep view;              /* this worker's copy: its own models and schedules if owns */
    int owns;
    pthread_t thread;
} worker;

/* The next row to run (lock held), SIZE_MAX when none is left or the sweep stops. */
static size_t claim(sweep *sw)
{
    const size_t total = dode_config_runs(sw->cfg);
    for (; sw->next < total && sw->rc == DODE_OK; sw->next++) {
        if (!in_shard(sw, sw->next) || is_done(sw, sw->next))
            continue;
        if ((sw->opts->stop && *sw->opts->stop) ||
            (sw->opts->max_rows && sw->claimed >= sw->opts->max_rows)) {
            sw->stats.stopped = 1;
            return SIZE_MAX;
        }
        sw->claimed++;
        return sw->next++;
    }
    return SIZE_MAX;
}

/* Keeps a finished row (lock held; takes line, timing and r->traj) and rewrites the
 * tables with it. */
static int commit(sweep *sw, size_t idx, result *r, char *line, char *timing, char *err,
                  size_t errlen)
{
    int rc = rows_put(sw, idx, line, timing, r->traj);
    if (rc != DODE_OK) {
        free(line);
        free(timing);
        free(r->traj);
        return dode_fail(err, errlen, DODE_ENOMEM, "out of memory keeping a row");
    }
    rc = write_tables(sw, err, errlen);
    if (rc == DODE_OK && r->status != DODE_OK) {
        sw->stats.failed++;
        row_key(sw->cfg, idx, sw->stats.last_failure, sizeof sw->stats.last_failure);
        const size_t used = strlen(sw->stats.last_failure);
        snprintf(sw->stats.last_failure + used, sizeof sw->stats.last_failure - used, ": %s",
                 r->why);
    }
    sw->stats.ran += rc == DODE_OK;
    report(sw);
    return rc;
}

/* A worker: claims rows, runs them on its view without the lock, commits them with it. */
static void *work(void *arg)
{
    worker *w = arg;
    sweep *sw = w->sw;
    char err[1024];
    pthread_mutex_lock(&sw->lock);
    for (size_t idx; (idx = claim(sw)) != SIZE_MAX; ) {
        pthread_mutex_unlock(&sw->lock);
        result r;
        char *line = NULL, *timing = NULL;
        int rc = run_one(&w->view, idx, &r, err, sizeof err);
        if (rc == DODE_OK && format_row(&w->view, idx, &r, &line, &timing) != DODE_OK)
            rc = dode_fail(err, sizeof err, DODE_ENOMEM, "out of memory formatting a row");
        if (rc != DODE_OK)
            free(r.traj);
        pthread_mutex_lock(&sw->lock);
        if (rc == DODE_OK)
            rc = commit(sw, idx, &r, line, timing, err, sizeof err);
        if (rc != DODE_OK && sw->rc == DODE_OK) {
            sw->rc = rc;
            snprintf(sw->err, sizeof sw->err, "%s", err);
        }
    }
    pthread_mutex_unlock(&sw->lock);
    return NULL;
}

/* Worker w's view of sw: the first shares sw's models and schedules, the others load
 * their own from the same specs. */
static int view_init(sweep *sw, worker *w, int own, char *err, size_t errlen)
{
    w->sw = sw;
    w->view = *sw;
    w->owns = own;
    if (!own)
        return DODE_OK;
    memset(w->view.models, 0, sizeof w->view.models);
    memset(w->view.schedules, 0, sizeof w->view.schedules);
    int rc = DODE_OK;
    for (size_t i = 0; i < sw->cfg->nmodels && rc == DODE_OK; i++)
        rc = dode_model_from_spec(sw->cfg->models[i].spec, &w->view.models[i], err, errlen);
    for (size_t i = 0; i < sw->cfg->nschedules && rc == DODE_OK; i++)
        rc = dode_schedule_from_spec(sw->cfg->schedules[i], &w->view.schedules[i], err,
                                     errlen);
    return rc;
}

static void view_free(worker *w)
{
    for (size_t i = 0; w->owns && i < DODE_CFG_MAX_LIST; i++) {
        dode_model_free(w->view.models[i]);
        dode_schedule_free(w->view.schedules[i]);
    }
}

#define MAX_JOBS 256

/* Runs every unfinished row of the shard on opts->jobs threads (this one included). */
static int run_rows(sweep *sw, char *err, size_t errlen)
{
    const size_t pending = sw->stats.total > sw->stats.skipped ? sw->stats.total -
                                                                 sw->stats.skipped : 0;
    size_t jobs = sw->opts->jobs > 1 ? sw->opts->jobs : 1;
    jobs = jobs < MAX_JOBS ? jobs : MAX_JOBS;
    jobs = jobs < pending ? jobs : pending > 0 ? pending : 1;   /* no idle model copies */
    worker *w = calloc(jobs, sizeof *w);
    if (w == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "out of memory for %zu workers", jobs);
    int rc = DODE_OK;
    size_t made = 0, started = 1;
    for (; made < jobs && rc == DODE_OK; made++)
        rc = view_init(sw, &w[made], made > 0, err, errlen);
    for (; rc == DODE_OK && started < jobs; started++)
        if (pthread_create(&w[started].thread, NULL, work, &w[started]) != 0)
            break;                      /* fewer threads: same results, more time */
    if (rc == DODE_OK)
        work(&w[0]);
    for (size_t k = 1; rc == DODE_OK && k < started; k++)
        pthread_join(w[k].thread, NULL);
    for (size_t k = 0; k < made; k++)
        view_free(&w[k]);
    free(w);
    if (rc == DODE_OK && sw->rc != DODE_OK)
        rc = dode_fail(err, errlen, sw->rc, "%s", sw->err);
    return rc;
}

static size_t shard_rows(const sweep *sw)
{
    size_t n = 0;
    for (size_t i = 0; i < dode_config_runs(sw->cfg); i++)
        n += in_shard(sw, i);
    return n;
}

int dode_sweep_run(const dode_config *cfg, const dode_sweep_opts *opts,
                   dode_sweep_stats *stats, char *err, size_t errlen)
{
    dode_sweep_opts defaults;
    dode_sweep_opts_init(&defaults);
    sweep *sw = sweep_new(cfg, opts ? opts : &defaults);
    if (sw == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "out of memory starting the sweep");
    sw->stats.total = shard_rows(sw);
    int rc = prepare(sw, err, errlen);
    if (rc == DODE_OK) {
        report(sw);
        rc = run_rows(sw, err, errlen);
    }
    if (rc == DODE_OK)
        rc = write_tables(sw, err, errlen);     /* also when nothing ran: a fresh header */
    if (rc == DODE_OK)
        rc = write_summary(sw, err, errlen);
    if (stats != NULL)
        *stats = sw->stats;
    sweep_free(sw);
    return rc;
}

/* ---- merging shards ---- */

/* The shard directories of dir ("shard-K-of-N"), sorted by K, into names (caller frees
 * each and the array); all must have the same N. */
static int find_shards(const char *dir, char ***names, size_t *count, char *err,
                       size_t errlen)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return dode_fail(err, errlen, DODE_EIO, "merging shards: cannot open %s: %s", dir,
                         strerror(errno));
    size_t n = 0, cap = 0, first_n = 0;
    char **v = NULL;
    int rc = DODE_OK;
    for (struct dirent *e; rc == DODE_OK && (e = readdir(d)) != NULL; ) {
        size_t k, of;
        char tail;
        if (sscanf(e->d_name, "shard-%zu-of-%zu%c", &k, &of, &tail) != 2)
            continue;
        if (n > 0 && of != first_n) {
            rc = dode_fail(err, errlen, DODE_EINVAL, "merging shards: %s holds shards of %zu "
                           "and of %zu: remove the stale ones", dir, first_n, of);
            break;
        }
        first_n = of;
        char **q = n == cap ? realloc(v, (cap = 2 * cap + 8) * sizeof *v) : v;
        v = q ? q : v;
        if (q == NULL || (v[n] = strdup(e->d_name)) == NULL)
            rc = dode_fail(err, errlen, DODE_ENOMEM, "merging shards: out of memory listing %s", dir);
        n += rc == DODE_OK;
    }
    closedir(d);
    if (rc == DODE_OK && n == 0)
        rc = dode_fail(err, errlen, DODE_ENOTFOUND, "merging shards: %s has no shard-K-of-N "
                       "directory (run with --shard K/N first)", dir);
    *names = v;
    *count = n;
    return rc;
}

/* The config the shard in dir ran: its config.ini, under the name its summary.json gives
 * (so that the merged summary.json names the same file). */
static int shard_config(const char *dir, dode_config *cfg, char *err, size_t errlen)
{
    char path[2 * PATH_LEN + 64], *text = NULL, *js = NULL;
    snprintf(path, sizeof path, "%s/config.ini", dir);
    int rc = slurp(path, &text, err, errlen);
    if (rc == DODE_OK && text == NULL)
        rc = dode_fail(err, errlen, DODE_ENOTFOUND, "merging shards: %s is missing", path);
    snprintf(path + strlen(dir), sizeof path - strlen(dir), "/summary.json");
    if (rc == DODE_OK)
        rc = slurp(path, &js, err, errlen);
    cJSON *root = js ? cJSON_Parse(js) : NULL;
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(root, "config");
    snprintf(path + strlen(dir), sizeof path - strlen(dir), "/config.ini");
    if (rc == DODE_OK)
        rc = dode_config_parse(text, cJSON_IsString(src) ? src->valuestring : path, cfg, err,
                               errlen);
    cJSON_Delete(root);
    free(js);
    free(text);
    return rc;
}

static int merge_into(sweep *sw, const char *dir, char **names, size_t n, char *err,
                      size_t errlen)
{
    char path[2 * PATH_LEN + 64];
    int rc = DODE_OK;
    for (size_t i = 0; i < n && rc == DODE_OK; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        rc = load_tables(sw, path, err, errlen);
    }
    snprintf(path, sizeof path, "%s/config.ini", dir);
    if (rc == DODE_OK)
        rc = dode_write_atomic(path, sw->cfg->text, strlen(sw->cfg->text), err, errlen);
    if (rc == DODE_OK)
        rc = write_tables(sw, err, errlen);
    if (rc == DODE_OK)
        rc = write_summary(sw, err, errlen);
    for (size_t i = 0; i < sw->nrows; i++)
        sw->stats.failed += sw->rows[i].index != SIZE_MAX && !sw->rows[i].ok;
    return rc;
}

int dode_sweep_merge(const char *dir, dode_sweep_stats *stats, char *err, size_t errlen)
{
    char **names = NULL, first[PATH_LEN + 64];
    size_t n = 0;
    dode_config cfg;
    memset(&cfg, 0, sizeof cfg);
    int rc = strlen(dir) < PATH_LEN - 64 ? find_shards(dir, &names, &n, err, errlen)
             : dode_fail(err, errlen, DODE_EINVAL, "merging shards: path too long: %.80s...", dir);
    if (rc == DODE_OK) {
        snprintf(first, sizeof first, "%s/%s", dir, names[0]);
        rc = shard_config(first, &cfg, err, errlen);
    }
    dode_sweep_opts defaults;
    dode_sweep_opts_init(&defaults);
    sweep *sw = rc == DODE_OK ? sweep_new(&cfg, &defaults) : NULL;
    if (rc == DODE_OK && sw == NULL)
        rc = dode_fail(err, errlen, DODE_ENOMEM, "merging shards: out of memory");
    if (sw != NULL) {
        snprintf(sw->dir, sizeof sw->dir, "%s", dir);
        sw->stats.total = dode_config_runs(&cfg);
        rc = merge_into(sw, dir, names, n, err, errlen);
        sw->stats.done = sw->stats.skipped;
        if (stats != NULL)
            *stats = sw->stats;
        sweep_free(sw);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    dode_config_free(&cfg);
    return rc;
}
