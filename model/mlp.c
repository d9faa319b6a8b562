/* mlp.c - the eps_theta MLP (mlp.h): batched forward and backward through OpenBLAS dgemm,
 * and its .safetensors form.
 *
 * Invariant: params holds, for each Linear i (0 .. nhidden), weight [out_i][in_i] then bias
 * [out_i], at woff[i] and woff[i] + out_i * in_i; in_0 = dim + temb, out_last = dim.
 * Rows are row-major, so y = a W^T + b is one dgemm with W transposed, as nn.Linear. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/mlp.h"
#include "diffode/schedule.h"
#include "diffode/status.h"

#define NLIN_MAX (DODE_MLP_MAX_HIDDEN + 1)

struct dode_mlp {
    dode_mlp_arch arch;
    size_t nlin;                    /* Linear layers: nhidden + 1 */
    size_t in[NLIN_MAX], out[NLIN_MAX], woff[NLIN_MAX];
    size_t nparams, maxw;           /* maxw: the widest layer input or output */
    double *params;
};

struct dode_mlp_work {
    size_t cap;
    double *a[NLIN_MAX];            /* input of Linear i: [cap][in_i] (a[0] = [x, temb]) */
    double *z[NLIN_MAX];            /* pre-activation of hidden layer i: [cap][out_i] */
    double *g, *gp;                 /* backward: dL/d(layer output), dL/d(layer input) */
    double *block;
};

static int check_arch(const dode_mlp_arch *a, char *err, size_t errlen)
{
    if (a->dim < 1 || a->dim > DODE_MLP_MAX_WIDTH)
        return dode_fail(err, errlen, DODE_EINVAL, "mlp: dim %zu is outside 1..%d", a->dim,
                         DODE_MLP_MAX_WIDTH);
    if (a->temb < 2 || a->temb % 2 != 0 || a->temb > DODE_MLP_MAX_WIDTH)
        return dode_fail(err, errlen, DODE_EINVAL, "mlp: temb %zu must be even and in "
                         "2..%d", a->temb, DODE_MLP_MAX_WIDTH);
    if (a->nhidden < 1 || a->nhidden > DODE_MLP_MAX_HIDDEN)
        return dode_fail(err, errlen, DODE_EINVAL, "mlp: %zu hidden layers, expected "
                         "1..%d", a->nhidden, DODE_MLP_MAX_HIDDEN);
    for (size_t i = 0; i < a->nhidden; i++)
        if (a->widths[i] < 1 || a->widths[i] > DODE_MLP_MAX_WIDTH)
            return dode_fail(err, errlen, DODE_EINVAL, "mlp: width %zu of hidden layer "
                             "%zu is outside 1..%d", a->widths[i], i, DODE_MLP_MAX_WIDTH);
    if (memchr(a->schedule, '\0', sizeof a->schedule) == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "mlp: schedule name is not terminated");
    return DODE_OK;
}

int dode_mlp_parse_widths(const char *text, dode_mlp_arch *arch, char *err, size_t errlen)
{
    size_t w[DODE_MLP_MAX_HIDDEN], n = 0;
    const char *p = text != NULL ? text : "";
    for (;;) {
        char *end;
        if (*p < '0' || *p > '9' || n == DODE_MLP_MAX_HIDDEN)
            break;
        const unsigned long long v = strtoull(p, &end, 10);
        if (v < 1 || v > DODE_MLP_MAX_WIDTH)
            break;
        w[n++] = (size_t)v;
        if (*end == '\0') {
            memcpy(arch->widths, w, n * sizeof w[0]);
            arch->nhidden = n;
            return DODE_OK;
        }
        if (*end != ',')
            break;
        p = end + 1;
    }
    return dode_fail(err, errlen, DODE_EINVAL, "mlp: widths \"%.60s\" is not a list of 1 to "
                     "%d integers in 1..%d separated by commas", text != NULL ? text : "",
                     DODE_MLP_MAX_HIDDEN, DODE_MLP_MAX_WIDTH);
}

