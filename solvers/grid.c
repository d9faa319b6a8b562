/* grid.c - time grids sigma_0 > ... > sigma_steps on a schedule (MATH.md section 4;
 * DPM-Solver's get_time_steps, EDM eq. 5, the DDIM repository's integer sequences).
 *
 * Invariant: a grid made here holds steps + 1 points with sigma monotone
 * (non-increasing; strictly so except for the repeated levels ddim-quad keeps) and
 * t[i] = t(sigma[i]); its endpoints are exactly sigma(t_max) and sigma(t_min) (or 0).
 * All are finite except sigma[0] = inf where a zero-terminal-SNR schedule is started at
 * its last t (dode_solve takes that first step). Level spacings also follow diffusers
 * (trailing, leading, linspace).
 * On failure *out is left untouched. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/grid.h"
#include "diffode/limits.h"
#include "diffode/status.h"

static const char *const spacing_names[DODE_SPACING_COUNT] = {
    "uniform-t", "quadratic-t", "logsnr", "karras", "ddim-uniform", "ddim-quad",
    "trailing", "leading", "linspace",
};

void dode_grid_opts_init(dode_grid_opts *o)
{
    o->spacing = DODE_SPACING_LOGSNR;
    o->t_max = NAN;
    o->t_min = NAN;
    o->rho = 7.0;
    o->to_zero = 0;
}

const char *dode_spacing_name(dode_spacing sp)
{
    return (unsigned)sp < DODE_SPACING_COUNT ? spacing_names[sp] : "unknown";
}

int dode_spacing_parse(const char *name, dode_spacing *out, char *err, size_t errlen)
{
    for (int i = 0; name != NULL && i < DODE_SPACING_COUNT; i++)
        if (strcmp(name, spacing_names[i]) == 0) {
            *out = (dode_spacing)i;
            return DODE_OK;
        }
    return dode_fail(err, errlen, DODE_ENOTFOUND, "unknown spacing \"%s\": valid names are "
                     "uniform-t, quadratic-t, logsnr, karras, ddim-uniform, ddim-quad, "
                     "trailing, leading, linspace", name ? name : "(null)");
}

void dode_grid_free(dode_grid *g)
{
    if (g == NULL)
        return;
    free(g->sigma);
    free(g->t);
    g->sigma = NULL;
    g->t = NULL;
    g->steps = 0;
}

/* Two arrays of npoints doubles, both or neither. */
static int grid_alloc(size_t npoints, double **sigma, double **t, char *err, size_t errlen)
{
    if (npoints > SIZE_MAX / sizeof(double) || npoints < 2)
        return dode_fail(err, errlen, DODE_ENOMEM, "grid: %zu points is too many", npoints);
    *sigma = malloc(npoints * sizeof **sigma);
    *t = malloc(npoints * sizeof **t);
    if (*sigma == NULL || *t == NULL) {
        free(*sigma);
        free(*t);
        return dode_fail(err, errlen, DODE_ENOMEM, "grid: cannot allocate %zu points", npoints);
    }
    return DODE_OK;
}

/* t_max, t_min from the options (NaN = the schedule's default), checked against the
 * schedule's valid times t(0) < t <= t_limit (sigma > 0 and finite; for VP schedules the
 * limit is their default T: 1, or 0.9946 for vp-cosine; edm has none). */
static int time_range(const dode_schedule *s, const dode_grid_opts *o, double *t_max,
                      double *t_min, char *err, size_t errlen)
{
    const double hi = isnan(o->t_max) ? dode_schedule_t_max(s) : o->t_max;
    const double lo = isnan(o->t_min) ? dode_schedule_t_min(s) : o->t_min;
    const double t0 = dode_schedule_t(s, 0.0), limit = dode_schedule_t_limit(s);
    const char *name = dode_schedule_name(s);
    if (!isfinite(hi) || !isfinite(lo))
        return dode_fail(err, errlen, DODE_EINVAL, "grid on %s: t-max %g and t-min %g must "
                         "be finite", name, hi, lo);
    if (!(lo < hi))
        return dode_fail(err, errlen, DODE_EINVAL, "grid on %s: t-min %.12g must be below "
                         "t-max %.12g", name, lo, hi);
    if (!(hi <= limit))
        return dode_fail(err, errlen, DODE_EINVAL, "grid on %s: t-max %.12g is above the "
                         "schedule's largest time %.12g", name, hi, limit);
    if (!(lo > t0))
        return dode_fail(err, errlen, DODE_EINVAL, "grid on %s: t-min %.12g must be above "
                         "%.12g, where sigma = 0", name, lo, t0);
    /* x_T = x sqrt(1 + sigma^2) must not overflow; sigma = inf exactly is zero terminal
     * SNR, whose first step the driver takes in x0 form (solver.h, dode_solve) */
    const double s_hi = dode_schedule_sigma(s, hi);
    if (!(s_hi <= DODE_MAX_SIGMA) && s_hi != INFINITY)
        return dode_fail(err, errlen, DODE_EINVAL, "grid on %s: t-max %.12g gives sigma = "
                         "%g, above the largest sigma %g a state can be scaled by (x sqrt(1 + "
                         "sigma^2) would overflow)", name, hi, dode_schedule_sigma(s, hi),
                         DODE_MAX_SIGMA);
    *t_max = hi;
    *t_min = lo;
    return DODE_OK;
}

