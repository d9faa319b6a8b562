/* cmd_run.c - `diffode run CONFIG.ini`: check the whole config, run (or resume) its sweep
 * into ROOT/NAME/ (sweep.h) on --jobs threads, draw its figures with the plot scripts
 * (cli_plots.c) when gnuplot is installed, and print a table of the solver lines
 * (summary.json). Progress goes to stderr only when stderr is a terminal. With --shard K/N it runs one slice into
 * ROOT/NAME/shard-K-of-N/; `diffode merge DIR` joins the slices and `diffode plot DIR`
 * redraws a directory's figures (both here: they share the table and the plotting).
 *
 * Ctrl-C: the first one lets the running row finish, writes every finished row and stops
 * before the next; a second one kills at once, which loses the running row and the rows
 * finished in the last few milliseconds (the tables are rewritten paced, sweep_pool.c). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diffode/status.h"
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "portrait.h"
#include "sweep.h"

/* The one file-scope variable: a signal handler can reach nothing else. */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct {
    const char *root, *shard;
    size_t max_rows, jobs;
    int no_plot, quiet;
} run_args;

enum { FOR_RUN = 1, FOR_MERGE = 2 };

#define ARG(f) offsetof(run_args, f)
static const cli_flag run_flags[] = {
    { "--root", CLI_STRING, ARG(root), NULL, "DIR", "results root (default results): "
      "writes DIR/NAME/ and DIR/cache/", FOR_RUN },
    { "--max-rows", CLI_UINT, ARG(max_rows), NULL, "K", "stop after running K rows "
      "(0 = all); run again to resume", FOR_RUN },
    { "--jobs", CLI_COUNT, ARG(jobs), NULL, "J", "rows run at once on J threads (default: "
      "the online cores); same results for any J", FOR_RUN },
    { "--shard", CLI_STRING, ARG(shard), NULL, "K/N", "run only rows i with i mod N = K-1, "
      "into DIR/NAME/shard-K-of-N/ (then: diffode merge DIR/NAME)", FOR_RUN },
    { "--no-plot", CLI_SWITCH, ARG(no_plot), NULL, NULL, "do not draw the figures (diffode plot DIR draws them later)",
      FOR_RUN | FOR_MERGE },
    { "--quiet", CLI_SWITCH, ARG(quiet), NULL, NULL, "no progress line on stderr", FOR_RUN },
    { NULL, CLI_STRING, 0, NULL, NULL, NULL, 0 },
};
#undef ARG

static void fmt_secs(double s, char *buf, size_t len)
{
    if (!isfinite(s))
        snprintf(buf, len, "?");
    else if (s < 120)
        snprintf(buf, len, "%.0fs", s);
    else
        snprintf(buf, len, "%.0fm%02.0fs", floor(s / 60), fmod(s, 60));
}

/* "\r[done/total] elapsed, ETA" from the rows run in this process. */
static void progress(void *ctx, const exp_sweep_stats *st)
{
    (void)ctx;
    char el[32], eta[32];
    const double per = st->ran > 0 ? st->elapsed / (double)st->ran : NAN;
    fmt_secs(st->elapsed, el, sizeof el);
    fmt_secs(per * (double)(st->total - st->done), eta, sizeof eta);
    fprintf(stderr, "\rdiffode run: %zu/%zu rows (%zu resumed, %zu failed), %s elapsed, "
            "ETA %s   ", st->done, st->total, st->skipped, st->failed, el, eta);
    fflush(stderr);
}

/* 1 if arg is a flag of the table that takes a value in the next argument. */
static int takes_value(const char *arg)
{
    for (const cli_flag *f = run_flags; f->name != NULL; f++)
        if (f->metavar != NULL && strcmp(arg, f->name) == 0)
            return 1;
    return 0;
}

