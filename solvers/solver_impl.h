/* solver_impl.h - what the solver files share and nobody else sees: the workspace
 * allocator, the x0-prediction step to sigma = 0, step
 * failure messages, trace bookkeeping and the fixed-grid step loops. (Private to
 * solvers/, as Lua keeps LUAI_FUNC apart from LUA_API.)
 *
 * Division of labour with dode_solve (solve.c), which every caller goes through:
 *   - dode_solve validates the grid and options once, resets ode->nfe, ode->njac and the
 *     trace's count/accepted/rejected, and records the start point (sigmas[0], xbar);
 *   - a solve function records each grid point it reaches (dode_trace_record) and counts
 *     its steps (solver_trace_step), and explains a failure in ode->err WITHOUT its own
 *     name (dode_solve prefixes the solver name);
 *   - opts->denoise_to_zero is applied by dode_solve after the solver returns (one extra
 *     NFE, the x0 prediction at sigmas[steps], thresholded as opts->threshold says for
 *     data-prediction solvers); solve functions ignore it. */
#ifndef DIFFODE_SOLVER_IMPL_H
#define DIFFODE_SOLVER_IMPL_H

#include <stddef.h>
#include <string.h>
#include "diffode/ode.h"
#include "diffode/solver.h"

/* n * dim: the length of one state vector of the batch. */
static inline size_t solver_len(const dode_ode *ode)
{
    return ode->n * ode->dim;
}

/* Workspace, allocated once per solve: one block of nvec state vectors ([n][dim] each),
 * views[k] = block + k n dim (views may be NULL when nvec is not a handful). Returns the
 * block (release it with free()) or NULL with ode->err saying so. */
double *solver_workspace(dode_ode *ode, size_t nvec, double **views /* [nvec] or NULL */);

/* The x0-prediction step from sigma to sigma' = 0: xbar <- xbar - sigma epsh(xbar, sigma)
 * (MATH.md section 6: the limit of every exponential integrator and of any method written
 * in lambda or log sigma, where the step would need log 0). One NFE; eps is workspace
 * ([n][dim]). */
int solver_step_to_zero(dode_ode *ode, double sigma, double *xbar, double *eps);

/* The first step of a grid that starts at sigma = inf (zero terminal SNR, docs/models.md):
 * xbar holds x_T (pure noise, a_T = 0, so eps_T = x_T exactly); with the model's x0h
 * (dode_ode_x0, one NFE) it becomes xbar_1 = x0h + sigmas[1] x_T, which is DDIM's step
 * x_1 = a_1 x0h + s_1 eps_T. Records the trace point. solvers/zero_snr.c. */
int solver_zero_snr_step(dode_ode *ode, const dode_grid *grid, double *xbar,
                         dode_trace *trace);

/* 1 if a step ending at sigma = 0 must be the x0 prediction in this variable (lambda,
 * log sigma: the endpoint is at infinity). */
static inline int solver_var_singular_at_zero(dode_variable var)
{
    return var == DODE_VAR_LAMBDA || var == DODE_VAR_LOGSIGMA;
}

/* After a failed step: rewrites ode->err as "step i+1 of steps (sigma s -> s'): <the
 * message the RHS or the model left>" and returns rc. */
int solver_step_fail(dode_ode *ode, int rc, size_t i, size_t steps, double sigma,
                     double sigma_next);

/* One more step taken (accepted); trace may be NULL. */
static inline void solver_trace_step(dode_trace *trace)
{
    if (trace != NULL)
        trace->accepted++;
}

/* One step of a fixed-grid method: xbar from sigmas[i] to sigmas[i + 1], using the
 * workspace views ws[0 .. nvec-1] ([n][dim] each) and the method's own state ctx. It
 * must leave xbar unchanged when it fails (so xbar holds the last completed step). */
typedef int (*solver_step_fn)(dode_ode *ode, const dode_solver_opts *opts,
                              const double *sigmas, size_t i, size_t steps, double *xbar,
                              double *const *ws, void *ctx);

/* The loop every fixed-grid method shares: calls step for i = 0 .. steps-1, counts and
 * records each point reached, and turns a failure into "step i+1 of steps (sigma s -> s'):
 * why" in ode->err. Allocates nothing: ws and ctx are the method's own. */
int solver_step_loop(dode_ode *ode, const double *sigmas, size_t steps, double *xbar,
                     const dode_solver_opts *opts, dode_trace *trace, double *const *ws,
                     solver_step_fn step, void *ctx);

