/* schedule.c - noise schedules x = a_t x0 + s_t eps and the maps t <-> log a <-> sigma
 * <-> lambda (MATH.md section 3; DPM-Solver's NoiseScheduleVP), sigma = s_t / a_t.
 * VP schedules have a^2 + s^2 = 1; flow has a + s = 1 (docs/flow.md). Only sigma(t)
 * enters the ODE; a matters where x meets xbar (dode_schedule_xbar_scale).
 *
 * Invariant: log_alpha(t) strictly decreases on the schedule's range, so for the VP
 * schedules sigma(t) = sqrt(expm1(-2 log a)) strictly increases (flow: sigma =
 * S t / (1 - t)) and dode_schedule_t is its exact inverse: a closed form for continuous
 * schedules, and for discrete ones the same piecewise-linear interpolant through
 * (t_n, log a_n) read the other way (DPM-Solver's interpolate_fn, extended linearly past
 * both ends with the outer segments; at zero terminal SNR the last segment is linear in
 * a, not log a). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/schedule.h"
#include "diffode/status.h"

typedef enum {
    SCHED_DISCRETE, SCHED_VP_LINEAR, SCHED_VP_COSINE, SCHED_EDM, SCHED_FLOW
} sched_kind;

struct dode_schedule {
    sched_kind kind;
    char *name;
    double t_max, t_min, t_limit;
    size_t levels;       /* N' kept discrete levels; 0 for continuous schedules */
    double *t_grid;      /* [levels] t_n = (n+1)/N', increasing */
    double *log_a;       /* [levels] 0.5 log abar_n, strictly decreasing */
    double *abar;        /* [levels] alphas_cumprod as the training code has them */
    int zero_snr;        /* discrete: the last level has abar = 0 (log a = -inf) */
    double shift;        /* flow: the SD3 time shift s (1 = none) */
};

static const double PI = 3.14159265358979323846;
/* DPM-Solver / UniPC defaults (MATH.md section 3). */
static const double VP_B0 = 0.1, VP_B1 = 20.0;          /* vp-linear beta(t) = b0 + (b1-b0) t */
static const double COS_S = 0.008, COS_T = 0.9946;      /* vp-cosine */
static const double VP_T_MIN = 1e-3;
static const double EDM_SMIN = 0.002, EDM_SMAX = 80.0;
static const size_t DDPM_N = 1000;
static const double DDPM_CLIP_LAMBDA = -5.1;            /* ddpm-cosine, DPM-Solver */

static const double FLOW_T_MIN = 1e-3, FLOW_T_MAX = 0.999;   /* t = 1 is sigma = inf */

static const char *const schedule_names =
    "ddpm-linear, ddpm-cosine, ddpm-linear-zsnr, vp-linear, vp-cosine, edm, flow, "
    "flow:shift=S";

/* ---- construction ------------------------------------------------------------------ */

static dode_schedule *sched_alloc(sched_kind kind, const char *name, size_t n,
                                  char *err, size_t errlen)
{
    size_t len = 0;
    if (dode_mul_size(n, 3 * sizeof(double), &len) != DODE_OK) {
        dode_fail(err, errlen, DODE_ENOMEM, "schedule %s: %zu levels overflow size_t", name, n);
        return NULL;
    }
    dode_schedule *s = calloc(1, sizeof *s);
    char *copy = malloc(strlen(name) + 1);
    double *block = n > 0 ? malloc(len) : NULL;
    if (s == NULL || copy == NULL || (n > 0 && block == NULL)) {
        free(s);
        free(copy);
        free(block);
        dode_fail(err, errlen, DODE_ENOMEM, "schedule %s: out of memory", name);
        return NULL;
    }
    s->kind = kind;
    s->name = strcpy(copy, name);
    s->levels = n;
    s->t_grid = block;                      /* one block cut into three views */
    s->log_a = n > 0 ? block + n : NULL;
    s->abar = n > 0 ? block + 2 * n : NULL;
    return s;
}

