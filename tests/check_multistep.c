/* check_multistep.c - the multistep baselines (solvers/ipndm.c, deis.c, pndm.c, lms.c).
 *
 * Problem: the 2-D GMM of testutil.h (MATH.md section 8), 64 points x_T ~ N(0, I), grids
 * over the schedule's default range; errors are RMSEs of xbar at the last point against
 * gsl:rk8pd at rtol = atol = 1e-12 in log sigma (as check_dpm.c).
 *
 * Orders: log2(e(N)/e(2N)) at a pair chosen from a scan of N = 8 .. 8192: the first pair
 * where the order has settled. Every method starts with lower-order steps (Euler first),
 * whose O(h^2) error is small at sigma_max (epsh is nearly linear there) but eventually
 * dominates a fourth-order method: LMS/rhoAB3 show 3.94, 3.96, then 3.91, 3.59 at N =
 * 1024 .. 8192 on karras grids (karras puts fewer steps at large sigma than logsnr, where
 * they stay below 3.92); so the fourth-order rows use karras at 1024. DEIS tAB steps in t,
 * and on a discrete schedule sigma(t) has a kink at every level, which caps its order once
 * steps approach the level spacing: its rows use vp-linear. iPNDM_v's fourth-order
 * weights (diff-sampler's) sum to the step only when consecutive step ratios are equal,
 * which a logsnr grid's are (geometric in sigma): its row uses logsnr.
 *
 * References: each method is also written here in its reference's own variables and
 * formulas (k-diffusion's x, sigma, denoised; diff-sampler's d_cur; DEIS's x-space psi and
 * quadrature; diffusers' alphas_cumprod) and the whole trajectory compared to 1e-12. */
#include <gsl/gsl_integration.h>
#include <string.h>

#include "testutil.h"

#define NROWS 64
#define DIM 2
#define SEED 1
#define LEN (NROWS * DIM)

static test_problem problem_on(const char *schedule)
{
    test_problem p = test_problem_new(0, NROWS);
    char err[ERRLEN];
    dode_ode_free(p.ode);
    dode_schedule_free(p.sched);
    p.sched = dode_schedule_new(schedule, err, sizeof err);
    ck_assert_msg(p.sched != NULL, "%s", err);
    p.ode = dode_ode_new(p.model, p.sched, NROWS, err, sizeof err);
    ck_assert_msg(p.ode != NULL, "%s", err);
    return p;
}

/* Runs name on g from the seeded x_T; xbar in place, trace optional; returns the NFE. */
static size_t run_on(const test_problem *p, const char *name, const dode_grid *g, double *xbar,
                     dode_trace *tr)
{
    char err[ERRLEN];
    const dode_solver_type *s = dode_solver_find(name);
    ck_assert_msg(s != NULL, "no solver %s", name);
    int rc = dode_solve(s, p->ode, g, xbar, NULL, tr, err, sizeof err);
    ck_assert_msg(rc == DODE_OK, "%s: %s", name, err);
    return p->ode->nfe;
}

static double *reference(const test_problem *p, double from, double to)
{
    double *ref = test_xbar_T(NROWS, DIM, from, SEED);
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    o.adaptive.rtol = o.adaptive.atol = 1e-12;
    o.generic.variable = DODE_VAR_LOGSIGMA;
    const double ends[2] = { from, to };
    char err[ERRLEN];
    int rc = test_solve(dode_solver_find("gsl:rk8pd"), p->ode, ends, 1, ref, &o, NULL, err,
                        sizeof err);
    ck_assert_msg(rc == DODE_OK, "%s", err);
    return ref;
}

static double final_error(const test_problem *p, const char *name, dode_spacing sp, size_t N,
                          const double *ref)
{
    dode_grid g = test_grid(p->sched, sp, N, 0);
    double *x = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    run_on(p, name, &g, x, NULL);
    const double e = test_rmse(x, ref, LEN);
    free(x);
    dode_grid_free(&g);
    return e;
}

/* ---- observed orders ---------------------------------------------------------------- */

typedef struct {
    const char *name, *schedule;
    dode_spacing spacing;
    size_t N;                 /* the pair N, 2N */
} order_row;

