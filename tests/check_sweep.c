/* check_sweep.c - sweeps (experiments/sweep.h): a tiny sweep runs to completion with the
 * errors a direct solve gives; a rerun skips every row and rewrites the same bytes; a sweep
 * stopped after k rows and resumed writes the same runs.csv and summary.json as one that
 * was never stopped; the rk8pd reference agrees with the exact flow and is cached; shards
 * merged, and a sweep on two threads, write the same bytes as one serial run; a round trip
 * (mode = roundtrip) converges at the order its legs' cancelling error terms predict. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "../experiments/cli.h"
#include "../experiments/config.h"
#include "../experiments/metrics.h"
#include "../experiments/sweep.h"

/* 2 solvers x 2 NFE x 1 seed on a 2-D Gaussian (which has an exact flow): 4 rows. */
static const char tiny[] =
    "[experiment]\nname = tiny\nsamples = 8\nseeds = 3\ntrue_samples = 64\nprojections = 8\n"
    "[model g]\nspec = gaussian:dim=2,mean=0.5,std=0.8\n"
    "[sweep]\nschedules = vp-linear\nsolvers = euler, heun\nnfe = 4, 8\n";

static exp_config parse(const char *text)
{
    exp_config cfg;
    char err[ERRLEN];
    ck_assert_msg(exp_config_parse(text, "sweep_test.ini", &cfg, err, sizeof err) == DODE_OK,
                  "%s", err);
    return cfg;
}

static exp_sweep_stats run(const exp_config *cfg, const char *root, size_t max_rows)
{
    exp_sweep_opts o;
    exp_sweep_stats st;
    char err[ERRLEN];
    exp_sweep_opts_init(&o);
    o.root = root;
    o.max_rows = max_rows;
    ck_assert_msg(exp_sweep_run(cfg, &o, &st, err, sizeof err) == DODE_OK, "%s", err);
    return st;
}

/* The whole of root/name/file (caller frees), or NULL. */
static char *slurp(const char *root, const char *name, const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", root, name, file);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    ck_assert_uint_lt(fread(buf, 1, (1 << 20) - 1, f), (1 << 20) - 1);
    fclose(f);
    return buf;
}

