/* guidance.c - guided sampling as an eps-model wrapper (guidance.h, docs/guidance.md).
 *
 * The wrapper evaluates what the formula needs and no more: the conditional model alone
 * at w = 1 and outside the guidance interval, the unconditional alone at w = 0, both
 * otherwise; classifier guidance evaluates the unconditional model and the exact
 * classifier gradient of a labelled mixture (model.h). It has no Jacobian, log density or
 * exact flow (the guided ODE's reference is rk8pd's) and no x0 callback (a zero-SNR start
 * is refused by the ODE layer).
 *
 * CFG is evaluated as eps_u + w (eps_c - eps_u) for w <= 1 and eps_c + (w - 1)(eps_c -
 * eps_u) for w > 1: the same number in exact arithmetic, and each form reproduces its end
 * point (w = 0: eps_u, w = 1: eps_c) bit for bit.
 *
 * Rescale (Lin et al. 2023, section 3.4) divides by the guided prediction's standard
 * deviation over an image's pixels and multiplies by the conditional one's. For images
 * those are near-zero-mean; here a row is a point of a few dimensions, where a standard
 * deviation over d = 2 coordinates is one difference and over d = 1 is zero, so the scale
 * is the root mean square over the row's coordinates, which is what the std measures in
 * the paper's setting. Applied to eps (as diffusers' rescale_noise_cfg does). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/guidance.h"
#include "diffode/model.h"
#include "diffode/status.h"

typedef struct {
    dode_model *uncond, *cond;   /* owned */
    dode_guidance g;
    int cls;                     /* the classifier's class (classifier guidance), else -1 */
    char name[64];
} guide_state;

/* Both inner workspaces (their frees too: workspace_free gets no model, model.h) and the
 * wrapper's scratch: the conditional eps, xbar and the classifier gradient, [n][dim]. */
typedef struct {
    void *wu, *wc;
    void (*fu)(void *), (*fc)(void *);
    double *ec, *xbar, *grad;
} guide_ws;

void dode_guidance_init(dode_guidance *g)
{
    *g = (dode_guidance){ .kind = DODE_GUIDE_CFG, .scale = 1.0, .sigma_lo = 0.0,
                          .sigma_hi = INFINITY, .rescale = 0.0 };
}

int dode_guidance_check(const dode_guidance *g, char *err, size_t errlen)
{
    if (g == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "guidance: no settings (NULL)");
    if (g->kind != DODE_GUIDE_CFG && g->kind != DODE_GUIDE_CLASSIFIER)
        return dode_fail(err, errlen, DODE_EINVAL, "guidance: unknown kind %d", (int)g->kind);
    if (!(g->scale >= 0 && isfinite(g->scale)))
        return dode_fail(err, errlen, DODE_EINVAL, "guidance: scale %g must be finite and >= 0 "
                         "(0: unconditional, 1: conditional)", g->scale);
    if (!(g->sigma_lo >= 0 && g->sigma_hi >= g->sigma_lo))
        return dode_fail(err, errlen, DODE_EINVAL, "guidance interval [%g, %g]: need 0 <= lo "
                         "<= hi (sigmas; hi may be inf)", g->sigma_lo, g->sigma_hi);
    if (!(g->rescale >= 0 && g->rescale <= 1))
        return dode_fail(err, errlen, DODE_EINVAL, "guidance rescale %g must be in [0, 1]",
                         g->rescale);
    return DODE_OK;
}

int dode_guidance_interval_parse(const char *text, double *lo, double *hi, char *err,
                                 size_t errlen)
{
    char *end = NULL;
    if (text == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "guidance interval: no text (NULL)");
    const double a = strtod(text, &end);
    if (end == text || *end != ',')
        return dode_fail(err, errlen, DODE_EINVAL, "guidance interval '%s': expected LO,HI "
                         "(two sigmas, e.g. 0.3,5 or 1,inf)", text);
    const char *second = end + 1;
    const double b = strtod(second, &end);
    if (end == second || *end != '\0')
        return dode_fail(err, errlen, DODE_EINVAL, "guidance interval '%s': expected LO,HI "
                         "(two sigmas, e.g. 0.3,5 or 1,inf)", text);
    if (!(a >= 0 && b >= a))
        return dode_fail(err, errlen, DODE_EINVAL, "guidance interval '%s': need 0 <= LO <= "
                         "HI, got [%g, %g]", text, a, b);
    *lo = a;
    *hi = b;
    return DODE_OK;
}

