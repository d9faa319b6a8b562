/* check_sde.c - the noise source (noise.h) and the stochastic samplers (family "sde"):
 * the generator is the documented function of (seed, draw, row, coordinate); each sampler
 * reduces to the ODE solver it generalises when its noise is off; a seeded run does not
 * depend on the batch split and a noise file replays it bit for bit; DDIM with eta equals
 * DDIM's eq. 12 with the same noise; on Gaussian data every sampler reaches the data's law;
 * bad noise sources are refused with messages that say what the run needs. */
#include "testutil.h"
#include "../experiments/config.h"

#define DIM 2
#define SEED 5

/* The stochastic rows, with options that make each of them draw noise. */
typedef struct {
    const char *name;
    double eta;                 /* NAN: not given */
    double s_churn;             /* edm-sde */
} sde_case;

static const sde_case cases[] = {
    { "euler-a", NAN, 0 }, { "sde-dpm1", NAN, 0 }, { "sde-dpmpp1", NAN, 0 },
    { "dpmpp2m-sde", 0.7, 0 }, { "dpmpp3m-sde", NAN, 0 }, { "edm-sde", NAN, 8.0 },
    { "euler-maruyama", NAN, 0 },
    { "ddim", 0.6, 0 },
};
#define NCASES (sizeof cases / sizeof *cases)

static dode_solver_opts case_opts(const sde_case *c, dode_noise *noise)
{
    char err[ERRLEN], v[64];
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    o.noise = noise;
    if (!isnan(c->eta)) {
        snprintf(v, sizeof v, "%.17g", c->eta);
        ck_assert_msg(dode_solver_opts_set(&o, "eta", v, err, sizeof err) == DODE_OK, "%s", err);
    }
    if (c->s_churn > 0) {
        snprintf(v, sizeof v, "%.17g", c->s_churn);
        ck_assert(dode_solver_opts_set(&o, "s_churn", v, err, sizeof err) == DODE_OK);
        ck_assert(dode_solver_opts_set(&o, "s_tmax", "20", err, sizeof err) == DODE_OK);
    }
    return o;
}

/* Solves n rows (xbar in/out) of the Gaussian or the GMM with solver name on grid g. */
static void solve_rows(int gaussian, const char *name, const dode_grid *g,
                       const dode_solver_opts *o, size_t n, double *xbar)
{
    char err[ERRLEN];
    test_problem p = test_problem_new(gaussian, n);
    const dode_solver_type *s = dode_solver_find(name);
    ck_assert_msg(s != NULL, "%s", name);
    const int rc = dode_solve(s, p.ode, g, xbar, o, NULL, err, sizeof err);
    ck_assert_msg(rc == DODE_OK, "%s: %s", name, err);
    test_problem_free(&p);
}

static double max_rel_diff(const double *a, const double *b, size_t len)
{
    double num = 0, den = 0;
    for (size_t k = 0; k < len; k++) {
        num = fmax(num, fabs(a[k] - b[k]));
        den = fmax(den, fabs(b[k]));
    }
    return num / den;
}

/* ---- the generator ---- */

/* Random123's known answer for philox4x64_10 at counter 0, key 0 (kat_vectors), through
 * the documented map to normals: block q = 0 of row 0 at draw 0 under seed 0. */
START_TEST(seeded_draws_follow_the_documented_philox_box_muller_map)
{
    static const uint64_t w[4] = { UINT64_C(0x16554d9eca36314c), UINT64_C(0xdb20fe9d672d0fdc),
                                   UINT64_C(0xd7e772cee186176b), UINT64_C(0x7e68b68aec7ba23b) };
    for (int m = 0; m < 4; m += 2) {
        const double u0 = ((double)(w[m] >> 11) + 0.5) * 0x1p-53;
        const double u1 = ((double)(w[m + 1] >> 11) + 0.5) * 0x1p-53;
        const double r = sqrt(-2.0 * log(u0)), a = 6.283185307179586476925286766559 * u1;
        ck_assert_double_eq_tol(dode_noise_normal(0, 0, 0, (uint64_t)m), r * cos(a), 1e-15);
        ck_assert_double_eq_tol(dode_noise_normal(0, 0, 0, (uint64_t)m + 1), r * sin(a), 1e-15);
    }
}
END_TEST

/* z[k][i][j] depends on (seed, k, i, j) only: a batch of rows 3..5 gets rows 3..5 of the
 * batch 0..5, and every value is dode_noise_normal's. */
START_TEST(seeded_draws_do_not_depend_on_the_batch)
{
    enum { N = 6, D = 7 };
    double all[N * D], part[3 * D];
    dode_noise *s = dode_noise_new_seeded(11, NULL, 0);
    ck_assert_int_eq(dode_noise_fill(s, 4, N, D, all), DODE_OK);
    dode_noise_set_row0(s, 3);
    ck_assert_int_eq(dode_noise_fill(s, 4, 3, D, part), DODE_OK);
    ck_assert_int_eq(memcmp(all + 3 * D, part, sizeof part), 0);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < D; j++)
            ck_assert(all[i * D + j] == dode_noise_normal(11, 4, i, j));
    ck_assert(dode_noise_normal(11, 4, 0, 0) != dode_noise_normal(12, 4, 0, 0));
    ck_assert(dode_noise_normal(11, 4, 0, 0) != dode_noise_normal(11, 5, 0, 0));
    ck_assert_uint_eq(dode_noise_used(s), 5);
    dode_noise_free(s);
}
END_TEST

