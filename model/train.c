/* train.c - denoising score matching with Adam for the eps_theta MLP (train.h).
 *
 * The loss is DDPM's simple loss (Ho et al. 2020, Algorithm 1) on x_t = a x0 + s eps;
 * Adam is Kingma & Ba (2015), Algorithm 1, with bias correction. Invariant: random numbers
 * are drawn in one fixed order per step (x0 rows, then per row its level and its eps), so a
 * seed fixes the whole run; sums are plain loops or single-threaded dgemm. */
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_sort_vector.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/fileio.h"
#include "diffode/status.h"
#include "gsl_quiet.h"
#include "diffode/train.h"

#define EMA_WEIGHT 0.01
#define BOUND_POINTS 4096

void dode_train_opts_init(dode_train_opts *o)
{
    *o = (dode_train_opts){ .iters = 5000, .batch = 256, .lr = 1e-3, .lr_final = NAN,
                            .beta1 = 0.9, .beta2 = 0.999, .adam_eps = 1e-8, .seed = 1,
                            .progress = NULL, .progress_ctx = NULL, .progress_every = 100 };
}

/* One noise level: x_t = a x0 + s eps, and the label the network sees. */
typedef struct {
    double a, s, label;
} level;

static level level_at_sigma(const dode_schedule *sc, double sigma)
{
    const double a = 1.0 / sqrt(1.0 + sigma * sigma);
    return (level){ .a = a, .s = sigma * a,
                    .label = dode_schedule_model_time(sc, dode_schedule_t(sc, sigma)) };
}

static int is_edm(const dode_schedule *sc)
{
    return strcmp(dode_schedule_name(sc), "edm") == 0;
}

/* The training distribution of levels (train.h); u is uniform on [0, 1). */
static level level_draw(const dode_schedule *sc, double u)
{
    const size_t N = dode_schedule_levels(sc);
    if (N > 0) {                                   /* DDPM: level n uniform */
        size_t n = (size_t)(u * (double)N);
        n = n < N ? n : N - 1;
        const double abar = dode_schedule_alphas_cumprod(sc)[n];
        return level_at_sigma(sc, sqrt((1.0 - abar) / abar));
    }
    const double t0 = dode_schedule_t_min(sc), t1 = dode_schedule_t_max(sc);
    if (is_edm(sc))                                /* log sigma uniform (t = sigma) */
        return level_at_sigma(sc, exp(log(t0) + u * (log(t1) - log(t0))));
    return level_at_sigma(sc, dode_schedule_sigma(sc, t0 + u * (t1 - t0)));
}

/* The batch: x0 from the data, then per row its level and eps; xt = a x0 + s eps. */
static void draw_batch(const dode_schedule *sc, const dode_data *data, gsl_rng *rng,
                       size_t B, double *x0, double *eps, double *xt, double *label)
{
    const size_t d = dode_data_dim(data);
    dode_data_sample(data, rng, B, x0);
    for (size_t i = 0; i < B; i++) {
        const level lv = level_draw(sc, gsl_rng_uniform(rng));
        label[i] = lv.label;
        for (size_t j = 0; j < d; j++) {
            eps[i * d + j] = gsl_ran_gaussian_ziggurat(rng, 1.0);
            xt[i * d + j] = lv.a * x0[i * d + j] + lv.s * eps[i * d + j];
        }
    }
}

/* Loss (mean over rows of the squared error) and, if dout != NULL, its gradient. */
static double batch_loss(size_t B, size_t d, const double *out, const double *eps,
                         double *dout)
{
    double sum = 0;
    for (size_t k = 0; k < B * d; k++) {
        const double r = out[k] - eps[k];
        sum += r * r;
        if (dout != NULL)
            dout[k] = 2.0 * r / (double)B;
    }
    return sum / (double)B;
}

