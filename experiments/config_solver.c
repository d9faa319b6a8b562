/* config_solver.c - the key rules of a [solver NAME] section: a registry solver (base)
 * with options, one setter per option of dode_solver_opts, and their solver_keys table. */
#include <string.h>

#include "diffode/ode.h"
#include "diffode/solver.h"
#include "diffode/status.h"
#include "config_impl.h"

/* ---- [solver NAME]: a registry solver with options ---- */

static int set_base(parser *p, const entry *e, void *target)
{
    dode_cfg_solver *s = target;
    s->type = dode_solver_find(e->value);
    if (s->type == NULL)
        return key_fail(p, DODE_ENOTFOUND, e->line, e->key, "no solver \"%s\" (`diffode list` "
                        "names them)", e->value);
    return DODE_OK;
}

static int set_variable(parser *p, const entry *e, void *t)
{
    char msg[256];
    if (dode_variable_parse(e->value, &((dode_cfg_solver *)t)->opts.variable, msg,
                            sizeof msg) != DODE_OK)
        return key_fail(p, DODE_ENOTFOUND, e->line, e->key, "\"%s\" is not one of sigma, t, "
                        "lambda, logsigma", e->value);
    return DODE_OK;
}

#define OPTS(t) (&((dode_cfg_solver *)(t))->opts)

static int set_eta(parser *p, const entry *e, void *t)
{
    return parse_double(p, e, 0, 1, &OPTS(t)->eta);
}

static int set_ddim_xspace(parser *p, const entry *e, void *t)
{
    return parse_bool(p, e, &OPTS(t)->ddim_xspace);
}

static int set_rtol(parser *p, const entry *e, void *t)
{
    return parse_double(p, e, 0, 0, &OPTS(t)->rtol);
}

static int set_atol(parser *p, const entry *e, void *t)
{
    return parse_double(p, e, 0, 0, &OPTS(t)->atol);
}

static int set_h_init(parser *p, const entry *e, void *t)
{
    return parse_double(p, e, 0, 0, &OPTS(t)->h_init);
}

static int set_max_steps(parser *p, const entry *e, void *t)
{
    return parse_size(p, e, e->value, 1, &OPTS(t)->max_steps);
}

static int set_solver_type(parser *p, const entry *e, void *t)
{
    static const char *const names[] = { "dpmsolver", "taylor", NULL };
    return parse_choice(p, e, names, &OPTS(t)->taylor);
}

static int set_d2(parser *p, const entry *e, void *t)
{
    static const char *const names[] = { "official", "taylor", NULL };
    return parse_choice(p, e, names, &OPTS(t)->d2_taylor);
}

static int set_lower_order_final(parser *p, const entry *e, void *t)
{
    return parse_bool(p, e, &OPTS(t)->lower_order_final);
}

static int set_lower_order_threshold(parser *p, const entry *e, void *t)
{
    return parse_size(p, e, e->value, 0, &OPTS(t)->lower_order_threshold);
}

static int set_denoise_to_zero(parser *p, const entry *e, void *t)
{
    return parse_bool(p, e, &OPTS(t)->denoise_to_zero);
}

static int parse_fraction(parser *p, const entry *e, double *out)
{
    double v = 0;
    int rc = parse_double(p, e, 0, 0, &v);
    if (rc == DODE_OK && !(v < 1))
        return key_fail(p, DODE_EINVAL, e->line, e->key, "%g is out of range: expected a "
                        "fraction in (0, 1)", v);
    if (rc == DODE_OK)
        *out = v;
    return rc;
}

static int set_r1(parser *p, const entry *e, void *t)
{
    return parse_fraction(p, e, &OPTS(t)->r1);
}

static int set_r2(parser *p, const entry *e, void *t)
{
    return parse_fraction(p, e, &OPTS(t)->r2);
}

static int set_unipc_bh(parser *p, const entry *e, void *t)
{
    static const char *const names[] = { "bh0", "bh1", "bh2", NULL };   /* bh0 is refused */
    int k = 0, rc = parse_choice(p, e, names + 1, &k);
    if (rc == DODE_OK)
        OPTS(t)->unipc_bh = k + 1;
    return rc;
}

static int set_thresholding(parser *p, const entry *e, void *t)
{
    static const char *const names[] = { "none", "static", "dynamic", NULL };
    return parse_choice(p, e, names, &OPTS(t)->thresholding);
}

static int set_clip_value(parser *p, const entry *e, void *t)
{
    return parse_double(p, e, 0, 0, &OPTS(t)->clip_value);
}

static int set_dynamic_ratio(parser *p, const entry *e, void *t)
{
    int rc = parse_double(p, e, 0, 0, &OPTS(t)->dynamic_ratio);
    if (rc == DODE_OK && !(OPTS(t)->dynamic_ratio <= 1))
        return key_fail(p, DODE_EINVAL, e->line, e->key, "%s is out of range: expected a "
                        "ratio in (0, 1]", e->value);
    return rc;
}

#undef OPTS

const key_rule solver_keys[] = {
    { "base", set_base }, { "variable", set_variable }, { "eta", set_eta },
    { "ddim_xspace", set_ddim_xspace },
    { "rtol", set_rtol }, { "atol", set_atol }, { "h_init", set_h_init },
    { "max_steps", set_max_steps }, { "solver_type", set_solver_type }, { "d2", set_d2 },
    { "lower_order_final", set_lower_order_final },
    { "lower_order_threshold", set_lower_order_threshold },
    { "denoise_to_zero", set_denoise_to_zero }, { "r1", set_r1 }, { "r2", set_r2 },
    { "unipc_bh", set_unipc_bh }, { "thresholding", set_thresholding },
    { "clip_value", set_clip_value }, { "dynamic_ratio", set_dynamic_ratio }, { NULL, NULL },
};
