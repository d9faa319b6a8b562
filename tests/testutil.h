/* testutil.h - what every Check suite shares: its main(), an error buffer size, and the
 * MATH.md section 8 test problem (2-D GMM w = (0.5, 0.3, 0.2), means (-1.5,0), (1.5,0.5),
 * (0,2), isotropic stds 0.3, 0.5, 0.2; ddpm-linear; x_T ~ N(0, I)). */
#ifndef DIFFODE_TESTUTIL_H
#define DIFFODE_TESTUTIL_H

#include <check.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>

#include "diffode/diffode.h"

#define ERRLEN 512

/* main() for a suite file: runs suite_fn's suite and exits non-zero on any failure. */
#define DODE_TEST_MAIN(suite_fn)                                   \
    int main(void)                                                 \
    {                                                              \
        gsl_set_error_handler_off();                               \
        SRunner *runner = srunner_create(suite_fn());              \
        srunner_run_all(runner, CK_NORMAL);                        \
        int failed = srunner_ntests_failed(runner);                \
        srunner_free(runner);                                      \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;          \
    }

/* The section 8 GMM (caller frees with dode_model_free). */
static inline dode_model *test_gmm2d(void)
{
    static const double w[3] = { 0.5, 0.3, 0.2 };
    static const double mu[6] = { -1.5, 0.0, 1.5, 0.5, 0.0, 2.0 };
    static const double sd[3] = { 0.3, 0.5, 0.2 };
    char err[ERRLEN];
    dode_model *m = dode_gmm_new(3, 2, w, mu, "isotropic", sd, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

/* xbar_T = x_T sqrt(1 + sigma_T^2) with x_T ~ N(0, I), from a seeded mt19937 ([n][dim]). */
static inline double *test_xbar_T(size_t n, size_t dim, double sigma_T, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    double *xbar = malloc(n * dim * sizeof *xbar);
    const double scale = sqrt(1.0 + sigma_T * sigma_T);
    for (size_t i = 0; i < n * dim; i++)
        xbar[i] = scale * gsl_ran_gaussian_ziggurat(rng, 1.0);
    gsl_rng_free(rng);
    return xbar;
}

/* Root mean square of a - b over len values. */
static inline double test_rmse(const double *a, const double *b, size_t len)
{
    double s = 0;
    for (size_t i = 0; i < len; i++)
        s += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrt(s / (double)len);
}

#endif
