/* config.c - reads and checks an experiment config (config.h) with inih.
 *
 * Two passes. inih reads the text through our own line reader (which counts lines, since
 * Debian's inih calls the handler without a line number, and records every [section]
 * header) into a flat list of (section, key, value, line) entries; then each entry is
 * interpreted by its section's key table. Nothing of the sweep runs until the whole file
 * has passed, so a typo on the last line costs nothing.
 *
 * This file holds pass two (section classification, the interpret and check phase) and
 * the public entry points; pass one is config_read.c, the typed value parsers
 * config_values.c, the key rules config_keys.c and config_solver.c ([solver NAME]), and
 * what they share config_impl.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/schedule.h"
#include "diffode/fileio.h"
#include "diffode/status.h"
#include "cli.h"
#include "config.h"
#include "config_impl.h"

/* ---- sections ---- */

typedef enum { SEC_EXPERIMENT, SEC_SWEEP, SEC_MODEL, SEC_SOLVER } section_kind;

/* "experiment", "sweep", "model NAME" or "solver NAME"; name gets NAME. */
static int classify(parser *p, const header *h, section_kind *kind, char *name)
{
    const char *t = h->text, *sp = t + strcspn(t, " \t");
    const size_t wlen = (size_t)(sp - t);
    while (*sp == ' ' || *sp == '\t')
        sp++;
    const size_t nlen = strspn(sp, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "0123456789-_.:+");
    const int named = *sp != '\0' && sp[nlen] == '\0' && nlen < EXP_CFG_NAME;
    if (strcmp(t, "experiment") == 0 || strcmp(t, "sweep") == 0)
        *kind = t[0] == 'e' ? SEC_EXPERIMENT : SEC_SWEEP;
    else if (named && wlen == 5 && strncmp(t, "model", 5) == 0)
        *kind = SEC_MODEL;
    else if (named && wlen == 6 && strncmp(t, "solver", 6) == 0)
        *kind = SEC_SOLVER;
    else
        return key_fail(p, DODE_EFORMAT, h->line, NULL, "unknown section [%s]: expected "
                        "[experiment], [sweep], [model NAME] or [solver NAME] (NAME of "
                        "letters, digits and -_.:+)", t);
    copy_str(name, EXP_CFG_NAME, *kind >= SEC_MODEL ? sp : "");
    return DODE_OK;
}

/* Applies every entry of section to target through rules; unknown keys are errors. */
static int apply_section(parser *p, const header *h, const key_rule *rules, void *target)
{
    for (size_t i = 0; i < p->n; i++) {
        const entry *e = &p->entries[i];
        if (strcmp(e->section, h->text) != 0)
            continue;
        const key_rule *r = rules;
        while (r->key != NULL && strcmp(r->key, e->key) != 0 && strcmp(r->key, "*") != 0)
            r++;
        if (r->key == NULL) {
            char known[512] = "";
            for (const key_rule *k = rules; k->key != NULL; k++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                         k == rules ? "" : ", ", k->key);
            return key_fail(p, DODE_EFORMAT, e->line, e->key, "unknown in [%s] (known: %s)",
                            h->text, known);
        }
        int rc = r->set(p, e, target);
        if (rc != DODE_OK)
            return rc;
    }
    return DODE_OK;
}

static const entry *find_entry(const parser *p, const char *section, const char *key)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->entries[i].section, section) == 0 && strcmp(p->entries[i].key, key) == 0)
            return &p->entries[i];
    return NULL;
}

static int require(parser *p, const header *h, const char *key)
{
    if (find_entry(p, h->text, key) == NULL)
        return key_fail(p, DODE_EINVAL, h->line, key, "missing in [%s]", h->text);
    return DODE_OK;
}

/* "key=value;key=value" of a variant's options, as given, for the CSV's options column. */
static void options_text(const parser *p, const header *h, exp_cfg_solver *s)
{
    s->options[0] = '\0';
    for (size_t i = 0; i < p->n; i++) {
        const entry *e = &p->entries[i];
        if (strcmp(e->section, h->text) != 0 || strcmp(e->key, "base") == 0)
            continue;
        const size_t used = strlen(s->options);
        snprintf(s->options + used, sizeof s->options - used, "%s%s=%s", used ? ";" : "",
                 e->key, e->value);
    }
}

