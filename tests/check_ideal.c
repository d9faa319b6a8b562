/* check_ideal.c - the ideal denoiser (ideal.h): its batched eps, log density and Jacobian
 * against direct per-point computations written here (a loop over the points with
 * log-sum-exp), the identity eps = -sigma grad log p, the x0 prediction at small sigma,
 * the nearest-point query, the ideal: spec, and every error path. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "diffode/ideal.h"
#include "diffode/io.h"
#include "../experiments/commands.h"
#include "testutil.h"

/* N points of dim uniform in [-1, 1] (pixel-like), seeded ([N][dim], caller frees). */
static double *random_points(size_t N, size_t dim, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    double *y = malloc(N * dim * sizeof *y);
    for (size_t k = 0; k < N * dim; k++)
        y[k] = 2.0 * gsl_rng_uniform(rng) - 1.0;
    gsl_rng_free(rng);
    return y;
}

/* n rows x = xbar / sqrt(1 + sigma^2) with xbar = y_{i mod N} + sigma z: points seen
 * through noise at level sigma, as the sampler meets them ([n][dim]). */
static double *noisy_x(const double *y, size_t N, size_t n, size_t dim, double sigma,
                       unsigned long seed)
{
    double *x = test_xbar_T(n, dim, 0.0, seed);
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < dim; a++)
            x[i * dim + a] = (y[(i % N) * dim + a] + sigma * x[i * dim + a])
                             / sqrt(1 + sigma * sigma);
    return x;
}

/* The direct formula for one row of xbar: gamma_j from -|xbar - y_j|^2/(2 sigma^2) by
 * log-sum-exp, eps = sum_j gamma_j (xbar - y_j) / sigma; returns the log-sum-exp. */
static double direct_row(const double *y, size_t N, size_t dim, const double *xbar,
                         double sigma, double *eps)
{
    double *l = malloc(N * sizeof *l), mx = -INFINITY, sum = 0;
    for (size_t j = 0; j < N; j++) {
        double dd = 0;
        for (size_t a = 0; a < dim; a++)
            dd += (xbar[a] - y[j * dim + a]) * (xbar[a] - y[j * dim + a]);
        l[j] = -dd / (2 * sigma * sigma);
        mx = fmax(mx, l[j]);
    }
    for (size_t j = 0; j < N; j++)
        sum += exp(l[j] - mx);
    for (size_t a = 0; eps != NULL && a < dim; a++) {
        eps[a] = 0;
        for (size_t j = 0; j < N; j++)
            eps[a] += exp(l[j] - mx) / sum * (xbar[a] - y[j * dim + a]) / sigma;
    }
    free(l);
    return mx + log(sum);
}

/* max over rows of |eps - direct| / |direct| (Euclidean norms per row). */
static double eps_rel_error(const dode_model *m, const double *y, size_t N, size_t n,
                            const double *x, double sigma)
{
    const size_t d = m->dim;
    double *eps = malloc(n * d * sizeof *eps), *ref = malloc(d * sizeof *ref);
    double *xbar = malloc(d * sizeof *xbar), worst = 0;
    ck_assert_int_eq(test_eps(m, n, x, 0.5, sigma, eps), DODE_OK);
    for (size_t i = 0; i < n; i++) {
        for (size_t a = 0; a < d; a++)
            xbar[a] = x[i * d + a] * sqrt(1 + sigma * sigma);
        direct_row(y, N, d, xbar, sigma, ref);
        double num = 0, den = 0;
        for (size_t a = 0; a < d; a++) {
            num += (eps[i * d + a] - ref[a]) * (eps[i * d + a] - ref[a]);
            den += ref[a] * ref[a];
        }
        worst = fmax(worst, sqrt(num / den));
    }
    free(eps);
    free(ref);
    free(xbar);
    return worst;
}

