/* cmd_grid.c - `diffode grid`: an optimised time grid for one solver, model and NFE,
 * written as a 1-D .npy of sigmas (for `diffode sample --grid`), and one JSON line.
 *
 * Methods (grid_opt.h):
 *   gits      GITS's dynamic programme over --candidates points (logsnr-spaced from
 *             sigma_max to sigma_min), the cost of a jump the batch-mean L2 error of one
 *             --cost-solver step (default euler, as gits_utils.py) from the exact teacher;
 *   optimum   Nelder-Mead (GSL nmsimplex2, --starts starts) on the exact final-state RMSE
 *             of --solver over the interior log sigmas: the bound for the others;
 *   ays       Align Your Steps (grid_ays.h): the KLUB of Stochastic-DDIM, by Monte Carlo on
 *             the training batch's teacher end states, minimised point by point from
 *             --start (default logsnr), early-stopped on --solver's training error;
 *   fit       LD3-style (grid_fit.h): BFGS2 on the training RMSE from logsnr;
 *   SPACING   any spacing name (logsnr, karras, ...): that grid, judged the same way.
 * Every grid runs from the schedule's sigma(t_max) to sigma(t_min) and has the steps
 * --nfe buys the solver. Two batches of x_T ~ N(0, I) from one mt19937 seeded with
 * --seed: the training batch (--n rows, drawn first) that gits, optimum, ays and fit use,
 * and the held-out batch (--n-test rows) on which test_rmse is reported, beside the logsnr
 * grid's (logsnr_test_rmse). --search-seed seeds only the optimum's random starts and
 * the KLUB's noise of ays, so two searches on the same batches can be compared. The
 * teacher is the model's exact flow, else gsl:rk8pd at 1e-12
 * (dode_reference). RMSEs are of xbar at sigma_min, as `diffode sample` reports them.
 * Exit status 0, 1 (runtime) or 2 (arguments), with "diffode grid: why" on stderr; the
 * .npy is written only when everything else has succeeded, atomically. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "cli.h"
#include "commands.h"
#include "diffode/diffode.h"
#include "grid_ays.h"
#include "grid_file.h"
#include "grid_fit.h"
#include "grid_opt.h"

typedef struct {
    const char *model, *schedule, *solver, *method, *out, *cost_solver, *start;
    size_t nfe, n, n_test, seed, search_seed, candidates, starts, max_iter, nodes, patience;
    double coeff, tol;
} grid_args;

#define ARG(field) offsetof(grid_args, field)
static const cli_flag grid_flags[] = {
    { "--model", CLI_STRING, ARG(model), NULL, "SPEC", "the model (required)", 1 },
    { "--schedule", CLI_STRING, ARG(schedule), NULL, "NAME", "as for sample (default "
      "ddpm-linear)", 1 },
    { "--solver", CLI_STRING, ARG(solver), NULL, "NAME", "the solver the grid is for "
      "(default dpmpp2m)", 1 },
    { "--nfe", CLI_COUNT, ARG(nfe), NULL, "K", "model evaluations (default 6)", 1 },
    { "--method", CLI_STRING, ARG(method), NULL, "NAME", "gits, optimum, ays, fit, or a "
      "spacing name (required)", 1 },
    { "--out", CLI_STRING, ARG(out), NULL, "FILE.npy", "where the grid goes (required)", 1 },
    { "--n", CLI_COUNT, ARG(n), NULL, "N", "training samples (default 256)", 1 },
    { "--n-test", CLI_COUNT, ARG(n_test), NULL, "N", "held-out samples (default 1000)", 1 },
    { "--seed", CLI_UINT, ARG(seed), NULL, "S", "mt19937 seed of both batches (default 0)",
      1 },
    { "--search-seed", CLI_UINT, ARG(search_seed), NULL, "S", "optimum: mt19937 seed of the "
      "random starts; ays: of the KLUB's noise (default 0)", 1 },
    { "--candidates", CLI_COUNT, ARG(candidates), NULL, "M", "gits: candidate points "
      "(default 100)", 1 },
    { "--cost-solver", CLI_STRING, ARG(cost_solver), NULL, "NAME", "gits: the one-step "
      "method of the cost (default euler)", 1 },
    { "--coeff", CLI_POSITIVE, ARG(coeff), NULL, "C", "gits: weight of each later step's "
      "cost (default 1: the plain sum)", 1 },
    { "--starts", CLI_COUNT, ARG(starts), NULL, "K", "optimum: Nelder-Mead starts, the "
      "first logsnr (default 4)", 1 },
    { "--max-iter", CLI_COUNT, ARG(max_iter), NULL, "I", "optimum: iterations per start "
      "(default 3000)", 1 },
    { "--tol", CLI_POSITIVE, ARG(tol), NULL, "T", "optimum: simplex size to stop at; ays: "
      "candidate spacing (relative) to stop at; fit: gradient norm (default 1e-5)", 1 },
    { "--start", CLI_STRING, ARG(start), NULL, "SPACING", "ays: the grid the search starts "
      "from (default logsnr)", 1 },
    { "--nodes", CLI_COUNT, ARG(nodes), NULL, "Q", "ays: Gauss-Legendre nodes per interval "
      "of the KLUB (default 10)", 1 },
    { "--patience", CLI_UINT, ARG(patience), NULL, "K", "ays: stop after K sweeps that do "
      "not lower the training error; 0 runs the KLUB search to convergence (default 5)",
      1 },
    { NULL, 0, 0, NULL, NULL, NULL, 0 },
};

#define MAX_CANDIDATES 2000     /* the cost matrix is M^2 doubles and M^2 / 2 solves */