/* 2^18 draws: mean within 5 standard errors of 0 (1/sqrt(N)), variance within 5 of 1
 * (sqrt(2/N)), and the fourth moment of a normal, 3, within 5 of its sd sqrt(96/N). */
START_TEST(seeded_draws_are_standard_normal)
{
    enum { N = 1 << 18, D = 8 };
    double *z = malloc(N * sizeof *z);
    dode_noise *s = dode_noise_new_seeded(2026, NULL, 0);
    ck_assert_int_eq(dode_noise_fill(s, 0, N / D, D, z), DODE_OK);
    double m1 = 0, m2 = 0, m4 = 0;
    for (size_t k = 0; k < N; k++) {
        m1 += z[k];
        m2 += z[k] * z[k];
        m4 += z[k] * z[k] * z[k] * z[k];
    }
    m1 /= N, m2 /= N, m4 /= N;
    ck_assert_double_le(fabs(m1), 5.0 / sqrt(N));
    ck_assert_double_le(fabs(m2 - 1.0), 5.0 * sqrt(2.0 / N));
    ck_assert_double_le(fabs(m4 - 3.0), 5.0 * sqrt(96.0 / N));
    dode_noise_free(s);
    free(z);
}
END_TEST

/* ---- reductions to the ODE solvers ---- */

/* name with opts a against ode_name with opts b (NULL: the defaults), on logsnr grids of
 * 6 and 14 steps (lower_order_final on and off) with and without sigma = 0 at the end. */
static void assert_reduces_to_with(const char *name, const dode_solver_opts *a,
                                   const char *ode_name, const dode_solver_opts *bo)
{
    enum { N = 8 };
    test_problem p = test_problem_new(0, N);
    for (int k = 0; k < 4; k++) {
        dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, k < 2 ? 6 : 14, k % 2);
        double *x = test_xbar_T(N, DIM, g.sigma[0], SEED), *y = test_xbar_T(N, DIM,
                                                                          g.sigma[0], SEED);
        dode_solver_opts b;
        if (bo != NULL)
            b = *bo;
        else
            dode_solver_opts_init(&b);
        solve_rows(0, name, &g, a, N, x);
        solve_rows(0, ode_name, &g, &b, N, y);
        const double r = max_rel_diff(x, y, N * DIM);
        ck_assert_msg(r <= 1e-12, "%s vs %s, grid %d: relative difference %g", name,
                      ode_name, k, r);
        free(x);
        free(y);
        dode_grid_free(&g);
    }
    test_problem_free(&p);
}

static void assert_reduces_to(const char *name, const dode_solver_opts *a,
                              const char *ode_name)
{
    assert_reduces_to_with(name, a, ode_name, NULL);
}

/* With eta = 0 nothing is drawn: the noise source may be NULL, and a noise array far too
 * short for the run is ignored, not refused. */
START_TEST(samplers_without_noise_are_the_ode_solvers_they_generalise)
{
    char err[ERRLEN];
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    ck_assert(dode_solver_opts_set(&o, "eta", "0", err, sizeof err) == DODE_OK);
    assert_reduces_to("euler-a", &o, "euler");
    assert_reduces_to("dpmpp2m-sde", &o, "dpmpp2m");
    assert_reduces_to("sde-dpmpp1", &o, "ddim");
    dode_solver_opts taylor;                    /* k-diffusion's 3M warm-up step */
    dode_solver_opts_init(&taylor);
    ck_assert(dode_solver_opts_set(&taylor, "solver_type", "taylor", err, sizeof err) == DODE_OK);
    assert_reduces_to_with("dpmpp3m-sde", &o, "dpmpp3m", &taylor);
    const double one[DIM] = { 1e3, -1e3 };
    o.noise = dode_noise_new_array(one, 1, 1, DIM, err, sizeof err);
    assert_reduces_to("euler-a", &o, "euler");
    assert_reduces_to("dpmpp2m-sde", &o, "dpmpp2m");
    dode_noise_free(o.noise);
    dode_solver_opts_init(&o);                  /* s_churn = 0: EDM Algorithm 1 */
    assert_reduces_to("edm-sde", &o, "heun");
}
END_TEST

/* In xbar, k-diffusion's ancestral step is DDIM's with the same eta (sigma_up = su), and
 * SDE-DPM-Solver++1 is DDIM with eta = 1 (DDPM): same noise, same samples. */
START_TEST(ancestral_steps_are_ddim_with_the_same_eta_and_noise)
{
    enum { N = 8 };
    static const struct { const char *name; const char *eta; } rows[] = {
        { "euler-a", "0.5" }, { "euler-a", "1" }, { "sde-dpmpp1", "1" },
    };
    test_problem p = test_problem_new(0, N);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 12, 0);
    for (size_t r = 0; r < 3; r++) {
        char err[ERRLEN];
        dode_noise *noise = dode_noise_new_seeded(7, NULL, 0);
        dode_solver_opts o;
        dode_solver_opts_init(&o);
        o.noise = noise;
        ck_assert(dode_solver_opts_set(&o, "eta", rows[r].eta, err, sizeof err) == DODE_OK);
        double *x = test_xbar_T(N, DIM, g.sigma[0], SEED), *y = test_xbar_T(N, DIM,
                                                                          g.sigma[0], SEED);
        solve_rows(0, rows[r].name, &g, &o, N, x);
        solve_rows(0, "ddim", &g, &o, N, y);
        const double d = max_rel_diff(x, y, N * DIM);
        ck_assert_msg(d <= 1e-12, "%s eta %s vs ddim: %g", rows[r].name, rows[r].eta, d);
        free(x);
        free(y);
        dode_noise_free(noise);
    }
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* ---- DDIM eq. 12 with a given noise array ---- */