static void make_root(char *dir)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_root(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(tiny_sweep_records_the_errors_of_a_direct_solve)
{
    char root[] = "/tmp/check_sweep_XXXXXX";
    make_root(root);
    exp_config cfg = parse(tiny);
    exp_sweep_stats st = run(&cfg, root, 0);
    ck_assert_uint_eq(st.total, 4);
    ck_assert_uint_eq(st.ran, 4);
    ck_assert_uint_eq(st.failed, 0);
    char *csv = slurp(root, "tiny", "runs.csv");
    ck_assert_ptr_nonnull(csv);
    /* row 4 is heun at NFE 8 (seed fastest, then nfe, then solver): solve it here */
    char err[ERRLEN];
    dode_model *m = NULL;
    ck_assert_int_eq(dode_model_from_spec("gaussian:dim=2,mean=0.5,std=0.8", &m, err,
                                          sizeof err), DODE_OK);
    dode_schedule *s = dode_schedule_new("vp-linear", err, sizeof err);
    dode_grid_opts go;
    dode_grid g;
    dode_grid_opts_init(&go);
    ck_assert_int_eq(dode_grid_make(s, &go, 4, &g, err, sizeof err), DODE_OK);
    double *xbar_T = test_xbar_T(8, 2, g.sigma[0], 3), xbar[16], exact[16], rmse = 0;
    memcpy(xbar, xbar_T, sizeof xbar);
    dode_ode *ode = dode_ode_new(m, s, 8, err, sizeof err);
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    ck_assert_int_eq(dode_solve(dode_solver_find("heun"), ode, &g, xbar, &o, NULL,
                                err, sizeof err), DODE_OK);
    ck_assert_int_eq(m->exact_flow(m, 8, xbar_T, g.sigma[0], g.sigma[g.steps], exact), DODE_OK);
    exp_metric_rmse(xbar, exact, 16, &rmse, err, sizeof err);
    ck_assert_double_eq_tol(test_csv_field(csv, 4, 13), rmse, 1e-10 * rmse);  /* 11 digits */
    ck_assert_double_eq(test_csv_field(csv, 4, 9), 8);                          /* nfe_used */
    ck_assert(isfinite(test_csv_field(csv, 4, 16)) && isfinite(test_csv_field(csv, 4, 17)));
    ck_assert_ptr_nonnull(strstr(csv, ",ok,"));
    ck_assert_ptr_nonnull(strstr(csv, ",exact,nan,"));
    char *copy = slurp(root, "tiny", "config.ini");
    ck_assert_str_eq(copy, tiny);
    free(copy);
    dode_ode_free(ode);
    free(xbar_T);
    dode_grid_free(&g);
    dode_schedule_free(s);
    dode_model_free(m);
    free(csv);
    exp_config_free(&cfg);
    remove_root(root);
}
END_TEST

START_TEST(rerun_skips_every_row_and_rewrites_the_same_bytes)
{
    char root[] = "/tmp/check_sweep_XXXXXX";
    make_root(root);
    exp_config cfg = parse(tiny);
    run(&cfg, root, 0);
    char *first = slurp(root, "tiny", "runs.csv"), *sum1 = slurp(root, "tiny", "summary.json");
    exp_sweep_stats st = run(&cfg, root, 0);
    ck_assert_uint_eq(st.ran, 0);
    ck_assert_uint_eq(st.skipped, 4);
    char *second = slurp(root, "tiny", "runs.csv"), *sum2 = slurp(root, "tiny", "summary.json");
    ck_assert_str_eq(first, second);
    ck_assert_str_eq(sum1, sum2);
    free(first);
    free(second);
    free(sum1);
    free(sum2);
    exp_config_free(&cfg);
    remove_root(root);
}
END_TEST

START_TEST(stopped_then_resumed_sweep_equals_an_uninterrupted_one)
{
    char whole[] = "/tmp/check_sweep_XXXXXX", parts[] = "/tmp/check_sweep_XXXXXX";
    make_root(whole);
    make_root(parts);
    exp_config cfg = parse(tiny);
    run(&cfg, whole, 0);
    exp_sweep_stats st = run(&cfg, parts, 1);           /* "killed" after one row */
    ck_assert(st.stopped);
    ck_assert_uint_eq(st.ran, 1);
    char *partial = slurp(parts, "tiny", "runs.csv");
    ck_assert_int_eq((int)(strchr(strchr(partial, '\n') + 1, '\n') - partial + 1),
                     (int)strlen(partial));              /* header + exactly one row */
    st = run(&cfg, parts, 2);
    ck_assert_uint_eq(st.skipped, 1);
    st = run(&cfg, parts, 0);
    ck_assert_uint_eq(st.skipped, 3);
    ck_assert_uint_eq(st.ran, 1);
    char *a = slurp(whole, "tiny", "runs.csv"), *b = slurp(parts, "tiny", "runs.csv");
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    a = slurp(whole, "tiny", "summary.json");
    b = slurp(parts, "tiny", "summary.json");
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    free(partial);
    exp_config_free(&cfg);
    remove_root(whole);
    remove_root(parts);
}
END_TEST

START_TEST(stop_flag_ends_the_sweep_before_the_next_row)
{
    char root[] = "/tmp/check_sweep_XXXXXX";
    make_root(root);
    exp_config cfg = parse(tiny);
    volatile sig_atomic_t stop = 1;
    exp_sweep_opts o;
    exp_sweep_stats st;
    char err[ERRLEN];
    exp_sweep_opts_init(&o);
    o.root = root;
    o.stop = &stop;
    ck_assert_int_eq(exp_sweep_run(&cfg, &o, &st, err, sizeof err), DODE_OK);
    ck_assert(st.stopped);
    ck_assert_uint_eq(st.ran, 0);
    char *csv = slurp(root, "tiny", "runs.csv");
    ck_assert_str_eq(csv, "model,schedule,spacing,solver,options,nfe,seed,n,steps,nfe_used,"
                     "sigma_start,sigma_end,status,rmse,max_err,nll,fd,sw2,reference,"
                     "diff_baseline,w2_exact,kl_exact,mode_tv,logp_gap,energy\n");
    free(csv);
    exp_config_free(&cfg);
    remove_root(root);
}
END_TEST

START_TEST(rk8pd_reference_matches_the_exact_flow_and_is_cached)
{
    /* the reference error is ~ rtol = 1e-12 per component, so the RMSEs against either
     * reference agree to 1e-9 (a bound well above it, far below the solver error ~1e-2) */
    static const char rk[] =
        "[experiment]\nname = rk\nsamples = 8\nseeds = 3\nreference = rk8pd\n"
        "true_samples = 0\n[model g]\nspec = gaussian:dim=2,mean=0.5,std=0.8\n"
        "[sweep]\nschedules = vp-linear\nsolvers = euler, heun\nnfe = 4, 8\n";
    char root[] = "/tmp/check_sweep_XXXXXX";
    make_root(root);
    exp_config exact = parse(tiny), ref = parse(rk);
    run(&exact, root, 0);
    run(&ref, root, 0);
    char *a = slurp(root, "tiny", "runs.csv"), *b = slurp(root, "rk", "runs.csv");
    for (int line = 1; line <= 4; line++)
        ck_assert_double_eq_tol(test_csv_field(a, line, 13), test_csv_field(b, line, 13),
                                1e-9);
    ck_assert_ptr_nonnull(strstr(b, ",rk8pd,nan,"));
    char path[512];                         /* one start, one end: one cached solve */
    snprintf(path, sizeof path, "ls %s/cache/*.npy | wc -l | grep -qx 1", root);
    ck_assert_int_eq(system(path), 0);
    snprintf(path, sizeof path, "rm -rf %s/rk", root);
    ck_assert_int_eq(system(path), 0);
    run(&ref, root, 0);                      /* from the cache: same bytes */
    char *c = slurp(root, "rk", "runs.csv");
    ck_assert_str_eq(b, c);
    free(a);
    free(b);
    free(c);
    exp_config_free(&exact);
    exp_config_free(&ref);
    remove_root(root);
}
END_TEST

START_TEST(trajectory_errors_start_at_zero_end_at_the_final_error_and_resume_exactly)
{
    static const char traj[] =
        "[experiment]\nname = traj\nsamples = 8\nseeds = 1\ntrajectory = yes\n"
        "true_samples = 0\n[model g]\nspec = gaussian:dim=2,mean=0.5,std=0.8\n"
        "[sweep]\nschedules = vp-linear\nsolvers = euler, heun\nnfe = 4, 8\n";
    char whole[] = "/tmp/check_sweep_XXXXXX", parts[] = "/tmp/check_sweep_XXXXXX";
    make_root(whole);
    make_root(parts);
    exp_config cfg = parse(traj);
    run(&cfg, whole, 0);
    char *csv = slurp(whole, "traj", "runs.csv"), *tr = slurp(whole, "traj", "trajectories.csv");
    /* euler at NFE 4: points 0..4 are lines 1..5; the start is exact, the end is the row */
    ck_assert_double_eq_tol(test_csv_field(tr, 1, 9), 0.0, 1e-13); /* rounding of xbar ~ 150 */
    ck_assert_double_eq_tol(test_csv_field(tr, 5, 9), test_csv_field(csv, 1, 13),
                            1e-10 * test_csv_field(csv, 1, 13));
    ck_assert_double_eq(test_csv_field(tr, 5, 7), 4);
    run(&cfg, parts, 3);
    run(&cfg, parts, 0);
    char *tr2 = slurp(parts, "traj", "trajectories.csv");
    ck_assert_str_eq(tr, tr2);
    free(csv);
    free(tr);
    free(tr2);
    exp_config_free(&cfg);
    remove_root(whole);
    remove_root(parts);
}
END_TEST

/* The theory a run table states comes from the registry under the section's options:
 * [solver x] base = dpm3m, d2 = taylor is order 3, plain dpm3m order 2. */
START_TEST(derived_solver_states_its_own_theory)
{
    static const char d2[] =
        "[experiment]\nname = d2\nsamples = 4\ntrue_samples = 0\n"
        "[model g]\nspec = gaussian:dim=2\n[solver dpm3m-c2]\nbase = dpm3m\nd2 = taylor\n"
        "[sweep]\nschedules = vp-linear\nsolvers = dpm3m, dpm3m-c2\nnfe = 6, 12\n";
    char root[] = "/tmp/check_sweep_XXXXXX";
    make_root(root);
    exp_config cfg = parse(d2);
    run(&cfg, root, 0);
    char *json = slurp(root, "d2", "summary.json");
    ck_assert_ptr_nonnull(json);
    const char *plain = strstr(json, "\"dpm3m\""), *c2 = strstr(json, "\"dpm3m-c2\"");
    ck_assert(plain != NULL && c2 != NULL);
    ck_assert_ptr_nonnull(strstr(plain, "\"theory_order\":\t2"));
    ck_assert_ptr_nonnull(strstr(c2, "\"theory_order\":\t3"));
    free(json);
    exp_config_free(&cfg);
    remove_root(root);
}
END_TEST

START_TEST(ddim_equals_euler_at_every_step_against_the_baseline)
{
    /* DDIM (eta = 0, here in x-space: DDIM eq. 12) is Euler in sigma: the two agree to
     * rounding (MATH.md section 2 measures 2.2e-15), at the end and at every point; heun,
     * a different method, differs by its O(h) gap */
    static const char de[] =
        "[experiment]\nname = de\nsamples = 8\ntrajectory = yes\nbaseline = euler\n"
        "true_samples = 0\n[model g]\nspec = gmm:experiments/configs/gmm2d.json\n"
        "[solver ddim-x]\nbase = ddim\nddim_xspace = yes\n"
        "[sweep]\nschedules = ddpm-linear\nsolvers = euler, ddim-x, heun\nnfe = 10\n";
    char root[] = "/tmp/check_sweep_XXXXXX";
    make_root(root);
    exp_config cfg = parse(de);
    ck_assert_int_eq(cfg.baseline, 0);
    run(&cfg, root, 0);
    char *csv = slurp(root, "de", "runs.csv"), *tr = slurp(root, "de", "trajectories.csv");
    ck_assert_double_eq(test_csv_field(csv, 1, 19), 0.0);              /* euler vs itself */
    ck_assert_double_le(test_csv_field(csv, 2, 19), 1e-12);            /* ddim-x vs euler */
    ck_assert_double_gt(test_csv_field(csv, 3, 19), 1e-6);             /* heun vs euler */
    for (int line = 12; line <= 22; line++)                        /* ddim-x's 11 points */
        ck_assert_double_le(test_csv_field(tr, line, 10), 1e-12);
    free(csv);
    free(tr);
    exp_config_free(&cfg);
    remove_root(root);
}
END_TEST

START_TEST(figures_are_drawn_when_gnuplot_is_present)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0)
        return;                                 /* figures are optional without gnuplot */
    char root[] = "/tmp/check_sweep_XXXXXX", cmd[600];
    make_root(root);
    exp_config cfg = parse(tiny);
    run(&cfg, root, 0);
    snprintf(cmd, sizeof cmd, "sh plots/plot.sh %s/tiny", root);
    ck_assert_int_eq(system(cmd), 0);
    static const char *const files[] = { "error_vs_nfe.png", "error_vs_nfe.svg" };
    for (int i = 0; i < 2; i++) {
        char *bytes = slurp(root, "tiny", files[i]);
        ck_assert_msg(bytes != NULL, "%s not drawn", files[i]);
        ck_assert(i == 0 ? memcmp(bytes, "\x89PNG", 4) == 0 : strstr(bytes, "<svg") != NULL);
        free(bytes);
    }
    exp_config_free(&cfg);
    remove_root(root);
}
END_TEST

