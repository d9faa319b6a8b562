/* cmd_sample.c - `diffode sample` (one sampling run with a named solver) and `diffode
 * reference` (the same run solved by gsl:rk8pd at rtol = atol = 1e-12 in log sigma).
 *
 * A run: x_T ~ N(0, I) from a seeded mt19937 (or --x-T FILE.npy), xbar_T = x_T
 * sqrt(1 + sigma_T^2), the solver from sigma_T down the grid to sigma_0, x_0 = xbar /
 * sqrt(1 + sigma_0^2) (MATH.md section 4). It prints exactly one JSON line on stdout:
 * the run's settings and cost (nfe counted by the ODE itself, steps, seconds, accepted,
 * rejected) and, where known, the error of xbar(sigma_0): against the model's exact flow
 * (rmse, max_err) and, with --vs-reference, against the reference solve (ref_rmse,
 * ref_max_err, ref_nfe). With --eta > 0 (stochastic DDIM) these still compare with the
 * deterministic flow, so they measure the noise as much as the solver. Stochastic solvers
 * draw from the Philox source keyed by --seed (noise.h) or from --noise FILE.npy;
 * noise_draws says how many (n, dim) draws the run took, --noise-out writes them.
 *
 * Invariant: outputs (--out, --trajectory) are written only after everything else has
 * succeeded, each atomically; a failed run leaves no output file behind. Exit status 0,
 * 1 (run failure: files, numerics) or 2 (bad arguments), with "diffode CMD: why" on
 * stderr.
 *
 * Trajectory CSV: one row per (recorded point, sample): step,sample,sigma,t,xbar_0..,
 * x_0.. with step 0 the start. Adaptive solvers record every accepted step, up to
 * TRAJ_ADAPTIVE_CAP points (the JSON's trajectory_points says how many were written). */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "cli.h"
#include "commands.h"
#include "cli_guidance.h"
#include "grid_file.h"
#include "diffode/diffode.h"
#include "metrics.h"

/* DPM-Solver-2 (singlestep, 2 NFE per step): the official code's default order. */
#define DEFAULT_SOLVER "dpm2"
#define DEFAULT_NFE 20
/* `reference` runs rk8pd through the ordinary run path, not dode_reference: it takes the
 * sample flags (--variable, --rtol, --max-steps) and records --trajectory. */
#define REFERENCE_SOLVER "gsl:rk8pd"
#define REFERENCE_TOL DODE_REFERENCE_TOL
#define TRAJ_ADAPTIVE_CAP 10001
#define TRAJ_MAX_DOUBLES ((size_t)1 << 27)    /* 1 GiB of trajectory in memory */

enum { FOR_SAMPLE = 1u, FOR_REFERENCE = 2u, FOR_BOTH = 3u };

typedef struct {
    const char *model, *schedule, *solver, *spacing, *grid, *x_T, *out, *trajectory;
    const char *noise, *noise_out;      /* --noise, --noise-out (stochastic solvers) */
    cli_guidance_flags guide;           /* --class and the guidance flags (cli_guidance.h) */
    size_t nfe, steps, n, seed;
    double rho, t_max, t_min;
    int to_zero, vs_reference;
    dode_solver_opts opts;      /* the solver options (options.h), given ones marked */
} sample_args;

