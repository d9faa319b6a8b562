/* cmd_train.c - `diffode train`: fit the eps_theta MLP (mlp.h) by denoising score
 * matching (train.h) on a GMM spec, a 2-D toy or a .npy file, and save it as
 * .safetensors; optionally the loss curve as CSV and a gnuplot PNG (plots/loss.gp).
 *
 * Prints one JSON line on stdout: the settings, the final training loss (moving average),
 * a held-out estimate of the loss on fresh draws, and two yardsticks: dim (the loss of
 * predicting 0) and the best affine predictor's loss from the data covariance (the Bayes
 * loss for Gaussian data, an upper bound on it otherwise). Progress goes to stderr when it
 * is a terminal. OpenBLAS is pinned to one thread so a seed gives the same bits every run.
 *
 * Invariant: outputs are written only after training succeeds, each atomically, and a
 * later failure removes the earlier ones: a failed run leaves no output behind. */
#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "cli.h"
#include "commands.h"
#include "diffode/diffode.h"
#include "diffode/data.h"
#include "diffode/mlp.h"
#include "diffode/train.h"

#define COV_DRAWS 100000

typedef struct {
    const char *data, *schedule, *widths, *out, *loss_csv, *loss_plot;
    size_t temb, iters, batch, seed, eval_n;
    double lr, lr_final;
    int f32;
} train_args;

#define ARG(field) offsetof(train_args, field)
static const cli_flag train_flags[] = {
    { "--data", CLI_STRING, ARG(data), NULL, "SPEC", "gmm:FILE.json | toy:checkerboard | "
      "toy:moons | toy:swissroll | npy:FILE.npy (required)", 1 },
    { "--schedule", CLI_STRING, ARG(schedule), NULL, "NAME",
      "ddpm-linear (default), ddpm-cosine, vp-linear, vp-cosine, edm", 1 },
    { "--widths", CLI_STRING, ARG(widths), NULL, "W1,W2,..", "hidden widths (default "
      "128,128,128)", 1 },
    { "--temb", CLI_COUNT, ARG(temb), NULL, "E", "time-embedding width, even (default 32)", 1 },
    { "--iters", CLI_COUNT, ARG(iters), NULL, "N", "Adam steps (default 5000)", 1 },
    { "--batch", CLI_COUNT, ARG(batch), NULL, "B", "rows per step (default 256)", 1 },
    { "--lr", CLI_POSITIVE, ARG(lr), NULL, "L", "learning rate (default 1e-3)", 1 },
    { "--lr-final", CLI_NONNEG, ARG(lr_final), NULL, "L", "cosine decay to L (default: "
      "constant lr)", 1 },
    { "--seed", CLI_UINT, ARG(seed), NULL, "S", "mt19937 seeds: S init, S+1 training, "
      "S+2 evaluation (default 0)", 1 },
    { "--out", CLI_STRING, ARG(out), NULL, "FILE.safetensors", "the weights (required)", 1 },
    { "--f32", CLI_SWITCH, ARG(f32), NULL, NULL, "store F32 instead of F64", 1 },
    { "--loss-csv", CLI_STRING, ARG(loss_csv), NULL, "FILE.csv", "per-step loss: "
      "step,loss,loss_ema", 1 },
    { "--loss-plot", CLI_STRING, ARG(loss_plot), NULL, "FILE.png", "plot the curve with "
      "gnuplot (needs --loss-csv; script loss.gp beside plot.sh)", 1 },
    { "--eval", CLI_COUNT, ARG(eval_n), NULL, "N", "fresh draws for the held-out loss "
      "(default 65536)", 1 },
    { NULL, 0, 0, NULL, NULL, NULL, 0 },
};

static void args_init(train_args *a)
{
    *a = (train_args){ .data = NULL, .schedule = "ddpm-linear", .widths = "128,128,128",
                       .temb = 32, .iters = 5000, .batch = 256, .seed = 0, .eval_n = 65536,
                       .lr = 1e-3, .lr_final = NAN };
}

/* What a run owns; run_free releases it. */
typedef struct {
    dode_data *data;
    dode_schedule *schedule;
    dode_mlp *mlp;
    double *curve;
    double eval_loss, linear_bound, ema, seconds;
} train_run;

static void run_free(train_run *r)
{
    dode_data_free(r->data);
    dode_schedule_free(r->schedule);
    dode_mlp_free(r->mlp);
    free(r->curve);
}

