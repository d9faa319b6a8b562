/* check_mlp.c - the eps_theta MLP (mlp.h): forward against a direct computation written
 * out here, parameter gradients against central differences, batched = row by row, the
 * save/load round trip, the model's label from sigma, and bad architectures refused. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "diffode/mlp.h"

/* An arch with the given hidden widths (ddpm-linear, eps). */
static dode_mlp_arch make_arch(size_t dim, size_t temb, size_t nh, const size_t *widths)
{
    dode_mlp_arch a = { .dim = dim, .temb = temb, .nhidden = nh, .schedule = "ddpm-linear",
                        .prediction = DODE_PRED_EPS };
    for (size_t i = 0; i < nh; i++)
        a.widths[i] = widths[i];
    return a;
}

static dode_mlp *make_mlp(size_t dim, size_t temb, size_t nh, const size_t *widths,
                          unsigned long seed)
{
    const dode_mlp_arch a = make_arch(dim, temb, nh, widths);
    return test_mlp_new(&a, seed);
}

static double silu(double z) { return z / (1.0 + exp(-z)); }

/* One row through [x, temb(l)] -> SiLU(W1 . + b1) -> W2 . + b2, written out by hand from
 * the parameter layout of mlp.h (W1 [H][in], b1 [H], W2 [dim][H], b2 [dim]). */
static void direct_forward(const double *p, size_t dim, size_t temb, size_t H,
                           const double *x, double label, double *out)
{
    const size_t in = dim + temb, half = temb / 2;
    double v[64], h[64];
    for (size_t j = 0; j < dim; j++)
        v[j] = x[j];
    for (size_t k = 0; k < half; k++) {
        const double f = exp(-log(10000.0) * (double)k / (double)half);
        v[dim + k] = sin(label * f);
        v[dim + half + k] = cos(label * f);
    }
    const double *W1 = p, *b1 = p + H * in, *W2 = b1 + H, *b2 = W2 + dim * H;
    for (size_t r = 0; r < H; r++) {
        double z = b1[r];
        for (size_t c = 0; c < in; c++)
            z += W1[r * in + c] * v[c];
        h[r] = silu(z);
    }
    for (size_t r = 0; r < dim; r++) {
        double z = b2[r];
        for (size_t c = 0; c < H; c++)
            z += W2[r * H + c] * h[c];
        out[r] = z;
    }
}

START_TEST(forward_matches_direct_computation)
{
    const size_t w[1] = { 5 };
    dode_mlp *m = make_mlp(3, 6, 1, w, 7);
    ck_assert_uint_eq(dode_mlp_nparams(m), 5 * 9 + 5 + 3 * 5 + 3);
    const double x[2][3] = { { 0.3, -1.2, 2.0 }, { -0.7, 0.1, 0.5 } }, label[2] = { 0, 731 };
    double out[2][3], want[3];
    char err[ERRLEN];
    dode_mlp_work *wk = dode_mlp_work_new(m, 2, err, sizeof err);
    ck_assert_int_eq(dode_mlp_forward(m, wk, 2, &x[0][0], label, &out[0][0]), DODE_OK);
    for (size_t i = 0; i < 2; i++) {
        direct_forward(dode_mlp_params(m), 3, 6, 5, x[i], label[i], want);
        for (size_t j = 0; j < 3; j++)      /* same sums, another order: rounding only */
            ck_assert_double_eq_tol(out[i][j], want[j], 1e-13 * (1 + fabs(want[j])));
    }
    dode_mlp_work_free(wk);
    dode_mlp_free(m);
}
END_TEST

/* L(theta) = sum_ij c_ij out_ij, so dL/dout = c. */
static double weighted_output(const dode_mlp *m, dode_mlp_work *wk, size_t n, const double *x,
                              const double *label, const double *c, double *out)
{
    dode_mlp_forward(m, wk, n, x, label, out);
    double L = 0;
    for (size_t k = 0; k < n * dode_mlp_arch_get(m)->dim; k++)
        L += c[k] * out[k];
    return L;
}

START_TEST(parameter_gradient_matches_central_differences)
{
    const size_t w[2] = { 6, 4 }, n = 5, dim = 2;
    dode_mlp *m = make_mlp(dim, 4, 2, w, 11);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    double x[10], c[10], label[5], out[10];
    for (size_t k = 0; k < n * dim; k++) {
        x[k] = gsl_ran_gaussian(rng, 1.0);
        c[k] = gsl_ran_gaussian(rng, 1.0);
    }
    for (size_t i = 0; i < n; i++)
        label[i] = 999.0 * gsl_rng_uniform(rng);
    char err[ERRLEN];
    dode_mlp_work *wk = dode_mlp_work_new(m, n, err, sizeof err);
    const size_t P = dode_mlp_nparams(m);
    double *grad = malloc(P * sizeof *grad), *p = dode_mlp_params(m);
    weighted_output(m, wk, n, x, label, c, out);
    ck_assert_int_eq(dode_mlp_backward(m, wk, n, c, grad), DODE_OK);
    const double h = 1e-5;      /* central difference error ~ h^2 L''' ~ 1e-10 */
    for (size_t k = 0; k < P; k++) {
        const double p0 = p[k];
        p[k] = p0 + h;
        const double Lp = weighted_output(m, wk, n, x, label, c, out);
        p[k] = p0 - h;
        const double Lm = weighted_output(m, wk, n, x, label, c, out);
        p[k] = p0;
        const double fd = (Lp - Lm) / (2 * h);
        ck_assert_msg(fabs(fd - grad[k]) <= 1e-6 * (1 + fabs(grad[k])),
                      "param %zu: backward %.12g, central difference %.12g", k, grad[k], fd);
    }
    free(grad);
    dode_mlp_work_free(wk);
    gsl_rng_free(rng);
    dode_mlp_free(m);
}
END_TEST

