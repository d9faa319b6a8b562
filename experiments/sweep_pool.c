/* sweep_pool.c - running the unfinished rows and joining shards.
 *
 * With jobs > 1 every worker runs rows on its own shallow copy of the sweep (a "view")
 * whose models and schedules are its own objects (the MLP is not thread-safe); rows are
 * claimed and committed (written to disk) under the sweep's lock, in any order, and the
 * tables list them in canonical order. exp_sweep_merge joins the shard-K-of-N/ tables of
 * a sharded run as a resume would read them. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sweep_impl.h"

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
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

void sweep_report(sweep *sw)
{
    sw->stats.done = sw->stats.skipped + sw->stats.ran;
    sw->stats.elapsed = seconds_since(&sw->t0);
    if (sw->opts->progress != NULL)
        sw->opts->progress(sw->opts->progress_ctx, &sw->stats);
}

typedef struct {
    sweep *sw;               /* the shared sweep */
    sweep view;              /* this worker's copy: its own models and schedules if owns */
    int owns;
    pthread_t thread;
} worker;

/* The next row to run (lock held), SIZE_MAX when none is left or the sweep stops. */
static size_t claim(sweep *sw)
{
    const size_t total = exp_config_runs(sw->cfg);
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

/* How often the tables are rewritten while rows finish: each rewrite is O(rows) with an
 * fsync, done under the lock, so rewriting after every row serialised --jobs on it. A
 * rewrite now waits until WRITE_RATIO times its own last duration has passed since it
 * ended, so writing holds the lock at most 1/(1 + WRITE_RATIO) of the time, and rows still
 * reach the disk within a few milliseconds of each other on a small table. A SIGKILL
 * loses at most the rows of that wait (they rerun on resume); a normal end, a stop
 * (Ctrl-C) or a failure writes every kept row (flush in sweep_run_rows). */
#define WRITE_RATIO 10.0

/* Rewrites the tables if rows were kept since the last write (lock held). */
static int flush(sweep *sw, char *err, size_t errlen)
{
    if (!sw->unwritten)
        return DODE_OK;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    const int rc = sweep_write_tables(sw, err, errlen);
    sw->write_seconds = seconds_since(&start);
    clock_gettime(CLOCK_MONOTONIC, &sw->written);
    sw->unwritten = rc != DODE_OK;
    return rc;
}

/* Keeps a finished row (lock held; takes line, timing and r->traj) and rewrites the
 * tables when their last rewrite is WRITE_RATIO of its own durations in the past. */
static int commit(sweep *sw, size_t idx, result *r, char *line, char *timing, char *err,
                  size_t errlen)
{
    int rc = sweep_rows_put(sw, idx, line, timing, r->traj);
    if (rc != DODE_OK) {
        free(line);
        free(timing);
        free(r->traj);
        return dode_fail(err, errlen, DODE_ENOMEM, "out of memory keeping a row");
    }
    sw->unwritten = 1;
    if (seconds_since(&sw->written) >= WRITE_RATIO * sw->write_seconds)
        rc = flush(sw, err, errlen);
    if (rc == DODE_OK && r->status != DODE_OK) {
        sw->stats.failed++;
        sweep_row_key(sw->cfg, idx, sw->stats.last_failure, sizeof sw->stats.last_failure);
        const size_t used = strlen(sw->stats.last_failure);
        snprintf(sw->stats.last_failure + used, sizeof sw->stats.last_failure - used, ": %s",
                 r->why);
    }
    sw->stats.ran += rc == DODE_OK;
    sweep_report(sw);
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
        int rc = sweep_run_one(&w->view, idx, &r, err, sizeof err);
        if (rc == DODE_OK && sweep_format_row(&w->view, idx, &r, &line, &timing) != DODE_OK)
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
    for (size_t i = 0; w->owns && i < EXP_CFG_MAX_LIST; i++) {
        dode_model_free(w->view.models[i]);
        dode_schedule_free(w->view.schedules[i]);
    }
}

#define MAX_JOBS 256

/* Runs every unfinished row of the shard on opts->jobs threads (this one included). */
int sweep_run_rows(sweep *sw, char *err, size_t errlen)
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
    char ferr[1024];                    /* the kept rows reach the disk, also on a failure */
    const int frc = flush(sw, ferr, sizeof ferr);
    if (rc == DODE_OK && sw->rc != DODE_OK)
        rc = dode_fail(err, errlen, sw->rc, "%s", sw->err);
    if (rc == DODE_OK && frc != DODE_OK)
        rc = dode_fail(err, errlen, frc, "%s", ferr);
    return rc;
}

