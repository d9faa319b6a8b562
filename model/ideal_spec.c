/* ideal_spec.c - the "ideal:" model spec (spec.h's dode_ideal_make): which data set, which
 * subset. fashion-mnist is read from Debian's dataset-fashion-mnist (DODE_FASHION_MNIST_DIR);
 * a file ending in .npy is read as rows; any other file as IDX (plain or gzip). */
#include <gsl/gsl_rng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/ideal.h"
#include "diffode/idx.h"
#include "diffode/io.h"
#include "diffode/spec.h"
#include "diffode/status.h"
#include "gsl_quiet.h"

/* The spec's parts: the source (the text before the first comma) and its keys. */
typedef struct {
    char *source;
    size_t n;                 /* 0: every point */
    unsigned long seed;
    int has_seed;
    const char *split;        /* fashion-mnist only: "train" or "t10k" */
} ideal_args;

/* One key=value; item is cut at '=' in place. */
static int ideal_key(ideal_args *a, char *item, const char *spec, char *err, size_t errlen)
{
    char *eq = strchr(item, '=');
    size_t v = 0;
    if (eq == NULL || eq == item)
        return dode_fail(err, errlen, DODE_EINVAL, "model '%s': '%s' is not key=value", spec,
                         item);
    *eq = '\0';
    const char *key = item, *value = eq + 1;
    if (strcmp(key, "n") == 0 || strcmp(key, "seed") == 0) {
        if (dode_spec_whole(value, &v) != 0 || (key[0] == 'n' && v == 0))
            return dode_fail(err, errlen, DODE_EINVAL, "model '%s': %s = '%s' is not a whole "
                             "number%s", spec, key, value, key[0] == 'n' ? " >= 1" : "");
        if (key[0] == 'n')
            a->n = v;
        else {
            a->seed = (unsigned long)v;
            a->has_seed = 1;
        }
    } else if (strcmp(key, "split") == 0) {
        if (strcmp(value, "train") != 0 && strcmp(value, "t10k") != 0)
            return dode_fail(err, errlen, DODE_EINVAL, "model '%s': split = '%s' is not train "
                             "or t10k", spec, value);
        a->split = strcmp(value, "train") == 0 ? "train" : "t10k";
    } else {
        return dode_fail(err, errlen, DODE_ENOTFOUND, "model '%s': unknown key '%s' (ideal "
                         "takes n, seed, split)", spec, key);
    }
    return DODE_OK;
}

/* "SOURCE[,k=v...]" into a; a->source is malloc'ed (the caller frees it). */
static int ideal_parse(const char *arg, const char *spec, ideal_args *a, char *err,
                       size_t errlen)
{
    char *copy = strdup(arg);
    if (copy == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "model '%s': out of memory", spec);
    a->source = copy;
    char *comma = strchr(copy, ',');
    if (comma != NULL)
        *comma = '\0';
    if (*copy == '\0')
        return dode_fail(err, errlen, DODE_EINVAL, "model '%s': ideal needs a data set, as in "
                         "ideal:fashion-mnist,n=2000 or ideal:FILE.idx.gz", spec);
    int rc = DODE_OK;
    for (char *item = comma != NULL ? comma + 1 : NULL; rc == DODE_OK && item != NULL;) {
        char *next = strchr(item, ',');
        if (next != NULL)
            *next++ = '\0';
        rc = ideal_key(a, item, spec, err, errlen);
        item = next;
    }
    if (rc == DODE_OK && a->split != NULL && strcmp(a->source, "fashion-mnist") != 0)
        rc = dode_fail(err, errlen, DODE_EINVAL, "model '%s': split is for fashion-mnist only",
                       spec);
    return rc;
}

/* Keeps a->n of the rows of x (first n, or a seeded subset in order as idx.h's). */
static int npy_subset(const ideal_args *a, double *x, size_t *rows, size_t cols,
                      const char *spec, char *err, size_t errlen)
{
    if (a->n == 0)
        return DODE_OK;
    if (a->n > *rows)
        return dode_fail(err, errlen, DODE_EINVAL, "model '%s': n = %zu, but %s holds %zu rows",
                         spec, a->n, a->source, *rows);
    gsl_rng *rng = a->has_seed ? gsl_rng_alloc(gsl_rng_mt19937) : NULL;
    if (a->has_seed && rng == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "model '%s': out of memory", spec);
    if (rng != NULL)
        gsl_rng_set(rng, a->seed);
    size_t kept = 0;
    for (size_t i = 0; kept < a->n; i++) {      /* selection sampling, as idx.c */
        if (rng != NULL && !((double)(*rows - i) * gsl_rng_uniform(rng) < (double)(a->n - kept)))
            continue;
        memmove(x + kept++ * cols, x + i * cols, cols * sizeof *x);
    }
    gsl_rng_free(rng);
    *rows = a->n;
    return DODE_OK;
}

/* The points of the parsed spec: [*rows][*cols], malloc'ed. */
static int ideal_load(const ideal_args *a, const char *spec, double **x, size_t *rows,
                      size_t *cols, char *err, size_t errlen)
{
    const size_t len = strlen(a->source);
    if (len > 4 && strcmp(a->source + len - 4, ".npy") == 0) {
        int rc = dode_npy_read(a->source, x, rows, cols, err, errlen);
        if (rc == DODE_OK && (rc = npy_subset(a, *x, rows, *cols, spec, err, errlen)) != DODE_OK)
            free(*x);
        return rc;
    }
    char path[4096];
    if (strcmp(a->source, "fashion-mnist") == 0)
        snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", DODE_FASHION_MNIST_DIR,
                 a->split != NULL ? a->split : "train");
    else
        snprintf(path, sizeof path, "%s", a->source);
    dode_idx_opts o;
    dode_idx_opts_init(&o);
    o.subset = a->n;
    o.random = a->has_seed;
    o.seed = a->seed;
    int rc = dode_idx_read(path, &o, x, rows, cols, NULL, NULL, err, errlen);
    if (rc == DODE_EIO && strcmp(a->source, "fashion-mnist") == 0 && err != NULL
        && strlen(err) + 1 < errlen)
        snprintf(err + strlen(err), errlen - strlen(err), " (install Debian's "
                 "dataset-fashion-mnist)");
    return rc;
}

int dode_ideal_make(const char *arg, const char *spec, dode_model **out, char *err,
                    size_t errlen)
{
    ideal_args a = { 0 };
    double *x = NULL;
    size_t rows = 0, cols = 0;
    dode_gsl_quiet();    /* gsl_rng_alloc reports no memory through the handler */
    if (arg == NULL || spec == NULL || out == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "ideal model spec: NULL argument");
    int rc = ideal_parse(arg, spec, &a, err, errlen);
    if (rc == DODE_OK)
        rc = ideal_load(&a, spec, &x, &rows, &cols, err, errlen);
    free(a.source);
    if (rc != DODE_OK)
        return rc;
    dode_model *m = dode_ideal_new(x, rows, cols, err, errlen);
    free(x);
    if (m == NULL)
        return DODE_EFORMAT;              /* non-finite values: the file's problem */
    *out = m;
    return DODE_OK;
}
