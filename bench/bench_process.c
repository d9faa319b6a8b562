/* bench_process.c - issue 16's whole-process rows of `make bench`: the built `diffode`
 * binary (beside the bench, build/diffode) run as a child process, as a user runs it.
 *
 *   sample   `diffode sample` of n = 10^4 samples of the K = 8 ring mixture (bench_speed.c),
 *            dpmpp2m at NFE 10 on the uniform-t grid, --out FILE.npy: the share of the
 *            process's wall time (fork to wait) outside the solve seconds it reports,
 *            target <= 10%; beside it, informational rows for the fixed costs: the same
 *            process without --out (the .npy write), with n = 10 (start-up, model load,
 *            grid, x_T) and `diffode list` (start-up alone: loading the shared libraries).
 *   jobs     `diffode run` on a generated config of 90 rows with --jobs 1 and --jobs 2:
 *            the wall-time speed-up, target >= 1.7x, and a check that both runs.csv are
 *            byte for byte the same. A pure compute loop on 1 and 2 threads, timed in turn
 *            with them, says what the two cores give at that moment; below 1.5x the
 *            cores were busy and the row has no verdict (as the core section's split).
 * Each time is the minimum over repetitions, the compared commands run round-robin. */
#define _GNU_SOURCE   /* mkdtemp */
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diffode/diffode.h"
#include "bench_speed.h"

extern char **environ;

#define MAX_ARGS 24

typedef struct {
    const char *argv[MAX_ARGS];   /* NULL-terminated */
    char out[512];                /* its stdout goes here */
    double wall, solve;           /* least wall time (spawn to wait) over the runs, and the
                                     "seconds" the child printed in that run (NaN: none) */
} child;

/* The "seconds" of the JSON line in path, NaN if none. */
static double reported_seconds(const char *path)
{
    double v = NAN;
    char line[4096];
    FILE *f = fopen(path, "r");
    if (f != NULL && fgets(line, sizeof line, f) != NULL) {
        const char *s = strstr(line, "\"seconds\":");
        if (s != NULL)
            v = strtod(s + strlen("\"seconds\":"), NULL);
    }
    if (f != NULL)
        fclose(f);
    return v;
}

/* Runs c once, stdout to c->out; keeps the least wall time and that run's solve seconds.
 * A child that cannot start or does not exit 0 is a failure (its stderr shows why). */
static int run_child(void *ctx)
{
    child *c = ctx;
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int st = -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, c->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const double t0 = now();
    int rc = posix_spawn(&pid, c->argv[0], &fa, NULL, (char *const *)c->argv, environ);
    if (rc == 0 && waitpid(pid, &st, 0) < 0)
        st = -1;
    const double dt = now() - t0;
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench: %s %s did not run to exit 0 (status %d)\n", c->argv[0],
                c->argv[1], st);
        return DODE_ESOLVER;
    }
    if (dt < c->wall) {
        c->wall = dt;
        c->solve = reported_seconds(c->out);
    }
    return DODE_OK;
}

/* The K = 8 ring mixture of bench_speed.c as a gmm JSON file (weights 1..8 / 36, means
 * on the circle of radius 4, std 0.3). */
static int write_ring(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return DODE_EIO;
    fprintf(f, "{\"weights\": [");
    for (int k = 0; k < 8; k++)
        fprintf(f, "%s%.17g", k ? ", " : "", (double)(k + 1) / 36.0);
    fprintf(f, "],\n \"means\": [");
    for (int k = 0; k < 8; k++) {
        const double a = 6.283185307179586 * k / 8.0;
        fprintf(f, "%s[%.17g, %.17g]", k ? ", " : "", 4.0 * cos(a), 4.0 * sin(a));
    }
    fprintf(f, "],\n \"stds\": [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]}\n");
    return fclose(f) == 0 ? DODE_OK : DODE_EIO;
}

/* argv of `diffode sample` on the ring: n samples, --out to out (NULL: none). */
static void sample_argv(child *c, const char *bin, const char *model, const char *n,
                        const char *out, const char *dir)
{
    const char *a[] = { bin, "sample", "--model", model, "--solver", "dpmpp2m", "--nfe",
                        "10", "--spacing", "uniform-t", "--n", n, out ? "--out" : NULL,
                        out, NULL };
    memcpy(c->argv, a, sizeof a);
    snprintf(c->out, sizeof c->out, "%s/stdout-%s-%s.txt", dir, n, out ? "out" : "noout");
    c->wall = INFINITY;
    c->solve = NAN;
}

