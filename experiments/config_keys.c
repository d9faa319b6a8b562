/* config_keys.c - the key rules of the [experiment], [model NAME] and [sweep] sections
 * (the [solver NAME] rules are in config_solver.c): one setter per key, each checking its
 * value and writing it into the config (or, for [sweep], into the build that config.c's
 * pass two fills), and one key_rule table per section. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "diffode/grid.h"
#include "diffode/schedule.h"
#include "diffode/solver.h"
#include "diffode/status.h"
#include "cli.h"
#include "config_impl.h"

/* ---- [experiment] ---- */

static int set_name(parser *p, const entry *e, void *target)
{
    exp_config *cfg = target;
    const char *s = e->value;
    size_t len = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");
    if (len == 0 || s[len] != '\0' || s[0] == '.' || len >= sizeof cfg->name)
        return key_fail(p, DODE_EFORMAT, e->line, e->key, "\"%s\" is not a results directory "
                        "name (letters, digits, '-', '_', '.'; not starting with '.'; at most "
                        "%zu characters)", s, sizeof cfg->name - 1);
    copy_str(cfg->name, sizeof cfg->name, s);
    return DODE_OK;
}

static int set_samples(parser *p, const entry *e, void *t)
{
    size_t *n = &((exp_config *)t)->samples;
    size_t v = 0;
    const int rc = parse_size(p, e, e->value, 1, &v);
    if (rc == DODE_OK && v > CFG_MAX_SAMPLES)
        return key_fail(p, DODE_EINVAL, e->line, e->key, "%zu is above the limit of %zu "
                        "trajectories per run (2^24)", v, CFG_MAX_SAMPLES);
    if (rc == DODE_OK)
        *n = v;
    return rc;
}

static int set_seeds(parser *p, const entry *e, void *target)
{
    exp_config *cfg = target;
    size_t v[EXP_CFG_MAX_LIST], n = 0;
    int rc = parse_size_list(p, e, 0, v, &n);
    for (size_t i = 0; rc == DODE_OK && i < n; i++)
        cfg->seeds[i] = (unsigned long)v[i];
    if (rc == DODE_OK)
        cfg->nseeds = n;
    return rc;
}

static int set_reference(parser *p, const entry *e, void *t)
{
    static const char *const names[] = { "auto", "exact", "rk8pd", NULL };
    int k = 0, rc = parse_choice(p, e, names, &k);
    if (rc == DODE_OK)
        ((exp_config *)t)->reference = (dode_reference_method)k;
    return rc;
}

static int set_ref_rtol(parser *p, const entry *e, void *t)
{
    return parse_double(p, e, 0, 0, &((exp_config *)t)->ref_rtol);
}

static int set_ref_atol(parser *p, const entry *e, void *t)
{
    return parse_double(p, e, 0, 0, &((exp_config *)t)->ref_atol);
}

static int set_t_max(parser *p, const entry *e, void *t)
{
    return parse_double(p, e, 0, 0, &((exp_config *)t)->t_max);
}

static int set_t_min(parser *p, const entry *e, void *t)
{
    return parse_double(p, e, 0, 0, &((exp_config *)t)->t_min);
}

static int set_trajectory(parser *p, const entry *e, void *t)
{
    return parse_bool(p, e, &((exp_config *)t)->trajectory);
}

static int set_baseline(parser *p, const entry *e, void *t)
{
    exp_config *cfg = t;
    if (e->value[0] == '\0' || strlen(e->value) >= sizeof cfg->baseline_name)
        return key_fail(p, DODE_EFORMAT, e->line, e->key, "\"%s\" is not a solver name",
                        e->value);
    copy_str(cfg->baseline_name, sizeof cfg->baseline_name, e->value);
    return DODE_OK;
}

static int set_true_samples(parser *p, const entry *e, void *t)
{
    return parse_size(p, e, e->value, 0, &((exp_config *)t)->true_samples);
}

