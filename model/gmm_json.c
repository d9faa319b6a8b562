/* gmm_json.c - GMM specs from JSON (DESIGN.md file formats):
 *   {"weights": [K], "means": [K][dim], and exactly one of
 *    "stds": [K] (isotropic) | "diag_stds": [K][dim] | "covs": [K][dim][dim] (full),
 *    optionally "comment": any text, "normalize": true,
 *    "classes": [K] integer class labels in [0, DODE_GMM_MAX_CLASSES), several components
 *    per class allowed (guided sampling, docs/guidance.md)}
 * The weights must sum to 1 within 1e-9 (a typo such as [5, 7] is refused with its sum),
 * unless "normalize": true asks for them to be divided by their sum.
 * Every message starts "cannot read SOURCE: " and names the key and entry that is wrong;
 * the values themselves are then checked again by dode_gmm_new (SPD covariances etc.). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/fileio.h"
#include "diffode/limits.h"
#include "diffode/model.h"
#include "diffode/status.h"

enum { MAX_K = DODE_MAX_COMPONENTS, MAX_DIM = DODE_MAX_DIM };   /* limits.h */
/* cJSON builds the whole tree before any key is checked, at about 64 bytes a value (a
 * 48 MB file of zeros took 1.93 GB, issue 18), so the text is bounded before parsing: at
 * most MAX_VALUES = 2^22 JSON values (4,194,304 numbers: diagonal mixtures of 2,600
 * components in 784 dimensions, full covariances of 64 components in 256; a tree of at
 * most 256 MiB) in at most MAX_FILE = 64 MiB (16 bytes a number). */
static const size_t MAX_FILE = (size_t)64 << 20;
static const size_t MAX_VALUES = (size_t)1 << 22;

/* What the readers below share: the source name for messages and the caller's buffer. */
typedef struct {
    const char *src;
    char *err;
    size_t errlen;
} json_ctx;

/* Reads a JSON array of exactly `expected` numbers (any length >= 1 if expected == 0,
 * then *count gets it) into out (NULL: count only). positive: each must be > 0. */
static int read_numbers(const json_ctx *c, const cJSON *arr, const char *what, size_t expected,
                        int positive, double *out, size_t *count)
{
    if (!cJSON_IsArray(arr))
        return dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: %s must be an "
                         "array of numbers", c->src, what);
    const size_t len = (size_t)cJSON_GetArraySize(arr);
    if ((expected != 0 && len != expected) || len == 0)
        return dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: %s has %zu entries, "
                         "expected %s%zu", c->src, what, len, expected ? "" : "at least ",
                         expected ? expected : 1);
    size_t i = 0;
    for (const cJSON *e = arr->child; e != NULL; e = e->next, i++) {
        if (!cJSON_IsNumber(e))
            return dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: %s[%zu] is not "
                             "a number", c->src, what, i);
        if (!isfinite(e->valuedouble) || (positive && !(e->valuedouble > 0)))
            return dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: %s[%zu] = %g "
                             "must be %s", c->src, what, i, e->valuedouble,
                             positive ? "finite and > 0" : "finite");
        if (out != NULL)
            out[i] = e->valuedouble;
    }
    if (count != NULL)
        *count = len;
    return DODE_OK;
}

/* An array of `rows` arrays of `cols` numbers each (cols == 0: taken from the first row,
 * returned in *cols_out); out gets them row-major. */
static int read_matrix(const json_ctx *c, const cJSON *arr, const char *what, size_t rows,
                       size_t cols, int positive, double *out, size_t *cols_out)
{
    char name[96];
    if (!cJSON_IsArray(arr))
        return dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: %s must be an "
                         "array of arrays", c->src, what);
    const size_t len = (size_t)cJSON_GetArraySize(arr);
    if (len != rows)
        return dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: %s has %zu entries, "
                         "expected %zu", c->src, what, len, rows);
    size_t i = 0;
    for (const cJSON *e = arr->child; e != NULL; e = e->next, i++) {
        snprintf(name, sizeof name, "%s[%zu]", what, i);
        if (cols == 0) {
            int rc = read_numbers(c, e, name, 0, positive, NULL, &cols);
            if (rc == DODE_OK && cols > MAX_DIM)
                rc = dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: %s has %zu "
                               "entries, more than the limit dim <= %d", c->src, name, cols, MAX_DIM);
            if (rc != DODE_OK)
                return rc;
            *cols_out = cols;
            if (out == NULL)
                return DODE_OK;   /* only the width was asked for */
        }
        int rc = read_numbers(c, e, name, cols, positive, out + i * cols, NULL);
        if (rc != DODE_OK)
            return rc;
    }
    return DODE_OK;
}