/* The one positional argument (what names) and the flags around it. */
static int parse_args(int argc, char **argv, unsigned mask, run_args *a, const char **pos,
                      const char *what, char *err, size_t errlen)
{
    char *rest[64];
    int n = 0;
    *pos = NULL;
    for (int i = 0; i < argc && n < 63; i++) {
        if (i > 0 && argv[i][0] != '-' && *pos == NULL && !takes_value(rest[n - 1]))
            *pos = argv[i];
        else
            rest[n++] = argv[i];
    }
    int rc = cli_parse(run_flags, mask, n, rest, a, err, errlen);
    if (rc == DODE_OK && *pos == NULL)
        rc = dode_fail(err, errlen, DODE_EINVAL, "missing %s (see --help)", what);
    return rc;
}

/* "--shard K/N" into the sweep options. */
static int parse_shard(const char *s, exp_sweep_opts *so, char *err, size_t errlen)
{
    char tail;
    if (s == NULL)
        return DODE_OK;
    if (sscanf(s, "%zu/%zu%c", &so->shard_k, &so->shard_n, &tail) != 2 || so->shard_n < 1 ||
        so->shard_k < 1 || so->shard_k > so->shard_n)
        return dode_fail(err, errlen, DODE_EINVAL, "--shard \"%s\": expected K/N with "
                         "1 <= K <= N", s);
    return DODE_OK;
}

/* ---- the table printed at the end ---- */

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "figures: DIR/a.png, ..." (sorted), or that there are none (the reason is printed
 * before, or it was --no-plot). */
static void print_figures(const char *dir, int no_plot)
{
    char *names[64];
    size_t n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d != NULL && n < 64 && (e = readdir(d)) != NULL; ) {
        const size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".png") == 0 &&
            (names[n] = strdup(e->d_name)) != NULL)
            n++;
    }
    if (d != NULL)
        closedir(d);
    qsort(names, n, sizeof *names, by_name);
    if (n == 0)
        printf(no_plot ? "no figures in %s (--no-plot; diffode plot %s draws them)"
                       : "no figures in %s", dir, dir);
    else
        printf("figures (and .svg) in %s/:", dir);
    for (size_t i = 0; i < n; i++) {
        printf("%s %s", i ? "," : "", names[i]);
        free(names[i]);
    }
    printf("\n");
}

/* 1 if the lines differ in field key (so the label must show it). */
static int varies(const cJSON *lines, const char *key)
{
    const cJSON *first = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(lines, 0), key);
    const cJSON *l;
    cJSON_ArrayForEach(l, lines) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(l, key);
        if (cJSON_IsString(v) && cJSON_IsString(first) &&
            strcmp(v->valuestring, first->valuestring) != 0)
            return 1;
    }
    return 0;
}

/* One line of the table: label, theory, observed order, error at the first and last NFE. */
static void print_line(const cJSON *l, const int show[3])
{
    static const char *const keys[3] = { "model", "schedule", "spacing" };
    char label[256];
    const cJSON *solver = cJSON_GetObjectItemCaseSensitive(l, "solver");
    size_t used = (size_t)snprintf(label, sizeof label, "%s",
                                   cJSON_IsString(solver) ? solver->valuestring : "?");
    for (int k = 0; k < 3 && used < sizeof label; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(l, keys[k]);
        if (show[k] && cJSON_IsString(v))
            used += (size_t)snprintf(label + used, sizeof label - used, " %s", v->valuestring);
    }
    const cJSON *nfe = cJSON_GetObjectItemCaseSensitive(l, "nfe");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(l, "rmse");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(l, "observed_order");
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(l, "theory_order");
    const int n = cJSON_GetArraySize(nfe);
    char obs[16] = "-";
    if (cJSON_IsNumber(p))
        snprintf(obs, sizeof obs, "%.2f", p->valuedouble);
    printf("%-28s %6d %8s", label, cJSON_IsNumber(th) ? th->valueint : 0, obs);
    for (int k = 0; k < 2; k++) {
        const int i = k ? n - 1 : 0;
        if (n > 0)
            printf("  %6.0f %10.3e", cJSON_GetArrayItem(nfe, i)->valuedouble,
                   cJSON_GetArrayItem(err, i)->valuedouble);
    }
    printf("\n");
}

