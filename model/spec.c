/* spec.c - the spec strings that name a model or a schedule (spec.h):
 * "gaussian:dim=2,std=0.5", "gmm:FILE.json", "mlp:FILE.safetensors", "ddpm-linear",
 * "betas:FILE.npy"; the "ideal:" kind's reader is ideal_spec.c.
 *
 * Model kinds are rows of one const table; a new kind is a make function and a row, and
 * `diffode list` shows it with no other change. Nothing here prints: every failure is a
 * status and a sentence naming the spec. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diffode/guidance.h"
#include "diffode/io.h"
#include "diffode/mlp.h"
#include "diffode/spec.h"
#include "diffode/status.h"

#define GAUSSIAN_MAX_DIM ((size_t)1 << 20)

int dode_spec_whole(const char *s, size_t *out)
{
    size_t v = 0;
    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > (SIZE_MAX - 9) / 10)
            return -1;
        v = v * 10 + (size_t)(*s - '0');
    }
    *out = v;
    return 0;
}

int dode_spec_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    const double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static const char *const prediction_names[DODE_PRED_COUNT] = { "eps", "x0", "v", "score",
                                                                "flow" };

const char *dode_prediction_name(dode_prediction p)
{
    return (unsigned)p < DODE_PRED_COUNT ? prediction_names[p] : "unknown";
}

int dode_prediction_parse(const char *name, dode_prediction *out, char *err, size_t errlen)
{
    for (int k = 0; k < DODE_PRED_COUNT; k++) {
        if (name != NULL && strcmp(name, prediction_names[k]) == 0) {
            *out = (dode_prediction)k;
            return DODE_OK;
        }
    }
    return dode_fail(err, errlen, DODE_ENOTFOUND, "unknown prediction type '%s' (expected "
                     "eps, x0, v, score or flow)", name != NULL ? name : "(null)");
}

/* The gaussian kind's parameters, as parsed so far. */
typedef struct {
    size_t dim;
    double mean, std;
    dode_prediction predict;
} gaussian_params;

/* One key=value of a gaussian spec. */
static int gaussian_key(gaussian_params *g, const char *key, const char *value,
                        const char *spec, char *err, size_t errlen)
{
    const char *need = NULL;
    if (strcmp(key, "dim") == 0) {
        if (dode_spec_whole(value, &g->dim) != 0 || g->dim == 0 || g->dim > GAUSSIAN_MAX_DIM)
            need = "a whole number from 1 to 1048576";
    } else if (strcmp(key, "mean") == 0) {
        if (dode_spec_number(value, &g->mean) != 0)
            need = "a finite number (broadcast to every dimension)";
    } else if (strcmp(key, "std") == 0) {
        if (dode_spec_number(value, &g->std) != 0 || !(g->std > 0))
            need = "a finite number > 0";
    } else if (strcmp(key, "predict") == 0) {
        if (dode_prediction_parse(value, &g->predict, NULL, 0) != DODE_OK)
            need = "eps, x0, v or score";
    } else {
        return dode_fail(err, errlen, DODE_ENOTFOUND, "model '%s': unknown key '%s' (gaussian "
                         "takes dim, mean, std, predict)", spec, key);
    }
    if (need != NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "model '%s': %s = '%s' is not %s", spec, key,
                         value, need);
    return DODE_OK;
}

/* "k=v,k=v" into g; a copy is cut in place. */
static int gaussian_parse(const char *arg, const char *spec, gaussian_params *g, char *err,
                          size_t errlen)
{
    char *copy = strdup(arg);
    if (copy == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "model '%s': out of memory", spec);
    int rc = DODE_OK;
    for (char *item = copy; rc == DODE_OK && item != NULL && *arg != '\0';) {
        char *comma = strchr(item, ',');
        if (comma != NULL)
            *comma = '\0';
        char *eq = strchr(item, '=');
        if (eq == NULL || eq == item)
            rc = dode_fail(err, errlen, DODE_EINVAL, "model '%s': '%s' is not key=value", spec,
                           item);
        else {
            *eq = '\0';
            rc = gaussian_key(g, item, eq + 1, spec, err, errlen);
        }
        item = comma != NULL ? comma + 1 : NULL;
    }
    free(copy);
    return rc;
}