static void adam_step(double *p, const double *g, double *m, double *v, size_t P,
                      const dode_train_opts *o, double lr, size_t step)
{
    const double c1 = 1.0 - pow(o->beta1, (double)step), c2 = 1.0 - pow(o->beta2, (double)step);
    for (size_t k = 0; k < P; k++) {
        m[k] = o->beta1 * m[k] + (1.0 - o->beta1) * g[k];
        v[k] = o->beta2 * v[k] + (1.0 - o->beta2) * g[k] * g[k];
        p[k] -= lr * (m[k] / c1) / (sqrt(v[k] / c2) + o->adam_eps);
    }
}

static double lr_at(const dode_train_opts *o, size_t step)
{
    if (isnan(o->lr_final))
        return o->lr;
    const double c = 0.5 * (1.0 + cos(M_PI * (double)step / (double)o->iters));
    return o->lr_final + (o->lr - o->lr_final) * c;
}

static int check_opts(const dode_mlp *mlp, const dode_schedule *s, const dode_data *data,
                      const dode_train_opts *o, char *err, size_t errlen)
{
    if (mlp == NULL || s == NULL || data == NULL || o == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "train: NULL argument");
    const dode_mlp_arch *a = dode_mlp_arch_get(mlp);
    if (a->dim != dode_data_dim(data))
        return dode_fail(err, errlen, DODE_EINVAL, "train: the network has dim %zu but the "
                         "data %s has dim %zu", a->dim, dode_data_name(data),
                         dode_data_dim(data));
    if (strcmp(a->schedule, dode_schedule_name(s)) != 0)
        return dode_fail(err, errlen, DODE_EINVAL, "train: the network records schedule "
                         "\"%s\" but training uses \"%s\"", a->schedule, dode_schedule_name(s));
    if (a->prediction != DODE_PRED_EPS)
        return dode_fail(err, errlen, DODE_EINVAL, "train: only eps-prediction is trained");
    if (o->iters < 1 || o->batch < 1 || o->batch > 1000000)
        return dode_fail(err, errlen, DODE_EINVAL, "train: need iters >= 1 and batch in "
                         "1..1000000, got %zu and %zu", o->iters, o->batch);
    if (!(o->lr > 0 && isfinite(o->lr)) || !(isnan(o->lr_final) || o->lr_final >= 0) ||
        !(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1) ||
        !(o->adam_eps > 0))
        return dode_fail(err, errlen, DODE_EINVAL, "train: need lr > 0, lr_final >= 0, "
                         "betas in [0, 1), adam_eps > 0 (got lr %g, lr_final %g, betas %g, "
                         "%g, eps %g)", o->lr, o->lr_final, o->beta1, o->beta2, o->adam_eps);
    return DODE_OK;
}

/* Everything a run needs, allocated once: the batch arrays and Adam's moments. */
typedef struct {
    double *x0, *eps, *xt, *out, *dout, *label, *grad, *m, *v, *block;
    dode_mlp_work *work;
    gsl_rng *rng;
} train_ws;

static void ws_free(train_ws *w)
{
    free(w->block);
    dode_mlp_work_free(w->work);
    gsl_rng_free(w->rng);
}

static int ws_alloc(train_ws *w, const dode_mlp *mlp, size_t B, unsigned long seed, char *err,
                    size_t errlen)
{
    const size_t d = dode_mlp_arch_get(mlp)->dim, P = dode_mlp_nparams(mlp);
    memset(w, 0, sizeof *w);
    w->block = calloc(5 * B * d + B + 3 * P, sizeof *w->block);
    w->work = dode_mlp_work_new(mlp, B, err, errlen);
    w->rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (w->block == NULL || w->work == NULL || w->rng == NULL) {
        ws_free(w);
        return dode_fail(err, errlen, DODE_ENOMEM, "train: out of memory for batch %zu", B);
    }
    gsl_rng_set(w->rng, seed);
    double *p = w->block;
    double **views[] = { &w->x0, &w->eps, &w->xt, &w->out, &w->dout };
    for (size_t k = 0; k < 5; k++, p += B * d)
        *views[k] = p;
    w->label = p;
    w->grad = p + B;
    w->m = w->grad + P;
    w->v = w->m + P;
    return DODE_OK;
}

