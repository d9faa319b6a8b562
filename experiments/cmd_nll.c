/* cmd_nll.c - `diffode nll`: the negative log-likelihood of data under a model through
 * the probability-flow ODE (likelihood.h, MATH.md section 7), in nats and bits/dim.
 *
 * Data: --data FILE.npy (n x dim, read as xbar at sigma_min), or --samples-from-model N:
 * x_T ~ N(0, I) (mt19937, --seed) carried from sigma_max down to sigma_min by gsl:rk8pd
 * in sigma at the same --rtol/--atol. sigma_max = sigma(--t-max) (default: the
 * schedule's t_max); sigma_min = sigma(--t-min) if given, else 0 (the data themselves).
 * The trace is exact when the model has a Jacobian, Hutchinson's with K = 16 probes
 * otherwise; --probes K forces Hutchinson with K probes.
 *
 * It prints one JSON line: nll (mean -log p, nats), bits_per_dim = nll / (dim log 2) of
 * the continuous density (no dequantisation term: with --bin-width W, e.g. 2/255 for
 * 8-bit pixels scaled to [-1, 1], bits_per_dim_discrete adds -log W per dim), se (the
 * probe standard error of the mean nll, sqrt(sum se_i^2) / n; 0 for the exact trace),
 * se_data (sd of the rows' nll / sqrt n), the cost (nfe = augmented RHS evaluations,
 * rows_per_eval, njac, steps, seconds) and, when the model has log_density, exact_nll
 * and max_abs_diff against log p_{sigma_min}. --out FILE.csv: one row per data point.
 * Exit status 0, 1 (files, numerics) or 2 (bad arguments). */
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
#include "diffode/likelihood.h"

#define NLL_MAX_DOUBLES ((size_t)1 << 27)

enum { FOR_NLL = 1u };

typedef struct {
    const char *model, *schedule, *data, *out;
    size_t samples, seed, probes, max_steps;
    double t_max, t_min, rtol, atol, bin_width;
    int exact_prior;
} nll_args;

#define ARG(field) offsetof(nll_args, field)
static const cli_flag nll_flags[] = {
    { "--model", CLI_STRING, ARG(model), NULL, "SPEC", "the model (required), one of:",
      FOR_NLL },
    { "--schedule", CLI_STRING, ARG(schedule), NULL, "NAME", "schedule (default ddpm-linear)",
      FOR_NLL },
    { "--data", CLI_STRING, ARG(data), NULL, "FILE.npy", "data points, n x dim", FOR_NLL },
    { "--samples-from-model", CLI_COUNT, ARG(samples), NULL, "N",
      "instead of --data: N samples of the model's own flow (gsl:rk8pd)", FOR_NLL },
    { "--seed", CLI_UINT, ARG(seed), NULL, "S", "seed of x_T and of the probes (default 0)",
      FOR_NLL },
    { "--t-max", CLI_DOUBLE, ARG(t_max), NULL, "T", "prior time: sigma_max = sigma(T) "
      "(default: the schedule's)", FOR_NLL },
    { "--t-min", CLI_DOUBLE, ARG(t_min), NULL, "T", "data time: sigma_min = sigma(T) "
      "(default: sigma_min = 0)", FOR_NLL },
    { "--rtol", CLI_POSITIVE, ARG(rtol), NULL, "R", "rk8pd relative tolerance (default 1e-8)",
      FOR_NLL },
    { "--atol", CLI_POSITIVE, ARG(atol), NULL, "A", "rk8pd absolute tolerance (default 1e-8)",
      FOR_NLL },
    { "--max-steps", CLI_COUNT, ARG(max_steps), NULL, "M", "step budget (default 100000)",
      FOR_NLL },
    { "--probes", CLI_COUNT, ARG(probes), NULL, "K", "Hutchinson trace with K Rademacher "
      "probes (default: exact if the model has a Jacobian, else K = 16)", FOR_NLL },
    { "--exact-prior", CLI_SWITCH, ARG(exact_prior), NULL, NULL, "prior = the model's own "
      "log_density at sigma_max (default N(0, (1 + sigma_max^2) I))", FOR_NLL },
    { "--bin-width", CLI_POSITIVE, ARG(bin_width), NULL, "W", "also report "
      "bits_per_dim_discrete for data quantised in bins of width W", FOR_NLL },
    { "--out", CLI_STRING, ARG(out), NULL, "FILE.csv", "per-point logp, nll, se, prior, "
      "delta, exact_logp", FOR_NLL },
    { NULL, 0, 0, NULL, NULL, NULL, 0 },
};

