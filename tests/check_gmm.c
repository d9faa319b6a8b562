/* check_gmm.c - the exact GMM model (MATH.md section 5): eps is Tweedie's -sigma grad log p,
 * Jacobian and d epsh/d sigma match central differences, the density is the weighted sum
 * of normal densities, the three covariance kinds agree, the BLAS path equals the direct
 * formula (small and large mixtures, near and far points), and bad specs are refused. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

static const double PI = 3.14159265358979323846;

/* A diagonal-covariance mixture written out, from which every model kind is built. */
typedef struct {
    size_t K, d;
    double *w, *mu, *sd;   /* [K], [K][d], [K][d] (iso: all sd[k][j] equal) */
} mix;

static void mix_free(mix *x)
{
    free(x->w);
    free(x->mu);
    free(x->sd);
}

static mix mix_2d(void)   /* the MATH.md section 8 mixture */
{
    static const double w[3] = { 0.5, 0.3, 0.2 }, mu[6] = { -1.5, 0.0, 1.5, 0.5, 0.0, 2.0 };
    static const double sd[3] = { 0.3, 0.5, 0.2 };
    mix x = { 3, 2, malloc(3 * sizeof(double)), malloc(6 * sizeof(double)),
              malloc(6 * sizeof(double)) };
    memcpy(x.w, w, sizeof w);
    memcpy(x.mu, mu, sizeof mu);
    for (size_t a = 0; a < 6; a++)
        x.sd[a] = sd[a / 2];
    return x;
}

/* K random components in d dimensions, means spread `spread` around offset + sep or
 * offset - sep (odd and even k: two far clusters when sep is large). */
static mix mix_random(size_t K, size_t d, int iso, double spread, double offset, double sep,
                      unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    mix x = { K, d, malloc(K * sizeof(double)), malloc(K * d * sizeof(double)),
              malloc(K * d * sizeof(double)) };
    for (size_t k = 0; k < K; k++) {
        x.w[k] = 0.1 + gsl_rng_uniform(r);
        const double s = 0.1 + 0.9 * gsl_rng_uniform(r);
        for (size_t j = 0; j < d; j++) {
            x.mu[k * d + j] = offset + (k % 2 ? sep : -sep) + spread * gsl_ran_gaussian(r, 1.0);
            x.sd[k * d + j] = iso ? s : 0.1 + 0.9 * gsl_rng_uniform(r);
        }
    }
    gsl_rng_free(r);
    return x;
}

/* kind 0 isotropic, 1 diagonal, 2 full (diagonal matrices sd^2). */
static dode_model *mix_model(const mix *x, int kind)
{
    static const char *const kinds[] = { "isotropic", "diagonal", "full" };
    const size_t K = x->K, d = x->d;
    double *cov = calloc(K * d * d, sizeof *cov);
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < d; j++) {
            if (kind == 0)
                cov[k] = x->sd[k * d];
            else if (kind == 1)
                cov[k * d + j] = x->sd[k * d + j];
            else
                cov[(k * d + j) * d + j] = x->sd[k * d + j] * x->sd[k * d + j];
        }
    char err[ERRLEN];
    dode_model *m = dode_gmm_new(K, d, x->w, x->mu, kinds[kind], cov, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    free(cov);
    return m;
}

/* The direct formula for one row (MATH.md 5), plain loops with log-sum-exp: eps, log p. */
static double direct_row(const mix *x, const double *xbar, double s, double *eps)
{
    const size_t K = x->K, d = x->d;
    double *l = malloc(K * sizeof *l), wsum = 0, mx = -INFINITY, z = 0;
    for (size_t k = 0; k < K; k++)
        wsum += x->w[k];
    for (size_t k = 0; k < K; k++) {
        l[k] = log(x->w[k] / wsum);
        for (size_t j = 0; j < d; j++) {
            const double c = x->sd[k * d + j] * x->sd[k * d + j] + s * s;
            const double r = xbar[j] - x->mu[k * d + j];
            l[k] -= 0.5 * (r * r / c + log(2 * PI * c));
        }
        mx = fmax(mx, l[k]);
    }
    for (size_t k = 0; k < K; k++)
        z += exp(l[k] - mx);
    for (size_t j = 0; j < d; j++) {
        eps[j] = 0;
        for (size_t k = 0; k < K; k++) {
            const double c = x->sd[k * d + j] * x->sd[k * d + j] + s * s;
            eps[j] += s * exp(l[k] - mx) / z * (xbar[j] - x->mu[k * d + j]) / c;
        }
    }
    free(l);
    return mx + log(z);
}