/* The sample rows: the judged one, then the fixed costs (informational). */
static int measure_sample(const bench_cfg *cfg, const char *bin, const char *dir,
                          bench_report *r)
{
    char model[600], npy[600], fig[64];
    snprintf(model, sizeof model, "gmm:%s/ring8.json", dir);
    snprintf(npy, sizeof npy, "%s/x0.npy", dir);
    child c[4];
    sample_argv(&c[0], bin, model, "10000", npy, dir);
    sample_argv(&c[1], bin, model, "10000", NULL, dir);
    sample_argv(&c[2], bin, model, "10", NULL, dir);
    const char *list[] = { bin, "list", NULL };
    memcpy(c[3].argv, list, sizeof list);
    snprintf(c[3].out, sizeof c[3].out, "%s/stdout-list.txt", dir);
    c[3].wall = INFINITY;
    const bench_fn fn[4] = { run_child, run_child, run_child, run_child };
    void *const ctx[4] = { &c[0], &c[1], &c[2], &c[3] };
    double t[4];
    int rc = write_ring(model + 4) == DODE_OK ? DODE_OK : DODE_EIO;
    if (rc == DODE_OK)
        rc = best_times(fn, ctx, 4, cfg->reps, t, NULL);
    if (rc != DODE_OK)
        return rc;
    snprintf(fig, sizeof fig, "process %.1f ms, solve %.1f ms", 1e3 * c[0].wall,
             1e3 * c[0].solve);
    add_row(r, "sample n=1e4 NFE 10 --out: outside solve", fig, 1 - c[0].solve / c[0].wall,
            1, TARGET_PROCESS, 0);
    snprintf(fig, sizeof fig, "process %.1f ms, solve %.1f ms", 1e3 * c[1].wall,
             1e3 * c[1].solve);
    add_row(r, "same without --out (no .npy write)", fig, 1 - c[1].solve / c[1].wall, 1,
            NAN, 0);
    snprintf(fig, sizeof fig, "sample n=10 %.1f ms, list %.1f ms", 1e3 * c[2].wall,
             1e3 * c[3].wall);
    add_row(r, "start-up (list) / n=1e4 process", fig, c[3].wall / c[0].wall, 1, NAN, 0);
    return DODE_OK;
}

/* A sweep of 90 rows on the MATH.md section 8 GMM: 10 solvers x 9 NFE, 2000 samples. */
static int write_jobs_config(const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/gmm2d.json", dir);
    FILE *g = fopen(path, "w");
    if (g == NULL)
        return DODE_EIO;
    fprintf(g, "{\"weights\": [0.5, 0.3, 0.2], \"means\": [[-1.5, 0.0], [1.5, 0.5], "
            "[0.0, 2.0]], \"stds\": [0.3, 0.5, 0.2]}\n");
    if (fclose(g) != 0)
        return DODE_EIO;
    snprintf(path, sizeof path, "%s/jobs.ini", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return DODE_EIO;
    fprintf(f, "[experiment]\nname = jobs\nsamples = 2000\nseeds = 0\ntrue_samples = 0\n\n"
            "[model gmm2d]\nspec = gmm:gmm2d.json\n\n[sweep]\nschedules = ddpm-linear\n"
            "spacings = logsnr\nsolvers = euler, heun, dpm2, dpmpp2m, dpmpp3m, unipc2, "
            "ipndm4, deis-tab2, lms, rk4\nnfe = 12, 16, 20, 24, 32, 40, 48, 64, 80\n");
    return fclose(f) == 0 ? DODE_OK : DODE_EIO;
}

/* 1 if the two files hold the same bytes. */
static int same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa != NULL && fb != NULL, ca, cb;
    while (same && ((ca = getc(fa)) != EOF) | ((cb = getc(fb)) != EOF))
        same = ca == cb;
    if (fa != NULL)
        fclose(fa);
    if (fb != NULL)
        fclose(fb);
    return same;
}