/* uniform-t and quadratic-t: t_i = linspace(t_max, t_min) or linspace(sqrt)^2
 * (NumPy's start + i * step); endpoints exact. */
static void fill_in_t(const dode_schedule *s, int quadratic, double t_max, double t_min,
                      size_t steps, double *sigma, double *t)
{
    const double a = quadratic ? sqrt(t_max) : t_max, b = quadratic ? sqrt(t_min) : t_min;
    const double step = (b - a) / (double)steps;
    for (size_t i = 0; i <= steps; i++) {
        const double u = (double)i * step + a;
        t[i] = quadratic ? u * u : u;
    }
    t[0] = t_max;
    t[steps] = t_min;
    for (size_t i = 0; i <= steps; i++)
        sigma[i] = dode_schedule_sigma(s, t[i]);
}

/* logsnr: lambda_i uniform; karras: sigma_i^(1/rho) uniform (EDM eq. 5). Endpoints are
 * exactly sigma(t_max), sigma(t_min) and t_max, t_min. */
static void fill_in_sigma(const dode_schedule *s, int karras, double rho, double t_max,
                          double t_min, size_t steps, double *sigma, double *t)
{
    const double smax = dode_schedule_sigma(s, t_max), smin = dode_schedule_sigma(s, t_min);
    const double a = karras ? pow(smax, 1.0 / rho) : -log(smax);
    const double b = karras ? pow(smin, 1.0 / rho) : -log(smin);
    const double step = (b - a) / (double)steps;
    for (size_t i = 0; i <= steps; i++) {
        const double u = karras ? a + (double)i / (double)steps * (b - a)
                                : (double)i * step + a;
        sigma[i] = karras ? pow(u, rho) : exp(-u);
        t[i] = dode_schedule_t(s, sigma[i]);
    }
    sigma[0] = smax;
    sigma[steps] = smin;
    t[0] = t_max;
    t[steps] = t_min;
}

/* Room for the sequence below: ceil(N / (N // S)), S, or S + 1 for trailing (NumPy's
 * arange length is a rounded ceil; 1 <= S <= N). */
static size_t ddim_count(dode_spacing sp, size_t N, size_t S)
{
    if (sp == DODE_SPACING_DDIM_UNIFORM)
        return (N + N / S - 1) / (N / S);
    return sp == DODE_SPACING_TRAILING ? S + 1 : S;
}

/* diffusers' DDIMScheduler.set_timesteps (Lin et al. 2023, Table 2), ascending; *count
 * is the number written. linspace: round(linspace(0, N-1, S)); leading: arange(S) (N // S)
 * (steps_offset 0); trailing: round(arange(N, 0, -N/S)) - 1. np.round rounds half to
 * even, as nearbyint does in the default rounding mode. */
static void diffusers_levels(dode_spacing sp, size_t N, size_t S, size_t *levels,
                             size_t *count)
{
    if (sp == DODE_SPACING_LEADING) {
        for (size_t k = 0; k < S; k++)
            levels[k] = k * (N / S);
        *count = S;
    } else if (sp == DODE_SPACING_LINSPACE) {
        const double step = S > 1 ? (double)(N - 1) / (double)(S - 1) : 0;
        for (size_t k = 0; k < S; k++)
            levels[k] = k == S - 1 ? N - 1 : (size_t)nearbyint((double)k * step);
        *count = S;
    } else {                                    /* trailing, from the top down */
        const double ratio = (double)N / (double)S;
        const size_t len = (size_t)ceil((double)N / ratio);
        size_t c = 0;
        for (size_t k = 0; k < len && k <= S; k++) {
            const double v = nearbyint((double)N + (double)k * -ratio);
            if (v >= 1)                         /* a level >= 0 (guards a rounded ceil) */
                levels[c++] = (size_t)v - 1;
        }
        for (size_t k = 0; k < c / 2; k++) {    /* ascending, as the others */
            const size_t tmp = levels[k];
            levels[k] = levels[c - 1 - k];
            levels[c - 1 - k] = tmp;
        }
        *count = c;
    }
}

