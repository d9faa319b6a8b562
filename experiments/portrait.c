/* portrait.c - tables for pictures of the flow of a 1-D or 2-D model (portrait.h): paths
 * of the solvers over contours of the density, samples over the density, and the 1-D flow
 * map over the density of the scaled state x = xbar / sqrt(1 + sigma^2) (MATH.md
 * section 4: x is the VP state, so every panel has a fixed scale from sigma_max to 0). */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/diffode.h"
#include "cli.h"
#include "portrait.h"

enum { PATHS = 12, SAMPLES = 512, MAX_SOLVERS = 6, MAX_PANELS = 4, CELLS = 120, FAN = 25, POINTS = 160 };

typedef struct {
    const exp_config *cfg;
    dode_model *model;
    dode_schedule *schedule;
    double s0, s1;           /* the grid's first and last sigma */
    const char *dir;
} portrait;

/* Writes the text of the memory stream into dir/file, atomically, and frees it. */
static int emit(const portrait *p, const char *file, FILE *f, char **buf, size_t *len,
                char *err, size_t errlen)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", p->dir, file);
    const int bad = fclose(f) != 0;
    int rc = bad ? dode_fail(err, errlen, DODE_ENOMEM, "out of memory writing %s", path)
                 : dode_write_atomic(path, *buf, *len, err, errlen);
    free(*buf);
    *buf = NULL;
    return rc;
}

/* The grid of the first solver at the first NFE of the config. */
static int first_grid(const portrait *p, size_t solver, dode_grid *g, char *err, size_t errlen)
{
    const exp_config *cfg = p->cfg;
    return exp_config_grid_for(cfg, 0, p->schedule, solver, cfg->nfe[0], g, err, errlen);
}

/* xbar (n rows) carried by the reference flow from sigma `from` to `to`: the exact flow,
 * else rk8pd at 1e-10 (pictures need less than the sweep's 1e-12). */
static int flow(const portrait *p, size_t n, double *xbar, double from, double to, char *err,
                size_t errlen)
{
    dode_reference_opts o;
    dode_reference_opts_init(&o);
    o.rtol = o.atol = 1e-10;
    return dode_reference(p->model, p->schedule, n, from, to, xbar, xbar, &o, NULL, NULL, err,
                          errlen);
}

/* n rows of x_T ~ N(0, I) from rng, scaled to xbar at p->s0 (as the sweep draws them). */
static void draw_from(const portrait *p, gsl_rng *rng, size_t n, double *xbar)
{
    for (size_t k = 0; k < n * p->model->dim; k++)
        xbar[k] = gsl_ran_gaussian_ziggurat(rng, 1.0);
    dode_x_to_xbar(p->schedule, p->s0, xbar, xbar, n * p->model->dim);
}

/* The same from the first seed's stream. */
static int draw(const portrait *p, size_t n, double *xbar, char *err, size_t errlen)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (rng == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "portrait: out of memory for a generator");
    gsl_rng_set(rng, p->cfg->seeds[0]);
    draw_from(p, rng, n, xbar);
    gsl_rng_free(rng);
    return DODE_OK;
}

/* Solver s of the config on the first grid from the first seed's first n draws (drawn
 * here; a stochastic solver draws the first seed's noise (noise.h), as in the sweep): the
 * final state into xbar, the model evaluations it took into *nfe (what the figure's legend
 * says: a budget that is not a multiple of the cost per step gives fewer) and, if tr is
 * set, the path. */