/* Everything a run owns; nll_free releases it all. */
typedef struct {
    dode_schedule *schedule;
    dode_model *model;
    dode_loglik_opts opts;
    dode_loglik_stats stats;
    size_t n, dim, sample_nfe;
    double *x0;                        /* [n][dim] */
    double *logp, *se, *prior, *delta; /* [n] */
    double *exact;                     /* [n] log_density at sigma_min, or NULL */
    double seconds;
} nll_run;

static void nll_free(nll_run *r)
{
    dode_model_free(r->model);
    dode_schedule_free(r->schedule);
    free(r->x0);
    free(r->logp);
    free(r->se);
    free(r->prior);
    free(r->delta);
    free(r->exact);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Prefixes a callee's message: "WHAT: why". */
static int fail_with(int rc, const char *why, char *err, size_t errlen, const char *what)
{
    return dode_fail(err, errlen, rc, "%s: %s", what, why);
}

/* Model, schedule and the options of dode_loglik (sigma range from the time flags). */
static int setup_model(const nll_args *a, nll_run *r, char *err, size_t errlen)
{
    int rc;
    if (a->model == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "--model is required (e.g. --model "
                         "gmm:FILE.json)");
    if ((rc = cli_schedule_and_model(a->schedule, a->model, &r->schedule, &r->model, err,
                                     errlen)) != DODE_OK)
        return rc;
    r->dim = r->model->dim;
    dode_loglik_opts *o = &r->opts;
    dode_loglik_opts_init(o);
    const double t_max = isnan(a->t_max) ? dode_schedule_t_max(r->schedule) : a->t_max;
    o->sigma_max = dode_schedule_sigma(r->schedule, t_max);
    o->sigma_min = isnan(a->t_min) ? 0.0 : dode_schedule_sigma(r->schedule, a->t_min);
    if (!(o->sigma_max > o->sigma_min && o->sigma_min >= 0 && isfinite(o->sigma_max)))
        return dode_fail(err, errlen, DODE_EINVAL, "--t-min %g and --t-max %g give sigma "
                         "%g .. %g: need 0 <= sigma_min < sigma_max < inf", a->t_min, t_max,
                         o->sigma_min, o->sigma_max);
    o->rtol = isnan(a->rtol) ? o->rtol : a->rtol;
    o->atol = isnan(a->atol) ? o->atol : a->atol;
    o->max_steps = a->max_steps > 0 ? a->max_steps : o->max_steps;
    o->exact_prior = a->exact_prior;
    o->seed = (unsigned long)a->seed;
    if (a->probes > 0) {
        o->trace = DODE_TRACE_HUTCHINSON;
        o->probes = a->probes;
    }
    return DODE_OK;
}

/* --data: an n x dim array (the column count must be the model's dim). */
static int setup_data_file(const char *path, nll_run *r, char *err, size_t errlen)
{
    return cli_read_rows("--data", path, r->dim, 1, &r->x0, &r->n, err, errlen);
}

/* --samples-from-model N: x_T ~ N(0, I), xbar = x_T sqrt(1 + smax^2), rk8pd in sigma down
 * to sigma_min (MATH.md section 4), so the data follow the model's own flow. rk8pd even
 * where the model has an exact flow, at --rtol / --atol but the solver's own step budget
 * (--max-steps bounds the likelihood solve only). */
static int setup_data_model(const nll_args *a, nll_run *r, char *err, size_t errlen)
{
    char why[1024];
    size_t len;
    if (dode_mul_size(a->samples, r->dim, &len) != DODE_OK || len > NLL_MAX_DOUBLES)
        return dode_fail(err, errlen, DODE_EINVAL, "--samples-from-model %zu: %zu x %zu is "
                         "too many", a->samples, a->samples, r->dim);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    r->x0 = malloc(len * sizeof *r->x0);
    int rc = rng == NULL || r->x0 == NULL
                 ? dode_fail(err, errlen, DODE_ENOMEM, "cannot allocate %zu samples", a->samples)
                 : DODE_OK;
    if (rc == DODE_OK) {
        const double smax = r->opts.sigma_max;
        dode_reference_opts o;
        dode_run_stats st = { 0 };
        gsl_rng_set(rng, (unsigned long)a->seed);
        for (size_t k = 0; k < len; k++)
            r->x0[k] = gsl_ran_gaussian_ziggurat(rng, 1.0);
        dode_x_to_xbar(r->schedule, smax, r->x0, r->x0, len);
        dode_reference_opts_init(&o);
        o.method = DODE_REFERENCE_RK8PD;
        o.rtol = r->opts.rtol;
        o.atol = r->opts.atol;
        o.in_sigma = 1;
        rc = dode_reference(r->model, r->schedule, a->samples, smax, r->opts.sigma_min, r->x0,
                            r->x0, &o, &st, NULL, why, sizeof why);
        if (rc != DODE_OK)
            fail_with(rc, why, err, errlen, "--samples-from-model");
        r->sample_nfe = st.nfe;
        r->n = a->samples;
    }
    gsl_rng_free(rng);
    return rc;
}

static int setup_data(const nll_args *a, nll_run *r, char *err, size_t errlen)
{
    if ((a->data != NULL) == (a->samples > 0))
        return dode_fail(err, errlen, DODE_EINVAL, "give exactly one of --data FILE.npy and "
                         "--samples-from-model N");
    int rc = a->data != NULL ? setup_data_file(a->data, r, err, errlen)
                             : setup_data_model(a, r, err, errlen);
    if (rc != DODE_OK)
        return rc;
    r->logp = malloc(r->n * sizeof *r->logp);
    r->se = malloc(r->n * sizeof *r->se);
    r->prior = malloc(r->n * sizeof *r->prior);
    r->delta = malloc(r->n * sizeof *r->delta);
    if (r->model->log_density != NULL)
        r->exact = malloc(r->n * sizeof *r->exact);
    if (r->logp == NULL || r->se == NULL || r->prior == NULL || r->delta == NULL
        || (r->model->log_density != NULL && r->exact == NULL))
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot allocate results for %zu points",
                         r->n);
    return DODE_OK;
}