/* epsh(xbar, sigma) through eps(), which takes x = xbar / sqrt(1+sigma^2). */
static void epsh(const dode_model *m, size_t n, const double *xbar, double sigma, double *out)
{
    double *x = malloc(n * m->dim * sizeof *x);
    for (size_t i = 0; i < n * m->dim; i++)
        x[i] = xbar[i] / sqrt(1.0 + sigma * sigma);
    ck_assert_int_eq(test_eps(m, n, x, 0.0, sigma, out), DODE_OK);
    free(x);
}

/* Largest |a - b| / (1 + |b|). */
static double max_rel(const double *a, const double *b, size_t len)
{
    double e = 0;
    for (size_t i = 0; i < len; i++)
        e = fmax(e, fabs(a[i] - b[i]) / (1 + fabs(b[i])));
    return e;
}

static const double SIGMAS[] = { 0.05, 0.3, 1.0, 4.0, 60.0 };
enum { NSIG = sizeof SIGMAS / sizeof SIGMAS[0], NPTS = 5 };

/* Points at the scale of xbar | sigma for the 2-D mixture. */
static void points_2d(double sigma, double *xbar)
{
    static const double z[NPTS * 2] = { -1.4, 0.1, 1.3, 0.7, 0.1, 1.8, 0.2, 0.6, -0.8, -1.1 };
    for (size_t i = 0; i < NPTS * 2; i++)
        xbar[i] = z[i] * sqrt(1 + sigma * sigma);
}

