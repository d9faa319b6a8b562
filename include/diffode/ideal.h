/* ideal.h - the ideal denoiser of a data set: the exact eps of its empirical distribution.
 *
 * N points y_j in dim dimensions are a mixture of point masses, a GMM with zero
 * covariances (MATH.md section 5 with S_k = 0): xbar | sigma ~ (1/N) sum_j N(y_j, sigma^2 I),
 *   gamma = softmax_j(-|xbar - y_j|^2 / (2 sigma^2)),  epsh = (xbar - sum_j gamma_j y_j) / sigma,
 *   log p_sigma(xbar) = logsumexp_j(-|xbar - y_j|^2 / (2 sigma^2)) - log N
 *                       - (dim / 2) log(2 pi sigma^2).
 * Its probability-flow ODE carries every x_T to a training point as sigma -> 0: a real,
 * high-dimensional problem (784-D for Fashion-MNIST) whose eps is exact.
 *
 * Batched, a call costs one dgemm of [n][dim] x [dim][N] for the logits, a row softmax,
 * and the responsibility-weighted sum of the points: a second dgemm where the
 * responsibilities are dense (large sigma), a sparse sum over the few points that carry
 * weight where they are not (small sigma). eps streams the points in cache-sized chunks
 * (an online softmax), so they are read from memory once per call. */
#ifndef DIFFODE_IDEAL_H
#define DIFFODE_IDEAL_H

#include <stddef.h>

#include "diffode/model.h"

/* The model of N >= 1 points ([N][dim], copied; every value finite). Provides eps,
 * log_density and jacobian (d epsh/d xbar = I/sigma - Cov_gamma(y)/sigma^3, and
 * d epsh/d sigma); name "ideal". NULL with a message on bad input or no memory. */
dode_model *dode_ideal_new(const double *points, size_t N, size_t dim, char *err,
                           size_t errlen);

/* For each row of x ([n][dim]), the nearest data point: index[i] (may be NULL) and the
 * Euclidean distance dist[i] (may be NULL). DODE_EINVAL if m is not an ideal model. */
int dode_ideal_nearest(const dode_model *m, size_t n, const double *x, size_t *index,
                       double *dist, char *err, size_t errlen);

/* The data points ([N][dim], as given; owned by the model) and N; NULL if m is not an
 * ideal model. */
const double *dode_ideal_points(const dode_model *m, size_t *N);

/* Where the fashion-mnist source is read from: DIR/{train,t10k}-images-idx3-ubyte.gz (the
 * "ideal:fashion-mnist" model spec, spec.h's dode_ideal_make). */
#define DODE_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

#endif
