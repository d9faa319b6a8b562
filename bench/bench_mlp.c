/* bench_mlp.c - how close the MLP's batched forward (mlp.h) comes to the machine's dgemm.
 *
 * A forward pass is nhidden + 1 dgemms plus O(n width) work (bias copies, SiLU's exp, the
 * time embedding), so on wide layers its GFLOP/s (2 * multiply-adds / time) should approach
 * that of one dgemm of its hidden shape (n x W times W x W), timed here in the same run;
 * on narrow layers (the shipped 128-wide 2-D nets) the O(n W) part and dgemm's lower
 * efficiency on small shapes show. Each time is the minimum over repetitions, the two sides
 * interleaved (the machine is shared). Informational: no target. */
#include <cblas.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_mlp.h"
#include "diffode/mlp.h"
#include "diffode/status.h"

static double clock_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    dode_mlp *mlp;
    dode_mlp_work *work;
    size_t n, width;
    double *x, *label, *out;          /* forward: [n][dim], [n], [n][dim] */
    double *a, *w, *c;                /* dgemm: [n][W], [W][W], [n][W] */
} mlp_case;

static void case_free(mlp_case *c)
{
    dode_mlp_free(c->mlp);
    dode_mlp_work_free(c->work);
    free(c->x);
    free(c->label);
    free(c->out);
    free(c->a);
    free(c->w);
    free(c->c);
}

static int case_init(mlp_case *c, size_t width, size_t n, gsl_rng *rng)
{
    char err[256];
    dode_mlp_arch arch = { .dim = 2, .temb = 32, .nhidden = 3, .widths = { width, width, width },
                           .schedule = "ddpm-linear", .prediction = DODE_PRED_EPS };
    *c = (mlp_case){ .n = n, .width = width };
    c->mlp = dode_mlp_new(&arch, rng, err, sizeof err);
    c->work = c->mlp != NULL ? dode_mlp_work_new(c->mlp, n, err, sizeof err) : NULL;
    c->x = malloc(2 * n * sizeof *c->x);
    c->label = malloc(n * sizeof *c->label);
    c->out = malloc(2 * n * sizeof *c->out);
    c->a = malloc(n * width * sizeof *c->a);
    c->w = malloc(width * width * sizeof *c->w);
    c->c = malloc(n * width * sizeof *c->c);
    if (!c->mlp || !c->work || !c->x || !c->label || !c->out || !c->a || !c->w || !c->c) {
        fprintf(stderr, "bench mlp: setup failed: %s\n", c->mlp ? "out of memory" : err);
        return -1;
    }
    for (size_t k = 0; k < 2 * n; k++)
        c->x[k] = gsl_rng_uniform(rng) - 0.5;
    for (size_t i = 0; i < n; i++)
        c->label[i] = 500.0;                      /* one t per batch, as in sampling */
    for (size_t k = 0; k < n * width; k++)
        c->a[k] = gsl_rng_uniform(rng) - 0.5;
    for (size_t k = 0; k < width * width; k++)
        c->w[k] = gsl_rng_uniform(rng) - 0.5;
    return 0;
}

/* Minimum times of the forward and of the bare dgemm, interleaved. */
static void case_time(mlp_case *c, int reps, double *t_fwd, double *t_gemm)
{
    const int n = (int)c->n, W = (int)c->width;
    *t_fwd = *t_gemm = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t0 = clock_now();
        dode_mlp_forward(c->mlp, c->work, c->n, c->x, c->label, c->out);
        *t_fwd = fmin(*t_fwd, clock_now() - t0);
        t0 = clock_now();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, W, W, 1.0, c->a, W, c->w, W,
                    0.0, c->c, W);
        *t_gemm = fmin(*t_gemm, clock_now() - t0);
    }
}

int bench_mlp(int quick)
{
    const size_t widths[3] = { 128, 512, 1024 }, n = quick ? 1024 : 8192;
    const int reps = quick ? 3 : 15;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (rng == NULL)
        return -1;
    printf("\nmlp forward (2 + temb 32 -> W,W,W -> 2, n = %zu rows) vs dgemm n x W x W:\n", n);
    printf("  %-6s %12s %12s %8s\n", "W", "mlp GFLOP/s", "dgemm", "ratio");
    int rc = 0;
    for (size_t k = 0; k < 3 && rc == 0; k++) {
        mlp_case c;
        rc = case_init(&c, widths[k], n, rng);
        if (rc == 0) {
            double tf, tg;
            case_time(&c, reps, &tf, &tg);
            const double gf = 2.0 * (double)dode_mlp_flops_per_row(c.mlp) * (double)n / tf / 1e9;
            const double gg = 2.0 * (double)n * (double)(c.width * c.width) / tg / 1e9;
            printf("  %-6zu %12.2f %12.2f %8.2f\n", c.width, gf, gg, gf / gg);
        }
        case_free(&c);
    }
    gsl_rng_free(rng);
    return rc;
}