/* The DDIM repository's sequences, ascending ([ddim_count]): uniform range(0, N, N // S);
 * quad int(linspace(0, sqrt(0.8 N), S)^2) with NumPy's start + k * step, repeats kept;
 * and diffusers' three above. *count is the number written. */
static void ddim_levels(dode_spacing sp, size_t N, size_t S, size_t *levels, size_t *count)
{
    *count = ddim_count(sp, N, S);
    if (sp == DODE_SPACING_TRAILING || sp == DODE_SPACING_LEADING
        || sp == DODE_SPACING_LINSPACE) {
        diffusers_levels(sp, N, S, levels, count);
        return;
    }
    if (sp == DODE_SPACING_DDIM_UNIFORM) {
        for (size_t k = 0; k < *count; k++)
            levels[k] = k * (N / S);
        return;
    }
    const double stop = sqrt(0.8 * (double)N);
    const double step = S > 1 ? stop / (double)(S - 1) : 0;
    for (size_t k = 0; k < S; k++) {
        const double v = (S > 1 && k == S - 1) ? stop : (double)k * step;
        levels[k] = (size_t)(v * v);
    }
}

/* ddim grids: the levels from the highest down, sigma from the stored alphas_cumprod
 * exactly, t_n = (n+1)/N, then sigma = 0 (abar = 1). The options' t_max, t_min and
 * to_zero are ignored: the sequence fixes both ends. */
static int ddim_grid(const dode_schedule *s, dode_spacing sp, size_t steps, dode_grid *out,
                     char *err, size_t errlen)
{
    const size_t N = dode_schedule_levels(s);
    const double *abar = dode_schedule_alphas_cumprod(s);
    if (N == 0 || abar == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "grid: %s needs a discrete schedule "
                         "(ddpm-linear, ddpm-cosine), not %s", spacing_names[sp],
                         dode_schedule_name(s));
    if (steps > N)
        return dode_fail(err, errlen, DODE_EINVAL, "grid: %s with %zu steps needs at most "
                         "%zu, the levels of %s", spacing_names[sp], steps, N,
                         dode_schedule_name(s));
    size_t count = ddim_count(sp, N, steps);
    size_t *levels = malloc(count * sizeof *levels);
    double *sigma = NULL, *t = NULL;
    if (levels == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "grid: cannot allocate %zu levels", count);
    ddim_levels(sp, N, steps, levels, &count);
    if (grid_alloc(count + 1, &sigma, &t, err, errlen) != DODE_OK) {
        free(levels);
        return DODE_ENOMEM;
    }
    for (size_t j = 0; j < count; j++) {
        const size_t n = levels[count - 1 - j];
        sigma[j] = sqrt((1.0 - abar[n]) / abar[n]);     /* inf at abar = 0 (zero SNR) */
        t[j] = (double)(n + 1) / (double)N;
    }
    sigma[count] = 0.0;
    t[count] = dode_schedule_t(s, 0.0);
    free(levels);
    *out = (dode_grid){ .steps = count, .sigma = sigma, .t = t, .spacing = sp, .rho = 7.0 };
    return DODE_OK;
}

static int check_options(const dode_schedule *s, const dode_grid_opts *o, size_t steps,
                         dode_grid *out, char *err, size_t errlen)
{
    if (s == NULL || o == NULL || out == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "grid: schedule, options and output "
                         "are required");
    if (steps == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "grid on %s: steps must be >= 1, got 0",
                         dode_schedule_name(s));
    if ((unsigned)o->spacing >= DODE_SPACING_COUNT)
        return dode_fail(err, errlen, DODE_EINVAL, "grid: spacing %d is not a dode_spacing",
                         (int)o->spacing);
    if (o->spacing == DODE_SPACING_KARRAS && !(o->rho > 0 && isfinite(o->rho)))
        return dode_fail(err, errlen, DODE_EINVAL, "grid: karras rho must be a positive "
                         "number, got rho = %g", o->rho);
    return DODE_OK;
}