/* Rescale each row of out towards the rms of the same row of ec (see the top). */
static void rescale_rows(size_t n, size_t d, double phi, const double *ec, double *out)
{
    for (size_t i = 0; i < n; i++) {
        double sc = 0, so = 0;
        for (size_t j = 0; j < d; j++) {
            sc += ec[i * d + j] * ec[i * d + j];
            so += out[i * d + j] * out[i * d + j];
        }
        if (!(so > 0))
            continue;   /* a zero guided eps has no scale to change */
        const double f = phi * sqrt(sc / so) + (1.0 - phi);
        for (size_t j = 0; j < d; j++)
            out[i * d + j] *= f;
    }
}

/* The guided eps into out and, if eps_u is not NULL, the unconditional eps into it too
 * (CFG++'s renoising, dode_guided_parts), evaluating the unconditional model once. */
static int guide_eval(const dode_model *m, void *ws, size_t n, const double *x, double t,
                      double sigma, double *out, double *eps_u)
{
    const guide_state *st = m->state;
    const dode_model *u = st->uncond, *c = st->cond;
    guide_ws *w = ws;
    const size_t d = m->dim, len = n * d;
    const double s = st->g.scale, phi = st->g.rescale;
    if (!(sigma >= 0 && isfinite(sigma)))
        return DODE_EINVAL;
    if ((sigma < st->g.sigma_lo || sigma > st->g.sigma_hi)    /* outside: w = 1 */
        || (st->g.kind == DODE_GUIDE_CFG && s == 1.0)) {
        int rc0 = eps_u == NULL ? DODE_OK : u->eps(u, w->wu, n, x, t, sigma, eps_u);
        return rc0 != DODE_OK ? rc0 : c->eps(c, w->wc, n, x, t, sigma, out);
    }
    int rc = u->eps(u, w->wu, n, x, t, sigma, out);
    if (rc == DODE_OK && eps_u != NULL)
        memcpy(eps_u, out, len * sizeof *out);
    if (rc != DODE_OK || (s == 0.0 && phi == 0.0))
        return rc;                                             /* w = 0 or s = 0 */
    if (st->g.kind == DODE_GUIDE_CLASSIFIER && s != 0.0) {
        char why[256];
        const double scale = sqrt(1.0 + sigma * sigma);
        for (size_t i = 0; i < len; i++)
            w->xbar[i] = x[i] * scale;
        rc = dode_gmm_class_log_posterior(u, w->wu, n, w->xbar, sigma, st->cls, NULL, w->grad,
                                          why, sizeof why);
        if (rc != DODE_OK)
            return rc;
        for (size_t i = 0; i < len; i++)
            out[i] -= s * sigma * w->grad[i];
    }
    if (st->g.kind == DODE_GUIDE_CFG || phi > 0) {
        if ((rc = c->eps(c, w->wc, n, x, t, sigma, w->ec)) != DODE_OK)
            return rc;
    }
    if (st->g.kind == DODE_GUIDE_CFG)
        for (size_t i = 0; i < len; i++)
            out[i] = s <= 1.0 ? out[i] + s * (w->ec[i] - out[i])
                              : w->ec[i] + (s - 1.0) * (w->ec[i] - out[i]);
    if (phi > 0)
        rescale_rows(n, d, phi, w->ec, out);
    return DODE_OK;
}

static int guide_eps(const dode_model *m, void *ws, size_t n, const double *x, double t,
                     double sigma, double *out)
{
    return guide_eval(m, ws, n, x, t, sigma, out, NULL);
}

int dode_guided_parts(const dode_model *m, void *ws, size_t n, const double *x, double t,
                      double sigma, double *eps_g, double *eps_u)
{
    if (m == NULL || m->eps != guide_eps)
        return DODE_EUNSUPPORTED;
    return guide_eval(m, ws, n, x, t, sigma, eps_g, eps_u);
}

