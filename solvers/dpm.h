/* dpm.h - private to the DPM-Solver family and UniPC (dpm_phi.c, dpm_single.c,
 * dpm_multi.c, dpm_adaptive.c, unipc.c): the phi functions, the step kernel they share,
 * the per-entry constants, option checks and the registry entries. (solve.c uses
 * dpm_threshold too: denoise_to_zero thresholds the final x0 of the ++ and UniPC rows.)
 *
 * Every method here is an exponential integrator written in the DDIM variables
 * (MATH.md section 6), with h = lambda_t - lambda_s = log(sigma_s / sigma_t):
 *
 *   noise form (DPM-Solver,   m = epsh):            xbar_t = xbar_s - sigma_t [E1(h) m0 + ...]
 *   data form  (DPM-Solver++, m = x0h = xbar - sigma epsh):
 *                                 xbar_t = (sigma_t/sigma_s) xbar_s - [E1(-h) m0 + ...]
 *
 * i.e. xbar_t = k0 xbar_s - c [E1(z) m0 + E2(z) D1 + E3(z) D2] with (k0, c, z) from
 * dpm_coef. Dividing the official code's x-space updates (dpm_solver_pytorch.py) by
 * alpha_t gives exactly these, so results agree with it on the same grid.
 *
 * Adaptive tolerances: dpm-adaptive12/23 take opts->adaptive.rtol, atol and h_init when
 * they were given (dode_solver_opts_given), else the official defaults rtol = 0.05,
 * atol = 0.0078, h_init = 0.05 (in lambda). */
#ifndef DIFFODE_SOLVERS_DPM_H
#define DIFFODE_SOLVERS_DPM_H

#include <stddef.h>
#include "diffode/ode.h"
#include "diffode/solver.h"

/* E1(z) = expm1(z), E2(z) = (e^z - 1 - z)/z, E3(z) = (e^z - 1 - z - z^2/2)/z^2,
 * E4(z) = (e^z - 1 - z - z^2/2 - z^3/6)/z^3 (UniPC); the series sum_j z^j/(j+k)! below
 *  * |z| < 0.1, where the closed forms cancel (MATH.md section 6).
 * E_k(z) = z^(k-1) phi_k(z), so E_k(0) = 0 for k >= 2. */
double dpm_e1(double z);
double dpm_e2(double z);
double dpm_e3(double z);
double dpm_e4(double z);

typedef enum { DPM_NOISE = 0, DPM_DATA = 1 } dpm_form;

/* What a registry entry's .data points to. */
typedef struct {
    int order;          /* 1..3 (adaptive: the higher order, 2 or 3) */
    dpm_form form;      /* noise (DPM-Solver) or data (DPM-Solver++, UniPC) prediction */
    int fast;           /* singlestep under the official NFE -> steps and orders rule */
    int d2_taylor;      /* 3M: Taylor-consistent second difference regardless of opts */
} dpm_entry;

/* Step coefficients sigma_s -> sigma_t (both > 0):
 * xbar_t = k0 xbar_s - c [E1(z) m0 + E2(z) D1 + E3(z) D2]. */
typedef struct {
    double h;           /* lambda_t - lambda_s */
    double k0, c, z;    /* noise: 1, sigma_t, h;  data: sigma_t / sigma_s, 1, -h */
} dpm_coef;

dpm_coef dpm_coef_make(dpm_form form, double sigma_s, double sigma_t);

/* The model in a solver's form: m = epsh, or the data prediction x0h = xbar - sigma epsh
 * (thresholded as opts->threshold.kind says). One NFE per dpm_model_eval. */
typedef struct {
    dode_ode *ode;
    size_t len;             /* n * dim */
    dpm_form form;
    int thresholding;       /* 0 none, 1 static clip, 2 dynamic (data form only) */
    double clip_value, dynamic_ratio;
    double *scratch;        /* [dim]: sorting for dynamic thresholding */
} dpm_model;

/* Sets up mod (scratch must hold dim doubles, or be NULL if thresholding != 2). */
void dpm_model_init(dpm_model *mod, dode_ode *ode, dpm_form form,
                    const dode_solver_opts *opts, double *scratch);
