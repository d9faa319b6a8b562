/* check_guards.c - the reliability guards of issue 7 (docs/reliability.md): numerical
 * failures stop a solve with a message naming the solver, the step and sigma, and leave
 * xbar at the last completed step; adaptive solvers give up with DODE_EMAXITER when their
 * step budget runs out; absurd sizes in files and arguments are refused before anything
 * is allocated for them.
 *
 * "The last completed step" is checked against the solve's own trace: every solver records
 * xbar after each completed (accepted) step, so on failure xbar must equal the last point
 * recorded, bit for bit. Schedules refusing times outside their range are tested by
 * check_grid.c (times_outside_the_schedule_are_refused). */
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define NROWS 4
#define DIM 2
#define STEPS 12
#define MAXPTS 4096     /* trace capacity: above any solve here (max_steps is small) */

/* eps = 0.1 x above SIGMA_BAD (stored in the model's state), NaN below it. */
static int nan_below(const dode_model *m, void *ws, size_t n, const double *x, double t,
                     double sigma, double *out)
{
    const double bad = *(const double *)m->state;
    (void)ws;
    (void)t;
    for (size_t k = 0; k < n * m->dim; k++)
        out[k] = sigma < bad ? NAN : 0.1 * x[k];
    return DODE_OK;
}

/* A finite eps so large that one step of size ~100 in sigma overflows xbar to Inf. */
static int huge_eps(const dode_model *m, void *ws, size_t n, const double *x, double t,
                    double sigma, double *out)
{
    (void)ws;
    (void)x;
    (void)t;
    (void)sigma;
    for (size_t k = 0; k < n * m->dim; k++)
        out[k] = DBL_MAX / 4;
    return DODE_OK;
}

typedef struct {
    dode_schedule *sched;
    dode_ode *ode;
    dode_grid grid;
    double *xbar, *pts_sigma, *pts_xbar;
    dode_trace trace;
} rig;

static rig rig_new(const dode_model *m)
{
    char err[ERRLEN];
    rig r;
    r.sched = dode_schedule_new("ddpm-linear", err, sizeof err);
    ck_assert_msg(r.sched != NULL, "%s", err);
    r.ode = dode_ode_new(m, r.sched, NROWS, err, sizeof err);
    ck_assert_msg(r.ode != NULL, "%s", err);
    dode_grid_opts o;
    dode_grid_opts_init(&o);
    r.grid = (dode_grid){ 0 };
    ck_assert_int_eq(dode_grid_make(r.sched, &o, STEPS, &r.grid, err, sizeof err), DODE_OK);
    r.xbar = test_xbar_T(NROWS, DIM, r.grid.sigma[0], 3);
    r.pts_sigma = malloc(MAXPTS * sizeof *r.pts_sigma);
    r.pts_xbar = malloc(MAXPTS * NROWS * DIM * sizeof *r.pts_xbar);
    r.trace = (dode_trace){ .cap = MAXPTS, .sigma = r.pts_sigma, .xbar = r.pts_xbar };
    return r;
}

static void rig_free(rig *r)
{
    dode_grid_free(&r->grid);
    dode_ode_free(r->ode);
    dode_schedule_free(r->sched);
    free(r->xbar);
    free(r->pts_sigma);
    free(r->pts_xbar);
}

/* xbar equals the last point the trace recorded, bit for bit. */
static void assert_at_last_recorded_point(const rig *r, const char *solver)
{
    ck_assert_msg(r->trace.count >= 1 && r->trace.count <= MAXPTS, "%s: %zu trace points",
                  solver, r->trace.count);
    const double *last = r->pts_xbar + (r->trace.count - 1) * NROWS * DIM;
    ck_assert_msg(memcmp(r->xbar, last, NROWS * DIM * sizeof *last) == 0, "%s: xbar is not "
                  "the state of the last completed step (trace point %zu)", solver,
                  r->trace.count - 1);
}

