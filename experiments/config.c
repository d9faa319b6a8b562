/* config.c - reads and checks an experiment config (config.h) with inih.
 *
 * Two passes. inih reads the text through our own line reader (which counts lines, since
 * Debian's inih calls the handler without a line number, and records every [section]
 * header) into a flat list of (section, key, value, line) entries; then each entry is
 * interpreted by its section's key table. Nothing of the sweep runs until the whole file
 * has passed, so a typo on the last line costs nothing. */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/schedule.h"
#include "diffode/status.h"
#include "cli.h"
#include "config.h"

#define LINE_MAX_CHARS 196          /* inih's buffer is 200 bytes with '\r', '\n', '\0' */
#define VALUE_MAX_CHARS 1023        /* a value with its continuation lines */

typedef struct {
    char section[2 * DODE_CFG_NAME];
    char key[DODE_CFG_NAME];
    char value[VALUE_MAX_CHARS + 1];    /* continuation lines make it longer than a line */
    int line;
} entry;

typedef struct {
    char text[2 * DODE_CFG_NAME];   /* what is between the brackets, trimmed */
    int line;
} header;

typedef struct {
    const char *source, *text;
    size_t pos;
    int line, long_line;            /* current line; first line over LINE_MAX_CHARS */
    int continued;                  /* the current line continues the previous value */
    entry *entries;
    size_t n, cap;
    header *headers;
    size_t nh, caph;
    int rc, err_line, nomem;        /* the first error found by the handler */
    char *err;
    size_t errlen;
} parser;

