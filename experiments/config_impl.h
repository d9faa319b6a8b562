/* config_impl.h - what the config reader's files share and nobody else sees (private to
 * experiments/config*.c; config.h is the interface): the parser state and its entries and
 * headers, the key_rule tables of each section, the build pass two fills, the typed value
 * parsers and the message helper. Every function here that can fail returns a DODE_
 * status and writes "FILE:LINE: key 'K': ..." into the parser's err buffer. */
#ifndef DIFFODE_EXPERIMENTS_CONFIG_IMPL_H
#define DIFFODE_EXPERIMENTS_CONFIG_IMPL_H

#include <stddef.h>

#include "config.h"

#define LINE_MAX_CHARS 196          /* inih's buffer is 200 bytes with '\r', '\n', '\0' */
#define VALUE_MAX_CHARS 1023        /* a value with its continuation lines */

typedef struct {
    char section[2 * EXP_CFG_NAME];
    char key[EXP_CFG_NAME];
    char value[VALUE_MAX_CHARS + 1];    /* continuation lines make it longer than a line */
    int line;
} entry;

typedef struct {
    char text[2 * EXP_CFG_NAME];   /* what is between the brackets, trimmed */
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

/* Upper bounds on what a run holds, so an absurd config fails here, on its line, and not
 * at an allocation deep in the sweep: at most 2^24 trajectories per run (each state array
 * is samples x dim doubles, and a row keeps a few: 2^24 x dim 2 is 256 MiB each), and with
 * trajectory = yes at most 2^31 stored points, samples x (nfe + 2) (a trace keeps steps + 2
 * states of samples x dim values, steps <= nfe), i.e. 16 GiB per dimension. */
#define CFG_MAX_SAMPLES ((size_t)1 << 24)
/* Pass one stops at the first section or entry beyond these (issue 18: 100k sections
 * took 87 s, each header compared with every earlier one, and "too many sections" came
 * only after the whole file): one [experiment], one [sweep], EXP_CFG_MAX_LIST [model]s and
 * as many [solver]s; and 4096 key = value lines (the shipped configs have fewer than 60). */
#define CFG_MAX_SECTIONS (2 * EXP_CFG_MAX_LIST + 2)
#define CFG_MAX_ENTRIES 4096
#define CFG_MAX_TRACE ((size_t)1 << 31)

/* One key of a section: set checks e's value and writes it into target. */
typedef struct {
    const char *key;
    int (*set)(parser *p, const entry *e, void *target);
} key_rule;

/* What pass two (config.c) fills: the config, and the [model]s and [solver]s [sweep] names. */
typedef struct {
    exp_config *cfg;
    exp_cfg_model defined[EXP_CFG_MAX_LIST];      /* every [model NAME], in file order */
    size_t ndefined;
    exp_cfg_solver variants[EXP_CFG_MAX_LIST];    /* every [solver NAME] */
    size_t nvariants;
    int models_given, nfe_line, solvers_line, spacings_line;
} build;

/* config_read.c */
/* "FILE:LINE: key 'K': <message>" into the caller's buffer; returns code. */
int key_fail(parser *p, int code, int line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
char *trim(char *s);                                /* in place; returns the first non-blank */
void copy_str(char *dst, size_t n, const char *src);    /* truncated to n - 1 characters */
/* Pass one: text -> entries and headers, or the first syntax error. */
int read_entries(parser *p);

/* config_values.c: each writes *out only on success. */
int parse_size(parser *p, const entry *e, const char *s, size_t min, size_t *out);
/* A finite double > lo (or >= lo when lo_ok). */
int parse_double(parser *p, const entry *e, double lo, int lo_ok, double *out);
int parse_bool(parser *p, const entry *e, int *out);
/* Picks value among names (NULL-terminated); *out = its index. */
int parse_choice(parser *p, const entry *e, const char *const *names, int *out);
/* Splits a comma-separated value into trimmed items (no empty item, no repeats). */
int parse_list(parser *p, const entry *e, char items[][EXP_CFG_NAME], size_t *count);
/* Items of a list parsed as integers >= min. */
int parse_size_list(parser *p, const entry *e, size_t min, size_t *out, size_t *count);

/* config_guidance.c: the guidance lists of a [model NAME] (class, cfg, interval, rescale). */
int set_guidance_list(parser *p, const entry *e, void *target);
/* Adds section h's model (b->defined[b->ndefined], its spec set) to b->defined: itself, or
 * one model per combination of its guidance lists, named NAME/w=3 and so on. */
int expand_model(parser *p, const header *h, build *b);

/* Each section's keys, ending with { NULL, NULL }. */
extern const key_rule experiment_keys[];    /* config_keys.c; target: exp_config */
extern const key_rule model_keys[];         /* config_keys.c; target: exp_cfg_model */
extern const key_rule sweep_keys[];         /* config_keys.c; target: build */
extern const key_rule solver_keys[];        /* config_solver.c; target: exp_cfg_solver */

#endif