#define ARG(field) offsetof(sample_args, field)
static const cli_flag sample_flags[] = {
    { "--model", CLI_STRING, ARG(model), NULL, "SPEC",
      "the model (required), one of:", FOR_BOTH },
    { "--schedule", CLI_STRING, ARG(schedule), NULL, "NAME", "ddpm-linear (default), "
      "ddpm-cosine, ddpm-linear-zsnr, vp-linear, vp-cosine, edm, flow, flow:shift=S, "
      "betas:FILE.npy, alphas_cumprod:FILE.npy",
      FOR_BOTH },
    { "--solver", CLI_STRING, ARG(solver), NULL, "NAME",
      "a solver from `diffode list` (default " DEFAULT_SOLVER ")", FOR_SAMPLE },
    { "--nfe", CLI_COUNT, ARG(nfe), NULL, "K",
      "model evaluations: steps = K / NFE per step (default 20)", FOR_SAMPLE },
    { "--steps", CLI_COUNT, ARG(steps), NULL, "S", "grid steps (instead of --nfe)", FOR_SAMPLE },
    { "--spacing", CLI_STRING, ARG(spacing), NULL, "NAME", "uniform-t, quadratic-t, logsnr "
      "(default), karras, ddim-uniform, ddim-quad, trailing, leading, linspace", FOR_SAMPLE },
    { "--grid", CLI_STRING, ARG(grid), NULL, "FILE.npy", "the grid from a file: a 1-D array "
      "of sigmas, strictly decreasing (e.g. from diffode grid)", FOR_SAMPLE },
    { "--rho", CLI_POSITIVE, ARG(rho), NULL, "R", "karras exponent (default 7)", FOR_SAMPLE },
    { "--to-zero", CLI_SWITCH, ARG(to_zero), NULL, NULL, "append sigma = 0 to the grid",
      FOR_BOTH },
    { "--t-max", CLI_DOUBLE, ARG(t_max), NULL, "T", "start time (default: the schedule's)",
      FOR_BOTH },
    { "--t-min", CLI_DOUBLE, ARG(t_min), NULL, "T", "end time (default: the schedule's)",
      FOR_BOTH },
    { "--OPTION", CLI_SOLVER_OPTIONS, ARG(opts), NULL, NULL, "every solver option of "
      "`diffode list --options`", FOR_BOTH },
    { "--n", CLI_COUNT, ARG(n), NULL, "N", "samples (default 1000)", FOR_BOTH },
    { "--seed", CLI_UINT, ARG(seed), NULL, "S", "mt19937 seed of x_T (default 0)", FOR_BOTH },
    { "--x-T", CLI_STRING, ARG(x_T), NULL, "FILE.npy", "x_T as n x dim (--n, --seed ignored)",
      FOR_BOTH },
    { "--out", CLI_STRING, ARG(out), NULL, "FILE.npy", "write x_0 (n x dim float64)",
      FOR_BOTH },
    { "--trajectory", CLI_STRING, ARG(trajectory), NULL, "FILE.csv",
      "write every grid point of every sample", FOR_BOTH },
    { "--noise", CLI_STRING, ARG(noise), NULL, "FILE.npy", "stochastic solvers' noise: "
      "float64 (draws, n, dim), slice k = draw k (default: Philox draws keyed by --seed; "
      "docs/stochastic.md)", FOR_SAMPLE },
    { "--noise-out", CLI_STRING, ARG(noise_out), NULL, "FILE.npy", "write the noise draws "
      "the run took, (draws, n, dim), for --noise to replay", FOR_SAMPLE },
    { "--class", CLI_STRING, ARG(guide.cls), NULL, "C", "sample class C of a mixture with "
      "\"classes\" (alone: conditional sampling, w = 1)", FOR_BOTH },
    { "--cfg-scale", CLI_NONNEG, ARG(guide.cfg_scale), NULL, "W", "classifier-free guidance "
      "eps_u + W (eps_c - eps_u) (needs --class; 0: unconditional)", FOR_BOTH },
    { "--classifier-scale", CLI_NONNEG, ARG(guide.classifier_scale), NULL, "S", "classifier "
      "guidance eps_u - S sigma grad log p(C|xbar) with the exact classifier", FOR_BOTH },
    { "--guidance-interval", CLI_STRING, ARG(guide.interval), NULL, "LO,HI", "guide only for "
      "sigma in [LO, HI] (HI may be inf), conditional outside", FOR_BOTH },
    { "--cfg-rescale", CLI_NONNEG, ARG(guide.cfg_rescale), NULL, "PHI", "rescale the guided eps "
      "towards the conditional one's rms, PHI in [0, 1]", FOR_BOTH },
    { "--target-metrics", CLI_SWITCH, ARG(guide.target_metrics), NULL, NULL, "with --class: "
      "the samples' distance to the sharpened target p(x|C)^w p(x)^(1-w) (log-density gap, "
      "mode masses, 95% intervals)", FOR_BOTH },
    { "--vs-reference", CLI_SWITCH, ARG(vs_reference), NULL, NULL, "also solve with "
      REFERENCE_SOLVER " at 1e-12 and report ref_rmse, ref_max_err", FOR_SAMPLE },
    { NULL, 0, 0, NULL, NULL, NULL, 0 },
};

