/* testutil.h - what every Check suite shares: its main(), an error buffer size, the
 * MATH.md section 8 test problem (2-D GMM w = (0.5, 0.3, 0.2), means (-1.5,0), (1.5,0.5),
 * (0,2), isotropic stds 0.3, 0.5, 0.2; ddpm-linear; x_T ~ N(0, I)), the 2-D Gaussian the
 * solver suites use beside it, temporary directories, a seeded MLP, and running the
 * `diffode` command as a child with its output captured. Every helper asserts (Check)
 * instead of returning a status: a failure here fails the calling test. */
#ifndef DIFFODE_TESTUTIL_H
#define DIFFODE_TESTUTIL_H

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* The solver suites' Gaussian N((1, -0.5), 0.5^2 I) in 2-D, eps-prediction, with its
 * closed-form flow (MATH.md section 5); caller frees with dode_model_free. */
static inline dode_model *test_gauss2d(void)
{
    static const double mean[2] = { 1.0, -0.5 };
    char err[ERRLEN];
    dode_model *m = dode_gaussian_new(2, mean, 0.5, DODE_PRED_EPS, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

/* A solve's setting: the ddpm-linear schedule, a 2-D model and its ODE over n rows. */
typedef struct {
    dode_schedule *sched;
    dode_model *model;
    dode_ode *ode;
} test_problem;

/* ddpm-linear with test_gauss2d (gaussian != 0) or test_gmm2d, over n rows; release
 * with test_problem_free. */
static inline test_problem test_problem_new(int gaussian, size_t n)
{
    char err[ERRLEN];
    test_problem p;
    p.sched = dode_schedule_new("ddpm-linear", err, sizeof err);
    ck_assert_msg(p.sched != NULL, "%s", err);
    p.model = gaussian ? test_gauss2d() : test_gmm2d();
    p.ode = dode_ode_new(p.model, p.sched, n, err, sizeof err);
    ck_assert_msg(p.ode != NULL, "%s", err);
    return p;
}

static inline void test_problem_free(test_problem *p)
{
    dode_ode_free(p->ode);
    dode_model_free(p->model);
    dode_schedule_free(p->sched);
}

/* dode_solve on raw sigmas ([steps + 1]) taken as a grid of the given spacing (rho 7). */
static inline int test_solve_spaced(const dode_solver_type *s, dode_ode *ode,
                                    const double *sigmas, size_t steps, dode_spacing spacing,
                                    double *xbar, const dode_solver_opts *o, dode_trace *tr,
                                    char *err, size_t errlen)
{
    const dode_grid g = { .steps = steps, .sigma = (double *)sigmas, .t = NULL,
                          .spacing = spacing, .rho = 7.0 };
    return dode_solve(s, ode, &g, xbar, o, tr, err, errlen);
}

/* The same on a logsnr grid (singlestep inner points uniform in lambda). */
static inline int test_solve(const dode_solver_type *s, dode_ode *ode, const double *sigmas,
                             size_t steps, double *xbar, const dode_solver_opts *o,
                             dode_trace *tr, char *err, size_t errlen)
{
    return test_solve_spaced(s, ode, sigmas, steps, DODE_SPACING_LOGSNR, xbar, o, tr, err,
                             errlen);
}

/* A grid of `steps` steps on sched with the given spacing, the schedule's default time
 * range, ending at sigma = 0 if to_zero; release with dode_grid_free. */
static inline dode_grid test_grid(const dode_schedule *sched, dode_spacing spacing,
                                  size_t steps, int to_zero)
{
    char err[ERRLEN];
    dode_grid_opts go;
    dode_grid_opts_init(&go);
    go.spacing = spacing;
    go.to_zero = to_zero;
    dode_grid g;
    ck_assert_msg(dode_grid_make(sched, &go, steps, &g, err, sizeof err) == DODE_OK,
                  "%s", err);
    return g;
}

/* m's eps, jacobian and log_density through a workspace made for this one call: the
 * suites that test a model's values (check_alloc tests the workspace's reuse). */
static inline void *test_ws_new(const dode_model *m, size_t n)
{
    char err[ERRLEN];
    void *ws = NULL;
    ck_assert_msg(dode_model_workspace_new(m, n > 0 ? n : 1, &ws, err, sizeof err) == DODE_OK,
                  "%s", err);
    return ws;
}

static inline int test_eps(const dode_model *m, size_t n, const double *x, double t,
                           double sigma, double *out)
{
    void *ws = test_ws_new(m, n);
    const int rc = m->eps(m, ws, n, x, t, sigma, out);
    dode_model_workspace_free(m, ws);
    return rc;
}

static inline int test_jacobian(const dode_model *m, size_t n, const double *xbar,
                                double sigma, double *jac, double *deps_dsigma)
{
    void *ws = test_ws_new(m, n);
    const int rc = m->jacobian(m, ws, n, xbar, sigma, jac, deps_dsigma);
    dode_model_workspace_free(m, ws);
    return rc;
}

static inline int test_log_density(const dode_model *m, size_t n, const double *xbar,
                                   double sigma, double *logp)
{
    void *ws = test_ws_new(m, n);
    const int rc = m->log_density(m, ws, n, xbar, sigma, logp);
    dode_model_workspace_free(m, ws);
    return rc;
}

/* A model's eps (dode_model.eps) that fails mid-solve: NaN below sigma = 1, 0.1 x above,
 * so a solve from sigma > 1 completes its first steps and then meets the NaN. */
static inline int test_eps_nan_below_one(const dode_model *m, void *ws, size_t n,
                                         const double *x, double t, double sigma, double *out)
{
    (void)ws;
    (void)t;
    for (size_t k = 0; k < n * m->dim; k++)
        out[k] = sigma < 1.0 ? NAN : 0.1 * x[k];
    return DODE_OK;
}

/* A fresh directory /tmp/TAG.XXXXXX (mkdtemp); the caller owns the string and passes it
 * to test_rm_tree at the end of the test. */
static inline char *test_tmpdir(const char *tag)
{
    char *dir = malloc(strlen(tag) + sizeof "/tmp/.XXXXXX");
    ck_assert_ptr_nonnull(dir);
    sprintf(dir, "/tmp/%s.XXXXXX", tag);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

/* Removes path and everything under it (a file, or a directory tree). */
static inline void test_rm_r(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        char sub[4096];
        for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0
                || snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >= (int)sizeof sub)
                continue;
            test_rm_r(sub);
        }
        if (d != NULL)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Removes dir and everything under it, and frees the string. */
static inline void test_rm_tree(char *dir)
{
    test_rm_r(dir);
    free(dir);
}

/* A fresh file path /tmp/TAG.XXXXXX/NAME in its own directory (the file is not created);
 * the caller owns the string and passes it to test_rm_path at the end of the test. */
static inline char *test_tmp_path(const char *tag, const char *name)
{
    char *dir = test_tmpdir(tag);
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    ck_assert_ptr_nonnull(path);
    sprintf(path, "%s/%s", dir, name);
    free(dir);
    return path;
}

/* Removes a test_tmp_path's directory with everything in it, and frees the string. */
static inline void test_rm_path(char *path)
{
    *strrchr(path, '/') = '\0';
    test_rm_tree(path);
}

/* How many entries of dir are not hidden (name not starting with '.'): the outputs a
 * command left there, beside test_run_diffode's hidden capture files. */
static inline int test_count_visible(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    if (d != NULL)
        closedir(d);
    return n;
}

/* An MLP of architecture a with weights drawn from a mt19937 seeded with seed (caller
 * frees with dode_mlp_free). */
static inline dode_mlp *test_mlp_new(const dode_mlp_arch *a, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    char err[ERRLEN];
    dode_mlp *m = dode_mlp_new(a, rng, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    gsl_rng_free(rng);
    return m;
}

/* The file at path into buf as a string (at most cap - 1 bytes). */
static inline void test_slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    buf[fread(buf, 1, cap - 1, f)] = '\0';
    fclose(f);
}

/* The diffode command under test: $DIFFODE (`make test` sets it), else build/diffode. */
static inline const char *test_diffode_path(void)
{
    const char *p = getenv("DIFFODE");
    return p != NULL && *p != '\0' ? p : "build/diffode";
}

/* Runs `diffode ARGS` (args NULL-terminated, at most 62 used) as a child with stdout and
 * stderr sent to dir/.stdout and dir/.stderr, read back into out and err (cap bytes each,
 * truncated) and removed; returns the exit status, or -1 if the child did not exit. */
static inline int test_run_diffode(const char *dir, const char *const *args, char *out,
                                   char *err, size_t cap)
{
    const char *argv[64] = { test_diffode_path() };
    size_t argc = 1;
    for (size_t k = 0; args[k] != NULL && argc < 63; k++)
        argv[argc++] = args[k];
    argv[argc] = NULL;
    char po[1024], pe[1024];
    snprintf(po, sizeof po, "%s/.stdout", dir);
    snprintf(pe, sizeof pe, "%s/.stderr", dir);
    fflush(NULL);
    const pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        const int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const int fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    ck_assert_msg(code != 127, "cannot run %s (set DIFFODE)", argv[0]);
    test_slurp(po, out, cap);
    test_slurp(pe, err, cap);
    unlink(po);
    unlink(pe);
    return code;
}

/* Field k (0-based) of data row `line` (1 = the first row after the header) of a CSV
 * text, as a double. */
static inline double test_csv_field(const char *csv, int line, int k)
{
    const char *p = csv;
    for (int i = 0; i < line; i++)
        p = strchr(p, '\n') + 1;
    for (int i = 0; i < k; i++)
        p = strchr(p, ',') + 1;
    return strtod(p, NULL);
}

/* max |a - b| <= rel max |b| over len values; what names the comparison. */
static inline void test_assert_close(const double *a, const double *b, size_t len, double rel,
                                     const char *what)
{
    double scale = 0, diff = 0;
    for (size_t k = 0; k < len; k++) {
        scale = fmax(scale, fabs(b[k]));
        diff = fmax(diff, fabs(a[k] - b[k]));
    }
    ck_assert_msg(diff <= rel * scale, "%s: max diff %g, scale %g", what, diff, scale);
}

/* Root mean square of a - b over len values. */
static inline double test_rmse(const double *a, const double *b, size_t len)
{
    double s = 0;
    for (size_t i = 0; i < len; i++)
        s += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrt(s / (double)len);
}

/* In a forked child: limit its address space (RLIMIT_AS) to what it uses now plus
 * headroom_mib, so a test can show that a reader refuses a huge claimed size without
 * allocating it, or reports out of memory cleanly. Not under AddressSanitizer, which
 * reserves terabytes of shadow memory up front. */
static inline void test_limit_address_space_headroom(unsigned headroom_mib)
{
#if !defined(__SANITIZE_ADDRESS__)
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmSize: %llu kB", &kb) == 1)
            break;
    if (f != NULL)
        fclose(f);
    const struct rlimit r = { .rlim_cur = (rlim_t)(kb * 1024 + ((rlim_t)headroom_mib << 20)),
                              .rlim_max = RLIM_INFINITY };
    if (kb > 0)
        setrlimit(RLIMIT_AS, &r);
#else
    (void)headroom_mib;
#endif
}

static inline void test_limit_address_space(void)
{
    test_limit_address_space_headroom(256);
}

/* The class-labelled mixture experiments/configs/gmm2d_classes.json, through its gmm: spec
 * with opts appended (",class=1,cfg=0.6"; "" for the plain mixture). */
static inline dode_model *test_gmm_classes(const char *opts)
{
    char spec[256], err[ERRLEN] = "";
    snprintf(spec, sizeof spec, "gmm:experiments/configs/gmm2d_classes.json%s", opts);
    dode_model *m = NULL;
    ck_assert_msg(dode_model_from_spec(spec, &m, err, sizeof err) == DODE_OK, "%s: %s", spec,
                  err);
    return m;
}

/* A named schedule (the test fails with the library's message if there is none). */
static inline dode_schedule *test_schedule(const char *name)
{
    char err[ERRLEN] = "";
    dode_schedule *s = dode_schedule_new(name, err, sizeof err);
    ck_assert_msg(s != NULL, "%s: %s", name, err);
    return s;
}

#endif
