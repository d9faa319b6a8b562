/* cli_guidance.c - the guidance flags of sample and reference (cli_guidance.h). */
#include <math.h>
#include <stdlib.h>

#include "diffode/sharpened.h"
#include "diffode/spec.h"
#include "diffode/status.h"
#include "cli_guidance.h"

void cli_guidance_flags_init(cli_guidance_flags *f)
{
    *f = (cli_guidance_flags){ .cls = NULL, .interval = NULL, .cfg_scale = NAN,
                               .classifier_scale = NAN, .cfg_rescale = NAN };
}

/* "WHAT: why". */
static int fail_with(int rc, const char *why, char *err, size_t errlen, const char *what)
{
    return dode_fail(err, errlen, rc, "%s: %s", what, why);
}

int cli_guidance_parse(const cli_guidance_flags *f, cli_guidance *out, char *err,
                       size_t errlen)
{
    dode_guidance *g = &out->g;
    const char *lone = !isnan(f->cfg_scale) ? "--cfg-scale"
                     : !isnan(f->classifier_scale) ? "--classifier-scale"
                     : f->interval != NULL ? "--guidance-interval"
                     : !isnan(f->cfg_rescale) ? "--cfg-rescale" : NULL;
    char why[512], *end = NULL;
    dode_guidance_init(g);
    out->cls = -1;
    out->target_metrics = f->target_metrics;
    if (lone == NULL && f->target_metrics)
        lone = "--target-metrics";
    if (f->cls == NULL)
        return lone == NULL ? DODE_OK : dode_fail(err, errlen, DODE_EINVAL, "%s needs --class "
                                                   "(the class to guide towards)", lone);
    const long v = strtol(f->cls, &end, 10);
    if (end == f->cls || *end != '\0' || v < 0 || v >= DODE_GMM_MAX_CLASSES)
        return dode_fail(err, errlen, DODE_EINVAL, "--class '%s': expected a class label, an "
                         "integer in [0, %d)", f->cls, DODE_GMM_MAX_CLASSES);
    if (!isnan(f->cfg_scale) && !isnan(f->classifier_scale))
        return dode_fail(err, errlen, DODE_EINVAL, "--cfg-scale and --classifier-scale: give "
                         "one, not both");
    if (!isnan(f->classifier_scale)) {
        g->kind = DODE_GUIDE_CLASSIFIER;
        g->scale = f->classifier_scale;
    } else if (!isnan(f->cfg_scale)) {
        g->scale = f->cfg_scale;
    }
    if (!isnan(f->cfg_rescale))
        g->rescale = f->cfg_rescale;
    int rc = f->interval == NULL ? DODE_OK
           : dode_guidance_interval_parse(f->interval, &g->sigma_lo, &g->sigma_hi, why,
                                          sizeof why);
    if (rc != DODE_OK)
        return fail_with(rc, why, err, errlen, "--guidance-interval");
    if ((rc = dode_guidance_check(g, why, sizeof why)) != DODE_OK)
        return fail_with(rc, why, err, errlen, !isnan(f->cfg_rescale) && !(g->rescale <= 1)
                         ? "--cfg-rescale" : "guidance");
    out->cls = (int)v;
    return DODE_OK;
}

int cli_guidance_apply(const cli_guidance *gd, const char *model_spec, dode_model **model,
                       char *err, size_t errlen)
{
    char why[512];
    if (gd->cls < 0)
        return DODE_OK;
    if (dode_gmm_classes(*model) == 0) {
        dode_model_free(*model);     /* a model without labels: dode_guided_gmm says why */
        *model = NULL;
        return dode_fail(err, errlen, DODE_EUNSUPPORTED, "--class %d: --model %s has no class "
                         "labels (a gmm JSON with \"classes\": [one int per component]), or "
                         "its spec already guides it", gd->cls, model_spec);
    }
    if ((*model = dode_guided_gmm(*model, gd->cls, &gd->g, why, sizeof why)) == NULL)
        return fail_with(DODE_ENOTFOUND, why, err, errlen, "--class");
    return DODE_OK;
}

