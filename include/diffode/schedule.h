/* schedule.h - VP noise schedules and the maps t <-> sigma <-> lambda (MATH.md section 3).
 *
 * a_t = sqrt(abar_t) = exp(log_alpha(t)), sigma = sqrt(1-abar)/sqrt(abar),
 * lambda = -log sigma. Every schedule is a strictly increasing sigma(t) on its range,
 * and dode_schedule_t is its exact inverse (closed form or piecewise-linear inverse).
 *
 * Names: "ddpm-linear", "ddpm-cosine" (discrete, N = 1000, DPM-Solver's continuous
 * interpolation: level n at t_n = (n+1)/N, log a piecewise linear in t, extended
 * linearly past both ends; ddpm-cosine drops levels with lambda < -5.1), "vp-linear",
 * "vp-cosine" (continuous), "edm" (VE: t = sigma, 0.002 .. 80). */
#ifndef DIFFODE_SCHEDULE_H
#define DIFFODE_SCHEDULE_H

#include <stddef.h>

typedef struct dode_schedule dode_schedule;

/* A named schedule; NULL with a message for an unknown name. */
dode_schedule *dode_schedule_new(const char *name, char *err, size_t errlen);

/* A discrete schedule from n training levels (n >= 2): either betas (kind = "betas",
 * each in (0, 1)) or alphas_cumprod (kind = "alphas_cumprod", strictly decreasing in
 * (0, 1]). clip_lambda: drop trailing levels with lambda < clip_lambda (DPM-Solver uses
 * -5.1 for cosine); pass -INFINITY to keep all. The arrays are copied. */
dode_schedule *dode_schedule_discrete_new(const char *name, const char *kind,
                                          const double *values, size_t n,
                                          double clip_lambda, char *err, size_t errlen);

void dode_schedule_free(dode_schedule *s);              /* accepts NULL */

const char *dode_schedule_name(const dode_schedule *s);
double dode_schedule_t_max(const dode_schedule *s);      /* default start, T */
double dode_schedule_t_min(const dode_schedule *s);      /* default end: 1/N or 1e-3 (edm 0.002) */
/* The largest valid t: 1 (discrete, vp-linear), 0.9946 (vp-cosine), INFINITY (edm).
 * Valid times are dode_schedule_t(s, 0) < t <= limit (sigma > 0 and finite there). */
double dode_schedule_t_limit(const dode_schedule *s);
/* Number of (kept) discrete levels N', 0 for a continuous schedule. */
size_t dode_schedule_levels(const dode_schedule *s);
/* alphas_cumprod of the kept levels ([levels]), NULL for a continuous schedule. */
const double *dode_schedule_alphas_cumprod(const dode_schedule *s);

double dode_schedule_log_alpha(const dode_schedule *s, double t);
double dode_schedule_sigma(const dode_schedule *s, double t);
double dode_schedule_lambda(const dode_schedule *s, double t);
/* d sigma / d t at t (for integrating in the variable t). */
double dode_schedule_dsigma_dt(const dode_schedule *s, double t);
/* Exact inverses. sigma = 0 maps to the t where abar = 1 (extrapolated for discrete). */
double dode_schedule_t(const dode_schedule *s, double sigma);
double dode_schedule_t_of_lambda(const dode_schedule *s, double lambda);
/* The time label a network trained on this schedule expects: 1000 (t - 1/N) for a
 * discrete schedule (= level n at the grid points), t for continuous, sigma for edm. */
double dode_schedule_model_time(const dode_schedule *s, double t);

#endif