static int solve(const portrait *p, size_t s, size_t n, double *xbar, dode_trace *tr,
                 size_t *nfe, char *err, size_t errlen)
{
    const exp_cfg_solver *sv = &p->cfg->solvers[s];
    dode_grid g = { 0 };
    dode_solver_opts o = sv->opts;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (rng == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "portrait: out of memory for a generator");
    gsl_rng_set(rng, p->cfg->seeds[0]);
    draw_from(p, rng, n, xbar);
    o.noise = dode_noise_new_seeded(p->cfg->seeds[0], err, errlen);
    dode_ode *ode = o.noise ? dode_ode_new(p->model, p->schedule, n, err, errlen) : NULL;
    int rc = ode ? first_grid(p, s, &g, err, errlen) : DODE_ENOMEM;
    if (rc == DODE_OK && tr != NULL) {
        tr->cap = g.steps + 2;
        tr->sigma = malloc(tr->cap * sizeof *tr->sigma);
        tr->xbar = malloc(tr->cap * n * p->model->dim * sizeof *tr->xbar);
        rc = tr->sigma && tr->xbar ? DODE_OK : DODE_ENOMEM;
    }
    if (rc == DODE_OK)
        rc = dode_run_xbar(sv->type, ode, &g, &o, xbar, tr, NULL, err, errlen);
    *nfe = ode != NULL ? ode->nfe : 0;
    dode_grid_free(&g);
    dode_ode_free(ode);
    dode_noise_free(o.noise);
    gsl_rng_free(rng);
    return rc;
}

/* The box [lo, hi] (per coordinate) around n points, widened by a fifth on each side. */
static void box(const double *x, size_t n, double lo[2], double hi[2])
{
    for (int j = 0; j < 2; j++) {
        lo[j] = INFINITY;
        hi[j] = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            lo[j] = fmin(lo[j], x[2 * i + j]);
            hi[j] = fmax(hi[j], x[2 * i + j]);
        }
        const double pad = 0.2 * (hi[j] - lo[j]) + 1e-3;
        lo[j] -= pad;
        hi[j] += pad;
    }
}

/* density2d.dat: log p_s1 on a (CELLS + 1)^2 grid over the box. */
static int density_grid(const portrait *p, const double lo[2], const double hi[2], char *err,
                        size_t errlen)
{
    double xy[2 * (CELLS + 1)], lp[CELLS + 1];
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "out of memory for density2d.dat");
    void *ws = NULL;
    int rc = dode_model_workspace_new(p->model, CELLS + 1, &ws, NULL, 0);
    for (int i = 0; i <= CELLS && rc == DODE_OK; i++) {
        for (int k = 0; k <= CELLS; k++) {
            xy[2 * k] = lo[0] + (hi[0] - lo[0]) * i / CELLS;
            xy[2 * k + 1] = lo[1] + (hi[1] - lo[1]) * k / CELLS;
        }
        rc = p->model->log_density(p->model, ws, CELLS + 1, xy, p->s1, lp);
        for (int k = 0; k <= CELLS && rc == DODE_OK; k++)
            fprintf(f, "%.6g %.6g %.6g\n", xy[2 * k], xy[2 * k + 1], fmax(lp[k], -50.0));
        fprintf(f, "\n");
    }
    dode_model_workspace_free(p->model, ws);
    if (rc != DODE_OK) {
        fclose(f);
        free(buf);
        return dode_fail(err, errlen, rc, "portrait: log_density failed at sigma %g", p->s1);
    }
    return emit(p, "density2d.dat", f, &buf, &len, err, errlen);
}

/* samples2d.dat: the reference samples (block 0), then the first MAX_PANELS - 1 solvers'
 * at the first NFE; the box around the reference samples into lo, hi. */