/* "FILE:LINE: key 'K': <message>" into the caller's buffer; returns code. */
__attribute__((format(printf, 5, 6)))
static int key_fail(parser *p, int code, int line, const char *key, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (key != NULL)
        return dode_fail(p->err, p->errlen, code, "%s:%d: key '%s': %s", p->source, line,
                         key, msg);
    return dode_fail(p->err, p->errlen, code, "%s:%d: %s", p->source, line, msg);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* dst = src, truncated to n - 1 characters (n >= 1). */
static void copy_str(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len >= n)
        len = n - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* dst = src with blanks trimmed, truncated to n - 1 characters. */
static void trim_copy(char *dst, size_t n, const char *src)
{
    while (isspace((unsigned char)*src))
        src++;
    copy_str(dst, n, src);
    char *end = dst + strlen(dst);
    while (end > dst && isspace((unsigned char)end[-1]))
        *--end = '\0';
}

static void *grow(void *arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return arr;
    const size_t ncap = *cap ? 2 * *cap : 16;
    void *q = realloc(arr, ncap * size);
    if (q != NULL)
        *cap = ncap;
    return q;
}

static void note_header(parser *p, const char *line)
{
    const char *close = strchr(line, ']');
    if (close == NULL)
        return;                     /* inih reports the syntax error */
    header *h = grow(p->headers, &p->caph, p->nh + 1, sizeof *h);
    if (h == NULL) {
        p->nomem = 1;
        return;
    }
    p->headers = h;
    size_t len = (size_t)(close - line - 1);
    if (len >= sizeof h->text)
        len = sizeof h->text - 1;
    char raw[sizeof h->text];
    memcpy(raw, line + 1, len);
    raw[len] = '\0';
    trim_copy(h[p->nh].text, sizeof h->text, raw);
    h[p->nh].line = p->line;
    for (size_t i = 0; i < p->nh && p->rc == DODE_OK; i++)
        if (strcmp(h[i].text, h[p->nh].text) == 0) {     /* before its keys look doubled */
            p->rc = key_fail(p, DODE_EFORMAT, p->line, NULL, "section [%s] given twice "
                             "(first on line %d)", h[i].text, h[i].line);
            p->err_line = p->line;
        }
    p->nh++;
}

/* inih's fgets: one line per call, leading blanks dropped (so an indented line is never a
 * continuation of the previous value), lines counted, headers noted. */
static char *read_line(char *str, int num, void *stream)
{
    parser *p = stream;
    if (p->text[p->pos] == '\0')
        return NULL;
    const char *start = p->text + p->pos, *nl = strchr(start, '\n');
    size_t len = nl ? (size_t)(nl - start) + 1 : strlen(start);
    p->pos += len;
    p->line++;
    const char *text = start + strspn(start, " \t");
    /* An indented line without '=' continues the previous value (a long list split over
     * lines); any other line loses its indentation, so indenting a key is harmless. */
    p->continued = text > start && memchr(text, '=', len - (size_t)(text - start)) == NULL;
    if (!p->continued) {
        len -= (size_t)(text - start);
        start = text;
    }
    if (len > LINE_MAX_CHARS && p->long_line == 0)
        p->long_line = p->line;
    if (len > (size_t)num - 1)
        len = (size_t)num - 1;
    memcpy(str, start, len);
    str[len] = '\0';
    if (str[0] == '[')
        note_header(p, str);
    return str;
}

/* Appends a continuation line to e's value: ", " between list items unless the line
 * before ended with a comma. */
static int continue_entry(parser *p, entry *e, const char *line)
{
    char value[LINE_MAX_CHARS + 4];
    copy_str(value, sizeof value, line);
    for (char *c = value; *c != '\0'; c++)    /* inih leaves inline comments in these */
        if (*c == ';' && c > value && isspace((unsigned char)c[-1])) {
            *c = '\0';
            break;
        }
    const char *v = trim(value);
    const size_t used = strlen(e->value);
    const char *sep = used == 0 || e->value[used - 1] == ',' ? " " : ", ";
    if (used + strlen(sep) + strlen(v) > VALUE_MAX_CHARS) {
        p->rc = key_fail(p, DODE_EFORMAT, p->line, e->key, "value longer than %d characters",
                         VALUE_MAX_CHARS);
        p->err_line = p->line;
        return 1;
    }
    strcat(strcat(e->value, sep), v);
    return 1;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    parser *p = user;
    char sec[sizeof p->entries->section];
    if (p->rc != DODE_OK || p->nomem)
        return 1;
    trim_copy(sec, sizeof sec, section);
    if (p->continued && p->n > 0)       /* inih repeats the key for a continuation line */
        return continue_entry(p, &p->entries[p->n - 1], value);
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->entries[i].section, sec) == 0 && strcmp(p->entries[i].key, name) == 0) {
            p->rc = key_fail(p, DODE_EFORMAT, p->line, name, "given twice in [%s] (first on "
                             "line %d)", sec, p->entries[i].line);
            p->err_line = p->line;
            return 1;
        }
    entry *e = grow(p->entries, &p->cap, p->n + 1, sizeof *e);
    if (e == NULL) {
        p->nomem = 1;
        return 1;
    }
    p->entries = e;
    e += p->n++;
    copy_str(e->section, sizeof e->section, sec);
    copy_str(e->key, sizeof e->key, name);
    copy_str(e->value, sizeof e->value, value);
    e->line = p->line;
    return 1;
}

/* Pass one: text -> entries and headers, or the first syntax error. */
static int read_entries(parser *p)
{
    const int bad = ini_parse_stream(read_line, p, on_entry, p);
    if (p->nomem || bad == -2)
        return dode_fail(p->err, p->errlen, DODE_ENOMEM, "%s: out of memory reading the "
                         "config", p->source);
    if (p->long_line != 0 && (p->rc == DODE_OK || p->long_line < p->err_line))
        return key_fail(p, DODE_EFORMAT, p->long_line, NULL, "line longer than %d characters",
                        LINE_MAX_CHARS);
    if (bad > 0 && (p->rc == DODE_OK || bad < p->err_line))
        return key_fail(p, DODE_EFORMAT, bad, NULL, "syntax error: expected [section], "
                        "key = value, or a comment");
    if (p->rc != DODE_OK)
        return p->rc;
    for (size_t i = 0; i < p->n; i++)
        if (p->entries[i].section[0] == '\0')
            return key_fail(p, DODE_EFORMAT, p->entries[i].line, p->entries[i].key,
                            "outside any section");
    return DODE_OK;
}

/* ---- values ---- */

