/* sweep.c - runs an experiment config row by row and keeps its results files (sweep.h):
 * the sweep's life from start to end (load models and schedules, make every grid, read what
 * an earlier run left, run the rows, write the tables and the summary). The other files:
 * sweep_store.c (the tables and resume), sweep_ref.c (references and their cache),
 * sweep_row.c (one row), sweep_summary.c (summary and plot data), sweep_pool.c (threads,
 * shards, merge); sweep_impl.h is what they share.
 *
 * Invariant: runs.csv on disk always holds exactly the rows finished so far, each complete,
 * in canonical order (sweep_store.c says how). Rows are independent: with opts->jobs > 1
 * they run on threads (sweep_pool.c), and the tables list them in canonical order, so the
 * bytes do not depend on the order. With opts->shard_n = N only rows i with i mod N = K - 1
 * run (into shard-K-of-N/), and exp_sweep_merge loads the shards' tables as a resume
 * would. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sweep_impl.h"

void exp_sweep_opts_init(exp_sweep_opts *o)
{
    memset(o, 0, sizeof *o);
}

coords sweep_decode(const exp_config *cfg, size_t idx)
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
void sweep_row_key(const exp_config *cfg, size_t idx, char *buf, size_t len)
{
    const coords c = sweep_decode(cfg, idx);
    snprintf(buf, len, "%s,%s,%s,%s,%s,%zu,%lu", cfg->models[c.model].name,
             cfg->schedules[c.schedule], exp_config_spacing_name(cfg, c.spacing),
             cfg->solvers[c.solver].name, cfg->solvers[c.solver].options, cfg->nfe[c.nfe],
             cfg->seeds[c.seed]);
}

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

/* The results root may be new, but its parent folder must exist: a mistyped --root
 * (/nonexistent/dir) is refused, not created with every folder above it. */
