/* check_crash.c - crash safety of `diffode run` (issue 7): a sweep killed with SIGKILL at
 * any moment and run again ends with a runs.csv byte-identical to an uninterrupted run's,
 * and SIGINT lets the running row finish, keeps it, and exits non-zero.
 *
 * The command runs as a child process (path from $DIFFODE, default build/diffode; `make
 * test` sets it) on a small GMM sweep written to a temporary directory. Kill moments are
 * fractions of the uninterrupted run's measured wall time T, drawn from a fixed-seed
 * generator, so they land at different phases (setup, reference solves, row writes) on
 * any machine speed, while the test stays deterministic in what it asserts. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define ROWS 192        /* 2 schedules x 2 spacings x 4 solvers x 4 nfe x 3 seeds */

static const char config_text[] =
    "[experiment]\n"
    "name = crash\n"
    "samples = %d\n"
    "seeds = 0, 1, 2\n"
    "true_samples = 256\n"
    "[model m]\n"
    "spec = gmm:experiments/configs/gmm2d.json\n"
    "[sweep]\n"
    "schedules = ddpm-linear, vp-cosine\n"
    "spacings = logsnr, karras\n"
    "solvers = euler, heun, dpm2, dpmpp2m\n"
    "nfe = 4, 8, 16, 32\n";