static int samples(const portrait *p, double lo[2], double hi[2], char *err, size_t errlen)
{
    double *x = malloc(2 * 2 * SAMPLES * sizeof *x), *y = x + 2 * SAMPLES;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = x ? open_memstream(&buf, &len) : NULL;
    if (f == NULL) {
        free(x);
        return dode_fail(err, errlen, DODE_ENOMEM, "out of memory for %d samples", SAMPLES);
    }
    int rc = draw(p, SAMPLES, x, err, errlen);
    if (rc == DODE_OK)
        rc = flow(p, SAMPLES, x, p->s0, p->s1, err, errlen);
    if (rc == DODE_OK) {
        box(x, SAMPLES, lo, hi);
        fprintf(f, "\"exact ODE (reference)\" \"y\"\n");
        for (size_t i = 0; i < SAMPLES; i++)
            fprintf(f, "%.6g %.6g\n", x[2 * i], x[2 * i + 1]);
    }
    for (size_t s = 0; s + 1 < MAX_PANELS && s < p->cfg->nsolvers && rc == DODE_OK; s++) {
        size_t nfe = 0;
        rc = solve(p, s, SAMPLES, y, NULL, &nfe, err, errlen);
        fprintf(f, "\n\n\"%s, NFE %zu\" \"y\"\n", p->cfg->solvers[s].name, nfe);
        for (size_t i = 0; i < SAMPLES && rc == DODE_OK; i++)
            fprintf(f, "%.6g %.6g\n", y[2 * i], y[2 * i + 1]);
    }
    free(x);
    if (rc != DODE_OK) {
        fclose(f);
        free(buf);
        return rc;
    }
    return emit(p, "samples2d.dat", f, &buf, &len, err, errlen);
}

/* trajectories2d.dat: PATHS paths of each of the first MAX_SOLVERS solvers. */
static int trajectories(const portrait *p, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "out of memory for trajectories2d.dat");
    int rc = DODE_OK;
    for (size_t s = 0; s < p->cfg->nsolvers && s < MAX_SOLVERS && rc == DODE_OK; s++) {
        double x[2 * PATHS];
        dode_trace tr = { 0 };
        size_t nfe = 0;
        rc = solve(p, s, PATHS, x, &tr, &nfe, err, errlen);
        const size_t pts = tr.count < tr.cap ? tr.count : tr.cap;
        fprintf(f, "%s\"%s, NFE %zu\" \"y\"\n", s ? "\n\n" : "", p->cfg->solvers[s].name,
                nfe);
        for (size_t i = 0; i < PATHS && rc == DODE_OK; i++) {
            for (size_t k = 0; k < pts; k++) {
                double y[2];
                dode_xbar_to_x(p->schedule, tr.sigma[k], tr.xbar + (k * PATHS + i) * 2, y, 2);
                fprintf(f, "%.6g %.6g\n", y[0], y[1]);
            }
            fprintf(f, i + 1 < PATHS ? "\n" : "");
        }
        free(tr.sigma);
        free(tr.xbar);
    }
    if (rc != DODE_OK) {
        fclose(f);
        free(buf);
        return rc;
    }
    return emit(p, "trajectories2d.dat", f, &buf, &len, err, errlen);
}

/* log10 sigma of point k of POINTS + 1, from s0 down to s1 (s1 = 0: stop at 1e-3). */
static double fan_sigma(const portrait *p, int k)
{
    const double a = log10(p->s0), b = log10(p->s1 > 0 ? p->s1 : 1e-3);
    return pow(10.0, a + (b - a) * k / POINTS);
}

/* flowmap1d.dat: FAN paths of the reference flow; their x range into lo, hi. */
static int flowmap(const portrait *p, double *lo, double *hi, char *err, size_t errlen)
{
    double xbar[FAN], x[FAN];
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "out of memory for flowmap1d.dat");
    *lo = -3;
    *hi = 3;
    for (int i = 0; i < FAN; i++)       /* x_T evenly over [-2.5, 2.5] */
        x[i] = -2.5 + 5.0 * i / (FAN - 1);
    dode_x_to_xbar(p->schedule, p->s0, x, xbar, FAN);
    double path[FAN][POINTS + 1];
    int rc = DODE_OK;
    for (int k = 0; k <= POINTS && rc == DODE_OK; k++) {
        const double s = fan_sigma(p, k);
        if (k > 0)
            rc = flow(p, FAN, xbar, fan_sigma(p, k - 1), s, err, errlen);
        dode_xbar_to_x(p->schedule, s, xbar, x, FAN);
        for (int i = 0; i < FAN; i++) {
            path[i][k] = x[i];
            *lo = fmin(*lo, path[i][k]);
            *hi = fmax(*hi, path[i][k]);
        }
    }
    for (int i = 0; i < FAN && rc == DODE_OK; i++) {
        for (int k = 0; k <= POINTS; k++)
            fprintf(f, "%.6g %.6g\n", log10(fan_sigma(p, k)), path[i][k]);
        fprintf(f, "\n");
    }
    if (rc != DODE_OK) {
        fclose(f);
        free(buf);
        return rc;
    }
    return emit(p, "flowmap1d.dat", f, &buf, &len, err, errlen);
}