/* A full-covariance mixture with correlations (for the derivative tests). */
static dode_model *full_2d(void)
{
    static const double w[3] = { 0.5, 0.3, 0.2 }, mu[6] = { -1.5, 0.0, 1.5, 0.5, 0.0, 2.0 };
    static const double S[12] = { 0.09, 0.03, 0.03, 0.16, 0.25, -0.1, -0.1, 0.36,
                                  0.04, 0.01, 0.01, 0.09 };
    char err[ERRLEN];
    dode_model *m = dode_gmm_new(3, 2, w, mu, "full", S, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

static dode_model *model_2d(int which)   /* 0 iso (test_gmm2d), 1 diag, 2 correlated full */
{
    if (which == 0)
        return test_gmm2d();
    if (which == 2)
        return full_2d();
    mix x = mix_random(3, 2, 0, 1.5, 0.0, 0.0, 7);
    dode_model *m = mix_model(&x, 1);
    mix_free(&x);
    return m;
}

START_TEST(eps_is_minus_sigma_grad_log_density)   /* Tweedie; central differences, h^2 */
{
    dode_model *m = model_2d(_i);
    double xbar[NPTS * 2], e[NPTS * 2], lp[NPTS], lm[NPTS];
    for (size_t s = 0; s < NSIG; s++) {
        const double sg = SIGMAS[s], h = 1e-5 * sqrt(0.04 + sg * sg);
        points_2d(sg, xbar);
        epsh(m, NPTS, xbar, sg, e);
        for (size_t j = 0; j < 2; j++) {
            double xp[NPTS * 2], xm[NPTS * 2];
            memcpy(xp, xbar, sizeof xp);
            memcpy(xm, xbar, sizeof xm);
            for (size_t i = 0; i < NPTS; i++)
                xp[i * 2 + j] += h, xm[i * 2 + j] -= h;
            ck_assert_int_eq(test_log_density(m, NPTS, xp, sg, lp), DODE_OK);
            ck_assert_int_eq(test_log_density(m, NPTS, xm, sg, lm), DODE_OK);
            for (size_t i = 0; i < NPTS; i++)
                ck_assert_double_eq_tol(-sg * (lp[i] - lm[i]) / (2 * h), e[i * 2 + j],
                                        1e-7 * (1 + fabs(e[i * 2 + j])));
        }
    }
    dode_model_free(m);
}
END_TEST

START_TEST(jacobian_and_deps_dsigma_match_central_differences)
{
    dode_model *m = model_2d(_i);
    double xbar[NPTS * 2], J[NPTS * 4], ds[NPTS * 2], ep[NPTS * 2], em[NPTS * 2];
    for (size_t s = 0; s < NSIG; s++) {
        const double sg = SIGMAS[s], h = 1e-5 * sqrt(0.04 + sg * sg);
        points_2d(sg, xbar);
        ck_assert_int_eq(test_jacobian(m, NPTS, xbar, sg, J, ds), DODE_OK);
        for (size_t b = 0; b < 2; b++) {
            double xp[NPTS * 2], xm[NPTS * 2];
            memcpy(xp, xbar, sizeof xp);
            memcpy(xm, xbar, sizeof xm);
            for (size_t i = 0; i < NPTS; i++)
                xp[i * 2 + b] += h, xm[i * 2 + b] -= h;
            epsh(m, NPTS, xp, sg, ep);
            epsh(m, NPTS, xm, sg, em);
            for (size_t i = 0; i < NPTS; i++)
                for (size_t a = 0; a < 2; a++) {
                    const double jab = J[i * 4 + a * 2 + b];
                    ck_assert_double_eq_tol(jab, (ep[i * 2 + a] - em[i * 2 + a]) / (2 * h),
                                            1e-7 * (1 + fabs(jab)));
                }
        }
        epsh(m, NPTS, xbar, sg + h, ep);
        epsh(m, NPTS, xbar, sg - h, em);
        for (size_t i = 0; i < NPTS * 2; i++)
            ck_assert_double_eq_tol(ds[i], (ep[i] - em[i]) / (2 * h), 1e-7 * (1 + fabs(ds[i])));
    }
    dode_model_free(m);
}
END_TEST

START_TEST(log_density_is_the_weighted_sum_of_normal_densities)   /* no log-sum-exp */
{
    mix x = mix_2d();
    dode_model *m = mix_model(&x, _i);
    double xbar[NPTS * 2], lp[NPTS];
    for (size_t s = 0; s < NSIG; s++) {
        points_2d(SIGMAS[s], xbar);
        ck_assert_int_eq(test_log_density(m, NPTS, xbar, SIGMAS[s], lp), DODE_OK);
        for (size_t i = 0; i < NPTS; i++) {
            double p = 0;
            for (size_t k = 0; k < 3; k++) {
                double pk = x.w[k];
                for (size_t j = 0; j < 2; j++) {
                    const double c = x.sd[k * 2 + j] * x.sd[k * 2 + j] + SIGMAS[s] * SIGMAS[s];
                    const double r = xbar[i * 2 + j] - x.mu[k * 2 + j];
                    pk *= exp(-r * r / (2 * c)) / sqrt(2 * PI * c);
                }
                p += pk;
            }
            ck_assert_double_eq_tol(lp[i], log(p), 1e-12 * (1 + fabs(lp[i])));
        }
    }
    dode_model_free(m);
    mix_free(&x);
}
END_TEST

START_TEST(isotropic_diagonal_and_full_specs_agree)   /* same mixture, three code paths */
{
    mix x = mix_random(4, 3, 1, 1.5, 0.5, 0.0, 11);
    dode_model *ms[3] = { mix_model(&x, 0), mix_model(&x, 1), mix_model(&x, 2) };
    double xbar[6 * 3], e[3][18], J[3][54], ds[3][18], lp[3][6];
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    for (size_t s = 0; s < NSIG; s++) {
        for (size_t i = 0; i < 18; i++)
            xbar[i] = gsl_ran_gaussian(r, 1.5 * sqrt(1 + SIGMAS[s] * SIGMAS[s]));
        for (int k = 0; k < 3; k++) {
            epsh(ms[k], 6, xbar, SIGMAS[s], e[k]);
            ck_assert_int_eq(test_jacobian(ms[k], 6, xbar, SIGMAS[s], J[k], ds[k]), DODE_OK);
            ck_assert_int_eq(test_log_density(ms[k], 6, xbar, SIGMAS[s], lp[k]), DODE_OK);
        }
        for (int k = 1; k < 3; k++) {
            ck_assert_double_le(max_rel(e[k], e[0], 18), 1e-12);
            ck_assert_double_le(max_rel(J[k], J[0], 54), 1e-12);
            ck_assert_double_le(max_rel(ds[k], ds[0], 18), 1e-12);
            ck_assert_double_le(max_rel(lp[k], lp[0], 6), 1e-12);
        }
    }
    gsl_rng_free(r);
    for (int k = 0; k < 3; k++)
        dode_model_free(ms[k]);
    mix_free(&x);
}
END_TEST

START_TEST(far_points_give_finite_eps_equal_to_the_direct_formula)   /* log-sum-exp */
{
    dode_model *m = model_2d(_i);
    mix x = mix_2d();
    const double xbar[8] = { 1e3, -7e2, -1.2e3, 3e2, 5e2, 5e2, -2e3, -2e3 };
    double e[8], d[2], lp[4], J[16];
    for (size_t s = 0; s < NSIG; s++) {
        epsh(m, 4, xbar, SIGMAS[s], e);
        ck_assert_int_eq(test_log_density(m, 4, xbar, SIGMAS[s], lp), DODE_OK);
        ck_assert_int_eq(test_jacobian(m, 4, xbar, SIGMAS[s], J, NULL), DODE_OK);
        for (size_t i = 0; i < 4; i++) {
            ck_assert(isfinite(lp[i]) && isfinite(e[2 * i]) && isfinite(e[2 * i + 1]));
            ck_assert(isfinite(J[4 * i]) && isfinite(J[4 * i + 3]));
            if (_i != 0)
                continue;   /* the direct formula here is for the isotropic spec */
            direct_row(&x, xbar + 2 * i, SIGMAS[s], d);
            ck_assert_double_le(max_rel(e + 2 * i, d, 2), 1e-12);
        }
    }
    mix_free(&x);
    dode_model_free(m);
}
END_TEST

START_TEST(one_component_gmm_is_the_gaussian_model)
{
    const double w = 2.5, mu[3] = { 0.3, -1.0, 4.0 }, sd = 0.6;
    char err[ERRLEN];
    dode_model *g = dode_gmm_new(1, 3, &w, mu, "isotropic", &sd, err, sizeof err);
    dode_model *n = dode_gaussian_new(3, mu, sd, DODE_PRED_EPS, err, sizeof err);
    ck_assert_ptr_nonnull(g);
    ck_assert_ptr_nonnull(n);
    double xbar[6] = { 1, 2, 3, -4, 0.5, 9 }, e[2][6], J[2][18], ds[2][6], lp[2][2];
    for (size_t s = 0; s < NSIG; s++) {
        dode_model *ms[2] = { g, n };
        for (int k = 0; k < 2; k++) {
            epsh(ms[k], 2, xbar, SIGMAS[s], e[k]);
            ck_assert_int_eq(test_jacobian(ms[k], 2, xbar, SIGMAS[s], J[k], ds[k]), DODE_OK);
            ck_assert_int_eq(test_log_density(ms[k], 2, xbar, SIGMAS[s], lp[k]), DODE_OK);
        }
        ck_assert_double_le(max_rel(e[0], e[1], 6), 1e-12);
        ck_assert_double_le(max_rel(J[0], J[1], 18), 1e-12);
        ck_assert_double_le(max_rel(ds[0], ds[1], 6), 1e-12);
        ck_assert_double_le(max_rel(lp[0], lp[1], 2), 1e-12);
    }
    dode_model_free(g);
    dode_model_free(n);
}
END_TEST

START_TEST(batched_eps_equals_row_by_row_calls)   /* 300 rows: more than one BLAS block */
{
    mix x = mix_random(20, 5, _i == 0, 2.0, 0.0, 0.0, 3);
    dode_model *m = mix_model(&x, _i);
    enum { N = 300 };
    double *xbar = test_xbar_T(N, 5, 2.0, 5), *e = malloc(N * 5 * sizeof *e), one[5];
    for (size_t s = 0; s < NSIG; s++) {
        epsh(m, N, xbar, SIGMAS[s], e);
        for (size_t i = 0; i < N; i++) {
            epsh(m, 1, xbar + 5 * i, SIGMAS[s], one);
            ck_assert_double_le(max_rel(e + 5 * i, one, 5), 1e-12);
        }
    }
    free(xbar);
    free(e);
    dode_model_free(m);
    mix_free(&x);
}
END_TEST

/* K = 50, d = 16: the BLAS path vs the direct formula at random points and at points next
 * to the means (where the expanded quadratic form cancels); loop cases 2-3 shift all means
 * by 100, cases 4-5 split them into two clusters 100 apart. Points stay near the clusters:
 * midway between them eps is ill-conditioned (|J| |xbar| / |eps| ~ 1e4 at sigma 0.2), and
 * the direct formula itself is only good to ~1e-12 there. */
START_TEST(large_mixture_matches_the_direct_formula)
{
    enum { K = 50, D = 16, N = 64 };
    const double offset = _i / 2 == 1 ? 100.0 : 0.0, sep = _i / 2 == 2 ? 50.0 : 0.0;
    mix x = mix_random(K, D, _i % 2 == 0, 3.0, offset, sep, 17);
    dode_model *m = mix_model(&x, _i % 2 == 0 ? 0 : 1);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    double *xbar = malloc(N * D * sizeof *xbar), *e = malloc(N * D * sizeof *e), d[D], xr[D];
    double *xin = malloc(N * D * sizeof *xin);
    double worst = 0;
    for (size_t s = 0; s < NSIG; s++) {
        const double sg = SIGMAS[s] / 5;
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < D; j++)   /* half near a mean, half spread out */
                xbar[i * D + j] = i % 2 ? x.mu[(i % K) * D + j] + gsl_ran_gaussian(r, 0.1 + sg)
                                        : offset + (i % 4 ? sep : -sep) + gsl_ran_gaussian(r, 3 * sqrt(1 + sg * sg));
        for (size_t i = 0; i < N * D; i++)
            xin[i] = xbar[i] / sqrt(1 + sg * sg);
        ck_assert_int_eq(test_eps(m, N, xin, 0.0, sg, e), DODE_OK);
        for (size_t i = 0; i < N; i++) {
            for (size_t j = 0; j < D; j++)   /* the xbar the model sees, rounding included */
                xr[j] = xin[i * D + j] * sqrt(1 + sg * sg);
            direct_row(&x, xr, sg, d);
            double num = 0, den = 0;
            for (size_t j = 0; j < D; j++)
                num += (e[i * D + j] - d[j]) * (e[i * D + j] - d[j]), den += d[j] * d[j];
            worst = fmax(worst, sqrt(num / (den + 1e-300)));
        }
    }
    ck_assert_msg(worst <= 1e-12, "worst relative row error %g", worst);
    free(xin);
    free(xbar);
    free(e);
    gsl_rng_free(r);
    dode_model_free(m);
    mix_free(&x);
}
END_TEST

START_TEST(json_spec_file_equals_the_section8_mixture)
{
    char err[ERRLEN];
    dode_model *f = dode_gmm_from_json("experiments/configs/gmm2d.json", err, sizeof err);
    ck_assert_msg(f != NULL, "%s", err);
    dode_model *m = test_gmm2d();
    double xbar[NPTS * 2], a[NPTS * 2], b[NPTS * 2];
    for (size_t s = 0; s < NSIG; s++) {
        points_2d(SIGMAS[s], xbar);
        epsh(f, NPTS, xbar, SIGMAS[s], a);
        epsh(m, NPTS, xbar, SIGMAS[s], b);
        ck_assert_double_le(max_rel(a, b, NPTS * 2), 1e-15);   /* same numbers, same code */
    }
    dode_model_free(f);
    dode_model_free(m);
}
END_TEST

START_TEST(json_diag_and_full_keys_are_read)
{
    char err[ERRLEN];
    dode_model *d = dode_gmm_from_json_string("{\"weights\": [0.25, 0.75], \"means\": [[0, 1], [2, 0]],"
        " \"diag_stds\": [[0.5, 0.5], [1, 1]]}", "d.json", err, sizeof err);
    ck_assert_msg(d != NULL, "%s", err);
    dode_model *f = dode_gmm_from_json_string("{\"weights\": [1, 3], \"normalize\": true, \"means\": [[0, 1], [2, 0]],"
        " \"comment\": \"the same mixture, weights given unnormalised\", \"covs\": [[[0.25, 0], [0, 0.25]], [[1, 0], [0, 1]]]}", "f.json", err, sizeof err);
    ck_assert_msg(f != NULL, "%s", err);
    const double xbar[4] = { 0.3, 0.2, 1.5, -0.7 };
    double a[4], b[4];
    epsh(d, 2, xbar, 0.4, a);
    epsh(f, 2, xbar, 0.4, b);
    ck_assert_double_le(max_rel(a, b, 4), 1e-12);
    dode_model_free(d);
    dode_model_free(f);
}
END_TEST

/* Each bad spec: NULL, the code, and a message naming the source and the problem. */
static const struct {
    const char *json, *needle;
    int code;
} BAD_JSON[] = {
    { "{\"weights\": [1, 2],\n \"means\": [[0, 0], [1, 1]],\n \"stds\": [1, 2],,\n}",
      "line 3: JSON syntax error near ' \"stds\": [1, 2],,'", DODE_EFORMAT },
    { "{\"weights\": [1],\n \"means\": [[0]],\n \"stds\": [1]", "line 3: JSON syntax error",
      DODE_EFORMAT },
    { "{\"means\": [[0, 0]], \"stds\": [1]}", "missing key \"weights\"", DODE_EFORMAT },
    { "{\"weights\": [1], \"stds\": [1]}", "missing key \"means\"", DODE_EFORMAT },
    { "{\"weights\": [1], \"means\": [[0]]}", "missing covariance", DODE_EFORMAT },
    { "{\"weights\": [0.2, 0.3, 0.5], \"means\": [[0], [1], [2]], \"stds\": [1, 2]}",
      "\"stds\" has 2 entries, expected 3", DODE_EFORMAT },
    { "{\"weights\": [1, 2], \"means\": [[0], [1], [2]], \"stds\": [1, 2]}",
      "\"means\" has 3 entries, expected 2", DODE_EFORMAT },
    { "{\"weights\": [0.2, 0.3, 0.5], \"means\": [[0, 1], [1, 2], [2, 3, 4]], \"stds\": [1, 2, 3]}",
      "\"means\"[2] has 3 entries, expected 2", DODE_EFORMAT },
    { "{\"weights\": [0.5, 0.5], \"means\": [[0], [1]], \"stds\": [1, -0.5]}",
      "\"stds\"[1] = -0.5 must be finite and > 0", DODE_EFORMAT },
    { "{\"weights\": [1, -0.2], \"means\": [[0], [1]], \"stds\": [1, 1]}",
      "\"weights\"[1] = -0.2 must be finite and > 0", DODE_EFORMAT },
    { "{\"weights\": [0, 1], \"means\": [[0], [1]], \"stds\": [1, 1]}",
      "\"weights\"[0] = 0 must be", DODE_EFORMAT },
    { "{\"weights\": [0.5, 0.5], \"means\": [[0], [1e999]], \"stds\": [1, 1]}",
      "\"means\"[1][0] = inf must be finite", DODE_EFORMAT },
    { "{\"weights\": [1], \"means\": [[0, \"a\"]], \"stds\": [1]}",
      "\"means\"[0][1] is not a number", DODE_EFORMAT },
    { "{\"weights\": 1, \"means\": [[0]], \"stds\": [1]}",
      "\"weights\" must be an array", DODE_EFORMAT },
    { "{\"weights\": [], \"means\": [], \"stds\": []}",
      "\"weights\" has 0 entries", DODE_EFORMAT },
    { "{\"weights\": [1], \"means\": [[0, 0]], \"covs\": [[[1, 2], [2, 1]]]}",
      "covariance 0 is not positive definite", DODE_EFORMAT },
    { "{\"weights\": [1], \"means\": [[0, 0]], \"covs\": [[[1, 0], [0]]]}",
      "\"covs\"[0][1] has 1 entries, expected 2", DODE_EFORMAT },
    { "{\"weights\": [1], \"means\": [[0]], \"stds\": [1], \"diag_stds\": [[1]]}",
      "both \"stds\" and \"diag_stds\"", DODE_EFORMAT },
    { "{\"weights\": [1], \"means\": [[0]], \"stds\": [1], \"colour\": 3}",
      "unknown key \"colour\"", DODE_EFORMAT },
    { "{\"weights\": [1], \"weights\": [1], \"means\": [[0]], \"stds\": [1]}",
      "\"weights\" appears twice", DODE_EFORMAT },
    { "[1, 2]", "top level must be an object", DODE_EFORMAT },
    { "{\"weights\": [5, 7], \"means\": [[0], [1]], \"stds\": [1, 1]}",
      "\"weights\" sum to 12, not 1 (within 1e-9); fix them or add \"normalize\": true",
      DODE_EFORMAT },
    { "{\"weights\": [0.5, 0.5000001], \"means\": [[0], [1]], \"stds\": [1, 1]}",
      "sum to 1.0000001", DODE_EFORMAT },
    { "{\"weights\": [5, 7], \"normalize\": \"yes\", \"means\": [[0], [1]], \"stds\": [1, 1]}",
      "\"normalize\" must be true or false", DODE_EFORMAT },
};

START_TEST(bad_json_specs_are_refused_naming_the_problem)
{
    char err[ERRLEN] = "";
    dode_model *m = dode_gmm_from_json_string(BAD_JSON[_i].json, "gmm.json", err, sizeof err);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err, "cannot read gmm.json: ") == err, "message \"%s\"", err);
    ck_assert_msg(strstr(err, BAD_JSON[_i].needle) != NULL, "message \"%s\" lacks \"%s\"",
                  err, BAD_JSON[_i].needle);
}
END_TEST