/* Lays out the parameter vector (the invariant above); 0 or DODE_ENOMEM on overflow. */
static int layout(dode_mlp *m)
{
    const dode_mlp_arch *a = &m->arch;
    m->nlin = a->nhidden + 1;
    m->nparams = 0;
    m->maxw = a->dim + a->temb;
    for (size_t i = 0; i < m->nlin; i++) {
        m->in[i] = i == 0 ? a->dim + a->temb : a->widths[i - 1];
        m->out[i] = i == a->nhidden ? a->dim : a->widths[i];
        m->woff[i] = m->nparams;
        size_t wsize;
        if (dode_mul_size(m->out[i], m->in[i] + 1, &wsize) != DODE_OK ||
            m->nparams > (size_t)-1 / sizeof(double) - wsize)
            return DODE_ENOMEM;
        m->nparams += wsize;
        if (m->out[i] > m->maxw)
            m->maxw = m->out[i];
    }
    return DODE_OK;
}

/* At most 2^28 parameters (2 GiB of doubles): widths up to 65536 would otherwise allow
 * 16 hidden layers of 2^32 weights each, far beyond any network this toolkit trains. */
#define MLP_MAX_PARAMS ((size_t)1 << 28)

/* The layout of a checked arch into m (no parameters allocated), within MLP_MAX_PARAMS. */
static int plan(dode_mlp *m, const dode_mlp_arch *arch, char *err, size_t errlen)
{
    *m = (dode_mlp){ .arch = *arch };
    if (layout(m) != DODE_OK || m->nparams > MLP_MAX_PARAMS)
        return dode_fail(err, errlen, DODE_EINVAL, "mlp: dim %zu, temb %zu and %zu hidden "
                         "layers give %s%zu parameters, above the limit of %zu (2^28)",
                         arch->dim, arch->temb, arch->nhidden, layout(m) != DODE_OK ? "over "
                         : "", m->nparams, MLP_MAX_PARAMS);
    return DODE_OK;
}

static dode_mlp *mlp_alloc(const dode_mlp_arch *arch, char *err, size_t errlen)
{
    dode_mlp probe;
    if (arch == NULL) {
        dode_fail(err, errlen, DODE_EINVAL, "mlp: NULL architecture");
        return NULL;
    }
    if (check_arch(arch, err, errlen) != DODE_OK || plan(&probe, arch, err, errlen) != DODE_OK)
        return NULL;
    dode_mlp *m = malloc(sizeof *m);
    if (m != NULL) {
        *m = probe;
        m->params = calloc(m->nparams, sizeof *m->params);
    }
    if (m == NULL || m->params == NULL) {
        dode_mlp_free(m);
        dode_fail(err, errlen, DODE_ENOMEM, "mlp: out of memory for the parameters");
        return NULL;
    }
    return m;
}

dode_mlp *dode_mlp_new(const dode_mlp_arch *arch, gsl_rng *rng, char *err, size_t errlen)
{
    if (rng == NULL) {
        dode_fail(err, errlen, DODE_EINVAL, "mlp: NULL random generator");
        return NULL;
    }
    dode_mlp *m = mlp_alloc(arch, err, errlen);
    if (m == NULL)
        return NULL;
    for (size_t i = 0; i < m->nlin; i++) {      /* torch.nn.Linear.reset_parameters */
        const double bound = 1.0 / sqrt((double)m->in[i]);
        const size_t len = m->out[i] * (m->in[i] + 1);
        for (size_t k = 0; k < len; k++)
            m->params[m->woff[i] + k] = bound * (2.0 * gsl_rng_uniform(rng) - 1.0);
    }
    return m;
}

void dode_mlp_free(dode_mlp *mlp)
{
    if (mlp == NULL)
        return;
    free(mlp->params);
    free(mlp);
}

const dode_mlp_arch *dode_mlp_arch_get(const dode_mlp *mlp) { return &mlp->arch; }
size_t dode_mlp_nparams(const dode_mlp *mlp) { return mlp->nparams; }
double *dode_mlp_params(dode_mlp *mlp) { return mlp->params; }