/* Everything a run owns; grid_free releases it. */
typedef struct {
    const dode_solver_type *solver, *cost_solver;
    dode_schedule *schedule;
    dode_model *model;
    dode_ode *ode, *ode_test;
    size_t steps, dim;
    double sigma_max, sigma_min;
    double *x_train, *x_test, *ref_train, *ref_test, *work;
    double *sigma;              /* [steps + 1] the result */
    size_t evaluations;
    double dp_cost;
    exp_ays_report ays;
    exp_fit_report fit;
    double *last;               /* ays: [steps + 1] the last sweep's grid */
} grid_run;

static void grid_free(grid_run *r)
{
    dode_ode_free(r->ode);
    dode_ode_free(r->ode_test);
    dode_model_free(r->model);
    dode_schedule_free(r->schedule);
    free(r->x_train);
    free(r->x_test);
    free(r->ref_train);
    free(r->ref_test);
    free(r->work);
    free(r->sigma);
    free(r->last);
}

static int setup(const grid_args *a, grid_run *r, char *err, size_t errlen)
{
    if (a->model == NULL || a->method == NULL || a->out == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "%s is required", a->model == NULL
                         ? "--model" : a->method == NULL ? "--method" : "--out");
    if ((r->solver = dode_solver_find(a->solver)) == NULL)
        return dode_fail(err, errlen, DODE_ENOTFOUND, "--solver '%s': unknown solver (see "
                         "diffode list)", a->solver);
    if ((r->cost_solver = dode_solver_find(a->cost_solver)) == NULL)
        return dode_fail(err, errlen, DODE_ENOTFOUND, "--cost-solver '%s': unknown solver",
                         a->cost_solver);
    if (r->solver->adaptive || r->cost_solver->adaptive)
        return dode_fail(err, errlen, DODE_EINVAL, "--%s %s is adaptive; a grid is for a "
                         "fixed-step solver", r->solver->adaptive ? "solver" : "cost-solver",
                         r->solver->adaptive ? r->solver->name : r->cost_solver->name);
    if (a->candidates < 2 || a->candidates > MAX_CANDIDATES)
        return dode_fail(err, errlen, DODE_EINVAL, "--candidates %zu: give 2 to %d",
                         a->candidates, MAX_CANDIDATES);
    if (a->n > DODE_MAX_SAMPLES || a->n_test > DODE_MAX_SAMPLES)
        return dode_fail(err, errlen, DODE_EINVAL, "--n %zu / --n-test %zu: above the limit "
                         "of %zu samples", a->n, a->n_test, (size_t)DODE_MAX_SAMPLES);
    r->steps = dode_solver_steps_for_nfe(r->solver, a->nfe);
    if (r->steps == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "--nfe %zu is too few for %s", a->nfe,
                         r->solver->name);
    int rc = cli_schedule_and_model(a->schedule, a->model, &r->schedule, &r->model, err,
                                    errlen);
    if (rc != DODE_OK)
        return rc;
    r->dim = r->model->dim;
    r->sigma_max = dode_schedule_sigma(r->schedule, dode_schedule_t_max(r->schedule));
    r->sigma_min = dode_schedule_sigma(r->schedule, dode_schedule_t_min(r->schedule));
    if (!isfinite(r->sigma_max))
        return dode_fail(err, errlen, DODE_EINVAL, "--schedule %s starts at sigma = inf; "
                         "grids here need a finite sigma_max", a->schedule);
    return DODE_OK;
}