START_TEST(missing_file_is_an_io_error_naming_the_path)
{
    char err[ERRLEN] = "";
    ck_assert_ptr_null(dode_gmm_from_json("tests/data/no_such_gmm.json", err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "tests/data/no_such_gmm.json"));
    ck_assert_ptr_nonnull(strstr(err, "No such file"));
}
END_TEST

START_TEST(bad_constructor_arguments_are_refused)
{
    const double w[2] = { 1, 1 }, mu[4] = { 0, 0, 1, 1 }, sd[2] = { 1, 1 };
    const double badw[2] = { 1, NAN }, badsd[2] = { 1, 0 }, asym[8] = { 1, 0.5, 0.4, 1, 1, 0, 0, 1 };
    char err[ERRLEN] = "";
    ck_assert_ptr_null(dode_gmm_new(0, 2, w, mu, "isotropic", sd, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "K = 0"));
    ck_assert_ptr_null(dode_gmm_new(2, 0, w, mu, "isotropic", sd, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "dim = 0"));
    ck_assert_ptr_null(dode_gmm_new(2, 2, w, mu, "spherical", sd, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "unknown cov_kind \"spherical\""));
    ck_assert_ptr_null(dode_gmm_new(2, 2, w, mu, NULL, sd, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "cov_kind"));
    ck_assert_ptr_null(dode_gmm_new(2, 2, badw, mu, "isotropic", sd, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "weight 1 = nan"));
    ck_assert_ptr_null(dode_gmm_new(2, 2, w, mu, "isotropic", badsd, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "std 1 = 0"));
    ck_assert_ptr_null(dode_gmm_new(2, 2, w, mu, "full", asym, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "covariance 0 is not symmetric"));
    ck_assert_ptr_null(dode_gmm_new(2, 2, w, NULL, "isotropic", sd, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "required"));
}
END_TEST

