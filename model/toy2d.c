/* toy2d.c - training data sources (data.h): the 2-D toys of FFJORD's toy_data.py
 * (checkerboard, two moons, swiss roll), exact draws from a GMM spec, and rows of an array.
 *
 * Invariant: a dode_data is immutable once opened; all randomness comes from the caller's
 * gsl_rng, so the same seed gives the same stream. A GMM spec is validated by the GMM
 * model's own JSON reader (same messages), then its factors are kept here: per component
 * the mean and a lower-triangular L with L L^T = covariance (x = mu + L z). */
#include <cjson/cJSON.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/data.h"
#include "diffode/fileio.h"
#include "diffode/io.h"
#include "diffode/model.h"
#include "diffode/status.h"
#include "gsl_quiet.h"

typedef enum { SRC_TOY, SRC_GMM, SRC_ROWS } src_kind;
typedef enum { TOY_CHECKERBOARD, TOY_MOONS, TOY_SWISSROLL } toy_kind;

static const char *const toy_names[] = { "checkerboard", "moons", "swissroll" };

struct dode_data {
    src_kind kind;
    char *name;
    size_t dim;
    toy_kind toy;
    size_t K;            /* gmm: components */
    double *cumw;        /* [K] cumulative normalised weights */
    double *mean;        /* [K][dim] */
    double *chol;        /* [K][dim][dim] lower factors */
    size_t rows;         /* rows: count */
    double *x;           /* rows: [rows][dim] */
};

static void checkerboard(gsl_rng *rng, double *x)
{
    const double x1 = gsl_rng_uniform(rng) * 4 - 2;
    const double x2 = gsl_rng_uniform(rng) - 2.0 * (double)gsl_rng_uniform_int(rng, 2);
    x[0] = 2 * x1;
    x[1] = 2 * (x2 + (double)((long)floor(x1) & 1));   /* numpy's floor(x1) % 2 */
}

static void moons(gsl_rng *rng, double *x)
{
    const double th = M_PI * gsl_rng_uniform(rng);
    const int inner = (int)gsl_rng_uniform_int(rng, 2);
    const double u = inner ? 1 - cos(th) : cos(th), v = inner ? 0.5 - sin(th) : sin(th);
    x[0] = 2 * (u + gsl_ran_gaussian_ziggurat(rng, 0.1)) - 1.0;
    x[1] = 2 * (v + gsl_ran_gaussian_ziggurat(rng, 0.1)) - 0.2;
}

static void swissroll(gsl_rng *rng, double *x)
{
    const double t = 1.5 * M_PI * (1 + 2 * gsl_rng_uniform(rng));
    x[0] = (t * cos(t) + gsl_ran_gaussian_ziggurat(rng, 1.0)) / 5;
    x[1] = (t * sin(t) + gsl_ran_gaussian_ziggurat(rng, 1.0)) / 5;
}

static int toy_find(const char *name, toy_kind *out, char *err, size_t errlen)
{
    for (size_t k = 0; k < sizeof toy_names / sizeof toy_names[0]; k++)
        if (name != NULL && strcmp(name, toy_names[k]) == 0) {
            *out = (toy_kind)k;
            return DODE_OK;
        }
    return dode_fail(err, errlen, DODE_ENOTFOUND, "unknown toy data set \"%.40s\" (known: "
                     "checkerboard, moons, swissroll)", name != NULL ? name : "");
}

static void toy_draw(toy_kind toy, gsl_rng *rng, size_t n, double *x)
{
    for (size_t i = 0; i < n; i++) {
        if (toy == TOY_CHECKERBOARD)
            checkerboard(rng, x + 2 * i);
        else if (toy == TOY_MOONS)
            moons(rng, x + 2 * i);
        else
            swissroll(rng, x + 2 * i);
    }
}

int dode_toy_sample(const char *name, gsl_rng *rng, size_t n, double *x, char *err,
                    size_t errlen)
{
    toy_kind toy;
    const int rc = toy_find(name, &toy, err, errlen);
    if (rc == DODE_OK)
        toy_draw(toy, rng, n, x);
    return rc;
}

void dode_data_free(dode_data *d)
{
    if (d == NULL)
        return;
    free(d->name);
    free(d->cumw);
    free(d->mean);
    free(d->chol);
    free(d->x);
    free(d);
}

size_t dode_data_dim(const dode_data *d) { return d->dim; }
const char *dode_data_name(const dode_data *d) { return d->name; }

