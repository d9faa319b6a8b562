/* config_values.c - the typed value parsers every section's key rules use: a size, a
 * bounded finite double, a yes/no, one of a list of names, a comma-separated list (no
 * empty item, no repeats) and a list of sizes. Each writes its output only on success and
 * otherwise names the file, line and key (key_fail). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/limits.h"
#include "diffode/status.h"
#include "cli.h"
#include "config_impl.h"

int parse_size(parser *p, const entry *e, const char *s, size_t min, size_t *out)
{
    char *end;
    errno = 0;
    const unsigned long long v = strtoull(s, &end, 10);
    if (!isdigit((unsigned char)*s) || *end != '\0' || errno == ERANGE || v < min ||
        v > (unsigned long long)SIZE_MAX)
        return key_fail(p, DODE_EFORMAT, e->line, e->key, "\"%s\" is not %s integer", s,
                        min > 0 ? "a positive" : "a non-negative");
    const dode_count_limit *l = dode_count_limit_find(e->key);     /* the CLI's bounds */
    if (l != NULL && v > l->max)
        return key_fail(p, DODE_EINVAL, e->line, e->key, "%llu is above the limit of %zu %s",
                        v, l->max, l->what);
    *out = (size_t)v;
    return DODE_OK;
}

/* A finite double > lo (or >= lo when lo_ok): the checks every option here needs. */
int parse_double(parser *p, const entry *e, double lo, int lo_ok, double *out)
{
    char *end;
    errno = 0;
    const double v = strtod(e->value, &end);
    const char *why = cli_number_problem(e->value);     /* subnormals too (issue 18) */
    if (why != NULL)
        return key_fail(p, DODE_EFORMAT, e->line, e->key, "\"%s\" %s", e->value, why);
    if (end == e->value || *end != '\0' || !isfinite(v))
        return key_fail(p, DODE_EFORMAT, e->line, e->key, "\"%s\" is not a number", e->value);
    if (lo_ok ? !(v >= lo) : !(v > lo))
        return key_fail(p, DODE_EINVAL, e->line, e->key, "%g is out of range: expected %s %g",
                        v, lo_ok ? ">=" : ">", lo);
    *out = v;
    return DODE_OK;
}

int parse_bool(parser *p, const entry *e, int *out)
{
    static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = {
        "no", "false", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(e->value, yes[i]) == 0)
            return *out = 1, DODE_OK;
        if (strcmp(e->value, no[i]) == 0)
            return *out = 0, DODE_OK;
    }
    return key_fail(p, DODE_EFORMAT, e->line, e->key, "\"%s\" is not yes or no", e->value);
}

/* Picks value among names (NULL-terminated); *out = its index. */
int parse_choice(parser *p, const entry *e, const char *const *names, int *out)
{
    char known[160] = "";
    for (int i = 0; names[i] != NULL; i++) {
        if (strcmp(e->value, names[i]) == 0)
            return *out = i, DODE_OK;
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                 i ? ", " : "", names[i]);
    }
    return key_fail(p, DODE_ENOTFOUND, e->line, e->key, "\"%s\" is not one of %s", e->value,
                    known);
}

/* Splits a comma-separated value into trimmed items (no empty item, no repeats). */
int parse_list(parser *p, const entry *e, char items[][EXP_CFG_NAME], size_t *count)
{
    char buf[sizeof e->value];
    copy_str(buf, sizeof buf, e->value);
    size_t n = 0;
    for (char *item = buf, *comma; item != NULL; item = comma ? comma + 1 : NULL) {
        comma = strchr(item, ',');
        if (comma)
            *comma = '\0';
        char *t = trim(item);
        if (*t == '\0')
            return key_fail(p, DODE_EFORMAT, e->line, e->key, "empty entry in list \"%s\"",
                            e->value);
        if (n == EXP_CFG_MAX_LIST)
            return key_fail(p, DODE_EFORMAT, e->line, e->key, "more than %d entries",
                            EXP_CFG_MAX_LIST);
        if (strlen(t) >= EXP_CFG_NAME)
            return key_fail(p, DODE_EFORMAT, e->line, e->key, "entry \"%.20s...\" longer "
                            "than %d characters", t, EXP_CFG_NAME - 1);
        for (size_t i = 0; i < n; i++)
            if (strcmp(items[i], t) == 0)
                return key_fail(p, DODE_EFORMAT, e->line, e->key, "\"%s\" listed twice", t);
        copy_str(items[n++], EXP_CFG_NAME, t);
    }
    *count = n;
    return DODE_OK;
}

/* Items of a list parsed as integers >= min. */
int parse_size_list(parser *p, const entry *e, size_t min, size_t *out, size_t *count)
{
    char items[EXP_CFG_MAX_LIST][EXP_CFG_NAME];
    size_t n = 0;
    int rc = parse_list(p, e, items, &n);
    for (size_t i = 0; rc == DODE_OK && i < n; i++)
        rc = parse_size(p, e, items[i], min, &out[i]);
    if (rc == DODE_OK)
        *count = n;
    return rc;
}