static dode_model *ideal_of_points(const double *y, size_t N, size_t dim)
{
    char err[ERRLEN];
    dode_model *m = dode_ideal_new(y, N, dim, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

START_TEST(eps_equals_the_direct_per_point_sum)
{
    static const double sigmas[] = { 0.02, 0.2, 1.0, 5.0, 157.0 };
    const size_t N = 7, d = 3, n = 9;
    double *y = random_points(N, d, 1);
    dode_model *m = ideal_of_points(y, N, d);
    for (size_t s = 0; s < 5; s++) {
        double *x = noisy_x(y, N, n, d, sigmas[s], 2 + s);
        ck_assert_double_le(eps_rel_error(m, y, N, n, x, sigmas[s]), 1e-12);
        free(x);
    }
    dode_model_free(m);
    free(y);
}
END_TEST

/* D = 784 and N = 300: the expanded logits with refinement keep 1e-12 (ideal.c's bound). */
START_TEST(eps_at_784_dimensions_equals_the_direct_formula)
{
    static const double sigmas[] = { 0.01, 0.1, 0.5, 2.0, 20.0, 157.0 };
    const size_t N = 300, d = 784, n = 6;
    double *y = random_points(N, d, 3);
    dode_model *m = ideal_of_points(y, N, d);
    for (size_t s = 0; s < 6; s++) {
        double *x = noisy_x(y, N, n, d, sigmas[s], 10 + s);
        ck_assert_double_le(eps_rel_error(m, y, N, n, x, sigmas[s]), 1e-12);
        free(x);
    }
    dode_model_free(m);
    free(y);
}
END_TEST

/* Two points competing at small sigma: xbar near their bisector (gamma ~ 1/2 each), where
 * the expanded logits alone would be off by ~1e-8 and the refined ones are direct. The
 * logits are ~6e5 at sigma = 0.01, so the direct formula here is itself exact only to
 * ~1e-10 there (the tolerance says so); 1e-12 from sigma = 0.16 on. The points are the
 * first and the last of 1100, in different chunks of ideal.c's stream. */
START_TEST(eps_between_two_points_at_small_sigma_equals_the_direct_formula)
{
    const size_t N = 1100, d = 784, b = (N - 1) * d;
    double *y = random_points(N, d, 17), *x = malloc(d * sizeof *x);
    double *z = test_xbar_T(1, d, 0.0, 18);
    dode_model *m = ideal_of_points(y, N, d);
    for (double sigma = 0.01; sigma < 0.2; sigma *= 4) {
        double dy2 = 0, zdy = 0;
        for (size_t a = 0; a < d; a++) {
            const double dy = y[b + a] - y[a];
            dy2 += dy * dy;
            zdy += z[a] * dy;
        }
        const double delta = 0.3 * sigma * sigma / dy2;   /* logit difference 0.6 */
        for (size_t a = 0; a < d; a++) {
            const double dy = y[b + a] - y[a], zp = z[a] - zdy / dy2 * dy;
            x[a] = (0.5 * (y[a] + y[b + a]) + sigma * zp + delta * dy) / sqrt(1 + sigma * sigma);
        }
        /* the reference's own logits, ~|dy|^2 / (8 sigma^2), round at eps_mach of that */
        const double tol = 1e-12 + 4 * 2.2e-16 * dy2 / (8 * sigma * sigma);
        ck_assert_double_le(eps_rel_error(m, y, N, 1, x, sigma), tol);
    }
    dode_model_free(m);
    free(y);
    free(x);
    free(z);
}
END_TEST

/* 2600 points (six chunks of the stream, the last partial): the online softmax's rescaling
 * by the running maximum gives the direct formula's numbers at every sigma. */
START_TEST(eps_streamed_over_chunks_equals_the_direct_formula)
{
    static const double sigmas[] = { 0.05, 0.3, 1.0, 5.0, 157.0 };
    const size_t N = 2600, d = 12, n = 40;
    double *y = random_points(N, d, 20);
    dode_model *m = ideal_of_points(y, N, d);
    for (size_t s = 0; s < 5; s++) {
        double *x = noisy_x(y + 1000 * d, N - 1000, n, d, sigmas[s], 21 + s);
        ck_assert_double_le(eps_rel_error(m, y, N, n, x, sigmas[s]), 1e-12);
        free(x);
    }
    dode_model_free(m);
    free(y);
}
END_TEST

/* The same rows in one batch and one at a time: other dgemm shapes, the same numbers up to
 * rounding. */
START_TEST(batched_eps_equals_row_by_row)
{
    const size_t N = 40, d = 16, n = 25;
    const double sigma = 0.8;
    double *y = random_points(N, d, 4), *x = noisy_x(y, N, n, d, sigma, 5);
    double *all = malloc(n * d * sizeof *all), *one = malloc(d * sizeof *one);
    dode_model *m = ideal_of_points(y, N, d);
    ck_assert_int_eq(test_eps(m, n, x, 0.3, sigma, all), DODE_OK);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(test_eps(m, 1, x + i * d, 0.3, sigma, one), DODE_OK);
        for (size_t a = 0; a < d; a++)
            ck_assert_double_eq_tol(all[i * d + a], one[a], 1e-13 * (1 + fabs(one[a])));
    }
    dode_model_free(m);
    free(y);
    free(x);
    free(all);
    free(one);
}
END_TEST

START_TEST(log_density_equals_the_direct_log_sum_exp)
{
    const size_t N = 11, d = 5, n = 7;
    double *y = random_points(N, d, 6), logp[7];
    dode_model *m = ideal_of_points(y, N, d);
    for (double sigma = 0.05; sigma < 100; sigma *= 4) {
        double *xbar = noisy_x(y, N, n, d, sigma, 7);
        for (size_t k = 0; k < n * d; k++)
            xbar[k] *= sqrt(1 + sigma * sigma);
        ck_assert_int_eq(test_log_density(m, n, xbar, sigma, logp), DODE_OK);
        for (size_t i = 0; i < n; i++) {
            const double ref = direct_row(y, N, d, xbar + i * d, sigma, NULL) - log((double)N)
                               - 0.5 * (double)d * log(2 * 3.14159265358979323846 * sigma * sigma);
            ck_assert_double_eq_tol(logp[i], ref, 1e-12 * (1 + fabs(ref)));
        }
        free(xbar);
    }
    dode_model_free(m);
    free(y);
}
END_TEST

/* epsh = -sigma grad log p_sigma(xbar) (MATH.md section 2: eps = -s score, in xbar units):
 * central differences of log_density, error ~ h^2 |f'''|, h = 1e-4 sigma. */
START_TEST(eps_is_minus_sigma_times_the_gradient_of_log_density)
{
    const size_t N = 6, d = 4;
    double *y = random_points(N, d, 8), eps[4], xb[4], lp[2];
    dode_model *m = ideal_of_points(y, N, d);
    for (double sigma = 0.3; sigma < 10; sigma *= 3) {
        double *x = noisy_x(y, N, 1, d, sigma, 9);
        ck_assert_int_eq(test_eps(m, 1, x, 0.1, sigma, eps), DODE_OK);
        const double h = 1e-4 * sigma;
        for (size_t a = 0; a < d; a++) {
            for (int s = 0; s < 2; s++) {
                for (size_t b = 0; b < d; b++)
                    xb[b] = x[b] * sqrt(1 + sigma * sigma) + (b == a ? (s ? -h : h) : 0);
                ck_assert_int_eq(test_log_density(m, 1, xb, sigma, lp + s), DODE_OK);
            }
            const double fd = -sigma * (lp[0] - lp[1]) / (2 * h);
            ck_assert_double_eq_tol(eps[a], fd, 1e-6 * (1 + fabs(eps[a])));
        }
        free(x);
    }
    dode_model_free(m);
    free(y);
}
END_TEST

/* epsh(xbar +- h e_b) and epsh at sigma +- h give J and d epsh/d sigma to O(h^2). */
START_TEST(jacobian_matches_central_differences_of_eps)
{
    const size_t N = 5, d = 3;
    const double sigma = 0.7, h = 1e-5;
    double *y = random_points(N, d, 11), J[9], ds[3], ep[3], em[3], x[3];
    dode_model *m = ideal_of_points(y, N, d);
    double *xbar = noisy_x(y, N, 1, d, sigma, 12);
    for (size_t a = 0; a < d; a++)
        xbar[a] *= sqrt(1 + sigma * sigma);
    ck_assert_int_eq(test_jacobian(m, 1, xbar, sigma, J, ds), DODE_OK);
    for (size_t b = 0; b <= d; b++) {       /* b = d: the sigma direction */
        for (int s = 0; s < 2; s++) {
            const double sg = b == d ? sigma + (s ? -h : h) : sigma;
            for (size_t a = 0; a < d; a++)
                x[a] = (xbar[a] + (a == b ? (s ? -h : h) : 0)) / sqrt(1 + sg * sg);
            ck_assert_int_eq(test_eps(m, 1, x, 0.0, sg, s ? em : ep), DODE_OK);
        }
        for (size_t a = 0; a < d; a++) {
            const double fd = (ep[a] - em[a]) / (2 * h), an = b == d ? ds[a] : J[a * d + b];
            ck_assert_double_eq_tol(an, fd, 1e-6 * (1 + fabs(fd)));
        }
    }
    dode_model_free(m);
    free(y);
    free(xbar);
}
END_TEST

/* At sigma = 1e-3 near point k the weights are one-hot (the others are e^-(|dy|^2/2e-6)
 * below), so x0h = xbar - sigma epsh is y_k to rounding. */
START_TEST(x0_prediction_at_small_sigma_is_the_nearest_point)
{
    const size_t N = 20, d = 10, n = 20;
    const double sigma = 1e-3;
    double *y = random_points(N, d, 13), *x = noisy_x(y, N, n, d, sigma, 14);
    double *eps = malloc(n * d * sizeof *eps);
    dode_model *m = ideal_of_points(y, N, d);
    ck_assert_int_eq(test_eps(m, n, x, 0.0, sigma, eps), DODE_OK);
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < d; a++) {
            const double x0h = x[i * d + a] * sqrt(1 + sigma * sigma) - sigma * eps[i * d + a];
            ck_assert_double_eq_tol(x0h, y[i * d + a], 1e-13);
        }
    dode_model_free(m);
    free(y);
    free(x);
    free(eps);
}
END_TEST

