/* cli_args.c - the table-driven flag parser the subcommands share (cli.h).
 *
 * Numbers are read strictly: the whole argument must be the number (strtod / digits
 * only), so "--nfe 20x", "--nfe -3" and "--rtol nan" are refused with the flag and value
 * named, never half-read, and the message says what is wrong with it (not a number,
 * infinite, overflowing, subnormal); a count above its bound in limits.h is refused with
 * the bound (`--nfe 1000000000`). cli_read_rows reads the .npy file a flag names, checked
 * against the model's dim; cli_schedule_and_model reads a subcommand's --schedule and
 * --model through the library's spec readers (spec.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diffode/io.h"
#include "diffode/limits.h"
#include "diffode/status.h"

int cli_exit_status(int rc)
{
    if (rc == DODE_OK)
        return 0;
    return rc == DODE_EINVAL || rc == DODE_ENOTFOUND || rc == DODE_EUNSUPPORTED ||
                   rc == DODE_EFORMAT
               ? CLI_EXIT_USAGE
               : CLI_EXIT_RUNTIME;
}

/* The choices as "a|b|c" for messages. */
static void choices_text(const char *const *choices, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t k = 0; choices[k] != NULL && used < len; k++) {
        const int w = snprintf(buf + used, len - used, "%s%s", k > 0 ? "|" : "", choices[k]);
        if (w < 0)
            return;
        used += (size_t)w;
    }
}

static int store_choice(const cli_flag *f, const char *value, int *field, char *err,
                        size_t errlen)
{
    for (int k = 0; f->choices[k] != NULL; k++) {
        if (strcmp(f->choices[k], value) == 0) {
            *field = k;
            return DODE_OK;
        }
    }
    char list[256];
    choices_text(f->choices, list, sizeof list);
    return dode_fail(err, errlen, DODE_EINVAL, "%s '%s': expected one of %s", f->name, value,
                     list);
}

const char *cli_number_problem(const char *s)
{
    char *end;
    errno = 0;
    const double v = strtod(s, &end);
    if (*s == '\0' || end == s || *end != '\0')
        return "is not a number";
    if (isnan(v))
        return "is NaN, not a finite number";
    if (isinf(v) && errno != ERANGE)
        return "is infinite, not a finite number";
    if (errno == ERANGE && fabs(v) > 1.0)
        return "overflows a double (above 1.8e308)";
    if (errno == ERANGE || (v != 0 && fabs(v) < DBL_MIN))
        return "is subnormal (not 0 but below 2.2e-308, the smallest normal double): "
               "too small to compute with";
    return NULL;
}

/* A count above its bound in limits.h: "--nfe 1000000000: above the limit of ...". */
static int count_bound(const cli_flag *f, size_t u, char *err, size_t errlen)
{
    char key[64];
    snprintf(key, sizeof key, "%s", f->name + 2);
    for (char *c = key; *c != '\0'; c++)
        *c = *c == '-' ? '_' : *c;
    const dode_count_limit *l = dode_count_limit_find(key);
    if (l == NULL || u <= l->max)
        return DODE_OK;
    return dode_fail(err, errlen, DODE_EINVAL, "%s %zu is above the limit of %zu %s",
                     f->name, u, l->max, l->what);
}