/* DDIM eq. 12 (Song et al. 2021) on x over alphas_cumprod: step k from level seq[k] to
 * seq[k-1] (abar = 1 after the last), sigma_t = eta sqrt((1 - a')/(1 - a)) sqrt(1 - a/a'),
 * x' = sqrt(a') x0 + sqrt(1 - a' - sigma_t^2) e + sigma_t z_k, z_k = noise[step] ([n][dim]). */
static void ddim_eq12_eta(const test_problem *p, const size_t *seq, size_t count, double eta,
                          const double *noise, size_t n, double *x)
{
    const double *acp = dode_schedule_alphas_cumprod(p->sched);
    const size_t N = dode_schedule_levels(p->sched), len = n * DIM;
    double *e = malloc(len * sizeof *e);
    for (size_t step = 0, k = count; k-- > 0; step++) {
        const double at = acp[seq[k]], an = k > 0 ? acp[seq[k - 1]] : 1.0;
        const double sigma = sqrt((1 - at) / at), t = (double)(seq[k] + 1) / (double)N;
        const double st = eta * sqrt((1 - an) / (1 - at)) * sqrt(1 - at / an);
        ck_assert_int_eq(test_eps(p->model, n, x, t, sigma, e), DODE_OK);
        for (size_t j = 0; j < len; j++) {
            const double x0 = (x[j] - sqrt(1 - at) * e[j]) / sqrt(at);
            x[j] = sqrt(an) * x0 + sqrt(1 - an - st * st) * e[j] + st * noise[step * len + j];
        }
    }
    free(e);
}

START_TEST(ddim_with_eta_from_a_noise_array_is_ddim_eq12)
{
    enum { N = 6, S = 10 };
    char err[ERRLEN];
    test_problem p = test_problem_new(0, N);
    const size_t levels = dode_schedule_levels(p.sched), len = N * DIM;
    dode_grid g = test_grid(p.sched, DODE_SPACING_DDIM_UNIFORM, S, 0);
    size_t seq[S], count = 0;
    for (size_t i = 0; i < levels; i += levels / S)
        seq[count++] = i;
    ck_assert_uint_eq(g.steps, count);
    double z[S * N * DIM];
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);      /* any array will do */
    for (size_t k = 0; k < S * len; k++)
        z[k] = gsl_ran_gaussian(rng, 1.0);
    gsl_rng_free(rng);
    for (int xspace = 0; xspace < 2; xspace++) {
        dode_noise *noise = dode_noise_new_array(z, S, N, DIM, err, sizeof err);
        ck_assert_msg(noise != NULL, "%s", err);
        dode_solver_opts o;
        dode_solver_opts_init(&o);
        o.noise = noise;
        o.ddim.eta = 0.8;
        o.ddim.xspace = xspace;
        double *xbar = test_xbar_T(N, DIM, g.sigma[0], SEED), x[N * DIM];
        const double at = dode_schedule_alphas_cumprod(p.sched)[seq[count - 1]];
        for (size_t j = 0; j < len; j++)
            x[j] = xbar[j] * sqrt(at);
        ddim_eq12_eta(&p, seq, count, 0.8, z, N, x);
        solve_rows(0, "ddim", &g, &o, N, xbar);          /* at sigma = 0: x = xbar */
        const double r = max_rel_diff(xbar, x, len);
        ck_assert_msg(r <= 1e-12, "xspace %d: DDIM eq. 12 vs ddim: %g", xspace, r);
        free(xbar);
        dode_noise_free(noise);
    }
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* ---- reproducibility ---- */

/* Rows 0..5 at once, then rows 0..1 and 2..5 as two batches (row0 set): bit-identical;
 * and a second run of the whole batch is too. */
START_TEST(a_seeded_run_does_not_depend_on_the_batch_split)
{
    enum { N = 6, CUT = 2 };
    test_problem p = test_problem_new(0, 1);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 10, 1);
    for (size_t c = 0; c < NCASES; c++) {
        dode_noise *noise = dode_noise_new_seeded(SEED, NULL, 0);
        dode_solver_opts o = case_opts(&cases[c], noise);
        double *all = test_xbar_T(N, DIM, g.sigma[0], SEED);
        double *again = test_xbar_T(N, DIM, g.sigma[0], SEED);
        double *split = test_xbar_T(N, DIM, g.sigma[0], SEED);
        const double *start = test_xbar_T(N, DIM, g.sigma[0], SEED);
        solve_rows(0, cases[c].name, &g, &o, N, all);
        solve_rows(0, cases[c].name, &g, &o, N, again);
        solve_rows(0, cases[c].name, &g, &o, CUT, split);
        dode_noise_set_row0(noise, CUT);
        solve_rows(0, cases[c].name, &g, &o, N - CUT, split + CUT * DIM);
        ck_assert_msg(memcmp(all, again, N * DIM * sizeof *all) == 0, "%s", cases[c].name);
        ck_assert_msg(memcmp(all, split, N * DIM * sizeof *all) == 0, "%s: split differs",
                      cases[c].name);
        ck_assert_msg(memcmp(all, start, N * DIM * sizeof *all) != 0, "%s", cases[c].name);
        free(all);
        free(again);
        free(split);
        free((double *)start);
        dode_noise_free(noise);
    }
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* Seeded run -> dode_noise_write (what --noise-out writes) -> dode_noise_read -> the
 * same samples bit for bit; the file scaled by 1.5 gives other samples (the file is
 * read). */
