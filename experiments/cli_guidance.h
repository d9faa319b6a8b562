/* cli_guidance.h - the guidance flags of `diffode sample` and `reference` (--class,
 * --cfg-scale, --classifier-scale, --guidance-interval, --cfg-rescale; docs/guidance.md):
 * read once into a dode_guidance and a class, applied to the model, reported in the JSON
 * line with the fraction of samples the exact classifier assigns to the class. */
#ifndef DIFFODE_EXPERIMENTS_CLI_GUIDANCE_H
#define DIFFODE_EXPERIMENTS_CLI_GUIDANCE_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "diffode/guidance.h"
#include "diffode/model.h"

/* The flags as given. */
typedef struct {
    const char *cls, *interval;                        /* NULL: not given */
    double cfg_scale, classifier_scale, cfg_rescale;   /* NaN: not given */
    int target_metrics;                                /* --target-metrics */
} cli_guidance_flags;

/* What they mean: the guidance and its class (-1: no --class, nothing to do). */
typedef struct {
    dode_guidance g;
    int cls;
    int target_metrics;     /* report the distance to the sharpened target (sharpened.h) */
} cli_guidance;

void cli_guidance_flags_init(cli_guidance_flags *f);

/* Checks the flags together (a scale without --class, both scales, a bad class, interval
 * or rescale) into *out; DODE_EINVAL naming the flag. */
int cli_guidance_parse(const cli_guidance_flags *f, cli_guidance *out, char *err,
                       size_t errlen);

/* With a class: *model (of spec model_spec, which it takes) becomes the guided model of
 * that class; on failure *model is freed and NULL. Without one: nothing. */
int cli_guidance_apply(const cli_guidance *gd, const char *model_spec, dode_model **model,
                       char *err, size_t errlen);

/* The guidance fields of the JSON line (none without a class). */
void cli_guidance_report(cJSON *json, const cli_guidance *gd);

/* With a class: "class_fraction", the share of the n rows xbar (at sigma) that the exact
 * classifier of the unguided mixture model_spec assigns to it (p(C | xbar) > 1/2); with
 * --target-metrics also "target", the rows' distance to the sharpened target p(x|C)^w
 * p(x)^(1-w) at the same sigma (w the guidance scale; sharpened.h). */
int cli_guidance_class_fraction(cJSON *json, const cli_guidance *gd, const char *model_spec,
                                size_t n, const double *xbar, double sigma, char *err,
                                size_t errlen);

#endif
