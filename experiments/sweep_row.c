/* sweep_row.c - one row of the sweep: its grid, its start, its solve, its measures.
 *
 * Each row mirrors `diffode sample --seed S --n N`: x_T ~ N(0, I) from mt19937 seeded with
 * S (ziggurat), xbar_T = x_T sqrt(1 + sigma_T^2); the same generator then feeds any
 * stochastic step. Errors are measured in xbar against the reference (sweep_ref.c), at the
 * end and, with trajectory = yes, at every grid point; FD and SW2 against the model's own
 * samples; the difference from the baseline solver's run; the errors against the exact
 * data law (sweep_exact.c). A failing solve is a result (its
 * status column), not an error of the sweep. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "sweep_impl.h"

#define TRUE_SEED 0x7275650aUL      /* the true-sample set's own stream, apart from seeds */

/* steps >= 1: config.c checked that every nfe is at least one step of every solver. */
int sweep_make_grid(const sweep *sw, const coords *c, dode_grid *g, char *err, size_t errlen)
{
    return exp_config_grid_for(sw->cfg, c->spacing, sw->schedules[c->schedule], c->solver,
                               sw->cfg->nfe[c->nfe], g, err, errlen);
}

/* n rows of x_T ~ N(0, I) from rng, scaled to xbar_T at sigma s0 (MATH.md section 4). */
static void draw_start(const dode_schedule *sc, gsl_rng *rng, size_t len, double s0,
                       double *xbar_T)
{
    for (size_t k = 0; k < len; k++)
        xbar_T[k] = gsl_ran_gaussian_ziggurat(rng, 1.0);
    dode_x_to_xbar(sc, s0, xbar_T, xbar_T, len);
}

/* FD and SW2 against the model's own distribution at s1: true_samples fresh x_T (their
 * own seed) carried by the reference flow. SW2 pairs the n samples with the first n of
 * them (equal counts); NaN when there are fewer. */
