/* metrics.h - what a sweep measures about one sampling run (issue 5): errors of the final
 * state and of the trajectory against a reference, the observed order of a solver, and
 * distances between sample sets (Frechet distance, sliced Wasserstein-2, mean NLL).
 *
 * Batches are row-major [n][dim] doubles, as everywhere in diffode. Every function checks
 * its sizes, returns a status (status.h) and writes one sentence into err on failure;
 * outputs are left unchanged on failure. */
#ifndef DIFFODE_EXPERIMENTS_METRICS_H
#define DIFFODE_EXPERIMENTS_METRICS_H

#include <stddef.h>
#include <gsl/gsl_rng.h>

#include "diffode/model.h"

/* Root mean square of x - ref over all len = n * dim values (MATH.md section 8: "the RMSE
 * over samples of xbar(sigma_0)"), and the largest |x - ref|. len >= 1. */
int exp_metric_rmse(const double *x, const double *ref, size_t len, double *rmse,
                     char *err, size_t errlen);
int exp_metric_max_abs(const double *x, const double *ref, size_t len, double *max_abs,
                        char *err, size_t errlen);

/* The RMSE at every point of a trajectory: traj and ref are [npoints][len]; out[p] is the
 * RMSE of traj[p] against ref[p] ([npoints]). npoints, len >= 1. */
int exp_metric_trajectory_rmse(const double *traj, const double *ref, size_t npoints,
                                size_t len, double *out, char *err, size_t errlen);

/* Observed order: p such that error ~ C NFE^-p, the least-squares slope of log(error) on
 * log(NFE) (negated) over the points with nfe >= nfe_min and error > floor (the asymptotic
 * range above the rounding floor; MATH.md section 8 uses nfe_min = 20, floor = 1e-13).
 * *used gets the number of points fitted (may be NULL). DODE_EINVAL if fewer than two
 * points with distinct NFE qualify, or an NFE is not positive. */
int exp_metric_observed_order(const double *nfe, const double *errors, size_t n,
                               double nfe_min, double floor, double *order, size_t *used,
                               char *err, size_t errlen);

/* Pairwise orders between consecutive points: out[i] = log(e_i / e_{i+1}) /
 * log(nfe_{i+1} / nfe_i) ([n - 1]; = log2(e(N)/e(2N)) when the NFE doubles); NaN where
 * either error is <= floor. n >= 2, NFE strictly increasing and positive. */
int exp_metric_pairwise_orders(const double *nfe, const double *errors, size_t n,
                                double floor, double *out, char *err, size_t errlen);

/* Sample mean ([dim]) and covariance ([dim][dim], divisor n - 1 as numpy.cov) of x [n][dim];
 * n >= 2. */
int exp_metric_moments(const double *x, size_t n, size_t dim, double *mean, double *cov,
                        char *err, size_t errlen);

/* Frechet distance of two Gaussians (the FID formula on given moments):
 *   FD = |m1 - m2|^2 + tr(S1 + S2 - 2 (S1^{1/2} S2 S1^{1/2})^{1/2}),
 * the matrix roots taken through symmetric eigendecompositions (gsl_eigen_symmv), small
 * negative eigenvalues from rounding clipped to 0. S1 and S2 must be symmetric PSD. */
int exp_metric_frechet_moments(size_t dim, const double *m1, const double *s1,
                                const double *m2, const double *s2, double *fd,
                                char *err, size_t errlen);

/* The same on two sample sets x [nx][dim] and y [ny][dim] (nx, ny >= 2): the moments are
 * estimated with exp_metric_moments, so the value carries sampling noise ~ dim^2 / n. */
int exp_metric_frechet(const double *x, size_t nx, const double *y, size_t ny, size_t dim,
                        double *fd, char *err, size_t errlen);

/* nproj unit directions ([nproj][dim]), uniform on the sphere (normalised Gaussians) drawn
 * from rng. */
