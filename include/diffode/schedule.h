/* schedule.h - noise schedules x_t = a_t x0 + s_t eps and the maps t <-> sigma <-> lambda
 * (MATH.md section 3; docs/models.md for the flow and zero-SNR ones).
 *
 * sigma = s_t / a_t (the noise-to-signal ratio, the ODE's variable), lambda = -log sigma,
 * log_alpha(t) = log a_t. The ODE in (xbar = x / a_t, sigma) is the same for every
 * schedule; a schedule only says where its times sit on sigma and how its x scales to
 * xbar. Every schedule is a strictly increasing sigma(t) on its range, and dode_schedule_t
 * is its exact inverse (closed form or piecewise-linear inverse).
 *
 * Names: "ddpm-linear", "ddpm-cosine" (discrete, N = 1000, DPM-Solver's continuous
 * interpolation: level n at t_n = (n+1)/N, log a piecewise linear in t, extended
 * linearly past both ends; ddpm-cosine drops levels with lambda < -5.1), "vp-linear",
 * "vp-cosine" (continuous), "edm" (VE: t = sigma, 0.002 .. 80), all VP in x
 * (a^2 + s^2 = 1, so 1/a = sqrt(1 + sigma^2));
 * "ddpm-linear-zsnr": ddpm-linear's betas rescaled to zero terminal SNR (Lin et al. 2023,
 * Algorithm 1): abar_{N-1} = 0, so sigma(1) = inf; on the last segment sqrt(abar), not
 * log a, is linear in t. Default t range [1/N, 1]: a grid starts at sigma = inf;
 * "flow", "flow:shift=S" (rectified flow, S > 0 finite, default 1): a = 1 - tau,
 * s = tau with the SD3 shift tau = S t / (1 + (S-1) t), so sigma = S t / (1 - t) and
 * 1/a = 1 + sigma. Default t range [1e-3, 0.999]; t-max up to 1 (sigma = inf) is valid.
 * A discrete schedule from a file may end at abar = 0 (beta = 1) as well.
 * Where sigma = inf (a = 0, x_T is pure noise) the ODE has no finite xbar: the driver
 * takes the first step in x0 form (solver.h, dode_solve). */
#ifndef DIFFODE_SCHEDULE_H
#define DIFFODE_SCHEDULE_H

#include <stddef.h>

typedef struct dode_schedule dode_schedule;

/* A named schedule; NULL with a message for an unknown name. */
dode_schedule *dode_schedule_new(const char *name, char *err, size_t errlen);

/* A discrete schedule from n training levels (n >= 2): either betas (kind = "betas",
 * each in (0, 1), the last may be 1) or alphas_cumprod (kind = "alphas_cumprod", strictly
 * decreasing in (0, 1], the last may be 0: zero terminal SNR). clip_lambda: drop trailing levels with lambda < clip_lambda (DPM-Solver uses
 * -5.1 for cosine); pass -INFINITY to keep all. The arrays are copied. */
dode_schedule *dode_schedule_discrete_new(const char *name, const char *kind,
                                          const double *values, size_t n,
                                          double clip_lambda, char *err, size_t errlen);

void dode_schedule_free(dode_schedule *s);              /* accepts NULL */

const char *dode_schedule_name(const dode_schedule *s);
double dode_schedule_t_max(const dode_schedule *s);      /* default start, T */
double dode_schedule_t_min(const dode_schedule *s);      /* default end: 1/N or 1e-3 (edm 0.002) */
/* The largest valid t: 1 (discrete, vp-linear, flow), 0.9946 (vp-cosine), INFINITY (edm).
 * Valid times are dode_schedule_t(s, 0) < t <= limit (sigma > 0 there, and finite except
 * at t = 1 on ddpm-linear-zsnr, flow and a file ending at abar = 0: zero SNR). */
double dode_schedule_t_limit(const dode_schedule *s);
/* Number of (kept) discrete levels N', 0 for a continuous schedule. */
size_t dode_schedule_levels(const dode_schedule *s);
/* alphas_cumprod of the kept levels ([levels]), NULL for a continuous schedule. */
const double *dode_schedule_alphas_cumprod(const dode_schedule *s);

double dode_schedule_log_alpha(const dode_schedule *s, double t);
double dode_schedule_sigma(const dode_schedule *s, double t);
/* sigma[k] = dode_schedule_sigma(s, t[k]) for k < n, bit for bit; on a discrete schedule a
 * time in the segment of the one before it skips the search for its segment (quadrature
 * nodes between two levels, solvers/deis.c). */
void dode_schedule_sigma_many(const dode_schedule *s, size_t n, const double *t,
                              double *sigma);
double dode_schedule_lambda(const dode_schedule *s, double t);
/* d sigma / d t at t (for integrating in the variable t). */
double dode_schedule_dsigma_dt(const dode_schedule *s, double t);
/* Exact inverses. sigma = 0 maps to the t where abar = 1 (extrapolated for discrete). */
double dode_schedule_t(const dode_schedule *s, double sigma);
double dode_schedule_t_of_lambda(const dode_schedule *s, double lambda);
/* The time label a network trained on this schedule expects: 1000 (t - 1/N) for a
 * discrete schedule (= level n at the grid points), t for continuous, sigma for edm. */
double dode_schedule_model_time(const dode_schedule *s, double t);
/* 1 / a as a function of sigma, the factor xbar = x * scale: sqrt(1 + sigma^2) on VP
 * schedules, 1 + sigma on flow ones. INFINITY at sigma = inf. */
double dode_schedule_xbar_scale(const dode_schedule *s, double sigma);

#endif