static int define_model(parser *p, const header *h, const char *name, build *b)
{
    exp_cfg_model *m = &b->defined[b->ndefined];
    copy_str(m->name, sizeof m->name, name);
    int rc = apply_section(p, h, model_keys, m);
    if (rc == DODE_OK)
        rc = require(p, h, "spec");
    if (rc == DODE_OK)
        rc = expand_model(p, h, b);     /* one model, or one per guidance value */
    return rc;
}

static int define_solver(parser *p, const header *h, const char *name, build *b)
{
    exp_cfg_solver *s = &b->variants[b->nvariants];
    copy_str(s->name, sizeof s->name, name);
    dode_solver_opts_init(&s->opts);
    s->line = h->line;
    if (dode_solver_find(name) != NULL)
        return key_fail(p, DODE_EINVAL, h->line, NULL, "section [%s] would hide the registry "
                        "solver \"%s\": give the variant another name", h->text, name);
    int rc = apply_section(p, h, solver_keys, s);
    if (rc == DODE_OK)
        rc = require(p, h, "base");
    if (rc == DODE_OK) {
        options_text(p, h, s);
        b->nvariants++;
    }
    return rc;
}

static void config_defaults(exp_config *cfg)
{
    cfg->samples = 256;
    cfg->nseeds = 1;                    /* seeds[0] = 0 */
    cfg->reference = DODE_REFERENCE_AUTO;
    cfg->ref_rtol = cfg->ref_atol = 1e-12;
    cfg->t_max = cfg->t_min = NAN;
    cfg->true_samples = 4096;
    cfg->projections = 64;
    cfg->order_nfe_min = 20;            /* MATH.md section 8 */
    cfg->order_floor = 1e-13;
    cfg->spacings[0] = DODE_SPACING_LOGSNR;
    cfg->nspacings = 1;
    cfg->rho = 7;
    cfg->baseline = -1;
}

/* Each header once; no more than EXP_CFG_MAX_LIST models or solvers. */
static int check_headers(parser *p, section_kind *kinds, char (*names)[EXP_CFG_NAME])
{
    size_t counts[4] = { 0 };
    for (size_t i = 0; i < p->nh; i++) {
        int rc = classify(p, &p->headers[i], &kinds[i], names[i]);
        if (rc != DODE_OK)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->headers[i].text, p->headers[j].text) == 0)
                return key_fail(p, DODE_EFORMAT, p->headers[i].line, NULL, "section [%s] "
                                "given twice (first on line %d)", p->headers[i].text,
                                p->headers[j].line);
        if (++counts[kinds[i]] > EXP_CFG_MAX_LIST)
            return key_fail(p, DODE_EFORMAT, p->headers[i].line, NULL, "more than %d "
                            "sections of this kind", EXP_CFG_MAX_LIST);
    }
    return DODE_OK;
}

/* Every (schedule, spacing) pair must make a grid on the time range: ddim spacings need
 * a discrete schedule, t_max and t_min must lie in the schedule's range. */
static int check_grids(parser *p, const build *b, int line)
{
    const exp_config *cfg = b->cfg;
    char msg[384];
    int rc = DODE_OK;
    for (size_t i = 0; rc == DODE_OK && i < cfg->nschedules; i++) {
        dode_schedule *s = NULL;
        rc = dode_schedule_from_spec(cfg->schedules[i], &s, msg, sizeof msg);
        for (size_t k = 0; rc == DODE_OK && k < cfg->nspacings; k++) {
            dode_grid g = { 0 };
            rc = exp_config_grid(cfg, k, s, 0, &g, msg, sizeof msg);
            dode_grid_free(&g);
        }
        dode_schedule_free(s);
    }
    if (rc != DODE_OK)
        return key_fail(p, rc, line, "spacings", "%s", msg);
    return DODE_OK;
}

