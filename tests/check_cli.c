/* check_cli.c - the diffode command end to end (DESIGN.md "Command line"): it is run as
 * a child process (path from $DIFFODE, default build/diffode; `make test` sets it), its
 * stdout and stderr captured to files, and its JSON line parsed with cJSON.
 *
 * Laws checked: the NFE reported is the NFE requested; the error against the Gaussian's
 * exact flow falls with the solver's order; the reference solve matches the closed form
 * to its tolerance; --out and --trajectory hold what the run computed; and every bad input
 * exits non-zero, names the problem on stderr, prints nothing on stdout and leaves no
 * output file. Test inputs are written into a mkdtemp directory at run time. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "../experiments/cli.h"
#include "testutil.h"

#define OUT_MAX 65536

/* What one run of the command produced. */
typedef struct {
    int status;              /* exit status, or -1 if it did not exit normally */
    char out[OUT_MAX];       /* stdout (truncated to OUT_MAX - 1) */
    char err[OUT_MAX];       /* stderr */
} run_result;

/* Runs diffode with args (NULL-terminated), stdout and stderr captured under dir. */
static void run(const char *dir, const char *const *args, run_result *r)
{
    r->status = test_run_diffode(dir, args, r->out, r->err, sizeof r->out);
}

/* The run's single JSON line: exit 0, nothing on stderr, exactly one '\n', at the end. */
static cJSON *json_line(const run_result *r)
{
    ck_assert_msg(r->status == 0, "exit %d: %s", r->status, r->err);
    ck_assert_msg(r->err[0] == '\0', "stderr: %s", r->err);
    const char *nl = strchr(r->out, '\n');
    ck_assert_msg(nl != NULL && nl[1] == '\0', "not one line: %s", r->out);
    cJSON *json = cJSON_Parse(r->out);
    ck_assert_msg(json != NULL && cJSON_IsObject(json), "not JSON: %s", r->out);
    return json;
}

static double num(const cJSON *json, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(json, key);
    ck_assert_msg(cJSON_IsNumber(v), "no number \"%s\"", key);
    return v->valuedouble;
}

static const char *str(const cJSON *json, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(json, key);
    ck_assert_msg(cJSON_IsString(v), "no string \"%s\"", key);
    return v->valuestring;
}

/* rmse of `sample` against the exact flow, for the default gaussian at a given NFE. */
static double sample_rmse(const char *dir, const char *solver, const char *nfe)
{
    const char *args[] = { "sample", "--model", "gaussian", "--solver", solver, "--nfe", nfe,
                           "--n", "64", NULL };
    run_result *r = malloc(sizeof *r);
    run(dir, args, r);
    cJSON *json = json_line(r);
    const double rmse = num(json, "rmse");
    ck_assert_double_eq(num(json, "nfe"), atof(nfe));
    cJSON_Delete(json);
    free(r);
    return rmse;
}

START_TEST(list_prints_solvers_schedules_and_models)
{
    static const char *const words[] = {
        "euler", "heun", "rk4", "gsl:rk8pd", "ddpm-linear", "ddpm-cosine", "vp-linear",
        "vp-cosine", "edm", "logsnr", "karras", "logsigma", "gaussian:dim=D", "gmm:FILE.json",
        "score",
    };
    char *dir = test_tmpdir("check_cli");
    run_result *r = malloc(sizeof *r);
    run(dir, (const char *const[]){ "list", NULL }, r);
    ck_assert_int_eq(r->status, 0);
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
        ck_assert_msg(strstr(r->out, words[k]) != NULL, "list lacks %s", words[k]);
    free(r);
    test_rm_tree(dir);
}
END_TEST

START_TEST(sample_prints_one_json_line_with_the_requested_nfe)
{
    char *dir = test_tmpdir("check_cli");
    run_result *r = malloc(sizeof *r);
    run(dir, (const char *const[]){ "sample", "--model", "gaussian:dim=3", "--solver", "rk4",
                                    "--nfe", "80", "--n", "50", NULL }, r);
    cJSON *json = json_line(r);
    ck_assert_str_eq(str(json, "solver"), "rk4");
    ck_assert_str_eq(str(json, "schedule"), "ddpm-linear");
    ck_assert_str_eq(str(json, "spacing"), "logsnr");
    ck_assert_double_eq(num(json, "nfe"), 80);
    ck_assert_double_eq(num(json, "steps"), 20);          /* rk4: 4 NFE per step */
    ck_assert_double_eq(num(json, "accepted"), 20);
    ck_assert_double_eq(num(json, "n"), 50);
    ck_assert_double_eq(num(json, "dim"), 3);
    ck_assert(num(json, "seconds") >= 0);
    ck_assert(num(json, "rmse") <= num(json, "max_err"));
    cJSON_Delete(json);
    free(r);
    test_rm_tree(dir);
}
END_TEST