static double train_step(dode_mlp *mlp, const dode_schedule *s, const dode_data *data,
                         train_ws *w, const dode_train_opts *o, size_t step)
{
    const size_t B = o->batch, d = dode_mlp_arch_get(mlp)->dim;
    draw_batch(s, data, w->rng, B, w->x0, w->eps, w->xt, w->label);
    dode_mlp_forward(mlp, w->work, B, w->xt, w->label, w->out);
    const double loss = batch_loss(B, d, w->out, w->eps, w->dout);
    if (!isfinite(loss))
        return loss;
    dode_mlp_backward(mlp, w->work, B, w->dout, w->grad);
    adam_step(dode_mlp_params(mlp), w->grad, w->m, w->v, dode_mlp_nparams(mlp), o,
              lr_at(o, step - 1), step);
    return loss;
}

int dode_train(dode_mlp *mlp, const dode_schedule *s, const dode_data *data,
               const dode_train_opts *opts, double *curve, char *err, size_t errlen)
{
    dode_gsl_quiet();    /* gsl_rng_alloc, and the data's own draws */
    int rc = check_opts(mlp, s, data, opts, err, errlen);
    train_ws w;
    if (rc != DODE_OK || (rc = ws_alloc(&w, mlp, opts->batch, opts->seed, err, errlen)))
        return rc;
    const size_t every = opts->progress_every > 0 ? opts->progress_every : 100;
    double ema = NAN;
    for (size_t step = 1; step <= opts->iters; step++) {
        const double loss = train_step(mlp, s, data, &w, opts, step);
        if (!isfinite(loss)) {
            rc = dode_fail(err, errlen, DODE_ENONFINITE, "train: the loss became %g at step "
                           "%zu of %zu (lr %g too high?)", loss, step, opts->iters, opts->lr);
            break;
        }
        ema = isnan(ema) ? loss : (1 - EMA_WEIGHT) * ema + EMA_WEIGHT * loss;
        if (curve != NULL)
            curve[step - 1] = loss;
        if (opts->progress != NULL && (step % every == 0 || step == opts->iters))
            opts->progress(opts->progress_ctx, step, opts->iters, loss, ema);
    }
    ws_free(&w);
    return rc;
}

int dode_train_eval(const dode_mlp *mlp, const dode_schedule *s, const dode_data *data,
                    size_t n, gsl_rng *rng, double *loss, char *err, size_t errlen)
{
    dode_train_opts o;
    dode_train_opts_init(&o);
    dode_gsl_quiet();    /* gsl_rng_alloc, and the data's own draws */
    int rc = check_opts(mlp, s, data, &o, err, errlen);
    if (rc == DODE_OK && (n < 1 || rng == NULL || loss == NULL))
        rc = dode_fail(err, errlen, DODE_EINVAL, "train eval: need n >= 1, an rng, an output");
    const size_t B = n < 1024 ? n : 1024, d = dode_mlp_arch_get(mlp)->dim;
    train_ws w;
    if (rc != DODE_OK || (rc = ws_alloc(&w, mlp, B, 0, err, errlen)) != DODE_OK)
        return rc;
    double sum = 0;
    for (size_t done = 0; done < n; done += B) {
        const size_t b = n - done < B ? n - done : B;
        draw_batch(s, data, rng, b, w.x0, w.eps, w.xt, w.label);
        dode_mlp_forward(mlp, w.work, b, w.xt, w.label, w.out);
        sum += batch_loss(b, d, w.out, w.eps, NULL) * (double)b;
    }
    ws_free(&w);
    *loss = sum / (double)n;
    return isfinite(*loss) ? DODE_OK
           : dode_fail(err, errlen, DODE_ENONFINITE, "train eval: the loss is %g", *loss);
}

static double linear_loss(level lv, const double *eigs, size_t dim)
{
    double b = 0;
    for (size_t i = 0; i < dim; i++) {
        const double sig = lv.a * lv.a * eigs[i];
        b += sig / (sig + lv.s * lv.s);
    }
    return b;
}