START_TEST(a_noise_file_replays_the_seeded_run_bit_for_bit)
{
    enum { N = 5 };
    char err[ERRLEN];
    char *path = test_tmp_path("sde", "noise.npy");
    test_problem p = test_problem_new(0, 1);
    dode_grid g = test_grid(p.sched, DODE_SPACING_KARRAS, 9, 0);
    for (size_t c = 0; c < NCASES; c++) {
        dode_noise *seeded = dode_noise_new_seeded(SEED + c, NULL, 0);
        dode_solver_opts o = case_opts(&cases[c], seeded);
        double *a = test_xbar_T(N, DIM, g.sigma[0], SEED), *b = test_xbar_T(N, DIM,
                                                                          g.sigma[0], SEED);
        double *s = test_xbar_T(N, DIM, g.sigma[0], SEED);
        solve_rows(0, cases[c].name, &g, &o, N, a);
        const size_t used = dode_noise_used(seeded);
        ck_assert_msg(used == g.steps, "%s announced %zu draws", cases[c].name, used);
        ck_assert_msg(dode_noise_write(seeded, path, used, N, DIM, err, sizeof err) == DODE_OK,
                      "%s", err);
        dode_noise *file = dode_noise_read(path, err, sizeof err);
        ck_assert_msg(file != NULL, "%s", err);
        o.noise = file;
        solve_rows(0, cases[c].name, &g, &o, N, b);
        ck_assert_msg(memcmp(a, b, N * DIM * sizeof *a) == 0, "%s: replay differs",
                      cases[c].name);
        double *z = NULL;
        size_t shape[3];
        ck_assert(dode_npy_read3(path, &z, shape, err, sizeof err) == DODE_OK);
        for (size_t k = 0; k < shape[0] * shape[1] * shape[2]; k++)
            z[k] *= 1.5;
        dode_noise *scaled = dode_noise_new_array(z, shape[0], shape[1], shape[2], NULL, 0);
        o.noise = scaled;
        solve_rows(0, cases[c].name, &g, &o, N, s);
        ck_assert_msg(memcmp(a, s, N * DIM * sizeof *a) != 0, "%s ignores its noise",
                      cases[c].name);
        free(z);
        free(a);
        free(b);
        free(s);
        dode_noise_free(scaled);
        dode_noise_free(file);
        dode_noise_free(seeded);
    }
    test_rm_path(path);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* ---- the law on Gaussian data ---- */

/* The exact law (law.h) of case c's output at the end of g on test_gauss2d, from
 * x_T ~ N(0, I), i.e. xbar_T ~ N(0, 1 + sigma_T^2); also the data law there. */
static void exact_law(const sde_case *c, const dode_grid *g, double mean[DIM],
                      double var[DIM], double data_mean[DIM], double data_var[DIM])
{
    char err[ERRLEN];
    test_problem p = test_problem_new(1, 1);
    dode_solver_opts o = case_opts(c, NULL);
    const double s0 = g->sigma[0], se = g->sigma[g->steps];
    const double mT[DIM] = { 0, 0 }, vT[DIM] = { 1 + s0 * s0, 1 + s0 * s0 };
    const int rc = dode_affine_law(dode_solver_find(c->name), p.model, p.sched, g, &o, mT, vT,
                                   mean, var, err, sizeof err);
    ck_assert_msg(rc == DODE_OK, "%s: %s", c->name, err);
    data_mean[0] = 1.0, data_mean[1] = -0.5;          /* test_gauss2d: N(mu, 0.5^2 I) */
    data_var[0] = data_var[1] = 0.25 + se * se;
    test_problem_free(&p);
}

/* Each sampler at 30 steps, n = 20000 seeded rows: the sample mean and variance of each
 * coordinate lie within 5 standard errors (sqrt(v / n), v sqrt(2 / (n - 1))) of the exact
 * law's. At 30 steps the exact law is still far from the data's (W2 up to 0.1), so a
 * noise of the wrong scale or a draw used twice fails by many standard errors. */
START_TEST(monte_carlo_runs_match_the_exact_affine_law)
{
    enum { N = 20000, S = 30 };
    test_problem p = test_problem_new(1, 1);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, S, 0);
    for (size_t c = 0; c < NCASES; c++) {
        double me[DIM], ve[DIM], dm[DIM], dv[DIM];
        exact_law(&cases[c], &g, me, ve, dm, dv);
        dode_noise *noise = dode_noise_new_seeded(100 + c, NULL, 0);
        dode_solver_opts o = case_opts(&cases[c], noise);
        double *x = test_xbar_T(N, DIM, g.sigma[0], 200 + c);
        solve_rows(1, cases[c].name, &g, &o, N, x);
        for (size_t j = 0; j < DIM; j++) {
            double m = 0, q = 0;
            for (size_t i = 0; i < N; i++)
                m += x[i * DIM + j];
            m /= N;
            for (size_t i = 0; i < N; i++)
                q += (x[i * DIM + j] - m) * (x[i * DIM + j] - m);
            q /= N - 1;
            const double zm = (m - me[j]) / sqrt(ve[j] / N);
            const double zv = (q - ve[j]) / (ve[j] * sqrt(2.0 / (N - 1)));
            ck_assert_msg(fabs(zm) < 5 && fabs(zv) < 5, "%s coordinate %zu: mean %g (z %.2f),"
                          " variance %g (z %.2f); exact %g and %g", cases[c].name, j, m, zm, q,
                          zv, me[j], ve[j]);
        }
        free(x);
        dode_noise_free(noise);
    }
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* Weak convergence, exactly (no sampling error): W2 from each sampler's output law to the
 * data law at NFE 100 and 200. Euler-Maruyama, Euler ancestral and DDIM with eta have weak
 * order 1 (Kloeden and Platen 1992, Thm 14.5.2 for EM): observed order 1 within 0.1. The
 * others converge at least as fast (measured about 2 on this problem: docs/stochastic.md). */
START_TEST(exact_laws_converge_to_the_data_law_in_w2)
{
    test_problem p = test_problem_new(1, 1);
    for (size_t c = 0; c < NCASES; c++) {
        const dode_solver_type *s = dode_solver_find(cases[c].name);
        double w2[2];
        for (int k = 0; k < 2; k++) {
            dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR,
                                    (size_t)(100 << k) / (size_t)s->evals_per_step, 0);
            double me[DIM], ve[DIM], dm[DIM], dv[DIM];
            exact_law(&cases[c], &g, me, ve, dm, dv);
            w2[k] = dode_w2_diag(me, ve, dm, dv, DIM);
            dode_grid_free(&g);
        }
        const double order = log2(w2[0] / w2[1]);
        const int first = strcmp(cases[c].name, "euler-a") == 0 || strcmp(cases[c].name, "ddim")
                          == 0 || strcmp(cases[c].name, "euler-maruyama") == 0;
        ck_assert_msg(first ? fabs(order - 1.0) < 0.1 : order > 0.9, "%s: W2 %g -> %g, "
                      "observed order %.3f", cases[c].name, w2[0], w2[1], order);
    }
    test_problem_free(&p);
}
END_TEST