/* The flow's log p, and the model's own log p_{sigma_min} when it has one. */
static int nll_solve(nll_run *r, char *err, size_t errlen)
{
    dode_loglik_rows rows = { r->logp, r->se, r->prior, r->delta, NULL };
    const double start = now_seconds();
    int rc = dode_loglik(r->model, r->schedule, r->n, r->dim, r->x0, &r->opts, &rows,
                         &r->stats, err, errlen);
    r->seconds = now_seconds() - start;
    if (rc == DODE_OK && r->exact != NULL) {
        void *ws = NULL;
        if ((rc = dode_model_workspace_new(r->model, r->n, &ws, err, errlen)) != DODE_OK)
            return rc;
        rc = r->model->log_density(r->model, ws, r->n, r->x0, r->opts.sigma_min, r->exact);
        dode_model_workspace_free(r->model, ws);
        if (rc != DODE_OK)
            return dode_fail(err, errlen, rc, "log_density of %s at sigma_min = %g failed: %s",
                             r->model->name, r->opts.sigma_min, dode_strerror(rc));
    }
    return rc;
}

/* Means over the rows: nll, its probe standard error, and the data's own spread. */
static void nll_means(const nll_run *r, double *nll, double *se, double *se_data)
{
    double sum = 0, ss = 0, var = 0;
    for (size_t i = 0; i < r->n; i++) {
        sum -= r->logp[i];
        ss += r->se[i] * r->se[i];
    }
    *nll = sum / (double)r->n;
    for (size_t i = 0; i < r->n; i++)
        var += (-r->logp[i] - *nll) * (-r->logp[i] - *nll);
    *se = sqrt(ss) / (double)r->n;                      /* probes independent per row */
    *se_data = r->n > 1 ? sqrt(var / (double)(r->n - 1) / (double)r->n) : NAN;
}

/* exact_nll and max_abs_diff of log p against the model's own log_density. */
static void report_exact(cJSON *json, const nll_run *r)
{
    double sum = 0, worst = 0;
    if (r->exact == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        sum -= r->exact[i];
        worst = fmax(worst, fabs(r->logp[i] - r->exact[i]));
    }
    cJSON_AddNumberToObject(json, "exact_nll", sum / (double)r->n);
    cJSON_AddNumberToObject(json, "max_abs_diff", worst);
}