static int parse_size(parser *p, const entry *e, const char *s, size_t min, size_t *out)
{
    char *end;
    errno = 0;
    const unsigned long long v = strtoull(s, &end, 10);
    if (!isdigit((unsigned char)*s) || *end != '\0' || errno == ERANGE || v < min ||
        v > (unsigned long long)SIZE_MAX)
        return key_fail(p, DODE_EFORMAT, e->line, e->key, "\"%s\" is not %s integer", s,
                        min > 0 ? "a positive" : "a non-negative");
    *out = (size_t)v;
    return DODE_OK;
}

/* A finite double > lo (or >= lo when lo_ok): the checks every option here needs. */
static int parse_double(parser *p, const entry *e, double lo, int lo_ok, double *out)
{
    char *end;
    errno = 0;
    const double v = strtod(e->value, &end);
    if (end == e->value || *end != '\0' || !isfinite(v))
        return key_fail(p, DODE_EFORMAT, e->line, e->key, "\"%s\" is not a number", e->value);
    if (lo_ok ? !(v >= lo) : !(v > lo))
        return key_fail(p, DODE_EINVAL, e->line, e->key, "%g is out of range: expected %s %g",
                        v, lo_ok ? ">=" : ">", lo);
    *out = v;
    return DODE_OK;
}

static int parse_bool(parser *p, const entry *e, int *out)
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
static int parse_choice(parser *p, const entry *e, const char *const *names, int *out)
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
static int parse_list(parser *p, const entry *e, char items[][DODE_CFG_NAME], size_t *count)
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
        if (n == DODE_CFG_MAX_LIST)
            return key_fail(p, DODE_EFORMAT, e->line, e->key, "more than %d entries",
                            DODE_CFG_MAX_LIST);
        if (strlen(t) >= DODE_CFG_NAME)
            return key_fail(p, DODE_EFORMAT, e->line, e->key, "entry \"%.20s...\" longer "
                            "than %d characters", t, DODE_CFG_NAME - 1);
        for (size_t i = 0; i < n; i++)
            if (strcmp(items[i], t) == 0)
                return key_fail(p, DODE_EFORMAT, e->line, e->key, "\"%s\" listed twice", t);
        copy_str(items[n++], DODE_CFG_NAME, t);
    }
    *count = n;
    return DODE_OK;
}

/* Items of a list parsed as integers >= min. */
static int parse_size_list(parser *p, const entry *e, size_t min, size_t *out, size_t *count)
{
    char items[DODE_CFG_MAX_LIST][DODE_CFG_NAME];
    size_t n = 0;
    int rc = parse_list(p, e, items, &n);
    for (size_t i = 0; rc == DODE_OK && i < n; i++)
        rc = parse_size(p, e, items[i], min, &out[i]);
    if (rc == DODE_OK)
        *count = n;
    return rc;
}

/* ---- [experiment] ---- */

static int set_name(parser *p, const entry *e, void *target)
{
    dode_config *cfg = target;
    const char *s = e->value;
    size_t len = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");
    if (len == 0 || s[len] != '\0' || s[0] == '.' || len >= sizeof cfg->name)
        return key_fail(p, DODE_EFORMAT, e->line, e->key, "\"%s\" is not a results directory "
                        "name (letters, digits, '-', '_', '.'; not starting with '.'; at most "
                        "%zu characters)", s, sizeof cfg->name - 1);
    copy_str(cfg->name, sizeof cfg->name, s);
    return DODE_OK;
}

/* Upper bounds on what a run holds, so an absurd config fails here, on its line, and not
 * at an allocation deep in the sweep: at most 2^24 trajectories per run (each state array
 * is samples x dim doubles, and a row keeps a few: 2^24 x dim 2 is 256 MiB each), and with
 * trajectory = yes at most 2^31 stored points, samples x (nfe + 2) (a trace keeps steps + 2
 * states of samples x dim values, steps <= nfe), i.e. 16 GiB per dimension. */
#define CFG_MAX_SAMPLES ((size_t)1 << 24)
#define CFG_MAX_TRACE ((size_t)1 << 31)