/* The sigma the message reports for the failing model call: the last "at sigma = S"
 * (gsl:* put the step's own sigma before the model's). */
static double reported_sigma(const char *err)
{
    const char *at = NULL;
    double s = NAN;
    for (const char *p = strstr(err, "at sigma = "); p != NULL; p = strstr(p + 1, "at sigma = "))
        at = p;
    if (at != NULL)
        sscanf(at + strlen("at sigma = "), "%lf", &s);
    return s;
}

/* Implicit GSL steppers need a Jacobian, which these models lack: the solve is refused
 * up front (DODE_EUNSUPPORTED), which check_gsl.c covers. */
static int needs_jacobian(const dode_solver_type *s)
{
    static const char *const implicit[] = { "gsl:rk1imp", "gsl:rk2imp", "gsl:rk4imp",
                                            "gsl:bsimp", "gsl:msbdf", NULL };
    for (size_t i = 0; implicit[i] != NULL; i++)
        if (strcmp(s->name, implicit[i]) == 0)
            return 1;
    return 0;
}

START_TEST(nan_eps_stops_every_solver_naming_it_the_step_and_sigma)
{
    double bad = 0;
    dode_model m = { .name = "nanmodel", .dim = DIM, .eps = nan_below, .state = &bad };
    rig r = rig_new(&m);
    bad = sqrt(r.grid.sigma[6] * r.grid.sigma[7]);     /* between two grid points */
    const dode_solver_type *const *all = dode_solvers();
    size_t tested = 0;
    dode_solver_opts o;          /* the defaults, and noise for the stochastic samplers */
    dode_solver_opts_init(&o);
    o.noise = dode_noise_new_seeded(3, NULL, 0);
    for (size_t i = 0; all[i] != NULL; i++) {
        char err[ERRLEN] = "";
        if (needs_jacobian(all[i]) || strcmp(all[i]->family, "cfg++") == 0)
            continue;       /* cfg++: guided models only, its NaN case is in check_cfgpp.c */
        double *x = test_xbar_T(NROWS, DIM, r.grid.sigma[0], 3);
        memcpy(r.xbar, x, NROWS * DIM * sizeof *x);
        const int rc = test_solve(all[i], r.ode, r.grid.sigma, STEPS, r.xbar, &o, &r.trace,
                                  err, sizeof err);
        ck_assert_msg(rc == DODE_ENONFINITE, "%s: %s (%s)", all[i]->name, dode_strerror(rc),
                      err);
        ck_assert_msg(strncmp(err, all[i]->name, strlen(all[i]->name)) == 0
                      && strstr(err, "step") != NULL && strstr(err, "nanmodel") != NULL,
                      "%s: message lacks the solver, step or model: %s", all[i]->name, err);
        const double s = reported_sigma(err);
        ck_assert_msg(s < bad && s >= r.grid.sigma[STEPS], "%s: sigma %g not in [%g, %g): %s",
                      all[i]->name, s, r.grid.sigma[STEPS], bad, err);
        assert_at_last_recorded_point(&r, all[i]->name);
        ck_assert_msg(dode_all_finite(r.xbar, NROWS * DIM) == DODE_OK, "%s", all[i]->name);
        free(x);
        tested++;
    }
    ck_assert_uint_ge(tested, 25);
    dode_noise_free(o.noise);
    rig_free(&r);
}
END_TEST

/* A step that overflows xbar is caught at the next model call ("the state is not
 * finite", inside the step that makes it), or, after the last step, by dode_solve. */