void dode_schedule_free(dode_schedule *s)
{
    if (s == NULL)
        return;
    free(s->t_grid);
    free(s->name);
    free(s);
}

/* Input checks of dode_schedule_discrete_new; *is_betas says which kind. */
static int check_discrete_input(const char *name, const char *kind, const double *v, size_t n,
                                double clip_lambda, int *is_betas, char *err, size_t errlen)
{
    if (kind == NULL || (strcmp(kind, "betas") != 0 && strcmp(kind, "alphas_cumprod") != 0))
        return dode_fail(err, errlen, DODE_EINVAL, "schedule %s: kind \"%s\" is neither "
                         "\"betas\" nor \"alphas_cumprod\"", name, kind ? kind : "(null)");
    *is_betas = strcmp(kind, "betas") == 0;
    if (v == NULL || n < 2)
        return dode_fail(err, errlen, DODE_EINVAL, "schedule %s: need n >= 2 %s, got %zu",
                         name, kind, v == NULL ? (size_t)0 : n);
    if (isnan(clip_lambda))
        return dode_fail(err, errlen, DODE_EINVAL, "schedule %s: clip_lambda is NaN "
                         "(pass -INFINITY to keep every level)", name);
    for (size_t i = 0; i < n; i++) {
        /* the last level alone may have beta = 1, abar = 0: zero terminal SNR (Lin et al.
         * 2023), where sigma = inf and the driver takes the first step in x0 form */
        const int last = i == n - 1;
        if (*is_betas && !(v[i] > 0 && (v[i] < 1 || (last && v[i] == 1))))   /* NaN fails */
            return dode_fail(err, errlen, DODE_EINVAL, "schedule %s: betas[%zu] = %g is "
                             "outside (0, 1)%s", name, i, v[i], last ? " (or 1, zero "
                             "terminal SNR)" : "");
        if (!*is_betas && !((v[i] > 0 || (last && v[i] == 0)) && v[i] <= 1))
            return dode_fail(err, errlen, DODE_EINVAL, "schedule %s: alphas_cumprod[%zu] = %g "
                             "is outside (0, 1]%s", name, i, v[i], last ? " (or 0, zero "
                             "terminal SNR)" : "");
        if (!*is_betas && i > 0 && !(v[i] < v[i - 1]))
            return dode_fail(err, errlen, DODE_EINVAL, "schedule %s: alphas_cumprod must "
                             "strictly decrease, but [%zu] = %.15g follows [%zu] = %.15g",
                             name, i, v[i], i - 1, v[i - 1]);
    }
    return DODE_OK;
}

/* log a_n = 0.5 cumsum(log1p(-beta)) (exact for tiny betas) or 0.5 log abar_n; abar_n as
 * the training code computes it, cumprod(1 - beta), so DDIM grids see the same numbers. */
static int fill_levels(dode_schedule *s, const double *v, size_t n, int is_betas,
                       char *err, size_t errlen)
{
    double sum = 0, prod = 1;
    for (size_t i = 0; i < n; i++) {
        if (is_betas) {
            sum += 0.5 * log1p(-v[i]);
            prod *= 1.0 - v[i];
            s->log_a[i] = sum;
            s->abar[i] = prod;
        } else {
            s->log_a[i] = 0.5 * log(v[i]);
            s->abar[i] = v[i];
        }
        if (i > 0 && !(s->log_a[i] < s->log_a[i - 1]))   /* the inverse needs it */
            return dode_fail(err, errlen, DODE_EINVAL, "schedule %s: level %zu (%s = %g) "
                             "leaves log alphas_cumprod unchanged in double precision",
                             s->name, i, is_betas ? "beta" : "alphas_cumprod", v[i]);
    }
    return DODE_OK;
}

/* Drops trailing levels with lambda_n = -0.5 log(expm1(-2 log a_n)) < clip_lambda
 * (lambda decreases with n), then places the kept N' levels at t_n = (n+1)/N'. */