size_t dode_mlp_flops_per_row(const dode_mlp *mlp)
{
    size_t f = 0;
    for (size_t i = 0; i < mlp->nlin; i++)
        f += mlp->in[i] * mlp->out[i];
    return f;
}

/* --- workspace, forward, backward --- */

dode_mlp_work *dode_mlp_work_new(const dode_mlp *mlp, size_t cap, char *err, size_t errlen)
{
    size_t total = 2 * mlp->maxw, rows;      /* g and gp */
    for (size_t i = 0; i < mlp->nlin; i++)
        total += mlp->in[i] + (i + 1 < mlp->nlin ? mlp->out[i] : 0);
    dode_mlp_work *w = cap > 0 ? calloc(1, sizeof *w) : NULL;
    if (w != NULL && dode_mul_size(total, cap, &rows) == DODE_OK &&
        rows <= (size_t)-1 / sizeof(double))
        w->block = malloc(rows * sizeof *w->block);
    if (w == NULL || w->block == NULL) {
        free(w);
        dode_fail(err, errlen, cap == 0 ? DODE_EINVAL : DODE_ENOMEM, "mlp: cannot allocate "
                  "a workspace for %zu rows", cap);
        return NULL;
    }
    w->cap = cap;
    double *p = w->block;
    for (size_t i = 0; i < mlp->nlin; i++) {
        w->a[i] = p;
        p += cap * mlp->in[i];
        if (i + 1 < mlp->nlin) {
            w->z[i] = p;
            p += cap * mlp->out[i];
        }
    }
    w->g = p;
    w->gp = p + cap * mlp->maxw;
    return w;
}

void dode_mlp_work_free(dode_mlp_work *w)
{
    if (w == NULL)
        return;
    free(w->block);
    free(w);
}

/* Row i of a[0]: x_i then the DDPM sinusoidal embedding of label_i (mlp.h). Rows that share
 * the previous row's label copy its embedding (the sampler's case: one t per batch). */
static void input_rows(const dode_mlp *m, size_t n, const double *x, const double *label,
                       double *a0)
{
    const size_t d = m->arch.dim, in = m->in[0], half = m->arch.temb / 2;
    for (size_t i = 0; i < n; i++) {
        double *row = a0 + i * in;
        memcpy(row, x + i * d, d * sizeof *row);
        if (i > 0 && label[i] == label[i - 1]) {
            memcpy(row + d, row - in + d, 2 * half * sizeof *row);
            continue;
        }
        for (size_t k = 0; k < half; k++) {
            const double arg = label[i] * exp(-log(10000.0) * (double)k / (double)half);
            row[d + k] = sin(arg);
            row[d + half + k] = cos(arg);
        }
    }
}

static double sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }

/* y[n][out] = a[n][in] W^T + b. */
static void linear(const dode_mlp *m, size_t i, size_t n, const double *a, double *y)
{
    const double *W = m->params + m->woff[i], *b = W + m->out[i] * m->in[i];
    for (size_t r = 0; r < n; r++)
        memcpy(y + r * m->out[i], b, m->out[i] * sizeof *y);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)m->out[i],
                (int)m->in[i], 1.0, a, (int)m->in[i], W, (int)m->in[i], 1.0, y,
                (int)m->out[i]);
}

int dode_mlp_forward(const dode_mlp *mlp, dode_mlp_work *w, size_t n, const double *x,
                     const double *label, double *out)
{
    if (n > w->cap || n > (size_t)0x7fffffff)
        return DODE_EINVAL;
    if (n == 0)
        return DODE_OK;
    input_rows(mlp, n, x, label, w->a[0]);
    for (size_t i = 0; i + 1 < mlp->nlin; i++) {
        linear(mlp, i, n, w->a[i], w->z[i]);
        const size_t len = n * mlp->out[i];
        for (size_t k = 0; k < len; k++)         /* SiLU: z sigmoid(z) */
            w->a[i + 1][k] = w->z[i][k] * sigmoid(w->z[i][k]);
    }
    linear(mlp, mlp->nlin - 1, n, w->a[mlp->nlin - 1], out);
    return DODE_OK;
}