/* x_T ~ N(0, I) is not the model's marginal at sigma_T (variance 1 + sigma_T^2 against
 * 0.25 + sigma_T^2): an ODE solver carries that start error to the end, the SDE samplers
 * contract it. At NFE 1000 dpmpp2m's W2 is the exact flow's own (within 1e-4), and
 * sde-dpm1's is below a tenth of it. */
START_TEST(sde_samplers_forget_the_start_error_that_the_ode_keeps)
{
    char err[ERRLEN];
    test_problem p = test_problem_new(1, 1);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 1000, 0);
    const double s0 = g.sigma[0], se = g.sigma[g.steps];
    /* the exact flow is affine too: its law from the probes 0 and 1 */
    double probe[2 * DIM] = { 0, 0, 1, 1 }, out[2 * DIM];
    dode_reference_opts ro;
    dode_reference_opts_init(&ro);
    ro.method = DODE_REFERENCE_EXACT;
    ck_assert_msg(dode_reference(p.model, p.sched, 2, s0, se, probe, out, &ro, NULL, NULL, err,
                                 sizeof err) == DODE_OK, "%s", err);
    double mf[DIM], vf[DIM], dm[DIM] = { 1.0, -0.5 }, dv[DIM];
    for (size_t j = 0; j < DIM; j++) {
        mf[j] = out[j];
        vf[j] = (out[DIM + j] - out[j]) * (out[DIM + j] - out[j]) * (1 + s0 * s0);
        dv[j] = 0.25 + se * se;
    }
    const double floor_w2 = dode_w2_diag(mf, vf, dm, dv, DIM);
    static const sde_case ode = { "dpmpp2m", NAN, 0 }, sde = { "sde-dpm1", NAN, 0 };
    double me[DIM], ve[DIM];
    exact_law(&ode, &g, me, ve, dm, dv);
    const double w_ode = dode_w2_diag(me, ve, dm, dv, DIM);
    exact_law(&sde, &g, me, ve, dm, dv);
    const double w_sde = dode_w2_diag(me, ve, dm, dv, DIM);
    ck_assert_msg(fabs(w_ode - floor_w2) < 1e-4 && w_sde < 0.1 * floor_w2,
                  "exact flow %g, dpmpp2m %g, sde-dpm1 %g", floor_w2, w_ode, w_sde);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* A map that is not affine is refused: static thresholding clips x0 at 1, which the
 * data mean 1 of coordinate 0 straddles. */
START_TEST(the_affine_law_refuses_a_map_that_is_not_affine)
{
    char err[ERRLEN];
    test_problem p = test_problem_new(1, 1);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 10, 0);
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    ck_assert(dode_solver_opts_set(&o, "thresholding", "static", err, sizeof err) == DODE_OK);
    ck_assert(dode_solver_opts_set(&o, "clip_value", "1", err, sizeof err) == DODE_OK);
    const double mT[DIM] = { 0, 0 }, vT[DIM] = { 1 + g.sigma[0] * g.sigma[0], 1 };
    double me[DIM] = { 7, 7 }, ve[DIM] = { 7, 7 };
    ck_assert_int_eq(dode_affine_law(dode_solver_find("dpmpp2m"), p.model, p.sched, &g, &o, mT,
                                     vT, me, ve, err, sizeof err), DODE_EUNSUPPORTED);
    ck_assert_msg(strstr(err, "not affine") != NULL, "%s", err);
    ck_assert(me[0] == 7 && ve[0] == 7);
    ck_assert_int_eq(dode_affine_law(NULL, p.model, p.sched, &g, &o, mT, vT, me, ve, err,
                                     sizeof err), DODE_EINVAL);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* ---- strong (pathwise) order ---- */

