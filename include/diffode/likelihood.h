/* likelihood.h - log-likelihood of data under a model through the probability-flow ODE
 * (MATH.md section 7; Song et al. 2021, "Score-Based Generative Modeling through SDEs",
 * appendix D.2; Chen et al. 2018, instantaneous change of variables).
 *
 * Densities of xbar (ode.h): integrating the augmented ODE
 *
 *     d xbar / d sigma = epsh(xbar, sigma),   d L / d sigma = tr(d epsh / d xbar)
 *
 * upwards from xbar(sigma_min) = x0, L(sigma_min) = 0, to sigma_max gives
 *
 *     log p_{sigma_min}(x0) = log p_{sigma_max}(xbar(sigma_max)) + L(sigma_max).
 *
 * The trace is exact (the model's jacobian, one [n][dim][dim] call per evaluation) or
 * Hutchinson's estimate E_v[v^T J v] with K fixed Rademacher probes per row and J v by a
 * central difference of epsh. The prior log p_{sigma_max} is the model's own
 * log_density (exact_prior) or N(0, (1 + sigma_max^2) I), i.e. x_T ~ N(0, I) (on a flow
 * schedule N(0, (1 + sigma_max)^2 I), its image there: x = a xbar, sample.h).
 * Units: nats; bits/dim = -log p / (dim log 2) (dode_loglik_bits_per_dim). */
#ifndef DIFFODE_LIKELIHOOD_H
#define DIFFODE_LIKELIHOOD_H

#include <stddef.h>
#include "diffode/model.h"
#include "diffode/schedule.h"

typedef enum {
    DODE_TRACE_AUTO = 0,      /* exact if the model has a jacobian, else Hutchinson */
    DODE_TRACE_EXACT,         /* the model's jacobian (DODE_EUNSUPPORTED without one) */
    DODE_TRACE_HUTCHINSON     /* K Rademacher probes, J v by central differences */
} dode_trace_kind;

typedef struct {
    double sigma_min;         /* the data's noise level, >= 0 (default 0) */
    double sigma_max;         /* where the prior is evaluated, > sigma_min (default 80) */
    double rtol, atol;        /* gsl rk8pd control on xbar and L (default 1e-8, 1e-8) */
    size_t max_steps;         /* accepted-step budget (default 100000) */
    int exact_prior;          /* 1: model->log_density at sigma_max (needs one) */
    dode_trace_kind trace;    /* default DODE_TRACE_AUTO */
    size_t probes;            /* Hutchinson K >= 1 (default 16); the SE needs K >= 2 */
    unsigned long seed;       /* mt19937 seed of the probes (default 0) */
    double fd_step;           /* relative central-difference step (default 1e-5): row i
                                 uses h_i = fd_step (1 + rms(xbar_i)) */
} dode_loglik_opts;

void dode_loglik_opts_init(dode_loglik_opts *o);

/* Per-row results (arrays [n] unless marked, caller-owned; any but logp may be NULL). */
typedef struct {
    double *logp;             /* log p_{sigma_min}(x0_i), nats */
    double *se;               /* standard error of logp_i across the K probes (sample sd
                                 / sqrt(K)); 0 for the exact trace, NaN when K = 1 */
    double *prior;            /* log p_{sigma_max}(xbar_i(sigma_max)) */
    double *delta;            /* L_i(sigma_max): the trace integral (probe mean) */
    double *xbar;             /* [n][dim] xbar(sigma_max): where the flow takes x0_i */
} dode_loglik_rows;

/* What the solve cost. One nfe is one evaluation of the augmented RHS for the whole
 * batch: one batched model call (of n rows with the exact trace, n (1 + 2K) rows with
 * Hutchinson) plus, for the exact trace, one jacobian call (njac). */
typedef struct {
    dode_trace_kind trace;    /* the one used: EXACT or HUTCHINSON */
    size_t nfe, njac, rows_per_eval;
    size_t accepted, rejected;
} dode_loglik_stats;

/* log p of the n rows x0 ([n][dim]; dim must equal model->dim) through the flow.
 * schedule gives t(sigma) for the model (models see t and sigma, model.h); opts may be
 * NULL (the defaults). Returns DODE_EINVAL (no rows, dim mismatch, sigma range,
 * tolerances, probes = 0, fd_step), DODE_ENONFINITE (a NaN or Inf in x0, or from the
 * model), DODE_EUNSUPPORTED (exact trace without a jacobian, exact prior without
 * log_density), DODE_EMAXITER, DODE_ESOLVER or the model's status, with one sentence in
 * err. On failure the rows' arrays are unchanged. stats may be NULL.
 * Memory: O(n dim (1 + 2K)) doubles for Hutchinson, O(n dim^2) for the exact trace. */
int dode_loglik(const dode_model *model, const dode_schedule *schedule, size_t n,
                size_t dim, const double *x0, const dode_loglik_opts *opts,
                dode_loglik_rows *rows, dode_loglik_stats *stats, char *err,
                size_t errlen);

/* -logp / (dim log 2): the bits/dim of a continuous density (no dequantisation term). */
double dode_loglik_bits_per_dim(double logp, size_t dim);

#endif