/* The two batches (training first) and their teacher end states. */
static int setup_batches(const grid_args *a, grid_run *r, char *err, size_t errlen)
{
    const size_t lt = a->n * r->dim, lh = a->n_test * r->dim;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    r->x_train = malloc(lt * sizeof(double));
    r->ref_train = malloc(lt * sizeof(double));
    r->x_test = malloc(lh * sizeof(double));
    r->ref_test = malloc(lh * sizeof(double));
    r->work = malloc((lt > lh ? lt : lh) * sizeof(double));
    r->sigma = malloc((r->steps + 1) * sizeof(double));
    if (rng == NULL || !r->x_train || !r->ref_train || !r->x_test || !r->ref_test || !r->work
        || !r->sigma) {
        gsl_rng_free(rng);
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot allocate the batches");
    }
    gsl_rng_set(rng, (unsigned long)a->seed);
    for (size_t k = 0; k < lt; k++)
        r->x_train[k] = gsl_ran_gaussian_ziggurat(rng, 1.0);
    for (size_t k = 0; k < lh; k++)
        r->x_test[k] = gsl_ran_gaussian_ziggurat(rng, 1.0);
    gsl_rng_free(rng);
    dode_x_to_xbar(r->schedule, r->sigma_max, r->x_train, r->x_train, lt);
    dode_x_to_xbar(r->schedule, r->sigma_max, r->x_test, r->x_test, lh);
    int rc = dode_reference(r->model, r->schedule, a->n, r->sigma_max, r->sigma_min, r->x_train,
                            r->ref_train, NULL, NULL, NULL, err, errlen);
    if (rc == DODE_OK)
        rc = dode_reference(r->model, r->schedule, a->n_test, r->sigma_max, r->sigma_min,
                            r->x_test, r->ref_test, NULL, NULL, NULL, err, errlen);
    if (rc == DODE_OK && ((r->ode = dode_ode_new(r->model, r->schedule, a->n, err, errlen))
                          == NULL
                          || (r->ode_test = dode_ode_new(r->model, r->schedule, a->n_test, err,
                                                         errlen)) == NULL))
        rc = DODE_ENOMEM;
    return rc;
}

static exp_grid_problem problem(const grid_run *r, size_t n, int test)
{
    return (exp_grid_problem){ .solver = r->solver, .schedule = r->schedule,
                               .ode = test ? r->ode_test : r->ode, .n = n, .dim = r->dim,
                               .xbar_T = test ? r->x_test : r->x_train,
                               .target = test ? r->ref_test : r->ref_train, .work = r->work };
}

