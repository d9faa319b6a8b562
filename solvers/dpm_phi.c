/* dpm_phi.c - the kernel the DPM-Solver family and UniPC share (dpm.h): the phi-type
 * functions E1..E4, step coefficients, the model in noise or data form with the
 * official x0 thresholding, inner points of singlestep steps, option checks, and one
 * singlestep DPM-Solver(++) step of order 1, 2 or 3.
 *
 * Sources: MATH.md section 6; Lu et al. 2022 (DPM-Solver, Alg. 1 and 2, eq. 3.7-3.9);
 * Lu et al. 2022b (DPM-Solver++, Alg. 1); the official dpm_solver_pytorch.py
 * (singlestep_dpm_solver_second_update / _third_update, dynamic_thresholding_fn), whose
 * x-space updates divided by alpha_t are the xbar updates below. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/schedule.h"
#include "diffode/status.h"
#include "dpm.h"
#include "solver_impl.h"

/* sum_{j>=1} z^j / (j + k)!, twelve terms: for |z| < 0.1 the first omitted term is
 * below 1e-13 / 13! relative, far under double rounding. */
static double phi_series(double z, int k)
{
    double fact = 1.0, s = 0.0, zj = 1.0;
    for (int i = 2; i <= k + 1; i++)
        fact *= i;                          /* (1 + k)! */
    for (int j = 1; j <= 12; j++) {
        zj *= z;
        s += zj / fact;
        fact *= (double)(j + k + 1);
    }
    return s;
}

double dpm_e1(double z)
{
    return expm1(z);
}

double dpm_e2(double z)
{
    if (fabs(z) < 0.1)
        return phi_series(z, 1);
    return expm1(z) / z - 1.0;
}

double dpm_e3(double z)
{
    if (fabs(z) < 0.1)
        return phi_series(z, 2);
    return dpm_e2(z) / z - 0.5;
}

double dpm_e4(double z)
{
    if (fabs(z) < 0.1)
        return phi_series(z, 3);
    return dpm_e3(z) / z - 1.0 / 6.0;
}

dpm_coef dpm_coef_make(dpm_form form, double sigma_s, double sigma_t)
{
    const double h = log(sigma_s / sigma_t);
    if (form == DPM_NOISE)
        return (dpm_coef){ .h = h, .k0 = 1.0, .c = sigma_t, .z = h };
    return (dpm_coef){ .h = h, .k0 = sigma_t / sigma_s, .c = 1.0, .z = -h };
}

