/* guidance.h - guided sampling as a model wrapper (docs/guidance.md).
 *
 * A guided model is an ordinary eps model (model.h), so every solver drives it unchanged
 * and the solver's error against the reference of the same guided ODE is separated from
 * the guidance's bias. With eps_u the unconditional and eps_c the conditional prediction:
 *   classifier-free (Ho and Salimans 2022):  eps = eps_u + w (eps_c - eps_u)
 *   classifier (Dhariwal and Nichol 2021):   eps = eps_u - s sqrt(1 - abar) grad_x log p(c|x)
 *                                               = eps_u - s sigma grad_xbar log p(c|xbar)
 * (x = xbar / sqrt(1 + sigma^2), sqrt(1 - abar) = sigma / sqrt(1 + sigma^2)); with an exact
 * classifier both are the same ODE at w = s. w = 0 is unconditional, w = 1 conditional.
 *   interval (Kynkaanniemi et al. 2024): guidance only for sigma in [lo, hi]; outside it
 *     the conditional model (w = 1), as in the paper.
 *   rescale (Lin et al. 2023, phi in [0, 1]): eps <- phi (rms(eps_c) / rms(eps)) eps +
 *     (1 - phi) eps, per row, rms over the row's coordinates (see guidance.c for why rms).
 * CFG++ (Chung et al. 2024) denoises with the guided eps and renoises with the
 * unconditional one, a change of the step and not of eps (docs/guidance.md): it is the
 * solvers cfgpp-ddim and cfgpp-dpmpp2m (solvers/cfgpp.c), which read both parts of a guided
 * model through dode_guided_parts. */
#ifndef DIFFODE_GUIDANCE_H
#define DIFFODE_GUIDANCE_H

#include <stddef.h>

#include "diffode/model.h"

typedef enum {
    DODE_GUIDE_CFG = 0,       /* classifier-free guidance, scale w */
    DODE_GUIDE_CLASSIFIER     /* classifier guidance, scale s (labelled mixtures only) */
} dode_guidance_kind;

typedef struct {
    dode_guidance_kind kind;
    double scale;             /* w or s, finite and >= 0 */
    double sigma_lo, sigma_hi;   /* guidance for sigma in [lo, hi]; 0 <= lo <= hi <= inf */
    double rescale;           /* phi in [0, 1]; 0 = no rescale */
} dode_guidance;

/* CFG, w = 1 (the conditional model), interval [0, inf], no rescale. */
void dode_guidance_init(dode_guidance *g);

/* DODE_OK, or DODE_EINVAL with a message naming the field that is out of range. */
int dode_guidance_check(const dode_guidance *g, char *err, size_t errlen);

/* Classifier-free guidance over any two eps models of the same dim (g->kind must be CFG).
 * Takes ownership of uncond and cond (freed with the wrapper, and on failure). */
dode_model *dode_guided_new(dode_model *uncond, dode_model *cond, const dode_guidance *g,
                            char *err, size_t errlen);

/* Guided sampling of class c of a labelled mixture (model.h, dode_gmm_new_labeled), with
 * the exact conditional model and the exact classifier. Takes ownership of gmm. Refuses an
 * unlabelled model, an unknown class and a bad g with a message. */
dode_model *dode_guided_gmm(dode_model *gmm, int c, const dode_guidance *g, char *err,
                            size_t errlen);

/* Both parts of a guided model (one made here) at (x, t, sigma), x-space [n][dim] as eps
 * takes it: eps_g = what m->eps returns (guidance, interval and rescale applied) and eps_u
 * = the unconditional model's eps. ws: m's workspace. One call evaluates each inner model
 * at most once. DODE_EUNSUPPORTED (nothing written) if m is not a guided model. */
int dode_guided_parts(const dode_model *m, void *ws, size_t n, const double *x, double t,
                      double sigma, double *eps_g, double *eps_u);

/* *scale = the guided model's scale (w or s); DODE_EUNSUPPORTED if m is not one. */
int dode_guided_scale(const dode_model *m, double *scale);

/* Parses "LO,HI" (each a number >= 0 or "inf", LO <= HI) into *lo, *hi. */
int dode_guidance_interval_parse(const char *text, double *lo, double *hi, char *err,
                                 size_t errlen);

/* The guidance options of a model spec, "class=C[,cfg=W|classifier=S][,interval=LO:HI]
 * [,rescale=PHI]" (the text after "gmm:FILE.json,"; spec.h), into *g and *c: the same
 * settings as sample's --class, --cfg-scale, --classifier-scale, --guidance-interval and
 * --cfg-rescale, so a config's [model NAME] spec can carry them. DODE_EINVAL /
 * DODE_ENOTFOUND with a message naming the key. */
int dode_guidance_spec_parse(const char *text, dode_guidance *g, int *c, char *err,
                             size_t errlen);

#endif