static int check_args(const train_args *a, char *err, size_t errlen)
{
    if (a->data == NULL || a->out == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "--data and --out are required (see "
                         "diffode train --help)");
    if (a->loss_plot != NULL && a->loss_csv == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "--loss-plot needs --loss-csv (the plot "
                         "is drawn from it)");
    if (a->loss_plot != NULL && (strchr(a->loss_plot, '\'') || strchr(a->loss_csv, '\'')))
        return dode_fail(err, errlen, DODE_EINVAL, "--loss-plot/--loss-csv: file names with "
                         "a single quote cannot be passed to gnuplot");
    if (strlen(a->schedule) >= sizeof ((dode_mlp_arch *)0)->schedule)
        return dode_fail(err, errlen, DODE_EINVAL, "--schedule '%.40s': not a schedule name",
                         a->schedule);
    if (a->iters > 100000000 || a->batch > 1000000 || a->temb % 2 != 0)
        return dode_fail(err, errlen, DODE_EINVAL, "need --iters <= 1e8, --batch <= 1e6 and "
                         "an even --temb (got %zu, %zu, %zu)", a->iters, a->batch, a->temb);
    return DODE_OK;
}

static int run_setup(const train_args *a, train_run *r, gsl_rng *rng, char *err,
                     size_t errlen)
{
    dode_mlp_arch arch = { .dim = 0, .temb = a->temb, .prediction = DODE_PRED_EPS };
    int rc = check_args(a, err, errlen);
    if (rc == DODE_OK && (r->schedule = dode_schedule_new(a->schedule, err, errlen)) == NULL)
        rc = DODE_ENOTFOUND;
    if (rc == DODE_OK)
        rc = dode_mlp_parse_widths(a->widths, &arch, err, errlen);
    if (rc == DODE_OK)
        rc = dode_data_open(a->data, &r->data, err, errlen);
    if (rc != DODE_OK)
        return rc;
    arch.dim = dode_data_dim(r->data);
    snprintf(arch.schedule, sizeof arch.schedule, "%s", a->schedule);
    r->mlp = dode_mlp_new(&arch, rng, err, errlen);
    r->curve = malloc(a->iters * sizeof *r->curve);
    if (r->mlp == NULL)
        return DODE_EINVAL;
    if (r->curve == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "out of memory for the loss curve");
    return DODE_OK;
}

static void progress(void *ctx, size_t done, size_t iters, double loss, double ema)
{
    double *last_ema = ctx;
    *last_ema = ema;
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "\rdiffode train: step %zu/%zu  loss %.4f  ema %.4f%s", done, iters,
                loss, ema, done == iters ? "\n" : "");
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Training, then the held-out loss and the affine yardstick (their own rng streams). */
static int run_train(const train_args *a, train_run *r, char *err, size_t errlen)
{
    dode_train_opts o;
    dode_train_opts_init(&o);
    o.iters = a->iters;
    o.batch = a->batch;
    o.lr = a->lr;
    o.lr_final = a->lr_final;
    o.seed = (unsigned long)a->seed + 1;      /* the init used seed itself */
    o.progress = progress;
    o.progress_ctx = &r->ema;
    o.progress_every = a->iters >= 200 ? a->iters / 200 : 1;
    const double t0 = now();
    int rc = dode_train(r->mlp, r->schedule, r->data, &o, r->curve, err, errlen);
    r->seconds = now() - t0;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    const size_t dim = dode_data_dim(r->data);
    double *eigs = malloc(dim * sizeof *eigs);
    if (rc == DODE_OK && (rng == NULL || eigs == NULL))
        rc = dode_fail(err, errlen, DODE_ENOMEM, "out of memory");
    if (rc == DODE_OK) {
        gsl_rng_set(rng, (unsigned long)a->seed + 2);
        rc = dode_train_eval(r->mlp, r->schedule, r->data, a->eval_n, rng, &r->eval_loss,
                             err, errlen);
    }
    if (rc == DODE_OK)
        rc = dode_data_cov_eigs(r->data, rng, COV_DRAWS, eigs, err, errlen);
    if (rc == DODE_OK)
        rc = dode_train_linear_bound(r->schedule, eigs, dim, &r->linear_bound, err, errlen);
    free(eigs);
    gsl_rng_free(rng);
    return rc;
}

/* gnuplot -e "in='CSV'; out='PNG.tmp'; what='...'; bound=B" SCRIPT, then rename: no
 * half-written PNG. what (the run's settings, for the title) and bound (the linear
 * predictor's loss, a reference line) make the figure say what it shows (issue 11). */