int dpm_model_eval(dpm_model *mod, const double *xbar /* [n][dim] */, double sigma,
                   double *m /* [n][dim] */);
/* The state at sigma = 0 from m at sigma (the x0 prediction, MATH.md section 6). */
void dpm_to_zero(const dpm_model *mod, double sigma, double *xbar, const double *m);

/* out = a x + b0 v0 + b1 v1 + b2 v2 + b3 v3 (len values; out may be x; a v with weight 0
 * may be any readable vector, e.g. v0). */
void dpm_lincomb(double *out, size_t len, double a, const double *x, double b0,
                 const double *v0, double b1, const double *v1, double b2, const double *v2,
                 double b3, const double *v3);

/* Thresholding of a batch of x0 predictions in place (official dynamic_thresholding_fn:
 * per row, s = max(quantile(|x0|, ratio), clip), x0 = clamp(x0, -s, s) / s; static:
 * clamp to [-clip, clip]). */
void dpm_threshold(double *x0 /* [n][dim] */, size_t n, size_t dim, int kind, double clip,
                   double ratio, double *scratch /* [dim] */);

/* Lambda fractions r[0] (and r[1] for order 3) of the inner points of a singlestep
 * step sigma_s -> sigma_t split into `order` parts on grid->spacing's own grid (the
 * official singlestep code): uniform in lambda (logsnr and ddim spacings), in t, in
 * sqrt t, or Karras' rho-th root of sigma. opts->dpm.r1 / r2, when given, override. */
void dpm_inner_fractions(const dode_schedule *sch, const dode_grid *grid,
                         const dode_solver_opts *opts, double sigma_s, double sigma_t,
                         int order, double r[2]);

/* Validates the entry, the grid's start (> 0) and spacing, and what the option table
 * cannot check alone (r1 < r2); on failure writes the reason into ode->err and returns DODE_EINVAL (before any
 * NFE, xbar untouched). */
int dpm_check_opts(dode_ode *ode, const dpm_entry *e, const dode_grid *grid,
                   const dode_solver_opts *opts);

/* One singlestep DPM-Solver(++) step of order 1..3 from sigma_s to sigma_t with inner
 * fractions r1, r2 and update form taylor (0 "dpmsolver", 1 "taylor"): out = xbar_t.
 * m[0..2], u are workspace ([n][dim] each); the first `known` of m[] already hold the
 * model at the step's first points (adaptive solvers reuse them). Costs order - known
 * NFE (a step to sigma_t = 0 is the x0 prediction: 1 - known NFE). out may be xbar. */
int dpm_single_step(dpm_model *mod, int order, int taylor, double r1, double r2,
                    double sigma_s, double sigma_t, const double *xbar, double *out,
                    double *const m[3], int known, double *u);

/* The solve functions behind the entries (one per file): self->data is the dpm_entry, so
 * tests can run a hand-made entry through a hand-made dode_solver_type. */
int dpm_single_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                     double *xbar, const dode_solver_opts *opts, dode_trace *trace);
int dpm_multi_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                    double *xbar, const dode_solver_opts *opts, dode_trace *trace);
int dpm_adaptive_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                       double *xbar, const dode_solver_opts *opts, dode_trace *trace);
int dpm_unipc_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                    double *xbar, const dode_solver_opts *opts, dode_trace *trace);

/* The official NFE -> orders rule of "singlestep" DPM-Solver (order 1..3, nfe >= 1):
 * writes the orders of its K steps into orders[] (room for nfe) and returns K. */
size_t dpm_fast_orders(size_t nfe, int order, int *orders);

/* The order of step i of steps of a multistep DPM-Solver of the given order (dpm_multi.c;
 * the SDE forms use it too): the warm-up (order i + 1 at step i), lower_order_final below
 * lower_order_threshold steps, and order 1 (2) where the last levels repeat (lam[0..2] =
 * lambda of the last three points), as the official code does. */
int dpm_multistep_order(int order, const double lam[3], const dode_solver_opts *opts,
                        size_t i, size_t steps);

#endif