/* With trajectory = yes every row stores samples x (nfe + 2) points: within CFG_MAX_TRACE. */
static int check_trace_size(parser *p, const header *exp, const build *b)
{
    const exp_config *cfg = b->cfg;
    for (size_t k = 0; cfg->trajectory && k < cfg->nnfe; k++) {
        const size_t points = cfg->nfe[k] + 2;
        if (points > CFG_MAX_TRACE / cfg->samples) {
            const entry *e = find_entry(p, exp->text, "samples");
            return key_fail(p, DODE_EINVAL, e != NULL ? e->line : b->nfe_line,
                            e != NULL ? "samples" : "nfe", "samples %zu x (nfe %zu + 2) "
                            "trajectory points exceed the limit of 2^31 (trajectory = yes "
                            "stores every step): lower samples or nfe, or set trajectory = no",
                            cfg->samples, cfg->nfe[k]);
        }
    }
    return DODE_OK;
}

/* An NFE budget below the fewest steps a solver takes; PNDM and PLMS also spend a
 * warm-up (solver.h warmup_evals), which the message names. */
static int nfe_too_few(parser *p, int line, const char *name, const dode_solver_type *t,
                       size_t nfe)
{
    if (t->warmup_evals > 0)
        return key_fail(p, DODE_EINVAL, line, "nfe", "%zu is too few for solver \"%s\" (%d "
                        "NFE per step plus %d for its warm-up, at least %d steps)", nfe, name,
                        t->evals_per_step, t->warmup_evals, t->min_steps > 1 ? t->min_steps : 1);
    return key_fail(p, DODE_EINVAL, line, "nfe", "%zu is below one step of solver \"%s\" "
                    "(%d NFE per step)", nfe, name, t->evals_per_step);
}

/* What every sweep needs, and what only the whole config can tell. */
static int check_sweep(parser *p, const header *exp, const header *sweep, build *b)
{
    exp_config *cfg = b->cfg;
    if (exp == NULL || sweep == NULL)
        return dode_fail(p->err, p->errlen, DODE_EINVAL, "%s: missing section [%s]",
                         p->source, exp == NULL ? "experiment" : "sweep");
    int rc = require(p, exp, "name");
    if (rc == DODE_OK)
        rc = require(p, sweep, "schedules");
    if (rc == DODE_OK)
        rc = require(p, sweep, "solvers");
    if (rc == DODE_OK)
        rc = require(p, sweep, "nfe");
    if (rc != DODE_OK)
        return rc;
    if (cfg->nmodels == 0)
        return key_fail(p, DODE_EINVAL, sweep->line, "models", "no model to run: add a "
                        "[model NAME] section with a spec");
    if (isfinite(cfg->t_max) && isfinite(cfg->t_min) && !(cfg->t_min < cfg->t_max))
        return key_fail(p, DODE_EINVAL, find_entry(p, exp->text, "t_min")->line, "t_min",
                        "%g is not below t_max = %g", cfg->t_min, cfg->t_max);
    rc = check_grids(p, b, b->spacings_line ? b->spacings_line : sweep->line);
    if (rc != DODE_OK)
        return rc;
    for (size_t i = 0; cfg->baseline_name[0] != '\0' && i < cfg->nsolvers; i++)
        if (strcmp(cfg->solvers[i].name, cfg->baseline_name) == 0)
            cfg->baseline = (int)i;
    if (cfg->baseline_name[0] != '\0' && cfg->baseline < 0)
        return key_fail(p, DODE_ENOTFOUND, find_entry(p, exp->text, "baseline")->line,
                        "baseline", "\"%s\" is not in [sweep] solvers", cfg->baseline_name);
    for (size_t i = 0; i < cfg->nsolvers; i++)
        for (size_t k = 0; k < cfg->nnfe; k++)
            if (dode_solver_steps_for_nfe(cfg->solvers[i].type, cfg->nfe[k]) == 0)
                return nfe_too_few(p, b->nfe_line, cfg->solvers[i].name,
                                   cfg->solvers[i].type, cfg->nfe[k]);
    return check_trace_size(p, exp, b);
}