/* One Linear's gradients from g = dL/dy ([n][out]): dW = g^T a, db = column sums of g
 * (a plain loop in row order, so the sum is the same every run). */
static void linear_grad(const dode_mlp *m, size_t i, size_t n, const double *a,
                        const double *g, double *grad)
{
    const size_t in = m->in[i], out = m->out[i];
    double *dW = grad + m->woff[i], *db = dW + out * in;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)n, 1.0,
                g, (int)out, a, (int)in, 0.0, dW, (int)in);
    memset(db, 0, out * sizeof *db);
    for (size_t r = 0; r < n; r++)
        for (size_t k = 0; k < out; k++)
            db[k] += g[r * out + k];
}

int dode_mlp_backward(const dode_mlp *mlp, dode_mlp_work *w, size_t n, const double *dout,
                      double *grad)
{
    if (n > w->cap || n > (size_t)0x7fffffff)
        return DODE_EINVAL;
    if (n == 0) {
        memset(grad, 0, mlp->nparams * sizeof *grad);
        return DODE_OK;
    }
    memcpy(w->g, dout, n * mlp->arch.dim * sizeof *w->g);
    for (size_t i = mlp->nlin; i-- > 0;) {
        linear_grad(mlp, i, n, w->a[i], w->g, grad);
        if (i == 0)
            break;
        const double *W = mlp->params + mlp->woff[i];
        const size_t in = mlp->in[i];             /* = out of layer i - 1 */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)in,
                    (int)mlp->out[i], 1.0, w->g, (int)mlp->out[i], W, (int)in, 0.0, w->gp,
                    (int)in);
        const double *z = w->z[i - 1];
        for (size_t k = 0; k < n * in; k++) {     /* silu'(z) = s (1 + z (1 - s)) */
            const double s = sigmoid(z[k]);
            w->g[k] = w->gp[k] * s * (1.0 + z[k] * (1.0 - s));
        }
    }
    return DODE_OK;
}

/* --- .safetensors form --- */

/* File names of the predictions a network may have, indexed by dode_prediction (no score
 * network: NULL); a flow network (rectified flow, model.h) reads flow's x. */
static const char *const pred_names[DODE_PRED_COUNT] = { "eps", "x0", "v", NULL, "flow" };

static void tensor_name(char *buf, size_t len, size_t i, const char *what)
{
    snprintf(buf, len, "layers.%zu.%s", 2 * i, what);   /* nn.Sequential: SiLU takes 2i+1 */
}

static void widths_text(const dode_mlp_arch *a, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < a->nhidden && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, i ? ",%zu" : "%zu", a->widths[i]);
}

int dode_mlp_save(const dode_mlp *mlp, const char *path, dode_dtype dtype, char *err,
                  size_t errlen)
{
    const dode_mlp_arch *a = &mlp->arch;
    char names[2 * NLIN_MAX][32], dim[32], temb[32], widths[DODE_MLP_MAX_HIDDEN * 8];
    dode_tensor t[2 * NLIN_MAX];
    memset(t, 0, sizeof t);
    for (size_t i = 0; i < mlp->nlin; i++) {
        tensor_name(names[2 * i], sizeof names[0], i, "weight");
        tensor_name(names[2 * i + 1], sizeof names[0], i, "bias");
        t[2 * i] = (dode_tensor){ .name = names[2 * i], .dtype = dtype, .ndim = 2,
                                  .shape = { mlp->out[i], mlp->in[i] },
                                  .size = mlp->out[i] * mlp->in[i],
                                  .data = mlp->params + mlp->woff[i] };
        t[2 * i + 1] = (dode_tensor){ .name = names[2 * i + 1], .dtype = dtype, .ndim = 1,
                                      .shape = { mlp->out[i] }, .size = mlp->out[i],
                                      .data = t[2 * i].data + t[2 * i].size };
    }
    snprintf(dim, sizeof dim, "%zu", a->dim);
    snprintf(temb, sizeof temb, "%zu", a->temb);
    widths_text(a, widths, sizeof widths);
    char *meta[] = { "diffode_arch", "mlp", "dim", dim, "temb", temb, "widths", widths,
                     "schedule", (char *)a->schedule, "prediction",
                     (char *)pred_names[(unsigned)a->prediction < DODE_PRED_COUNT
                                        && pred_names[a->prediction] != NULL ? a->prediction : 0] };
    const dode_safetensors st = { .count = 2 * mlp->nlin, .tensors = t, .nmeta = 6,
                                  .meta = meta };
    return dode_safetensors_write(path, &st, dtype, err, errlen);
}