/* In a child with GSL's default, aborting handler back (gsl_set_error_handler(NULL)), as
 * a caller who never heard of GSL has it: [[1, 2], [2, 1]] is symmetric with eigenvalues
 * 3 and -1. via_json 0 builds it through dode_gmm_new, 1 through the JSON reader. Exits
 * 0 if the model was refused with a message naming the component and the problem. */
static void not_pd_child(int via_json)
{
    static const double w[1] = { 1 }, mu[2] = { 0, 0 }, cov[4] = { 1, 2, 2, 1 };
    char err[ERRLEN] = "";
    gsl_set_error_handler(NULL);
    dode_model *m = via_json
        ? dode_gmm_from_json_string("{\"weights\": [1], \"means\": [[0, 0]], "
                                    "\"covs\": [[[1, 2], [2, 1]]]}", "gmm.json", err, sizeof err)
        : dode_gmm_new(1, 2, w, mu, "full", cov, err, sizeof err);
    _exit(m == NULL && strstr(err, "covariance 0 is not positive definite") != NULL ? 0 : 1);
}

/* status.h: the library never aborts, whatever GSL handler the caller left in place. */
START_TEST(not_positive_definite_covariance_is_refused_even_with_gsl_default_handler)
{
    fflush(NULL);
    const pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        not_pd_child(_i);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(!WIFSIGNALED(status), "the child was killed by signal %d (GSL's handler "
                  "aborted)", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "no NULL model with a "
                  "message naming covariance 0 as not positive definite");
}
END_TEST