/* Everything a run owns; run_free releases it all. */
typedef struct {
    const dode_solver_type *solver;
    dode_schedule *schedule;
    dode_model *model;
    dode_grid grid;
    dode_ode *ode;
    gsl_rng *rng;
    dode_noise *noise;          /* the draws of stochastic solvers (noise.h) */
    dode_solver_opts opts;
    dode_trace trace;
    size_t n, dim;
    double *xbar_T, *xbar;      /* [n][dim] start and result */
    dode_run_stats stats;       /* the solve's cost; stats.sigma_end is where xbar ends */
    cli_guidance guide;         /* the parsed guidance (class -1: none) */
} sample_run;

static void args_init(sample_args *a)
{
    *a = (sample_args){ .schedule = "ddpm-linear", .solver = DEFAULT_SOLVER,
                        .spacing = NULL, .n = 1000, .rho = 7.0, .t_max = NAN,
                        .t_min = NAN };
    cli_guidance_flags_init(&a->guide);
    dode_solver_opts_init(&a->opts);
}

static void run_free(sample_run *r)
{
    dode_ode_free(r->ode);
    dode_grid_free(&r->grid);
    dode_model_free(r->model);
    dode_schedule_free(r->schedule);
    gsl_rng_free(r->rng);
    dode_noise_free(r->noise);
    free(r->xbar_T);
    free(r->xbar);
    free(r->trace.sigma);
    free(r->trace.xbar);
}

/* Prefixes a callee's message: "WHAT: why". */
static int fail_with(int rc, const char *why, char *err, size_t errlen, const char *what)
{
    return dode_fail(err, errlen, rc, "%s: %s", what, why);
}

/* Names: solver (or the reference's), schedule and model specs. */
static int setup_names(const sample_args *a, int reference, sample_run *r, char *err,
                       size_t errlen)
{
    int rc;
    if (a->model == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "--model is required (e.g. --model "
                         "gaussian:dim=2 or --model gmm:FILE.json)");
    r->solver = dode_solver_find(reference ? REFERENCE_SOLVER : a->solver);
    if (r->solver == NULL)
        return dode_fail(err, errlen, reference ? DODE_ESOLVER : DODE_ENOTFOUND, "--solver '%s':"
                         " unknown solver (see diffode list)",
                         reference ? REFERENCE_SOLVER : a->solver);
    if ((rc = cli_schedule_and_model(a->schedule, a->model, &r->schedule, &r->model, err,
                                     errlen)) != DODE_OK)
        return rc;
    if ((rc = cli_guidance_parse(&a->guide, &r->guide, err, errlen)) != DODE_OK ||
        (rc = cli_guidance_apply(&r->guide, a->model, &r->model, err, errlen)) != DODE_OK)
        return rc;
    r->dim = r->model->dim;
    return DODE_OK;
}

/* Grid steps from --nfe / --steps (adaptive solvers take one step end to end). */
static int setup_steps(const sample_args *a, const dode_solver_type *s, size_t *steps,
                       char *err, size_t errlen)
{
    if (a->nfe > 0 && a->steps > 0)
        return dode_fail(err, errlen, DODE_EINVAL, "--nfe %zu and --steps %zu: give one, not "
                         "both", a->nfe, a->steps);
    if (s->adaptive) {
        if (a->nfe > 0 || a->steps > 0)
            return dode_fail(err, errlen, DODE_EINVAL, "--%s: %s is adaptive; its cost is set "
                             "by --rtol and --atol", a->nfe > 0 ? "nfe" : "steps", s->name);
        *steps = 1;
        return DODE_OK;
    }
    if (a->steps > 0) {
        *steps = a->steps;
        return DODE_OK;
    }
    const size_t nfe = a->nfe > 0 ? a->nfe : DEFAULT_NFE;
    *steps = dode_solver_steps_for_nfe(s, nfe);
    if (*steps == 0 && s->warmup_evals > 0)    /* PNDM, PLMS: a warm-up costs extra NFE */
        return dode_fail(err, errlen, DODE_EINVAL, "--nfe %zu is too few for %s (%d "
                         "evaluations per step plus %d for its warm-up, at least %d steps)",
                         nfe, s->name, s->evals_per_step, s->warmup_evals,
                         s->min_steps > 1 ? s->min_steps : 1);
    if (*steps == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "--nfe %zu is less than one step of %s (%d "
                         "evaluations per step)", nfe, s->name, s->evals_per_step);
    return DODE_OK;
}