static int clip_levels(dode_schedule *s, double clip_lambda, char *err, size_t errlen)
{
    size_t keep = s->levels;
    while (keep > 0 && -0.5 * log(expm1(-2.0 * s->log_a[keep - 1])) < clip_lambda)
        keep--;
    if (keep < 2)
        return dode_fail(err, errlen, DODE_EINVAL, "schedule %s: only %zu of %zu levels have "
                         "lambda >= clip_lambda %g, need 2", s->name, keep, s->levels,
                         clip_lambda);
    s->levels = keep;
    for (size_t i = 0; i < keep; i++)
        s->t_grid[i] = (double)(i + 1) / (double)keep;
    s->t_max = 1.0;
    s->t_limit = 1.0;
    s->t_min = 1.0 / (double)keep;
    return DODE_OK;
}

dode_schedule *dode_schedule_discrete_new(const char *name, const char *kind,
                                          const double *values, size_t n,
                                          double clip_lambda, char *err, size_t errlen)
{
    int is_betas = 0;
    if (name == NULL)
        name = "discrete";
    if (check_discrete_input(name, kind, values, n, clip_lambda, &is_betas, err, errlen))
        return NULL;
    dode_schedule *s = sched_alloc(SCHED_DISCRETE, name, n, err, errlen);
    if (s == NULL)
        return NULL;
    if (fill_levels(s, values, n, is_betas, err, errlen) != DODE_OK
        || clip_levels(s, clip_lambda, err, errlen) != DODE_OK) {
        dode_schedule_free(s);
        return NULL;
    }
    s->zero_snr = s->log_a[s->levels - 1] == -INFINITY;
    return s;
}

/* betas = np.linspace(1e-4, 0.02, N) (start + i * step, last point exact, as NumPy). */
static void ddpm_linear_betas(double *b, size_t n)
{
    const double b0 = 1e-4, b1 = 0.02, step = (b1 - b0) / (double)(n - 1);
    for (size_t i = 0; i < n; i++)
        b[i] = (double)i * step + b0;
    b[n - 1] = b1;
}

/* i-DDPM cosine: beta_n = min(1 - abar((n+1)/N) / abar(n/N), 0.999),
 * abar(t) = cos((t+s)/(1+s) pi/2)^2 (Nichol & Dhariwal eq. 17). */
static void ddpm_cosine_betas(double *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const double c1 = cos(((double)(i + 1) / (double)n + COS_S) / (1 + COS_S) * PI / 2);
        const double c0 = cos(((double)i / (double)n + COS_S) / (1 + COS_S) * PI / 2);
        const double beta = 1.0 - (c1 * c1) / (c0 * c0);
        b[i] = beta < 0.999 ? beta : 0.999;
    }
}

static dode_schedule *ddpm_new(const char *name, int cosine, char *err, size_t errlen)
{
    double *betas = malloc(DDPM_N * sizeof *betas);
    if (betas == NULL) {
        dode_fail(err, errlen, DODE_ENOMEM, "schedule %s: out of memory", name);
        return NULL;
    }
    if (cosine)
        ddpm_cosine_betas(betas, DDPM_N);
    else
        ddpm_linear_betas(betas, DDPM_N);
    dode_schedule *s = dode_schedule_discrete_new(name, "betas", betas, DDPM_N,
                                                  cosine ? DDPM_CLIP_LAMBDA : -INFINITY,
                                                  err, errlen);
    free(betas);
    return s;
}

/* Lin et al. 2023, Algorithm 1 (diffusers' rescale_zero_terminal_snr): shift sqrt(abar)
 * so the last level is 0, scale it so the first keeps its value; abar[n-1] = 0 exactly. */
static void rescale_zero_terminal_snr(const double *betas, double *abar, size_t n)
{
    double prod = 1;
    for (size_t i = 0; i < n; i++)
        abar[i] = sqrt(prod *= 1.0 - betas[i]);          /* sqrt(alphas_cumprod) */
    const double a0 = abar[0], aT = abar[n - 1];
    for (size_t i = 0; i < n; i++) {
        const double a = (abar[i] - aT) * (a0 / (a0 - aT));
        abar[i] = a * a;
    }
}