static void report_run(cJSON *json, const nll_args *a, const nll_run *r)
{
    const int hutch = r->stats.trace == DODE_TRACE_HUTCHINSON;
    const double ln2d = (double)r->dim * log(2.0);
    double nll, se, se_data;
    nll_means(r, &nll, &se, &se_data);
    cJSON_AddStringToObject(json, "command", "nll");
    cJSON_AddStringToObject(json, "model", a->model);
    cJSON_AddStringToObject(json, "schedule", a->schedule);
    cJSON_AddNumberToObject(json, "n", (double)r->n);
    cJSON_AddNumberToObject(json, "dim", (double)r->dim);
    cJSON_AddStringToObject(json, "trace", hutch ? "hutchinson" : "exact");
    cJSON_AddNumberToObject(json, "probes", hutch ? (double)r->opts.probes : 0.0);
    cJSON_AddStringToObject(json, "prior", r->opts.exact_prior ? "model" : "gaussian");
    cJSON_AddNumberToObject(json, "sigma_min", r->opts.sigma_min);
    cJSON_AddNumberToObject(json, "sigma_max", r->opts.sigma_max);
    cJSON_AddNumberToObject(json, "rtol", r->opts.rtol);
    cJSON_AddNumberToObject(json, "atol", r->opts.atol);
    cJSON_AddNumberToObject(json, "nll", nll);
    cJSON_AddNumberToObject(json, "bits_per_dim", nll / ln2d);
    cJSON_AddNumberToObject(json, "se", se);
    cJSON_AddNumberToObject(json, "bits_per_dim_se", se / ln2d);
    cJSON_AddNumberToObject(json, "se_data", se_data);
    if (!isnan(a->bin_width))
        cJSON_AddNumberToObject(json, "bits_per_dim_discrete", nll / ln2d - log2(a->bin_width));
    cJSON_AddNumberToObject(json, "nfe", (double)r->stats.nfe);
    cJSON_AddNumberToObject(json, "rows_per_eval", (double)r->stats.rows_per_eval);
    cJSON_AddNumberToObject(json, "njac", (double)r->stats.njac);
    cJSON_AddNumberToObject(json, "steps", (double)r->stats.accepted);
    cJSON_AddNumberToObject(json, "rejected", (double)r->stats.rejected);
    cJSON_AddNumberToObject(json, "seconds", r->seconds);
    if (a->data != NULL) {
        cJSON_AddStringToObject(json, "data", a->data);
    } else {
        cJSON_AddNumberToObject(json, "seed", (double)a->seed);
        cJSON_AddNumberToObject(json, "sample_nfe", (double)r->sample_nfe);
    }
    report_exact(json, r);
}

/* --out: row,logp,nll,se,prior,delta[,exact_logp] (%.17g), written atomically. */
static int write_csv(const char *path, const nll_run *r, char *err, size_t errlen)
{
    const size_t cap = 200 * (r->n + 1);     /* a row is at most 20 + 6 * 25 + 1 chars */
    char *buf = malloc(cap);
    if (buf == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "--out %s: out of memory", path);
    size_t len = (size_t)snprintf(buf, cap, "row,logp,nll,se,prior,delta%s\n",
                                  r->exact != NULL ? ",exact_logp" : "");
    for (size_t i = 0; i < r->n; i++) {
        len += (size_t)snprintf(buf + len, cap - len, "%zu,%.17g,%.17g,%.17g,%.17g,%.17g", i,
                                r->logp[i], -r->logp[i], r->se[i], r->prior[i], r->delta[i]);
        if (r->exact != NULL)
            len += (size_t)snprintf(buf + len, cap - len, ",%.17g", r->exact[i]);
        len += (size_t)snprintf(buf + len, cap - len, "\n");
    }
    int rc = dode_write_atomic(path, buf, len, err, errlen);
    free(buf);
    return rc;
}

int cmd_nll(int argc, char **argv)
{
    nll_args a = { .schedule = "ddpm-linear", .t_max = NAN, .t_min = NAN, .rtol = NAN,
                   .atol = NAN, .bin_width = NAN };
    nll_run r = { .model = NULL };
    cJSON *json = NULL;
    char err[2048];
    int rc = cli_parse(nll_flags, FOR_NLL, argc, argv, &a, err, sizeof err);
    if (rc == CLI_HELP) {
        cli_usage(stdout, "nll", "--model SPEC (--data FILE.npy | --samples-from-model N) "
                  "[options]", nll_flags, FOR_NLL);
        return 0;
    }
    if (rc == DODE_OK)
        rc = setup_model(&a, &r, err, sizeof err);
    if (rc == DODE_OK)
        rc = setup_data(&a, &r, err, sizeof err);
    if (rc == DODE_OK)
        rc = nll_solve(&r, err, sizeof err);
    if (rc == DODE_OK && (json = cJSON_CreateObject()) == NULL)
        rc = dode_fail(err, sizeof err, DODE_ENOMEM, "cannot allocate the report");
    if (rc == DODE_OK)
        report_run(json, &a, &r);
    if (rc == DODE_OK && a.out != NULL)
        rc = write_csv(a.out, &r, err, sizeof err);
    rc = cli_finish_report("nll", rc, json, err, sizeof err);
    cJSON_Delete(json);
    nll_free(&r);
    return cli_exit_status(rc);
}