START_TEST(batched_forward_and_backward_equal_row_by_row)
{
    const size_t w[3] = { 16, 8, 12 }, n = 9, dim = 3;
    dode_mlp *m = make_mlp(dim, 8, 3, w, 3);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    double x[27], label[9], out[27], one[3], dout[27];
    for (size_t k = 0; k < n * dim; k++) {
        x[k] = gsl_ran_gaussian(rng, 1.5);
        dout[k] = gsl_ran_gaussian(rng, 1.0);
    }
    for (size_t i = 0; i < n; i++)
        label[i] = i < 3 ? 42.0 : 100.0 * (double)i;       /* repeated labels too */
    char err[ERRLEN];
    dode_mlp_work *wk = dode_mlp_work_new(m, n, err, sizeof err);
    const size_t P = dode_mlp_nparams(m);
    double *g = malloc(P * sizeof *g), *g1 = malloc(P * sizeof *g1), *gs = calloc(P, sizeof *gs);
    dode_mlp_forward(m, wk, n, x, label, out);
    dode_mlp_backward(m, wk, n, dout, g);
    for (size_t i = 0; i < n; i++) {
        dode_mlp_forward(m, wk, 1, x + i * dim, label + i, one);
        dode_mlp_backward(m, wk, 1, dout + i * dim, g1);
        for (size_t j = 0; j < dim; j++)      /* a dgemm of 1 row vs 9: rounding only */
            ck_assert_double_eq_tol(one[j], out[i * dim + j], 1e-13 * (1 + fabs(one[j])));
        for (size_t k = 0; k < P; k++)
            gs[k] += g1[k];
    }
    for (size_t k = 0; k < P; k++)            /* the batch gradient is the sum over rows */
        ck_assert_double_eq_tol(g[k], gs[k], 1e-12 * (1 + fabs(gs[k])));
    ck_assert_int_eq(dode_mlp_forward(m, wk, n + 1, x, label, out), DODE_EINVAL);
    free(g);
    free(g1);
    free(gs);
    dode_mlp_work_free(wk);
    gsl_rng_free(rng);
    dode_mlp_free(m);
}
END_TEST

START_TEST(init_is_pytorch_uniform_in_inverse_sqrt_fan_in)
{
    const size_t w[2] = { 64, 32 };
    dode_mlp *m = make_mlp(2, 16, 2, w, 5);
    const double *p = dode_mlp_params(m);
    const size_t fan_in[3] = { 18, 64, 32 }, fan_out[3] = { 64, 32, 2 };
    size_t off = 0;
    for (size_t i = 0; i < 3; i++) {
        const double bound = 1.0 / sqrt((double)fan_in[i]);
        double maxabs = 0;
        for (size_t k = 0; k < fan_out[i] * (fan_in[i] + 1); k++, off++)
            maxabs = fmax(maxabs, fabs(p[off]));
        ck_assert(maxabs <= bound);
        ck_assert(maxabs > 0.8 * bound);     /* >= 66 uniform draws reach 0.8 w.p. 1 - 1e-46 */
    }
    ck_assert_uint_eq(off, dode_mlp_nparams(m));
    dode_mlp_free(m);
}
END_TEST

START_TEST(save_load_round_trip_f64_exact_and_f32_rounded)
{
    const size_t w[2] = { 7, 5 };
    dode_mlp *m = make_mlp(2, 10, 2, w, 9);
    char err[ERRLEN], *path = test_tmp_path("check_mlp", "w.safetensors");
    const size_t P = dode_mlp_nparams(m);
    for (int f32 = 0; f32 <= 1; f32++) {
        ck_assert_int_eq(dode_mlp_save(m, path, f32 ? DODE_DTYPE_F32 : DODE_DTYPE_F64, err,
                                       sizeof err), DODE_OK);
        dode_mlp *r = dode_mlp_read(path, err, sizeof err);
        ck_assert_msg(r != NULL, "%s", err);
        const dode_mlp_arch *a = dode_mlp_arch_get(r);
        ck_assert_uint_eq(a->dim, 2);
        ck_assert_uint_eq(a->temb, 10);
        ck_assert_uint_eq(a->nhidden, 2);
        ck_assert_uint_eq(a->widths[1], 5);
        ck_assert_str_eq(a->schedule, "ddpm-linear");
        ck_assert_uint_eq(dode_mlp_nparams(r), P);
        for (size_t k = 0; k < P; k++) {
            const double want = f32 ? (double)(float)dode_mlp_params(m)[k]
                                    : dode_mlp_params(m)[k];
            ck_assert(memcmp(&dode_mlp_params(r)[k], &want, sizeof want) == 0);
        }
        dode_mlp_free(r);
    }
    test_rm_path(path);
    dode_mlp_free(m);
}
END_TEST