static int set_samples(parser *p, const entry *e, void *t)
{
    size_t *n = &((dode_config *)t)->samples;
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
    dode_config *cfg = target;
    size_t v[DODE_CFG_MAX_LIST], n = 0;
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
        ((dode_config *)t)->reference = (dode_reference_method)k;
    return rc;
}

static int set_ref_rtol(parser *p, const entry *e, void *t)
{
    return parse_double(p, e, 0, 0, &((dode_config *)t)->ref_rtol);
}

static int set_ref_atol(parser *p, const entry *e, void *t)
{
    return parse_double(p, e, 0, 0, &((dode_config *)t)->ref_atol);
}

static int set_t_max(parser *p, const entry *e, void *t)
{
    return parse_double(p, e, 0, 0, &((dode_config *)t)->t_max);
}

static int set_t_min(parser *p, const entry *e, void *t)
{
    return parse_double(p, e, 0, 0, &((dode_config *)t)->t_min);
}

static int set_trajectory(parser *p, const entry *e, void *t)
{
    return parse_bool(p, e, &((dode_config *)t)->trajectory);
}

static int set_baseline(parser *p, const entry *e, void *t)
{
    dode_config *cfg = t;
    if (e->value[0] == '\0' || strlen(e->value) >= sizeof cfg->baseline_name)
        return key_fail(p, DODE_EFORMAT, e->line, e->key, "\"%s\" is not a solver name",
                        e->value);
    copy_str(cfg->baseline_name, sizeof cfg->baseline_name, e->value);
    return DODE_OK;
}

static int set_true_samples(parser *p, const entry *e, void *t)
{
    return parse_size(p, e, e->value, 0, &((dode_config *)t)->true_samples);
}

static int set_projections(parser *p, const entry *e, void *t)
{
    return parse_size(p, e, e->value, 1, &((dode_config *)t)->projections);
}

static int set_order_nfe_min(parser *p, const entry *e, void *t)
{
    return parse_double(p, e, 0, 0, &((dode_config *)t)->order_nfe_min);
}

static int set_order_floor(parser *p, const entry *e, void *t)
{
    return parse_double(p, e, 0, 1, &((dode_config *)t)->order_floor);
}

static int set_mode(parser *p, const entry *e, void *t)
{
    dode_config *cfg = t;
    if (strcmp(e->value, "sweep") != 0 && strcmp(e->value, "roundtrip") != 0)
        return key_fail(p, DODE_EFORMAT, e->line, e->key, "\"%s\" is not a mode (sweep, "
                        "roundtrip)", e->value);
    cfg->roundtrip = strcmp(e->value, "roundtrip") == 0;
    return DODE_OK;
}

typedef struct {
    const char *key;
    int (*set)(parser *p, const entry *e, void *target);
} key_rule;

static const key_rule experiment_keys[] = {
    { "name", set_name }, { "samples", set_samples }, { "seeds", set_seeds },
    { "reference", set_reference }, { "ref_rtol", set_ref_rtol }, { "ref_atol", set_ref_atol },
    { "t_max", set_t_max }, { "t_min", set_t_min }, { "trajectory", set_trajectory },
    { "baseline", set_baseline },
    { "true_samples", set_true_samples }, { "projections", set_projections },
    { "order_nfe_min", set_order_nfe_min }, { "order_floor", set_order_floor },
    { "mode", set_mode }, { NULL, NULL },
};

/* ---- [model NAME] ---- */

static int set_spec(parser *p, const entry *e, void *target)
{
    dode_cfg_model *m = target;
    if (e->value[0] == '\0' || strlen(e->value) >= sizeof m->spec)
        return key_fail(p, DODE_EFORMAT, e->line, e->key, "a model spec must have 1 to %zu "
                        "characters", sizeof m->spec - 1);
    char msg[384];
    dode_model *model = NULL;
    int rc = dode_model_from_spec(e->value, &model, msg, sizeof msg);
    if (rc != DODE_OK)
        return key_fail(p, rc, e->line, e->key, "%s", msg);
    dode_model_free(model);             /* loaded once to check it; the sweep loads again */
    copy_str(m->spec, sizeof m->spec, e->value);
    m->line = e->line;
    return DODE_OK;
}