static int set_projections(parser *p, const entry *e, void *t)
{
    return parse_size(p, e, e->value, 1, &((exp_config *)t)->projections);
}

static int set_order_nfe_min(parser *p, const entry *e, void *t)
{
    return parse_double(p, e, 0, 0, &((exp_config *)t)->order_nfe_min);
}

static int set_order_floor(parser *p, const entry *e, void *t)
{
    return parse_double(p, e, 0, 1, &((exp_config *)t)->order_floor);
}

static int set_mode(parser *p, const entry *e, void *t)
{
    exp_config *cfg = t;
    if (strcmp(e->value, "sweep") != 0 && strcmp(e->value, "roundtrip") != 0)
        return key_fail(p, DODE_EFORMAT, e->line, e->key, "\"%s\" is not a mode (sweep, "
                        "roundtrip)", e->value);
    cfg->roundtrip = strcmp(e->value, "roundtrip") == 0;
    return DODE_OK;
}

static int set_noise(parser *p, const entry *e, void *target);    /* below: it resolves
                                                                    files as specs do */

const key_rule experiment_keys[] = {
    { "name", set_name }, { "samples", set_samples }, { "seeds", set_seeds },
    { "reference", set_reference }, { "ref_rtol", set_ref_rtol }, { "ref_atol", set_ref_atol },
    { "t_max", set_t_max }, { "t_min", set_t_min }, { "trajectory", set_trajectory },
    { "baseline", set_baseline },
    { "true_samples", set_true_samples }, { "projections", set_projections },
    { "order_nfe_min", set_order_nfe_min }, { "order_floor", set_order_floor },
    { "mode", set_mode }, { "noise", set_noise }, { NULL, NULL },
};

/* ---- [model NAME] ---- */

/* The file a spec names ("gmm:FILE", "betas:FILE", "ideal:FILE,n=..") is looked up beside
 * the config first, so a config runs from any folder; a path that is absolute, or that is
 * not there, is used as given (relative to the working directory). out gets the spec. */
static void spec_beside_config(const parser *p, const char *spec, char *out, size_t outlen)
{
    const char *slash = strrchr(p->source, '/'), *colon = strchr(spec, ':');
    snprintf(out, outlen, "%s", spec);
    if (slash == NULL || colon == NULL || colon[1] == '/' || colon[1] == '\0')
        return;
    const size_t kind = (size_t)(colon - spec) + 1, file = strcspn(colon + 1, ",");
    char path[PATH_MAX];
    const int w = snprintf(path, sizeof path, "%.*s/%.*s", (int)(slash - p->source), p->source,
                           (int)file, colon + 1);
    if (w < 0 || (size_t)w >= sizeof path || access(path, F_OK) != 0)
        return;
    const int v = snprintf(out, outlen, "%.*s%s%s", (int)kind, spec, path, colon + 1 + file);
    if (v < 0 || (size_t)v >= outlen)
        snprintf(out, outlen, "%s", spec);      /* too long resolved: keep it as given */
}

/* noise = PATH: a (draws, n, dim) .npy, looked up beside the config first (as model files
 * are) and read once here so that a bad file fails at load, with its line. */
static int set_noise(parser *p, const entry *e, void *target)
{
    exp_config *cfg = target;
    char spec[EXP_CFG_SPEC + 8], msg[384], resolved[PATH_MAX + 2 * EXP_CFG_SPEC];
    const size_t len = strlen(e->value);
    const char *path = resolved + strlen("noise:");
    if (len > 0 && len < EXP_CFG_SPEC) {
        memcpy(spec, "noise:", 6);
        memcpy(spec + 6, e->value, len + 1);
        spec_beside_config(p, spec, resolved, sizeof resolved);
    }
    if (len == 0 || len >= EXP_CFG_SPEC || strlen(path) >= sizeof cfg->noise)
        return key_fail(p, DODE_EFORMAT, e->line, e->key, "a noise file path must have 1 to "
                        "%zu characters", sizeof cfg->noise - 1);
    dode_noise *noise = dode_noise_read(path, msg, sizeof msg);
    if (noise == NULL)
        return key_fail(p, DODE_EFORMAT, e->line, e->key, "%s", msg);
    dode_noise_free(noise);             /* checked here; each row reads it again */
    copy_str(cfg->noise, sizeof cfg->noise, path);
    return DODE_OK;
}