size_t sweep_shard_rows(const sweep *sw)
{
    size_t n = 0;
    for (size_t i = 0; i < exp_config_runs(sw->cfg); i++)
        n += in_shard(sw, i);
    return n;
}

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
            rc = dode_fail(err, errlen, DODE_ENOMEM, "merging shards: out of memory listing %s",
                           dir);
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
static int shard_config(const char *dir, exp_config *cfg, char *err, size_t errlen)
{
    char path[2 * PATH_LEN + 64], *text = NULL, *js = NULL;
    snprintf(path, sizeof path, "%s/config.ini", dir);
    int rc = sweep_slurp(path, &text, err, errlen);
    if (rc == DODE_OK && text == NULL)
        rc = dode_fail(err, errlen, DODE_ENOTFOUND, "merging shards: %s is missing", path);
    snprintf(path + strlen(dir), sizeof path - strlen(dir), "/summary.json");
    if (rc == DODE_OK)
        rc = sweep_slurp(path, &js, err, errlen);
    cJSON *root = js ? cJSON_Parse(js) : NULL;
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(root, "config");
    snprintf(path + strlen(dir), sizeof path - strlen(dir), "/config.ini");
    if (rc == DODE_OK)
        rc = exp_config_parse(text, cJSON_IsString(src) ? src->valuestring : path, cfg, err,
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
    int rc = sweep_lock_dir(sw, err, errlen);       /* not while a run writes there */
    for (size_t i = 0; i < n && rc == DODE_OK; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        rc = sweep_load_tables(sw, path, err, errlen);
    }
    snprintf(path, sizeof path, "%s/config.ini", dir);
    if (rc == DODE_OK)
        rc = dode_write_atomic(path, sw->cfg->text, strlen(sw->cfg->text), err, errlen);
    if (rc == DODE_OK)
        rc = sweep_write_tables(sw, err, errlen);
    if (rc == DODE_OK)
        rc = sweep_write_summary(sw, err, errlen);
    for (size_t i = 0; i < sw->nrows; i++)
        sw->stats.failed += sw->rows[i].index != SIZE_MAX && !sw->rows[i].ok;
    return rc;
}

int exp_sweep_merge(const char *dir, exp_sweep_stats *stats, char *err, size_t errlen)
{
    char **names = NULL, first[PATH_LEN + 64];
    size_t n = 0;
    exp_config cfg;
    memset(&cfg, 0, sizeof cfg);
    int rc = strlen(dir) < PATH_LEN - 64 ? find_shards(dir, &names, &n, err, errlen)
             : dode_fail(err, errlen, DODE_EINVAL, "merging shards: path too long: %.80s...", dir);
    if (rc == DODE_OK) {
        snprintf(first, sizeof first, "%s/%s", dir, names[0]);
        rc = shard_config(first, &cfg, err, errlen);
    }
    exp_sweep_opts defaults;
    exp_sweep_opts_init(&defaults);
    sweep *sw = rc == DODE_OK ? sweep_new(&cfg, &defaults) : NULL;
    if (rc == DODE_OK && sw == NULL)
        rc = dode_fail(err, errlen, DODE_ENOMEM, "merging shards: out of memory");
    if (sw != NULL) {
        snprintf(sw->dir, sizeof sw->dir, "%s", dir);
        sw->stats.total = exp_config_runs(&cfg);
        rc = merge_into(sw, dir, names, n, err, errlen);
        sw->stats.done = sw->stats.skipped;
        if (stats != NULL)
            *stats = sw->stats;
        sweep_free(sw);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    exp_config_free(&cfg);
    return rc;
}