/* The top-level keys: only the known ones, each at most once, exactly one covariance;
 * *normalize from the optional "normalize" (a JSON boolean). */
static int check_keys(const json_ctx *c, const cJSON *root, const cJSON **cov, int *kind,
                      int *normalize)
{
    enum { WEIGHTS, MEANS, STDS, DIAG_STDS, COVS, COMMENT, NORMALIZE, CLASSES, NKEYS };
    static const char *const keys[NKEYS] = { "weights", "means", "stds", "diag_stds", "covs",
                                             "comment", "normalize", "classes" };
    if (!cJSON_IsObject(root))
        return dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: the top level must "
                         "be an object {\"weights\": .., \"means\": .., \"stds\": ..}", c->src);
    int seen[NKEYS] = { 0 };
    for (const cJSON *e = root->child; e != NULL; e = e->next) {
        int k = 0;
        while (k < NKEYS && strcmp(e->string, keys[k]) != 0)
            k++;
        if (k == NKEYS)
            return dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: unknown key "
                             "\"%s\" (expected weights, means, one of stds, diag_stds, covs, "
                             "and optionally comment, normalize, classes)", c->src, e->string);
        if (seen[k]++)
            return dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: key \"%s\" "
                             "appears twice", c->src, keys[k]);
        if (k == NORMALIZE && !cJSON_IsBool(e))
            return dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: \"normalize\" "
                             "must be true or false", c->src);
        *normalize |= k == NORMALIZE && cJSON_IsTrue(e);
        if (k >= STDS && k <= COVS) {
            if (*cov != NULL)
                return dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: both \"%s\" "
                                 "and \"%s\" given; use exactly one covariance key", c->src,
                                 (*cov)->string, keys[k]);
            *cov = e;
            *kind = k - STDS;
        }
    }
    for (int k = WEIGHTS; k <= MEANS; k++)
        if (!seen[k])
            return dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: missing key "
                             "\"%s\"", c->src, keys[k]);
    if (*cov == NULL)
        return dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: missing covariance: "
                         "give one of \"stds\", \"diag_stds\", \"covs\"", c->src);
    return DODE_OK;
}

/* The weights sum to 1 within 1e-9 (rounding of a hand-written list such as thirds), or
 * "normalize": true says they are to be divided by their sum (dode_gmm_new does that). */
static int check_weight_sum(const json_ctx *c, const double *w, size_t K, int normalize)
{
    double sum = 0;
    for (size_t k = 0; k < K; k++)
        sum += w[k];
    if (normalize || !(fabs(sum - 1.0) > 1e-9))
        return DODE_OK;
    return dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: \"weights\" sum to "
                     "%.12g, not 1 (within 1e-9); fix them or add \"normalize\": true",
                     c->src, sum);
}

/* "classes": K integers in [0, DODE_GMM_MAX_CLASSES) (JSON numbers with no fraction). */
static int read_classes(const json_ctx *c, const cJSON *arr, size_t K, int *out)
{
    if (!cJSON_IsArray(arr) || (size_t)cJSON_GetArraySize(arr) != K)
        return dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: \"classes\" must be "
                         "an array of %zu integer labels (one per component), has %d entries",
                         c->src, K, cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0);
    size_t k = 0;
    for (const cJSON *e = arr->child; e != NULL; e = e->next, k++) {
        const double v = cJSON_IsNumber(e) ? e->valuedouble : NAN;
        if (!(v >= 0 && v < DODE_GMM_MAX_CLASSES && v == floor(v)))
            return dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: \"classes\"[%zu]"
                             " must be an integer in [0, %d)", c->src, k, DODE_GMM_MAX_CLASSES);
        out[k] = (int)v;
    }
    return DODE_OK;
}