static int gaussian_make(const char *arg, const char *spec, dode_model **out, char *err,
                         size_t errlen)
{
    gaussian_params g = { .dim = 2, .mean = 0.0, .std = 1.0, .predict = DODE_PRED_EPS };
    int rc = gaussian_parse(arg, spec, &g, err, errlen);
    if (rc != DODE_OK)
        return rc;
    double *mean = malloc(g.dim * sizeof *mean);
    if (mean == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "model '%s': out of memory", spec);
    for (size_t j = 0; j < g.dim; j++)
        mean[j] = g.mean;
    dode_model *m = dode_gaussian_new(g.dim, mean, g.std, g.predict, err, errlen);
    free(mean);
    if (m != NULL && g.predict != DODE_PRED_EPS)
        m = dode_model_as_eps(m, err, errlen);     /* frees the inner model on failure */
    if (m == NULL)
        return DODE_EINVAL;
    *out = m;
    return DODE_OK;
}

/* A model file that cannot be opened is a file-system failure (DODE_EIO, as for every
 * other input file), not a malformed file: said before the loader runs. */
static int check_readable(const char *path, const char *spec, char *err, size_t errlen)
{
    if (access(path, R_OK) == 0)
        return DODE_OK;
    return dode_fail(err, errlen, DODE_EIO, "model '%s': cannot open %s: %s", spec, path,
                     strerror(errno));
}

static int gmm_make(const char *arg, const char *spec, dode_model **out, char *err,
                    size_t errlen)
{
    if (*arg == '\0')
        return dode_fail(err, errlen, DODE_EINVAL, "model '%s': gmm needs a file, as in "
                         "gmm:FILE.json", spec);
    /* "FILE.json,class=C,...": guided sampling of class C (guidance.h) */
    const char *opts = strstr(arg, ",class=");
    char path[4096], why[512];
    snprintf(path, sizeof path, "%.*s", opts != NULL ? (int)(opts - arg) : (int)strlen(arg), arg);
    dode_guidance g;
    int c = -1;
    if (opts != NULL && dode_guidance_spec_parse(opts + 1, &g, &c, why, sizeof why) != DODE_OK)
        return dode_fail(err, errlen, DODE_EINVAL, "model '%s': %s", spec, why);
    if (check_readable(path, spec, err, errlen) != DODE_OK)
        return DODE_EIO;
    dode_model *m = dode_gmm_from_json(path, err, errlen);
    if (m == NULL)
        return DODE_EFORMAT;                          /* the loader's message names the file */
    if (opts != NULL && (m = dode_guided_gmm(m, c, &g, why, sizeof why)) == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "model '%s': %s", spec, why);
    *out = m;
    return DODE_OK;
}

static int mlp_make(const char *arg, const char *spec, dode_model **out, char *err,
                    size_t errlen)
{
    if (*arg == '\0')
        return dode_fail(err, errlen, DODE_EINVAL, "model '%s': mlp needs a file, as in "
                         "mlp:FILE.safetensors", spec);
    if (check_readable(arg, spec, err, errlen) != DODE_OK)
        return DODE_EIO;
    dode_model *m = dode_mlp_load(arg, err, errlen);
    if (m == NULL)
        return DODE_EFORMAT;                          /* the loader's message names the file */
    *out = m;
    return DODE_OK;
}