void cli_guidance_report(cJSON *json, const cli_guidance *gd)
{
    if (gd->cls < 0)
        return;
    cJSON_AddNumberToObject(json, "class", gd->cls);
    cJSON_AddStringToObject(json, "guidance", gd->g.kind == DODE_GUIDE_CFG ? "cfg"
                                                                           : "classifier");
    cJSON_AddNumberToObject(json, "guidance_scale", gd->g.scale);
    cJSON_AddNumberToObject(json, "guidance_sigma_lo", gd->g.sigma_lo);
    if (isfinite(gd->g.sigma_hi))
        cJSON_AddNumberToObject(json, "guidance_sigma_hi", gd->g.sigma_hi);
    cJSON_AddNumberToObject(json, "cfg_rescale", gd->g.rescale);
}

static cJSON *numbers(const double *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

/* "target": the n rows' distance to the sharpened target of class gd->cls at scale w (the
 * guidance scale; classifier guidance with the exact classifier is the same ODE). */
static int target_report(cJSON *json, const cli_guidance *gd, const dode_model *m, size_t n,
                         const double *xbar, double sigma, char *err, size_t errlen)
{
    dode_sharpened_gap gap = { 0 };
    dode_sharpened *s = dode_sharpened_new(m, gd->cls, gd->g.scale, sigma, err, errlen);
    int rc = s == NULL ? DODE_EINVAL : dode_sharpened_compare(s, n, xbar, &gap, err, errlen);
    if (s == NULL || (rc != DODE_OK && rc != DODE_EINVAL))  /* EINVAL: no finite row */
        return s == NULL ? DODE_EUNSUPPORTED : rc;
    cJSON *t = cJSON_AddObjectToObject(json, "target");
    cJSON_AddNumberToObject(t, "w", s->w);
    cJSON_AddNumberToObject(t, "sigma", s->sigma);
    cJSON_AddNumberToObject(t, "log_z", s->log_z);
    cJSON_AddNumberToObject(t, "neg_entropy", s->neg_entropy);
    cJSON_AddNumberToObject(t, "quad_err", s->quad_err);
    cJSON_AddNumberToObject(t, "finite", (double)gap.finite);
    if (gap.finite > 1) {
        cJSON_AddNumberToObject(t, "logp_gap", gap.gap);
        cJSON_AddNumberToObject(t, "logp_gap_ci95", gap.gap_half);
    }
    cJSON_AddItemToObject(t, "mode_mass", numbers(s->mode_mass, s->K));
    cJSON_AddNumberToObject(t, "mode_mass_err", s->mode_err);
    cJSON_AddItemToObject(t, "mode_frac", numbers(gap.mode_frac, s->K));
    cJSON_AddItemToObject(t, "mode_frac_ci95", numbers(gap.mode_half, s->K));
    dode_sharpened_gap_free(&gap);
    dode_sharpened_free(s);
    return DODE_OK;
}

int cli_guidance_class_fraction(cJSON *json, const cli_guidance *gd, const char *model_spec,
                                size_t n, const double *xbar, double sigma, char *err,
                                size_t errlen)
{
    char why[512];
    if (gd->cls < 0)
        return DODE_OK;
    dode_model *m = NULL;
    void *ws = NULL;
    double *lp = malloc(n * sizeof *lp);
    const char *what = "class_fraction";
    int rc = lp == NULL ? dode_fail(why, sizeof why, DODE_ENOMEM, "out of memory")
                        : dode_model_from_spec(model_spec, &m, why, sizeof why);
    if (rc == DODE_OK)
        rc = dode_model_workspace_new(m, 1, &ws, why, sizeof why);
    if (rc == DODE_OK)
        rc = dode_gmm_class_log_posterior(m, ws, n, xbar, sigma, gd->cls, lp, NULL, why,
                                          sizeof why);
    size_t hits = 0;
    for (size_t i = 0; rc == DODE_OK && i < n; i++)
        hits += lp[i] > log(0.5);
    if (rc == DODE_OK)
        cJSON_AddNumberToObject(json, "class_fraction", (double)hits / (double)n);
    if (rc == DODE_OK && gd->target_metrics) {
        what = "--target-metrics";
        rc = target_report(json, gd, m, n, xbar, sigma, why, sizeof why);
    }
    if (m != NULL)
        dode_model_workspace_free(m, ws);
    dode_model_free(m);
    free(lp);
    return rc == DODE_OK ? DODE_OK : dode_fail(err, errlen, rc, "%s: %s", what, why);
}
