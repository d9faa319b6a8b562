/* check_alloc.c - no heap allocation per NFE: a solve allocates the same number of times
 * at 10 steps as at 100 (a solver's per-solve workspace is allowed, one per NFE is not),
 * and a model's eps with its workspace allocates nothing, for the isotropic, diagonal and
 * full-covariance GMMs, the MLP and the ideal denoiser.
 *
 * This suite alone is linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc
 * (Makefile), so every malloc of the test and of libdiffode.a goes through the counters
 * below; calls inside shared libraries (GSL, OpenBLAS, libc) are not seen, which is what
 * we want. Under AddressSanitizer __real_malloc is ASan's interceptor, so nothing escapes
 * its checks. The counter is the one file-scope variable of the tests: --wrap leaves no
 * other place to keep it. */
#include "testutil.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *p, size_t size);

static size_t allocations;

void *__wrap_malloc(size_t size)
{
    allocations++;
    return __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size)
{
    allocations++;
    return __real_calloc(count, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    allocations++;
    return __real_realloc(p, size);
}

enum { ROWS = 64 };

/* Allocations made by dode_solve alone: `steps` steps of `solver` on ode from x_T. */
static size_t solve_allocations(const char *solver, dode_ode *ode, size_t steps)
{
    char err[ERRLEN];
    const dode_solver_type *s = dode_solver_find(solver);
    ck_assert_ptr_nonnull(s);
    dode_grid g = test_grid(ode->schedule, DODE_SPACING_LOGSNR, steps, 0);
    double *xbar = test_xbar_T(ode->n, ode->dim, g.sigma[0], 7);
    const size_t before = allocations;
    const int rc = dode_solve(s, ode, &g, xbar, NULL, NULL, err, sizeof err);
    const size_t made = allocations - before;
    ck_assert_msg(rc == DODE_OK, "%s: %s", solver, err);
    ck_assert_uint_eq(ode->nfe, steps * s->evals_per_step);
    free(xbar);
    dode_grid_free(&g);
    return made;
}

/* For euler, heun and dpmpp2m: the count does not grow with the number of NFEs, and
 * eps through the ode's workspace allocates nothing. Takes ownership of m. */
static void check_model(dode_model *m)
{
    static const char *const solvers[] = { "euler", "heun", "dpmpp2m" };
    char err[ERRLEN];
    dode_schedule *sched = dode_schedule_new("ddpm-linear", err, sizeof err);
    ck_assert_msg(sched != NULL, "%s", err);
    dode_ode *ode = dode_ode_new(m, sched, ROWS, err, sizeof err);
    ck_assert_msg(ode != NULL, "%s", err);
    for (size_t k = 0; k < sizeof solvers / sizeof solvers[0]; k++) {
        const size_t a10 = solve_allocations(solvers[k], ode, 10);
        const size_t a100 = solve_allocations(solvers[k], ode, 100);
        ck_assert_msg(a10 == a100, "%s on %s: %zu allocations at 10 steps, %zu at 100",
                      solvers[k], m->name, a10, a100);
    }
    double *x = test_xbar_T(ROWS, m->dim, 0.0, 3), *eps = malloc(ROWS * m->dim * sizeof *eps);
    int rc = DODE_OK;       /* asserted after counting: a passing ck_assert allocates */
    const size_t before = allocations;
    for (size_t n = 1; n <= ROWS; n *= 4)    /* any batch up to the workspace's rows */
        rc |= m->eps(m, ode->ws, n, x, 0.5, 0.7, eps);
    const size_t made = allocations - before;
    ck_assert_int_eq(rc, DODE_OK);
    ck_assert_uint_eq(made, 0);
    free(x);
    free(eps);
    dode_ode_free(ode);
    dode_model_free(m);
    dode_schedule_free(sched);
}

static const double W3[3] = { 0.5, 0.3, 0.2 };
static const double MU3[6] = { -1.5, 0.0, 1.5, 0.5, 0.0, 2.0 };

START_TEST(isotropic_gmm_solve_does_not_allocate_per_nfe)
{
    check_model(test_gmm2d());
}
END_TEST

START_TEST(diagonal_gmm_solve_does_not_allocate_per_nfe)
{
    static const double sd[6] = { 0.3, 0.2, 0.5, 0.4, 0.2, 0.6 };
    char err[ERRLEN];
    dode_model *m = dode_gmm_new(3, 2, W3, MU3, "diagonal", sd, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    check_model(m);
}
END_TEST

START_TEST(full_covariance_gmm_solve_does_not_allocate_per_nfe)
{
    static const double cov[12] = { 0.09, 0.03, 0.03, 0.04,   0.25, -0.1, -0.1, 0.16,
                                    0.04, 0.0, 0.0, 0.36 };
    char err[ERRLEN];
    dode_model *m = dode_gmm_new(3, 2, W3, MU3, "full", cov, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    check_model(m);
}
END_TEST

START_TEST(mlp_solve_does_not_allocate_per_nfe)
{
    const dode_mlp_arch a = { .dim = 2, .temb = 8, .nhidden = 2, .widths = { 16, 16 },
                              .schedule = "ddpm-linear", .prediction = DODE_PRED_V };
    char err[ERRLEN];
    dode_model *m = dode_mlp_model(test_mlp_new(&a, 5), err, sizeof err);   /* wrapped: v */
    ck_assert_msg(m != NULL, "%s", err);
    check_model(m);
}
END_TEST

START_TEST(ideal_denoiser_solve_does_not_allocate_per_nfe)
{
    enum { N = 700, D = 3 };       /* N > the 512 points of one eps chunk */
    double *pts = test_xbar_T(N, D, 0.0, 11);
    char err[ERRLEN];
    dode_model *m = dode_ideal_new(pts, N, D, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    free(pts);
    check_model(m);
}
END_TEST

/* The counter sees the library's allocations at all (else the tests above prove nothing). */
START_TEST(the_counter_sees_library_allocations)
{
    char err[ERRLEN];
    const size_t before = allocations;
    dode_model *m = test_gmm2d();
    ck_assert_uint_gt(allocations - before, 0);
    void *ws = NULL;
    const size_t mid = allocations;
    const int rc = dode_model_workspace_new(m, 4, &ws, err, sizeof err);
    const size_t made = allocations - mid;
    ck_assert_int_eq(rc, DODE_OK);
    ck_assert_uint_eq(made, 1);
    dode_model_workspace_free(m, ws);
    dode_model_free(m);
}
END_TEST

static Suite *alloc_suite(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, the_counter_sees_library_allocations);
    tcase_add_test(tc, isotropic_gmm_solve_does_not_allocate_per_nfe);
    tcase_add_test(tc, diagonal_gmm_solve_does_not_allocate_per_nfe);
    tcase_add_test(tc, full_covariance_gmm_solve_does_not_allocate_per_nfe);
    tcase_add_test(tc, mlp_solve_does_not_allocate_per_nfe);
    tcase_add_test(tc, ideal_denoiser_solve_does_not_allocate_per_nfe);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(alloc_suite)