/* A named spacing's grid of r->steps steps, into sigma. */
static int spacing_grid(const grid_run *r, dode_spacing sp, double *sigma, char *err,
                        size_t errlen)
{
    dode_grid_opts go;
    dode_grid g;
    dode_grid_opts_init(&go);
    go.spacing = sp;
    int rc = dode_grid_make(r->schedule, &go, r->steps, &g, err, errlen);
    if (rc == DODE_OK && g.steps != r->steps)
        rc = dode_fail(err, errlen, DODE_EINVAL, "--method %s: made %zu steps, not %zu",
                       dode_spacing_name(sp), g.steps, r->steps);
    if (rc == DODE_OK)
        memcpy(sigma, g.sigma, (r->steps + 1) * sizeof *sigma);
    dode_grid_free(&g);
    return rc;
}

static int method_gits(const grid_args *a, grid_run *r, char *err, size_t errlen)
{
    const size_t m = a->candidates, len = a->n * r->dim;
    if (r->steps > m - 1)
        return dode_fail(err, errlen, DODE_EINVAL, "--candidates %zu: fewer than the %zu "
                         "steps + 1 the grid needs", m, r->steps);
    double *cand = malloc(m * sizeof *cand), *cost = malloc(m * m * sizeof *cost);
    double *traj = malloc(m * len * sizeof *traj);
    size_t *path = malloc((r->steps + 1) * sizeof *path);
    grid_run cr = *r;
    cr.steps = m - 1;
    int rc = cand && cost && traj && path ? spacing_grid(&cr, DODE_SPACING_LOGSNR, cand, err,
                                                         errlen)
                                          : dode_fail(err, errlen, DODE_ENOMEM, "gits: cannot "
                                                      "allocate %zu candidates", m);
    if (rc == DODE_OK)
        rc = exp_teacher_path(r->model, r->schedule, a->n, r->x_train, cand, m, traj, err,
                              errlen);
    if (rc == DODE_OK)
        rc = exp_gits_costs(r->cost_solver, r->schedule, r->ode, a->n, r->dim, cand, m, traj,
                            cost, err, errlen);
    if (rc == DODE_OK)
        rc = exp_gits_dp(cost, m, r->steps, a->coeff, path, &r->dp_cost, err, errlen);
    for (size_t k = 0; rc == DODE_OK && k <= r->steps; k++)
        r->sigma[k] = cand[path[k]];
    r->evaluations = m * (m - 1) / 2;
    free(cand);
    free(cost);
    free(traj);
    free(path);
    return rc;
}

static int method_ays(const grid_args *a, grid_run *r, char *err, size_t errlen)
{
    dode_spacing sp;
    char why[512];
    if (dode_spacing_parse(a->start, &sp, why, sizeof why) != DODE_OK)
        return dode_fail(err, errlen, DODE_ENOTFOUND, "--start '%s': %s", a->start, why);
    if (a->nodes < 2 || a->nodes > 64)
        return dode_fail(err, errlen, DODE_EINVAL, "--nodes %zu: give 2 to 64", a->nodes);
    if ((r->last = malloc((r->steps + 1) * sizeof *r->last)) == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "ays: out of memory");
    int rc = spacing_grid(r, sp, r->sigma, err, errlen);
    exp_klub *k = rc != DODE_OK ? NULL
                                : exp_klub_new(r->model, r->schedule, a->n, r->ref_train,
                                               r->sigma_min, (unsigned long)a->search_seed,
                                               a->nodes, err, errlen);
    if (rc == DODE_OK && k == NULL)
        rc = DODE_ENOMEM;
    exp_grid_problem p = problem(r, a->n, 0);
    if (rc == DODE_OK)
        rc = exp_ays_optimise(k, &p, r->sigma, r->steps, a->max_iter, a->tol, a->patience,
                              r->last, &r->ays, err, errlen);
    r->evaluations = k != NULL ? exp_klub_evals(k) : 0;
    exp_klub_free(k);
    return rc;
}