START_TEST(overflowing_state_stops_the_solve_naming_solver_and_step)
{
    static const char *const names[] = { "euler", "ddim", "heun", "rk4", "dpm2", "dpmpp2m",
                                         "unipc2", "dpm3m", NULL };
    dode_model m = { .name = "huge", .dim = DIM, .eps = huge_eps };
    rig r = rig_new(&m);
    const double sig2[3] = { 100.0, 50.0, 1.0 }, sig1[2] = { 100.0, 1.0 };
    for (size_t i = 0; names[i] != NULL; i++) {
        char err[ERRLEN] = "";
        const dode_solver_type *s = dode_solver_find(names[i]);
        memset(r.xbar, 0, NROWS * DIM * sizeof *r.xbar);
        int rc = test_solve(s, r.ode, sig2, 2, r.xbar, NULL, &r.trace, err, sizeof err);
        ck_assert_msg(rc == DODE_ENONFINITE, "%s: %s (%s)", names[i], dode_strerror(rc), err);
        ck_assert_msg(strncmp(err, names[i], strlen(names[i])) == 0 && strstr(err, "step ")
                      && strstr(err, "not finite at sigma = "), "%s: %s", names[i], err);
        assert_at_last_recorded_point(&r, names[i]);
        memset(r.xbar, 0, NROWS * DIM * sizeof *r.xbar);
        rc = test_solve(s, r.ode, sig1, 1, r.xbar, NULL, NULL, err, sizeof err);
        ck_assert_msg(rc == DODE_ENONFINITE, "%s: %s (%s)", names[i], dode_strerror(rc), err);
        ck_assert_msg(strncmp(err, names[i], strlen(names[i])) == 0
                      && strstr(err, "not finite"), "%s: %s", names[i], err);
    }
    rig_free(&r);
}
END_TEST

START_TEST(adaptive_solvers_report_an_exhausted_step_budget)
{
    static const char *const names[] = { "dpm-adaptive12", "dpm-adaptive23", "gsl:rk8pd",
                                         "gsl:rkf45", "gsl:msadams", NULL };
    dode_model *m = test_gmm2d();
    rig r = rig_new(m);
    for (size_t i = 0; names[i] != NULL; i++) {
        char err[ERRLEN] = "";
        dode_solver_opts o;
        dode_solver_opts_init(&o);
        o.adaptive.rtol = o.adaptive.atol = 1e-10;
        o.adaptive.max_steps = 3;
        const dode_solver_type *s = dode_solver_find(names[i]);
        const int rc = test_solve(s, r.ode, r.grid.sigma, STEPS, r.xbar, &o, &r.trace, err,
                                  sizeof err);
        ck_assert_msg(rc == DODE_EMAXITER, "%s: %s (%s)", names[i], dode_strerror(rc), err);
        ck_assert_msg(strncmp(err, names[i], strlen(names[i])) == 0
                      && strstr(err, "max_steps") != NULL, "%s: %s", names[i], err);
        /* the budget bounds the work: at most max_steps (+1 attempt) of <= 13 NFE (rk8pd) */
        ck_assert_msg(r.ode->nfe <= 4 * 13 + 13, "%s: %zu NFE", names[i], r.ode->nfe);
        assert_at_last_recorded_point(&r, names[i]);
    }
    rig_free(&r);
    dode_model_free(m);
}
END_TEST

/* An .npy image of the given dict and data bytes (format 1.0, 64-byte aligned). */
static size_t npy_image(unsigned char *buf, size_t cap, const char *dict, size_t data_len)
{
    const size_t n = strlen(dict), total = (10 + n + 1 + 63) / 64 * 64, hlen = total - 10;
    ck_assert_uint_le(total + data_len, cap);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memcpy(buf + 10, dict, n);
    memset(buf + 10 + n, ' ', hlen - n - 1);
    buf[total - 1] = '\n';
    memset(buf + total, 0, data_len);
    return total + data_len;
}

START_TEST(npy_with_10_to_the_12_rows_is_refused_before_allocating)
{
    unsigned char buf[256];
    char err[ERRLEN] = "";
    double *data = NULL;
    size_t rows = 7, cols = 7;
    const size_t len = npy_image(buf, sizeof buf, "{'descr': '<f8', 'fortran_order': False, "
                                 "'shape': (1000000000000, 2), }", 16);
    ck_assert_int_eq(dode_npy_parse(buf, len, "big.npy", &data, &rows, &cols, err, sizeof err),
                     DODE_EFORMAT);
    ck_assert_msg(strstr(err, "big.npy") && strstr(err, "exceeds the limit"), "%s", err);
    ck_assert(data == NULL && rows == 7 && cols == 7);
}
END_TEST