static dode_schedule *ddpm_zsnr_new(const char *name, char *err, size_t errlen)
{
    double *block = malloc(2 * DDPM_N * sizeof *block);
    if (block == NULL) {
        dode_fail(err, errlen, DODE_ENOMEM, "schedule %s: out of memory", name);
        return NULL;
    }
    ddpm_linear_betas(block, DDPM_N);
    rescale_zero_terminal_snr(block, block + DDPM_N, DDPM_N);
    dode_schedule *s = dode_schedule_discrete_new(name, "alphas_cumprod", block + DDPM_N,
                                                  DDPM_N, -INFINITY, err, errlen);
    free(block);
    return s;
}

/* flow or flow:shift=S, S a finite number > 0 (SD3 uses 3, Flux a resolution-dependent
 * one); t runs over (0, 1], and t = 1 is pure noise (sigma = inf). */
static dode_schedule *flow_new(const char *name, char *err, size_t errlen)
{
    double shift = 1.0;
    if (name[4] == ':') {
        const char *val = name + 5;
        char *end = NULL;
        if (strncmp(val, "shift=", 6) != 0) {
            dode_fail(err, errlen, DODE_EINVAL, "schedule \"%s\": unknown parameter \"%s\" "
                      "(flow takes shift=S)", name, val);
            return NULL;
        }
        shift = strtod(val + 6, &end);
        if (end == val + 6 || *end != '\0' || !(shift > 0 && isfinite(shift))) {
            dode_fail(err, errlen, DODE_EINVAL, "schedule \"%s\": shift must be a finite "
                      "number > 0, got \"%s\"", name, val + 6);
            return NULL;
        }
    }
    dode_schedule *s = sched_alloc(SCHED_FLOW, name, 0, err, errlen);
    if (s == NULL)
        return NULL;
    s->shift = shift;
    s->t_min = FLOW_T_MIN;
    s->t_max = FLOW_T_MAX;
    s->t_limit = 1.0;
    return s;
}

static dode_schedule *continuous_new(const char *name, sched_kind kind, char *err,
                                     size_t errlen)
{
    dode_schedule *s = sched_alloc(kind, name, 0, err, errlen);
    if (s == NULL)
        return NULL;
    s->t_min = kind == SCHED_EDM ? EDM_SMIN : VP_T_MIN;
    s->t_max = kind == SCHED_EDM ? EDM_SMAX : kind == SCHED_VP_COSINE ? COS_T : 1.0;
    s->t_limit = kind == SCHED_EDM ? INFINITY : s->t_max;
    return s;
}

dode_schedule *dode_schedule_new(const char *name, char *err, size_t errlen)
{
    if (name != NULL && strcmp(name, "ddpm-linear") == 0)
        return ddpm_new(name, 0, err, errlen);
    if (name != NULL && strcmp(name, "ddpm-cosine") == 0)
        return ddpm_new(name, 1, err, errlen);
    if (name != NULL && strcmp(name, "vp-linear") == 0)
        return continuous_new(name, SCHED_VP_LINEAR, err, errlen);
    if (name != NULL && strcmp(name, "vp-cosine") == 0)
        return continuous_new(name, SCHED_VP_COSINE, err, errlen);
    if (name != NULL && strcmp(name, "edm") == 0)
        return continuous_new(name, SCHED_EDM, err, errlen);
    if (name != NULL && strcmp(name, "ddpm-linear-zsnr") == 0)
        return ddpm_zsnr_new(name, err, errlen);
    if (name != NULL && strncmp(name, "flow", 4) == 0 && (name[4] == '\0' || name[4] == ':'))
        return flow_new(name, err, errlen);
    dode_fail(err, errlen, DODE_ENOTFOUND, "unknown schedule \"%s\": valid names are %s",
              name ? name : "(null)", schedule_names);
    return NULL;
}