static int distribution_metrics(sweep *sw, const coords *c, const double *xbar, result *r,
                                char *err, size_t errlen)
{
    const exp_config *cfg = sw->cfg;
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
        draw_start(sw->schedules[c->schedule], rng, nt * dim, r->s0, x_T);
        rc = sweep_reference(sw, c->model, c->schedule, nt, r->s0, r->s1, x_T, x_T + nt * dim,
                             &kind, err, errlen);
    }
    const double *truth = x_T + nt * dim;
    if (rc == DODE_OK && exp_metric_frechet(xbar, n, truth, nt, dim, &r->fd, NULL, 0) != 0)
        r->fd = NAN;
    if (rc == DODE_OK && (nt < n || exp_metric_sliced_w2(xbar, truth, n, dim,
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
    exp_metric_rmse(xbar, ref, len, &r->rmse, NULL, 0);
    exp_metric_max_abs(xbar, ref, len, &r->max_err, NULL, 0);
    if (m->log_density == NULL ||
        exp_metric_mean_nll(m, xbar, sw->cfg->samples, r->s1, &r->nll, NULL, 0) != DODE_OK)
        r->nll = NAN;
    return distribution_metrics(sw, c, xbar, r, err, errlen);
}

/* The reference at every recorded point: the exact flow from s0, or rk8pd carried from
 * point to point (each leg at ref_rtol, so the chain stays ~1e-12 from the true flow). */
static int point_reference(sweep *sw, const coords *c, double s0, double from, double to,
                           const double *xbar_T, double *ref, char *err, size_t errlen)
{
    const size_t n = sw->cfg->samples;
    if (sweep_ref_is_exact(sw, c->model))
        return sweep_ref_flow(sw, c->model, c->schedule, n, s0, to, xbar_T, ref, err, errlen);
    return to == from ? DODE_OK : sweep_ref_flow(sw, c->model, c->schedule, n, from, to, ref,
                                                 ref, err, errlen);
}

/* RMSE between trace points p of tr and base, NaN where base has no point at that sigma. */
static double point_diff(const dode_trace *tr, const dode_trace *base, size_t p, size_t len)
{
    double d = NAN;
    if (base != NULL && p < base->count && p < base->cap && base->sigma[p] == tr->sigma[p])
        exp_metric_rmse(tr->xbar + p * len, base->xbar + p * len, len, &d, NULL, 0);
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
    sweep_row_key(sw->cfg, idx, key, sizeof key);
    if (rc == DODE_OK)
        memcpy(ref, xbar_T, len * sizeof *ref);
    for (size_t p = 0; rc == DODE_OK && p < points; p++) {
        rc = point_reference(sw, c, s0, prev, tr->sigma[p], xbar_T, ref, err, errlen);
        prev = tr->sigma[p];
        exp_metric_rmse(tr->xbar + p * len, ref, len, &e, NULL, 0);
        snprintf(line, sizeof line, "%s,%zu,%.17g,%s,%s\n", key, p, prev,
                 sweep_num(e, nb, sizeof nb),
                 sweep_num(point_diff(tr, base, p, len), db, sizeof db));
        sweep_sb_add(&b, line);
    }
    free(ref);
    if (rc == DODE_OK && b.oom)
        rc = dode_fail(err, errlen, DODE_ENOMEM, "out of memory for trajectory errors");
    if (rc != DODE_OK)
        free(b.s);
    *out = rc == DODE_OK ? b.s : NULL;
    return rc;
}

/* A trace of steps + 2 points (a denoise_to_zero jump adds one), with trajectory = yes.
 * No overflow check: config.c bounds samples x (nfe + 2) by 2^31, and steps <= nfe. */
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
 * g->sigma[0]); a stochastic solver draws from the seed's noise source (noise.h), or from
 * the config's noise file, so its noise does not depend on the order or thread rows run
 * in. Returns the solver's status. */
static int solve_with(sweep *sw, const coords *c, const dode_grid *g, double *xbar,
                      dode_trace *tr, size_t *nfe, double *seconds, char *why, size_t whylen)
{
    const exp_cfg_solver *sv = &sw->cfg->solvers[c->solver];
    dode_solver_opts o = sv->opts;
    o.noise = sw->cfg->noise[0] != '\0' ? dode_noise_read(sw->cfg->noise, why, whylen)
                                         : dode_noise_new_seeded(sw->cfg->seeds[c->seed], why,
                                                                 whylen);
    dode_ode *ode = o.noise == NULL ? NULL
        : dode_ode_new(sw->models[c->model], sw->schedules[c->schedule], sw->cfg->samples,
                       why, whylen);
    if (ode == NULL) {
        const int rc = o.noise == NULL && sw->cfg->noise[0] != '\0' ? DODE_EIO : DODE_ENOMEM;
        dode_noise_free(o.noise);
        return rc;
    }
    dode_run_stats st;
    int rc = dode_run_xbar(sv->type, ode, g, &o, xbar, tr, &st, why, whylen);
    *seconds = st.seconds;
    *nfe = st.nfe;
    dode_ode_free(ode);
    dode_noise_free(o.noise);
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
    int rc = rng ? sweep_make_grid(sw, &b, &g, NULL, 0) : DODE_ENOMEM;
    if (rc == DODE_OK)
        rc = trace_alloc(sw, len, g.steps, btr);
    if (rc == DODE_OK) {
        gsl_rng_set(rng, sw->cfg->seeds[c->seed]);
        draw_start(sw->schedules[c->schedule], rng, len, g.sigma[0], bx);
        rc = solve_with(sw, &b, &g, bx, btr, &nfe, &secs, why, sizeof why);
    }
    dode_grid_free(&g);
    gsl_rng_free(rng);
    return rc;
}

/* r->diff and the trajectory lines, against the baseline (the row's own trace when it is
 * the baseline: zero by definition, not recomputed). cfg->baseline is -1 or an index into
 * cfg->solvers: config.c resolved the name. */
static int compare(sweep *sw, size_t idx, const coords *c, const double *xbar,
                   const dode_trace *tr, const double *xbar_T, result *r, char *err,
                   size_t errlen)
{
    const exp_config *cfg = sw->cfg;
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
            exp_metric_rmse(xbar, bx, len, &r->diff, NULL, 0);
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
    const exp_cfg_solver *sv = &sw->cfg->solvers[c->solver];
    const size_t n = sw->cfg->samples, len = n * sw->models[c->model]->dim;
    double *xbar_T = buf, *xbar = buf + len, *ref = buf + 2 * len;
    r->steps = g->steps;
    r->s0 = g->sigma[0];
    r->s1 = sv->opts.denoise_to_zero && g->sigma[g->steps] > 0 ? 0.0 : g->sigma[g->steps];
    gsl_rng_set(rng, sw->cfg->seeds[c->seed]);
    draw_start(sw->schedules[c->schedule], rng, len, r->s0, xbar_T);
    memcpy(xbar, xbar_T, len * sizeof *xbar);
    dode_trace tr = { 0 };
    int rc = DODE_OK;
    if (trace_alloc(sw, len, g->steps, &tr) != DODE_OK)
        rc = dode_fail(err, errlen, DODE_ENOMEM, "out of memory for a trajectory of %zu "
                       "points", g->steps + 2);
    if (rc == DODE_OK)
        r->status = solve_with(sw, c, g, xbar, &tr, &r->nfe_used, &r->seconds, r->why,
                               sizeof r->why);
    /* The reference after the solve: with --jobs, the first row of a reference computes it
     * holding the store's lock, and the other workers' rows of that reference run their
     * solves meanwhile instead of waiting for the lock first. */
    if (rc == DODE_OK)
        rc = sweep_reference(sw, c->model, c->schedule, n, r->s0, r->s1, xbar_T, ref,
                             &r->ref_kind, err, errlen);
    if (rc == DODE_OK && r->status == DODE_OK)
        rc = measure(sw, c, xbar, ref, r, err, errlen);
    if (rc == DODE_OK && r->status == DODE_OK)
        rc = sweep_exact_metrics(sw, c, g, xbar, r, err, errlen);
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
    const dode_grid rev = { .steps = g->steps, .sigma = up, .t = NULL, .spacing = g->spacing,
                           .rho = g->rho };
    gsl_rng_set(rng, sw->cfg->seeds[c->seed]);
    draw_start(sw->schedules[c->schedule], rng, len, r->s0, xbar_T);
    int rc = sweep_reference(sw, c->model, c->schedule, n, r->s0, r->s1, xbar_T, start,
                             &r->ref_kind, err, errlen);
    if (rc == DODE_OK) {
        memcpy(xbar, start, len * sizeof *xbar);
        r->status = solve_with(sw, c, &rev, xbar, NULL, &nfe[0], &secs[0], r->why,
                               sizeof r->why);
    }
    if (rc == DODE_OK && r->status == DODE_OK)
        r->status = solve_with(sw, c, g, xbar, NULL, &nfe[1], &secs[1], r->why,
                               sizeof r->why);
    r->nfe_used = nfe[0] + nfe[1];
    r->seconds = secs[0] + (r->status == DODE_OK ? secs[1] : 0);
    if (rc == DODE_OK && r->status == DODE_OK) {
        exp_metric_rmse(xbar, start, len, &r->rmse, NULL, 0);
        exp_metric_max_abs(xbar, start, len, &r->max_err, NULL, 0);
    }
    free(up);
    return rc;
}

int sweep_run_one(sweep *sw, size_t idx, result *r, char *err, size_t errlen)
{
    const coords c = sweep_decode(sw->cfg, idx);
    const size_t len = sw->cfg->samples * sw->models[c.model]->dim;
    *r = (result){ .rmse = NAN, .max_err = NAN, .nll = NAN, .fd = NAN, .sw2 = NAN,
                   .diff = NAN, .w2_exact = NAN, .kl_exact = NAN, .mode_tv = NAN,
                   .logp_gap = NAN, .energy = NAN, .ref_kind = "none" };
    dode_grid g = { 0 };
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    double *buf = malloc(3 * len * sizeof *buf);
    int rc = rng && buf ? DODE_OK : dode_fail(err, errlen, DODE_ENOMEM, "out of memory for "
                                              "%zu samples", sw->cfg->samples);
    if (rc == DODE_OK)
        rc = sweep_make_grid(sw, &c, &g, err, errlen);
    if (rc == DODE_OK)
        rc = sw->cfg->roundtrip ? roundtrip_row(sw, &c, &g, rng, buf, r, err, errlen)
                                : solve_row(sw, idx, &c, &g, rng, buf, r, err, errlen);
    dode_grid_free(&g);
    free(buf);
    gsl_rng_free(rng);
    return rc;
}