/* --grid FILE.npy: the file fixes the points, so every flag that would shape the grid is
 * refused rather than ignored; an adaptive solver picks its own steps. */
static int setup_grid_file(const sample_args *a, sample_run *r, char *err, size_t errlen)
{
    const char *clash = a->spacing != NULL ? "--spacing" : a->nfe > 0 ? "--nfe"
                      : a->steps > 0 ? "--steps" : !isnan(a->t_max) ? "--t-max"
                      : !isnan(a->t_min) ? "--t-min" : a->to_zero ? "--to-zero"
                      : a->rho != 7.0 ? "--rho" : NULL;
    if (clash != NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "--grid %s and %s: the file fixes the "
                         "grid; give one, not both", a->grid, clash);
    if (r->solver->adaptive)
        return dode_fail(err, errlen, DODE_EINVAL, "--grid: %s is adaptive; it chooses its "
                         "own steps", r->solver->name);
    return exp_grid_file_read("--grid", a->grid, r->schedule, &r->grid, err, errlen);
}

/* The grid: spacing, time range (checked here so the message names the flags), steps. */
static int setup_grid(const sample_args *a, int reference, sample_run *r, char *err,
                      size_t errlen)
{
    char why[512];
    dode_grid_opts go;
    size_t steps = 1;
    if (!reference && a->grid != NULL)
        return setup_grid_file(a, r, err, errlen);
    dode_grid_opts_init(&go);
    int rc = reference ? DODE_OK : dode_spacing_parse(a->spacing != NULL ? a->spacing : "logsnr",
                                                      &go.spacing, why, sizeof why);
    if (rc != DODE_OK)
        return fail_with(rc, why, err, errlen, "--spacing");
    if (!reference && (rc = setup_steps(a, r->solver, &steps, err, errlen)) != DODE_OK)
        return rc;
    go.t_max = isnan(a->t_max) ? dode_schedule_t_max(r->schedule) : a->t_max;
    go.t_min = isnan(a->t_min) ? dode_schedule_t_min(r->schedule) : a->t_min;
    if (!(go.t_min < go.t_max))
        return dode_fail(err, errlen, DODE_EINVAL, "--t-min %g must be below --t-max %g",
                         go.t_min, go.t_max);
    go.rho = a->rho;
    go.to_zero = a->to_zero;
    if ((rc = dode_grid_make(r->schedule, &go, steps, &r->grid, why, sizeof why)) != DODE_OK)
        return dode_fail(err, errlen, rc, "%s", why);      /* grid messages name the grid */
    return DODE_OK;
}

/* x_T from --x-T: n x dim, every value finite (the message gives the row, 0-based). */
static int setup_x_T_file(const char *path, sample_run *r, char *err, size_t errlen)
{
    size_t rows = 0;
    double *x = NULL;
    const size_t cols = r->dim;
    int rc = cli_read_rows("--x-T", path, cols, 0, &x, &rows, err, errlen);
    if (rc != DODE_OK)
        return rc;
    for (size_t k = 0; k < rows * cols; k++) {
        if (!isfinite(x[k])) {
            const double bad = x[k];
            free(x);
            return dode_fail(err, errlen, DODE_EFORMAT, "--x-T %s: row %zu (0-based), "
                             "column %zu is %g, not a finite number", path, k / cols, k % cols,
                             bad);
        }
    }
    r->n = rows;
    r->xbar_T = x;
    return DODE_OK;
}

