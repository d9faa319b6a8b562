/* sweep_ref.c - the reference a row is measured against: the model's exact flow, or one
 * gsl:rk8pd solve at ref_rtol / ref_atol in log sigma (in sigma when the grid ends at 0),
 * both through dode_reference (sample.h). rk8pd solutions are kept in memory for the
 * sweep and in ROOT/cache/<key>.npy for every sweep under ROOT, keyed by an FNV-1a hash of
 * what determines them (the model's and schedule's fingerprints, the ends, the tolerances
 * and the start), so a rerun or another config with the same problem does not solve again. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep_impl.h"
#include "sweep_split.h"

unsigned long long exp_fnv1a(unsigned long long h, const void *bytes, size_t len)
{
    const unsigned char *p = bytes;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;          /* the 64-bit FNV prime */
    }
    return h;
}

/* A fingerprint of what a model computes: eps at fixed probe points (a changed GMM file
 * under the same spec gets a new key). */
int sweep_model_fingerprint(const dode_model *m, const char *spec, unsigned long long *fp)
{
    enum { PROBES = 4 };
    double *x = malloc(2 * PROBES * m->dim * sizeof *x);
    if (x == NULL)
        return DODE_ENOMEM;
    for (size_t i = 0; i < PROBES * m->dim; i++)
        x[i] = sin(1.3 * (double)i + 0.1);
    void *ws = NULL;
    int rc = dode_model_workspace_new(m, PROBES, &ws, NULL, 0);
    if (rc == DODE_OK)
        rc = m->eps(m, ws, PROBES, x, 0.5, 1.0, x + PROBES * m->dim);
    dode_model_workspace_free(m, ws);
    unsigned long long h = exp_fnv1a(EXP_FNV_OFFSET, spec, strlen(spec));
    h = exp_fnv1a(h, &m->dim, sizeof m->dim);
    *fp = exp_fnv1a(h, x + PROBES * m->dim, PROBES * m->dim * sizeof *x);
    free(x);
    return rc;
}

unsigned long long sweep_schedule_fingerprint(const dode_schedule *s)
{
    const char *name = dode_schedule_name(s);
    unsigned long long h = exp_fnv1a(EXP_FNV_OFFSET, name, strlen(name));
    for (int k = 1; k <= 8; k++) {
        const double t = dode_schedule_t_min(s) + (dode_schedule_t_max(s) -
                                                   dode_schedule_t_min(s)) * k / 8.0;
        const double sigma = dode_schedule_sigma(s, t);
        h = exp_fnv1a(h, &sigma, sizeof sigma);
    }
    return h;
}

static unsigned long long ref_key(const sweep *sw, size_t im, size_t ish, const double *xbar_T,
                                  size_t len, double s0, double s1)
{
    static const char tag[] = "diffode reference v1: gsl:rk8pd";
    const double tol[2] = { sw->cfg->ref_rtol, sw->cfg->ref_atol }, ends[2] = { s0, s1 };
    unsigned long long h = exp_fnv1a(EXP_FNV_OFFSET, tag, sizeof tag);
    h = exp_fnv1a(h, &sw->model_fp[im], sizeof sw->model_fp[im]);
    h = exp_fnv1a(h, &sw->schedule_fp[ish], sizeof sw->schedule_fp[ish]);
    h = exp_fnv1a(h, ends, sizeof ends);
    h = exp_fnv1a(h, tol, sizeof tol);
    h = exp_fnv1a(h, &len, sizeof len);
    return exp_fnv1a(h, xbar_T, len * sizeof *xbar_T);
}

/* Does model im's reference use its exact flow (reference = auto or exact)? */
int sweep_ref_is_exact(const sweep *sw, size_t im)
{
    return sw->models[im]->exact_flow != NULL && sw->cfg->reference != DODE_REFERENCE_RK8PD;
}

/* The reference flow (dode_reference with the config's method and ref_rtol / ref_atol) of
 * n rows xbar_from at s0 to xbar_to at s1 (in place allowed). With --jobs, an rk8pd solve
 * splits each model call over two threads where the model allows it (sweep_split.h): the
 * same numbers, in about half the time the other workers wait for them. */