/* A caller's own GSL handler: exits the child with 42, proving it was kept and called. */
static void exit_42(const char *reason, const char *file, int line, int gsl_errno)
{
    (void)reason, (void)file, (void)line, (void)gsl_errno;
    _exit(42);
}

START_TEST(a_callers_own_gsl_handler_is_kept)
{
    static const double w[1] = { 1 }, mu[2] = { 0, 0 }, cov[4] = { 1, 2, 2, 1 };
    fflush(NULL);
    const pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char err[ERRLEN];
        gsl_set_error_handler(exit_42);
        dode_gmm_new(1, 2, w, mu, "full", cov, err, sizeof err);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 42);
}
END_TEST

START_TEST(eps_refuses_a_negative_sigma_and_leaves_out_unchanged)
{
    dode_model *m = model_2d(_i);
    const double x[2] = { 0.1, 0.2 };
    double out[2] = { 7, 7 };
    ck_assert_int_eq(test_eps(m, 1, x, 0.0, -1.0, out), DODE_EINVAL);
    ck_assert_int_eq(test_eps(m, 1, x, 0.0, NAN, out), DODE_EINVAL);
    ck_assert(out[0] == 7 && out[1] == 7);
    dode_model_free(m);
}
END_TEST

static Suite *gmm_suite(void)
{
    Suite *s = suite_create("gmm");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, eps_is_minus_sigma_grad_log_density, 0, 3);
    tcase_add_loop_test(tc, jacobian_and_deps_dsigma_match_central_differences, 0, 3);
    tcase_add_loop_test(tc, log_density_is_the_weighted_sum_of_normal_densities, 0, 3);
    tcase_add_test(tc, isotropic_diagonal_and_full_specs_agree);
    tcase_add_loop_test(tc, far_points_give_finite_eps_equal_to_the_direct_formula, 0, 3);
    tcase_add_test(tc, one_component_gmm_is_the_gaussian_model);
    tcase_add_loop_test(tc, batched_eps_equals_row_by_row_calls, 0, 2);
    tcase_add_loop_test(tc, large_mixture_matches_the_direct_formula, 0, 6);
    tcase_add_test(tc, json_spec_file_equals_the_section8_mixture);
    tcase_add_test(tc, json_diag_and_full_keys_are_read);
    tcase_add_loop_test(tc, bad_json_specs_are_refused_naming_the_problem, 0,
                        (int)(sizeof BAD_JSON / sizeof BAD_JSON[0]));
    tcase_add_test(tc, missing_file_is_an_io_error_naming_the_path);
    tcase_add_test(tc, bad_constructor_arguments_are_refused);
    tcase_add_loop_test(tc, not_positive_definite_covariance_is_refused_even_with_gsl_default_handler,
                        0, 2);
    tcase_add_test(tc, a_callers_own_gsl_handler_is_kept);
    tcase_add_loop_test(tc, eps_refuses_a_negative_sigma_and_leaves_out_unchanged, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(gmm_suite)