static int set_spec(parser *p, const entry *e, void *target)
{
    exp_cfg_model *m = target;
    char spec[EXP_CFG_SPEC];
    if (e->value[0] == '\0' || strlen(e->value) >= sizeof m->spec)
        return key_fail(p, DODE_EFORMAT, e->line, e->key, "a model spec must have 1 to %zu "
                        "characters", sizeof m->spec - 1);
    spec_beside_config(p, e->value, spec, sizeof spec);
    char msg[384];
    dode_model *model = NULL;
    int rc = dode_model_from_spec(spec, &model, msg, sizeof msg);
    if (rc != DODE_OK)
        return key_fail(p, rc, e->line, e->key, "%s", msg);
    dode_model_free(model);             /* loaded once to check it; the sweep loads again */
    copy_str(m->spec, sizeof m->spec, spec);
    m->line = e->line;
    return DODE_OK;
}

const key_rule model_keys[] = {
    { "spec", set_spec }, { "class", set_guidance_list }, { "cfg", set_guidance_list },
    { "interval", set_guidance_list }, { "rescale", set_guidance_list }, { NULL, NULL },
};

/* ---- [sweep] ---- */

static int set_models(parser *p, const entry *e, void *target)
{
    build *b = target;
    char items[EXP_CFG_MAX_LIST][EXP_CFG_NAME];
    size_t n = 0;
    int rc = parse_list(p, e, items, &n);
    size_t used = 0;
    for (size_t i = 0; rc == DODE_OK && i < n; i++) {
        const size_t len = strlen(items[i]), before = used;
        for (size_t k = 0; k < b->ndefined && rc == DODE_OK; k++) {
            const char *d = b->defined[k].name;   /* NAME, or NAME/w=3 of an expansion */
            const int all = strncmp(d, items[i], len) == 0 && d[len] == '/'
                            && strchr(items[i], '/') == NULL;
            if (strcmp(d, items[i]) != 0 && !all)
                continue;
            if (used == EXP_CFG_MAX_LIST)
                rc = key_fail(p, DODE_EFORMAT, e->line, e->key, "more than %d models",
                              EXP_CFG_MAX_LIST);
            else
                b->cfg->models[used++] = b->defined[k];
        }
        if (rc == DODE_OK && used == before)
            return key_fail(p, DODE_ENOTFOUND, e->line, e->key, "no section [model %s]",
                            items[i]);
    }
    if (rc == DODE_OK) {
        b->cfg->nmodels = used;
        b->models_given = 1;
    }
    return rc;
}

static int set_schedules(parser *p, const entry *e, void *target)
{
    exp_config *cfg = ((build *)target)->cfg;
    size_t n = 0;
    int rc = parse_list(p, e, cfg->schedules, &n);
    for (size_t i = 0; rc == DODE_OK && i < n; i++) {
        char msg[384], spec[EXP_CFG_NAME];
        dode_schedule *s = NULL;
        spec_beside_config(p, cfg->schedules[i], spec, sizeof spec);
        copy_str(cfg->schedules[i], EXP_CFG_NAME, spec);
        rc = dode_schedule_from_spec(cfg->schedules[i], &s, msg, sizeof msg);
        if (rc != DODE_OK)
            return key_fail(p, rc, e->line, e->key, "%s", msg);
        dode_schedule_free(s);
    }
    if (rc == DODE_OK)
        cfg->nschedules = n;
    return rc;
}