int dode_grid_make(const dode_schedule *s, const dode_grid_opts *o, size_t steps,
                   dode_grid *out, char *err, size_t errlen)
{
    double t_max = NAN, t_min = NAN, *sigma = NULL, *t = NULL;
    int rc = check_options(s, o, steps, out, err, errlen);
    if (rc != DODE_OK)
        return rc;
    if (o->spacing >= DODE_SPACING_DDIM_UNIFORM)       /* a level sequence */
        return ddim_grid(s, o->spacing, steps, out, err, errlen);
    if ((rc = time_range(s, o, &t_max, &t_min, err, errlen)) != DODE_OK)
        return rc;
    if (dode_schedule_sigma(s, t_max) == INFINITY
        && (o->spacing == DODE_SPACING_LOGSNR || o->spacing == DODE_SPACING_KARRAS))
        return dode_fail(err, errlen, DODE_EINVAL, "grid on %s: %s spacing cannot start at "
                         "t-max %g, where sigma = inf (zero terminal SNR); use uniform-t, "
                         "quadratic-t, trailing or linspace, or a t-max below %g",
                         dode_schedule_name(s), spacing_names[o->spacing], t_max, t_max);
    const size_t extra = o->to_zero ? 2 : 1;
    if (steps > SIZE_MAX - extra)
        return dode_fail(err, errlen, DODE_EINVAL, "grid: %zu steps is too many", steps);
    if ((rc = grid_alloc(steps + extra, &sigma, &t, err, errlen)) != DODE_OK)
        return rc;
    if (o->spacing == DODE_SPACING_UNIFORM_T || o->spacing == DODE_SPACING_QUADRATIC_T)
        fill_in_t(s, o->spacing == DODE_SPACING_QUADRATIC_T, t_max, t_min, steps, sigma, t);
    else
        fill_in_sigma(s, o->spacing == DODE_SPACING_KARRAS, o->rho, t_max, t_min, steps,
                      sigma, t);
    if (o->to_zero) {           /* k-diffusion style: one more point at sigma = 0 */
        sigma[steps + 1] = 0.0;
        t[steps + 1] = dode_schedule_t(s, 0.0);
    }
    *out = (dode_grid){ .steps = steps + extra - 1, .sigma = sigma, .t = t,
                        .spacing = o->spacing, .rho = o->rho };
    return DODE_OK;
}

/* Monotone (either direction, repeats allowed, not all equal), finite, >= 0. */
static int check_sigmas(const double *sigma, size_t npoints, char *err, size_t errlen)
{
    int dir = 0;                            /* +1 increasing, -1 decreasing, 0 unknown */
    if (sigma == NULL || npoints < 2)
        return dode_fail(err, errlen, DODE_EINVAL, "grid from sigmas: need >= 2 points, "
                         "got %zu", sigma == NULL ? (size_t)0 : npoints);
    for (size_t i = 0; i < npoints; i++) {
        if (!(sigma[i] >= 0 && isfinite(sigma[i])))
            return dode_fail(err, errlen, DODE_EINVAL, "grid from sigmas: sigma[%zu] = %g "
                             "must be finite and >= 0", i, sigma[i]);
        if (i == 0 || sigma[i] == sigma[i - 1])
            continue;
        const int d = sigma[i] > sigma[i - 1] ? 1 : -1;
        if (dir != 0 && d != dir)
            return dode_fail(err, errlen, DODE_EINVAL, "grid from sigmas: not monotone at "
                             "sigma[%zu] = %g after %g", i, sigma[i], sigma[i - 1]);
        dir = d;
    }
    if (dir == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "grid from sigmas: all %zu sigmas equal "
                         "%g", npoints, sigma[0]);
    return DODE_OK;
}

int dode_grid_from_sigmas(const dode_schedule *s, const double *sigma, size_t npoints,
                          dode_grid *out, char *err, size_t errlen)
{
    double *gs = NULL, *gt = NULL;
    if (s == NULL || out == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "grid from sigmas: schedule and output "
                         "are required");
    int rc = check_sigmas(sigma, npoints, err, errlen);
    if (rc != DODE_OK || (rc = grid_alloc(npoints, &gs, &gt, err, errlen)) != DODE_OK)
        return rc;
    for (size_t i = 0; i < npoints; i++) {
        gs[i] = sigma[i];
        gt[i] = dode_schedule_t(s, sigma[i]);
    }
    *out = (dode_grid){ .steps = npoints - 1, .sigma = gs, .t = gt,
                        .spacing = DODE_SPACING_LOGSNR, .rho = 7.0 };
    return DODE_OK;
}