/* ---- accessors ----------------------------------------------------------------------- */

const char *dode_schedule_name(const dode_schedule *s) { return s->name; }
double dode_schedule_t_max(const dode_schedule *s) { return s->t_max; }
double dode_schedule_t_min(const dode_schedule *s) { return s->t_min; }
double dode_schedule_t_limit(const dode_schedule *s) { return s->t_limit; }
size_t dode_schedule_levels(const dode_schedule *s) { return s->levels; }

const double *dode_schedule_alphas_cumprod(const dode_schedule *s)
{
    return s->kind == SCHED_DISCRETE ? s->abar : NULL;
}

/* ---- discrete interpolation ------------------------------------------------------------ */

/* Segment i in [0, n-2] with xp[i] <= x < xp[i+1] for increasing xp, clipped at both
 * ends so the outer segments extend the line (NumPy searchsorted(side="right") - 1). */
static size_t segment_up(const double *xp, size_t n, double x)
{
    size_t lo = 0, hi = n;                  /* count of xp <= x lies in [lo, hi] */
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (xp[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return 0;
    return lo - 1 < n - 2 ? lo - 1 : n - 2;
}

/* The same for decreasing xp: segment i with xp[i] >= x > xp[i+1], clipped. */
static size_t segment_down(const double *xp, size_t n, double x)
{
    size_t lo = 0, hi = n;                  /* count of xp > x */
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (xp[mid] > x)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return 0;
    return lo - 1 < n - 2 ? lo - 1 : n - 2;
}

static double discrete_slope(const dode_schedule *s, size_t i)
{
    return (s->log_a[i + 1] - s->log_a[i]) / (s->t_grid[i + 1] - s->t_grid[i]);
}

/* Zero terminal SNR: log a_{N-1} = -inf, so log a cannot be linear on the last segment;
 * there a = sqrt(abar) is linear in t instead, from a_{N-2} down to 0 at t = 1:
 * log a = log a_{N-2} + log((1 - t)/(1 - t_{N-2})). 1 if t lies on that segment. */
static int on_zero_snr_segment(const dode_schedule *s, double t)
{
    return s->zero_snr && t >= s->t_grid[s->levels - 2];
}

static double zero_snr_log_alpha(const dode_schedule *s, double t)
{
    const size_t k = s->levels - 2;
    return t >= 1.0 ? -INFINITY : s->log_a[k] + log((1.0 - t) / (1.0 - s->t_grid[k]));
}

/* flow (rectified flow, SD3's shift s): the shifted time tau = s t / (1 + (s-1) t) is the
 * noise level of x = (1 - tau) x0 + tau eps, so a = 1 - tau = (1 - t)/(1 + (s-1) t) and
 * sigma = tau / (1 - tau) = s t / (1 - t); t = 1 is pure noise, sigma = inf. */
static double flow_tau(const dode_schedule *s, double t)
{
    return s->shift * t / (1.0 + (s->shift - 1.0) * t);
}

/* ---- t -> log a, sigma, lambda ------------------------------------------------------- */

/* vp-cosine: with theta0 = s/(1+s) pi/2, delta = t/(1+s) pi/2,
 * a = cos(theta0 + delta)/cos(theta0) = 1 - 2 sin^2(delta/2) - tan(theta0) sin(delta),
 * free of the cancellation in log cos(theta) - log cos(theta0) at small t. */
static double cosine_theta0(void) { return COS_S / (1 + COS_S) * PI / 2; }

double dode_schedule_log_alpha(const dode_schedule *s, double t)
{
    switch (s->kind) {
    case SCHED_DISCRETE: {
        if (on_zero_snr_segment(s, t))
            return zero_snr_log_alpha(s, t);
        const size_t i = segment_up(s->t_grid, s->levels, t);
        return s->log_a[i] + (t - s->t_grid[i]) * discrete_slope(s, i);
    }
    case SCHED_FLOW:
        return log1p(-t) - log1p((s->shift - 1.0) * t);
    case SCHED_VP_LINEAR:
        return -0.25 * t * t * (VP_B1 - VP_B0) - 0.5 * t * VP_B0;
    case SCHED_VP_COSINE: {
        const double d = t / (1 + COS_S) * PI / 2, h = sin(d / 2);
        return log1p(-2 * h * h - tan(cosine_theta0()) * sin(d));
    }
    case SCHED_EDM:
        break;
    }
    return -0.5 * log1p(t * t);             /* edm: the VP a of sigma = t */
}

/* d log a / d t. */
static double dlog_alpha_dt(const dode_schedule *s, double t)
{
    switch (s->kind) {
    case SCHED_DISCRETE:
        if (on_zero_snr_segment(s, t))
            return -1.0 / (1.0 - t);
        return discrete_slope(s, segment_up(s->t_grid, s->levels, t));
    case SCHED_FLOW:
        return -1.0 / (1.0 - t) - (s->shift - 1.0) / (1.0 + (s->shift - 1.0) * t);
    case SCHED_VP_LINEAR:
        return -0.5 * t * (VP_B1 - VP_B0) - 0.5 * VP_B0;
    case SCHED_VP_COSINE:
        return -tan((t + COS_S) / (1 + COS_S) * PI / 2) * PI / (2 * (1 + COS_S));
    case SCHED_EDM:
        break;
    }
    return -t / (1 + t * t);
}

double dode_schedule_sigma(const dode_schedule *s, double t)
{
    if (s->kind == SCHED_EDM)
        return t;
    if (s->kind == SCHED_FLOW)
        return t >= 1.0 ? INFINITY : s->shift * t / (1.0 - t);
    return sqrt(expm1(-2.0 * dode_schedule_log_alpha(s, t)));
}

void dode_schedule_sigma_many(const dode_schedule *s, size_t n, const double *t,
                              double *sigma)
{
    size_t i = (size_t)-1;                  /* the segment of the last time, if any */
    double slope = 0.0;
    for (size_t k = 0; k < n; k++) {
        if (s->kind != SCHED_DISCRETE || on_zero_snr_segment(s, t[k])) {
            sigma[k] = dode_schedule_sigma(s, t[k]);
            continue;
        }
        /* segment_up's answer is i exactly when t_grid[i] <= t < t_grid[i + 1] */
        if (i == (size_t)-1 || !(s->t_grid[i] <= t[k] && t[k] < s->t_grid[i + 1])) {
            i = segment_up(s->t_grid, s->levels, t[k]);
            slope = discrete_slope(s, i);
        }
        const double log_a = s->log_a[i] + (t[k] - s->t_grid[i]) * slope;
        sigma[k] = sqrt(expm1(-2.0 * log_a));
    }
}

double dode_schedule_lambda(const dode_schedule *s, double t)
{
    return -log(dode_schedule_sigma(s, t));
}

/* sigma^2 = exp(-2 log a) - 1 gives dsigma/dt = -(d log a/dt) (1 + sigma^2)/sigma,
 * written sigma + 1/sigma so it neither overflows nor cancels. */
double dode_schedule_dsigma_dt(const dode_schedule *s, double t)
{
    if (s->kind == SCHED_EDM)
        return 1.0;
    if (s->kind == SCHED_FLOW)
        return s->shift / ((1.0 - t) * (1.0 - t));
    const double sigma = dode_schedule_sigma(s, t);
    return -dlog_alpha_dt(s, t) * (sigma + 1.0 / sigma);
}

/* ---- inverses -------------------------------------------------------------------------- */

/* vp-cosine inverse in the stable form: D = cos(theta0) - cos(theta0 + delta)
 * = cos(theta0) (-expm1(log a)) and tan(delta/2) is the positive root of
 * (2 cos theta0 - D) x^2 + 2 sin(theta0) x - D = 0 (same map as MATH.md's acos form,
 * but accurate to rounding as t -> 0). */
static double cosine_t_of_log_alpha(double log_a)
{
    const double th0 = cosine_theta0(), c0 = cos(th0), s0 = sin(th0);
    const double D = c0 * -expm1(log_a);
    const double x = D / (s0 + sqrt(s0 * s0 + D * (2 * c0 - D)));
    return 2 * atan(x) * 2 * (1 + COS_S) / PI;
}

/* t of a VP log a (not edm). */
static double t_of_log_alpha(const dode_schedule *s, double log_a)
{
    switch (s->kind) {
    case SCHED_DISCRETE: {
        const size_t k = s->levels - 2;
        if (s->zero_snr && log_a <= s->log_a[k])      /* the inverse of zero_snr_log_alpha */
            return 1.0 - (1.0 - s->t_grid[k]) * exp(log_a - s->log_a[k]);
        const size_t i = segment_down(s->log_a, s->levels, log_a);
        return s->t_grid[i] + (log_a - s->log_a[i]) / discrete_slope(s, i);
    }
    case SCHED_VP_LINEAR: {              /* MATH.md section 3, L = -2 log a */
        const double tmp = 2.0 * (VP_B1 - VP_B0) * (-2.0 * log_a);
        return tmp / (sqrt(VP_B0 * VP_B0 + tmp) + VP_B0) / (VP_B1 - VP_B0);
    }
    case SCHED_VP_COSINE:
        return cosine_t_of_log_alpha(log_a);
    case SCHED_EDM:
    case SCHED_FLOW:
        break;
    }
    return NAN;
}

/* log a = -0.5 log1p(sigma^2) = -0.5 log1p(exp(-2 lambda)), without overflow. */
static double log_alpha_of_sigma(double sigma)
{
    if (sigma > 1e150)
        return -log(sigma) - 0.5 * log1p(1.0 / (sigma * sigma));
    return -0.5 * log1p(sigma * sigma);
}

static double log_alpha_of_lambda(double lambda)
{
    const double x = -2.0 * lambda;
    return x > 0 ? -0.5 * (x + log1p(exp(-x))) : -0.5 * log1p(exp(x));
}

double dode_schedule_t(const dode_schedule *s, double sigma)
{
    if (!(sigma >= 0))
        return NAN;
    if (s->kind == SCHED_EDM)
        return sigma;
    if (s->kind == SCHED_FLOW)         /* the inverse of sigma = s t / (1 - t) */
        return sigma == INFINITY ? 1.0 : sigma / (s->shift + sigma);
    return t_of_log_alpha(s, log_alpha_of_sigma(sigma));
}

double dode_schedule_t_of_lambda(const dode_schedule *s, double lambda)
{
    if (s->kind == SCHED_EDM)
        return exp(-lambda);
    if (s->kind == SCHED_FLOW)
        return dode_schedule_t(s, exp(-lambda));
    if (isnan(lambda))
        return NAN;
    return t_of_log_alpha(s, log_alpha_of_lambda(lambda));
}

/* DPM-Solver's label: 1000 (t - 1/N'), the level index at t_n when N' = 1000. */
double dode_schedule_model_time(const dode_schedule *s, double t)
{
    if (s->kind == SCHED_DISCRETE)
        return (t - 1.0 / (double)s->levels) * 1000.0;
    if (s->kind == SCHED_FLOW)          /* a flow network is conditioned on tau (SD3) */
        return flow_tau(s, t);
    return t;
}

/* 1/a as a function of sigma: VP a^2 + s^2 = 1 gives sqrt(1 + sigma^2); flow a + s = 1
 * gives 1 + sigma (for any shift, which only moves t). */
double dode_schedule_xbar_scale(const dode_schedule *s, double sigma)
{
    if (s->kind == SCHED_FLOW)
        return 1.0 + sigma;
    return sqrt(1.0 + sigma * sigma);
}