/* MATH.md section 8: twice the NFE, 2^-p the error (rk4 measured 4.01, euler 1.0). */
START_TEST(error_against_exact_flow_falls_with_the_solver_order)
{
    char *dir = test_tmpdir("check_cli");
    const double rk4 = log2(sample_rmse(dir, "rk4", "80") / sample_rmse(dir, "rk4", "160"));
    const double euler = log2(sample_rmse(dir, "euler", "160") / sample_rmse(dir, "euler", "320"));
    ck_assert_double_eq_tol(rk4, 4.0, 0.1);
    ck_assert_double_eq_tol(euler, 1.0, 0.1);
    test_rm_tree(dir);
}
END_TEST

/* The reference solve (rk8pd at rtol = atol = 1e-12) is within (accepted steps) x (local
 * tolerance) x (the state's scale, |xbar_T| <~ 5 sigma_T ~ 800) of the closed form. */
START_TEST(reference_matches_the_exact_flow_to_its_tolerance)
{
    char *dir = test_tmpdir("check_cli");
    run_result *r = malloc(sizeof *r);
    run(dir, (const char *const[]){ "reference", "--model", "gaussian:dim=3,std=0.5,mean=1",
                                    "--n", "40", NULL }, r);
    cJSON *json = json_line(r);
    ck_assert_str_eq(str(json, "solver"), "gsl:rk8pd");
    ck_assert_str_eq(str(json, "variable"), "logsigma");
    const double bound = num(json, "accepted") * 1e-12 * 800;
    ck_assert_msg(num(json, "rmse") < bound, "rmse %g, bound %g", num(json, "rmse"), bound);
    cJSON_Delete(json);
    free(r);
    test_rm_tree(dir);
}
END_TEST

/* |rmse - ref_rmse| <= distance(reference, exact), which the previous test bounds. */
START_TEST(vs_reference_error_agrees_with_exact_error)
{
    char *dir = test_tmpdir("check_cli");
    run_result *r = malloc(sizeof *r);
    run(dir, (const char *const[]){ "sample", "--model", "gaussian", "--solver", "heun",
                                    "--nfe", "20", "--n", "40", "--vs-reference", NULL }, r);
    cJSON *json = json_line(r);
    ck_assert_double_eq_tol(num(json, "ref_rmse"), num(json, "rmse"), 1e-8);
    ck_assert(num(json, "ref_nfe") > 0);
    cJSON_Delete(json);
    free(r);
    test_rm_tree(dir);
}
END_TEST

/* --x-T in, --out out, through the reference solve: the file must hold
 * x_0 = xbar(sigma_0) / sqrt(1 + sigma_0^2) of the closed-form flow from
 * xbar_T = x_T sqrt(1 + sigma_T^2) (MATH.md sections 4, 5), to the reference's accuracy
 * (bounded as in the previous test). */
START_TEST(out_holds_x0_of_the_given_x_T)
{
    char *dir = test_tmpdir("check_cli"), xT_path[512], out_path[512], err[ERRLEN];
    snprintf(xT_path, sizeof xT_path, "%s/xT.npy", dir);
    snprintf(out_path, sizeof out_path, "%s/x0.npy", dir);
    const size_t n = 7, dim = 2;
    double *xbar = test_xbar_T(n, dim, 0.0, 3);            /* x_T itself (sigma = 0) */
    ck_assert_int_eq(dode_npy_write(xT_path, xbar, n, dim, err, sizeof err), DODE_OK);
    run_result *r = malloc(sizeof *r);
    run(dir, (const char *const[]){ "reference", "--model", "gaussian:mean=0.5,std=0.7",
                                    "--x-T", xT_path, "--out", out_path, NULL }, r);
    cJSON *json = json_line(r);
    const double sT = num(json, "sigma_max"), s0 = num(json, "sigma_min");
    ck_assert_double_eq(num(json, "n"), (double)n);
    const double mu[2] = { 0.5, 0.5 };
    dode_model *m = dode_gaussian_new(dim, mu, 0.7, DODE_PRED_EPS, err, sizeof err);
    double exact[14], *got = NULL;
    size_t rows = 0, cols = 0;
    for (size_t k = 0; k < n * dim; k++)
        xbar[k] *= sqrt(1 + sT * sT);
    ck_assert_int_eq(m->exact_flow(m, n, xbar, sT, s0, exact), DODE_OK);
    ck_assert_int_eq(dode_npy_read(out_path, &got, &rows, &cols, err, sizeof err), DODE_OK);
    ck_assert_uint_eq(rows, n);
    ck_assert_uint_eq(cols, dim);
    const double tol = num(json, "accepted") * 1e-12 * 800;   /* as in the test above */
    for (size_t k = 0; k < n * dim; k++)
        ck_assert_double_eq_tol(got[k], exact[k] / sqrt(1 + s0 * s0), tol);
    free(got);
    free(xbar);
    dode_model_free(m);
    cJSON_Delete(json);
    free(r);
    test_rm_tree(dir);
}
END_TEST

