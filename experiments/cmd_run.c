/* cmd_run.c - `diffode run CONFIG.ini`: check the whole config, run (or resume) its sweep
 * into ROOT/NAME/ (sweep.h), then draw its figures with plots/plot.sh when gnuplot is
 * installed. Progress goes to stderr only when stderr is a terminal.
 *
 * Ctrl-C: the first one lets the running row finish and stops before the next (every
 * finished row is already on disk, written atomically); a second one kills at once, which
 * loses only the running row. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diffode/status.h"
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "sweep.h"

/* The one file-scope variable: a signal handler can reach nothing else. */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct {
    const char *root;
    size_t max_rows;
    int no_plot, quiet;
} run_args;

#define ARG(f) offsetof(run_args, f)
static const cli_flag run_flags[] = {
    { "--root", CLI_STRING, ARG(root), NULL, "DIR", "results root (default results): "
      "writes DIR/NAME/ and DIR/cache/", 1 },
    { "--max-rows", CLI_UINT, ARG(max_rows), NULL, "K", "stop after running K rows "
      "(0 = all); run again to resume", 1 },
    { "--no-plot", CLI_SWITCH, ARG(no_plot), NULL, NULL, "do not call plots/plot.sh", 1 },
    { "--quiet", CLI_SWITCH, ARG(quiet), NULL, NULL, "no progress line on stderr", 1 },
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
static void progress(void *ctx, const dode_sweep_stats *st)
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

/* plots/plot.sh DIR, if gnuplot and the script are there; 0 or the script's status. */
static int draw_figures(const char *dir)
{
    struct stat sb;
    if (stat("plots/plot.sh", &sb) != 0) {
        fprintf(stderr, "diffode run: plots/plot.sh not found here: no figures (run it from "
                "the project root: plots/plot.sh %s)\n", dir);
        return 0;
    }
    pid_t pid = fork();
    if (pid == 0) {
        execlp("sh", "sh", "plots/plot.sh", dir, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        return 1;
    return WEXITSTATUS(status);
}

/* The config path (the one positional argument) and the flags around it. */
static int parse_args(int argc, char **argv, run_args *a, const char **config, char *err,
                      size_t errlen)
{
    char *rest[64];
    int n = 0;
    *config = NULL;
    for (int i = 0; i < argc && n < 63; i++) {
        if (i > 0 && argv[i][0] != '-' && *config == NULL &&
            (n == 0 || strcmp(rest[n - 1], "--root") != 0) &&
            (n == 0 || strcmp(rest[n - 1], "--max-rows") != 0))
            *config = argv[i];
        else
            rest[n++] = argv[i];
    }
    int rc = cli_parse(run_flags, 1, n, rest, a, err, errlen);
    if (rc == DODE_OK && *config == NULL)
        rc = dode_fail(err, errlen, DODE_EINVAL, "missing CONFIG.ini (see --help)");
    return rc;
}

static void summarise(const dode_sweep_stats *st, const char *dir)
{
    if (st->stopped)
        fprintf(stderr, "diffode run: stopped after %zu of %zu rows; run again to resume\n",
                st->done, st->total);
    if (st->failed > 0)
        fprintf(stderr, "diffode run: %zu rows failed (status column); last: %s\n",
                st->failed, st->last_failure);
    printf("%s: %zu rows (%zu run now, %zu resumed) in %.1f s\n", dir, st->done, st->ran,
           st->skipped, st->elapsed);
}

int cmd_run(int argc, char **argv)
{
    run_args a = { .root = "results" };
    const char *path = NULL;
    char err[2048], dir[1024];
    int rc = parse_args(argc, argv, &a, &path, err, sizeof err);
    if (rc == CLI_HELP) {
        cli_usage(stdout, "run", "CONFIG.ini [options]   (format: docs/experiments.md)",
                  run_flags, 1);
        return 0;
    }
    dode_config cfg;
    if (rc == DODE_OK)
        rc = dode_config_load(path, &cfg, err, sizeof err);
    if (rc == DODE_OK)
        rc = dode_sweep_dir(&cfg, a.root, dir, sizeof dir, err, sizeof err);
    if (rc != DODE_OK) {
        fprintf(stderr, "diffode run: %s\n", err);
        return cli_exit_status(rc);
    }
    dode_sweep_opts so;
    dode_sweep_opts_init(&so);
    so.root = a.root;
    so.max_rows = a.max_rows;
    so.stop = &interrupted;
    so.progress = !a.quiet && isatty(STDERR_FILENO) ? progress : NULL;
    struct sigaction sa = { .sa_handler = on_sigint, .sa_flags = SA_RESETHAND };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    dode_sweep_stats st;
    rc = dode_sweep_run(&cfg, &so, &st, err, sizeof err);
    if (so.progress != NULL)
        fputc('\n', stderr);
    if (rc == DODE_OK) {
        summarise(&st, dir);
        if (!a.no_plot && draw_figures(dir) != 0)
            fprintf(stderr, "diffode run: plots/plot.sh %s failed; the results are complete\n",
                    dir);
    } else {
        fprintf(stderr, "diffode run: %s\n", err);
    }
    dode_config_free(&cfg);
    return rc == DODE_OK ? (interrupted ? 130 : 0) : cli_exit_status(rc);
}