static int plot_curve(const char *csv, const char *png, const train_args *a, double bound,
                      char *err, size_t errlen)
{
    char dir[4096], script[4200], expr[8192], tmp[4096], what[1024], quoted[2048];
    const int rc = cli_plots_dir(dir, sizeof dir, err, errlen);
    if (rc != DODE_OK)
        return rc;
    snprintf(script, sizeof script, "%s/loss.gp", dir);
    char lr[64];
    snprintf(lr, sizeof lr, isnan(a->lr_final) ? "lr %g" : "lr %g to %g", a->lr, a->lr_final);
    snprintf(what, sizeof what, "data %s, schedule %s, MLP %s (temb %zu), %zu Adam steps "
             "of batch %zu, %s, seed %zu", a->data, a->schedule, a->widths, a->temb,
             a->iters, a->batch, lr, a->seed);
    size_t q = 0;                   /* gnuplot's single-quoted string: ' written as '' */
    for (const char *c = what; *c != '\0' && q + 2 < sizeof quoted; c++) {
        if (*c == '\'')
            quoted[q++] = '\'';
        quoted[q++] = *c;
    }
    quoted[q] = '\0';
    snprintf(expr, sizeof expr, "in='%s'; out='%s.tmp'; what='%s'; bound=%.17g", csv, png,
             quoted, bound);
    snprintf(tmp, sizeof tmp, "%s.tmp", png);
    fflush(NULL);
    const pid_t pid = fork();
    if (pid == 0) {
        execlp("gnuplot", "gnuplot", "-e", expr, script, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0 || rename(tmp, png) != 0) {
        unlink(tmp);
        return dode_fail(err, errlen, DODE_EIO, "cannot plot %s: gnuplot failed (exit %d)",
                         png, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    return DODE_OK;
}

static int run_outputs(const train_args *a, train_run *r, char *err, size_t errlen)
{
    int rc = dode_mlp_save(r->mlp, a->out, a->f32 ? DODE_DTYPE_F32 : DODE_DTYPE_F64, err,
                           errlen);
    if (rc == DODE_OK && a->loss_csv != NULL)
        rc = dode_train_write_curve(a->loss_csv, r->curve, a->iters, err, errlen);
    if (rc == DODE_OK && a->loss_plot != NULL)
        rc = plot_curve(a->loss_csv, a->loss_plot, a, r->linear_bound, err, errlen);
    if (rc != DODE_OK) {          /* all or nothing */
        unlink(a->out);
        if (a->loss_csv != NULL)
            unlink(a->loss_csv);
    }
    return rc;
}

static cJSON *report(const train_args *a, const train_run *r)
{
    cJSON *j = cJSON_CreateObject();
    if (j == NULL)
        return NULL;
    cJSON_AddStringToObject(j, "command", "train");
    cJSON_AddStringToObject(j, "data", a->data);
    cJSON_AddStringToObject(j, "schedule", a->schedule);
    cJSON_AddStringToObject(j, "widths", a->widths);
    cJSON_AddNumberToObject(j, "temb", (double)a->temb);
    cJSON_AddNumberToObject(j, "params", (double)dode_mlp_nparams(r->mlp));
    cJSON_AddNumberToObject(j, "iters", (double)a->iters);
    cJSON_AddNumberToObject(j, "batch", (double)a->batch);
    cJSON_AddNumberToObject(j, "lr", a->lr);
    cJSON_AddNumberToObject(j, "seed", (double)a->seed);
    cJSON_AddNumberToObject(j, "final_loss_ema", r->ema);
    cJSON_AddNumberToObject(j, "eval_loss", r->eval_loss);
    cJSON_AddNumberToObject(j, "eval_n", (double)a->eval_n);
    cJSON_AddNumberToObject(j, "linear_bound", r->linear_bound);
    cJSON_AddNumberToObject(j, "zero_loss", (double)dode_data_dim(r->data));
    cJSON_AddNumberToObject(j, "seconds", r->seconds);
    cJSON_AddStringToObject(j, "out", a->out);
    return j;
}

int cmd_train(int argc, char **argv)
{
    train_args a;
    train_run r = { .data = NULL };
    char err[2048];
    args_init(&a);
    int rc = cli_parse(train_flags, 1, argc, argv, &a, err, sizeof err);
    if (rc == CLI_HELP) {
        cli_usage(stdout, "train", "--data SPEC --out FILE.safetensors [options]",
                  train_flags, 1);
        return 0;
    }
    openblas_set_num_threads(1);           /* bitwise reproducible for a seed */
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (rc == DODE_OK && rng == NULL)
        rc = dode_fail(err, sizeof err, DODE_ENOMEM, "out of memory");
    if (rc == DODE_OK) {
        gsl_rng_set(rng, (unsigned long)a.seed);
        rc = run_setup(&a, &r, rng, err, sizeof err);
    }
    if (rc == DODE_OK)
        rc = run_train(&a, &r, err, sizeof err);
    if (rc == DODE_OK)
        rc = run_outputs(&a, &r, err, sizeof err);
    cJSON *json = rc == DODE_OK ? report(&a, &r) : NULL;
    rc = cli_finish_report("train", rc, json, err, sizeof err);
    cJSON_Delete(json);
    gsl_rng_free(rng);
    run_free(&r);
    return cli_exit_status(rc);
}