int exp_metric_random_directions(gsl_rng *rng, size_t nproj, size_t dim, double *dirs,
                                  char *err, size_t errlen);

/* Sliced Wasserstein-2, squared: the mean over the given directions u_l of
 * (1/n) sum_i (sort(x u_l)_i - sort(y u_l)_i)^2, for equal sample counts n >= 1. For y =
 * x + c it is exactly mean_l (u_l . c)^2 (= |c|^2 / dim in expectation). */
int exp_metric_sliced_w2_dirs(const double *x, const double *y, size_t n, size_t dim,
                               const double *dirs, size_t nproj, double *sw2,
                               char *err, size_t errlen);

/* The same with nproj directions drawn from rng (exp_metric_random_directions). */
int exp_metric_sliced_w2(const double *x, const double *y, size_t n, size_t dim,
                          size_t nproj, gsl_rng *rng, double *sw2, char *err, size_t errlen);

/* Mean negative log-likelihood -(1/n) sum_i log p_sigma(xbar_i) under the model's
 * log_density. Samples that end at noise level sigma_min > 0 (t_min) are distributed as
 * p_{sigma_min}, not as the data density p_0, so the sweep passes sigma = sigma_min (pass
 * 0 for samples of the data density). DODE_EUNSUPPORTED if the model has no log_density. */
int exp_metric_mean_nll(const dode_model *model, const double *xbar, size_t n,
                         double sigma, double *nll, char *err, size_t errlen);

/* KL(N(m1, diag v1) || N(m2, diag v2)) in dim coordinates, in nats:
 *   (1/2) sum_j [ v1/v2 + (m1 - m2)^2 / v2 - 1 + log(v2 / v1) ]
 * (the closed form between Gaussians, coordinate by coordinate); variances > 0, dim >= 1. */
int exp_metric_kl_diag(const double *m1, const double *v1, const double *m2,
                        const double *v2, size_t dim, double *kl, char *err, size_t errlen);

/* Mode-mass total variation: sample i goes to the component k of largest responsibility
 * gamma[i][k] ([n][K], e.g. dode_gmm_responsibilities; ties to the lower k); with m_k
 * the fraction of samples in component k, tv = (1/2) sum_k |m_k - w_k| against the true
 * weights w ([K], summing to 1). In [0, 1]; n, K >= 1. */
int exp_metric_mode_tv(const double *gamma, size_t n, size_t K, const double *w,
                        double *tv, char *err, size_t errlen);

/* Energy distance (Szekely and Rizzo 2013) between x [nx][dim] and y [ny][dim], Euclidean:
 *   E = 2 mean_{i,j} |x_i - y_j| - mean_{i != i'} |x_i - x_i'| - mean_{j != j'} |y_j - y_j'|
 * with unbiased = 1: the U-statistic (each self term over its n (n - 1) distinct pairs),
 * an unbiased estimate of 2 E|X - Y| - E|X - X'| - E|Y - Y'| for independent sets, which
 * is 0 iff the laws agree, so it may come out slightly negative; with unbiased = 0 the
 * V-statistic (self terms over all n^2 pairs, >= 0, exactly 0 for y = x). O((nx + ny)^2
 * dim) time, no allocation. nx, ny >= 2, dim >= 1. Homogeneous: E(c x, c y) = |c| E(x, y). */
int exp_metric_energy(const double *x, size_t nx, const double *y, size_t ny, size_t dim,
                       int unbiased, double *energy, char *err, size_t errlen);

/* Mean and two-sided 95% Student t-interval of n >= 2 values (NaN values are skipped;
 * fewer than 2 left: DODE_EINVAL): mean -+ t_{0.975, m-1} s / sqrt(m), s the sample
 * standard deviation of the m values kept. *count gets m (may be NULL). */
int exp_metric_t_interval(const double *v, size_t n, double *mean, double *lo, double *hi,
                           size_t *count, char *err, size_t errlen);

#endif