void dpm_lincomb(double *out, size_t len, double a, const double *x, double b0,
                 const double *v0, double b1, const double *v1, double b2, const double *v2,
                 double b3, const double *v3)
{
    solver_lincomb(out, len, a, x, b0, v0, b1, v1, b2, v2, b3, v3);
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* torch.quantile's default ("linear"): position q (n - 1) in the sorted values. */
static double quantile_abs(const double *v, size_t n, double q, double *scratch)
{
    for (size_t j = 0; j < n; j++)
        scratch[j] = fabs(v[j]);
    qsort(scratch, n, sizeof *scratch, cmp_double);
    const double pos = q * (double)(n - 1);
    const size_t lo = (size_t)floor(pos);
    if (lo + 1 >= n)
        return scratch[n - 1];
    return scratch[lo] + (pos - (double)lo) * (scratch[lo + 1] - scratch[lo]);
}

void dpm_threshold(double *x0, size_t n, size_t dim, int kind, double clip, double ratio,
                   double *scratch)
{
    for (size_t i = 0; i < n; i++) {
        double *row = x0 + i * dim;
        double s = clip;
        if (kind == 2) {                    /* Imagen / official: s >= clip, rescaled */
            s = fmax(quantile_abs(row, dim, ratio, scratch), clip);
        }
        for (size_t j = 0; j < dim; j++) {
            const double v = fmin(fmax(row[j], -s), s);
            row[j] = kind == 2 ? v / s : v;
        }
    }
}

void dpm_model_init(dpm_model *mod, dode_ode *ode, dpm_form form,
                    const dode_solver_opts *opts, double *scratch)
{
    *mod = (dpm_model){
        .ode = ode, .len = ode->n * ode->dim, .form = form,
        .thresholding = form == DPM_DATA ? opts->threshold.kind : 0,
        .clip_value = opts->threshold.clip_value, .dynamic_ratio = opts->threshold.dynamic_ratio,
        .scratch = scratch,
    };
}

int dpm_model_eval(dpm_model *mod, const double *xbar, double sigma, double *m)
{
    int rc = dode_ode_rhs(mod->ode, sigma, xbar, m);
    if (rc != DODE_OK || mod->form == DPM_NOISE)
        return rc;
    /* x0h = xbar - sigma epsh, as xbar + (-sigma) epsh: the same roundings */
    solver_axpy_to(m, xbar, -sigma, m, mod->len);
    if (mod->thresholding != 0)
        dpm_threshold(m, mod->ode->n, mod->ode->dim, mod->thresholding, mod->clip_value,
                      mod->dynamic_ratio, mod->scratch);
    return DODE_OK;
}

void dpm_to_zero(const dpm_model *mod, double sigma, double *xbar, const double *m)
{
    if (mod->form == DPM_DATA)
        memcpy(xbar, m, mod->len * sizeof *xbar);
    else
        for (size_t k = 0; k < mod->len; k++)
            xbar[k] -= sigma * m[k];
}

/* lambda at the fraction f of the step s -> t in the spacing's own variable. */
static double inner_lambda(const dode_schedule *sch, const dode_grid *grid, double sigma_s,
                           double sigma_t, double f)
{
    switch (grid->spacing) {
    case DODE_SPACING_UNIFORM_T: {
        const double ts = dode_schedule_t(sch, sigma_s), tt = dode_schedule_t(sch, sigma_t);
        return dode_schedule_lambda(sch, ts + f * (tt - ts));
    }
    case DODE_SPACING_QUADRATIC_T: {
        const double qs = sqrt(dode_schedule_t(sch, sigma_s));
        const double q = qs + f * (sqrt(dode_schedule_t(sch, sigma_t)) - qs);
        return dode_schedule_lambda(sch, q * q);
    }
    case DODE_SPACING_KARRAS: {
        const double a = pow(sigma_s, 1.0 / grid->rho), b = pow(sigma_t, 1.0 / grid->rho);
        return -grid->rho * log(a + f * (b - a));
    }
    default:            /* logsnr; ddim spacings: documented choice, uniform in lambda */
        return -log(sigma_s) + f * (log(sigma_s) - log(sigma_t));
    }
}

void dpm_inner_fractions(const dode_schedule *sch, const dode_grid *grid,
                         const dode_solver_opts *opts, double sigma_s, double sigma_t,
                         int order, double r[2])
{
    r[0] = r[1] = NAN;
    if (order >= 2) {
        /* the ends through the same map, as the official code takes lambda(t) of all */
        const double l0 = inner_lambda(sch, grid, sigma_s, sigma_t, 0.0);
        const double h = inner_lambda(sch, grid, sigma_s, sigma_t, 1.0) - l0;
        for (int j = 1; j < order; j++) {
            r[j - 1] = (inner_lambda(sch, grid, sigma_s, sigma_t, (double)j / order) - l0) / h;
            if (!isfinite(r[j - 1]))    /* a repeated level (h = 0): any r gives xbar_s */
                r[j - 1] = (double)j / order;
        }
    }
    if (order >= 2 && dode_solver_opts_given(opts, DODE_OPT_R1))
        r[0] = opts->dpm.r1;
    if (order >= 3 && dode_solver_opts_given(opts, DODE_OPT_R2))
        r[1] = opts->dpm.r2;
}

/* The table (options.h) bounds r1 and r2 one by one; together they must be ordered. */
static int check_fractions(dode_ode *ode, const dode_solver_opts *o)
{
    const int r1 = dode_solver_opts_given(o, DODE_OPT_R1);
    const int r2 = dode_solver_opts_given(o, DODE_OPT_R2);
    if (r2 && !r1)
        return dode_ode_fail(ode, DODE_EINVAL, "r2 = %g given without r1 (set both or "
                             "neither)", o->dpm.r2);
    if (r2 && !(o->dpm.r2 > o->dpm.r1))
        return dode_ode_fail(ode, DODE_EINVAL, "r2 = %g must lie in (r1, 1) = (%g, 1)",
                             o->dpm.r2, o->dpm.r1);
    return DODE_OK;
}

int dpm_check_opts(dode_ode *ode, const dpm_entry *e, const dode_grid *grid,
                   const dode_solver_opts *o)
{
    const double sigma0 = grid->sigma[0];
    if (!(sigma0 > 0))
        return dode_ode_fail(ode, DODE_EINVAL, "cannot start at sigma = %g: exponential "
                             "integrators need lambda = -log sigma finite", sigma0);
    if (e == NULL || e->order < 1 || e->order > 3)
        return dode_ode_fail(ode, DODE_EINVAL, "order %d is not supported (orders 1, 2 "
                             "and 3 only)", e == NULL ? 0 : e->order);
    if ((unsigned)grid->spacing >= DODE_SPACING_COUNT)
        return dode_ode_fail(ode, DODE_EINVAL, "grid spacing = %d is not a known spacing",
                             (int)grid->spacing);
    if (grid->spacing == DODE_SPACING_KARRAS && (!(grid->rho > 0) || !isfinite(grid->rho)))
        return dode_ode_fail(ode, DODE_EINVAL, "grid rho = %g must be finite and > 0 (karras "
                             "spacing)", grid->rho);
    return check_fractions(ode, o);
}

/* A model value whose x0h pass (x0h = x - sigma epsh, dpm_model_eval) is left to the
 * combination that reads it next, which makes both in one pass (solver_x0h_lincomb,
 * issue 16): m holds epsh at (x, sigma) until then; m = NULL: nothing pending. */
typedef struct {
    const double *x;
    double sigma;
    double *m;
} pending_x0h;

/* The model value at (x, sigma) into m: with fuse (the data form, no thresholding) its x0h
 * pass is left pending in p, otherwise dpm_model_eval makes it now. */
static int eval_into(dpm_model *mod, int fuse, const double *x, double sigma, double *m,
                     pending_x0h *p)
{
    if (!fuse)
        return dpm_model_eval(mod, x, sigma, m);
    *p = (pending_x0h){ .x = x, .sigma = sigma, .m = m };
    return dode_ode_rhs(mod->ode, sigma, x, m);
}

/* out = a y + b0 v0 + ... + b3 v3 (dpm_lincomb), after p's pending x0h pass if any, in
 * the same pass; out may be y or p->x (each element of x is read before out's is
 * written). */
static void combine(const dpm_model *mod, pending_x0h *p, double *out, double a,
                    const double *y, double b0, const double *v0, double b1, const double *v1,
                    double b2, const double *v2)
{
    if (p->m == NULL)
        dpm_lincomb(out, mod->len, a, y, b0, v0, b1, v1, b2, v2, 0.0, v0);
    else
        solver_x0h_lincomb(out, mod->len, p->sigma, p->x, p->m, a, y, b0, v0, b1, v1, b2, v2,
                           0.0, v0);
    p->m = NULL;
}

/* Second stage of a 3rd-order step: u2 = k0 xbar - c [E1(z2) m0 + (r2/r1) E2(z2) (m1-m0)]
 * at sigma_s2 = sigma_s e^{-r2 h} (official _third_update, x_s2). */
static void third_inner(const dpm_model *mod, pending_x0h *p, double r1, double r2,
                        double sigma_s, double h, const double *xbar, double *const m[3],
                        double *u)
{
    const dpm_coef c2 = dpm_coef_make(mod->form, sigma_s, sigma_s * exp(-r2 * h));
    const double w1 = c2.c * (r2 / r1) * dpm_e2(c2.z);
    combine(mod, p, u, c2.k0, xbar, -c2.c * dpm_e1(c2.z) + w1, m[0], -w1, m[1], 0.0, m[0]);
}

/* Final combination of a 3rd-order step, weights w[] on m0, m1, m2 of
 * E1 m0 + E2 D1 + E3 D2 ("dpmsolver": D1 = (m2-m0)/r2, no D2; "taylor": the official
 * D1 = (r2 D1_0 - r1 D1_1)/(r2-r1), D2 = 2 (D1_1 - D1_0)/(r2-r1)). */
static void third_weights(const dpm_coef *c, int taylor, double r1, double r2, double w[3])
{
    const double e1 = dpm_e1(c->z), e2 = dpm_e2(c->z), e3 = dpm_e3(c->z);
    if (!taylor) {
        w[0] = e1 - e2 / r2;
        w[1] = 0.0;
        w[2] = e2 / r2;
        return;
    }
    const double d = r2 - r1;       /* D1_0 = (m1-m0)/r1, D1_1 = (m2-m0)/r2 */
    const double d1[3] = { (r1 / r2 - r2 / r1) / d, r2 / (r1 * d), -r1 / (r2 * d) };
    const double d2[3] = { 2.0 * (1.0 / r1 - 1.0 / r2) / d, -2.0 / (r1 * d), 2.0 / (r2 * d) };
    for (int j = 0; j < 3; j++)
        w[j] = (j == 0 ? e1 : 0.0) + e2 * d1[j] + e3 * d2[j];
}

/* The update of a 2nd-order step: weights on m0, m1 ("dpmsolver": E1 (m0 + (m1-m0)/(2 r1));
 * "taylor": E1 m0 + E2 (m1-m0)/r1). */
static void second_weights(const dpm_coef *c, int taylor, double r1, double w[2])
{
    const double e1 = dpm_e1(c->z);
    const double g = taylor ? dpm_e2(c->z) / r1 : e1 / (2.0 * r1);
    w[0] = e1 - g;
    w[1] = g;
}

int dpm_single_step(dpm_model *mod, int order, int taylor, double r1, double r2,
                    double sigma_s, double sigma_t, const double *xbar, double *out,
                    double *const m[3], int known, double *u)
{
    int rc = DODE_OK;
    /* every model value's x0h pass rides along the combination after it (not at a step to
     * sigma = 0, whose x0 prediction reads m0 directly) */
    const int fuse = mod->form == DPM_DATA && mod->thresholding == 0 && sigma_t != 0;
    pending_x0h p = { .m = NULL };
    if (known < 1 && (rc = eval_into(mod, fuse, xbar, sigma_s, m[0], &p)) != DODE_OK)
        return rc;
    if (sigma_t == 0) {                 /* the limit h -> inf: the x0 prediction */
        if (out != xbar)
            memcpy(out, xbar, mod->len * sizeof *out);
        dpm_to_zero(mod, sigma_s, out, m[0]);
        return DODE_OK;
    }
    const dpm_coef c = dpm_coef_make(mod->form, sigma_s, sigma_t);
    double w[3] = { dpm_e1(c.z), 0.0, 0.0 };
    if (order >= 2 && known < 2) {      /* u1 = first-order step to sigma_s e^{-r1 h} */
        const double s1 = sigma_s * exp(-r1 * c.h);
        const dpm_coef c1 = dpm_coef_make(mod->form, sigma_s, s1);
        combine(mod, &p, u, c1.k0, xbar, -c1.c * dpm_e1(c1.z), m[0], 0.0, m[0], 0.0, m[0]);
        if ((rc = eval_into(mod, fuse, u, s1, m[1], &p)) != DODE_OK)
            return rc;
    }
    if (order == 2)
        second_weights(&c, taylor, r1, w);
    if (order == 3) {
        third_inner(mod, &p, r1, r2, sigma_s, c.h, xbar, m, u);
        if ((rc = eval_into(mod, fuse, u, sigma_s * exp(-r2 * c.h), m[2], &p)) != DODE_OK)
            return rc;
        third_weights(&c, taylor, r1, r2, w);
    }
    /* unused vectors get weight 0 and point at m0: workspace may hold NaN bit patterns */
    combine(mod, &p, out, c.k0, xbar, -c.c * w[0], m[0], -c.c * w[1], m[order >= 2 ? 1 : 0],
            -c.c * w[2], m[order == 3 ? 2 : 0]);
    return DODE_OK;
}