START_TEST(nearest_finds_the_closest_point_by_brute_force)
{
    const size_t N = 50, d = 784, n = 12;
    double *y = random_points(N, d, 15), *x = random_points(n, d, 16), dist[12];
    size_t idx[12];
    char err[ERRLEN];
    dode_model *m = ideal_of_points(y, N, d);
    ck_assert_int_eq(dode_ideal_nearest(m, n, x, idx, dist, err, sizeof err), DODE_OK);
    for (size_t i = 0; i < n; i++) {
        double best = INFINITY;
        size_t arg = 0;
        for (size_t j = 0; j < N; j++) {
            double dd = 0;
            for (size_t a = 0; a < d; a++)
                dd += (x[i * d + a] - y[j * d + a]) * (x[i * d + a] - y[j * d + a]);
            if (dd < best) {
                best = dd;
                arg = j;
            }
        }
        ck_assert_uint_eq(idx[i], arg);
        ck_assert_double_eq_tol(dist[i], sqrt(best), 1e-12 * sqrt(best));
    }
    ck_assert_int_eq(dode_ideal_nearest(m, 1, y + 7 * d, idx, dist, err, sizeof err), DODE_OK);
    ck_assert_uint_eq(idx[0], 7);
    ck_assert_double_le(dist[0], 1e-12);
    size_t count = 0;
    ck_assert_ptr_nonnull(dode_ideal_points(m, &count));
    ck_assert_uint_eq(count, N);
    dode_model_free(m);
    free(y);
    free(x);
}
END_TEST

