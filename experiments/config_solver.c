/* config_solver.c - the key rules of a [solver NAME] section: a registry solver (base)
 * with options. Every option key is a row of the library's option table (options.h),
 * parsed and bounded there exactly as the CLI flags are, so a new option needs no line
 * here. */
#include <stdio.h>
#include <string.h>

#include "diffode/options.h"
#include "diffode/solver.h"
#include "diffode/status.h"
#include "config_impl.h"

static int set_base(parser *p, const entry *e, void *target)
{
    exp_cfg_solver *s = target;
    s->type = dode_solver_find(e->value);
    if (s->type == NULL)
        return key_fail(p, DODE_ENOTFOUND, e->line, e->key, "no solver \"%s\" (`diffode list` "
                        "names them)", e->value);
    return DODE_OK;
}

/* Any other key: a solver option (its CLI spelling with '-' is not a config key). */
static int set_option(parser *p, const entry *e, void *target)
{
    char why[256];
    if (dode_solver_option_find(e->key) == NULL || strchr(e->key, '-') != NULL) {
        char known[512] = "base";
        for (const dode_solver_option *r = dode_solver_options(); r->key != NULL; r++)
            snprintf(known + strlen(known), sizeof known - strlen(known), ", %s", r->key);
        return key_fail(p, DODE_EFORMAT, e->line, e->key, "unknown in a [solver] section "
                        "(known: %s)", known);
    }
    const int rc = dode_solver_opts_set(&((exp_cfg_solver *)target)->opts, e->key, e->value,
                                        why, sizeof why);
    return rc == DODE_OK ? DODE_OK : key_fail(p, rc, e->line, e->key, "%s", why);
}

/* "*" matches any key not matched before it (apply_section, config.c). */
const key_rule solver_keys[] = {
    { "base", set_base }, { "*", set_option }, { NULL, NULL },
};