static int method_run(const grid_args *a, grid_run *r, char *err, size_t errlen)
{
    char why[512];
    dode_spacing sp;
    if (strcmp(a->method, "gits") == 0)
        return method_gits(a, r, err, errlen);
    if (strcmp(a->method, "optimum") == 0) {
        double f;
        exp_grid_problem p = problem(r, a->n, 0);
        int rc = exp_grid_optimum(&p, r->sigma_max, r->sigma_min, r->steps, a->starts,
                                  (unsigned long)a->search_seed, a->max_iter, a->tol, r->sigma, &f,
                                  err, errlen);
        r->evaluations = p.evals;
        return rc;
    }
    if (strcmp(a->method, "ays") == 0)
        return method_ays(a, r, err, errlen);
    if (strcmp(a->method, "fit") == 0) {
        exp_grid_problem p = problem(r, a->n, 0);
        int rc = exp_grid_fit(&p, r->sigma_max, r->sigma_min, r->steps, a->max_iter, a->tol,
                              r->sigma, &r->fit, err, errlen);
        r->evaluations = p.evals;
        return rc;
    }
    if (dode_spacing_parse(a->method, &sp, why, sizeof why) != DODE_OK)
        return dode_fail(err, errlen, DODE_ENOTFOUND, "--method '%s': not gits, optimum, ays, "
                         "fit or a spacing (%s)", a->method, why);
    return spacing_grid(r, sp, r->sigma, err, errlen);
}