/* Reads value into the field of opts that row f names. */
static int store_value(const cli_flag *f, const char *value, void *opts, char *err,
                       size_t errlen)
{
    void *field = (char *)opts + f->offset;
    double d = 0;
    size_t u = 0;
    const char *need = NULL;
    switch (f->kind) {
    case CLI_STRING:
        *(const char **)field = value;
        return DODE_OK;
    case CLI_CHOICE:
        return store_choice(f, value, field, err, errlen);
    case CLI_SWITCH:
        *(int *)field = 1;
        return DODE_OK;
    case CLI_COUNT:
    case CLI_UINT:
        if (dode_spec_whole(value, &u) != 0 || (f->kind == CLI_COUNT && u == 0))
            need = f->kind == CLI_COUNT ? "a whole number >= 1" : "a whole number >= 0";
        else if (count_bound(f, u, err, errlen) != DODE_OK)
            return DODE_EINVAL;
        else
            *(size_t *)field = u;
        break;
    default:
        if (dode_spec_number(value, &d) != 0 || (f->kind == CLI_POSITIVE && !(d > 0))
            || (f->kind == CLI_NONNEG && !(d >= 0)))
            need = f->kind == CLI_POSITIVE ? "a finite number > 0"
                 : f->kind == CLI_NONNEG   ? "a finite number >= 0" : "a finite number";
        else
            *(double *)field = d;
        break;
    }
    const char *why = need != NULL ? cli_number_problem(value) : NULL;
    if (why != NULL && f->kind != CLI_COUNT && f->kind != CLI_UINT)
        return dode_fail(err, errlen, DODE_EINVAL, "%s '%s' %s", f->name, value, why);
    if (need != NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "%s '%s': expected %s", f->name, value, need);
    return DODE_OK;
}

/* The row for argument arg ("--name" or "--name=value"); *inline_value set for the latter.
 * A solver option (options.h) matches the CLI_SOLVER_OPTIONS row, *option its table row. */
static const cli_flag *find_flag(const cli_flag *flags, unsigned mask, const char *arg,
                                 const char **inline_value, const dode_solver_option **option)
{
    const char *eq = strchr(arg, '=');
    const size_t len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    char name[128];
    *inline_value = eq != NULL ? eq + 1 : NULL;
    *option = NULL;
    for (const cli_flag *f = flags; f->name != NULL; f++)
        if ((f->mask & mask) != 0 && f->kind != CLI_SOLVER_OPTIONS && strlen(f->name) == len
            && strncmp(f->name, arg, len) == 0)
            return f;
    snprintf(name, sizeof name, "%.*s", (int)len, arg);
    for (const cli_flag *f = flags; f->name != NULL; f++)
        if ((f->mask & mask) != 0 && f->kind == CLI_SOLVER_OPTIONS && strchr(name, '_') == NULL
            && (*option = dode_solver_option_find(name)) != NULL)
            return f;
    return NULL;
}

/* A solver option's value into the dode_solver_opts the row points at. */
static int store_option(const cli_flag *f, const char *flag, const char *value, void *opts,
                        char *err, size_t errlen)
{
    char why[256];
    dode_solver_opts *o = (dode_solver_opts *)((char *)opts + f->offset);
    const dode_solver_option *r = dode_solver_option_find(flag);
    int rc = dode_solver_opts_set(o, r->key, value, why, sizeof why);
    return rc == DODE_OK ? DODE_OK : dode_fail(err, errlen, rc, "%s '%s': %s", flag, value, why);
}

int cli_parse(const cli_flag *flags, unsigned mask, int argc, char **argv, void *opts,
              char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            return CLI_HELP;
        if (strncmp(arg, "--", 2) != 0)
            return dode_fail(err, errlen, DODE_EINVAL, "unexpected argument '%s' (options "
                             "start with --; see --help)", arg);
        const dode_solver_option *option;
        const cli_flag *f = find_flag(flags, mask, arg, &value, &option);
        if (f == NULL)
            return dode_fail(err, errlen, DODE_ENOTFOUND, "unknown option '%s' (see --help)",
                             arg);
        char flag[128];
        snprintf(flag, sizeof flag, "%.*s", (int)strcspn(arg, "="), arg);
        const int is_switch = f->kind == CLI_SWITCH || (option != NULL && option->cli_switch);
        if (f->kind == CLI_SWITCH && value != NULL)
            return dode_fail(err, errlen, DODE_EINVAL, "%s takes no value (got '%s')",
                             f->name, value);
        if (is_switch && value == NULL)
            value = "1";
        if (!is_switch && value == NULL) {
            if (i + 1 >= argc)
                return dode_fail(err, errlen, DODE_EINVAL, "%s needs a value%s%s", flag,
                                 f->metavar != NULL ? " " : "",
                                 f->metavar != NULL ? f->metavar : "");
            value = argv[++i];
        }
        int rc = option != NULL ? store_option(f, flag, value, opts, err, errlen)
                                : store_value(f, value, opts, err, errlen);
        if (rc != DODE_OK)
            return rc;
    }
    return CLI_PARSED;
}