/* "covs": K arrays of dim arrays of dim numbers. */
static int read_covs(const json_ctx *c, const cJSON *arr, size_t K, size_t dim, double *out)
{
    char name[64];
    if (!cJSON_IsArray(arr) || (size_t)cJSON_GetArraySize(arr) != K)
        return dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: \"covs\" must be an "
                         "array of %zu matrices, has %d entries", c->src, K,
                         cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0);
    size_t k = 0;
    for (const cJSON *e = arr->child; e != NULL; e = e->next, k++) {
        snprintf(name, sizeof name, "\"covs\"[%zu]", k);
        int rc = read_matrix(c, e, name, dim, dim, 0, out + k * dim * dim, NULL);
        if (rc != DODE_OK)
            return rc;
    }
    return DODE_OK;
}

/* Reads sizes and arrays, then builds the model; *m gets it. Arrays live in *block. */
static int read_gmm(const json_ctx *c, const cJSON *root, double **block, dode_model **m)
{
    static const char *const kinds[] = { "isotropic", "diagonal", "full" };
    const cJSON *cov = NULL, *w = cJSON_GetObjectItemCaseSensitive(root, "weights");
    const cJSON *mu = cJSON_GetObjectItemCaseSensitive(root, "means");
    int kind = 0, normalize = 0, rc = check_keys(c, root, &cov, &kind, &normalize);
    size_t K = 0, dim = 0, kd, ncov;
    if (rc == DODE_OK)
        rc = read_numbers(c, w, "\"weights\"", 0, 1, NULL, &K);
    if (rc == DODE_OK && K > MAX_K)
        rc = dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: \"weights\" has %zu "
                       "entries, more than the limit K <= %d", c->src, K, MAX_K);
    if (rc == DODE_OK)
        rc = read_matrix(c, mu, "\"means\"", K, 0, 0, NULL, &dim);
    if (rc != DODE_OK)
        return rc;
    /* ncov: K stds, K dim diagonal stds or K dim^2 covariance entries */
    if (dode_mul_size(K, dim, &kd) != DODE_OK
        || dode_mul_size(kd, kind == 2 ? dim : 1, &ncov) != DODE_OK
        || kd + ncov > ((size_t)1 << 31) / sizeof(double))
        return dode_fail(c->err, c->errlen, DODE_ENOMEM, "cannot read %s: K = %zu by dim = %zu "
                         "is too large", c->src, K, dim);
    ncov = kind == 0 ? K : ncov;
    if ((*block = malloc((K + kd + ncov) * sizeof **block)) == NULL)
        return dode_fail(c->err, c->errlen, DODE_ENOMEM, "cannot read %s: out of memory for "
                         "K = %zu, dim = %zu", c->src, K, dim);
    double *wv = *block, *mv = wv + K, *cv = mv + kd;
    rc = read_numbers(c, w, "\"weights\"", K, 1, wv, NULL);
    if (rc == DODE_OK)
        rc = check_weight_sum(c, wv, K, normalize);
    if (rc == DODE_OK)
        rc = read_matrix(c, mu, "\"means\"", K, dim, 0, mv, NULL);
    if (rc == DODE_OK)
        rc = kind == 0 ? read_numbers(c, cov, "\"stds\"", K, 1, cv, NULL)
           : kind == 1 ? read_matrix(c, cov, "\"diag_stds\"", K, dim, 1, cv, NULL)
           : read_covs(c, cov, K, dim, cv);
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(root, "classes");
    int *labels = NULL;
    if (rc == DODE_OK && cls != NULL && (labels = malloc(K * sizeof *labels)) == NULL)
        rc = dode_fail(c->err, c->errlen, DODE_ENOMEM, "cannot read %s: out of memory for "
                       "%zu class labels", c->src, K);
    if (rc == DODE_OK && cls != NULL)
        rc = read_classes(c, cls, K, labels);
    if (rc != DODE_OK) {
        free(labels);
        return rc;
    }
    char why[400];
    *m = dode_gmm_new_labeled(K, dim, wv, mv, kinds[kind], cv, labels, why, sizeof why);
    free(labels);
    if (*m == NULL)
        return dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: %s", c->src,
                         strncmp(why, "gmm model: ", 11) == 0 ? why + 11 : why);
    return DODE_OK;
}