static const key_rule model_keys[] = { { "spec", set_spec }, { NULL, NULL } };

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

static const key_rule solver_keys[] = {
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

/* ---- [sweep] ---- */

typedef struct {
    dode_config *cfg;
    dode_cfg_model defined[DODE_CFG_MAX_LIST];      /* every [model NAME], in file order */
    size_t ndefined;
    dode_cfg_solver variants[DODE_CFG_MAX_LIST];    /* every [solver NAME] */
    size_t nvariants;
    int models_given, nfe_line, solvers_line, spacings_line;
} build;

static int set_models(parser *p, const entry *e, void *target)
{
    build *b = target;
    char items[DODE_CFG_MAX_LIST][DODE_CFG_NAME];
    size_t n = 0;
    int rc = parse_list(p, e, items, &n);
    for (size_t i = 0; rc == DODE_OK && i < n; i++) {
        size_t k = 0;
        while (k < b->ndefined && strcmp(b->defined[k].name, items[i]) != 0)
            k++;
        if (k == b->ndefined)
            return key_fail(p, DODE_ENOTFOUND, e->line, e->key, "no section [model %s]",
                            items[i]);
        b->cfg->models[i] = b->defined[k];
    }
    if (rc == DODE_OK) {
        b->cfg->nmodels = n;
        b->models_given = 1;
    }
    return rc;
}

static int set_schedules(parser *p, const entry *e, void *target)
{
    dode_config *cfg = ((build *)target)->cfg;
    size_t n = 0;
    int rc = parse_list(p, e, cfg->schedules, &n);
    for (size_t i = 0; rc == DODE_OK && i < n; i++) {
        char msg[384];
        dode_schedule *s = NULL;
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
    dode_config *cfg = ((build *)target)->cfg;
    char items[DODE_CFG_MAX_LIST][DODE_CFG_NAME], msg[256];
    size_t n = 0;
    int rc = parse_list(p, e, items, &n);
    for (size_t i = 0; rc == DODE_OK && i < n; i++)
        if (dode_spacing_parse(items[i], &cfg->spacings[i], msg, sizeof msg) != DODE_OK)
            return key_fail(p, DODE_ENOTFOUND, e->line, e->key, "%s", msg);
    if (rc == DODE_OK) {
        cfg->nspacings = n;
        ((build *)target)->spacings_line = e->line;
    }
    return rc;
}

/* A sweep solver: a [solver NAME] variant, else a registry solver with default options. */
static int resolve_solver(parser *p, const entry *e, build *b, const char *name,
                          dode_cfg_solver *out)
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
    char items[DODE_CFG_MAX_LIST][DODE_CFG_NAME];
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

static const key_rule sweep_keys[] = {
    { "models", set_models }, { "schedules", set_schedules }, { "spacings", set_spacings },
    { "solvers", set_solvers }, { "nfe", set_nfe }, { "to_zero", set_to_zero },
    { "rho", set_rho }, { NULL, NULL },
};

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
    const int named = *sp != '\0' && sp[nlen] == '\0' && nlen < DODE_CFG_NAME;
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
    copy_str(name, DODE_CFG_NAME, *kind >= SEC_MODEL ? sp : "");
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
        while (r->key != NULL && strcmp(r->key, e->key) != 0)
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
static void options_text(const parser *p, const header *h, dode_cfg_solver *s)
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
    dode_cfg_model *m = &b->defined[b->ndefined];
    copy_str(m->name, sizeof m->name, name);
    int rc = apply_section(p, h, model_keys, m);
    if (rc == DODE_OK)
        rc = require(p, h, "spec");
    if (rc == DODE_OK)
        b->ndefined++;
    return rc;
}

static int define_solver(parser *p, const header *h, const char *name, build *b)
{
    dode_cfg_solver *s = &b->variants[b->nvariants];
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

static void config_defaults(dode_config *cfg)
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

/* Each header once; no more than DODE_CFG_MAX_LIST models or solvers. */
static int check_headers(parser *p, section_kind *kinds, char (*names)[DODE_CFG_NAME])
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
        if (++counts[kinds[i]] > DODE_CFG_MAX_LIST)
            return key_fail(p, DODE_EFORMAT, p->headers[i].line, NULL, "more than %d "
                            "sections of this kind", DODE_CFG_MAX_LIST);
    }
    return DODE_OK;
}