/* A fixed amount of pure computation split over `threads` OpenMP threads: what two cores
 * give at this moment (the machine is shared), timed in turn with the --jobs runs. */
static int spin(void *ctx)
{
    const int threads = *(const int *)ctx;
    double acc = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : acc) schedule(static)
    for (int h = 0; h < 2; h++) {
        double v = 1.0 + h;
        for (long k = 0; k < 40000000L; k++)
            v = v * 0.9999999 + 1e-7;        /* a dependency chain: no memory, no vector */
        acc += v;
    }
    return acc > 0 ? DODE_OK : DODE_ESOLVER;
}

/* `diffode run` on the 90-row sweep with --jobs 1 and 2, each into its own root (the
 * results and the reference cache are removed before every run, so each run does all). */
static int measure_jobs(const bench_cfg *cfg, const char *bin, const char *dir,
                        bench_report *r)
{
    char ini[600], root[2][600], csv[2][1300], fig[64];
    child c[2];
    snprintf(ini, sizeof ini, "%s/jobs.ini", dir);
    for (int j = 0; j < 2; j++) {
        snprintf(root[j], sizeof root[j], "%s/root%d", dir, j + 1);
        snprintf(csv[j], sizeof csv[j], "%s/jobs/runs.csv", root[j]);
        const char *a[] = { bin, "run", ini, "--no-plot", "--quiet", "--jobs", j ? "2" : "1",
                            "--root", root[j], NULL };
        memcpy(c[j].argv, a, sizeof a);
        snprintf(c[j].out, sizeof c[j].out, "%s/stdout-jobs%d.txt", dir, j + 1);
        c[j].wall = INFINITY;
    }
    int rc = write_jobs_config(dir), one = 1, two = 2;
    /* each run takes about half a second; the least of 7 steadies the ratio on this VM,
     * whose run times of one binary come in two modes, about 1.5x apart */
    const int reps = cfg->reps < 7 ? cfg->reps : 7;
    double spun[2] = { INFINITY, INFINITY };
    for (int k = 0; k < 2 * reps && rc == DODE_OK; k++) {
        char cmd[1300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s/jobs' '%s/cache'", root[k % 2], root[k % 2]);
        rc = system(cmd) == 0 ? run_child(&c[k % 2]) : DODE_EIO;
        const double t0 = now();
        if (rc == DODE_OK)
            rc = spin(k % 2 ? &two : &one);
        spun[k % 2] = fmin(spun[k % 2], now() - t0);
    }
    if (rc != DODE_OK)
        return rc;
    snprintf(fig, sizeof fig, "1 thread %.0f ms, 2 threads %.0f ms", 1e3 * spun[0],
             1e3 * spun[1]);
    add_row(r, "speed-up 1->2 threads, pure compute loop", fig, spun[0] / spun[1], 0, NAN, 1);
    snprintf(fig, sizeof fig, "--jobs 1 %.2f s, --jobs 2 %.2f s", c[0].wall, c[1].wall);
    add_row(r, "run 90 rows: --jobs 2 speed-up", fig, c[0].wall / c[1].wall, 0, TARGET_JOBS,
            1);
    if (spun[0] / spun[1] < BUSY_SPEEDUP)   /* the cores were not both ours: no verdict */
        r->rows[r->nrows - 1].verdict = "n/a: cores busy";
    add_check(r, "runs.csv of --jobs 2 differs from --jobs 1 (bytes; 0 = same)",
              same_file(csv[0], csv[1]) ? 0.0 : 1.0, 0);
    return DODE_OK;
}

int measure_process(const bench_cfg *cfg, const char *argv0, bench_report *r)
{
    char bin[600], dir[] = "/tmp/diffode-bench-XXXXXX", cmd[700];
    const char *slash = strrchr(argv0, '/');
    snprintf(bin, sizeof bin, "%.*sdiffode", slash ? (int)(slash - argv0 + 1) : 0, argv0);
    if (access(bin, X_OK) != 0) {
        printf("process rows skipped: %s is not built (make)\n", bin);
        return DODE_OK;
    }
    if (mkdtemp(dir) == NULL)
        return DODE_EIO;
    int rc = measure_sample(cfg, bin, dir, r);
    if (rc == DODE_OK)
        rc = measure_jobs(cfg, bin, dir, r);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", dir);
    return rc;
}