/* A shape under the element limit (2^34) but 64 GiB of data, in a file of 80 bytes: the
 * reader compares the file's size with the shape before allocating for it. */
START_TEST(npy_file_shorter_than_its_shape_is_refused_before_allocating)
{
    unsigned char buf[256];
    char err[ERRLEN] = "", path[] = "/tmp/check_guards.XXXXXX";
    double *data = NULL;
    size_t rows = 7, cols = 7;
    const size_t len = npy_image(buf, sizeof buf, "{'descr': '<f8', 'fortran_order': False, "
                                 "'shape': (8589934591, 1), }", 16);
    const int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
    close(fd);
    const int rc = dode_npy_read(path, &data, &rows, &cols, err, sizeof err);
    unlink(path);
    ck_assert_int_eq(rc, DODE_EFORMAT);
    ck_assert_msg(strstr(err, path) && strstr(err, "truncated"), "%s", err);
    ck_assert(data == NULL && rows == 7 && cols == 7);
}
END_TEST

START_TEST(safetensors_header_claiming_gigabytes_is_refused)
{
    unsigned char buf[16] = { 0 };
    char err[ERRLEN] = "";
    dode_safetensors *st = (dode_safetensors *)buf;        /* must stay untouched */
    const uint64_t claims[2] = { (uint64_t)1 << 40, DODE_SAFETENSORS_MAX_HEADER - 1 };
    for (size_t i = 0; i < 2; i++) {
        for (size_t b = 0; b < 8; b++)
            buf[b] = (unsigned char)(claims[i] >> (8 * b));
        memcpy(buf + 8, "{}      ", 8);
        ck_assert_int_eq(dode_safetensors_parse(buf, sizeof buf, "w.safetensors", &st, err,
                                                sizeof err), DODE_EFORMAT);
        ck_assert_msg(strstr(err, "w.safetensors") && strstr(err, "header"), "%s", err);
        ck_assert_ptr_eq(st, (dode_safetensors *)buf);
    }
}
END_TEST

START_TEST(absurd_batch_sizes_are_refused_before_allocating)
{
    char err[ERRLEN] = "";
    dode_model *m = test_gmm2d();
    dode_schedule *s = dode_schedule_new("vp-linear", err, sizeof err);
    ck_assert_ptr_null(dode_ode_new(m, s, SIZE_MAX / 2 + 1, err, sizeof err));  /* n d wraps */
    ck_assert_msg(strstr(err, "too large"), "%s", err);
    ck_assert_ptr_null(dode_ode_new(m, s, (size_t)1 << 40, err, sizeof err));   /* 16 TiB */
    ck_assert_msg(strstr(err, "too large"), "%s", err);
    size_t out = 5;
    ck_assert_int_eq(dode_mul_size(SIZE_MAX / 3, 4, &out), DODE_ENOMEM);
    ck_assert_uint_eq(out, 5);
    dode_schedule_free(s);
    dode_model_free(m);
}
END_TEST

static Suite *guards_suite(void)
{
    Suite *s = suite_create("guards");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, nan_eps_stops_every_solver_naming_it_the_step_and_sigma);
    tcase_add_test(tc, overflowing_state_stops_the_solve_naming_solver_and_step);
    tcase_add_test(tc, adaptive_solvers_report_an_exhausted_step_budget);
    tcase_add_test(tc, npy_with_10_to_the_12_rows_is_refused_before_allocating);
    tcase_add_test(tc, npy_file_shorter_than_its_shape_is_refused_before_allocating);
    tcase_add_test(tc, safetensors_header_claiming_gigabytes_is_refused);
    tcase_add_test(tc, absurd_batch_sizes_are_refused_before_allocating);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(guards_suite)