/* solver_step_loop with nvec (<= 16) workspace vectors allocated once for the solve. */
int solver_run_steps(dode_ode *ode, const double *sigmas, size_t steps, double *xbar,
                     const dode_solver_opts *opts, dode_trace *trace, size_t nvec,
                     solver_step_fn step, void *ctx);

/* One step of a generic integrator (euler, heun, rk4) on d xbar/du = epsh dsigma/du in
 * the variable var, from u to un (both finite; un is the grid point itself, not u + du);
 * to_zero: the step ends at sigma = 0. Same workspace and failure contract as
 * solver_step_fn. */
typedef int (*solver_var_step_fn)(dode_ode *ode, dode_variable var, double u, double un,
                                  int to_zero, double *xbar, double *const *ws);

/* A generic integrator's table data: its step and the workspace vectors it needs. */
typedef struct {
    solver_var_step_fn step;
    size_t nvec;                /* <= 16 */
} solver_var_method;

/* The solve of every generic integrator (self->data is its solver_var_method): maps each
 * step's sigmas to u = opts->generic.variable and calls step, except that a step to
 * sigma = 0 in lambda or log sigma (u infinite there) is the x0 prediction, its limit
 * (solver_step_to_zero on ws[0]). */
int solver_var_solve(const dode_solver_type *self, dode_ode *ode, const dode_grid *grid,
                     double *xbar, const dode_solver_opts *opts, dode_trace *trace);

/* Two doubles as one GNU C vector (gcc, clang): its + and * are the element-wise IEEE
 * operations of the scalar code, so a loop over pairs rounds exactly as the scalar loop
 * does, in half the instructions. gcc -O2 (its "very cheap" cost model) does not
 * vectorise a loop whose length is unknown, so the solvers' own loops (rk4.c, ddim.c)
 * are written on pairs; the shared passes below go four at a time
 * (vecops.c). -std=c11 contracts no a*b+c into an FMA, in the vector code as in the
 * scalar. */
typedef double solver_v2 __attribute__((vector_size(16)));

static inline solver_v2 solver_ld2(const double *p)
{
    solver_v2 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void solver_st2(double *p, solver_v2 v)
{
    memcpy(p, &v, sizeof v);
}

/* The update passes of the fixed-step solvers (solvers/vecops.c): four doubles at a time,
 * in 256-bit AVX registers where the CPU has them, else as SSE2 pairs; every element gets
 * the scalar code's operations in its order, so the bits are the same either way. */

/* xbar[k] += a * v[k] for k < len. */
void solver_axpy(double *xbar, double a, const double *v, size_t len);

/* out[k] = x[k] + a * v[k] for k < len (out may be x or v: each element is read before
 * it is written). */
void solver_axpy_to(double *out, const double *x, double a, const double *v, size_t len);

/* The k axpys xbar += w[0] v[0]; ... xbar += w[k-1] v[k-1] (k <= 4) in one pass over
 * memory: each element gets the same additions in the same order. */
void solver_axpy_n(double *xbar, int k, const double *w, const double *const *v, size_t len);

/* PNDM's Runge-Kutta sums: out[k] = u[k] / p + v[k] / q (out may be u; p = 1 keeps u
 * exactly, as x / 1 is x). */
void solver_div_sum(double *out, const double *u, double p, const double *v, double q,
                    size_t len);

/* xbar[k] += c * (u[k] + v[k] / d) (PLMS's mean with d = 1, v / 1 being v exactly; the
 * end of a PNDM Runge-Kutta step with d = 6). */
void solver_add_scaled_sum(double *xbar, double c, const double *u, const double *v, double d,
                           size_t len);

/* out = a x + b0 v0 + b1 v1 + b2 v2 + b3 v3, summed left to right as dpm_lincomb does
 * (dpm.h; out may be x, a v with weight 0 any readable vector). */
void solver_lincomb(double *out, size_t len, double a, const double *x, double b0,
                    const double *v0, double b1, const double *v1, double b2, const double *v2,
                    double b3, const double *v3);

/* The data prediction of a model call and the update that uses it, in one pass instead of
 * two: m holds epsh at (x, sigma) and becomes x0h = x - sigma epsh (dpm_model_eval's
 * formula, without thresholding); then out = a y + b0 v0 + ... + b3 v3 as solver_lincomb,
 * where any v may be m: each v is read after m's element is written, as in two passes.
 * out may be y or x (x's element is read before out's is written); y is not m. */
void solver_x0h_lincomb(double *out, size_t len, double sigma, const double *x, double *m,
                        double a, const double *y, double b0, const double *v0, double b1,
                        const double *v1, double b2, const double *v2, double b3,
                        const double *v3);

#endif