int sweep_ref_flow(const sweep *sw, size_t im, size_t ish, size_t n, double s0, double s1,
                   const double *xbar_from, double *xbar_to, char *err, size_t errlen)
{
    dode_reference_opts o;
    dode_reference_opts_init(&o);
    o.method = sw->cfg->reference;
    o.rtol = sw->cfg->ref_rtol;
    o.atol = sw->cfg->ref_atol;
    split_model *split = NULL;
    if (sw->opts->jobs > 1 && !sweep_ref_is_exact(sw, im) && n > 1
        && split_model_applies(sw->models[im])
        && (split = split_model_start(sw->models[im], err, errlen)) == NULL)
        return DODE_ESOLVER;
    const dode_model *m = split != NULL ? split_model_get(split) : sw->models[im];
    int rc = dode_reference(m, sw->schedules[ish], n, s0, s1, xbar_from, xbar_to, &o, NULL,
                            NULL, err, errlen);
    split_model_stop(split);
    return rc;
}

static int remember(ref_store *sw, unsigned long long key, const double *x, size_t len)
{
    if (sw->nrefs == sw->caprefs) {
        const size_t cap = sw->caprefs ? 2 * sw->caprefs : 8;
        ref_entry *q = realloc(sw->refs, cap * sizeof *q);
        if (q == NULL)
            return DODE_ENOMEM;
        sw->refs = q;
        sw->caprefs = cap;
    }
    double *copy = malloc(len * sizeof *copy);
    if (copy == NULL)
        return DODE_ENOMEM;
    memcpy(copy, x, len * sizeof *copy);
    sw->refs[sw->nrefs++] = (ref_entry){ .key = key, .len = len, .x = copy };
    return DODE_OK;
}

/* From memory, else from ROOT/cache/<key>.npy; 1 if found (into out). */
static int recall(ref_store *sw, unsigned long long key, size_t n, size_t dim, const char *path,
                  double *out)
{
    for (size_t i = 0; i < sw->nrefs; i++)
        if (sw->refs[i].key == key && sw->refs[i].len == n * dim) {
            memcpy(out, sw->refs[i].x, n * dim * sizeof *out);
            return 1;
        }
    double *data = NULL;
    size_t rows = 0, cols = 0;
    if (dode_npy_read(path, &data, &rows, &cols, NULL, 0) != DODE_OK)
        return 0;
    const int ok = rows == n && cols == dim && dode_all_finite(data, n * dim) == DODE_OK;
    if (ok)
        memcpy(out, data, n * dim * sizeof *out);
    free(data);
    return ok && remember(sw, key, out, n * dim) == DODE_OK;
}

/* The reference at s1 of the n rows xbar_T at s0 ([n][dim] into out); *kind says which. */
int sweep_reference(sweep *sw, size_t im, size_t ish, size_t n, double s0, double s1,
                    const double *xbar_T, double *out, const char **kind, char *err,
                    size_t errlen)
{
    const dode_model *m = sw->models[im];
    const size_t len = n * m->dim;
    if (sweep_ref_is_exact(sw, im)) {
        *kind = "exact";
        return sweep_ref_flow(sw, im, ish, n, s0, s1, xbar_T, out, err, errlen);
    }
    *kind = "rk8pd";
    const unsigned long long key = ref_key(sw, im, ish, xbar_T, len, s0, s1);
    char path[PATH_LEN + 64];
    snprintf(path, sizeof path, "%s/%016llx.npy", sw->cache, key);
    pthread_mutex_lock(&sw->store->lock);
    if (recall(sw->store, key, n, m->dim, path, out)) {
        pthread_mutex_unlock(&sw->store->lock);
        return DODE_OK;
    }
    int rc = sweep_ref_flow(sw, im, ish, n, s0, s1, xbar_T, out, err, errlen);
    if (rc == DODE_OK)
        rc = dode_npy_write(path, out, n, m->dim, err, errlen);
    if (rc == DODE_OK && remember(sw->store, key, out, len) != DODE_OK)
        rc = dode_fail(err, errlen, DODE_ENOMEM, "out of memory keeping a reference");
    pthread_mutex_unlock(&sw->store->lock);
    return rc;
}
