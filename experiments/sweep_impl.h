/* sweep_impl.h - what the files of the sweep share (sweep.c, sweep_store.c, sweep_ref.c,
 * sweep_row.c, sweep_summary.c, sweep_pool.c); sweep.h stays the interface cmd_run.c uses.
 *
 * A sweep is the config it runs, the models and schedules it loaded, the rows finished so
 * far (old and new, in canonical order), the reference store, and the lock that guards
 * them when rows run on threads. Every function here takes a loaded config
 * (exp_config_load): config.c has checked its values, names and grids, and the sweep
 * relies on that (noted where it does). */
#ifndef DIFFODE_EXPERIMENTS_SWEEP_IMPL_H
#define DIFFODE_EXPERIMENTS_SWEEP_IMPL_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include "diffode/diffode.h"
#include "cli.h"
#include "sweep.h"

#define PATH_LEN 1024           /* results and cache directories */
#define LINE_LEN 1024           /* a row's key */
#define KEY_FIELDS 7            /* model,schedule,spacing,solver,options,nfe,seed */

/* A finished row as the tables hold it (sweep_store.c). */
typedef struct {
    size_t index;            /* canonical index in this sweep; SIZE_MAX: another config's */
    char *line;              /* runs.csv line without its newline */
    char *timing;            /* timings.csv line, or NULL */
    char *traj;              /* trajectories.csv lines, each ending in '\n', or NULL */
    double nfe_used, rmse;   /* parsed back for the summary (rmse NaN unless status ok) */
    int ok;                  /* status column is "ok" */
} row;

/* One rk8pd reference in memory: its cache key and its len values. */
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
    const exp_config *cfg;
    const exp_sweep_opts *opts;
    char dir[PATH_LEN], cache[PATH_LEN];
    dode_model *models[EXP_CFG_MAX_LIST];
    dode_schedule *schedules[EXP_CFG_MAX_LIST];
    unsigned long long model_fp[EXP_CFG_MAX_LIST], schedule_fp[EXP_CFG_MAX_LIST];
    row *rows;
    size_t nrows, caprows;
    ref_store *store;
    exp_sweep_stats stats;
    struct timespec t0;
    pthread_mutex_t lock;
    size_t next, claimed;    /* the next canonical index to consider; rows handed out */
    struct timespec written; /* when the tables were last rewritten (sweep_pool.c) */
    double write_seconds;    /* and how long that rewrite took */
    int unwritten;           /* rows kept since then, still to be written */
    int rc;                  /* the first worker failure (setup, memory, files) */
    char err[1024];          /* and its message */
    int lock_fd;             /* dir/.lock, held with flock(LOCK_EX) while writing; or -1 */
} sweep;

/* The coordinates of canonical row idx: seed varies fastest, then nfe, solver, spacing,
 * schedule, model. */
typedef struct {
    size_t model, schedule, spacing, solver, nfe, seed;
} coords;

/* A growing text (sweep_sb_add); oom stays set once an allocation failed. */
typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} strbuf;

/* What one row measured (sweep_row.c), before it becomes a runs.csv line. */
typedef struct {
    size_t steps, nfe_used;
    double s0, s1, seconds;
    int status;
    char why[256];           /* the solver's message when status != DODE_OK */
    double rmse, max_err, nll, fd, sw2;
    double diff;             /* RMSE of the final state against the baseline solver's */
    double w2_exact, kl_exact, mode_tv, logp_gap, energy;   /* vs the exact law (sweep_exact.c) */
    const char *ref_kind;
    char *traj;              /* trajectories.csv lines (malloc'ed) with trajectory = yes */
} result;

/* sweep.c: the coordinates and the key ("model,...,seed") of canonical row idx; the sweep
 * object (its locks, a zeroed stats and row table) and its release. */
coords sweep_decode(const exp_config *cfg, size_t idx);
void sweep_row_key(const exp_config *cfg, size_t idx, char *buf, size_t len);
sweep *sweep_new(const exp_config *cfg, const exp_sweep_opts *opts);
void sweep_free(sweep *sw);

/* sweep_store.c: the tables (runs.csv, timings.csv, trajectories.csv) in memory and on
 * disk, the CSV helpers the summary needs, and the text buffer every writer uses. */
const char *sweep_num(double v, char *buf, size_t len);
int sweep_slurp(const char *path, char **text, char *err, size_t errlen);
/* sweep.c: takes the exclusive lock on sw->dir (flock on sw->dir/.lock, not waiting), kept
 * until sweep_free: one writer per results directory. DODE_EIO naming the directory when
 * another process holds it. */
int sweep_lock_dir(sweep *sw, char *err, size_t errlen);
void sweep_csv_field(const char *line, size_t k, char *buf, size_t len);
int sweep_rows_put(sweep *sw, size_t index, char *line, char *timing, char *traj);
void sweep_sb_add(strbuf *b, const char *s);
int sweep_write_text(const char *dir, const char *file, strbuf *b, char *err, size_t errlen);
int sweep_write_tables(sweep *sw, char *err, size_t errlen);
int sweep_load_tables(sweep *sw, const char *dir, char *err, size_t errlen);
void sweep_remove_stale_temps(const char *dir);
int sweep_format_row(const sweep *sw, size_t idx, const result *r, char **line,
                     char **timing);

/* sweep_ref.c: fingerprints of what a model and a schedule compute (the cache key's
 * inputs), and the reference flow (exact, or rk8pd cached in memory and ROOT/cache). */
int sweep_model_fingerprint(const dode_model *m, const char *spec, unsigned long long *fp);
unsigned long long sweep_schedule_fingerprint(const dode_schedule *s);
int sweep_ref_is_exact(const sweep *sw, size_t im);
int sweep_ref_flow(const sweep *sw, size_t im, size_t ish, size_t n, double s0, double s1,
                   const double *xbar_from, double *xbar_to, char *err, size_t errlen);
int sweep_reference(sweep *sw, size_t im, size_t ish, size_t n, double s0, double s1,
                    const double *xbar_T, double *out, const char **kind, char *err,
                    size_t errlen);

/* sweep_row.c: the grid of row c, and one row run and measured. */
int sweep_make_grid(const sweep *sw, const coords *c, dode_grid *g, char *err, size_t errlen);
int sweep_run_one(sweep *sw, size_t idx, result *r, char *err, size_t errlen);

/* sweep_exact.c: the row's errors against the exact data law at its end (w2_exact ...
 * energy; NaN where they do not apply); only memory failures are returned. */
int sweep_exact_metrics(sweep *sw, const coords *c, const dode_grid *g, const double *xbar,
                        result *r, char *err, size_t errlen);

/* sweep_summary.c: summary.json, error_vs_nfe.dat, orders.dat and the trajectory tables. */
int sweep_write_summary(sweep *sw, char *err, size_t errlen);

/* sweep_pool.c: progress, the worker threads over the unfinished rows, shard counts. */
void sweep_report(sweep *sw);
int sweep_run_rows(sweep *sw, char *err, size_t errlen);
size_t sweep_shard_rows(const sweep *sw);

#endif
