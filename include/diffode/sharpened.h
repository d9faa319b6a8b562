/* sharpened.h - the sharpened target of guided sampling on a labelled mixture
 * (docs/guidance.md): p_w(x) = p(x | c)^w p(x)^(1-w) / Z, the density that classifier-free
 * guidance at scale w is meant to sample (and does not exactly, Bradley and Nakkiran 2024).
 *
 * Everything is at one noise level sigma >= 0 (0: the data; the densities are then those of
 * the mixture as given; sigma > 0: of xbar, each C_k = S_k + sigma^2 I), for a mixture of
 * dim 1 or 2: Z, the negative entropy E_{p_w}[log p_w] and the mode masses are integrals
 * over the plane, done by the trapezoid rule on a tensor grid (sharpened.c gives the box,
 * the refinement and the error estimate). The log density itself is exact. */
#ifndef DIFFODE_SHARPENED_H
#define DIFFODE_SHARPENED_H

#include <stddef.h>

#include "diffode/model.h"

typedef struct {
    const dode_model *gmm;  /* the labelled mixture (not owned; must outlive this) */
    int cls;
    double w, sigma;
    size_t K, dim;
    double log_z;           /* log of the integral of p(x | c)^w p(x)^(1-w) */
    double neg_entropy;     /* E_{p_w}[log p_w], the normalised density's */
    double quad_err;        /* estimated absolute error of log_z and neg_entropy: the last
                               refinement's change plus the mass outside the box */
    double mode_err;        /* the same for mode_mass (argmax regions: only O(h), see .c) */
    size_t points;          /* grid points per axis of the accepted refinement */
    double lo[2], hi[2];    /* the box, per axis */
    double *mode_mass;      /* [K] p_w's mass where component k has the largest logit
                               log w_k + log N(x; mu_k, C_k) (its argmax region) */
} dode_sharpened;

/* The target for class c of the labelled mixture gmm at scale w >= 0 and noise level
 * sigma >= 0, its integrals refined until log Z and E[log p_w] change by less than 1e-10
 * and the mode masses by less than 1e-3 (sharpened.c says why).
 * NULL with a message: not a labelled mixture, unknown class (as dode_gmm_class_new), dim
 * not 1 or 2 (DODE_EUNSUPPORTED), w or sigma negative or not finite, no memory; and
 * DODE_ESOLVER if the finest grid (4097 points per axis) has not reached the tolerance. */
dode_sharpened *dode_sharpened_new(const dode_model *gmm, int c, double w, double sigma,
                                   char *err, size_t errlen);
void dode_sharpened_free(dode_sharpened *s);    /* accepts NULL */

/* logp[i] = log p_w(xbar_i) (normalised, exact up to log_z's quadrature error) and, if mode
 * is not NULL, mode[i] = the component whose argmax region holds row i (K if the row is not
 * finite). xbar: [n][dim]. DODE_ENOMEM with a message. */
int dode_sharpened_log_density(const dode_sharpened *s, size_t n, const double *xbar,
                               double *logp, size_t *mode, char *err, size_t errlen);

/* What a sample set's distance to the target is: the mean of log p_w over the finite rows
 * minus E_{p_w}[log p_w] (0 in expectation for draws from p_w; positive: the samples sit
 * where p_w is higher than p_w's own draws do, i.e. too concentrated), its 95% half-width
 * (1.96 standard errors of the mean, the rows being independent), and each component's
 * region's share of all n rows with its binomial 95% half-width. */
typedef struct {
    size_t n, finite;
    double gap, gap_half;
    double *mode_frac, *mode_half;   /* [K], owned; freed by dode_sharpened_gap_free */
} dode_sharpened_gap;

/* Fills *gap for n >= 1 rows xbar [n][dim]; DODE_EINVAL (n = 0, or no finite row for the
 * gap: gap is then NaN and the fractions still filled) or DODE_ENOMEM with a message. */
int dode_sharpened_compare(const dode_sharpened *s, size_t n, const double *xbar,
                           dode_sharpened_gap *gap, char *err, size_t errlen);
void dode_sharpened_gap_free(dode_sharpened_gap *gap);

#endif