/* heat1d.dat: the density of x at each sigma of the fan, x over [lo, hi]. */
static int heat(const portrait *p, double lo, double hi, char *err, size_t errlen)
{
    double x[CELLS + 1], xb[CELLS + 1], lp[CELLS + 1];
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "out of memory for heat1d.dat");
    void *ws = NULL;
    int rc = dode_model_workspace_new(p->model, CELLS + 1, &ws, NULL, 0);
    for (int k = 0; k <= POINTS && rc == DODE_OK; k++) {
        const double s = fan_sigma(p, k);
        const double c = dode_schedule_xbar_scale(p->schedule, s);   /* dxbar / dx */
        for (int i = 0; i <= CELLS; i++)
            x[i] = lo + (hi - lo) * i / CELLS;
        dode_x_to_xbar(p->schedule, s, x, xb, CELLS + 1);
        rc = p->model->log_density(p->model, ws, CELLS + 1, xb, s, lp);
        for (int i = 0; i <= CELLS && rc == DODE_OK; i++)   /* p_x(x) = c p_sigma(c x) */
            fprintf(f, "%.6g %.6g %.6g\n", log10(s), x[i], c * exp(lp[i]));
        fprintf(f, "\n");
    }
    dode_model_workspace_free(p->model, ws);
    if (rc != DODE_OK) {
        fclose(f);
        free(buf);
        return dode_fail(err, errlen, rc, "portrait: log_density failed");
    }
    return emit(p, "heat1d.dat", f, &buf, &len, err, errlen);
}

static int draw_all(portrait *p, char *err, size_t errlen)
{
    dode_grid g = { 0 };
    int rc = first_grid(p, 0, &g, err, errlen);
    if (rc == DODE_OK) {
        p->s0 = g.sigma[0];
        p->s1 = g.sigma[g.steps];
    }
    dode_grid_free(&g);
    double lo[2], hi[2];
    if (rc == DODE_OK && p->model->dim == 2) {
        rc = samples(p, lo, hi, err, errlen);
        for (int j = 0; j < 2; j++) {       /* the paths start ~ N(0, I): show +-3 too */
            lo[j] = fmin(lo[j], -3);
            hi[j] = fmax(hi[j], 3);
        }
        if (rc == DODE_OK)
            rc = density_grid(p, lo, hi, err, errlen);
        if (rc == DODE_OK)
            rc = trajectories(p, err, errlen);
    } else if (rc == DODE_OK) {
        rc = flowmap(p, &lo[0], &hi[0], err, errlen);
        if (rc == DODE_OK)
            rc = heat(p, lo[0], hi[0], err, errlen);
    }
    return rc;
}

int exp_portrait_write(const exp_config *cfg, const char *dir, char *err, size_t errlen)
{
    portrait p = { .cfg = cfg, .dir = dir };
    int rc = dode_model_from_spec(cfg->models[0].spec, &p.model, err, errlen);
    if (rc != DODE_OK)
        return rc;
    const int drawable = !cfg->roundtrip && (p.model->dim == 1 || p.model->dim == 2) &&
                         p.model->log_density != NULL;
    if (drawable)
        rc = dode_schedule_from_spec(cfg->schedules[0], &p.schedule, err, errlen);
    if (drawable && rc == DODE_OK)
        rc = draw_all(&p, err, errlen);
    dode_schedule_free(p.schedule);
    dode_model_free(p.model);
    return rc;
}