/* The human-readable digest of DIR/summary.json (the machine output stays the JSON). */
static void print_summary(const char *dir)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    FILE *f = fopen(path, "rb");
    char *text = f ? calloc(1, 1 << 22) : NULL;
    if (text != NULL)
        fread(text, 1, (1 << 22) - 1, f);
    if (f != NULL)
        fclose(f);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    const cJSON *lines = cJSON_GetObjectItemCaseSensitive(root, "lines");
    if (cJSON_GetArraySize(lines) > 0) {
        const int show[3] = { varies(lines, "model"), varies(lines, "schedule"),
                              varies(lines, "spacing") };
        printf("\n%-28s %6s %8s  %6s %10s  %6s %10s\n", "solver", "theory", "observed",
               "NFE", "RMSE", "NFE", "RMSE");
        const cJSON *l;
        cJSON_ArrayForEach(l, lines)
            print_line(l, show);
        printf("(observed: least-squares order over the asymptotic range, summary.json)\n");
    }
    cJSON_Delete(root);
    free(text);
}

static void summarise(const exp_sweep_stats *st, const char *dir, const exp_sweep_opts *so)
{
    if (st->stopped)
        fprintf(stderr, "diffode run: stopped after %zu of %zu rows; run again to resume\n",
                st->done, st->total);
    if (st->failed > 0)
        fprintf(stderr, "diffode run: %zu rows failed (status column); last: %s\n",
                st->failed, st->last_failure);
    if (so->shard_n > 0)
        printf("%s/shard-%zu-of-%zu: %zu rows (%zu run now, %zu resumed) in %.1f s; when "
               "every shard is done: diffode merge %s\n", dir, so->shard_k, so->shard_n,
               st->done, st->ran, st->skipped, st->elapsed, dir);
    else
        printf("%s: %zu rows (%zu run now, %zu resumed) in %.1f s\n", dir, st->done, st->ran,
               st->skipped, st->elapsed);
}

/* The flow's portraits (portrait.h) when cfg is given, the figures (unless no_plot), then
 * the table and where the figures are. Figures are optional for run and merge (the
 * results are complete without them): the reason they are missing is printed, and the
 * status (DODE_OK or why not all were drawn) returned for `diffode plot`. */
static int finish(const char *cmd, const char *dir, const exp_config *cfg, int no_plot)
{
    char err[1024];
    int rc = DODE_OK;
    if (cfg != NULL && !no_plot && exp_portrait_write(cfg, dir, err, sizeof err) != DODE_OK)
        fprintf(stderr, "diffode %s: no trajectory and density figures: %s\n", cmd, err);
    if (!no_plot && (rc = cli_draw_figures(dir, err, sizeof err)) != DODE_OK)
        fprintf(stderr, "diffode %s: %s\n", cmd, err);
    print_summary(dir);
    print_figures(dir, no_plot);
    return rc;
}

static size_t online_cores(void)
{
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
}