/* A metadata value that is a decimal integer in 1..DODE_MLP_MAX_WIDTH. */
static int meta_size(const dode_safetensors *st, const char *key, size_t *out,
                     const char *source, char *err, size_t errlen)
{
    const char *v = dode_safetensors_meta(st, key);
    char *end = NULL;
    const unsigned long long n = v != NULL && v[0] >= '0' && v[0] <= '9' ?
                                 strtoull(v, &end, 10) : 0;
    if (v == NULL)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot load %s: __metadata__ has no "
                         "\"%s\"", source, key);
    if (end == NULL || *end != '\0' || n < 1 || n > DODE_MLP_MAX_WIDTH)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot load %s: __metadata__ \"%s\" "
                         "is \"%.40s\", expected an integer in 1..%d", source, key, v,
                         DODE_MLP_MAX_WIDTH);
    *out = (size_t)n;
    return DODE_OK;
}

static int meta_schedule(const dode_safetensors *st, dode_mlp_arch *a, const char *source,
                         char *err, size_t errlen)
{
    const char *v = dode_safetensors_meta(st, "schedule");
    if (v == NULL)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot load %s: __metadata__ has no "
                         "\"schedule\" (the schedule the network was trained on)", source);
    char why[256];
    dode_schedule *s = strlen(v) < sizeof a->schedule ? dode_schedule_new(v, why, sizeof why)
                                                      : NULL;
    if (s == NULL)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot load %s: __metadata__ "
                         "\"schedule\" is \"%.40s\", not a known schedule", source, v);
    dode_schedule_free(s);
    snprintf(a->schedule, sizeof a->schedule, "%s", v);
    return DODE_OK;
}

static int meta_prediction(const dode_safetensors *st, dode_mlp_arch *a, const char *source,
                           char *err, size_t errlen)
{
    const char *v = dode_safetensors_meta(st, "prediction");
    a->prediction = DODE_PRED_EPS;
    if (v == NULL)
        return DODE_OK;
    for (size_t k = 0; k < sizeof pred_names / sizeof pred_names[0]; k++)
        if (pred_names[k] != NULL && strcmp(v, pred_names[k]) == 0) {
            a->prediction = (dode_prediction)k;
            return DODE_OK;
        }
    return dode_fail(err, errlen, DODE_EFORMAT, "cannot load %s: __metadata__ \"prediction\" "
                     "is \"%.40s\", expected eps, x0, v or flow", source, v);
}

/* The architecture from __metadata__ (mlp.h lists the keys). */
static int arch_from_meta(const dode_safetensors *st, dode_mlp_arch *a, const char *source,
                          char *err, size_t errlen)
{
    const char *kind = dode_safetensors_meta(st, "diffode_arch");
    if (st->nmeta == 0)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot load %s: the file has no "
                         "__metadata__ (it must describe the architecture)", source);
    if (kind == NULL || strcmp(kind, "mlp") != 0)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot load %s: __metadata__ "
                         "\"diffode_arch\" is %s%.40s%s, expected \"mlp\"", source,
                         kind ? "\"" : "", kind ? kind : "missing", kind ? "\"" : "");
    memset(a, 0, sizeof *a);
    int rc = meta_size(st, "dim", &a->dim, source, err, errlen);
    if (rc == DODE_OK)
        rc = meta_size(st, "temb", &a->temb, source, err, errlen);
    const char *w = dode_safetensors_meta(st, "widths");
    char why[256];
    if (rc == DODE_OK && dode_mlp_parse_widths(w, a, why, sizeof why) != DODE_OK)
        rc = dode_fail(err, errlen, DODE_EFORMAT, "cannot load %s: __metadata__ \"widths\" "
                       "%s", source, w == NULL ? "is missing" : why);
    if (rc == DODE_OK)
        rc = meta_schedule(st, a, source, err, errlen);
    if (rc == DODE_OK)
        rc = meta_prediction(st, a, source, err, errlen);
    if (rc == DODE_OK && check_arch(a, why, sizeof why) != DODE_OK)
        rc = dode_fail(err, errlen, DODE_EFORMAT, "cannot load %s: %s", source, why);
    return rc;
}