static int check_root_parent(const char *root, char *err, size_t errlen)
{
    char parent[PATH_LEN];
    struct stat sb;
    snprintf(parent, sizeof parent, "%s", root);
    size_t len = strlen(parent);
    while (len > 1 && parent[len - 1] == '/')            /* "out/" is the folder "out" */
        parent[--len] = '\0';
    char *slash = strrchr(parent, '/');
    if (slash == NULL)
        return DODE_OK;                                  /* inside the working directory */
    slash[slash == parent] = '\0';                      /* "/x" has the parent "/" */
    if (stat(parent, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return dode_fail(err, errlen, DODE_EINVAL, "results root %s: its folder %s does not "
                         "exist (create it first)", root, parent);
    return DODE_OK;
}

int exp_sweep_dir(const exp_config *cfg, const char *root, char *buf, size_t len,
                   char *err, size_t errlen)
{
    const int w = snprintf(buf, len, "%s/%s", root ? root : "results", cfg->name);
    if (w < 0 || (size_t)w >= len || (size_t)w >= PATH_LEN - 32)
        return dode_fail(err, errlen, DODE_EINVAL, "results directory %s/%s: path too long",
                         root ? root : "results", cfg->name);
    return DODE_OK;
}

/* Models, schedules and their fingerprints; the checks only loading can make. config.c
 * loaded every spec once already, so a failure here is a file changed since or memory. */
static int load_inputs(sweep *sw, char *err, size_t errlen)
{
    const exp_config *cfg = sw->cfg;
    char why[512];
    size_t len;
    for (size_t i = 0; i < cfg->nmodels; i++) {
        const exp_cfg_model *cm = &cfg->models[i];
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
        if (sweep_model_fingerprint(sw->models[i], cm->spec, &sw->model_fp[i]) != DODE_OK)
            return dode_fail(err, errlen, DODE_ESOLVER, "model %s: eps failed at the probe "
                             "points", cm->name);
    }
    for (size_t i = 0; i < cfg->nschedules; i++) {
        int rc = dode_schedule_from_spec(cfg->schedules[i], &sw->schedules[i], why, sizeof why);
        if (rc != DODE_OK)
            return dode_fail(err, errlen, rc, "%s: schedule %s: %s", cfg->path,
                             cfg->schedules[i], why);
        sw->schedule_fp[i] = sweep_schedule_fingerprint(sw->schedules[i]);
    }
    return DODE_OK;
}

/* Every grid of the sweep once, before any run: a bad combination fails now. config.c
 * made each (schedule, spacing) grid at one step; the step counts of each (solver, nfe)
 * are only tried here (the ddim spacings bound them by the schedule's length). */
static int check_grids(const sweep *sw, char *err, size_t errlen)
{
    const exp_config *cfg = sw->cfg;
    const size_t total = exp_config_runs(cfg);
    for (size_t idx = 0; idx < total; idx += cfg->nseeds) {
        const coords c = sweep_decode(cfg, idx);
        dode_grid g = { 0 };
        char why[512];
        int rc = sweep_make_grid(sw, &c, &g, why, sizeof why);
        dode_grid_free(&g);
        if (rc != DODE_OK)
            return dode_fail(err, errlen, rc, "%s: schedule %s, spacing %s, solver %s, nfe "
                             "%zu: %s", cfg->path, cfg->schedules[c.schedule],
                             exp_config_spacing_name(cfg, c.spacing),
                             cfg->solvers[c.solver].name, cfg->nfe[c.nfe], why);
    }
    return DODE_OK;
}

/* Checks that only make sense for the whole config: the roundtrip mode's limits.
 * (config.c does not make them; they belong there with its other cross-key checks.) */
static int check_mode(const exp_config *cfg, char *err, size_t errlen)
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
    const exp_sweep_opts *o = sw->opts;
    int rc = exp_sweep_dir(sw->cfg, root, sw->dir, sizeof sw->dir, err, errlen);
    if (rc == DODE_OK && o->shard_n > 0 && (o->shard_k < 1 || o->shard_k > o->shard_n))
        rc = dode_fail(err, errlen, DODE_EINVAL, "shard %zu/%zu: K must be 1 to N",
                       o->shard_k, o->shard_n);
    const size_t used = strlen(sw->dir);
    if (rc == DODE_OK && o->shard_n > 0)
        snprintf(sw->dir + used, sizeof sw->dir - used, "/shard-%zu-of-%zu", o->shard_k,
                 o->shard_n);
    return rc;
}

/* Two `diffode run`s on one directory used to run every row twice and rewrite each other's
 * tables (issue 18). flock(2) on DIR/.lock makes the second one fail at once; the kernel
 * drops the lock when the process ends however it ends (SIGKILL included), so a stale
 * lock file never blocks a later run. Readers (diffode plot) take no lock: every table is
 * replaced by an atomic rename, so they see an old or a new file, never a torn one. */
int sweep_lock_dir(sweep *sw, char *err, size_t errlen)
{
    char path[PATH_LEN + 16];
    snprintf(path, sizeof path, "%s/.lock", sw->dir);
    const int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return dode_fail(err, errlen, DODE_EIO, "cannot create the lock file %s: %s", path,
                         strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return dode_fail(err, errlen, DODE_EIO, "results directory %s is in use by "
                             "another diffode run or merge (it holds %s); wait for it to "
                             "finish, or give another --root", sw->dir, path);
        return dode_fail(err, errlen, DODE_EIO, "cannot lock %s: %s", path, strerror(e));
    }
    sw->lock_fd = fd;
    return DODE_OK;
}

static int prepare(sweep *sw, char *err, size_t errlen)
{
    const char *root = sw->opts->root ? sw->opts->root : "results";
    int rc = check_root_parent(root, err, errlen);
    if (rc == DODE_OK)
        rc = sweep_dir(sw, root, err, errlen);
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
        rc = sweep_lock_dir(sw, err, errlen);     /* before anything there is touched */
    if (rc == DODE_OK)
        rc = mkdir_p(sw->cache, err, errlen);
    if (rc == DODE_OK)
        sweep_remove_stale_temps(sw->dir);
    if (rc == DODE_OK)
        rc = sweep_load_tables(sw, sw->dir, err, errlen);
    char path[PATH_LEN + 64];
    snprintf(path, sizeof path, "%s/config.ini", sw->dir);
    if (rc == DODE_OK)
        rc = dode_write_atomic(path, sw->cfg->text, strlen(sw->cfg->text), err, errlen);
    return rc;
}

/* A zeroed sweep of cfg with its locks; NULL when out of memory. */
sweep *sweep_new(const exp_config *cfg, const exp_sweep_opts *opts)
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
    sw->lock_fd = -1;
    sw->cfg = cfg;
    sw->opts = opts;
    clock_gettime(CLOCK_MONOTONIC, &sw->t0);
    return sw;
}

void sweep_free(sweep *sw)
{
    for (size_t i = 0; i < EXP_CFG_MAX_LIST; i++) {
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
    if (sw->lock_fd >= 0)
        close(sw->lock_fd);             /* releases the flock */
    pthread_mutex_destroy(&sw->store->lock);
    pthread_mutex_destroy(&sw->lock);
    free(sw->store->refs);
    free(sw->store);
    free(sw->rows);
    free(sw);
}

int exp_sweep_run(const exp_config *cfg, const exp_sweep_opts *opts,
                   exp_sweep_stats *stats, char *err, size_t errlen)
{
    exp_sweep_opts defaults;
    exp_sweep_opts_init(&defaults);
    sweep *sw = sweep_new(cfg, opts ? opts : &defaults);
    if (sw == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "out of memory starting the sweep");
    sw->stats.total = sweep_shard_rows(sw);
    int rc = prepare(sw, err, errlen);
    if (rc == DODE_OK) {
        sweep_report(sw);
        rc = sweep_run_rows(sw, err, errlen);
    }
    if (rc == DODE_OK)
        rc = sweep_write_tables(sw, err, errlen);   /* also when nothing ran: a fresh header */
    if (rc == DODE_OK)
        rc = sweep_write_summary(sw, err, errlen);
    if (stats != NULL)
        *stats = sw->stats;
    sweep_free(sw);
    return rc;
}