static dode_data *data_alloc(src_kind kind, const char *name)
{
    dode_data *d = calloc(1, sizeof *d);
    const size_t len = strlen(name) + 1;
    if (d != NULL && (d->name = malloc(len)) != NULL) {
        memcpy(d->name, name, len);
        d->kind = kind;
        return d;
    }
    free(d);
    return NULL;
}

/* x = mu_k + L_k z, with z drawn into x itself: row j of L z needs z_0..z_j only, so the
 * rows are formed from the last one up. */
static void gmm_draw(const dode_data *d, gsl_rng *rng, double *x)
{
    const double u = gsl_rng_uniform(rng);
    size_t k = 0;
    while (k + 1 < d->K && u >= d->cumw[k])
        k++;
    const size_t D = d->dim;
    const double *L = d->chol + k * D * D;
    for (size_t j = 0; j < D; j++)
        x[j] = gsl_ran_gaussian_ziggurat(rng, 1.0);
    for (size_t j = D; j-- > 0;) {
        double s = d->mean[k * D + j];
        for (size_t l = 0; l <= j; l++)
            s += L[j * D + l] * x[l];
        x[j] = s;
    }
}

void dode_data_sample(const dode_data *d, gsl_rng *rng, size_t n, double *x)
{
    dode_gsl_quiet();    /* gsl_rng_uniform_int reports a bad range through the handler */
    for (size_t i = 0; i < n; i++) {
        if (d->kind == SRC_TOY)
            toy_draw(d->toy, rng, 1, x + i * d->dim);
        else if (d->kind == SRC_GMM)
            gmm_draw(d, rng, x + i * d->dim);
        else
            memcpy(x + i * d->dim, d->x + gsl_rng_uniform_int(rng, d->rows) * d->dim,
                   d->dim * sizeof *x);
    }
}

dode_data *dode_data_from_rows(const double *x, size_t rows, size_t cols, const char *name,
                               char *err, size_t errlen)
{
    size_t len;
    if (x == NULL || rows == 0 || cols == 0 || rows > 0xffffffffUL ||
        dode_mul_size(rows, cols, &len) != DODE_OK) {
        dode_fail(err, errlen, DODE_EINVAL, "data %s: need a non-empty array of at most "
                  "2^32 rows", name != NULL ? name : "rows");
        return NULL;
    }
    dode_data *d = data_alloc(SRC_ROWS, name != NULL ? name : "rows");
    if (d != NULL && (d->x = malloc(len * sizeof *d->x)) != NULL) {
        memcpy(d->x, x, len * sizeof *d->x);
        d->rows = rows;
        d->dim = cols;
        return d;
    }
    dode_data_free(d);
    dode_fail(err, errlen, DODE_ENOMEM, "data %s: out of memory", name != NULL ? name : "rows");
    return NULL;
}

/* Factor of one component from the (already validated) spec: L with L L^T = S_k. */
static int gmm_factor(dode_data *d, size_t k, const cJSON *root, const char *src,
                      char *err, size_t errlen)
{
    const size_t D = d->dim;
    double *L = d->chol + k * D * D;
    const cJSON *stds = cJSON_GetObjectItemCaseSensitive(root, "stds");
    const cJSON *diag = cJSON_GetObjectItemCaseSensitive(root, "diag_stds");
    const cJSON *covs = cJSON_GetObjectItemCaseSensitive(root, "covs");
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j < D; j++) {
            double v = 0;
            if (stds != NULL)
                v = i == j ? cJSON_GetArrayItem(stds, (int)k)->valuedouble : 0;
            else if (diag != NULL)
                v = i == j ? cJSON_GetArrayItem(cJSON_GetArrayItem(diag, (int)k), (int)i)
                             ->valuedouble : 0;
            else if (covs != NULL)
                v = cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetArrayItem(covs, (int)k),
                                                          (int)i), (int)j)->valuedouble;
            L[i * D + j] = v;
        }
    if (covs == NULL)
        return DODE_OK;
    gsl_matrix_view m = gsl_matrix_view_array(L, D, D);
    if (gsl_linalg_cholesky_decomp1(&m.matrix) != GSL_SUCCESS)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: covs[%zu] is not "
                         "positive definite", src, k);
    for (size_t i = 0; i < D; i++)
        for (size_t j = i + 1; j < D; j++)
            L[i * D + j] = 0;
    return DODE_OK;
}

