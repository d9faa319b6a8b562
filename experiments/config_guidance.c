/* config_guidance.c - guidance settings as lists in a [model NAME] section, so that a
 * sweep runs the CFG scale like NFE (docs/guidance.md, docs/experiments.md):
 *
 *   [model guided]
 *   spec = gmm:gmm2d_classes.json
 *   class = 1
 *   cfg = 1, 3, 7.5, 15
 *
 * is four models, guided/w=1 ... guided/w=15, each the spec with ",class=1,cfg=W" appended
 * (the spec options of guidance.h). Keys: class, cfg, interval (LO:HI items) and rescale;
 * the models are their product, in that order, the last varying fastest. A key with one
 * value is in every model's spec and not in its name; each key with several adds
 * "/class=C", "/w=W", "/interval=LO:HI" or "/rescale=PHI" to NAME. [sweep] models = NAME
 * takes all of them (NAME/w=3 one of them). Each expanded spec is loaded once here, so an
 * unknown class fails on its line. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/guidance.h"
#include "diffode/spec.h"
#include "diffode/status.h"
#include "config_impl.h"

/* The list keys, in product order, with the word each puts in the names. */
static const struct {
    const char *key, *tag;
} LISTS[] = { { "class", "class" }, { "cfg", "w" }, { "interval", "interval" },
              { "rescale", "rescale" } };
#define NLISTS (sizeof LISTS / sizeof LISTS[0])

/* One item of key checked alone (the spec parser's own rules, so the message names it). */
static int check_item(parser *p, const entry *e, const char *item)
{
    char opts[EXP_CFG_NAME + 32], why[384];
    dode_guidance g;
    int c;
    snprintf(opts, sizeof opts, "%s%s=%s", strcmp(e->key, "class") == 0 ? "" : "class=0,",
             e->key, item);
    const int rc = dode_guidance_spec_parse(opts, &g, &c, why, sizeof why);
    return rc == DODE_OK ? DODE_OK : key_fail(p, DODE_EINVAL, e->line, e->key, "%s", why);
}

/* class, cfg, interval, rescale: a list of values, each checked; expand_model uses them. */
int set_guidance_list(parser *p, const entry *e, void *target)
{
    (void)target;
    char items[EXP_CFG_MAX_LIST][EXP_CFG_NAME];
    size_t n = 0;
    int rc = parse_list(p, e, items, &n);
    for (size_t i = 0; rc == DODE_OK && i < n; i++)
        rc = check_item(p, e, items[i]);
    return rc;
}

/* The lists of section h: items and count per key (count 0: not given), line of the first. */
typedef struct {
    char items[NLISTS][EXP_CFG_MAX_LIST][EXP_CFG_NAME];
    size_t n[NLISTS];
    int line[NLISTS];
} lists;

static int read_lists(parser *p, const header *h, lists *l, size_t *total)
{
    *total = 1;
    for (size_t k = 0; k < NLISTS; k++) {
        l->n[k] = 0;
        for (size_t i = 0; i < p->n; i++) {
            const entry *e = &p->entries[i];
            if (strcmp(e->section, h->text) != 0 || strcmp(e->key, LISTS[k].key) != 0)
                continue;
            int rc = parse_list(p, e, l->items[k], &l->n[k]);
            if (rc != DODE_OK)
                return rc;
            l->line[k] = e->line;
        }
        if (l->n[k] > 0 && (*total *= l->n[k]) > EXP_CFG_MAX_LIST)
            return key_fail(p, DODE_EFORMAT, l->line[k], LISTS[k].key, "[%s] would expand to "
                            "more than %d models", h->text, EXP_CFG_MAX_LIST);
    }
    return DODE_OK;
}

/* Model number idx of the product into *m (base: the section's own name and spec). */
static int make_one(parser *p, const header *h, const lists *l, size_t idx,
                    const exp_cfg_model *base, exp_cfg_model *m)
{
    char name[4 * EXP_CFG_NAME], spec[2 * EXP_CFG_SPEC], why[384];
    size_t ix[NLISTS];
    for (size_t k = NLISTS; k-- > 0;)
        if (l->n[k] > 0) {
            ix[k] = idx % l->n[k];
            idx /= l->n[k];
        }
    int nl = snprintf(name, sizeof name, "%s", base->name);
    int ns = snprintf(spec, sizeof spec, "%s", base->spec);
    for (size_t k = 0; k < NLISTS; k++) {
        if (l->n[k] == 0)
            continue;
        const char *v = l->items[k][ix[k]];
        ns += snprintf(spec + ns, sizeof spec - (size_t)ns, ",%s=%s", LISTS[k].key, v);
        if (l->n[k] > 1)
            nl += snprintf(name + nl, sizeof name - (size_t)nl, "/%s=%s", LISTS[k].tag, v);
    }
    if ((size_t)nl >= sizeof m->name || (size_t)ns >= sizeof m->spec)
        return key_fail(p, DODE_EFORMAT, base->line, "spec", "[%s]: expanded model \"%s\" "
                        "has a name longer than %zu or a spec longer than %zu characters",
                        h->text, name, sizeof m->name - 1, sizeof m->spec - 1);
    dode_model *model = NULL;
    const int rc = dode_model_from_spec(spec, &model, why, sizeof why);
    dode_model_free(model);
    if (rc != DODE_OK)
        return key_fail(p, rc, base->line, "spec", "[%s] as %s: %s", h->text, name, why);
    *m = *base;
    copy_str(m->name, sizeof m->name, name);
    copy_str(m->spec, sizeof m->spec, spec);
    return DODE_OK;
}

int expand_model(parser *p, const header *h, build *b)
{
    lists *l = malloc(sizeof *l);
    size_t total = 0;
    if (l == NULL)
        return dode_fail(p->err, p->errlen, DODE_ENOMEM, "%s: out of memory", p->source);
    int rc = read_lists(p, h, l, &total), any = 0;
    for (size_t k = 0; k < NLISTS; k++)
        any |= l->n[k] > 0;
    const exp_cfg_model base = b->defined[b->ndefined];
    const char *colon = strchr(base.spec, ':');
    if (rc == DODE_OK && any && (strncmp(base.spec, "gmm:", 4) != 0 || strchr(colon, ',')))
        rc = key_fail(p, DODE_EINVAL, base.line, "spec", "[%s] has guidance keys (class, cfg, "
                      "interval, rescale), so its spec must be a plain gmm:FILE.json without "
                      "options; got \"%s\"", h->text, base.spec);
    if (rc == DODE_OK && any && l->n[0] == 0)
        rc = key_fail(p, DODE_EINVAL, h->line, "class", "missing in [%s]: cfg, interval and "
                      "rescale guide towards a class", h->text);
    if (rc == DODE_OK && b->ndefined + total > EXP_CFG_MAX_LIST)
        rc = key_fail(p, DODE_EFORMAT, h->line, NULL, "more than %d models with [%s]'s "
                      "expansion", EXP_CFG_MAX_LIST, h->text);
    for (size_t i = 0; rc == DODE_OK && any && i < total; i++)
        rc = make_one(p, h, l, i, &base, &b->defined[b->ndefined + i]);
    if (rc == DODE_OK)
        b->ndefined += total;
    free(l);
    return rc;
}