static const order_row order_table[] = {
    { "ipndm1", "ddpm-linear", DODE_SPACING_LOGSNR, 1024 },
    { "ipndm2", "ddpm-linear", DODE_SPACING_LOGSNR, 1024 },
    { "ipndm3", "ddpm-linear", DODE_SPACING_LOGSNR, 2048 },
    { "ipndm4", "ddpm-linear", DODE_SPACING_LOGSNR, 1024 },
    { "ipndm-v2", "ddpm-linear", DODE_SPACING_LOGSNR, 1024 },
    { "ipndm-v3", "ddpm-linear", DODE_SPACING_KARRAS, 2048 },
    { "ipndm-v4", "ddpm-linear", DODE_SPACING_LOGSNR, 2048 },
    { "deis-tab1", "vp-linear", DODE_SPACING_LOGSNR, 2048 },
    { "deis-tab2", "vp-linear", DODE_SPACING_LOGSNR, 2048 },
    { "deis-tab3", "vp-linear", DODE_SPACING_KARRAS, 1024 },
    { "deis-rhoab1", "ddpm-linear", DODE_SPACING_LOGSNR, 1024 },
    { "deis-rhoab2", "ddpm-linear", DODE_SPACING_LOGSNR, 2048 },
    { "deis-rhoab3", "ddpm-linear", DODE_SPACING_KARRAS, 1024 },
    { "pndm", "ddpm-linear", DODE_SPACING_LOGSNR, 1024 },
    { "plms", "ddpm-linear", DODE_SPACING_LOGSNR, 1024 },
    { "lms", "ddpm-linear", DODE_SPACING_KARRAS, 1024 },
};