/* Pass two: entries -> config, section by section ([model]s and [solver]s before the
 * [sweep] that names them). */
static int interpret(parser *p, build *b)
{
    section_kind kinds[4 * EXP_CFG_MAX_LIST + 2];
    char names[4 * EXP_CFG_MAX_LIST + 2][EXP_CFG_NAME];
    if (p->nh > sizeof kinds / sizeof kinds[0])
        return key_fail(p, DODE_EFORMAT, p->headers[p->nh - 1].line, NULL, "too many sections");
    int rc = check_headers(p, kinds, names);
    const header *exp = NULL, *sweep = NULL;
    config_defaults(b->cfg);
    for (size_t i = 0; rc == DODE_OK && i < p->nh; i++) {
        if (kinds[i] == SEC_EXPERIMENT)
            rc = apply_section(p, exp = &p->headers[i], experiment_keys, b->cfg);
        else if (kinds[i] == SEC_MODEL)
            rc = define_model(p, &p->headers[i], names[i], b);
        else if (kinds[i] == SEC_SOLVER)
            rc = define_solver(p, &p->headers[i], names[i], b);
        else
            sweep = &p->headers[i];
    }
    if (rc == DODE_OK && sweep != NULL)
        rc = apply_section(p, sweep, sweep_keys, b);
    if (rc == DODE_OK && !b->models_given) {
        memcpy(b->cfg->models, b->defined, b->ndefined * sizeof b->defined[0]);
        b->cfg->nmodels = b->ndefined;
    }
    return rc == DODE_OK ? check_sweep(p, exp, sweep, b) : rc;
}

int exp_config_parse(const char *text, const char *source, exp_config *cfg,
                      char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    parser p = { .source = source, .text = text, .err = err, .errlen = errlen };
    build *b = calloc(1, sizeof *b);
    exp_config *tmp = calloc(1, sizeof *tmp);
    int rc = b && tmp ? DODE_OK : dode_fail(err, errlen, DODE_ENOMEM, "%s: out of memory "
                                            "for the config", source);
    if (rc == DODE_OK) {
        b->cfg = tmp;
        tmp->path = strdup(source);     /* set first: grid-file templates resolve beside it */
        rc = tmp->path != NULL ? read_entries(&p)
                               : dode_fail(err, errlen, DODE_ENOMEM, "%s: out of memory",
                                           source);
    }
    if (rc == DODE_OK)
        rc = interpret(&p, b);
    if (rc != DODE_OK && tmp != NULL)
        free(tmp->path);
    if (rc == DODE_OK) {
        tmp->text = strdup(text);
        if (tmp->path == NULL || tmp->text == NULL) {
            exp_config_free(tmp);
            rc = dode_fail(err, errlen, DODE_ENOMEM, "%s: out of memory", source);
        } else {
            *cfg = *tmp;
        }
    }
    free(p.entries);
    free(p.headers);
    free(b);
    free(tmp);
    return rc;
}

int exp_config_load(const char *path, exp_config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    char *text = NULL, why[512];
    size_t len = 0;         /* a regular file of bounded size: not /dev/zero, not a FIFO */
    const int rc0 = dode_file_read(path, EXP_CFG_MAX_BYTES, &text, &len, why, sizeof why);
    if (rc0 != DODE_OK)
        return dode_fail(err, errlen, rc0, "config: %s", why);   /* why names the path */
    if (strlen(text) != len) {
        free(text);
        return dode_fail(err, errlen, DODE_EFORMAT, "%s: contains a NUL byte", path);
    }
    int rc = exp_config_parse(text, path, cfg, err, errlen);
    free(text);
    return rc;
}

void exp_config_free(exp_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->path);
    free(cfg->text);
    cfg->path = cfg->text = NULL;
}

size_t exp_config_runs(const exp_config *cfg)
{
    return cfg->nmodels * cfg->nschedules * cfg->nspacings * cfg->nsolvers * cfg->nnfe *
           cfg->nseeds;
}