/* The extension point: one row per kind. */
static const dode_model_kind model_kinds[] = {
    { "gaussian", "gaussian:dim=D,mean=M,std=S[,predict=eps|x0|v|score|flow]",
      "Gaussian data N(M, S^2 I); exact flow known (defaults dim=2, mean=0, std=1)",
      gaussian_make },
    { "gmm", "gmm:FILE.json[,class=C[,cfg=W|classifier=S][,interval=LO:HI][,rescale=PHI]]",
      "Gaussian mixture from JSON {weights, means, stds|diag_stds|covs[, classes]}; exact "
      "eps; with class=C guided towards class C (docs/guidance.md)",
      gmm_make },
    { "mlp", "mlp:FILE.safetensors",
      "learned eps_theta MLP (diffode train or PyTorch export; docs/models.md)", mlp_make },
    { "ideal", "ideal:fashion-mnist[,n=M,seed=S,split=train|t10k] | ideal:FILE.idx[.gz]|.npy",
      "exact eps of a data set's empirical distribution (docs/images.md)", dode_ideal_make },
    { NULL, NULL, NULL, NULL },
};

const dode_model_kind *dode_model_kinds(void)
{
    return model_kinds;
}

int dode_model_from_spec(const char *spec, dode_model **out, char *err, size_t errlen)
{
    if (spec == NULL || out == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "model spec: NULL argument");
    const char *colon = strchr(spec, ':');
    const size_t len = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
    for (const dode_model_kind *k = model_kinds; k->kind != NULL; k++)
        if (strlen(k->kind) == len && strncmp(k->kind, spec, len) == 0)
            return k->make(colon != NULL ? colon + 1 : "", spec, out, err, errlen);
    char known[256] = "";
    for (const dode_model_kind *k = model_kinds; k->kind != NULL; k++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                 k == model_kinds ? "" : ", ", k->kind);
    return dode_fail(err, errlen, DODE_ENOTFOUND, "model '%s': unknown kind '%.*s' (known: "
                     "%s)", spec, (int)len, spec, known);
}

static const char *const schedule_names[] = {
    "ddpm-linear", "ddpm-cosine", "ddpm-linear-zsnr", "vp-linear", "vp-cosine", "edm",
    "flow", "flow:shift=3", NULL,
};

const char *const *dode_schedule_names(void)
{
    return schedule_names;
}

/* betas:FILE.npy or alphas_cumprod:FILE.npy: kind is "betas" / "alphas_cumprod". */
static int schedule_from_npy(const char *spec, const char *kind, const char *path,
                             dode_schedule **out, char *err, size_t errlen)
{
    double *values = NULL;
    size_t rows = 0, cols = 0;
    int rc = dode_npy_read(path, &values, &rows, &cols, err, errlen);
    if (rc != DODE_OK)
        return rc;
    if (cols != 1 || rows < 2) {
        free(values);
        return dode_fail(err, errlen, DODE_EFORMAT, "schedule '%s': %s holds %zu x %zu values;"
                         " expected a 1-D array of at least 2 %s", spec, path, rows, cols, kind);
    }
    dode_schedule *s = dode_schedule_discrete_new(spec, kind, values, rows, -INFINITY, err,
                                                  errlen);
    free(values);
    if (s == NULL)
        return DODE_EFORMAT;                  /* the values are wrong: the file's problem */
    *out = s;
    return DODE_OK;
}

int dode_schedule_from_spec(const char *spec, dode_schedule **out, char *err, size_t errlen)
{
    static const char *const kinds[] = { "betas", "alphas_cumprod" };
    if (spec == NULL || out == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "schedule spec: NULL argument");
    for (int k = 0; k < 2; k++) {
        const size_t len = strlen(kinds[k]);
        if (strncmp(spec, kinds[k], len) == 0 && spec[len] == ':')
            return schedule_from_npy(spec, kinds[k], spec + len + 1, out, err, errlen);
    }
    dode_schedule *s = dode_schedule_new(spec, err, errlen);
    if (s == NULL)
        return DODE_ENOTFOUND;
    *out = s;
    return DODE_OK;
}
