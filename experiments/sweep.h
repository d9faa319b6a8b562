/* sweep.h - running an experiment config (config.h): every (model, schedule, spacing,
 * solver, nfe, seed) row, its metrics against a reference, and the results files.
 *
 * Files under ROOT/NAME/ (ROOT is "results" for `diffode run`):
 *   runs.csv      one row per run, in the sweep's canonical order (model, schedule,
 *                 spacing, solver, nfe, seed nested in that order); deterministic values
 *                 only, so the same config always writes the same bytes
 *   timings.csv   the same keys with wall time in seconds (kept apart so that runs.csv of
 *                 an interrupted-and-resumed sweep is byte-identical to an uninterrupted one)
 *   summary.json  per solver line: points, observed order, pairwise orders, and with
 *                 several seeds the 95% t-intervals of the distribution metrics; best
 *                 error per NFE
 *   config.ini    a copy of the config that produced them
 * and ROOT/cache/<hash>.npy: reference solutions (gsl:rk8pd), keyed by an FNV-1a hash of
 * their inputs, shared by every experiment under ROOT.
 *
 * Every file is written atomically (dode_write_atomic: a temp file renamed into place) as
 * rows finish (paced, sweep_pool.c; every row at the end, on a stop or a failure), so
 * killing the process at any moment leaves complete tables that hold all but the last few
 * milliseconds of rows; running again reads runs.csv and skips the rows it holds. */
#ifndef DIFFODE_EXPERIMENTS_SWEEP_H
#define DIFFODE_EXPERIMENTS_SWEEP_H

#include <signal.h>
#include <stddef.h>

#include "config.h"

typedef struct {
    size_t total;      /* rows in the sweep */
    size_t done;       /* rows finished so far (skipped + run) */
    size_t skipped;    /* rows found finished in runs.csv */
    size_t ran;        /* rows run now */
    size_t failed;     /* rows whose solve failed (status column is not "ok") */
    double elapsed;    /* seconds since the sweep started */
    int stopped;       /* 1 if max_rows or stop ended the sweep early */
    char last_failure[512];  /* "key: message" of the last failed row, "" if none */
} exp_sweep_stats;

typedef struct {
    const char *root;            /* results root; NULL = "results" */
    size_t max_rows;             /* stop after running this many rows; 0 = no limit */
    const volatile sig_atomic_t *stop;  /* if set (e.g. by SIGINT), stop before the next row */
    /* called after every finished row (and once at the start); may be NULL */
    void (*progress)(void *ctx, const exp_sweep_stats *stats);
    void *progress_ctx;
    /* Scale-out: with shard_n > 0, run only the rows i (canonical index, from 0) with
     * i % shard_n == shard_k - 1 (1 <= shard_k <= shard_n: round-robin, so every shard gets
     * every NFE and costs about the same), into ROOT/NAME/shard-K-of-N/; exp_sweep_merge
     * joins the shards. 0 = the whole sweep into ROOT/NAME/. */
    size_t shard_k, shard_n;
    /* Rows run at once on threads (each with its own model and schedule objects: the MLP
     * is not thread-safe); 0 or 1 = serial. The files are the same bytes for any value
     * (rows are kept in canonical order; timings.csv aside). */
    size_t jobs;
} exp_sweep_opts;

void exp_sweep_opts_init(exp_sweep_opts *o);

/* Runs (or resumes) the sweep of cfg. Before any run it loads every model and schedule,
 * makes every grid, and reads runs.csv if present (a header that differs from this
 * version's is an error naming the file). A failed solve is not an error of the sweep: its
 * row records the status and NaN metrics. Returns DODE_OK (also when stopped early: see
 * stats->stopped), or a status for a setup or file failure. stats may be NULL. */
int exp_sweep_run(const exp_config *cfg, const exp_sweep_opts *opts,
                   exp_sweep_stats *stats, char *err, size_t errlen);

/* Joins the shards dir/shard-K-of-N/ (written by exp_sweep_run with shard_n = N) into
 * dir/runs.csv, timings.csv, trajectories.csv, summary.json and config.ini, the same bytes
 * (timings aside) as one unsharded run of the config. The config is the shards' copy
 * (shard-K-of-N/config.ini), named as their summary.json names it, and is parsed again,
 * so run it from the directory the shards ran from. Only the shards' rows are merged (an
 * old dir/runs.csv is replaced). Fails with DODE_ENOTFOUND if dir has no shard, DODE_EINVAL
 * if the shards disagree on N, DODE_EIO / DODE_EFORMAT on unreadable files. stats->total
 * is the sweep's rows, stats->done the merged ones (fewer when a shard is missing or
 * unfinished: the summary then covers what is there). */
int exp_sweep_merge(const char *dir, exp_sweep_stats *stats, char *err, size_t errlen);

/* ROOT/NAME into buf (for cmd_run's messages and plots). */
int exp_sweep_dir(const exp_config *cfg, const char *root, char *buf, size_t len,
                   char *err, size_t errlen);

/* The 64-bit FNV-1a hash of len bytes, continuing from h (start with
 * EXP_FNV_OFFSET): the cache key of references. */
#define EXP_FNV_OFFSET 0xcbf29ce484222325ULL
unsigned long long exp_fnv1a(unsigned long long h, const void *bytes, size_t len);

#endif