static const char *diffode_path(void)
{
    const char *p = getenv("DIFFODE");
    return p != NULL && *p != '\0' ? p : "build/diffode";
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_for(double seconds)
{
    struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Starts `diffode run CONFIG --root ROOT --no-plot --quiet`, output to /dev/null. */
static pid_t spawn_run(const char *config, const char *root)
{
    const char *argv[] = { diffode_path(), "run", config, "--root", root, "--no-plot",
                           "--quiet", NULL };
    fflush(NULL);
    const pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        const int null = open("/dev/null", O_WRONLY);
        if (null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
            _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Waits for pid; its exit status, or 128 + the signal that ended it. */
static int reap(pid_t pid)
{
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(!(WIFEXITED(status) && WEXITSTATUS(status) == 127), "cannot run %s (set "
                  "DIFFODE)", diffode_path());
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The whole of root/crash/runs.csv (malloc'ed), or NULL if there is none. */
static char *read_runs(const char *root)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/crash/runs.csv", root);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (size_t got; (got = fread(buf + len, 1, cap - 1 - len, f)) > 0;) {
        len += got;
        if (len + 1 == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* Rows (data lines) of a runs.csv text. */
static size_t count_rows(const char *csv)
{
    size_t lines = 0;
    for (const char *p = csv; *p != '\0'; p++)
        lines += *p == '\n';
    return lines > 0 ? lines - 1 : 0;
}

/* A partial runs.csv holds only complete lines, each one a line of the full file. */
static void assert_partial_of(const char *part, const char *full)
{
    const size_t n = strlen(part);
    ck_assert_msg(n == 0 || part[n - 1] == '\n', "partial runs.csv ends inside a line");
    for (const char *line = part; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        const size_t len = (size_t)(nl - line) + 1;
        int found = 0;
        for (const char *p = full; !found && (p = strstr(p, "\n")) != NULL; p++)
            found = strncmp(p + 1, line, len) == 0;
        found |= strncmp(full, line, len) == 0;
        ck_assert_msg(found, "partial runs.csv has a line the full run lacks: %.*s",
                      (int)len, line);
        line = nl + 1;
    }
}

/* Temporary files (*.tmp.*) left under root/crash by killed writers. */
static size_t count_temp_files(const char *root)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/crash", root);
    DIR *d = opendir(path);
    size_t n = 0;
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (d != NULL)
        closedir(d);
    return n;
}

typedef struct {
    char dir[64];           /* the temporary directory */
    char config[128];
    char *reference;        /* runs.csv of an uninterrupted run */
    double seconds;         /* its wall time */
} fixture;

/* A fixture whose rows each solve `samples` samples: the SIGINT test needs rows slow
 * enough that the run cannot finish between its poll and its signal on a loaded machine. */
static fixture fixture_new(int samples)
{
    fixture fx;
    snprintf(fx.dir, sizeof fx.dir, "/tmp/check_crash.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(fx.dir));
    snprintf(fx.config, sizeof fx.config, "%s/crash.ini", fx.dir);
    FILE *f = fopen(fx.config, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, config_text, samples);
    ck_assert_int_eq(fclose(f), 0);
    char root[128];
    snprintf(root, sizeof root, "%s/whole", fx.dir);
    const double t0 = now();
    ck_assert_int_eq(reap(spawn_run(fx.config, root)), 0);
    fx.seconds = now() - t0;
    fx.reference = read_runs(root);
    ck_assert_ptr_nonnull(fx.reference);
    ck_assert_uint_eq(count_rows(fx.reference), ROWS);
    return fx;
}

static void fixture_free(fixture *fx)
{
    free(fx->reference);
    test_rm_r(fx->dir);
}

/* A fraction in [lo, hi) from a 64-bit LCG (Knuth's MMIX constants). */
static double next_fraction(unsigned long long *state, double lo, double hi)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (double)(*state >> 11) / 9007199254740992.0;
}

/* Kills a run in root at `delay` seconds; checks what it left; returns the rows kept. */
static size_t kill_at(const fixture *fx, const char *root, double delay)
{
    const pid_t pid = spawn_run(fx->config, root);
    sleep_for(delay);
    kill(pid, SIGKILL);
    reap(pid);
    char *part = read_runs(root);
    const size_t rows = part != NULL ? count_rows(part) : 0;
    if (part != NULL)
        assert_partial_of(part, fx->reference);
    free(part);
    return rows;
}

/* Runs to the end in root and compares runs.csv with the uninterrupted run's; the run
 * removes the temporary files killed writers left, so only `foreign` *.tmp.* remain. */
static void resume_and_compare(const fixture *fx, const char *root, size_t foreign)
{
    ck_assert_int_eq(reap(spawn_run(fx->config, root)), 0);
    ck_assert_msg(count_temp_files(root) == foreign, "%zu *.tmp.* files after the resumed "
                  "run, expected %zu", count_temp_files(root), foreign);
    char *runs = read_runs(root);
    ck_assert_ptr_nonnull(runs);
    ck_assert_msg(strcmp(runs, fx->reference) == 0, "resumed runs.csv (%zu rows) differs "
                  "from the uninterrupted one", count_rows(runs));
    free(runs);
}

START_TEST(sigkill_at_random_moments_then_rerun_gives_the_uninterrupted_runs_csv)
{
    fixture fx = fixture_new(64);
    unsigned long long rng = 7;
    char root[128], kept[256] = "";
    size_t len = 0, temps = 0;
    for (int k = 0; k < 5; k++) {             /* each kill on a fresh results root */
        snprintf(root, sizeof root, "%s/fresh%d", fx.dir, k);
        const double f = next_fraction(&rng, 0.05 + 0.18 * k, 0.23 + 0.18 * k);
        const size_t rows = kill_at(&fx, root, f * fx.seconds);
        len += (size_t)snprintf(kept + len, sizeof kept - len, " %.2fT:%zu", f, rows);
        temps += count_temp_files(root);
        resume_and_compare(&fx, root, 0);
    }
    snprintf(root, sizeof root, "%s/chain", fx.dir);
    for (int k = 0; k < 5; k++) {             /* five kills in a row on one root */
        const size_t rows = kill_at(&fx, root, next_fraction(&rng, 0.1, 0.5) * fx.seconds);
        len += (size_t)snprintf(kept + len, sizeof kept - len, " chain:%zu", rows);
    }
    temps += count_temp_files(root);
    char foreign[256];              /* not a name the sweep writes: the resume must keep it */
    snprintf(foreign, sizeof foreign, "%s/crash/notes.txt.tmp.AbC123", root);
    FILE *f = fopen(foreign, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fclose(f), 0);
    resume_and_compare(&fx, root, 1);
    ck_assert_int_eq(access(foreign, F_OK), 0);
    printf("check_crash: T = %.2f s, %d rows; SIGKILL at (fraction of T: rows kept)%s; "
           "every re-run identical; %zu temp files left by killed writers, all removed by the re-runs\n", fx.seconds,
           ROWS, kept, temps);
    fixture_free(&fx);
}
END_TEST

/* Polls root's runs.csv until it holds at least `rows` rows (or 60 s pass); returns the
 * count seen. */
static size_t wait_for_rows(const char *root, size_t rows)
{
    size_t seen = 0;
    for (const double t0 = now(); seen < rows && now() - t0 < 60;) {
        char *part = read_runs(root);
        seen = part != NULL ? count_rows(part) : 0;
        free(part);
        sleep_for(0.002);
    }
    return seen;
}

/* SIGINT once a quarter of the rows are on disk: the run finishes the row in progress,
 * writes it, stops before the next and exits 130; nothing finished is lost. The rows
 * are 32 times the SIGKILL test's (about 1.5 s for the run, not 0.15 s), so a poller
 * starved of a core for a tenth of a second still signals long before the last row. */
START_TEST(sigint_finishes_the_running_row_writes_it_and_exits_non_zero)
{
    fixture fx = fixture_new(2048);
    char root[128];
    snprintf(root, sizeof root, "%s/int", fx.dir);
    const pid_t pid = spawn_run(fx.config, root);
    const size_t seen = wait_for_rows(root, ROWS / 4);
    kill(pid, SIGINT);
    const int status = reap(pid);
    ck_assert_msg(status == 130, "exit status %d after SIGINT, expected 130", status);
    char *part = read_runs(root);
    ck_assert_ptr_nonnull(part);
    const size_t rows = count_rows(part);
    ck_assert_msg(rows >= seen && rows < ROWS, "%zu rows after SIGINT at %zu", rows, seen);
    assert_partial_of(part, fx.reference);
    ck_assert_uint_eq(count_temp_files(root), 0);   /* the row was finished, not cut */
    free(part);
    resume_and_compare(&fx, root, 0);
    printf("check_crash: SIGINT with %zu of %d rows on disk: stopped at %zu, exit 130, "
           "re-run identical\n", seen, ROWS, rows);
    fixture_free(&fx);
}
END_TEST

static Suite *crash_suite(void)
{
    Suite *s = suite_create("crash");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, sigkill_at_random_moments_then_rerun_gives_the_uninterrupted_runs_csv);
    tcase_add_test(tc, sigint_finishes_the_running_row_writes_it_and_exits_non_zero);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(crash_suite)