static int set_spacings(parser *p, const entry *e, void *target)
{
    exp_config *cfg = ((build *)target)->cfg;
    char items[EXP_CFG_MAX_LIST][EXP_CFG_NAME], msg[256];
    size_t n = 0;
    int rc = parse_list(p, e, items, &n);
    for (size_t i = 0; rc == DODE_OK && i < n; i++) {
        cfg->spacing_files[i][0] = '\0';
        if (strncmp(items[i], "file:", 5) == 0) {      /* a grid file (config_grid.c) */
            if (items[i][5] == '\0')
                return key_fail(p, DODE_EFORMAT, e->line, e->key, "\"file:\" needs a path "
                                "to a .npy of sigmas");
            spec_beside_config(p, items[i], cfg->spacing_files[i], EXP_CFG_SPEC);
            cfg->spacings[i] = DODE_SPACING_LOGSNR;     /* what dode_grid_from_sigmas sets */
            continue;
        }
        if (dode_spacing_parse(items[i], &cfg->spacings[i], msg, sizeof msg) != DODE_OK)
            return key_fail(p, DODE_ENOTFOUND, e->line, e->key, "%s", msg);
    }
    if (rc == DODE_OK) {
        cfg->nspacings = n;
        ((build *)target)->spacings_line = e->line;
    }
    return rc;
}

/* A sweep solver: a [solver NAME] variant, else a registry solver with default options. */
static int resolve_solver(parser *p, const entry *e, build *b, const char *name,
                          exp_cfg_solver *out)
{
    for (size_t k = 0; k < b->nvariants; k++)
        if (strcmp(b->variants[k].name, name) == 0) {
            *out = b->variants[k];
            break;
        }
    if (out->type == NULL) {
        out->type = dode_solver_find(name);
        if (out->type == NULL)
            return key_fail(p, DODE_ENOTFOUND, e->line, e->key, "no solver \"%s\" in the "
                            "registry (`diffode list`) or as a [solver %s] section", name, name);
        copy_str(out->name, sizeof out->name, name);
        dode_solver_opts_init(&out->opts);
        out->line = e->line;
    }
    if (out->type->adaptive)
        return key_fail(p, DODE_EINVAL, e->line, e->key, "solver \"%s\" is adaptive: its "
                        "cost follows rtol, not an NFE budget, so it cannot be swept over "
                        "nfe", name);
    return DODE_OK;
}

static int set_solvers(parser *p, const entry *e, void *target)
{
    build *b = target;
    char items[EXP_CFG_MAX_LIST][EXP_CFG_NAME];
    size_t n = 0;
    int rc = parse_list(p, e, items, &n);
    for (size_t i = 0; rc == DODE_OK && i < n; i++) {
        memset(&b->cfg->solvers[i], 0, sizeof b->cfg->solvers[i]);
        rc = resolve_solver(p, e, b, items[i], &b->cfg->solvers[i]);
    }
    if (rc == DODE_OK) {
        b->cfg->nsolvers = n;
        b->solvers_line = e->line;
    }
    return rc;
}

static int set_nfe(parser *p, const entry *e, void *target)
{
    build *b = target;
    b->nfe_line = e->line;
    return parse_size_list(p, e, 1, b->cfg->nfe, &b->cfg->nnfe);
}

static int set_to_zero(parser *p, const entry *e, void *t)
{
    return parse_bool(p, e, &((build *)t)->cfg->to_zero);
}

static int set_rho(parser *p, const entry *e, void *t)
{
    return parse_double(p, e, 0, 0, &((build *)t)->cfg->rho);
}

const key_rule sweep_keys[] = {
    { "models", set_models }, { "schedules", set_schedules }, { "spacings", set_spacings },
    { "solvers", set_solvers }, { "nfe", set_nfe }, { "to_zero", set_to_zero },
    { "rho", set_rho }, { NULL, NULL },
};
