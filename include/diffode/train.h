/* train.h - denoising score matching for the eps_theta MLP (mlp.h) with Adam.
 *
 * One iteration draws a batch of x0 from the data (data.h), a noise level per row from the
 * schedule's training distribution, eps ~ N(0, I), forms x_t = a x0 + s eps and takes one
 * Adam step on the DDPM loss
 *     L = mean over rows of || eps_theta(x_t, label) - eps ||^2      (summed over dims).
 * Noise levels: discrete schedules draw the level n uniformly (DDPM); continuous VP ones
 * draw t uniformly on [t_min, t_max]; edm draws log sigma uniformly on its range.
 *
 * Every random number comes from one gsl_rng mt19937 seeded with opts.seed, consumed in a
 * fixed order, so a run is bitwise reproducible for a seed on the same machine and BLAS
 * thread count (the diffode command pins OpenBLAS to one thread for that reason).
 *
 * A yardstick for the loss: a predictor that always says 0 scores dim; the best affine
 * predictor scores B_lin = E_level sum_i a^2 l_i / (a^2 l_i + s^2) over the eigenvalues
 * l_i of the data covariance, which is the Bayes (lowest possible) loss when the data are
 * Gaussian and an upper bound on it otherwise (MMSE <= linear MMSE). */
#ifndef DIFFODE_TRAIN_H
#define DIFFODE_TRAIN_H

#include <stddef.h>
#include <gsl/gsl_rng.h>
#include "diffode/data.h"
#include "diffode/mlp.h"
#include "diffode/schedule.h"

typedef struct {
    size_t iters;                 /* Adam steps (default 5000) */
    size_t batch;                 /* rows per step (default 256) */
    double lr;                    /* learning rate (default 1e-3) */
    double lr_final;              /* cosine decay from lr to lr_final; NaN = constant lr */
    double beta1, beta2, adam_eps;   /* Adam (0.9, 0.999, 1e-8) */
    unsigned long seed;           /* seeds the mt19937 stream (default 1) */
    /* Called every progress_every steps and after the last one (may be NULL): the step
     * count done, the batch loss and its exponential moving average (weight 0.01). */
    void (*progress)(void *ctx, size_t done, size_t iters, double loss, double ema);
    void *progress_ctx;
    size_t progress_every;        /* default 100 */
} dode_train_opts;

void dode_train_opts_init(dode_train_opts *o);

/* Trains mlp in place on data (whose dim must equal the network's) under schedule s.
 * Initialise the weights with dode_mlp_new(arch, rng) first. curve ([opts.iters], may be
 * NULL) receives each step's batch loss. Fails on bad options (EINVAL), a dim or
 * schedule mismatch (EINVAL), or a non-finite loss (ENONFINITE: the message gives the
 * step; lower the learning rate); the weights then hold the last step's values. */
int dode_train(dode_mlp *mlp, const dode_schedule *s, const dode_data *data,
               const dode_train_opts *opts, double *curve, char *err, size_t errlen);

/* The same loss on n fresh draws from rng without training: an unbiased estimate of the
 * DSM loss (its standard error is about sqrt(2 dim / n) near the optimum). */
int dode_train_eval(const dode_mlp *mlp, const dode_schedule *s, const dode_data *data,
                    size_t n, gsl_rng *rng, double *loss, char *err, size_t errlen);

/* B_lin above, averaged exactly over the levels of a discrete schedule and with a
 * 4096-point midpoint rule otherwise; eigs: [dim] covariance eigenvalues (>= 0). */
int dode_train_linear_bound(const dode_schedule *s, const double *eigs, size_t dim,
                            double *bound, char *err, size_t errlen);

/* Eigenvalues ([dim], ascending) of the data covariance estimated from n >= 2 draws. */
int dode_data_cov_eigs(const dode_data *data, gsl_rng *rng, size_t n, double *eigs,
                       char *err, size_t errlen);

/* Writes the loss curve as CSV "step,loss,loss_ema" (atomic; fileio.h). */
int dode_train_write_curve(const char *path, const double *curve, size_t iters, char *err,
                           size_t errlen);

#endif
