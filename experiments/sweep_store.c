/* sweep_store.c - the sweep's tables: rows held in memory in canonical order, read back
 * from runs.csv, timings.csv and trajectories.csv to resume, and written out whole.
 *
 * Invariant: runs.csv on disk always holds complete rows in canonical order, all of those
 * finished up to the last rewrite. The whole table is rewritten to a temp file and renamed
 * over the old one (dode_write_atomic) as rows finish, paced by sweep_pool.c, so an
 * interruption at any instant leaves a complete table, and a rerun resumes by skipping the
 * rows it finds. A rewrite costs O(rows); sweeps have hundreds of rows, not millions. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diffode/fileio.h"
#include "sweep_impl.h"

/* Largest results table read back (runs.csv, summary.json): 1 GiB, some 5 million rows. */
static const size_t SWEEP_MAX_TABLE = (size_t)1 << 30;

#define CSV_FIELDS 25

static const char csv_header[] =
    "model,schedule,spacing,solver,options,nfe,seed,n,steps,nfe_used,sigma_start,sigma_end,"
    "status,rmse,max_err,nll,fd,sw2,reference,diff_baseline,w2_exact,kl_exact,mode_tv,logp_gap,"
    "energy";

static const char timing_header[] = "model,schedule,spacing,solver,options,nfe,seed,seconds";

static const char traj_header[] =
    "model,schedule,spacing,solver,options,nfe,seed,point,sigma,rmse,diff_baseline";

/* The three tables: runs.csv (one line per row), timings.csv (one, replaced on rerun) and
 * trajectories.csv (one per grid point, only with trajectory = yes). */
typedef enum { TABLE_RUNS, TABLE_TIMINGS, TABLE_TRAJ } table;

/* A number as the tables print it: 11 significant digits, or "nan". */
const char *sweep_num(double v, char *buf, size_t len)
{
    if (isnan(v))
        return "nan";
    snprintf(buf, len, "%.10e", v);
    return buf;
}

/* The whole of a (small) text file; *text NULL and DODE_OK if it does not exist. */
int sweep_slurp(const char *path, char **text, char *err, size_t errlen)
{
    *text = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT)
        return DODE_OK;
    size_t len = 0;     /* a regular file (fileio.h); the tables stay far below the cap */
    return dode_file_read(path, SWEEP_MAX_TABLE, text, &len, err, errlen);
}

/* Field k (0-based) of a CSV line into buf; fields hold no commas or quotes. */
void sweep_csv_field(const char *line, size_t k, char *buf, size_t len)
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
    sweep_csv_field(r->line, 9, f, sizeof f);
    r->nfe_used = strtod(f, NULL);
    sweep_csv_field(r->line, 12, f, sizeof f);
    const int ok = strcmp(f, "ok") == 0;
    sweep_csv_field(r->line, 13, f, sizeof f);
    r->rmse = ok ? strtod(f, NULL) : NAN;
    r->ok = ok;
}

/* Inserts (or replaces, by index) a row, keeping rows sorted by index; takes line. */
int sweep_rows_put(sweep *sw, size_t index, char *line, char *timing, char *traj)
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
static size_t index_of_key(const exp_config *cfg, const char *line, size_t klen)
{
    char key[LINE_LEN];
    const size_t total = exp_config_runs(cfg);
    for (size_t i = 0; i < total; i++) {
        sweep_row_key(cfg, i, key, sizeof key);
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
    int rc = sweep_rows_put(sw, index, copy, NULL, NULL);
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
    int rc = sweep_slurp(path, &text, err, errlen);
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

void sweep_sb_add(strbuf *b, const char *s)
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

int sweep_write_text(const char *dir, const char *file, strbuf *b, char *err, size_t errlen)
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
int sweep_write_tables(sweep *sw, char *err, size_t errlen)
{
    strbuf b = { 0 };
    int rc = DODE_OK;
    if (sw->cfg->trajectory) {
        sweep_sb_add(&b, traj_header);
        sweep_sb_add(&b, "\n");
        for (size_t i = 0; i < sw->nrows; i++)
            if (sw->rows[i].traj != NULL)
                sweep_sb_add(&b, sw->rows[i].traj);
        rc = sweep_write_text(sw->dir, "trajectories.csv", &b, err, errlen);
    }
    if (rc != DODE_OK)
        return rc;
    sweep_sb_add(&b, timing_header);
    sweep_sb_add(&b, "\n");
    for (size_t i = 0; i < sw->nrows; i++)
        if (sw->rows[i].timing != NULL) {
            sweep_sb_add(&b, sw->rows[i].timing);
            sweep_sb_add(&b, "\n");
        }
    rc = sweep_write_text(sw->dir, "timings.csv", &b, err, errlen);
    if (rc != DODE_OK)
        return rc;
    sweep_sb_add(&b, csv_header);
    sweep_sb_add(&b, "\n");
    for (size_t i = 0; i < sw->nrows; i++) {
        sweep_sb_add(&b, sw->rows[i].line);
        sweep_sb_add(&b, "\n");
    }
    return sweep_write_text(sw->dir, "runs.csv", &b, err, errlen);
}

/* Reads the tables of an earlier run (or of a shard) in dir into sw. */
int sweep_load_tables(sweep *sw, const char *dir, char *err, size_t errlen)
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
        "captions.txt", "w2_exact_vs_nfe.dat", "kl_exact_vs_nfe.dat", "mode_tv_vs_nfe.dat",
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
void sweep_remove_stale_temps(const char *dir)
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

/* The runs.csv and timings.csv lines of a finished row (malloc'ed). */
int sweep_format_row(const sweep *sw, size_t idx, const result *r, char **line,
                     char **timing)
{
    char key[LINE_LEN], b[11][32], full[2 * LINE_LEN];
    sweep_row_key(sw->cfg, idx, key, sizeof key);
    snprintf(full, sizeof full, "%s,%zu,%zu,%zu,%.17g,%.17g,%s,%s,%s,%s,%s,%s,%s,%s,"
             "%s,%s,%s,%s,%s", key,
             sw->cfg->samples, r->steps, r->nfe_used, r->s0, r->s1,
             r->status == DODE_OK ? "ok" : dode_strerror(r->status),
             sweep_num(r->rmse, b[0], 32), sweep_num(r->max_err, b[1], 32),
             sweep_num(r->nll, b[2], 32), sweep_num(r->fd, b[3], 32),
             sweep_num(r->sw2, b[4], 32), r->ref_kind, sweep_num(r->diff, b[5], 32),
             sweep_num(r->w2_exact, b[6], 32), sweep_num(r->kl_exact, b[7], 32),
             sweep_num(r->mode_tv, b[8], 32), sweep_num(r->logp_gap, b[9], 32),
             sweep_num(r->energy, b[10], 32));
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