int dode_guided_scale(const dode_model *m, double *scale)
{
    if (m == NULL || m->eps != guide_eps)
        return DODE_EUNSUPPORTED;
    *scale = ((const guide_state *)m->state)->g.scale;
    return DODE_OK;
}

static void guide_workspace_free(void *ws)
{
    guide_ws *w = ws;
    if (w == NULL)
        return;
    if (w->fu != NULL)
        w->fu(w->wu);
    if (w->fc != NULL)
        w->fc(w->wc);
    free(w->ec);
    free(w);
}

static void *guide_workspace_new(const dode_model *m, size_t n)
{
    const guide_state *st = m->state;
    const dode_model *u = st->uncond, *c = st->cond;
    guide_ws *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->fu = u->workspace_free;
    w->fc = c->workspace_free;
    if (n > SIZE_MAX / 3 / sizeof(double) / m->dim
        || (w->ec = malloc(3 * n * m->dim * sizeof *w->ec)) == NULL
        || (u->workspace_new != NULL && (w->wu = u->workspace_new(u, n)) == NULL)
        || (c->workspace_new != NULL && (w->wc = c->workspace_new(c, n)) == NULL)) {
        guide_workspace_free(w);
        return NULL;
    }
    w->xbar = w->ec + n * m->dim;
    w->grad = w->xbar + n * m->dim;
    return w;
}

static void guide_free(dode_model *m)
{
    if (m == NULL)
        return;
    guide_state *st = m->state;
    dode_model_free(st->uncond);
    dode_model_free(st->cond);
    free(m);
}

/* The wrapper over owned uncond and cond (freed here on failure); cls for the classifier. */
static dode_model *guided_make(dode_model *uncond, dode_model *cond, int cls,
                               const dode_guidance *g, char *err, size_t errlen)
{
    dode_model *m = NULL;
    if (uncond == NULL || cond == NULL || uncond->eps == NULL || cond->eps == NULL)
        dode_fail(err, errlen, DODE_EINVAL, "guidance: a NULL model (or eps)");
    else if (uncond->dim != cond->dim)
        dode_fail(err, errlen, DODE_EINVAL, "guidance: the unconditional model has dim %zu, "
                  "the conditional %zu", uncond->dim, cond->dim);
    else if (uncond->prediction != DODE_PRED_EPS || cond->prediction != DODE_PRED_EPS)
        dode_fail(err, errlen, DODE_EINVAL, "guidance: both models must predict eps (wrap "
                  "them with dode_model_as_eps)");
    else if (dode_guidance_check(g, err, errlen) == DODE_OK
             && (m = malloc(sizeof *m + sizeof(guide_state))) == NULL)
        dode_fail(err, errlen, DODE_ENOMEM, "guidance: out of memory");
    if (m == NULL) {
        dode_model_free(uncond);
        dode_model_free(cond);
        return NULL;
    }
    guide_state *st = (guide_state *)(m + 1);
    *st = (guide_state){ .uncond = uncond, .cond = cond, .g = *g, .cls = cls };
    snprintf(st->name, sizeof st->name, "%s+%s", uncond->name,
             g->kind == DODE_GUIDE_CFG ? "cfg" : "classifier");
    *m = (dode_model){ .name = st->name, .dim = uncond->dim, .prediction = DODE_PRED_EPS,
                       .eps = guide_eps, .workspace_new = guide_workspace_new,
                       .workspace_free = guide_workspace_free, .free = guide_free,
                       .state = st };
    return m;
}

dode_model *dode_guided_new(dode_model *uncond, dode_model *cond, const dode_guidance *g,
                            char *err, size_t errlen)
{
    if (g != NULL && g->kind == DODE_GUIDE_CLASSIFIER) {
        dode_fail(err, errlen, DODE_EUNSUPPORTED, "guidance: classifier guidance needs the "
                  "exact classifier of a labelled mixture (dode_guided_gmm)");
        dode_model_free(uncond);
        dode_model_free(cond);
        return NULL;
    }
    return guided_make(uncond, cond, -1, g, err, errlen);
}

