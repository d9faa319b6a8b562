/* cli_plots.c - where the plot scripts are, and drawing a results directory's figures.
 *
 * The scripts are found from the executable, never from the working directory, so
 * `diffode run` draws the same figures from any folder: $DIFFODE_PLOTS when set, else
 * EXEDIR/../plots (the build tree: build/diffode), EXEDIR/../../plots (build/asan/diffode),
 * EXEDIR/../share/diffode/plots (installed by make install under PREFIX). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diffode/status.h"
#include "cli.h"

/* 1 if DIR/plot.sh is a readable file. */
static int has_scripts(const char *dir)
{
    char path[PATH_MAX];
    const int n = snprintf(path, sizeof path, "%s/plot.sh", dir);
    return n > 0 && (size_t)n < sizeof path && access(path, R_OK) == 0;
}

int cli_plots_dir(char *dir, size_t len, char *err, size_t errlen)
{
    const char *env = getenv("DIFFODE_PLOTS");
    if (env != NULL && env[0] != '\0') {
        if (!has_scripts(env))
            return dode_fail(err, errlen, DODE_EIO, "DIFFODE_PLOTS=%s has no plot.sh",
                             env);
        snprintf(dir, len, "%s", env);
        return DODE_OK;
    }
    char exe[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return dode_fail(err, errlen, DODE_EIO, "cannot find the plot scripts: "
                         "/proc/self/exe unreadable (set DIFFODE_PLOTS to the plots folder)");
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';     /* readlink gives an absolute path: a '/' is there */
    static const char *const beside[] = { "../plots", "../../plots", "../share/diffode/plots" };
    for (size_t k = 0; k < sizeof beside / sizeof *beside; k++) {
        char cand[PATH_MAX];
        const int m = snprintf(cand, sizeof cand, "%s/%s", exe, beside[k]);
        if (m > 0 && (size_t)m < sizeof cand && has_scripts(cand)) {
            if ((size_t)m >= len)
                break;
            memcpy(dir, cand, (size_t)m + 1);
            return DODE_OK;
        }
    }
    return dode_fail(err, errlen, DODE_EIO, "no plot scripts beside %s (looked in "
                     "../plots, ../../plots, ../share/diffode/plots; set DIFFODE_PLOTS or "
                     "make install)", exe);
}

int cli_draw_figures(const char *results_dir, char *err, size_t errlen)
{
    char plots[PATH_MAX], script[PATH_MAX];
    const int rc = cli_plots_dir(plots, sizeof plots, err, errlen);
    if (rc != DODE_OK)
        return rc;
    const int n = snprintf(script, sizeof script, "%s/plot.sh", plots);
    if (n < 0 || (size_t)n >= sizeof script)
        return dode_fail(err, errlen, DODE_EIO, "plot scripts path too long: %s", plots);
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        execlp("sh", "sh", script, results_dir, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        return dode_fail(err, errlen, DODE_EIO, "%s %s did not finish", script, results_dir);
    /* plot.sh's own exit codes: 3 gnuplot missing, 4 no figure data in the directory. */
    switch (WEXITSTATUS(status)) {
    case 0:
        return DODE_OK;
    case 3:
        return dode_fail(err, errlen, DODE_EIO, "gnuplot is not installed: no "
                         "figures (apt-get install gnuplot-nox)");
    case 4:
        return dode_fail(err, errlen, DODE_EFORMAT, "%s has no figure data (*.dat)",
                         results_dir);
    default:
        return dode_fail(err, errlen, DODE_EIO, "%s %s failed (status %d); the figures it "
                         "names are missing", script, results_dir, WEXITSTATUS(status));
    }
}