static int gmm_fill(dode_data *d, const cJSON *root, const char *src, char *err,
                    size_t errlen)
{
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(root, "weights");
    const cJSON *mu = cJSON_GetObjectItemCaseSensitive(root, "means");
    d->K = (size_t)cJSON_GetArraySize(w);
    d->dim = (size_t)cJSON_GetArraySize(cJSON_GetArrayItem(mu, 0));
    d->cumw = malloc(d->K * sizeof *d->cumw);
    d->mean = malloc(d->K * d->dim * sizeof *d->mean);
    d->chol = malloc(d->K * d->dim * d->dim * sizeof *d->chol);
    if (d->cumw == NULL || d->mean == NULL || d->chol == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot read %s: out of memory", src);
    double total = 0;
    for (size_t k = 0; k < d->K; k++) {
        total += cJSON_GetArrayItem(w, (int)k)->valuedouble;
        d->cumw[k] = total;
        for (size_t j = 0; j < d->dim; j++)
            d->mean[k * d->dim + j] =
                cJSON_GetArrayItem(cJSON_GetArrayItem(mu, (int)k), (int)j)->valuedouble;
        const int rc = gmm_factor(d, k, root, src, err, errlen);
        if (rc != DODE_OK)
            return rc;
    }
    for (size_t k = 0; k < d->K; k++)
        d->cumw[k] /= total;
    return DODE_OK;
}

dode_data *dode_data_gmm_json_string(const char *json, const char *source, char *err,
                                     size_t errlen)
{
    const char *src = source != NULL ? source : "gmm spec";
    dode_gsl_quiet();    /* gmm_factor's Cholesky */
    dode_model *check = dode_gmm_from_json_string(json, src, err, errlen);
    if (check == NULL)            /* the GMM reader's own checks and messages */
        return NULL;
    dode_model_free(check);
    cJSON *root = cJSON_Parse(json);
    dode_data *d = data_alloc(SRC_GMM, src);
    int rc = root != NULL && d != NULL ? DODE_OK
             : dode_fail(err, errlen, DODE_ENOMEM, "cannot read %s: out of memory", src);
    if (rc == DODE_OK)
        rc = gmm_fill(d, root, src, err, errlen);
    cJSON_Delete(root);
    if (rc != DODE_OK) {
        dode_data_free(d);
        return NULL;
    }
    return d;
}

/* A regular file of at most 64 MiB (fileio.h: not a FIFO, not /dev/zero), as the GMM JSON
 * reader takes. */
static int read_text(const char *path, char **out, char *err, size_t errlen)
{
    size_t len = 0;
    return dode_file_read(path, (size_t)64 << 20, out, &len, err, errlen);
}

static int open_toy(const char *spec, dode_data **out, char *err, size_t errlen)
{
    toy_kind toy;
    int rc = toy_find(spec + 4, &toy, err, errlen);
    if (rc != DODE_OK)
        return rc;
    dode_data *d = data_alloc(SRC_TOY, spec);
    if (d == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "data %s: out of memory", spec);
    d->toy = toy;
    d->dim = 2;
    *out = d;
    return DODE_OK;
}

/* The file's problems are EFORMAT (its content) or EIO (cannot read it). */
static int open_gmm(const char *path, dode_data **out, char *err, size_t errlen)
{
    char *text = NULL;
    int rc = read_text(path, &text, err, errlen);
    if (rc != DODE_OK)
        return rc;
    dode_data *d = dode_data_gmm_json_string(text, path, err, errlen);
    free(text);
    if (d == NULL)
        return DODE_EFORMAT;
    *out = d;
    return DODE_OK;
}

static int open_npy(const char *path, dode_data **out, char *err, size_t errlen)
{
    double *x = NULL;
    size_t rows = 0, cols = 0;
    int rc = dode_npy_read(path, &x, &rows, &cols, err, errlen);
    if (rc != DODE_OK)
        return rc;
    dode_data *d = dode_data_from_rows(x, rows, cols, path, err, errlen);
    free(x);
    if (d == NULL)
        return DODE_EFORMAT;
    *out = d;
    return DODE_OK;
}

int dode_data_open(const char *spec, dode_data **out, char *err, size_t errlen)
{
    if (spec == NULL || out == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "data: NULL argument");
    if (strncmp(spec, "toy:", 4) == 0)
        return open_toy(spec, out, err, errlen);
    if (strncmp(spec, "gmm:", 4) == 0)
        return open_gmm(spec + 4, out, err, errlen);
    if (strncmp(spec, "npy:", 4) == 0)
        return open_npy(spec + 4, out, err, errlen);
    return dode_fail(err, errlen, DODE_ENOTFOUND, "unknown data source \"%.60s\" (expected "
                     "gmm:FILE.json, toy:checkerboard|moons|swissroll or npy:FILE.npy)", spec);
}