/* One Brownian path in the time sigma on a fine logsnr grid of SF steps: increment f is
 * dW_f = sqrt(sigma_f - sigma_{f+1}) xi_f, xi_f draw f of a seeded source. A coarse grid
 * takes every m-th fine point, and its draws are the path's increments as the sampler
 * reads them: Euler-Maruyama's noise sqrt(2 sigma (sigma - sigma')) z is
 * sqrt(2 sigma) (W(sigma') - W(sigma)), so z = sum dW_f / sqrt(sigma - sigma'); sde-dpm1's
 * sqrt(sigma^2 - sigma'^2) z is the Ito integral of sqrt(2 u) dW(u) over the step, so
 * z = sum sqrt(2 sigma_f) dW_f / sqrt(sigma^2 - sigma'^2). Fills z ([S][n][dim]). */
static void coarse_draws(const double *fine, const double *xi, size_t sf, size_t m, size_t n,
                         int ito, double *z)
{
    const size_t len = n * DIM, steps = sf / m;
    for (size_t c = 0; c < steps; c++) {
        const double s = fine[c * m], sn = fine[(c + 1) * m];
        const double scale = ito ? sqrt(s * s - sn * sn) : sqrt(s - sn);
        for (size_t k = 0; k < len; k++) {
            double w = 0;
            for (size_t f = c * m; f < (c + 1) * m; f++)
                w += (ito ? sqrt(2 * fine[f]) : 1.0) * sqrt(fine[f] - fine[f + 1]) * xi[f * len + k];
            z[c * len + k] = w / scale;
        }
    }
}

/* name on the coarse grid (every m-th point of fine) from xbar_T with the path's draws. */
static double *coarse_solve(const char *name, const test_problem *p, const double *fine,
                            const double *xi, size_t sf, size_t m, size_t n, int ito)
{
    char err[ERRLEN];
    const size_t steps = sf / m, len = n * DIM;
    double *sig = malloc((steps + 1) * sizeof *sig), *z = malloc(steps * len * sizeof *z);
    for (size_t c = 0; c <= steps; c++)
        sig[c] = fine[c * m];
    coarse_draws(fine, xi, sf, m, n, ito, z);
    dode_noise *noise = dode_noise_new_array(z, steps, n, DIM, err, sizeof err);
    ck_assert_msg(noise != NULL, "%s", err);
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    o.noise = noise;
    double *x = test_xbar_T(n, DIM, sig[0], SEED);
    const dode_grid g = { .steps = steps, .sigma = sig, .spacing = DODE_SPACING_LOGSNR };
    const int rc = dode_solve(dode_solver_find(name), p->ode, &g, x, &o, NULL, err, sizeof err);
    ck_assert_msg(rc == DODE_OK, "%s: %s", name, err);
    dode_noise_free(noise);
    free(z);
    free(sig);
    return x;
}

/* On the Gaussian, against Euler-Maruyama on the fine grid driven by the same path: the
 * RMS pathwise error of Euler-Maruyama and sde-dpm1 at 64 and 128 steps halves, strong
 * order 1 within 0.1 (additive noise: Kloeden and Platen 1992, Thm 10.2.2). (On the GMM
 * the pathwise error is dominated by the few paths that end in another mode than the
 * reference's, and is not yet in its asymptotic regime at 1000 steps.) */
START_TEST(euler_maruyama_and_sde_dpm1_have_strong_order_one)
{
    enum { N = 400, SF = 2048 };
    static const char *const names[] = { "euler-maruyama", "sde-dpm1" };
    test_problem p = test_problem_new(1, N);
    dode_grid fine = test_grid(p.sched, DODE_SPACING_LOGSNR, SF, 0);
    const size_t len = N * DIM;
    double *xi = malloc(SF * len * sizeof *xi);
    dode_noise *src = dode_noise_new_seeded(9, NULL, 0);
    for (size_t f = 0; f < SF; f++)
        ck_assert_int_eq(dode_noise_fill(src, f, N, DIM, xi + f * len), DODE_OK);
    double *ref = coarse_solve("euler-maruyama", &p, fine.sigma, xi, SF, 1, N, 0);
    for (int s = 0; s < 2; s++) {
        double e[2];
        for (int k = 0; k < 2; k++) {
            double *x = coarse_solve(names[s], &p, fine.sigma, xi, SF, (size_t)(32 >> k), N, s);
            e[k] = test_rmse(x, ref, len);
            free(x);
        }
        const double order = log2(e[0] / e[1]);
        ck_assert_msg(fabs(order - 1.0) < 0.1, "%s: strong error %g -> %g, order %.3f",
                      names[s], e[0], e[1], order);
    }
    free(ref);
    free(xi);
    dode_noise_free(src);
    dode_grid_free(&fine);
    test_problem_free(&p);
}
END_TEST

/* ---- refusals ---- */

/* Runs name on p with opts o on grid g and expects code and a message with want; xbar
 * must be unchanged and no model evaluated. */