/* Header, then (steps + 1) x n rows; the last point is sigma_min, step numbers in order. */
START_TEST(trajectory_has_a_row_per_point_and_sample)
{
    char *dir = test_tmpdir("check_cli"), path[512];
    snprintf(path, sizeof path, "%s/traj.csv", dir);
    run_result *r = malloc(sizeof *r);
    run(dir, (const char *const[]){ "sample", "--model", "gaussian", "--solver", "euler",
                                    "--steps", "5", "--n", "3", "--trajectory", path, NULL }, r);
    cJSON *json = json_line(r);
    char *csv = malloc(OUT_MAX);
    test_slurp(path, csv, OUT_MAX);
    ck_assert_int_eq(strncmp(csv, "step,sample,sigma,t,xbar_0,xbar_1,x_0,x_1\n", 42), 0);
    size_t lines = 0;
    const char *last = csv;
    for (const char *p = csv; *p != '\0'; p++)
        if (*p == '\n' && p[1] != '\0') {
            lines++;
            last = p + 1;
        }
    ck_assert_uint_eq(lines, 6 * 3);
    size_t step, sample;
    double sigma;
    ck_assert_int_eq(sscanf(last, "%zu,%zu,%lf", &step, &sample, &sigma), 3);
    ck_assert_uint_eq(step, 5);
    ck_assert_uint_eq(sample, 2);
    ck_assert_double_eq_tol(sigma, num(json, "sigma_min"), 1e-15);
    ck_assert_double_eq(num(json, "trajectory_points"), 6);
    free(csv);
    cJSON_Delete(json);
    free(r);
    test_rm_tree(dir);
}
END_TEST

START_TEST(same_seed_gives_the_same_run)
{
    char *dir = test_tmpdir("check_cli");
    const char *args[] = { "sample", "--model", "gaussian", "--nfe", "10", "--n", "20", "--seed",
                           "9", NULL };
    run_result *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    run(dir, args, a);
    run(dir, args, b);
    cJSON *ja = json_line(a), *jb = json_line(b);
    ck_assert(num(ja, "rmse") == num(jb, "rmse"));
    ck_assert_double_eq(num(ja, "seed"), 9);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    free(a);
    free(b);
    test_rm_tree(dir);
}
END_TEST

START_TEST(help_lists_the_flags_and_exits_zero)
{
    char *dir = test_tmpdir("check_cli");
    run_result *r = malloc(sizeof *r);
    run(dir, (const char *const[]){ "sample", "--help", NULL }, r);
    ck_assert_int_eq(r->status, 0);
    ck_assert_ptr_nonnull(strstr(r->out, "--nfe"));
    ck_assert_ptr_nonnull(strstr(r->out, "--vs-reference"));
    for (const dode_model_kind *k = dode_model_kinds(); k->kind != NULL; k++)
        ck_assert_msg(strstr(r->out, k->syntax) != NULL, "--help lacks %s", k->syntax);
    ck_assert_ptr_nonnull(strstr(r->out, "exit status"));
    free(r);
    test_rm_tree(dir);
}
END_TEST

/* With --to-zero the last step of a data-prediction solver is its thresholded x0, and x_0 =
 * xbar at sigma = 0, so --out must hold values within the bound with the bound attained
 * exactly (a clamp is exact; dynamic: clamp(x0, -s, s) / s, and s / s == 1 in IEEE):
 * static --clip-value c bounds |x_0| by c, dynamic by 1. */