/* Every (schedule, spacing) pair must make a grid on the time range: ddim spacings need
 * a discrete schedule, t_max and t_min must lie in the schedule's range. */
static int check_grids(parser *p, const build *b, int line)
{
    const dode_config *cfg = b->cfg;
    dode_grid_opts go;
    dode_grid_opts_init(&go);
    go.t_max = cfg->t_max;
    go.t_min = cfg->t_min;
    go.rho = cfg->rho;
    go.to_zero = cfg->to_zero;
    char msg[384];
    int rc = DODE_OK;
    for (size_t i = 0; rc == DODE_OK && i < cfg->nschedules; i++) {
        dode_schedule *s = NULL;
        rc = dode_schedule_from_spec(cfg->schedules[i], &s, msg, sizeof msg);
        for (size_t k = 0; rc == DODE_OK && k < cfg->nspacings; k++) {
            dode_grid g = { 0 };
            go.spacing = cfg->spacings[k];
            rc = dode_grid_make(s, &go, 1, &g, msg, sizeof msg);
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
    const dode_config *cfg = b->cfg;
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

/* What every sweep needs, and what only the whole config can tell. */
static int check_sweep(parser *p, const header *exp, const header *sweep, build *b)
{
    dode_config *cfg = b->cfg;
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
                return key_fail(p, DODE_EINVAL, b->nfe_line, "nfe", "%zu is below one step "
                                "of solver \"%s\" (%d NFE per step)", cfg->nfe[k],
                                cfg->solvers[i].name, cfg->solvers[i].type->evals_per_step);
    return check_trace_size(p, exp, b);
}

/* Pass two: entries -> config, section by section ([model]s and [solver]s before the
 * [sweep] that names them). */
static int interpret(parser *p, build *b)
{
    section_kind kinds[4 * DODE_CFG_MAX_LIST + 2];
    char names[4 * DODE_CFG_MAX_LIST + 2][DODE_CFG_NAME];
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

int dode_config_parse(const char *text, const char *source, dode_config *cfg,
                      char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    parser p = { .source = source, .text = text, .err = err, .errlen = errlen };
    build *b = calloc(1, sizeof *b);
    dode_config *tmp = calloc(1, sizeof *tmp);
    int rc = b && tmp ? DODE_OK : dode_fail(err, errlen, DODE_ENOMEM, "%s: out of memory "
                                            "for the config", source);
    if (rc == DODE_OK) {
        b->cfg = tmp;
        rc = read_entries(&p);
    }
    if (rc == DODE_OK)
        rc = interpret(&p, b);
    if (rc == DODE_OK) {
        tmp->path = strdup(source);
        tmp->text = strdup(text);
        if (tmp->path == NULL || tmp->text == NULL) {
            dode_config_free(tmp);
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

int dode_config_load(const char *path, dode_config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return dode_fail(err, errlen, DODE_EIO, "cannot open config %s: %s", path,
                         strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            char *q = realloc(text, cap = 2 * cap + 4096 + 1);
            if (q == NULL)
                break;
            text = q;
        }
        const size_t got = fread(text + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    const int bad = ferror(f) || text == NULL || len + 4096 + 1 > cap;
    fclose(f);
    if (bad) {
        free(text);
        return dode_fail(err, errlen, DODE_EIO, "cannot read config %s", path);
    }
    text[len] = '\0';
    if (strlen(text) != len) {
        free(text);
        return dode_fail(err, errlen, DODE_EFORMAT, "%s: contains a NUL byte", path);
    }
    int rc = dode_config_parse(text, path, cfg, err, errlen);
    free(text);
    return rc;
}

void dode_config_free(dode_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->path);
    free(cfg->text);
    cfg->path = cfg->text = NULL;
}

size_t dode_config_runs(const dode_config *cfg)
{
    return cfg->nmodels * cfg->nschedules * cfg->nspacings * cfg->nsolvers * cfg->nnfe *
           cfg->nseeds;
}