static void expect_refused(test_problem *p, const char *name, const dode_grid *g,
                           const dode_solver_opts *o, int code, const char *want)
{
    char err[ERRLEN] = "";
    double *x = test_xbar_T(p->ode->n, DIM, g->sigma[0], SEED);
    double *x0 = test_xbar_T(p->ode->n, DIM, g->sigma[0], SEED);
    const int rc = dode_solve(dode_solver_find(name), p->ode, g, x, o, NULL, err, sizeof err);
    ck_assert_msg(rc == code, "%s: %s (%s)", name, dode_strerror(rc), err);
    ck_assert_msg(strstr(err, want) != NULL && strncmp(err, name, strlen(name)) == 0,
                  "%s: message \"%s\" lacks \"%s\"", name, err, want);
    ck_assert_msg(memcmp(x, x0, p->ode->n * DIM * sizeof *x) == 0, "%s changed xbar", name);
    ck_assert_uint_eq(p->ode->nfe, 0);
    free(x);
    free(x0);
}

START_TEST(bad_noise_sources_are_refused_with_what_the_run_needs)
{
    enum { N = 4 };
    char err[ERRLEN];
    test_problem p = test_problem_new(0, N);
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 8, 0);
    double z[9 * 5 * 3] = { 0 };
    static const struct { size_t draws, rows, dim; const char *want; } bad[] = {
        { 7, N, DIM, "noise array has 7 draws of (4, 2); this run needs 8 draws of (4, 2)" },
        { 9, N - 1, DIM, "needs 8 draws of (4, 2)" },
        { 9, N, 3, "needs 8 draws of (4, 2)" },
    };
    for (size_t b = 0; b < 3; b++) {
        dode_noise *noise = dode_noise_new_array(z, bad[b].draws, bad[b].rows, bad[b].dim,
                                                 err, sizeof err);
        ck_assert_msg(noise != NULL, "%s", err);
        for (size_t c = 0; c < NCASES; c++) {
            dode_solver_opts o = case_opts(&cases[c], noise);
            expect_refused(&p, cases[c].name, &g, &o, DODE_EINVAL, bad[b].want);
        }
        dode_noise_free(noise);
    }
    for (size_t c = 0; c < NCASES - 1; c++) {       /* ddim: dode_solver_opts_check's own */
        dode_solver_opts o = case_opts(&cases[c], NULL);
        expect_refused(&p, cases[c].name, &g, &o, DODE_EINVAL, "needs a noise source");
    }
    dode_noise *big = dode_noise_new_array(z, 9, N, DIM, NULL, 0);   /* shard past its rows */
    dode_noise_set_row0(big, 1);
    dode_solver_opts o = case_opts(&cases[0], big);
    expect_refused(&p, "euler-a", &g, &o, DODE_EINVAL, "needs 8 draws of (5, 2) (rows counted");
    dode_noise_free(big);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

START_TEST(noise_arrays_and_files_with_bad_content_are_refused)
{
    char err[ERRLEN];
    double z[12] = { 0 };
    z[7] = NAN;
    ck_assert_ptr_null(dode_noise_new_array(z, 2, 3, 2, err, sizeof err));
    ck_assert_msg(strstr(err, "draw 1, row 0, column 1") != NULL, "%s", err);
    ck_assert_ptr_null(dode_noise_new_array(z, 0, 3, 2, err, sizeof err));
    ck_assert_msg(strstr(err, "empty") != NULL, "%s", err);
    char *path = test_tmp_path("sde", "flat.npy");
    const double flat[6] = { 0 };
    ck_assert(dode_npy_write(path, flat, 3, 2, err, sizeof err) == DODE_OK);
    ck_assert_ptr_null(dode_noise_read(path, err, sizeof err));
    ck_assert_msg(strstr(err, "2 dimensions; expected 3") != NULL
                  && strstr(err, "(draws, n, dim)") != NULL, "%s", err);
    test_rm_path(path);
    ck_assert_ptr_null(dode_noise_read("/nonexistent/noise.npy", err, sizeof err));
    ck_assert_msg(strstr(err, "/nonexistent/noise.npy") != NULL, "%s", err);
}
END_TEST

START_TEST(samplers_refuse_rising_grids_and_churn_beyond_the_schedule)
{
    enum { N = 3 };
    test_problem p = test_problem_new(0, N);
    dode_noise *noise = dode_noise_new_seeded(1, NULL, 0);
    const double up[3] = { 0.5, 1.0, 2.0 };
    const dode_grid rising = { .steps = 2, .sigma = (double *)up, .spacing = DODE_SPACING_LOGSNR };
    for (size_t c = 0; c + 1 < NCASES; c++) {
        dode_solver_opts o = case_opts(&cases[c], noise);
        expect_refused(&p, cases[c].name, &rising, &o, DODE_EINVAL, "decreasing grid");
    }
    char err[ERRLEN];
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 8, 0);
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    o.noise = noise;
    ck_assert(dode_solver_opts_set(&o, "s_churn", "4", err, sizeof err) == DODE_OK);
    expect_refused(&p, "edm-sde", &g, &o, DODE_EINVAL, "lower s_tmax or s_churn");
    dode_grid_free(&g);
    dode_noise_free(noise);
    test_problem_free(&p);
}
END_TEST

/* ---- the command ---- */

/* sample --noise-out, then --noise: the same x_0 file; a deterministic solver's
 * --noise-out and a short file are refused (exit 2) with the reason, leaving no output. */