START_TEST(bad_points_are_refused_with_a_message)
{
    char err[ERRLEN] = "";
    double y[6] = { 0, 1, 2, 3, NAN, 5 };
    ck_assert_ptr_null(dode_ideal_new(y, 3, 2, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "point 2"));
    ck_assert_ptr_nonnull(strstr(err, "not a finite number"));
    ck_assert_ptr_null(dode_ideal_new(y, 0, 2, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "at least one point"));
    ck_assert_ptr_null(dode_ideal_new(NULL, 3, 2, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "NULL"));
}
END_TEST

/* sigma <= 0 has no eps (x0h is exact there, eps = 0/0); outputs stay as they were. */
START_TEST(eps_refuses_sigma_zero_and_keeps_outputs)
{
    double y[4] = { 0, 1, 2, 3 }, x[2] = { 0.5, 0.5 }, out[2] = { 7, 7 }, lp = 7;
    dode_model *m = ideal_of_points(y, 2, 2);
    ck_assert_int_eq(test_eps(m, 1, x, 0.0, 0.0, out), DODE_EINVAL);
    ck_assert_int_eq(test_log_density(m, 1, x, -1.0, &lp), DODE_EINVAL);
    ck_assert_int_eq(test_eps(m, 1, x, 0.0, NAN, out), DODE_EINVAL);
    ck_assert(out[0] == 7 && out[1] == 7 && lp == 7);
    dode_model_free(m);
}
END_TEST

