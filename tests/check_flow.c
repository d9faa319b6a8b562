/* check_flow.c - the rectified-flow schedule and velocity prediction (schedule.h, model.h,
 * docs/models.md): sigma = S t / (1 - t) with SD3's shift, a + s = 1, the flow wrapper
 * against the closed-form Gaussian, flow-matching Euler in tau = DDIM (Euler in sigma) to
 * 1e-12, solver orders unchanged on the flow schedule, and every bad name refused. */
#include <string.h>

#include "testutil.h"

#define NROWS 64

/* The 2-D Gaussian N((1, -0.5), 0.5^2 I) predicting `pred` (raw, unwrapped). */
static dode_model *gauss(dode_prediction pred)
{
    static const double mean[2] = { 1.0, -0.5 };
    char err[ERRLEN] = "";
    dode_model *m = dode_gaussian_new(2, mean, 0.5, pred, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

static dode_model *wrapped(dode_prediction pred)
{
    char err[ERRLEN] = "";
    dode_model *m = dode_model_as_eps(gauss(pred), err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

/* ---- the schedule ----------------------------------------------------------------------- */

/* tau = S t / (1 + (S-1) t) is the noise level of x = (1 - tau) x0 + tau eps, so
 * sigma = tau / (1 - tau), a = 1 - tau (a + a sigma = 1, not a^2 + s^2 = 1), the network
 * time is tau, and t(sigma(t)) = t. */
START_TEST(flow_sigma_is_the_shifted_tau_over_one_minus_tau)
{
    static const char *const names[3] = { "flow", "flow:shift=3", "flow:shift=0.5" };
    static const double shift[3] = { 1.0, 3.0, 0.5 };
    for (int k = 0; k < 3; k++) {
        dode_schedule *s = test_schedule(names[k]);
        const double S = shift[k];
        for (int i = 1; i < 1000; i++) {
            const double t = i / 1000.0, tau = S * t / (1 + (S - 1) * t);
            const double sigma = dode_schedule_sigma(s, t), a = exp(dode_schedule_log_alpha(s, t));
            ck_assert_double_eq_tol(sigma, tau / (1 - tau), 1e-12 * sigma);
            ck_assert_double_eq_tol(a, 1 - tau, 1e-14);
            ck_assert_double_eq_tol(a + a * sigma, 1.0, 1e-14);
            ck_assert_double_eq_tol(dode_schedule_xbar_scale(s, sigma), 1 / a, 1e-12 / a);
            ck_assert_double_eq_tol(dode_schedule_model_time(s, t), tau, 1e-15);
            ck_assert_double_eq_tol(dode_schedule_t(s, sigma), t, 1e-14);
            ck_assert_double_eq_tol(dode_schedule_t_of_lambda(s, -log(sigma)), t, 1e-13);
            const double h = 1e-6 * fmin(t, 1 - t), fd = (dode_schedule_sigma(s, t + h)
                                                          - dode_schedule_sigma(s, t - h)) / (2 * h);
            ck_assert_double_eq_tol(dode_schedule_dsigma_dt(s, t), fd, 1e-7 * fabs(fd));
        }
        ck_assert(dode_schedule_sigma(s, 1.0) == INFINITY);        /* pure noise at t = 1 */
        ck_assert_double_eq(dode_schedule_t(s, INFINITY), 1.0);
        ck_assert_double_eq(dode_schedule_t_limit(s), 1.0);
        dode_schedule_free(s);
    }
}
END_TEST

/* ---- the velocity wrapper ------------------------------------------------------------- */

/* A flow Gaussian (reading x_f = xbar / (1 + sigma), returning v = eps - x0h) wrapped to
 * eps gives the eps Gaussian's eps at the same interface x, and its x0 the x0 Gaussian's. */
START_TEST(flow_wrapper_gives_the_closed_form_eps_and_x0)
{
    dode_model *fw = wrapped(DODE_PRED_FLOW), *e = gauss(DODE_PRED_EPS);
    dode_model *x0m = gauss(DODE_PRED_X0);
    const double x[6] = { 0.3, -1.2, 2.0, 0.1, -0.7, 0.9 };
    for (double sigma = 0.01; sigma < 1e4; sigma *= 3.7) {
        double want[6], got[6], x0w[6], x0g[6];
        ck_assert_int_eq(test_eps(e, 3, x, 0.5, sigma, want), DODE_OK);
        ck_assert_int_eq(test_eps(fw, 3, x, 0.5, sigma, got), DODE_OK);
        ck_assert_int_eq(test_eps(x0m, 3, x, 0.5, sigma, x0w), DODE_OK);
        void *ws = test_ws_new(fw, 3);
        ck_assert_int_eq(fw->x0(fw, ws, 3, x, 0.5, sigma, x0g), DODE_OK);
        dode_model_workspace_free(fw, ws);
        for (int k = 0; k < 6; k++) {
            ck_assert_double_eq_tol(got[k], want[k], 1e-12 * (1 + fabs(want[k])));
            ck_assert_double_eq_tol(x0g[k], x0w[k], 1e-11 * (1 + fabs(x0w[k])));
        }
    }
    dode_model_free(fw);
    dode_model_free(e);
    dode_model_free(x0m);
}
END_TEST

/* A learned flow network (safetensors "prediction": "flow", "schedule": "flow:shift=3")
 * loads as a model whose eps is x_f + (1 - tau) v, the network run on flow's x_f at its
 * label tau: the same file read raw and run by hand. */
START_TEST(flow_mlp_file_loads_as_a_velocity_model)
{
    dode_mlp_arch a = { .dim = 2, .temb = 8, .nhidden = 2, .widths = { 16, 16 },
                        .schedule = "flow:shift=3", .prediction = DODE_PRED_FLOW };
    dode_mlp *net = test_mlp_new(&a, 17);
    char *path = test_tmp_path("flowmlp", "net.safetensors"), err[ERRLEN] = "";
    ck_assert_msg(dode_mlp_save(net, path, DODE_DTYPE_F64, err, sizeof err) == DODE_OK, "%s", err);
    dode_mlp_free(net);
    dode_model *m = dode_mlp_load(path, err, sizeof err);
    dode_mlp *raw = dode_mlp_read(path, err, sizeof err);
    ck_assert_msg(m != NULL && raw != NULL, "%s", err);
    ck_assert_int_eq(dode_mlp_arch_get(raw)->prediction, DODE_PRED_FLOW);
    dode_mlp_work *w = dode_mlp_work_new(raw, 3, err, sizeof err);
    const double x[6] = { 0.3, -1.2, 2.0, 0.1, -0.7, 0.9 };
    for (double sigma = 0.01; sigma < 1e3; sigma *= 4.1) {
        const double tau = sigma / (1 + sigma), label[3] = { tau, tau, tau };
        double xf[6], v[6], got[6];
        for (int k = 0; k < 6; k++)
            xf[k] = x[k] * sqrt(1 + sigma * sigma) / (1 + sigma);
        ck_assert_int_eq(dode_mlp_forward(raw, w, 3, xf, label, v), DODE_OK);
        ck_assert_int_eq(test_eps(m, 3, x, 0.0, sigma, got), DODE_OK);
        for (int k = 0; k < 6; k++)
            ck_assert_double_eq_tol(got[k], xf[k] + v[k] / (1 + sigma), 1e-12 * (1 + fabs(got[k])));
    }
    dode_mlp_work_free(w);
    dode_mlp_free(raw);
    dode_model_free(m);
    test_rm_path(path);
}
END_TEST

/* ---- flow Euler = DDIM ------------------------------------------------------------------ */

/* Flow matching's Euler step in its own variables, x_f' = x_f + (tau' - tau) v(x_f, t),
 * with x_f = xbar / (1 + sigma), against the library's Euler in sigma (DDIM) driven by the
 * wrapped model, x-space in and out: the same map (docs/models.md), to 1e-12. */
START_TEST(flow_euler_in_tau_equals_ddim_to_1e12)
{
    dode_schedule *s = test_schedule("flow:shift=3");
    dode_model *raw = gauss(DODE_PRED_FLOW), *m = wrapped(DODE_PRED_FLOW);
    char err[ERRLEN] = "";
    dode_ode *ode = dode_ode_new(m, s, NROWS, err, sizeof err);
    ck_assert_msg(ode != NULL, "%s", err);
    dode_grid g = test_grid(s, DODE_SPACING_UNIFORM_T, 25, 0);
    double *xbar = test_xbar_T(NROWS, 2, 0.0, 11);     /* x_T ~ N(0, I), flow's x */
    double x_T[NROWS * 2], x_lib[NROWS * 2], xf[NROWS * 2], v[NROWS * 2];
    memcpy(x_T, xbar, sizeof x_T);
    memcpy(xf, xbar, sizeof xf);
    ck_assert_msg(dode_sample(dode_solver_find("euler"), ode, &g, NULL, x_T, x_lib, NULL, NULL,
                              err, sizeof err) == DODE_OK, "%s", err);
    void *ws = test_ws_new(raw, NROWS);
    for (size_t i = 0; i < g.steps; i++) {
        const double tau = g.sigma[i] / (1 + g.sigma[i]), tau1 = g.sigma[i + 1] / (1 + g.sigma[i + 1]);
        ck_assert_int_eq(raw->eps(raw, ws, NROWS, xf, g.t[i], g.sigma[i], v), DODE_OK);
        for (int k = 0; k < NROWS * 2; k++)
            xf[k] += (tau1 - tau) * v[k];
    }
    dode_model_workspace_free(raw, ws);
    double worst = 0;
    for (int k = 0; k < NROWS * 2; k++)
        worst = fmax(worst, fabs(x_lib[k] - xf[k]) / (1 + fabs(xf[k])));
    if (getenv("DODE_TEST_VERBOSE"))
        fprintf(stderr, "flow euler vs ddim: max rel diff %.3e\n", worst);
    ck_assert_msg(worst <= 1e-12, "flow Euler and DDIM differ by %.3e", worst);
    free(xbar);
    dode_grid_free(&g);
    dode_ode_free(ode);
    dode_model_free(m);
    dode_model_free(raw);
    dode_schedule_free(s);
}
END_TEST

/* ---- exact models and orders on the flow schedule --------------------------------------- */

/* x-space error of a solve on sched with the given spacing against ref (xbar at the end). */
static double flow_error(dode_ode *ode, const char *solver, dode_spacing sp, size_t steps,
                         const double *xbar_T, const double *ref)
{
    char err[ERRLEN] = "";
    dode_grid g = test_grid(ode->schedule, sp, steps, 0);
    double xbar[NROWS * 2];
    memcpy(xbar, xbar_T, sizeof xbar);
    ck_assert_msg(dode_run_xbar(dode_solver_find(solver), ode, &g, NULL, xbar, NULL, NULL, err,
                                sizeof err) == DODE_OK, "%s", err);
    const double e = test_rmse(xbar, ref, NROWS * 2);
    dode_grid_free(&g);
    return e;
}

/* The wrapped flow Gaussian solved by rk4 on flow:shift=3 converges to the closed form
 * xbar(s) = mu + (xbar_T - mu) sqrt((v + s^2)/(v + s_T^2)) at order 4: the exact models
 * hold under any schedule, and the flow wrapper is the eps model in other clothes. */
START_TEST(flow_gaussian_converges_to_its_closed_form_at_rk4s_order)
{
    dode_schedule *s = test_schedule("flow:shift=3");
    dode_model *m = wrapped(DODE_PRED_FLOW);
    char err[ERRLEN] = "";
    dode_ode *ode = dode_ode_new(m, s, NROWS, err, sizeof err);
    dode_grid g = test_grid(s, DODE_SPACING_LOGSNR, 1, 0);
    double *x = test_xbar_T(NROWS, 2, 0.0, 3), ref[NROWS * 2];
    dode_x_to_xbar(s, g.sigma[0], x, x, NROWS * 2);
    ck_assert_int_eq(m->exact_flow(m, NROWS, x, g.sigma[0], g.sigma[1], ref), DODE_OK);
    const double e1 = flow_error(ode, "rk4", DODE_SPACING_LOGSNR, 20, x, ref);
    const double e2 = flow_error(ode, "rk4", DODE_SPACING_LOGSNR, 40, x, ref);
    if (getenv("DODE_TEST_VERBOSE"))
        fprintf(stderr, "flow rk4 e=%.3e/%.3e order %.3f\n", e1, e2, log2(e1 / e2));
    ck_assert_double_eq_tol(log2(e1 / e2), 4.0, 0.1);
    free(x);
    dode_grid_free(&g);
    dode_ode_free(ode);
    dode_model_free(m);
    dode_schedule_free(s);
}
END_TEST

typedef struct {
    const char *name;
    size_t N;           /* the pair N / 2N */
    double order;
} order_row;

/* Pairs where the order has settled (scan at 128/256: euler 0.99, heun 2.04, dpmpp2m
 * 2.03, unipc2 2.92, still rising; UniPC-2 has order 3, its paper's Theorem 3.1). */
static const order_row flow_orders[] = {
    { "euler", 512, 1.0 }, { "heun", 256, 2.0 }, { "dpmpp2m", 256, 2.0 },
    { "unipc2", 512, 3.0 },
};

/* The section 8 mixture on flow:shift=3 (logsnr grid): the ODE in (xbar, sigma) is the
 * one of every schedule, so each solver keeps its order; reference rk8pd at 1e-12. */
START_TEST(solver_orders_hold_on_the_flow_schedule)
{
    const order_row *r = &flow_orders[_i];
    dode_schedule *s = test_schedule("flow:shift=3");
    dode_model *m = test_gmm2d();
    char err[ERRLEN] = "";
    dode_ode *ode = dode_ode_new(m, s, NROWS, err, sizeof err);
    dode_grid g = test_grid(s, DODE_SPACING_LOGSNR, 1, 0);
    double *x = test_xbar_T(NROWS, 2, 0.0, 5), ref[NROWS * 2];
    dode_x_to_xbar(s, g.sigma[0], x, x, NROWS * 2);
    ck_assert_msg(dode_reference(m, s, NROWS, g.sigma[0], g.sigma[1], x, ref, NULL, NULL, NULL,
                                 err, sizeof err) == DODE_OK, "%s", err);
    const double e1 = flow_error(ode, r->name, DODE_SPACING_LOGSNR, r->N, x, ref);
    const double e2 = flow_error(ode, r->name, DODE_SPACING_LOGSNR, 2 * r->N, x, ref);
    if (getenv("DODE_TEST_VERBOSE"))
        fprintf(stderr, "flow order %-8s N=%zu e=%.3e/%.3e order %.3f\n", r->name, r->N, e1, e2,
                log2(e1 / e2));
    ck_assert_msg(e2 > 1e-10, "%s: e(2N) = %.3e is at the reference's floor", r->name, e2);
    ck_assert_msg(fabs(log2(e1 / e2) - r->order) <= 0.1, "%s on flow: observed order %.3f, "
                  "expected %.1f", r->name, log2(e1 / e2), r->order);
    free(x);
    dode_grid_free(&g);
    dode_ode_free(ode);
    dode_model_free(m);
    dode_schedule_free(s);
}
END_TEST

/* ---- bad input -------------------------------------------------------------------------- */

START_TEST(bad_flow_names_and_shifts_are_refused_naming_them)
{
    static const struct { const char *name, *needle; } bad[] = {
        { "flow:shift=0", "shift must be" },      { "flow:shift=-2", "\"-2\"" },
        { "flow:shift=abc", "\"abc\"" },          { "flow:shift=", "shift must be" },
        { "flow:shift=inf", "\"inf\"" },          { "flow:shift=nan", "\"nan\"" },
        { "flow:shift=3x", "\"3x\"" },            { "flow:scale=2", "scale=2" },
        { "flow:", "flow takes shift" },          { "flowx", "unknown schedule \"flowx\"" },
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char err[ERRLEN] = "";
        ck_assert_ptr_null(dode_schedule_new(bad[k].name, err, sizeof err));
        ck_assert_msg(strstr(err, bad[k].needle) != NULL, "%s: \"%s\" lacks \"%s\"",
                      bad[k].name, err, bad[k].needle);
    }
    dode_schedule *out = NULL;
    char err[ERRLEN] = "";
    ck_assert_int_ne(dode_schedule_from_spec("flow:shift=0", &out, err, sizeof err), DODE_OK);
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(flow_prediction_parses_and_unknown_ones_list_it)
{
    dode_prediction p = DODE_PRED_EPS;
    char err[ERRLEN] = "";
    ck_assert_int_eq(dode_prediction_parse("flow", &p, err, sizeof err), DODE_OK);
    ck_assert_int_eq(p, DODE_PRED_FLOW);
    ck_assert_str_eq(dode_prediction_name(DODE_PRED_FLOW), "flow");
    ck_assert_int_eq(dode_prediction_parse("velocity", &p, err, sizeof err), DODE_ENOTFOUND);
    ck_assert_int_eq(p, DODE_PRED_FLOW);                 /* untouched */
    ck_assert_ptr_nonnull(strstr(err, "velocity"));
    ck_assert_ptr_nonnull(strstr(err, "flow"));
    ck_assert_ptr_null(dode_gaussian_new(2, (const double[2]){ 0, 0 }, 1.0,
                                         (dode_prediction)DODE_PRED_COUNT, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "prediction"));
}
END_TEST

static Suite *flow_suite(void)
{
    Suite *s = suite_create("flow");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, flow_sigma_is_the_shifted_tau_over_one_minus_tau);
    tcase_add_test(tc, flow_wrapper_gives_the_closed_form_eps_and_x0);
    tcase_add_test(tc, flow_mlp_file_loads_as_a_velocity_model);
    tcase_add_test(tc, flow_euler_in_tau_equals_ddim_to_1e12);
    tcase_add_test(tc, flow_gaussian_converges_to_its_closed_form_at_rk4s_order);
    tcase_add_loop_test(tc, solver_orders_hold_on_the_flow_schedule, 0,
                        (int)(sizeof flow_orders / sizeof flow_orders[0]));
    tcase_add_test(tc, bad_flow_names_and_shifts_are_refused_naming_them);
    tcase_add_test(tc, flow_prediction_parses_and_unknown_ones_list_it);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(flow_suite)