START_TEST(thresholding_flags_bound_the_samples)
{
    static const char *const kinds[2] = { "static", "dynamic" };
    static const double bounds[2] = { 0.05, 1.0 };
    char *dir = test_tmpdir("check_cli"), out[512], err[ERRLEN];
    snprintf(out, sizeof out, "%s/x0.npy", dir);
    run_result *r = malloc(sizeof *r);
    for (int k = 0; k < 2; k++) {
        run(dir, (const char *const[]){ "sample", "--model", "gaussian:mean=1,std=2",
                                        "--solver", "dpmpp2m", "--nfe", "10", "--to-zero",
                                        "--n", "32", "--thresholding", kinds[k],
                                        "--clip-value", "0.05", "--dynamic-ratio", "0.9",
                                        "--out", out, NULL }, r);
        cJSON *json = json_line(r);
        ck_assert_double_eq(num(json, "sigma_min"), 0.0);
        double *x = NULL, xmax = 0;
        size_t rows = 0, cols = 0;
        ck_assert_int_eq(dode_npy_read(out, &x, &rows, &cols, err, sizeof err), DODE_OK);
        for (size_t j = 0; j < rows * cols; j++)
            xmax = fmax(xmax, fabs(x[j]));
        ck_assert_msg(xmax == bounds[k], "%s: max |x_0| = %.17g", kinds[k], xmax);
        free(x);
        cJSON_Delete(json);
    }
    free(r);
    test_rm_tree(dir);
}
END_TEST

/* --unipc-bh 2 (or bh2, the configs' spelling) is the default; 1 is another method. */
START_TEST(unipc_bh_flag_selects_the_variant)
{
    static const char *const bh[4] = { NULL, "2", "bh2", "1" };
    double rmse[4];
    char *dir = test_tmpdir("check_cli");
    run_result *r = malloc(sizeof *r);
    for (int k = 0; k < 4; k++) {
        const char *args[] = { "sample", "--model", "gaussian", "--solver", "unipc2", "--nfe",
                               "10", "--n", "16", bh[k] != NULL ? "--unipc-bh" : NULL, bh[k],
                               NULL };
        run(dir, args, r);
        cJSON *json = json_line(r);
        rmse[k] = num(json, "rmse");
        cJSON_Delete(json);
    }
    ck_assert(rmse[1] == rmse[0] && rmse[2] == rmse[0]);
    ck_assert_msg(fabs(rmse[3] - rmse[0]) > 1e-6 * rmse[0], "bh1 %g, bh2 %g", rmse[3], rmse[0]);
    free(r);
    test_rm_tree(dir);
}
END_TEST

/* The bad input files the error table refers to, written into dir. */
static void write_bad_inputs(const char *dir)
{
    char path[512], err[ERRLEN];
    static const char i8[] = "\x93NUMPY\x01\x00\x76\x00{'descr': '<i8', 'fortran_order': False, "
                             "'shape': (2, 2), }";
    unsigned char buf[160];
    memset(buf, ' ', sizeof buf);
    memcpy(buf, i8, sizeof i8 - 1);
    buf[127] = '\n';                                        /* 10 + 118 = 128 header bytes */
    memset(buf + 128, 0, 32);
    snprintf(path, sizeof path, "%s/i8.npy", dir);
    ck_assert_int_eq(dode_write_atomic(path, buf, 160, err, sizeof err), DODE_OK);
    snprintf(path, sizeof path, "%s/short.npy", dir);      /* (2, 2) float64, 24 of 32 bytes */
    memcpy(buf + 10, "{'descr': '<f8'", 15);
    ck_assert_int_eq(dode_write_atomic(path, buf, 128 + 24, err, sizeof err), DODE_OK);
    const double x3[6] = { 0, 1, 2, 3, 4, 5 }, xnan[6] = { 0, 1, 2, 3, NAN, 5 };
    snprintf(path, sizeof path, "%s/dim3.npy", dir);
    ck_assert_int_eq(dode_npy_write(path, x3, 2, 3, err, sizeof err), DODE_OK);
    snprintf(path, sizeof path, "%s/nan.npy", dir);        /* row 2 holds the NaN */
    ck_assert_int_eq(dode_npy_write(path, xnan, 3, 2, err, sizeof err), DODE_OK);
    static const char *const json[2][2] = {
        { "count.json", "{\"weights\":[0.5,0.5],\"means\":[[0,0],[1,1]],\"stds\":[0.3]}" },
        { "syntax.json", "{\"weights\":[0.5,0.5], \"means\": [[0,0]" },
    };
    snprintf(path, sizeof path, "%s/fifo", dir);           /* no writer: open(2) would block */
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, json[k][0]);
        ck_assert_int_eq(dode_write_atomic(path, json[k][1], strlen(json[k][1]), err,
                                           sizeof err), DODE_OK);
    }
}