START_TEST(observed_order_is_the_theoretical_order)
{
    const order_row *r = &order_table[_i];
    test_problem p = problem_on(r->schedule);
    dode_grid g = test_grid(p.sched, r->spacing, 8, 0);
    double *ref = reference(&p, g.sigma[0], g.sigma[8]);
    const double e1 = final_error(&p, r->name, r->spacing, r->N, ref);
    const double e2 = final_error(&p, r->name, r->spacing, 2 * r->N, ref);
    const int order = dode_solver_find(r->name)->order;
    ck_assert_msg(fabs(log2(e1 / e2) - order) < 0.1, "%s: observed %.3f (e %g, %g), theory %d",
                  r->name, log2(e1 / e2), e1, e2, order);
    free(ref);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* ---- identities ---------------------------------------------------------------------- */

static void assert_same(const test_problem *p, const char *a, const char *b, const dode_grid *g)
{
    double *x = test_xbar_T(NROWS, DIM, g->sigma[0], SEED);
    double *y = test_xbar_T(NROWS, DIM, g->sigma[0], SEED);
    run_on(p, a, g, x, NULL);
    run_on(p, b, g, y, NULL);
    for (size_t k = 0; k < LEN; k++)
        ck_assert_msg(fabs(x[k] - y[k]) <= 1e-12 * fmax(1.0, fabs(y[k])), "%s != %s: %g vs %g",
                      a, b, x[k], y[k]);
    free(x), free(y);
}

/* LMS and rhoAB3 both integrate the cubic through the last four points (by GSL quadrature
 * and by Gauss-Legendre); rhoAB1 and iPNDM_v's order 2 are the variable-step AB2; every
 * order-1 entry is Euler in sigma (= DDIM). */
START_TEST(variable_step_adams_bashforth_entries_agree)
{
    test_problem p = problem_on("ddpm-linear");
    dode_grid g = test_grid(p.sched, DODE_SPACING_KARRAS, 15, 0);
    assert_same(&p, "lms", "deis-rhoab3", &g);
    assert_same(&p, "ipndm-v2", "deis-rhoab1", &g);
    assert_same(&p, "ipndm1", "euler", &g);
    assert_same(&p, "ipndm-v1", "euler", &g);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* ---- the references' own formulas ---------------------------------------------------- */

/* The solver's trajectory on g: [steps + 1][LEN], with the NFE in *nfe. */
static double *trajectory(const test_problem *p, const char *name, const dode_grid *g,
                          size_t *nfe)
{
    const size_t pts = g->steps + 1;
    double *xs = malloc(pts * LEN * sizeof *xs);
    dode_trace tr = { .cap = pts, .xbar = xs };
    double *x = test_xbar_T(NROWS, DIM, g->sigma[0], SEED);
    *nfe = run_on(p, name, g, x, &tr);
    ck_assert_uint_eq(tr.count, pts);
    free(x);
    return xs;
}

static void assert_close(const double *a, const double *b, size_t len, const char *what,
                         size_t point)
{
    for (size_t k = 0; k < len; k++)
        ck_assert_msg(fabs(a[k] - b[k]) <= 1e-12 * fmax(1.0, fabs(b[k])),
                      "%s, point %zu: %.17g vs reference %.17g", what, point, a[k], b[k]);
}

/* k-diffusion's to_d: (x - denoised) / sigma, with denoised = x - sigma eps(x, sigma). */
static void kdiff_d(const test_problem *p, const double *x, double sigma, double *d)
{
    double eps[LEN], den[LEN];
    ck_assert_int_eq(dode_ode_rhs(p->ode, sigma, x, eps), DODE_OK);
    for (size_t k = 0; k < LEN; k++)
        den[k] = x[k] - sigma * eps[k];
    for (size_t k = 0; k < LEN; k++)
        d[k] = (x[k] - den[k]) / sigma;
}

/* linear_multistep_coeff(order, t, i, j), integrated by Simpson's rule (exact for the
 * cubic Lagrange basis) instead of QUADPACK. */
static double kdiff_lms_coeff(int order, const double *t, size_t i, int j)
{
    double f[3];
    const double a = t[i], b = t[i + 1], xs[3] = { a, 0.5 * (a + b), b };
    for (int q = 0; q < 3; q++) {
        double prod = 1.0;
        for (int k = 0; k < order; k++)
            if (k != j)
                prod *= (xs[q] - t[i - k]) / (t[i - j] - t[i - k]);
        f[q] = prod;
    }
    return (b - a) / 6.0 * (f[0] + 4.0 * f[1] + f[2]);
}

/* sample_lms(model, x, sigmas, order) line by line (ds newest last). */
START_TEST(lms_and_rhoab_equal_k_diffusion_sample_lms)
{
    static const char *names[] = { "lms", "deis-rhoab3", "deis-rhoab2", "deis-rhoab1" };
    static const int orders[] = { 4, 4, 3, 2 };
    test_problem p = problem_on("ddpm-linear");
    dode_grid g = test_grid(p.sched, DODE_SPACING_KARRAS, 8, 1);
    for (size_t s = 0; s < 4; s++) {
        size_t nfe;
        double *xs = trajectory(&p, names[s], &g, &nfe);
        double *x = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
        double ds[4][LEN];
        size_t nds = 0;
        for (size_t i = 0; i < g.steps; i++) {
            if (nds == (size_t)orders[s])
                memmove(ds[0], ds[1], (size_t)(orders[s] - 1) * sizeof ds[0]), nds--;
            kdiff_d(&p, x, g.sigma[i], ds[nds++]);
            const int cur = (int)(i + 1) < orders[s] ? (int)(i + 1) : orders[s];
            for (int j = 0; j < cur; j++) {
                const double c = kdiff_lms_coeff(cur, g.sigma, i, j);
                for (size_t k = 0; k < LEN; k++)       /* reversed(ds): j = 0 is newest */
                    x[k] += c * ds[nds - 1 - (size_t)j][k];
            }
            assert_close(xs + (i + 1) * LEN, x, LEN, names[s], i + 1);
        }
        ck_assert_uint_eq(nfe, g.steps);
        free(x), free(xs);
    }
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* diff-sampler's ipndm_sampler / ipndm_v_sampler (t_steps = sigmas, x = xbar), with its
 * buffer_model and its coefficient expressions as written there. */
static void diffsampler_step(int variable, int order, const double *t, size_t i,
                             const double *d_cur, double (*buf)[LEN], size_t nbuf, double *x)
{
    const double t_cur = t[i], t_next = t[i + 1];
    double c[4] = { 1, 0, 0, 0 };
    if (!variable) {
        static const double fixed[4][4] = { { 1, 0, 0, 0 }, { 3.0 / 2, -1.0 / 2, 0, 0 },
            { 23.0 / 12, -16.0 / 12, 5.0 / 12, 0 }, { 55.0 / 24, -59.0 / 24, 37.0 / 24, -9.0 / 24 } };
        memcpy(c, fixed[order - 1], sizeof c);
    } else if (order == 2) {
        const double h_n = t_next - t_cur, h_n_1 = t_cur - t[i - 1];
        c[0] = (2 + (h_n / h_n_1)) / 2, c[1] = -(h_n / h_n_1) / 2;
    } else if (order == 3) {
        const double h_n = t_next - t_cur, h_n_1 = t_cur - t[i - 1], h_n_2 = t[i - 1] - t[i - 2];
        const double temp = (1 - h_n / (3 * (h_n + h_n_1)) * (h_n * (h_n + h_n_1)) / (h_n_1 * (h_n_1 + h_n_2))) / 2;
        c[0] = (2 + (h_n / h_n_1)) / 2 + temp;
        c[1] = -(h_n / h_n_1) / 2 - (1 + h_n_1 / h_n_2) * temp;
        c[2] = temp * h_n_1 / h_n_2;
    } else if (order == 4) {
        const double h_n = t_next - t_cur, h_n_1 = t_cur - t[i - 1], h_n_2 = t[i - 1] - t[i - 2],
                     h_n_3 = t[i - 2] - t[i - 3];
        const double temp1 = (1 - h_n / (3 * (h_n + h_n_1)) * (h_n * (h_n + h_n_1)) / (h_n_1 * (h_n_1 + h_n_2))) / 2;
        const double temp2 = ((1 - h_n / (3 * (h_n + h_n_1))) / 2 + (1 - h_n / (2 * (h_n + h_n_1))) * h_n / (6 * (h_n + h_n_1 + h_n_2)))
                             * (h_n * (h_n + h_n_1) * (h_n + h_n_1 + h_n_2)) / (h_n_1 * (h_n_1 + h_n_2) * (h_n_1 + h_n_2 + h_n_3));
        c[0] = (2 + (h_n / h_n_1)) / 2 + temp1 + temp2;
        c[1] = -(h_n / h_n_1) / 2 - (1 + h_n_1 / h_n_2) * temp1 - (1 + (h_n_1 / h_n_2) + (h_n_1 * (h_n_1 + h_n_2) / (h_n_2 * (h_n_2 + h_n_3)))) * temp2;
        c[2] = temp1 * h_n_1 / h_n_2 + ((h_n_1 / h_n_2) + (h_n_1 * (h_n_1 + h_n_2) / (h_n_2 * (h_n_2 + h_n_3))) * (1 + h_n_2 / h_n_3)) * temp2;
        c[3] = -temp2 * (h_n_1 * (h_n_1 + h_n_2) / (h_n_2 * (h_n_2 + h_n_3))) * h_n_1 / h_n_2;
    }
    for (size_t k = 0; k < LEN; k++) {
        double s = c[0] * d_cur[k];
        for (int j = 1; j < order; j++)             /* buffer_model[-j] */
            s += c[j] * buf[nbuf - (size_t)j][k];
        x[k] += (t_next - t_cur) * s;
    }
}

START_TEST(ipndm_entries_equal_diff_sampler)
{
    static const char *names[] = { "ipndm4", "ipndm3", "ipndm2", "ipndm-v4", "ipndm-v3",
                                   "ipndm-v2" };
    static const int max_orders[] = { 4, 3, 2, 4, 3, 2 };
    test_problem p = problem_on("ddpm-linear");
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 9, 1);
    for (size_t s = 0; s < 6; s++) {
        size_t nfe;
        double *xs = trajectory(&p, names[s], &g, &nfe);
        double *x = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
        double buf[4][LEN], d_cur[LEN];
        size_t nbuf = 0;
        const int mo = max_orders[s];
        for (size_t i = 0; i < g.steps; i++) {
            kdiff_d(&p, x, g.sigma[i], d_cur);
            const int order = (int)(i + 1) < mo ? (int)(i + 1) : mo;
            diffsampler_step(s >= 3, order, g.sigma, i, d_cur, buf, nbuf, x);
            if (nbuf == (size_t)(mo - 1) && mo > 1)
                memmove(buf[0], buf[1], (size_t)(mo - 2) * sizeof buf[0]), nbuf--;
            if (mo > 1)
                memcpy(buf[nbuf++], d_cur, sizeof d_cur);
            assert_close(xs + (i + 1) * LEN, x, LEN, names[s], i + 1);
        }
        ck_assert_uint_eq(nfe, g.steps);
        free(x), free(xs);
    }
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* DEIS on vp-linear in its own x-space variables: psi(t, s) = sqrt(alpha(s)/alpha(t)),
 * eps_integrand(t) = -1/2 dlog alpha/dt / sqrt(1 - alpha(t)), alpha = abar with
 * log alpha(t) = 2 (-1/4 t^2 (b1 - b0) - 1/2 t b0) (th_deis/vpsde.py), C_ij by 64-point
 * Gauss-Legendre on 256 panels of each step (the integrand is smooth). */
typedef struct {
    double t_end;
    const double *ts;
    int k, j;
} deis_ref;

static double deis_alpha(double t)
{
    return exp(2.0 * (-0.25 * t * t * (20.0 - 0.1) - 0.5 * t * 0.1));
}

static double deis_ref_integrand(double tau, void *params)
{
    const deis_ref *r = params;
    const double dlog = -(20.0 - 0.1) * tau - 0.1;
    const double psi = sqrt(deis_alpha(r->t_end) / deis_alpha(tau));
    double poly = 1.0;
    for (int m = 0; m < r->k; m++)
        if (m != r->j)
            poly *= (tau - r->ts[m]) / (r->ts[r->j] - r->ts[m]);
    return psi * (-0.5 * dlog / sqrt(1.0 - deis_alpha(tau))) * poly;
}

START_TEST(deis_tab_equals_its_x_space_quadrature)
{
    static const char *names[] = { "deis-tab1", "deis-tab2", "deis-tab3" };
    test_problem p = problem_on("vp-linear");
    dode_grid g = test_grid(p.sched, DODE_SPACING_UNIFORM_T, 8, 0);
    gsl_integration_glfixed_table *gl = gsl_integration_glfixed_table_alloc(64);
    for (int s = 0; s < 3; s++) {
        size_t nfe;
        double *xs = trajectory(&p, names[s], &g, &nfe);
        double *xbar0 = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
        double x[LEN], eps[4][LEN];
        for (size_t k = 0; k < LEN; k++)
            x[k] = xbar0[k] * sqrt(deis_alpha(g.t[0]));     /* x = xbar a_t */
        for (size_t i = 0; i < g.steps; i++) {
            memmove(eps[1], eps[0], 3 * sizeof eps[0]);
            ck_assert_int_eq(dode_ode_eps_x(p.ode, g.t[i], g.sigma[i], x, eps[0]), DODE_OK);
            const int k = (int)i < s + 1 ? (int)i + 1 : s + 2;  /* degree min(i, r) */
            double ts[4];
            for (int m = 0; m < k; m++)
                ts[m] = g.t[i - (size_t)m];
            const double psi = sqrt(deis_alpha(g.t[i + 1]) / deis_alpha(g.t[i]));
            double c[4];
            for (int j = 0; j < k; j++) {
                deis_ref r = { .t_end = g.t[i + 1], .ts = ts, .k = k, .j = j };
                gsl_function f = { .function = deis_ref_integrand, .params = &r };
                c[j] = 0.0;                  /* 256 panels: 1/sqrt(t) steepens near 0 */
                for (int q = 0; q < 256; q++)
                    c[j] += gsl_integration_glfixed(&f, g.t[i] + (g.t[i + 1] - g.t[i]) * q / 256.0,
                                                    g.t[i] + (g.t[i + 1] - g.t[i]) * (q + 1) / 256.0, gl);
            }
            for (size_t q = 0; q < LEN; q++) {
                double v = psi * x[q];
                for (int j = 0; j < k; j++)
                    v += c[j] * eps[j][q];
                x[q] = v;
            }
            double xb[LEN];
            const double a = sqrt(deis_alpha(g.t[i + 1]));
            for (size_t q = 0; q < LEN; q++)
                xb[q] = x[q] / a;
            assert_close(xs + (i + 1) * LEN, xb, LEN, names[s], i + 1);
        }
        free(xbar0), free(xs);
    }
    gsl_integration_glfixed_table_free(gl);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* diffusers' PNDMScheduler on ddpm-linear with S = 10 inference steps at levels
 * 900, 800, ..., 0 and set_alpha_to_one (final abar = 1): step_prk for the first three
 * steps (half step num_train // S // 2 = 50 levels), step_plms after, or with
 * skip_prk_steps PLMS from the start; _get_prev_sample in alpha form. */
static void diffusers_prev(const double *abar, int t, int prev, const double *e, double *x)
{
    const double at = abar[t], ap = prev >= 0 ? abar[prev] : 1.0;
    const double bt = 1 - at, bp = 1 - ap;
    const double sc = sqrt(ap / at);
    const double den = at * sqrt(bp) + sqrt(at * bt * ap);
    for (size_t k = 0; k < LEN; k++)
        x[k] = sc * x[k] - (ap - at) * e[k] / den;
}

static void diffusers_eps(const test_problem *p, const double *abar, int level, const double *x,
                          double *e)
{
    const double sigma = sqrt((1 - abar[level]) / abar[level]);
    ck_assert_int_eq(dode_ode_eps_x(p->ode, (level + 1) / 1000.0, sigma, x, e), DODE_OK);
}

/* step_prk's four counters from level t (x in/out): e at the start, twice at the half
 * step, once at the end, each a transfer from the start; ets gets the first. */
static void diffusers_prk(const test_problem *p, const double *abar, int t, int stride,
                          double *x, double (*ets)[LEN], size_t *nets)
{
    const int mid = t - stride / 2, prev = t - stride;
    double e[LEN], acc[LEN], xs[LEN];
    diffusers_eps(p, abar, t, x, e);
    memcpy(ets[(*nets)++], e, sizeof e);
    for (size_t k = 0; k < LEN; k++)
        acc[k] = e[k] / 6;
    static const double wts[3] = { 1.0 / 3, 1.0 / 3, 1.0 / 6 };
    for (int c = 0; c < 3; c++) {                        /* counters 1, 2, 3 */
        const int to = c < 2 ? mid : prev;              /* transfer there, evaluate there */
        memcpy(xs, x, sizeof xs);
        diffusers_prev(abar, t, to, e, xs);
        diffusers_eps(p, abar, to, xs, e);
        for (size_t k = 0; k < LEN; k++)
            acc[k] += wts[c] * e[k];
    }
    diffusers_prev(abar, t, prev, acc, x);
}

/* step_plms from level t (x in/out), counters 0 and 1 on the first call (first != 0). */
static void diffusers_plms(const test_problem *p, const double *abar, int t, int stride,
                           int first, double *x, double (*ets)[LEN], size_t *nets)
{
    const int prev = t - stride;
    double e[LEN], acc[LEN], cur[LEN];
    diffusers_eps(p, abar, t, x, e);
    if (first) {                                         /* counter 0, then counter 1 */
        memcpy(ets[(*nets)++], e, sizeof e);
        memcpy(cur, x, sizeof cur);
        diffusers_prev(abar, t, prev, e, x);
        diffusers_eps(p, abar, prev, x, acc);
        for (size_t k = 0; k < LEN; k++)
            acc[k] = (acc[k] + ets[0][k]) / 2;
        memcpy(x, cur, sizeof cur);
        diffusers_prev(abar, t, prev, acc, x);
        return;
    }
    if (*nets == 4)                                      /* ets = ets[-3:] + [e] */
        memmove(ets[0], ets[1], 3 * sizeof ets[0]), (*nets)--;
    memcpy(ets[(*nets)++], e, sizeof e);
    const size_t n = *nets;
    for (size_t k = 0; k < LEN; k++) {
        double (*E)[LEN] = ets;
        if (n == 1)
            acc[k] = E[0][k];
        else if (n == 2)
            acc[k] = (3 * E[1][k] - E[0][k]) / 2;
        else if (n == 3)
            acc[k] = (23 * E[2][k] - 16 * E[1][k] + 5 * E[0][k]) / 12;
        else
            acc[k] = (1.0 / 24) * (55 * E[3][k] - 59 * E[2][k] + 37 * E[1][k] - 9 * E[0][k]);
    }
    diffusers_prev(abar, t, prev, acc, x);
}

/* The diffusers trajectory at the step boundaries, in xbar: out[0] is xbar_T (in), then
 * the S = 10 steps ([S + 1][LEN]). */
static void diffusers_run(const test_problem *p, int prk, double *out)
{
    const double *abar = dode_schedule_alphas_cumprod(p->sched);
    const int S = 10, stride = 100;
    double x[LEN], ets[4][LEN];
    size_t nets = 0;
    for (size_t k = 0; k < LEN; k++)
        x[k] = out[k] * sqrt(abar[900]);                 /* x = xbar a_t */
    for (int i = 0; i < S; i++) {
        const int t = 900 - stride * i, prev = t - stride;
        if (prk && i < 3)
            diffusers_prk(p, abar, t, stride, x, ets, &nets);
        else
            diffusers_plms(p, abar, t, stride, !prk && i == 0, x, ets, &nets);
        const double ap = prev >= 0 ? abar[prev] : 1.0;
        for (size_t k = 0; k < LEN; k++)
            out[(size_t)(i + 1) * LEN + k] = x[k] / sqrt(ap);
    }
}

START_TEST(pndm_and_plms_equal_diffusers_pndm_scheduler)
{
    test_problem p = problem_on("ddpm-linear");
    const double *abar = dode_schedule_alphas_cumprod(p.sched);
    double sig[11];
    for (int i = 0; i < 10; i++)
        sig[i] = sqrt((1 - abar[900 - 100 * i]) / abar[900 - 100 * i]);
    sig[10] = 0.0;
    char err[ERRLEN];
    dode_grid g;
    ck_assert_msg(dode_grid_from_sigmas(p.sched, sig, 11, &g, err, sizeof err) == DODE_OK, "%s", err);
    for (int prk = 0; prk < 2; prk++) {
        const char *name = prk ? "pndm" : "plms";
        size_t nfe;
        double *xs = trajectory(&p, name, &g, &nfe);
        double *ref = malloc(11 * LEN * sizeof *ref);
        double *x0 = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
        memcpy(ref, x0, LEN * sizeof *ref);
        diffusers_run(&p, prk, ref);
        for (size_t i = 1; i <= 10; i++)
            assert_close(xs + i * LEN, ref + i * LEN, LEN, name, i);
        const dode_solver_type *s = dode_solver_find(name);
        ck_assert_uint_eq(nfe, 10 * (size_t)s->evals_per_step + (size_t)s->warmup_evals);
        ck_assert_uint_eq(nfe, prk ? 19 : 11);
        ck_assert_uint_eq(dode_solver_steps_for_nfe(s, nfe), 10);
        free(ref), free(x0), free(xs);
    }
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* ---- cost and bad input -------------------------------------------------------------- */

START_TEST(nfe_is_steps_times_cost_plus_warmup_for_every_entry)
{
    test_problem p = problem_on("ddpm-linear");
    for (const dode_solver_type *const *s = dode_solvers(); *s != NULL; s++) {
        if (strcmp((*s)->family, "multistep") != 0)
            continue;
        for (int to_zero = 0; to_zero < 2; to_zero++) {
            dode_grid g = test_grid(p.sched, DODE_SPACING_DDIM_QUAD, 12, to_zero);
            double *x = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
            const size_t nfe = run_on(&p, (*s)->name, &g, x, NULL);
            ck_assert_msg(dode_all_finite(x, LEN) == DODE_OK, "%s: not finite", (*s)->name);
            ck_assert_uint_eq(nfe, g.steps * (size_t)(*s)->evals_per_step
                                   + (size_t)(*s)->warmup_evals);
            free(x);
            dode_grid_free(&g);
        }
    }
    test_problem_free(&p);
}
END_TEST

START_TEST(pndm_budget_maps_to_steps_and_refuses_too_few)
{
    const dode_solver_type *pndm = dode_solver_find("pndm"), *plms = dode_solver_find("plms");
    ck_assert_uint_eq(dode_solver_steps_for_nfe(pndm, 20), 11);
    ck_assert_uint_eq(dode_solver_steps_for_nfe(pndm, 12), 3);
    ck_assert_uint_eq(dode_solver_steps_for_nfe(pndm, 11), 0);      /* below 3 steps */
    ck_assert_uint_eq(dode_solver_steps_for_nfe(plms, 2), 1);
    ck_assert_uint_eq(dode_solver_steps_for_nfe(plms, 1), 0);
    test_problem p = problem_on("ddpm-linear");
    dode_grid g = test_grid(p.sched, DODE_SPACING_LOGSNR, 2, 0);
    double *x = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    double *x0 = test_xbar_T(NROWS, DIM, g.sigma[0], SEED);
    char err[ERRLEN];
    ck_assert_int_eq(dode_solve(pndm, p.ode, &g, x, NULL, NULL, err, sizeof err), DODE_EINVAL);
    ck_assert_msg(strstr(err, "pndm") != NULL && strstr(err, "at least 3 steps") != NULL,
                  "%s", err);
    ck_assert_mem_eq(x, x0, LEN * sizeof *x);
    free(x), free(x0);
    dode_grid_free(&g);
    test_problem_free(&p);
}
END_TEST

/* The command refuses a budget below PNDM's warm-up before any NFE, and says why. */
START_TEST(too_small_a_budget_is_refused_with_the_warmup_named)
{
    char *dir = test_tmpdir("check_multistep");
    char out[4096], err[4096];
    const char *const args[] = { "sample", "--model", "gaussian:dim=2,mean=0,std=1",
                                 "--solver", "pndm", "--nfe", "11", "--n", "4", NULL };
    ck_assert_int_eq(test_run_diffode(dir, args, out, err, sizeof out), 2);
    ck_assert_msg(strstr(err, "--nfe 11 is too few for pndm") != NULL
                  && strstr(err, "plus 9 for its warm-up, at least 3 steps") != NULL, "%s", err);
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "%s/ms.ini", dir);
    FILE *f = fopen(cfg, "w");
    ck_assert_ptr_nonnull(f);
    fputs("[experiment]\nname = ms\n[model g]\nspec = gaussian:dim=2,mean=0,std=1\n"
          "[sweep]\nschedules = ddpm-linear\nspacings = logsnr\nsolvers = plms, pndm\n"
          "nfe = 12, 11\n", f);
    fclose(f);
    const char *const run[] = { "run", cfg, "--root", dir, "--no-plot", "--quiet", NULL };
    ck_assert_int_ne(test_run_diffode(dir, run, out, err, sizeof out), 0);
    ck_assert_msg(strstr(err, "key 'nfe': 11 is too few for solver \"pndm\"") != NULL, "%s", err);
    unlink(cfg);
    test_rm_tree(dir);
}
END_TEST

static Suite *multistep_suite(void)
{
    Suite *s = suite_create("multistep");
    TCase *tc = tcase_create("multistep");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, observed_order_is_the_theoretical_order, 0,
                        (int)(sizeof order_table / sizeof order_table[0]));
    tcase_add_test(tc, variable_step_adams_bashforth_entries_agree);
    tcase_add_test(tc, lms_and_rhoab_equal_k_diffusion_sample_lms);
    tcase_add_test(tc, ipndm_entries_equal_diff_sampler);
    tcase_add_test(tc, deis_tab_equals_its_x_space_quadrature);
    tcase_add_test(tc, pndm_and_plms_equal_diffusers_pndm_scheduler);
    tcase_add_test(tc, nfe_is_steps_times_cost_plus_warmup_for_every_entry);
    tcase_add_test(tc, pndm_budget_maps_to_steps_and_refuses_too_few);
    tcase_add_test(tc, too_small_a_budget_is_refused_with_the_warmup_named);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(multistep_suite)