int cmd_run(int argc, char **argv)
{
    run_args a = { .root = "results", .jobs = online_cores() };
    const char *path = NULL;
    char err[2048], dir[1024];
    exp_sweep_opts so;
    exp_sweep_opts_init(&so);
    int rc = parse_args(argc, argv, FOR_RUN, &a, &path, "CONFIG.ini", err, sizeof err);
    if (rc == CLI_HELP) {
        cli_usage(stdout, "run", "CONFIG.ini [options]   (format: docs/experiments.md)",
                  run_flags, FOR_RUN);
        return 0;
    }
    if (rc == DODE_OK)
        rc = parse_shard(a.shard, &so, err, sizeof err);
    exp_config cfg;
    if (rc == DODE_OK)
        rc = exp_config_load(path, &cfg, err, sizeof err);
    if (rc == DODE_OK)
        rc = exp_sweep_dir(&cfg, a.root, dir, sizeof dir, err, sizeof err);
    if (rc != DODE_OK) {
        fprintf(stderr, "diffode run: %s\n", err);
        return cli_exit_status(rc);
    }
    so.root = a.root;
    so.max_rows = a.max_rows;
    so.jobs = a.jobs;
    so.stop = &interrupted;
    so.progress = !a.quiet && isatty(STDERR_FILENO) ? progress : NULL;
    struct sigaction sa = { .sa_handler = on_sigint, .sa_flags = SA_RESETHAND };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    exp_sweep_stats st;
    rc = exp_sweep_run(&cfg, &so, &st, err, sizeof err);
    if (so.progress != NULL)
        fputc('\n', stderr);
    if (rc == DODE_OK) {
        summarise(&st, dir, &so);
        if (so.shard_n == 0)                /* a shard's figures would show a slice */
            finish("run", dir, &cfg, a.no_plot);
    } else {
        fprintf(stderr, "diffode run: %s\n", err);
    }
    exp_config_free(&cfg);
    return rc == DODE_OK ? (interrupted ? CLI_EXIT_INTERRUPTED : CLI_EXIT_OK) : cli_exit_status(rc);
}

/* `diffode merge DIR`: join DIR/shard-K-of-N/ into DIR (sweep.h), then as run ends. */
int cmd_merge(int argc, char **argv)
{
    run_args a = { 0 };
    const char *dir = NULL;
    char err[2048];
    int rc = parse_args(argc, argv, FOR_MERGE, &a, &dir, "RESULTS_DIR", err, sizeof err);
    if (rc == CLI_HELP) {
        cli_usage(stdout, "merge", "RESULTS_DIR [options]   (joins RESULTS_DIR/shard-K-of-N/ "
                  "from diffode run --shard K/N)", run_flags, FOR_MERGE);
        return 0;
    }
    exp_sweep_stats st;
    if (rc == DODE_OK)
        rc = exp_sweep_merge(dir, &st, err, sizeof err);
    if (rc != DODE_OK) {
        fprintf(stderr, "diffode merge: %s\n", err);
        return cli_exit_status(rc);
    }
    if (st.done < st.total)
        fprintf(stderr, "diffode merge: only %zu of %zu rows are in the shards (a shard is "
                "missing or unfinished); the summary covers those\n", st.done, st.total);
    if (st.failed > 0)
        fprintf(stderr, "diffode merge: %zu rows failed (status column)\n", st.failed);
    printf("%s: %zu of %zu rows merged\n", dir, st.done, st.total);
    char path[1200];
    exp_config cfg;
    snprintf(path, sizeof path, "%s/config.ini", dir);
    const int loaded = exp_config_load(path, &cfg, err, sizeof err) == DODE_OK;
    finish("merge", dir, loaded ? &cfg : NULL, a.no_plot);
    if (loaded)
        exp_config_free(&cfg);
    return 0;
}

/* `diffode plot DIR`: plot.sh DIR, then the table; non-zero when a figure is not drawn. */
int cmd_plot(int argc, char **argv)
{
    run_args a = { 0 };
    const char *dir = NULL;
    char err[2048];
    struct stat sb;
    int rc = parse_args(argc, argv, 0, &a, &dir, "RESULTS_DIR", err, sizeof err);
    if (rc == CLI_HELP) {
        cli_usage(stdout, "plot", "RESULTS_DIR   (redraws its figures with the plot scripts)",
                  run_flags, 0);
        return 0;
    }
    if (rc == DODE_OK && (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        rc = dode_fail(err, sizeof err, DODE_EINVAL, "%s is not a results directory", dir);
    if (rc != DODE_OK) {
        fprintf(stderr, "diffode plot: %s\n", err);
        return cli_exit_status(rc);
    }
    return cli_exit_status(finish("plot", dir, NULL, 0));
}
