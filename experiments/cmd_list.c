/* cmd_list.c - `diffode list`: every solver, schedule, spacing, integration variable,
 * model kind and prediction type, as plain aligned text. Everything is read from the
 * tables other code uses (solver registry, model kinds, enum names), so the list cannot
 * drift from what `sample` accepts. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "diffode/diffode.h"

static void list_solvers(void)
{
    printf("solvers:\n  %-16s %-10s %5s %9s %8s  %s\n", "name", "family", "order",
           "nfe/step", "adaptive", "summary");
    for (const dode_solver_type *const *s = dode_solvers(); *s != NULL; s++) {
        const dode_solver_type *t = *s;
        char evals[16] = "-";
        if (!t->adaptive && t->warmup_evals > 0)    /* "1+9": per step, plus once */
            snprintf(evals, sizeof evals, "%d+%d", t->evals_per_step, t->warmup_evals);
        else if (!t->adaptive)
            snprintf(evals, sizeof evals, "%d", t->evals_per_step);
        printf("  %-16s %-10s %5d %9s %8s  %s\n", t->name, t->family != NULL ? t->family : "",
               dode_solver_order(t, NULL), evals, t->adaptive ? "yes" : "no", t->summary != NULL ? t->summary : "");
    }
}

static int list_schedules(void)
{
    char err[512];
    printf("\nschedules (also betas:FILE.npy, alphas_cumprod:FILE.npy):\n"
           "  %-16s %-22s %-26s %s\n", "name", "t range", "sigma range", "levels");
    for (const char *const *name = dode_schedule_names(); *name != NULL; name++) {
        dode_schedule *s = dode_schedule_new(*name, err, sizeof err);
        if (s == NULL) {
            fprintf(stderr, "diffode list: %s\n", err);
            return CLI_EXIT_RUNTIME;
        }
        const double t0 = dode_schedule_t_min(s), t1 = dode_schedule_t_max(s);
        char trange[64], srange[64], levels[32] = "continuous";
        snprintf(trange, sizeof trange, "[%g, %g]", t0, t1);
        snprintf(srange, sizeof srange, "%.6g -> %.6g", dode_schedule_sigma(s, t1),
                 dode_schedule_sigma(s, t0));
        if (dode_schedule_levels(s) > 0)
            snprintf(levels, sizeof levels, "%zu", dode_schedule_levels(s));
        printf("  %-16s %-22s %-26s %s\n", *name, trange, srange, levels);
        dode_schedule_free(s);
    }
    return 0;
}

static void list_names(void)
{
    printf("\nspacings (--spacing):");
    for (int k = 0; k < DODE_SPACING_COUNT; k++)
        printf(" %s", dode_spacing_name((dode_spacing)k));
    printf("\nintegration variables (--variable):");
    for (int k = DODE_VAR_SIGMA; k <= DODE_VAR_LOGSIGMA; k++)
        printf(" %s", dode_variable_name((dode_variable)k));
    printf("\n\nmodels (--model):\n");
    for (const dode_model_kind *k = dode_model_kinds(); k->kind != NULL; k++)
        printf("  %-54s %s\n", k->syntax, k->summary);
    printf("\nprediction types (predict=):");
    for (int k = DODE_PRED_EPS; k < DODE_PRED_COUNT; k++)
        printf(" %s", dode_prediction_name((dode_prediction)k));
    printf("\n");
}

/* --options: the library's option table, as the CLI spells it and configs key it. */
static void list_options(void)
{
    printf("solver options (sample: --KEY with '-' for '_'; configs: KEY = VALUE in "
           "[solver NAME]):\n");
    for (const dode_solver_option *r = dode_solver_options(); r->key != NULL; r++) {
        char values[160] = "";
        if (r->kind == DODE_OPTION_CHOICE)
            for (size_t k = 0; r->choices[k] != NULL; k++)
                snprintf(values + strlen(values), sizeof values - strlen(values), "%s%s",
                         k ? "|" : "", r->choices[k]);
        else if (r->kind == DODE_OPTION_BOOL)
            snprintf(values, sizeof values, "yes|no%s", r->cli_switch ? " (flag alone: yes)"
                                                                      : "");
        else if (r->kind == DODE_OPTION_COUNT)
            snprintf(values, sizeof values, "integer >= %g", r->lo);
        else if (r->kind == DODE_OPTION_RESTART_LIST)
            snprintf(values, sizeof values, "tmin:tmax:K:steps;... (up to %d)",
                     DODE_RESTART_MAX);
        else if (isfinite(r->hi))
            snprintf(values, sizeof values, "%c%g, %g%c", r->lo_open ? '(' : '[', r->lo,
                     r->hi, r->hi_open ? ')' : ']');
        else
            snprintf(values, sizeof values, "%s %g", r->lo_open ? ">" : ">=", r->lo);
        printf("  %s\n      %s\n      values: %s; default: %s\n      read by: %s\n", r->key,
               r->help, values, r->default_text, r->readers);
    }
}

int cmd_list(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: diffode list [--options]\n\nPrints the solvers, schedules, spacings, "
               "integration variables, model kinds and prediction types diffode knows;\n"
               "with --options, every solver option with its values, default and readers.\n");
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--options") == 0) {
        list_options();
        return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
    }
    if (argc > 1) {
        fprintf(stderr, "diffode list: unexpected argument '%s'\n", argv[1]);
        return CLI_EXIT_USAGE;
    }
    list_solvers();
    if (list_schedules() != 0)
        return CLI_EXIT_RUNTIME;
    list_names();
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}