/* "line L: JSON syntax error near '...'" from the parser's stop position; the excerpt is
 * up to 20 characters of that line before the position and 10 after (cJSON often stops
 * just past the offending token). */
static void syntax_error(const json_ctx *c, const char *json, const char *at)
{
    size_t line = 1, len = 0;
    const char *from = json;
    char near[32];
    if (at == NULL)
        at = json;
    for (const char *p = json; p < at; p++)
        if (*p == '\n')
            line++, from = p + 1;
    if (at - from > 20)
        from = at - 20;
    for (const char *p = from; *p != '\0' && *p != '\n' && p < at + 10; p++)
        near[len++] = *p;
    near[len] = '\0';
    dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: line %zu: JSON syntax error "
              "near '%s'%s", c->src, line, near, *at == '\0' ? " (at the end of the text)" : "");
}

/* The parse's cost, checked before cJSON allocates anything: the text's length, its count
 * of values (commas and opening brackets outside strings, plus one), and room for their
 * tree (allocated once and freed, so that out of memory is reported as such and not as
 * cJSON's NULL, which reads as a syntax error). */
static int json_cost(const json_ctx *c, const char *json)
{
    size_t len = 0, values = 1;
    for (int in_str = 0; json[len] != '\0'; len++) {
        const char ch = json[len];
        if (in_str && ch == '\\' && json[len + 1] != '\0')
            len++;
        else if (ch == '"')
            in_str = !in_str;
        else if (!in_str)
            values += ch == ',' || ch == '[' || ch == '{';
    }
    if (len > MAX_FILE)
        return dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: %zu bytes of JSON, "
                         "above the limit of %zu (64 MiB)", c->src, len, MAX_FILE);
    if (values > MAX_VALUES)
        return dode_fail(c->err, c->errlen, DODE_EFORMAT, "cannot read %s: about %zu JSON "
                         "values, above the limit of %zu (2^22) a mixture may have", c->src,
                         values, MAX_VALUES);
    void *room = malloc(values * sizeof(cJSON) + len);
    if (room == NULL)
        return dode_fail(c->err, c->errlen, DODE_ENOMEM, "cannot read %s: out of memory for "
                         "the JSON tree of %zu values (%zu MiB)", c->src, values,
                         (values * sizeof(cJSON) + len) >> 20);
    free(room);
    return DODE_OK;
}

dode_model *dode_gmm_from_json_string(const char *json, const char *source_name,
                                      char *err, size_t errlen)
{
    const json_ctx c = { .src = source_name != NULL ? source_name : "(string)",
                         .err = err, .errlen = errlen };
    if (json == NULL) {
        dode_fail(err, errlen, DODE_EINVAL, "cannot read %s: no JSON text (NULL)", c.src);
        return NULL;
    }
    if (json_cost(&c, json) != DODE_OK)
        return NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (root == NULL) {
        syntax_error(&c, json, end);
        return NULL;
    }
    double *block = NULL;
    dode_model *m = NULL;
    read_gmm(&c, root, &block, &m);
    free(block);
    cJSON_Delete(root);
    return m;
}

dode_model *dode_gmm_from_json(const char *path, char *err, size_t errlen)
{
    if (path == NULL) {
        dode_fail(err, errlen, DODE_EINVAL, "cannot read gmm spec: path is NULL");
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;         /* a regular file of at most MAX_FILE bytes (fileio.h) */
    if (dode_file_read(path, MAX_FILE, &text, &len, err, errlen) != DODE_OK)
        return NULL;
    dode_model *m = dode_gmm_from_json_string(text, path, err, errlen);
    free(text);
    return m;
}