/* One bad invocation: extra arguments ("@" is replaced by the temp dir), the exit
 * status, and what stderr must say. */
typedef struct {
    const char *args[6];
    int status;
    const char *says;
} bad_case;

static const bad_case bad_cases[] = {
    { { "--solver", "nope" }, 2, "'nope'" },
    { { "--schedule", "nope" }, 2, "\"nope\"" },
    { { "--spacing", "nope" }, 2, "\"nope\"" },
    { { "--model", "nope:1" }, 2, "unknown kind 'nope'" },
    { { "--model", "gaussian:foo=1" }, 2, "unknown key 'foo'" },
    { { "--model", "gaussian:std=0" }, 2, "std = '0'" },
    { { "--nfe", "abc" }, 2, "--nfe 'abc'" },
    { { "--nfe", "0" }, 2, "--nfe '0'" },
    { { "--nfe", "-3" }, 2, "--nfe '-3'" },
    { { "--nfe" }, 2, "--nfe needs a value" },
    { { "--t-min", "0.5", "--t-max", "0.2" }, 2, "--t-min 0.5 must be below --t-max 0.2" },
    { { "--solver", "rk4", "--nfe", "3" }, 2, "--nfe 3 is less than one step of rk4" },
    { { "--solver", "gsl:rk8pd", "--nfe", "20" }, 2, "adaptive" },
    { { "--bogus" }, 2, "'--bogus'" },
    { { "--variable", "u" }, 2, "'u'" },
    { { "--unipc-bh", "3" }, 2, "--unipc-bh '3'" },
    { { "--thresholding", "clip" }, 2, "--thresholding 'clip'" },
    { { "--clip-value", "0" }, 2, "--clip-value '0'" },
    { { "--clip-value", "nan" }, 2, "--clip-value 'nan'" },
    { { "--dynamic-ratio", "1.5" }, 2, "--dynamic-ratio '1.5': 1.5 is out of range: expected in (0, 1]" },
    { { "--dynamic-ratio", "-0.1" }, 2, "--dynamic-ratio '-0.1'" },
    { { "--h-init", "0" }, 2, "--h-init '0': 0 is out of range: expected > 0" },
    { { "--lower-order-threshold", "-1" }, 2, "--lower-order-threshold '-1'" },
    { { "--denoise-to-zero=maybe" }, 2, "\"maybe\" is not yes or no" },
    { { "--ddim_xspace" }, 2, "unknown option '--ddim_xspace'" },
    { { "--solver", "dpm3", "--r1", "0.6", "--r2", "0.5" }, 2, "r2 = 0.5 must lie in (r1, 1)" },
    { { "--x-T", "@/i8.npy" }, 2, "'<i8'" },
    { { "--x-T", "@/dim3.npy" }, 2, "shape (2, 3)" },
    { { "--x-T", "@/short.npy" }, 2, "needs 32 bytes, found 24" },
    { { "--x-T", "@/nan.npy" }, 2, "row 2" },
    { { "--x-T", "@/missing.npy" }, 1, "missing.npy" },
    { { "--model", "gmm:@/count.json" }, 2, "\"stds\" has 1 entries" },
    { { "--model", "gmm:@/syntax.json" }, 2, "syntax.json" },
    /* issue 18: counts above limits.h's bounds, subnormal and overflowing numbers, a t-max
     * whose sigma overflows x_T, and inputs that are not regular files; each used to run
     * for minutes, block, or fail later with a message that did not name the flag */
    { { "--nfe", "1000000000" }, 2,
      "--nfe 1000000000 is above the limit of 10000 model evaluations per solve" },
    { { "--steps", "10001" }, 2, "--steps 10001 is above the limit of 10000 grid steps" },
    { { "--n", "16777217" }, 2, "--n 16777217 is above the limit of 16777216 samples" },
    { { "--t-min", "5e-324" }, 2, "--t-min '5e-324' is subnormal" },
    { { "--t-max", "1e999" }, 2, "--t-max '1e999' overflows a double" },
    { { "--schedule", "edm", "--t-max", "1e300" }, 2,
      "t-max 1e+300 gives sigma = 1e+300, above the largest sigma 1e+150" },
    { { "--model", "mlp:/dev/zero" }, 2, "/dev/zero: it is a character device" },
    { { "--model", "mlp:@/fifo" }, 2, "fifo: it is a FIFO" },     /* spec.c: a loader's */
    { { "--model", "gmm:@/fifo" }, 2, "fifo: it is a FIFO" },     /* failure is EFORMAT */
    { { "--x-T", "@/fifo" }, 1, "fifo: it is a FIFO" },
};