/* A results root may be new, but not its parent: a mistyped --root creates nothing. */
START_TEST(root_with_a_missing_parent_is_refused_and_nothing_is_created)
{
    char root[] = "/tmp/check_sweep_XXXXXX", bad[600], err[ERRLEN];
    make_root(root);
    snprintf(bad, sizeof bad, "%s/missing/results", root);
    exp_config cfg = parse(tiny);
    exp_sweep_opts o;
    exp_sweep_stats st;
    exp_sweep_opts_init(&o);
    o.root = bad;
    ck_assert_int_eq(exp_sweep_run(&cfg, &o, &st, err, sizeof err), DODE_EINVAL);
    ck_assert_msg(strstr(err, "/missing does not exist") != NULL, "%s", err);
    ck_assert_int_eq(test_count_visible(root), 0);
    snprintf(bad, sizeof bad, "%s/new/", root);                 /* one new level is fine */
    o.root = bad;
    ck_assert_msg(exp_sweep_run(&cfg, &o, &st, err, sizeof err) == DODE_OK, "%s", err);
    exp_config_free(&cfg);
    remove_root(root);
}
END_TEST

/* `sh -c CMD` with stderr into err; the exit status. */
static int shell(const char *cmd, char *err, size_t cap)
{
    char line[2048], path[] = "/tmp/check_sweep_err_XXXXXX";
    const int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    snprintf(line, sizeof line, "%s 2>%s", cmd, path);
    const int status = system(line);
    test_slurp(path, err, cap);
    unlink(path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The plot scripts are found from the executable, so `diffode plot` draws from any
 * folder; it fails (exit 2 or 1, the reason on stderr) when it draws nothing. */
START_TEST(plot_draws_from_any_folder_and_fails_when_it_draws_nothing)
{
    char root[] = "/tmp/check_sweep_XXXXXX", cmd[2048], err[4096], cwd[512], exe[1024];
    const char *rel = test_diffode_path();
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    snprintf(exe, sizeof exe, "%s%s%s", rel[0] == '/' ? "" : cwd, rel[0] == '/' ? "" : "/",
             rel);
    make_root(root);
    exp_config cfg = parse(tiny);
    run(&cfg, root, 0);
    snprintf(cmd, sizeof cmd, "cd %s && %s plot . >/dev/null", root, exe);
    ck_assert_int_eq(shell(cmd, err, sizeof err), 2);          /* root has no .dat files */
    ck_assert_msg(strstr(err, "has no figure data") != NULL, "%s", err);
    snprintf(cmd, sizeof cmd, "cd %s && DIFFODE_PLOTS=/nonexistent %s plot tiny >/dev/null",
             root, exe);
    ck_assert_int_eq(shell(cmd, err, sizeof err), 1);
    ck_assert_msg(strstr(err, "DIFFODE_PLOTS=/nonexistent has no plot.sh") != NULL, "%s", err);
    if (system("command -v gnuplot >/dev/null 2>&1") == 0) {
        snprintf(cmd, sizeof cmd, "cd %s && %s plot tiny >/dev/null", root, exe);
        ck_assert_msg(shell(cmd, err, sizeof err) == 0, "%s", err);
        char *png = slurp(root, "tiny", "error_vs_nfe.png");
        ck_assert_msg(png != NULL && memcmp(png, "\x89PNG", 4) == 0, "no figure drawn");
        free(png);
    }
    exp_config_free(&cfg);
    remove_root(root);
}
END_TEST

START_TEST(figure_tables_carry_the_seed_band_and_a_caption_of_what_ran)
{
    /* error_vs_nfe.dat's "nfe mean min max" are the mean and extremes of the rows' RMSE
     * over the seeds (runs.csv: 11 digits, the table 11: 1e-9 relative); two seeds give
     * two different errors, so the band has width. captions.txt names what was run. */
    static const char two[] =
        "[experiment]\nname = two\nsamples = 8\nseeds = 3, 5\ntrue_samples = 0\n"
        "[model g]\nspec = gaussian:dim=2,mean=0.5,std=0.8\n"
        "[sweep]\nschedules = vp-linear\nsolvers = euler\nnfe = 4, 8\n";
    char root[] = "/tmp/check_sweep_XXXXXX";
    make_root(root);
    exp_config cfg = parse(two);
    run(&cfg, root, 0);
    char *csv = slurp(root, "two", "runs.csv"), *dat = slurp(root, "two", "error_vs_nfe.dat");
    char *cap = slurp(root, "two", "captions.txt");
    ck_assert_ptr_nonnull(strstr(dat, "\"euler\" \"rmse\" \"min\" \"max\"\n"));
    const char *p = strchr(dat, '\n') + 1;
    for (int k = 0; k < 2; k++) {               /* NFE 4 (rows 1, 2), NFE 8 (rows 3, 4) */
        const double a = test_csv_field(csv, 2 * k + 1, 13);
        const double b = test_csv_field(csv, 2 * k + 2, 13);
        double nfe, mean, lo, hi;
        ck_assert_int_eq(sscanf(p, "%lf %lf %lf %lf", &nfe, &mean, &lo, &hi), 4);
        ck_assert_double_eq(nfe, 4 << k);
        ck_assert_double_eq_tol(mean, 0.5 * (a + b), 1e-9 * mean);
        ck_assert_double_eq_tol(lo, fmin(a, b), 1e-9 * lo);
        ck_assert_double_eq_tol(hi, fmax(a, b), 1e-9 * hi);
        ck_assert_double_lt(lo, hi);
        p = strchr(p, '\n') + 1;
    }
    ck_assert_ptr_nonnull(strstr(cap, "sweep model g (gaussian:dim=2,mean=0.5,std=0.8); "
                                      "schedule vp-linear; spacing logsnr\n"));
    ck_assert_ptr_nonnull(strstr(cap, "\nruns 8 samples; seeds 3, 5"));
    ck_assert_ptr_nonnull(strstr(cap, "reference exact flow\n"));
    ck_assert_ptr_nonnull(strstr(cap, "\nsolvers 1\n"));
    free(csv);
    free(dat);
    free(cap);
    exp_config_free(&cfg);
    remove_root(root);
}
END_TEST

START_TEST(foreign_header_in_runs_csv_is_refused_naming_the_file)
{
    char root[] = "/tmp/check_sweep_XXXXXX", path[512], err[ERRLEN];
    make_root(root);
    snprintf(path, sizeof path, "%s/tiny", root);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    snprintf(path, sizeof path, "%s/tiny/runs.csv", root);
    FILE *f = fopen(path, "w");
    fputs("a,b,c\n1,2,3\n", f);
    fclose(f);
    exp_config cfg = parse(tiny);
    exp_sweep_opts o;
    exp_sweep_stats st = { .ran = 42 };
    exp_sweep_opts_init(&o);
    o.root = root;
    ck_assert_int_eq(exp_sweep_run(&cfg, &o, &st, err, sizeof err), DODE_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_ptr_nonnull(strstr(err, "header"));
    char *kept = slurp(root, "tiny", "runs.csv");
    ck_assert_str_eq(kept, "a,b,c\n1,2,3\n");           /* left as it was */
    free(kept);
    exp_config_free(&cfg);
    remove_root(root);
}
END_TEST

START_TEST(fnv1a_matches_the_published_test_vectors)
{
    ck_assert_uint_eq(exp_fnv1a(EXP_FNV_OFFSET, "", 0), 0xcbf29ce484222325ULL);
    ck_assert_uint_eq(exp_fnv1a(EXP_FNV_OFFSET, "a", 1), 0xaf63dc4c8601ec8cULL);
    ck_assert_uint_eq(exp_fnv1a(EXP_FNV_OFFSET, "foobar", 6), 0x85944171f73967e8ULL);
}
END_TEST

/* 3 solvers x 3 NFE x 1 seed against one shared rk8pd reference (cached, locked): 9 rows. */
static const char nine[] =
    "[experiment]\nname = nine\nsamples = 8\nseeds = 5\nreference = rk8pd\n"
    "true_samples = 16\nprojections = 4\n"
    "[model g]\nspec = gaussian:dim=2,mean=0.5,std=0.8\n"
    "[sweep]\nschedules = vp-linear\nsolvers = euler, heun, dpmpp2m\nnfe = 4, 8, 12\n";

/* Runs cfg under root with the given jobs and shard (0/0: whole). */
static exp_sweep_stats run_with(const exp_config *cfg, const char *root, size_t jobs,
                                 size_t k, size_t n)
{
    exp_sweep_opts o;
    exp_sweep_stats st;
    char err[ERRLEN];
    exp_sweep_opts_init(&o);
    o.root = root;
    o.jobs = jobs;
    o.shard_k = k;
    o.shard_n = n;
    ck_assert_msg(exp_sweep_run(cfg, &o, &st, err, sizeof err) == DODE_OK, "%s", err);
    return st;
}

static void assert_same_file(const char *root1, const char *root2, const char *name,
                             const char *file)
{
    char *a = slurp(root1, name, file), *b = slurp(root2, name, file);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
}

START_TEST(shards_merged_equal_the_unsharded_run_byte_for_byte)
{
    char whole[] = "/tmp/check_sweep_XXXXXX", parts[] = "/tmp/check_sweep_XXXXXX";
    char dir[512], err[ERRLEN];
    make_root(whole);
    make_root(parts);
    exp_config cfg = parse(nine);
    run_with(&cfg, whole, 1, 0, 0);
    exp_sweep_stats st = run_with(&cfg, parts, 1, 2, 4);
    ck_assert_uint_eq(st.total, 2);             /* rows 1 and 5 of 0..8 */
    ck_assert_uint_eq(st.ran, 2);
    snprintf(dir, sizeof dir, "%s/nine", parts);
    ck_assert_int_eq(exp_sweep_merge(dir, &st, err, sizeof err), DODE_OK);
    ck_assert_uint_eq(st.done, 2);              /* a partial merge covers what is there */
    ck_assert_uint_eq(st.total, 9);
    for (size_t k = 1; k <= 4; k++)
        if (k != 2)
            run_with(&cfg, parts, 1, k, 4);
    ck_assert_int_eq(exp_sweep_merge(dir, &st, err, sizeof err), DODE_OK);
    ck_assert_uint_eq(st.done, 9);
    assert_same_file(whole, parts, "nine", "runs.csv");
    assert_same_file(whole, parts, "nine", "summary.json");
    assert_same_file(whole, parts, "nine", "config.ini");
    exp_config_free(&cfg);
    remove_root(whole);
    remove_root(parts);
}
END_TEST

START_TEST(merge_refuses_a_dir_without_shards_or_with_mixed_counts)
{
    char root[] = "/tmp/check_sweep_XXXXXX", dir[512], err[ERRLEN] = "";
    make_root(root);
    exp_sweep_stats st = { .done = 42 };
    ck_assert_int_eq(exp_sweep_merge(root, &st, err, sizeof err), DODE_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err, "no shard-K-of-N"));
    ck_assert_uint_eq(st.done, 42);             /* untouched */
    exp_config cfg = parse(tiny);
    run_with(&cfg, root, 1, 1, 2);
    run_with(&cfg, root, 1, 1, 3);
    snprintf(dir, sizeof dir, "%s/tiny", root);
    ck_assert_int_eq(exp_sweep_merge(dir, &st, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "holds shards of"));
    ck_assert_ptr_null(slurp(root, "tiny", "runs.csv"));       /* nothing written */
    exp_config_free(&cfg);
    remove_root(root);
}
END_TEST

START_TEST(two_jobs_write_the_same_bytes_as_one)
{
    char one[] = "/tmp/check_sweep_XXXXXX", two[] = "/tmp/check_sweep_XXXXXX";
    make_root(one);
    make_root(two);
    exp_config cfg = parse(nine);
    run_with(&cfg, one, 1, 0, 0);
    exp_sweep_stats st = run_with(&cfg, two, 2, 0, 0);
    ck_assert_uint_eq(st.ran, 9);
    ck_assert_uint_eq(st.done, 9);
    assert_same_file(one, two, "nine", "runs.csv");
    assert_same_file(one, two, "nine", "summary.json");
    exp_config_free(&cfg);
    remove_root(one);
    remove_root(two);
}
END_TEST

START_TEST(roundtrip_error_falls_at_order_p_plus_one_for_even_p)
{
    /* Up then down the same grid: per step the legs' leading local errors C h^(p+1) and
     * C (-h)^(p+1) cancel when p + 1 is odd, so rk4 (p = 4) and heun (2) round trips
     * converge at order p + 1, euler (1) at 1. Pairwise orders within 0.1 of that, as
     * MATH.md section 8 asks of every order; rk4's error at NFE 400 per leg is then
     * ~1e-8, far below 1e-6. The exact flow gives the start: the Gaussian has one. */
    static const char rt[] =
        "[experiment]\nname = rt\nmode = roundtrip\nsamples = 8\nseeds = 3\n"
        "true_samples = 0\n[model g]\nspec = gaussian:dim=2,mean=0.5,std=0.8\n"
        "[sweep]\nschedules = vp-linear\nsolvers = euler, heun, rk4\nnfe = 200, 400\n";
    static const double order[3] = { 1, 3, 5 };
    char root[] = "/tmp/check_sweep_XXXXXX";
    make_root(root);
    exp_config cfg = parse(rt);
    run_with(&cfg, root, 1, 0, 0);
    char *csv = slurp(root, "rt", "runs.csv");
    for (int s = 0; s < 3; s++) {
        const double e1 = test_csv_field(csv, 2 * s + 1, 13);
        const double e2 = test_csv_field(csv, 2 * s + 2, 13);
        ck_assert_double_eq(test_csv_field(csv, 2 * s + 2, 9), 800);   /* both legs */
        ck_assert_double_eq_tol(log2(e1 / e2), order[s], 0.1);
    }
    ck_assert_double_lt(test_csv_field(csv, 6, 13), 1e-6);
    free(csv);
    exp_config_free(&cfg);
    remove_root(root);
}
END_TEST

START_TEST(roundtrip_refuses_to_zero_naming_the_key)
{
    static const char rt0[] =
        "[experiment]\nname = rt0\nmode = roundtrip\nsamples = 8\ntrue_samples = 0\n"
        "[model g]\nspec = gaussian:dim=2\n"
        "[sweep]\nschedules = vp-linear\nsolvers = euler\nnfe = 4\nto_zero = yes\n";
    char root[] = "/tmp/check_sweep_XXXXXX", err[ERRLEN];
    make_root(root);
    exp_config cfg = parse(rt0);
    exp_sweep_opts o;
    exp_sweep_stats st;
    exp_sweep_opts_init(&o);
    o.root = root;
    ck_assert_int_eq(exp_sweep_run(&cfg, &o, &st, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "to_zero"));
    ck_assert_ptr_null(slurp(root, "rt0", "runs.csv"));
    exp_config_free(&cfg);
    remove_root(root);
}
END_TEST

START_TEST(unknown_mode_is_refused_naming_line_and_key)
{
    exp_config cfg;
    char err[ERRLEN];
    ck_assert_int_eq(exp_config_parse("[experiment]\nname = x\nmode = both\n", "m.ini", &cfg,
                                       err, sizeof err), DODE_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err, "m.ini:3"));
    ck_assert_ptr_nonnull(strstr(err, "mode"));
}
END_TEST

/* Issue 18 item 6: two runs on one results directory both ran every row and rewrote each
 * other's tables. A directory whose lock another process holds (here this test, through
 * its own open of DIR/.lock) is refused by a run and by a merge, naming the directory,
 * before anything is written there; once the lock is released the same run succeeds. */
START_TEST(a_locked_results_directory_is_refused_to_a_second_writer)
{
    char root[] = "/tmp/check_sweep_XXXXXX", dir[512], path[600], err[ERRLEN] = "";
    make_root(root);
    snprintf(dir, sizeof dir, "%s/tiny", root);
    snprintf(path, sizeof path, "%s/.lock", dir);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    const int fd = open(path, O_RDWR | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
    exp_config cfg = parse(tiny);
    exp_sweep_opts o;
    exp_sweep_opts_init(&o);
    o.root = root;
    exp_sweep_stats st;
    ck_assert_int_eq(exp_sweep_run(&cfg, &o, &st, err, sizeof err), DODE_EIO);
    ck_assert_msg(strstr(err, dir) != NULL && strstr(err, "in use by another diffode run")
                  != NULL, "%s", err);
    ck_assert_ptr_null(slurp(root, "tiny", "runs.csv"));
    ck_assert_ptr_null(slurp(root, "tiny", "config.ini"));
    run_with(&cfg, root, 1, 1, 2);              /* a shard has its own directory and lock */
    ck_assert_int_eq(exp_sweep_merge(dir, &st, err, sizeof err), DODE_EIO);
    ck_assert_msg(strstr(err, "in use by another diffode run"), "%s", err);
    ck_assert_ptr_null(slurp(root, "tiny", "runs.csv"));
    close(fd);                                  /* released: the run goes through */
    ck_assert_int_eq(exp_sweep_run(&cfg, &o, &st, err, sizeof err), DODE_OK);
    ck_assert_uint_eq(st.ran, 4);
    exp_config_free(&cfg);
    remove_root(root);
}
END_TEST

/* Two real `diffode run`s at once: the second, started while the first is running (its
 * config.ini, written just after it took the lock, is there), exits non-zero with the
 * message; the first finishes normally with all 24 rows. The sweep takes about 1 s, the
 * refusal a few milliseconds. */
START_TEST(a_second_concurrent_run_is_refused_while_the_first_finishes)
{
    static const char slow[] =
        "[experiment]\nname = slow\nsamples = 20000\nseeds = 1, 2\n"
        "[model g]\nspec = gaussian:dim=2,mean=0.5,std=0.8\n"
        "[sweep]\nschedules = vp-linear\nsolvers = euler, heun, rk4\nnfe = 40, 80, 160, 320\n";
    char root[] = "/tmp/check_sweep_XXXXXX", ini[600], cfgini[600];
    make_root(root);
    snprintf(ini, sizeof ini, "%s/slow.ini", root);
    snprintf(cfgini, sizeof cfgini, "%s/slow/config.ini", root);
    FILE *f = fopen(ini, "w");
    fputs(slow, f);
    fclose(f);
    fflush(NULL);
    const pid_t first = fork();
    ck_assert_int_ge(first, 0);
    if (first == 0) {
        const int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(test_diffode_path(), "diffode", "run", ini, "--root", root, "--no-plot",
              "--quiet", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    struct stat sb;
    const struct timespec ms = { 0, 1000000 };
    for (int k = 0; k < 20000 && stat(cfgini, &sb) != 0; k++)
        nanosleep(&ms, NULL);
    ck_assert_msg(waitpid(first, &status, WNOHANG) == 0, "the first run ended too soon");
    const char *const args[] = { "run", ini, "--root", root, "--no-plot", "--quiet", NULL };
    char out[4096], errs[4096];
    const int code = test_run_diffode(root, args, out, errs, sizeof out);
    ck_assert_int_ne(code, 0);
    ck_assert_msg(strstr(errs, "is in use by another diffode run") != NULL, "%s", errs);
    ck_assert_int_eq(waitpid(first, &status, 0), first);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "first run: status %d",
                  status);
    char *csv = slurp(root, "slow", "runs.csv");
    ck_assert_ptr_nonnull(csv);
    size_t lines = 0;
    for (const char *c = csv; *c != '\0'; c++)
        lines += *c == '\n';
    ck_assert_uint_eq(lines, 1 + 24);           /* header + 3 solvers x 4 NFE x 2 seeds */
    free(csv);
    remove_root(root);
}
END_TEST

static Suite *sweep_suite(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, tiny_sweep_records_the_errors_of_a_direct_solve);
    tcase_add_test(tc, rerun_skips_every_row_and_rewrites_the_same_bytes);
    tcase_add_test(tc, stopped_then_resumed_sweep_equals_an_uninterrupted_one);
    tcase_add_test(tc, stop_flag_ends_the_sweep_before_the_next_row);
    tcase_add_test(tc, rk8pd_reference_matches_the_exact_flow_and_is_cached);
    tcase_add_test(tc, trajectory_errors_start_at_zero_end_at_the_final_error_and_resume_exactly);
    tcase_add_test(tc, ddim_equals_euler_at_every_step_against_the_baseline);
    tcase_add_test(tc, figures_are_drawn_when_gnuplot_is_present);
    tcase_add_test(tc, plot_draws_from_any_folder_and_fails_when_it_draws_nothing);
    tcase_add_test(tc, root_with_a_missing_parent_is_refused_and_nothing_is_created);
    tcase_add_test(tc, derived_solver_states_its_own_theory);
    tcase_add_test(tc, figure_tables_carry_the_seed_band_and_a_caption_of_what_ran);
    tcase_add_test(tc, foreign_header_in_runs_csv_is_refused_naming_the_file);
    tcase_add_test(tc, fnv1a_matches_the_published_test_vectors);
    tcase_add_test(tc, shards_merged_equal_the_unsharded_run_byte_for_byte);
    tcase_add_test(tc, merge_refuses_a_dir_without_shards_or_with_mixed_counts);
    tcase_add_test(tc, two_jobs_write_the_same_bytes_as_one);
    tcase_add_test(tc, roundtrip_error_falls_at_order_p_plus_one_for_even_p);
    tcase_add_test(tc, roundtrip_refuses_to_zero_naming_the_key);
    tcase_add_test(tc, unknown_mode_is_refused_naming_line_and_key);
    tcase_add_test(tc, a_locked_results_directory_is_refused_to_a_second_writer);
    tcase_add_test(tc, a_second_concurrent_run_is_refused_while_the_first_finishes);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(sweep_suite)