/* x_T (file or N(0, I) draws), then xbar_T = x_T sqrt(1 + sigma_T^2), and a copy to solve. */
static int setup_start(const sample_args *a, sample_run *r, char *err, size_t errlen)
{
    size_t len;
    r->rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (r->rng == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot allocate a random number generator");
    gsl_rng_set(r->rng, (unsigned long)a->seed);
    char why[1024];
    r->noise = a->noise != NULL ? dode_noise_read(a->noise, why, sizeof why)
                                : dode_noise_new_seeded((uint64_t)a->seed, why, sizeof why);
    if (r->noise == NULL)
        return dode_fail(err, errlen, a->noise != NULL ? DODE_EFORMAT : DODE_ENOMEM,
                         "--noise: %s", why);
    if (a->x_T != NULL) {
        int rc = setup_x_T_file(a->x_T, r, err, errlen);
        if (rc != DODE_OK)
            return rc;
    } else {
        r->n = a->n;
        if (dode_mul_size(r->n, r->dim, &len) != DODE_OK || len > TRAJ_MAX_DOUBLES)
            return dode_fail(err, errlen, DODE_EINVAL, "--n %zu: %zu x %zu samples is too many",
                             a->n, a->n, r->dim);
        r->xbar_T = malloc(len * sizeof *r->xbar_T);
        for (size_t k = 0; r->xbar_T != NULL && k < len; k++)
            r->xbar_T[k] = gsl_ran_gaussian_ziggurat(r->rng, 1.0);
    }
    len = r->n * r->dim;
    r->xbar = malloc(len * sizeof *r->xbar);
    if (r->xbar_T == NULL || r->xbar == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot allocate %zu samples", r->n);
    dode_x_to_xbar(r->schedule, r->grid.sigma[0], r->xbar_T, r->xbar_T, len);
    memcpy(r->xbar, r->xbar_T, len * sizeof *r->xbar);
    return DODE_OK;
}

/* The reference reads only the adaptive controller's options and the variable. */
static const dode_option_id reference_options[] = {
    DODE_OPT_VARIABLE, DODE_OPT_RTOL, DODE_OPT_ATOL, DODE_OPT_H_INIT, DODE_OPT_MAX_STEPS,
};

/* Solver options from the flags (parsed by the option table); the reference solve
 * defaults to rtol = atol = 1e-12 in log sigma (in sigma when the grid ends at 0). */
static int setup_opts(const sample_args *a, int reference, sample_run *r, char *err,
                      size_t errlen)
{
    dode_solver_opts *o = &r->opts;
    *o = a->opts;
    o->noise = r->noise;
    const double end = r->grid.sigma[r->grid.steps];
    if (reference) {
        unsigned long allowed = 0;
        for (size_t k = 0; k < sizeof reference_options / sizeof *reference_options; k++)
            allowed |= 1ul << reference_options[k];
        for (const dode_solver_option *row = dode_solver_options(); row->key != NULL; row++)
            if (dode_solver_opts_given(o, row->id) && !((allowed >> row->id) & 1ul))
                return dode_fail(err, errlen, DODE_EINVAL, "option %s does not apply to the "
                                 "reference solve (%s)", row->key, REFERENCE_SOLVER);
        if (!dode_solver_opts_given(o, DODE_OPT_VARIABLE))
            o->generic.variable = end > 0 ? DODE_VAR_LOGSIGMA : DODE_VAR_SIGMA;
        if (!dode_solver_opts_given(o, DODE_OPT_RTOL))
            o->adaptive.rtol = REFERENCE_TOL;
        if (!dode_solver_opts_given(o, DODE_OPT_ATOL))
            o->adaptive.atol = REFERENCE_TOL;
    }
    return DODE_OK;
}

/* The trace: step statistics always, every point's state with --trajectory. */
static int setup_trace(const sample_args *a, sample_run *r, char *err, size_t errlen)
{
    size_t cap = r->solver->adaptive ? TRAJ_ADAPTIVE_CAP
                                     : r->grid.steps + 1 + (size_t)r->opts.denoise_to_zero;
    size_t len, total;
    if (a->trajectory == NULL)
        return DODE_OK;
    if (dode_mul_size(r->n, r->dim, &len) != DODE_OK || dode_mul_size(len, cap, &total)
        != DODE_OK || total > TRAJ_MAX_DOUBLES)
        return dode_fail(err, errlen, DODE_EINVAL, "--trajectory: %zu points x %zu samples x %zu"
                         " dims is too large to record; lower --n", cap, r->n, r->dim);
    r->trace.sigma = malloc(cap * sizeof *r->trace.sigma);
    r->trace.xbar = malloc(total * sizeof *r->trace.xbar);
    if (r->trace.sigma == NULL || r->trace.xbar == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "--trajectory: cannot allocate %zu doubles",
                         total);
    r->trace.cap = cap;
    return DODE_OK;
}

static int run_setup(const sample_args *a, int reference, sample_run *r, char *err,
                     size_t errlen)
{
    int rc = setup_names(a, reference, r, err, errlen);
    if (rc == DODE_OK)
        rc = setup_grid(a, reference, r, err, errlen);
    if (rc == DODE_OK)
        rc = setup_start(a, r, err, errlen);          /* before opts: it makes the rng */
    if (rc == DODE_OK)
        rc = setup_opts(a, reference, r, err, errlen);
    if (rc == DODE_OK)
        rc = setup_trace(a, r, err, errlen);
    if (rc == DODE_OK && (r->ode = dode_ode_new(r->model, r->schedule, r->n, err, errlen)) == NULL)
        rc = DODE_ENOMEM;
    return rc;
}

static int run_solve(sample_run *r, char *err, size_t errlen)
{
    return dode_run_xbar(r->solver, r->ode, &r->grid, &r->opts, r->xbar, &r->trace,
                         &r->stats, err, errlen);
}

/* rmse and max |.| of the result against ref, into json under the two names. */
static int add_errors(cJSON *json, const sample_run *r, const double *ref,
                      const char *rmse_name, const char *max_name, char *err, size_t errlen)
{
    double rmse, max_abs;
    const size_t len = r->n * r->dim;
    int rc = exp_metric_rmse(r->xbar, ref, len, &rmse, err, errlen);
    if (rc == DODE_OK)
        rc = exp_metric_max_abs(r->xbar, ref, len, &max_abs, err, errlen);
    if (rc == DODE_OK) {
        cJSON_AddNumberToObject(json, rmse_name, rmse);
        cJSON_AddNumberToObject(json, max_name, max_abs);
    }
    return rc;
}

/* The error against the model's exact flow, when it has one. */
static int error_vs_exact(cJSON *json, const sample_run *r, double *work, char *err,
                          size_t errlen)
{
    if (r->model->exact_flow == NULL)
        return DODE_OK;
    dode_reference_opts o;
    dode_reference_opts_init(&o);
    o.method = DODE_REFERENCE_EXACT;
    int rc = dode_reference(r->model, r->schedule, r->n, r->grid.sigma[0], r->stats.sigma_end,
                            r->xbar_T, work, &o, NULL, NULL, err, errlen);
    return rc == DODE_OK ? add_errors(json, r, work, "rmse", "max_err", err, errlen) : rc;
}

/* --vs-reference: gsl:rk8pd at 1e-12 from the same start to the same end (also for a model
 * with an exact flow: ref_nfe is rk8pd's cost). */
static int error_vs_reference(cJSON *json, const sample_run *r, double *work, char *err,
                              size_t errlen)
{
    char why[1024];
    dode_reference_opts o;
    dode_run_stats st;
    dode_reference_opts_init(&o);
    o.method = DODE_REFERENCE_RK8PD;
    o.rtol = o.atol = REFERENCE_TOL;
    int rc = dode_reference(r->model, r->schedule, r->n, r->grid.sigma[0], r->stats.sigma_end,
                            r->xbar_T, work, &o, &st, NULL, why, sizeof why);
    if (rc != DODE_OK)
        return fail_with(rc, why, err, errlen, "--vs-reference");
    cJSON_AddNumberToObject(json, "ref_nfe", (double)st.nfe);
    return add_errors(json, r, work, "ref_rmse", "ref_max_err", err, errlen);
}

/* The settings and cost part of the JSON line. */
static void report_run(cJSON *json, const sample_args *a, const char *cmd, const sample_run *r)
{
    cJSON_AddStringToObject(json, "command", cmd);
    cJSON_AddStringToObject(json, "solver", r->solver->name);
    cJSON_AddStringToObject(json, "schedule", a->schedule);
    cJSON_AddStringToObject(json, "spacing", a->grid != NULL ? "file"
                                             : dode_spacing_name(r->grid.spacing));
    if (a->grid != NULL)
        cJSON_AddStringToObject(json, "grid", a->grid);
    cJSON_AddStringToObject(json, "variable", dode_variable_name(r->opts.generic.variable));
    cJSON_AddStringToObject(json, "model", a->model);
    cli_guidance_report(json, &r->guide);
    cJSON_AddNumberToObject(json, "n", (double)r->n);
    cJSON_AddNumberToObject(json, "dim", (double)r->dim);
    cJSON_AddNumberToObject(json, "nfe", (double)r->stats.nfe);
    cJSON_AddNumberToObject(json, "steps", (double)r->grid.steps);
    cJSON_AddNumberToObject(json, "seconds", r->stats.seconds);
    cJSON_AddNumberToObject(json, "accepted", (double)r->stats.accepted);
    cJSON_AddNumberToObject(json, "rejected", (double)r->stats.rejected);
    cJSON_AddNumberToObject(json, "sigma_max", r->grid.sigma[0]);
    cJSON_AddNumberToObject(json, "sigma_min", r->stats.sigma_end);
    cJSON_AddNumberToObject(json, "t_max", r->grid.t[0]);
    cJSON_AddNumberToObject(json, "t_min", dode_schedule_t(r->schedule, r->stats.sigma_end));
    cJSON_AddNumberToObject(json, "noise_draws", (double)dode_noise_used(r->noise));
    if (a->noise != NULL)
        cJSON_AddStringToObject(json, "noise", a->noise);
    if (a->x_T != NULL)
        cJSON_AddStringToObject(json, "x_T", a->x_T);
    else
        cJSON_AddNumberToObject(json, "seed", (double)a->seed);
    if (a->trajectory != NULL)
        cJSON_AddNumberToObject(json, "trajectory_points",
                                (double)(r->trace.count < r->trace.cap ? r->trace.count
                                                                       : r->trace.cap));
}

static int run_report(const sample_args *a, const char *cmd, const sample_run *r,
                      cJSON **out, char *err, size_t errlen)
{
    cJSON *json = cJSON_CreateObject();
    double *work = malloc(r->n * r->dim * sizeof *work);
    int rc = json == NULL || work == NULL
                 ? dode_fail(err, errlen, DODE_ENOMEM, "cannot allocate the report") : DODE_OK;
    if (rc == DODE_OK) {
        report_run(json, a, cmd, r);
        rc = error_vs_exact(json, r, work, err, errlen);
    }
    if (rc == DODE_OK && a->vs_reference)
        rc = error_vs_reference(json, r, work, err, errlen);
    if (rc == DODE_OK)
        rc = cli_guidance_class_fraction(json, &r->guide, a->model, r->n, r->xbar,
                                         r->stats.sigma_end, err, errlen);
    free(work);
    if (rc != DODE_OK)
        cJSON_Delete(json);
    else
        *out = json;
    return rc;
}

/* A growing text buffer for the trajectory CSV. */
typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} text;

static void text_add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(text *t, const char *fmt, ...)
{
    for (int attempt = 0; attempt < 2 && !t->failed; attempt++) {
        va_list ap;
        va_start(ap, fmt);
        const int w = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (w < 0) {
            t->failed = 1;
        } else if ((size_t)w < t->cap - t->len) {
            t->len += (size_t)w;
            return;
        } else {
            const size_t cap = 2 * (t->cap + (size_t)w + 1);
            char *grown = realloc(t->buf, cap);
            t->failed = grown == NULL;
            t->buf = grown != NULL ? grown : t->buf;
            t->cap = grown != NULL ? cap : t->cap;
        }
    }
}

/* The CSV: header, then one row per (point, sample); x ([dim]) is workspace. */
static void trajectory_csv(const sample_run *r, double *x, text *t)
{
    const size_t points = r->trace.count < r->trace.cap ? r->trace.count : r->trace.cap;
    const size_t len = r->n * r->dim;
    text_add(t, "step,sample,sigma,t");
    for (int pass = 0; pass < 2; pass++)
        for (size_t j = 0; j < r->dim; j++)
            text_add(t, ",%s_%zu", pass == 0 ? "xbar" : "x", j);
    text_add(t, "\n");
    for (size_t p = 0; p < points; p++) {
        const double sigma = r->trace.sigma[p];
        const double tt = dode_schedule_t(r->schedule, sigma);
        for (size_t i = 0; i < r->n; i++) {
            const double *xb = r->trace.xbar + p * len + i * r->dim;
            text_add(t, "%zu,%zu,%.17g,%.17g", p, i, sigma, tt);
            for (size_t j = 0; j < r->dim; j++)
                text_add(t, ",%.17g", xb[j]);
            dode_xbar_to_x(r->schedule, sigma, xb, x, r->dim);
            for (size_t j = 0; j < r->dim; j++)
                text_add(t, ",%.17g", x[j]);
            text_add(t, "\n");
        }
    }
}

static int write_trajectory(const char *path, const sample_run *r, char *err, size_t errlen)
{
    text t = { NULL, 0, 0, 0 };
    double *x = malloc(r->dim * sizeof *x);
    t.failed = x == NULL;
    trajectory_csv(r, x, &t);
    int rc = t.failed ? dode_fail(err, errlen, DODE_ENOMEM, "--trajectory %s: out of memory",
                                  path)
                      : dode_write_atomic(path, t.buf, t.len, err, errlen);
    free(x);
    free(t.buf);
    return rc;
}

/* --noise-out: the draws the run took, (draws, n, dim); a run that took none (a
 * deterministic solver, eta = 0) has nothing to replay, which the caller checked first. */
static int write_noise(const char *path, sample_run *r, char *err, size_t errlen)
{
    char why[1024];
    int rc = dode_noise_write(r->noise, path, dode_noise_used(r->noise), r->n, r->dim, why,
                              sizeof why);
    return rc == DODE_OK ? DODE_OK : fail_with(rc, why, err, errlen, "--noise-out");
}

/* --out, --trajectory, then --noise-out; if one fails the earlier ones are removed (no
 * partial output). */
static int run_outputs(const sample_args *a, sample_run *r, char *err, size_t errlen)
{
    int rc = DODE_OK;
    if (a->noise_out != NULL && dode_noise_used(r->noise) == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "--noise-out %s: %s drew no noise in this "
                         "run (a deterministic solver, or eta = 0): nothing to write",
                         a->noise_out, r->solver->name);
    if (a->out != NULL) {
        const size_t len = r->n * r->dim;
        double *x0 = malloc(len * sizeof *x0);
        if (x0 == NULL)
            return dode_fail(err, errlen, DODE_ENOMEM, "--out: cannot allocate %zu doubles", len);
        dode_xbar_to_x(r->schedule, r->stats.sigma_end, r->xbar, x0, len);
        rc = dode_npy_write(a->out, x0, r->n, r->dim, err, errlen);
        free(x0);
    }
    if (rc == DODE_OK && a->trajectory != NULL) {
        rc = write_trajectory(a->trajectory, r, err, errlen);
        if (rc != DODE_OK && a->out != NULL)
            unlink(a->out);
    }
    if (rc == DODE_OK && a->noise_out != NULL) {
        rc = write_noise(a->noise_out, r, err, errlen);
        if (rc != DODE_OK && a->out != NULL)
            unlink(a->out);
        if (rc != DODE_OK && a->trajectory != NULL)
            unlink(a->trajectory);
    }
    return rc;
}

static int sample_main(const char *cmd, int reference, int argc, char **argv)
{
    const unsigned mask = reference ? FOR_REFERENCE : FOR_SAMPLE;
    sample_args a;
    sample_run r = { .solver = NULL };
    cJSON *json = NULL;
    char err[2048];
    args_init(&a);
    int rc = cli_parse(sample_flags, mask, argc, argv, &a, err, sizeof err);
    if (rc == CLI_HELP) {
        cli_usage(stdout, cmd, "--model SPEC [options]", sample_flags, mask);
        return 0;
    }
    if (rc == DODE_OK)
        rc = run_setup(&a, reference, &r, err, sizeof err);
    if (rc == DODE_OK)
        rc = run_solve(&r, err, sizeof err);
    if (rc == DODE_OK)
        rc = run_report(&a, cmd, &r, &json, err, sizeof err);
    if (rc == DODE_OK)
        rc = run_outputs(&a, &r, err, sizeof err);
    rc = cli_finish_report(cmd, rc, json, err, sizeof err);
    cJSON_Delete(json);
    run_free(&r);
    return cli_exit_status(rc);
}

int cmd_sample(int argc, char **argv)
{
    return sample_main("sample", 0, argc, argv);
}

int cmd_reference(int argc, char **argv)
{
    return sample_main("reference", 1, argc, argv);
}