START_TEST(sample_replays_its_noise_out_and_refuses_bad_noise)
{
    char *dir = test_tmpdir("sde_cli");
    char out[8192], errs[8192], a[512], b[512], n[512];
    snprintf(a, sizeof a, "%s/a.npy", dir);
    snprintf(b, sizeof b, "%s/b.npy", dir);
    snprintf(n, sizeof n, "%s/noise.npy", dir);
    const char *run1[] = { "sample", "--model", "gaussian:dim=2", "--solver", "dpmpp2m-sde",
                           "--nfe", "8", "--n", "5", "--seed", "3", "--out", a, "--noise-out",
                           n, NULL };
    ck_assert_int_eq(test_run_diffode(dir, run1, out, errs, sizeof out), 0);
    ck_assert_msg(strstr(out, "\"noise_draws\":8") != NULL, "%s", out);
    const char *run2[] = { "sample", "--model", "gaussian:dim=2", "--solver", "dpmpp2m-sde",
                           "--nfe", "8", "--n", "5", "--seed", "3", "--out", b, "--noise", n,
                           NULL };
    ck_assert_int_eq(test_run_diffode(dir, run2, out, errs, sizeof out), 0);
    char ta[4096], tb[4096];
    test_slurp(a, ta, sizeof ta);
    test_slurp(b, tb, sizeof tb);
    ck_assert_int_eq(memcmp(ta, tb, 128 + 5 * 2 * 8), 0);
    const char *longer[] = { "sample", "--model", "gaussian:dim=2", "--solver", "euler-a",
                             "--nfe", "9", "--n", "5", "--noise", n, "--out", b, NULL };
    unlink(b);
    ck_assert_int_eq(test_run_diffode(dir, longer, out, errs, sizeof out), 2);
    ck_assert_msg(strstr(errs, "has 8 draws of (5, 2); this run needs 9 draws of (5, 2)"),
                  "%s", errs);
    ck_assert_int_ne(access(b, F_OK), 0);
    const char *det[] = { "sample", "--model", "gaussian:dim=2", "--solver", "euler",
                          "--out", b, "--noise-out", n, NULL };
    ck_assert_int_eq(test_run_diffode(dir, det, out, errs, sizeof out), 2);
    ck_assert_msg(strstr(errs, "--noise-out") && strstr(errs, "euler drew no noise"), "%s", errs);
    ck_assert_int_ne(access(b, F_OK), 0);
    test_rm_tree(dir);
}
END_TEST

/* noise = PATH in [experiment]: a good file is kept (its path), a 2-D one is refused
 * with the config's file, line and key. */
START_TEST(configs_take_a_noise_file_and_refuse_a_bad_one)
{
    char err[ERRLEN], text[1024];
    char *good = test_tmp_path("sde", "cfg_noise.npy"), *flat = test_tmp_path("sde", "flat2.npy");
    dode_noise *s = dode_noise_new_seeded(3, NULL, 0);
    ck_assert(dode_noise_write(s, good, 8, 4, 2, err, sizeof err) == DODE_OK);
    const double z[8] = { 0 };
    ck_assert(dode_npy_write(flat, z, 4, 2, err, sizeof err) == DODE_OK);
    for (int bad = 0; bad < 2; bad++) {
        snprintf(text, sizeof text, "[experiment]\nname = n\nsamples = 4\nnoise = %s\n"
                 "[model g]\nspec = gaussian:dim=2\n[sweep]\nschedules = vp-linear\n"
                 "solvers = euler-a\nnfe = 8\n",
                 bad ? flat : good);
        exp_config cfg;
        const int rc = exp_config_parse(text, "noise_test.ini", &cfg, err, sizeof err);
        if (bad) {
            ck_assert_int_eq(rc, DODE_EFORMAT);
            ck_assert_msg(strstr(err, "noise_test.ini:4") && strstr(err, "noise")
                          && strstr(err, "expected 3 dimensions"), "%s", err);
        } else {
            ck_assert_msg(rc == DODE_OK, "%s", err);
            ck_assert_str_eq(cfg.noise, good);
            exp_config_free(&cfg);
        }
    }
    dode_noise_free(s);
    test_rm_path(good);
    test_rm_path(flat);
}
END_TEST

static Suite *sde_suite(void)
{
    Suite *s = suite_create("sde");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, seeded_draws_follow_the_documented_philox_box_muller_map);
    tcase_add_test(tc, seeded_draws_do_not_depend_on_the_batch);
    tcase_add_test(tc, seeded_draws_are_standard_normal);
    tcase_add_test(tc, samplers_without_noise_are_the_ode_solvers_they_generalise);
    tcase_add_test(tc, ancestral_steps_are_ddim_with_the_same_eta_and_noise);
    tcase_add_test(tc, ddim_with_eta_from_a_noise_array_is_ddim_eq12);
    tcase_add_test(tc, a_seeded_run_does_not_depend_on_the_batch_split);
    tcase_add_test(tc, a_noise_file_replays_the_seeded_run_bit_for_bit);
    tcase_add_test(tc, monte_carlo_runs_match_the_exact_affine_law);
    tcase_add_test(tc, exact_laws_converge_to_the_data_law_in_w2);
    tcase_add_test(tc, sde_samplers_forget_the_start_error_that_the_ode_keeps);
    tcase_add_test(tc, the_affine_law_refuses_a_map_that_is_not_affine);
    tcase_add_test(tc, euler_maruyama_and_sde_dpm1_have_strong_order_one);
    tcase_add_test(tc, bad_noise_sources_are_refused_with_what_the_run_needs);
    tcase_add_test(tc, noise_arrays_and_files_with_bad_content_are_refused);
    tcase_add_test(tc, samplers_refuse_rising_grids_and_churn_beyond_the_schedule);
    tcase_add_test(tc, sample_replays_its_noise_out_and_refuses_bad_noise);
    tcase_add_test(tc, configs_take_a_noise_file_and_refuse_a_bad_one);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(sde_suite)