START_TEST(nearest_refuses_a_model_that_is_not_ideal)
{
    char err[ERRLEN] = "";
    double mean[2] = { 0, 0 }, x[2] = { 1, 1 }, dist = 7;
    size_t idx = 7;
    dode_model *g = dode_gaussian_new(2, mean, 1.0, DODE_PRED_EPS, err, sizeof err);
    ck_assert_int_eq(dode_ideal_nearest(g, 1, x, &idx, &dist, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not an ideal denoiser"));
    ck_assert(idx == 7 && dist == 7);
    ck_assert_ptr_null(dode_ideal_points(g, NULL));
    dode_model_free(g);
}
END_TEST

/* ideal:FILE.npy[,n=M[,seed=S]]: all rows, the first M, or M in file order by seed. */
START_TEST(spec_reads_npy_rows_and_subsets)
{
    char dir[] = "/tmp/check_ideal.XXXXXX", path[256], spec[300], err[ERRLEN];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/pts.npy", dir);
    double rows[10][2];
    for (int i = 0; i < 10; i++)
        rows[i][0] = rows[i][1] = i;
    ck_assert_int_eq(dode_npy_write(path, &rows[0][0], 10, 2, err, sizeof err), DODE_OK);
    dode_model *m = NULL;
    size_t N = 0;
    snprintf(spec, sizeof spec, "ideal:%s,n=4", path);
    ck_assert_int_eq(dode_ideal_make(spec + 6, spec, &m, err, sizeof err), DODE_OK);
    const double *p = dode_ideal_points(m, &N);
    ck_assert_uint_eq(N, 4);
    ck_assert(p[0] == 0 && p[7] == 3);
    dode_model_free(m);
    snprintf(spec, sizeof spec, "ideal:%s,n=4,seed=3", path);
    ck_assert_int_eq(dode_ideal_make(spec + 6, spec, &m, err, sizeof err), DODE_OK);
    p = dode_ideal_points(m, &N);
    ck_assert_uint_eq(N, 4);
    for (size_t j = 1; j < 4; j++)
        ck_assert_double_gt(p[2 * j], p[2 * j - 2]);       /* file order kept */
    dode_model_free(m);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(spec_errors_name_the_problem_and_leave_out_alone)
{
    static const struct { const char *arg; int code; const char *says; } bad[] = {
        { "", DODE_EINVAL, "needs a data set" },
        { "fashion-mnist,k=3", DODE_ENOTFOUND, "unknown key 'k'" },
        { "fashion-mnist,n=0", DODE_EINVAL, "n = '0'" },
        { "fashion-mnist,n=x", DODE_EINVAL, "not a whole number" },
        { "fashion-mnist,split=val", DODE_EINVAL, "split = 'val'" },
        { "fashion-mnist,seed", DODE_EINVAL, "not key=value" },
        { "/nonexistent/d.idx.gz", DODE_EIO, "/nonexistent/d.idx.gz" },
        { "/nonexistent/d.npy", DODE_EIO, "/nonexistent/d.npy" },
        { "/nonexistent/d.npy,split=train", DODE_EINVAL, "fashion-mnist only" },
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char err[ERRLEN] = "", spec[128];
        dode_model *sentinel = (dode_model *)&err, *m = sentinel;
        snprintf(spec, sizeof spec, "ideal:%s", bad[k].arg);
        ck_assert_int_eq(dode_ideal_make(bad[k].arg, spec, &m, err, sizeof err), bad[k].code);
        ck_assert_msg(strstr(err, bad[k].says) != NULL, "%s: %s", bad[k].arg, err);
        ck_assert_ptr_eq(m, sentinel);
    }
}
END_TEST

/* `diffode images` end to end on a 2 x 2-pixel data set: a grid PNG written (rows = 2
 * solvers x 2 NFE + the reference), and bad input refused with exit 2 and no file. */
START_TEST(images_command_writes_a_grid_or_nothing)
{
    char dir[] = "/tmp/check_ideal.XXXXXX", npy[256], png[256], model[300];
    char err[ERRLEN];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(npy, sizeof npy, "%s/pts.npy", dir);
    snprintf(png, sizeof png, "%s/grid.png", dir);
    snprintf(model, sizeof model, "ideal:%s", npy);
    double *y = random_points(6, 4, 19);
    ck_assert_int_eq(dode_npy_write(npy, y, 6, 4, err, sizeof err), DODE_OK);
    char *bad[] = { "images", "--model", model, "--solvers", "euler,nope", "--out", png, NULL };
    ck_assert_int_eq(cmd_images(7, bad), 2);
    ck_assert_int_eq(access(png, F_OK), -1);
    char *good[] = { "images", "--model", model, "--solvers", "euler,dpmpp2m", "--nfe", "5,10",
                     "--n", "3", "--out", png, NULL };
    ck_assert_int_eq(cmd_images(11, good), 0);
    FILE *f = fopen(png, "rb");
    unsigned char head[24];
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(head, 1, 24, f), 24);
    fclose(f);
    ck_assert(memcmp(head + 1, "PNG", 3) == 0);
    /* the grid, 3 tiles of 2 + 4 pads of 2 wide and 5 rows of 2 + 6 pads high, drawn 4
     * times larger (--scale default), under a margin of 7 font dots of 2 pixels + 2 x 8
     * and right of one of 8 + 12 pixels per character of the longest row label (at least
     * "dpmpp2m, NFE 10") */
    const uint32_t w = (uint32_t)head[16] << 24 | (uint32_t)head[17] << 16 |
                       (uint32_t)head[18] << 8 | head[19];
    const uint32_t h = (uint32_t)head[20] << 24 | (uint32_t)head[21] << 16 |
                       (uint32_t)head[22] << 8 | head[23];
    ck_assert_uint_eq(h, 22 * 4 + 7 * 2 + 2 * 8);
    ck_assert_uint_ge(w, 14 * 4 + 2 * 8 + 12 * strlen("dpmpp2m, NFE 10"));
    ck_assert_uint_eq((w - 14 * 4 - 2 * 8) % 12, 0);
    unlink(png);
    unlink(npy);
    rmdir(dir);
    free(y);
}
END_TEST

static Suite *ideal_suite(void)
{
    Suite *s = suite_create("ideal");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, eps_equals_the_direct_per_point_sum);
    tcase_add_test(tc, eps_at_784_dimensions_equals_the_direct_formula);
    tcase_add_test(tc, eps_between_two_points_at_small_sigma_equals_the_direct_formula);
    tcase_add_test(tc, eps_streamed_over_chunks_equals_the_direct_formula);
    tcase_add_test(tc, batched_eps_equals_row_by_row);
    tcase_add_test(tc, log_density_equals_the_direct_log_sum_exp);
    tcase_add_test(tc, eps_is_minus_sigma_times_the_gradient_of_log_density);
    tcase_add_test(tc, jacobian_matches_central_differences_of_eps);
    tcase_add_test(tc, x0_prediction_at_small_sigma_is_the_nearest_point);
    tcase_add_test(tc, nearest_finds_the_closest_point_by_brute_force);
    tcase_add_test(tc, bad_points_are_refused_with_a_message);
    tcase_add_test(tc, eps_refuses_sigma_zero_and_keeps_outputs);
    tcase_add_test(tc, nearest_refuses_a_model_that_is_not_ideal);
    tcase_add_test(tc, spec_reads_npy_rows_and_subsets);
    tcase_add_test(tc, spec_errors_name_the_problem_and_leave_out_alone);
    tcase_add_test(tc, images_command_writes_a_grid_or_nothing);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(ideal_suite)
