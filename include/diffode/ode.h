/* ode.h - the probability-flow ODE in the variables of DDIM (MATH.md section 2):
 *
 *     d xbar / d sigma = epsh(xbar, sigma) := eps( xbar / sqrt(1+sigma^2), t(sigma) )
 *
 * for a batch of n rows of dim doubles. Every call of dode_ode_rhs is one NFE (one batched
 * model call); the count lives here, not in the solvers. A solver may integrate in
 * another variable u in {sigma, t, lambda = -log sigma, log sigma}:
 * d xbar/du = epsh * dsigma/du.
 *
 * The dode_ode also carries the message buffer in which a failing solver writes what went
 * wrong (which solver, which step, which sigma). */
#ifndef DIFFODE_ODE_H
#define DIFFODE_ODE_H

#include <stddef.h>
#include "diffode/model.h"
#include "diffode/schedule.h"

typedef enum {
    DODE_VAR_SIGMA = 0,
    DODE_VAR_T,
    DODE_VAR_LAMBDA,      /* lambda = -log sigma */
    DODE_VAR_LOGSIGMA
} dode_variable;

typedef struct dode_ode {
    const dode_model *model;         /* borrowed */
    const dode_schedule *schedule;   /* borrowed */
    size_t n, dim;                   /* batch rows, model dimension */
    size_t nfe;                      /* RHS (model) evaluations since the last reset */
    size_t njac;                     /* Jacobian evaluations */
    double *x;                       /* [n][dim] workspace: xbar scaled to x */
    void *ws;                        /* the model's workspace for n rows (model.h), owned */
    char err[512];                   /* the last failure, written by dode_ode_fail */
} dode_ode;

/* n >= 1 rows. model and schedule must outlive the ode. Makes the model's workspace for
 * n rows here, once, so no NFE allocates; NULL with a message if it cannot. */
dode_ode *dode_ode_new(const dode_model *model, const dode_schedule *schedule, size_t n,
                       char *err, size_t errlen);
void dode_ode_free(dode_ode *ode);                  /* accepts NULL */

/* epsh(xbar, sigma) for the whole batch, sigma >= 0: one NFE. Returns DODE_ENONFINITE if
 * the model returned NaN or Inf (ode->err says where). */
int dode_ode_rhs(dode_ode *ode, double sigma, const double *xbar /* [n][dim] */,
                 double *dxbar_dsigma /* [n][dim] */);

/* The model called directly in x-space at (t, sigma): one NFE (DDIM's own update). */
int dode_ode_eps_x(dode_ode *ode, double t, double sigma, const double *x, double *eps);

/* The model's data prediction x0h at (x, t, sigma), x in the model's own x (model.h):
 * one NFE, for where xbar does not exist (sigma = inf, zero terminal SNR). An eps model
 * (model->x0 == NULL) gets DODE_EUNSUPPORTED and a message naming the problem. */
int dode_ode_x0(dode_ode *ode, double t, double sigma, const double *x, double *x0);

/* d xbar / du in the variable u at the point u: one NFE. */
int dode_ode_rhs_in(dode_ode *ode, dode_variable var, double u, const double *xbar,
                    double *dxbar_du);

/* d epsh / d xbar ([n][dim][dim]) and optionally d epsh / d sigma ([n][dim], may be
 * NULL); DODE_EUNSUPPORTED if the model has no Jacobian. Counts njac, not nfe. */
int dode_ode_jacobian(dode_ode *ode, double sigma, const double *xbar, double *jac,
                      double *deps_dsigma);

/* Maps between sigma and the integration variable; dsigma/du at u. */
double dode_var_from_sigma(const dode_schedule *s, dode_variable var, double sigma);
double dode_var_to_sigma(const dode_schedule *s, dode_variable var, double u);
double dode_var_dsigma_du(const dode_schedule *s, dode_variable var, double u);
/* "sigma" "t" "lambda" "logsigma" <-> enum; parse returns DODE_ENOTFOUND with a message. */
const char *dode_variable_name(dode_variable var);
int dode_variable_parse(const char *name, dode_variable *out, char *err, size_t errlen);

/* Writes into ode->err and returns code (the solvers' way to explain a failure). */
int dode_ode_fail(dode_ode *ode, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* DODE_OK if all len values are finite, else DODE_ENONFINITE. */
int dode_all_finite(const double *v, size_t len);

#endif