dode_model *dode_guided_gmm(dode_model *gmm, int c, const dode_guidance *g, char *err,
                            size_t errlen)
{
    if (dode_guidance_check(g, err, errlen) != DODE_OK) {
        dode_model_free(gmm);
        return NULL;
    }
    dode_model *cond = dode_gmm_class_new(gmm, c, err, errlen);
    if (cond == NULL) {
        dode_model_free(gmm);
        return NULL;
    }
    return guided_make(gmm, cond, c, g, err, errlen);
}

/* One key=value of a spec's guidance options; *seen marks class (1), a scale (2). */
static int spec_key(const char *key, const char *value, dode_guidance *g, int *c, int *seen,
                    char *err, size_t errlen)
{
    char *end = NULL;
    const double v = strtod(value, &end);
    const int number = end != value && *end == '\0';
    if (strcmp(key, "class") == 0) {
        const long l = strtol(value, &end, 10);
        if (end == value || *end != '\0' || l < 0 || l >= DODE_GMM_MAX_CLASSES)
            return dode_fail(err, errlen, DODE_EINVAL, "class = '%s' is not an integer in "
                             "[0, %d)", value, DODE_GMM_MAX_CLASSES);
        *c = (int)l;
        *seen |= 1;
    } else if (strcmp(key, "cfg") == 0 || strcmp(key, "classifier") == 0) {
        if (*seen & 2)
            return dode_fail(err, errlen, DODE_EINVAL, "%s: give one of cfg and classifier, "
                             "once", key);
        if (!number || !(v >= 0 && isfinite(v)))
            return dode_fail(err, errlen, DODE_EINVAL, "%s = '%s' is not a finite number >= 0",
                             key, value);
        g->kind = key[1] == 'f' ? DODE_GUIDE_CFG : DODE_GUIDE_CLASSIFIER;
        g->scale = v;
        *seen |= 2;
    } else if (strcmp(key, "rescale") == 0) {
        if (!number || !(v >= 0 && v <= 1))
            return dode_fail(err, errlen, DODE_EINVAL, "rescale = '%s' is not a number in "
                             "[0, 1]", value);
        g->rescale = v;
    } else if (strcmp(key, "interval") == 0) {
        char pair[64];
        const char *colon = strchr(value, ':');
        if (colon == NULL || strlen(value) >= sizeof pair)
            return dode_fail(err, errlen, DODE_EINVAL, "interval = '%s' is not LO:HI", value);
        snprintf(pair, sizeof pair, "%.*s,%s", (int)(colon - value), value, colon + 1);
        return dode_guidance_interval_parse(pair, &g->sigma_lo, &g->sigma_hi, err, errlen);
    } else {
        return dode_fail(err, errlen, DODE_ENOTFOUND, "unknown guidance key '%s' (expected "
                         "class, cfg, classifier, interval, rescale)", key);
    }
    return DODE_OK;
}

int dode_guidance_spec_parse(const char *text, dode_guidance *g, int *c, char *err,
                             size_t errlen)
{
    char buf[256];
    int seen = 0, rc = DODE_OK;
    dode_guidance_init(g);
    *c = -1;
    if (text == NULL || strlen(text) >= sizeof buf)
        return dode_fail(err, errlen, DODE_EINVAL, "guidance options: missing or longer than "
                         "%zu characters", sizeof buf - 1);
    snprintf(buf, sizeof buf, "%s", text);
    for (char *item = buf; rc == DODE_OK && item != NULL;) {
        char *comma = strchr(item, ',');
        if (comma != NULL)
            *comma = '\0';
        char *eq = strchr(item, '=');
        if (eq == NULL || eq == item)
            rc = dode_fail(err, errlen, DODE_EINVAL, "guidance option '%s' is not key=value",
                           item);
        else {
            *eq = '\0';
            rc = spec_key(item, eq + 1, g, c, &seen, err, errlen);
        }
        item = comma != NULL ? comma + 1 : NULL;
    }
    if (rc == DODE_OK && !(seen & 1))
        rc = dode_fail(err, errlen, DODE_EINVAL, "guidance options '%s' have no class=C", text);
    return rc == DODE_OK ? dode_guidance_check(g, err, errlen) : rc;
}