/* Copies Linear i's weight and bias out of st, checking names, shapes and finiteness;
 * with m->params NULL (a planned layout) it only checks. */
static int load_linear(dode_mlp *m, size_t i, const dode_safetensors *st, const char *source,
                       char *err, size_t errlen)
{
    for (int bias = 0; bias <= 1; bias++) {
        char name[32], why[256];
        tensor_name(name, sizeof name, i, bias ? "bias" : "weight");
        const size_t shape[2] = { m->out[i], m->in[i] };
        const dode_tensor *t;
        const int rc = dode_safetensors_expect(st, name, bias ? 1 : 2, shape, &t, why,
                                               sizeof why);
        if (rc != DODE_OK)
            return dode_fail(err, errlen, rc, "cannot load %s: %s (Linear %zu of %zu for "
                             "dim %zu, temb %zu, widths \"%s\")", source, why, i + 1,
                             m->nlin, m->arch.dim, m->arch.temb,
                             dode_safetensors_meta(st, "widths"));
        for (size_t k = 0; k < t->size; k++)
            if (!isfinite(t->data[k]))
                return dode_fail(err, errlen, DODE_ENONFINITE, "cannot load %s: tensor "
                                 "\"%s\" has a non-finite value at index %zu", source, name, k);
        if (m->params != NULL)
            memcpy(m->params + m->woff[i] + (bias ? m->out[i] * m->in[i] : 0), t->data,
                   t->size * sizeof *t->data);
    }
    return DODE_OK;
}

/* Every tensor a's layout needs, checked in st before the network is allocated: the
 * metadata alone could describe gigabytes of parameters the file does not hold (a 200-byte
 * file with widths "40000,40000" once allocated 12.8 GB before failing). */
static int check_tensors(const dode_mlp_arch *a, const dode_safetensors *st,
                         const char *source, char *err, size_t errlen)
{
    char why[256];
    dode_mlp probe;
    int rc = plan(&probe, a, why, sizeof why);
    if (rc != DODE_OK)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot load %s: %s", source, why);
    for (size_t i = 0; rc == DODE_OK && i < probe.nlin; i++)
        rc = load_linear(&probe, i, st, source, err, errlen);
    return rc;
}

dode_mlp *dode_mlp_from_safetensors(const dode_safetensors *st, const char *source,
                                    char *err, size_t errlen)
{
    dode_mlp_arch a;
    if (source == NULL)
        source = "safetensors";
    if (st == NULL || arch_from_meta(st, &a, source, err, errlen) != DODE_OK) {
        if (st == NULL)
            dode_fail(err, errlen, DODE_EINVAL, "cannot load %s: NULL tensors", source);
        return NULL;
    }
    dode_mlp *m = check_tensors(&a, st, source, err, errlen) == DODE_OK
                  ? mlp_alloc(&a, err, errlen) : NULL;
    int rc = m != NULL ? DODE_OK : DODE_ENOMEM;
    for (size_t i = 0; rc == DODE_OK && i < m->nlin; i++)
        rc = load_linear(m, i, st, source, err, errlen);
    if (rc == DODE_OK && st->count != 2 * m->nlin) {
        for (size_t k = 0; k < st->count && rc == DODE_OK; k++) {
            char name[32];
            int known = 0;
            for (size_t i = 0; i < m->nlin; i++) {
                tensor_name(name, sizeof name, i, "weight");
                known |= strcmp(st->tensors[k].name, name) == 0;
                tensor_name(name, sizeof name, i, "bias");
                known |= strcmp(st->tensors[k].name, name) == 0;
            }
            if (!known)
                rc = dode_fail(err, errlen, DODE_EFORMAT, "cannot load %s: unexpected tensor "
                               "\"%s\" for an mlp with %zu Linear layers", source,
                               st->tensors[k].name, m->nlin);
        }
    }
    if (rc != DODE_OK) {
        dode_mlp_free(m);
        return NULL;
    }
    return m;
}