int dode_train_linear_bound(const dode_schedule *s, const double *eigs, size_t dim,
                            double *bound, char *err, size_t errlen)
{
    if (s == NULL || eigs == NULL || bound == NULL || dim < 1)
        return dode_fail(err, errlen, DODE_EINVAL, "linear bound: NULL argument or dim 0");
    for (size_t i = 0; i < dim; i++)
        if (!(eigs[i] >= 0 && isfinite(eigs[i])))
            return dode_fail(err, errlen, DODE_EINVAL, "linear bound: eigenvalue %zu is %g, "
                             "expected finite and >= 0", i, eigs[i]);
    const size_t N = dode_schedule_levels(s), M = N > 0 ? N : BOUND_POINTS;
    double sum = 0;
    for (size_t k = 0; k < M; k++)     /* level k exactly, or the midpoint of cell k */
        sum += linear_loss(level_draw(s, ((double)k + 0.5) / (double)M), eigs, dim);
    *bound = sum / (double)M;
    return DODE_OK;
}

int dode_data_cov_eigs(const dode_data *data, gsl_rng *rng, size_t n, double *eigs,
                       char *err, size_t errlen)
{
    const size_t d = data != NULL ? dode_data_dim(data) : 0;
    dode_gsl_quiet();    /* gsl_matrix_calloc, gsl_eigen_symm_alloc report no memory */
    if (data == NULL || rng == NULL || eigs == NULL || n < 2 || n > 100000000)
        return dode_fail(err, errlen, DODE_EINVAL, "covariance: need data, an rng and "
                         "2 <= n <= 1e8 draws");
    double *x = malloc(d * sizeof *x), *mean = calloc(d, sizeof *mean);
    gsl_matrix *cov = gsl_matrix_calloc(d, d);
    gsl_vector *ev = gsl_vector_alloc(d);
    gsl_eigen_symm_workspace *ws = gsl_eigen_symm_alloc(d);
    int rc = x && mean && cov && ev && ws ? DODE_OK
             : dode_fail(err, errlen, DODE_ENOMEM, "covariance: out of memory");
    for (size_t i = 0; rc == DODE_OK && i < n; i++) {   /* Welford, one row at a time */
        dode_data_sample(data, rng, 1, x);
        for (size_t j = 0; j < d; j++) {
            const double dj = x[j] - mean[j];
            mean[j] += dj / (double)(i + 1);
            for (size_t l = 0; l <= j; l++)
                *gsl_matrix_ptr(cov, j, l) += dj * (x[l] - mean[l]);
        }
    }
    if (rc == DODE_OK) {
        gsl_matrix_scale(cov, 1.0 / (double)(n - 1));   /* symm reads the lower triangle */
        gsl_eigen_symm(cov, ev, ws);
        gsl_sort_vector(ev);
        for (size_t j = 0; j < d; j++)
            eigs[j] = gsl_vector_get(ev, j) > 0 ? gsl_vector_get(ev, j) : 0;
    }
    gsl_eigen_symm_free(ws);
    gsl_vector_free(ev);
    gsl_matrix_free(cov);
    free(mean);
    free(x);
    return rc;
}

int dode_train_write_curve(const char *path, const double *curve, size_t iters, char *err,
                           size_t errlen)
{
    if (path == NULL || curve == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "loss curve: NULL argument");
    const size_t cap = 32 + iters * 64;
    char *text = malloc(cap);
    if (text == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot write %s: out of memory", path);
    size_t len = (size_t)snprintf(text, cap, "step,loss,loss_ema\n");
    double ema = NAN;
    for (size_t i = 0; i < iters; i++) {
        ema = isnan(ema) ? curve[i] : (1 - EMA_WEIGHT) * ema + EMA_WEIGHT * curve[i];
        len += (size_t)snprintf(text + len, cap - len, "%zu,%.9g,%.9g\n", i + 1, curve[i], ema);
    }
    const int rc = dode_write_atomic(path, text, len, err, errlen);
    free(text);
    return rc;
}