/* The JSON line; the errors of the grid on both batches and of logsnr on the held-out. */
static int report(const grid_args *a, grid_run *r, double seconds, cJSON **out, char *err,
                  size_t errlen)
{
    double train, test, base;
    double *logsnr = malloc((r->steps + 1) * sizeof *logsnr);
    exp_grid_problem pt = problem(r, a->n, 0), ph = problem(r, a->n_test, 1);
    int rc = logsnr == NULL ? dode_fail(err, errlen, DODE_ENOMEM, "out of memory") : DODE_OK;
    if (rc == DODE_OK)
        rc = exp_grid_rmse(&pt, r->sigma, r->steps + 1, &train, err, errlen);
    if (rc == DODE_OK)
        rc = exp_grid_rmse(&ph, r->sigma, r->steps + 1, &test, err, errlen);
    if (rc == DODE_OK)
        rc = spacing_grid(r, DODE_SPACING_LOGSNR, logsnr, err, errlen);
    if (rc == DODE_OK)
        rc = exp_grid_rmse(&ph, logsnr, r->steps + 1, &base, err, errlen);
    double conv = NAN;
    if (rc == DODE_OK && r->last != NULL)
        rc = exp_grid_rmse(&ph, r->last, r->steps + 1, &conv, err, errlen);
    free(logsnr);
    cJSON *j = rc == DODE_OK ? cJSON_CreateObject() : NULL;
    cJSON *sig = rc == DODE_OK ? cJSON_CreateDoubleArray(r->sigma, (int)(r->steps + 1)) : NULL;
    if (rc == DODE_OK && (j == NULL || sig == NULL)) {
        cJSON_Delete(j);
        cJSON_Delete(sig);
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot format the JSON report");
    }
    if (rc != DODE_OK)
        return rc;
    cJSON_AddStringToObject(j, "command", "grid");
    cJSON_AddStringToObject(j, "method", a->method);
    cJSON_AddStringToObject(j, "solver", r->solver->name);
    cJSON_AddStringToObject(j, "schedule", a->schedule);
    cJSON_AddStringToObject(j, "model", a->model);
    cJSON_AddNumberToObject(j, "nfe", (double)a->nfe);
    cJSON_AddNumberToObject(j, "steps", (double)r->steps);
    cJSON_AddNumberToObject(j, "n", (double)a->n);
    cJSON_AddNumberToObject(j, "n_test", (double)a->n_test);
    cJSON_AddNumberToObject(j, "seed", (double)a->seed);
    cJSON_AddNumberToObject(j, "train_rmse", train);
    cJSON_AddNumberToObject(j, "test_rmse", test);
    cJSON_AddNumberToObject(j, "logsnr_test_rmse", base);
    if (strcmp(a->method, "gits") == 0) {
        cJSON_AddNumberToObject(j, "candidates", (double)a->candidates);
        cJSON_AddStringToObject(j, "cost_solver", r->cost_solver->name);
        cJSON_AddNumberToObject(j, "coeff", a->coeff);
        cJSON_AddNumberToObject(j, "dp_cost", r->dp_cost);
    }
    if (strcmp(a->method, "optimum") == 0) {
        cJSON_AddNumberToObject(j, "starts", (double)a->starts);
        cJSON_AddNumberToObject(j, "search_seed", (double)a->search_seed);
        cJSON_AddNumberToObject(j, "evaluations", (double)r->evaluations);
    }
    if (strcmp(a->method, "ays") == 0) {
        cJSON_AddStringToObject(j, "start", a->start);
        cJSON_AddNumberToObject(j, "nodes", (double)a->nodes);
        cJSON_AddNumberToObject(j, "klub_start", r->ays.klub_start);
        cJSON_AddNumberToObject(j, "klub_last", r->ays.klub_end);
        cJSON_AddNumberToObject(j, "patience", (double)a->patience);
        cJSON_AddNumberToObject(j, "sweeps", (double)r->ays.sweeps);
        cJSON_AddNumberToObject(j, "best_sweep", (double)r->ays.best_sweep);
        cJSON_AddNumberToObject(j, "last_test_rmse", conv);
        cJSON_AddItemToObject(j, "last_sigmas",
                              cJSON_CreateDoubleArray(r->last, (int)(r->steps + 1)));
        cJSON_AddNumberToObject(j, "evaluations", (double)r->evaluations);
    }
    if (strcmp(a->method, "fit") == 0) {
        cJSON_AddNumberToObject(j, "start_train_rmse", r->fit.start_rmse);
        cJSON_AddNumberToObject(j, "iterations", (double)r->fit.iterations);
        cJSON_AddNumberToObject(j, "evaluations", (double)r->evaluations);
    }
    cJSON_AddNumberToObject(j, "seconds", seconds);
    cJSON_AddItemToObject(j, "sigmas", sig);
    cJSON_AddStringToObject(j, "out", a->out);
    *out = j;
    return DODE_OK;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cmd_grid(int argc, char **argv)
{
    grid_args a = { .schedule = "ddpm-linear", .solver = "dpmpp2m", .cost_solver = "euler",
                    .nfe = 6, .n = 256, .n_test = 1000, .candidates = 100, .starts = 4,
                    .max_iter = 3000, .coeff = 1.0, .tol = 1e-5, .start = "logsnr",
                    .nodes = 10, .patience = 5 };
    grid_run r = { .solver = NULL };
    cJSON *json = NULL;
    char err[2048];
    const double t0 = now();
    int rc = cli_parse(grid_flags, 1, argc, argv, &a, err, sizeof err);
    if (rc == CLI_HELP) {
        cli_usage(stdout, "grid", "--model SPEC --method gits|optimum|ays|fit|SPACING "
                  "--out FILE.npy [options]", grid_flags, 1);
        return 0;
    }
    if (rc == DODE_OK)
        rc = setup(&a, &r, err, sizeof err);
    if (rc == DODE_OK)
        rc = setup_batches(&a, &r, err, sizeof err);
    if (rc == DODE_OK)
        rc = method_run(&a, &r, err, sizeof err);
    if (rc == DODE_OK)
        rc = exp_grid_check("--out", a.out, r.sigma, r.steps + 1, r.schedule, err, sizeof err);
    if (rc == DODE_OK)
        rc = report(&a, &r, now() - t0, &json, err, sizeof err);
    if (rc == DODE_OK)
        rc = exp_grid_file_write(a.out, r.sigma, r.steps + 1, err, sizeof err);
    rc = cli_finish_report("grid", rc, json, err, sizeof err);
    cJSON_Delete(json);
    grid_free(&r);
    return cli_exit_status(rc);
}