dode_mlp *dode_mlp_read(const char *path, char *err, size_t errlen)
{
    dode_safetensors *st = NULL;
    if (dode_safetensors_read(path, &st, err, errlen) != DODE_OK)
        return NULL;
    dode_mlp *m = dode_mlp_from_safetensors(st, path, err, errlen);
    dode_safetensors_free(st);
    return m;
}

/* --- as a dode_model --- */

typedef struct {
    dode_mlp *mlp;
    dode_schedule *train;          /* the schedule the labels come from */
    char name[48];
} mlp_state;

/* The model's workspace (model.h): the network's for cap rows and their labels. */
typedef struct {
    dode_mlp_work *work;
    double *label;                 /* [work->cap] */
} mlp_ws;

static void mlp_model_free(dode_model *m)
{
    mlp_state *s = m->state;
    dode_mlp_free(s->mlp);
    dode_schedule_free(s->train);
    free(s);
    free(m);
}

static void mlp_workspace_free(void *ws)
{
    mlp_ws *w = ws;
    if (w == NULL)
        return;
    dode_mlp_work_free(w->work);
    free(w->label);
    free(w);
}

static void *mlp_workspace_new(const dode_model *m, size_t n)
{
    const mlp_state *s = m->state;
    mlp_ws *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->work = dode_mlp_work_new(s->mlp, n, NULL, 0);
    w->label = n <= (size_t)-1 / sizeof(double) ? malloc(n * sizeof *w->label) : NULL;
    if (w->work == NULL || w->label == NULL) {
        mlp_workspace_free(w);
        return NULL;
    }
    return w;
}

/* The label comes from sigma through the training schedule, not from the caller's t. */
static int mlp_eps(const dode_model *m, void *ws, size_t n, const double *x, double t,
                   double sigma, double *out)
{
    (void)t;
    const mlp_state *s = m->state;
    mlp_ws *w = ws;
    if (n > w->work->cap)
        return DODE_EINVAL;
    const double l = dode_schedule_model_time(s->train, dode_schedule_t(s->train, sigma));
    for (size_t i = 0; i < n; i++)
        w->label[i] = l;
    return dode_mlp_forward(s->mlp, w->work, n, x, w->label, out);
}

dode_model *dode_mlp_model(dode_mlp *mlp, char *err, size_t errlen)
{
    if (mlp == NULL) {
        dode_fail(err, errlen, DODE_EINVAL, "mlp model: NULL network");
        return NULL;
    }
    mlp_state *s = calloc(1, sizeof *s);
    dode_model *m = calloc(1, sizeof *m);
    char why[256] = "out of memory";
    if (s != NULL)
        s->train = dode_schedule_new(mlp->arch.schedule, why, sizeof why);
    if (s == NULL || m == NULL || s->train == NULL) {
        dode_fail(err, errlen, DODE_EINVAL, "mlp model: %s", why);
        if (s != NULL)
            dode_schedule_free(s->train);
        free(s);
        free(m);
        dode_mlp_free(mlp);
        return NULL;
    }
    s->mlp = mlp;
    snprintf(s->name, sizeof s->name, "mlp");
    *m = (dode_model){ .name = s->name, .dim = mlp->arch.dim,
                       .prediction = mlp->arch.prediction, .eps = mlp_eps,
                       .workspace_new = mlp_workspace_new,
                       .workspace_free = mlp_workspace_free, .free = mlp_model_free, .state = s };
    return dode_model_as_eps(m, err, errlen);
}

dode_model *dode_mlp_load(const char *path, char *err, size_t errlen)
{
    dode_mlp *mlp = dode_mlp_read(path, err, errlen);
    return mlp != NULL ? dode_mlp_model(mlp, err, errlen) : NULL;
}