/* Copies a template argument, replacing a leading "@" by dir. */
static const char *expand(const char *arg, const char *dir, char *buf, size_t len)
{
    const char *at = strchr(arg, '@');
    if (at == NULL)
        return arg;
    snprintf(buf, len, "%.*s%s%s", (int)(at - arg), arg, dir, at + 1);
    return buf;
}

START_TEST(bad_inputs_fail_name_the_problem_and_write_nothing)
{
    char *dir = test_tmpdir("check_cli"), out[512];
    write_bad_inputs(dir);
    snprintf(out, sizeof out, "%s/out.npy", dir);
    run_result *r = malloc(sizeof *r);
    for (size_t k = 0; k < sizeof bad_cases / sizeof bad_cases[0]; k++) {
        const bad_case *c = &bad_cases[k];
        char bufs[6][512];
        const char *args[16] = { "sample", "--model", "gaussian", "--n", "8", "--out", out };
        size_t argc = 7;
        for (size_t j = 0; j < 6 && c->args[j] != NULL; j++)
            args[argc++] = expand(c->args[j], dir, bufs[j], sizeof bufs[j]);
        args[argc] = NULL;
        run(dir, args, r);
        ck_assert_msg(r->status == c->status, "case %zu (%s): exit %d, expected %d; %s", k,
                      c->says, r->status, c->status, r->err);
        ck_assert_msg(strncmp(r->err, "diffode sample: ", 16) == 0, "case %zu: %s", k, r->err);
        ck_assert_msg(strstr(r->err, c->says) != NULL, "case %zu: '%s' lacks '%s'", k, r->err,
                      c->says);
        ck_assert_msg(r->out[0] == '\0', "case %zu printed %s", k, r->out);
        ck_assert_msg(access(out, F_OK) != 0, "case %zu left %s", k, out);
    }
    free(r);
    test_rm_tree(dir);
}
END_TEST

/* `reference` is gsl:rk8pd: a solver option it does not read is refused, not ignored. */
START_TEST(reference_refuses_options_it_does_not_read)
{
    char *dir = test_tmpdir("check_cli_ref"), out[512];
    snprintf(out, sizeof out, "%s/out.npy", dir);
    run_result *r = malloc(sizeof *r);
    const char *args[] = { "reference", "--model", "gaussian", "--n", "4", "--eta", "1",
                           "--out", out, NULL };
    run(dir, args, r);
    ck_assert_int_eq(r->status, 2);
    ck_assert_msg(strstr(r->err, "option eta does not apply to the reference") != NULL, "%s",
                  r->err);
    ck_assert_msg(access(out, F_OK) != 0, "left %s", out);
    free(r);
    test_rm_tree(dir);
}
END_TEST

START_TEST(unwritable_out_fails_and_leaves_nothing)
{
    char *dir = test_tmpdir("check_cli"), out[512], traj[512];
    snprintf(out, sizeof out, "%s/missing/x.npy", dir);
    snprintf(traj, sizeof traj, "%s/traj.csv", dir);
    run_result *r = malloc(sizeof *r);
    run(dir, (const char *const[]){ "sample", "--model", "gaussian", "--n", "4", "--out", out,
                                    "--trajectory", traj, NULL }, r);
    ck_assert_int_eq(r->status, 1);
    ck_assert_ptr_nonnull(strstr(r->err, out));
    ck_assert_str_eq(r->out, "");
    ck_assert_int_ne(access(traj, F_OK), 0);
    free(r);
    test_rm_tree(dir);
}
END_TEST

START_TEST(reference_refuses_a_solver_flag)
{
    char *dir = test_tmpdir("check_cli");
    run_result *r = malloc(sizeof *r);
    run(dir, (const char *const[]){ "reference", "--model", "gaussian", "--solver", "rk4",
                                    NULL }, r);
    ck_assert_int_eq(r->status, 2);
    ck_assert_ptr_nonnull(strstr(r->err, "diffode reference: unknown option '--solver'"));
    free(r);
    test_rm_tree(dir);
}
END_TEST

