/* multistep.c - the history, Lagrange basis and step loop shared by the linear multistep
 * baselines (multistep.h). Invariant: h->eps[0] always holds epsh at h->sigma[0], the
 * start of the step being taken, so a method's weights integrate the interpolant through
 * (h->sigma[j], h->eps[j]), j < k. */
#include <stdlib.h>

#include "diffode/status.h"
#include "multistep.h"
#include "solver_impl.h"

/* Fixed-step Adams-Bashforth weights of order k, newest value first (Hairer, Norsett &
 * Wanner I, III.1, Table 1.1; the weights iPNDM, PNDM and PLMS use). */
const double ms_ab_fixed[MS_MAX_ORDER][MS_MAX_ORDER] = {
    { 1.0, 0.0, 0.0, 0.0 },
    { 3.0 / 2.0, -1.0 / 2.0, 0.0, 0.0 },
    { 23.0 / 12.0, -16.0 / 12.0, 5.0 / 12.0, 0.0 },
    { 55.0 / 24.0, -59.0 / 24.0, 37.0 / 24.0, -9.0 / 24.0 },
};

int ms_history_push(dode_ode *ode, ms_history *h, double sigma, double t, const double *xbar)
{
    double *oldest = h->eps[MS_MAX_ORDER - 1];
    for (int j = MS_MAX_ORDER - 1; j > 0; j--) {
        h->eps[j] = h->eps[j - 1];
        h->sigma[j] = h->sigma[j - 1];
        h->t[j] = h->t[j - 1];
    }
    h->eps[0] = oldest, h->sigma[0] = sigma, h->t[0] = t;
    if (h->count < MS_MAX_ORDER)
        h->count++;
    return dode_ode_rhs(ode, sigma, xbar, h->eps[0]);
}

int ms_step_order(const ms_history *h, int max_order)
{
    int k = (size_t)max_order < h->count ? max_order : (int)h->count;
    for (int a = 1; a < k; a++)          /* nodes 0 .. a-1 distinct; is node a new? */
        for (int b = 0; b < a; b++)
            if (h->sigma[a] == h->sigma[b])
                return a;
    return k;
}

double ms_grid_t(const dode_ode *ode, const dode_grid *grid, size_t i)
{
    return grid->t != NULL ? grid->t[i] : dode_schedule_t(ode->schedule, grid->sigma[i]);
}

double ms_lagrange(const double *nodes, int k, int j, double x)
{
    double p = 1.0;
    for (int m = 0; m < k; m++)
        if (m != j)
            p *= (x - nodes[m]) / (nodes[j] - nodes[m]);
    return p;
}

typedef struct {
    ms_history h;
    const dode_grid *grid;
    int max_order;
    ms_weights_fn weights;
    void *ctx;
} ms_run;

/* A solver_step_fn: one NFE at sigma[i], then the AB-form update. */
static int ms_step(dode_ode *ode, const dode_solver_opts *opts, const double *sigmas, size_t i,
                   size_t steps, double *xbar, double *const *ws, void *ctx)
{
    (void)opts, (void)steps, (void)ws;
    ms_run *r = ctx;
    int rc = ms_history_push(ode, &r->h, sigmas[i], ms_grid_t(ode, r->grid, i), xbar);
    if (rc != DODE_OK || sigmas[i] == sigmas[i + 1])
        return rc;
    const int k = ms_step_order(&r->h, r->max_order);
    double w[MS_MAX_ORDER];
    rc = r->weights(ode, &r->h, sigmas[i + 1], ms_grid_t(ode, r->grid, i + 1), k, w, r->ctx);
    if (rc != DODE_OK)
        return rc;
    solver_axpy_n(xbar, k, w, (const double *const *)r->h.eps, solver_len(ode));
    return DODE_OK;
}

int ms_solve(dode_ode *ode, const dode_grid *grid, double *xbar, const dode_solver_opts *opts,
             dode_trace *trace, int max_order, ms_weights_fn weights, void *ctx)
{
    if (max_order < 1 || max_order > MS_MAX_ORDER)
        return dode_ode_fail(ode, DODE_EINVAL, "order %d is not supported (1 to %d)",
                             max_order, MS_MAX_ORDER);
    ms_run r = { .grid = grid, .max_order = max_order, .weights = weights, .ctx = ctx };
    double *block = solver_workspace(ode, MS_MAX_ORDER, r.h.eps);
    if (block == NULL)
        return DODE_ENOMEM;
    int rc = solver_step_loop(ode, grid->sigma, grid->steps, xbar, opts, trace, NULL, ms_step,
                              &r);
    free(block);
    return rc;
}