/* The model computes the label from sigma through the training schedule, whatever t
 * the caller passes (mlp.h). */
START_TEST(model_eps_uses_training_label_of_sigma)
{
    const size_t w[1] = { 8 };
    dode_mlp *m = make_mlp(2, 4, 1, w, 1);
    char err[ERRLEN], *path = test_tmp_path("check_mlp", "w.safetensors");
    ck_assert_int_eq(dode_mlp_save(m, path, DODE_DTYPE_F64, err, sizeof err), DODE_OK);
    dode_model *model = dode_mlp_load(path, err, sizeof err);
    ck_assert_msg(model != NULL, "%s", err);
    ck_assert_uint_eq(model->dim, 2);
    ck_assert_ptr_null(model->jacobian);
    dode_schedule *s = dode_schedule_new("ddpm-linear", err, sizeof err);
    const double t = 0.4213, sigma = dode_schedule_sigma(s, t);
    double label[3], x[6] = { 0.1, 0.2, -1, 3, 0.5, 0.5 }, got[6], want[6];
    for (size_t i = 0; i < 3; i++)
        label[i] = dode_schedule_model_time(s, t);
    dode_mlp_work *wk = dode_mlp_work_new(m, 3, err, sizeof err);
    dode_mlp_forward(m, wk, 3, x, label, want);
    ck_assert_int_eq(test_eps(model, 3, x, -123.0, sigma, got), DODE_OK);
    for (size_t k = 0; k < 6; k++)     /* t(sigma(t)) = t to ~1e-12: labels agree to 1e-9 */
        ck_assert_double_eq_tol(got[k], want[k], 1e-8);
    dode_mlp_work_free(wk);
    dode_schedule_free(s);
    dode_model_free(model);
    test_rm_path(path);
    dode_mlp_free(m);
}
END_TEST

START_TEST(bad_architectures_are_refused)
{
    char err[ERRLEN];
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    const size_t w[1] = { 4 }, zero[1] = { 0 };
    struct { dode_mlp_arch a; const char *needle; } cases[] = {
        { make_arch(2, 5, 1, w), "temb 5" },
        { make_arch(2, 0, 1, w), "temb 0" },
        { make_arch(0, 4, 1, w), "dim 0" },
        { make_arch(2, 4, 1, zero), "width 0" },
        { make_arch(2, 4, 0, w), "0 hidden layers" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        err[0] = '\0';
        ck_assert_ptr_null(dode_mlp_new(&cases[k].a, rng, err, sizeof err));
        ck_assert_msg(strstr(err, cases[k].needle) != NULL, "case %zu: %s", k, err);
    }
    gsl_rng_free(rng);
}
END_TEST

START_TEST(widths_text_is_parsed_strictly)
{
    dode_mlp_arch a = make_arch(2, 4, 1, (const size_t[]){ 3 });
    char err[ERRLEN];
    ck_assert_int_eq(dode_mlp_parse_widths("128,64,32", &a, err, sizeof err), DODE_OK);
    ck_assert_uint_eq(a.nhidden, 3);
    ck_assert_uint_eq(a.widths[2], 32);
    const char *bad[] = { "", "12,", ",12", "a", "0", "1,,2", "-3", "12 ", "99999999",
                          "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1" };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        err[0] = '\0';
        ck_assert_int_eq(dode_mlp_parse_widths(bad[k], &a, err, sizeof err), DODE_EINVAL);
        ck_assert_msg(strstr(err, "widths") != NULL, "%s", err);
        ck_assert_uint_eq(a.nhidden, 3);                   /* unchanged */
        ck_assert_uint_eq(a.widths[0], 128);
    }
}
END_TEST

static Suite *mlp_suite(void)
{
    Suite *s = suite_create("mlp");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, forward_matches_direct_computation);
    tcase_add_test(tc, parameter_gradient_matches_central_differences);
    tcase_add_test(tc, batched_forward_and_backward_equal_row_by_row);
    tcase_add_test(tc, init_is_pytorch_uniform_in_inverse_sqrt_fan_in);
    tcase_add_test(tc, save_load_round_trip_f64_exact_and_f32_rounded);
    tcase_add_test(tc, model_eps_uses_training_label_of_sigma);
    tcase_add_test(tc, bad_architectures_are_refused);
    tcase_add_test(tc, widths_text_is_parsed_strictly);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(mlp_suite)