/* The seeded start is MATH.md section 4's: x_T from mt19937 + ziggurat (testutil.h's
 * test_xbar_T draws the same), xbar_T = x_T sqrt(1 + sigma_T^2); the CSV's %.17g round
 * trips, so step 0 must equal it to the last bit. */
START_TEST(seeded_start_is_the_documented_draw)
{
    char *dir = test_tmpdir("check_cli"), path[512];
    snprintf(path, sizeof path, "%s/traj.csv", dir);
    run_result *r = malloc(sizeof *r);
    run(dir, (const char *const[]){ "sample", "--model", "gaussian", "--solver", "euler",
                                    "--steps", "1", "--n", "4", "--seed", "11",
                                    "--trajectory", path, NULL }, r);
    cJSON *json = json_line(r);
    double *want = test_xbar_T(4, 2, num(json, "sigma_max"), 11), lib[8];
    char err[ERRLEN];
    ck_assert_int_eq(dode_draw_x_T(11, lib, 8, err, sizeof err), DODE_OK);  /* the public draw */
    const double scale = sqrt(1.0 + num(json, "sigma_max") * num(json, "sigma_max"));
    for (size_t k = 0; k < 8; k++)
        ck_assert(scale * lib[k] == want[k]);
    char *csv = malloc(OUT_MAX);
    test_slurp(path, csv, OUT_MAX);
    const char *line = strchr(csv, '\n') + 1;
    for (size_t i = 0; i < 4; i++, line = strchr(line, '\n') + 1) {
        size_t step, sample;
        double sigma, t, xb0, xb1;
        ck_assert_int_eq(sscanf(line, "%zu,%zu,%lf,%lf,%lf,%lf", &step, &sample, &sigma, &t,
                                &xb0, &xb1), 6);
        ck_assert_uint_eq(step * 100 + sample, i);
        ck_assert(xb0 == want[2 * i] && xb1 == want[2 * i + 1]);
    }
    free(want);
    free(csv);
    cJSON_Delete(json);
    free(r);
    test_rm_tree(dir);
}
END_TEST

/* betas:FILE.npy with ddpm-linear's own betas (linspace(1e-4, 0.02, 1000)) is the same
 * schedule: the same sigma_T and sigma_0 and the same error, up to the rounding of the
 * betas (relative 1e-12 is 10^4 ulps of headroom). */
START_TEST(betas_file_schedule_matches_the_named_one)
{
    char *dir = test_tmpdir("check_cli"), path[512], spec[600], err[ERRLEN];
    snprintf(path, sizeof path, "%s/betas.npy", dir);
    snprintf(spec, sizeof spec, "betas:%s", path);
    double betas[1000];
    for (int k = 0; k < 1000; k++)
        betas[k] = 1e-4 + (0.02 - 1e-4) * k / 999.0;
    ck_assert_int_eq(dode_npy_write(path, betas, 1000, 1, err, sizeof err), DODE_OK);
    run_result *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    run(dir, (const char *const[]){ "sample", "--model", "gaussian", "--n", "16",
                                    "--schedule", "ddpm-linear", NULL }, a);
    run(dir, (const char *const[]){ "sample", "--model", "gaussian", "--n", "16",
                                    "--schedule", spec, NULL }, b);
    cJSON *ja = json_line(a), *jb = json_line(b);
    ck_assert_str_eq(str(jb, "schedule"), spec);
    static const char *const keys[] = { "sigma_max", "sigma_min", "rmse" };
    for (int k = 0; k < 3; k++)
        ck_assert_double_eq_tol(num(jb, keys[k]) / num(ja, keys[k]), 1.0, 1e-12);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    free(a);
    free(b);
    test_rm_tree(dir);
}
END_TEST

/* cli_args.c directly: both spellings, strict numbers, choices, and what "unset" means. */
typedef struct {
    size_t count;
    double x;
    int sw, choice;
    const char *name;
} parse_opts;

static const char *const test_choices[] = { "alpha", "beta", NULL };
static const cli_flag test_flags[] = {
    { "--count", CLI_COUNT, offsetof(parse_opts, count), NULL, "N", "a count", 1 },
    { "--x", CLI_POSITIVE, offsetof(parse_opts, x), NULL, "X", "a positive number", 1 },
    { "--sw", CLI_SWITCH, offsetof(parse_opts, sw), NULL, NULL, "a switch", 1 },
    { "--pick", CLI_CHOICE, offsetof(parse_opts, choice), test_choices, "C", "a choice", 1 },
    { "--name", CLI_STRING, offsetof(parse_opts, name), NULL, "S", "a string", 1 },
    { "--other", CLI_SWITCH, offsetof(parse_opts, sw), NULL, NULL, "another command's", 2 },
    { NULL, 0, 0, NULL, NULL, NULL, 0 },
};