void cli_usage(FILE *out, const char *cmd, const char *synopsis, const cli_flag *flags,
               unsigned mask)
{
    fprintf(out, "usage: diffode %s %s\n\noptions:\n", cmd, synopsis);
    for (const cli_flag *f = flags; f->name != NULL; f++) {
        if ((f->mask & mask) == 0)
            continue;
        char head[64];
        if (f->kind == CLI_SOLVER_OPTIONS) {     /* one line per row of the option table */
            for (const dode_solver_option *r = dode_solver_options(); r->key != NULL; r++) {
                snprintf(head, sizeof head, "--");
                for (const char *c = r->key; *c != '\0' && strlen(head) < 40; c++)
                    snprintf(head + strlen(head), sizeof head - strlen(head), "%c",
                             *c == '_' ? '-' : *c);
                if (!r->cli_switch)
                    snprintf(head + strlen(head), sizeof head - strlen(head), " V");
                fprintf(out, "  %-24s %s (default %s)\n", head, r->help, r->default_text);
            }
            continue;
        }
        snprintf(head, sizeof head, "%s%s%s", f->name, f->metavar != NULL ? " " : "",
                 f->metavar != NULL ? f->metavar : "");
        fprintf(out, "  %-24s %s\n", head, f->help);
        if (strcmp(f->name, "--model") == 0)     /* every kind of the library's spec table */
            for (const dode_model_kind *k = dode_model_kinds(); k->kind != NULL; k++)
                fprintf(out, "  %-24s   %s\n", "", k->syntax);
    }
    fprintf(out, "  %-24s %s\n", "--help", "this text");
    fprintf(out, "\nexit status: 0 success, 1 runtime failure, 2 usage or input error, "
            "130 interrupted\n");
}

int cli_read_rows(const char *flag, const char *path, size_t dim, size_t min_rows,
                  double **x, size_t *rows, char *err, size_t errlen)
{
    char why[512], n[40] = "n";
    size_t r = 0, cols = 0;
    double *data = NULL;
    const int rc = dode_npy_read(path, &data, &r, &cols, why, sizeof why);
    if (rc != DODE_OK)
        return dode_fail(err, errlen, rc, "%s: %s", flag, why);
    if (cols != dim || r < min_rows) {
        free(data);
        if (min_rows > 0)
            snprintf(n, sizeof n, "n >= %zu", min_rows);
        return dode_fail(err, errlen, DODE_EFORMAT, "%s %s: shape (%zu, %zu), but the model "
                         "has dim %zu: expected (%s, %zu)", flag, path, r, cols, dim, n, dim);
    }
    *x = data;
    *rows = r;
    return DODE_OK;
}

int cli_schedule_and_model(const char *schedule_spec, const char *model_spec,
                           dode_schedule **sched, dode_model **model, char *err,
                           size_t errlen)
{
    char why[512];
    int rc = dode_schedule_from_spec(schedule_spec, sched, why, sizeof why);
    if (rc != DODE_OK)
        return dode_fail(err, errlen, rc, "--schedule: %s", why);
    if ((rc = dode_model_from_spec(model_spec, model, why, sizeof why)) != DODE_OK)
        return dode_fail(err, errlen, rc, "--model: %s", why);
    return DODE_OK;
}

int cli_finish_report(const char *cmd, int rc, const struct cJSON *json, char *err,
                      size_t errlen)
{
    char *line = rc == DODE_OK && json != NULL ? cJSON_PrintUnformatted(json) : NULL;
    if (rc == DODE_OK && line == NULL)
        rc = dode_fail(err, errlen, DODE_ENOMEM, "cannot format the JSON report");
    if (rc == DODE_OK)
        printf("%s\n", line);
    else
        fprintf(stderr, "diffode %s: %s\n", cmd, err);
    cJSON_free(line);
    return rc;
}