START_TEST(flag_parser_reads_both_spellings_and_refuses_bad_values)
{
    char *ok[] = { "cmd", "--count", "12", "--x=2.5e-3", "--sw", "--pick", "beta", "--name=a=b" };
    parse_opts o = { .count = 0, .x = NAN, .sw = 0, .choice = -1, .name = NULL };
    char err[ERRLEN] = "";
    ck_assert_int_eq(cli_parse(test_flags, 1, 8, ok, &o, err, sizeof err), CLI_PARSED);
    ck_assert_uint_eq(o.count, 12);
    ck_assert(o.x == 2.5e-3);
    ck_assert_int_eq(o.sw * 10 + o.choice, 11);
    ck_assert_str_eq(o.name, "a=b");
    static const struct { const char *a, *b; int code; const char *says; } bad[] = {
        { "--count", "1.5", DODE_EINVAL, "--count '1.5'" },
        { "--count", "99999999999999999999999", DODE_EINVAL, "whole number" },
        { "--x", "0", DODE_EINVAL, "--x '0'" },
        { "--x", "inf", DODE_EINVAL, "--x 'inf'" },
        { "--x", "1e999", DODE_EINVAL, "--x '1e999'" },
        { "--pick", "gamma", DODE_EINVAL, "alpha|beta" },
        { "--sw=1", NULL, DODE_EINVAL, "takes no value" },
        { "--other", NULL, DODE_ENOTFOUND, "'--other'" },
        { "--x", NULL, DODE_EINVAL, "--x needs a value X" },
        { "stray", NULL, DODE_EINVAL, "'stray'" },
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char *argv[3] = { "cmd", (char *)bad[k].a, (char *)bad[k].b };
        parse_opts p = { .count = 7, .x = 7, .sw = 0, .choice = -1, .name = NULL };
        const int rc = cli_parse(test_flags, 1, bad[k].b != NULL ? 3 : 2, argv, &p, err,
                                 sizeof err);
        ck_assert_msg(rc == bad[k].code, "case %zu: %d", k, rc);
        ck_assert_msg(strstr(err, bad[k].says) != NULL, "'%s' lacks '%s'", err, bad[k].says);
        ck_assert(p.count == 7 && p.x == 7);               /* a refused value is not stored */
    }
    char *help[] = { "cmd", "--count", "3", "-h" };
    ck_assert_int_eq(cli_parse(test_flags, 1, 4, help, &o, err, sizeof err), CLI_HELP);
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, list_prints_solvers_schedules_and_models);
    tcase_add_test(tc, sample_prints_one_json_line_with_the_requested_nfe);
    tcase_add_test(tc, error_against_exact_flow_falls_with_the_solver_order);
    tcase_add_test(tc, reference_matches_the_exact_flow_to_its_tolerance);
    tcase_add_test(tc, vs_reference_error_agrees_with_exact_error);
    tcase_add_test(tc, out_holds_x0_of_the_given_x_T);
    tcase_add_test(tc, trajectory_has_a_row_per_point_and_sample);
    tcase_add_test(tc, same_seed_gives_the_same_run);
    tcase_add_test(tc, help_lists_the_flags_and_exits_zero);
    tcase_add_test(tc, thresholding_flags_bound_the_samples);
    tcase_add_test(tc, reference_refuses_options_it_does_not_read);
    tcase_add_test(tc, unipc_bh_flag_selects_the_variant);
    tcase_add_test(tc, bad_inputs_fail_name_the_problem_and_write_nothing);
    tcase_add_test(tc, unwritable_out_fails_and_leaves_nothing);
    tcase_add_test(tc, reference_refuses_a_solver_flag);
    tcase_add_test(tc, seeded_start_is_the_documented_draw);
    tcase_add_test(tc, betas_file_schedule_matches_the_named_one);
    suite_add_tcase(s, tc);
    TCase *args = tcase_create("args");
    tcase_add_test(args, flag_parser_reads_both_spellings_and_refuses_bad_values);
    suite_add_tcase(s, args);
    return s;
}

DODE_TEST_MAIN(cli_suite)
