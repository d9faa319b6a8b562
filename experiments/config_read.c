/* config_read.c - pass one of the config reader (config.c): the text through inih into
 * a flat list of (section, key, value, line) entries and the [section] headers, with
 * the first syntax error, duplicate key or over-long line; and the helpers every pass
 * shares (key_fail, trim, copy_str). inih reads through our own line reader, which counts
 * lines (Debian's inih calls the handler without a line number) and records headers. */
#include <ctype.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/status.h"
#include "config_impl.h"

/* "FILE:LINE: key 'K': <message>" into the caller's buffer; returns code. */
__attribute__((format(printf, 5, 6)))
int key_fail(parser *p, int code, int line, const char *key, const char *fmt, ...)
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

char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* dst = src, truncated to n - 1 characters (n >= 1). */
void copy_str(char *dst, size_t n, const char *src)
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
    if (p->nh == CFG_MAX_SECTIONS) {    /* read_line stops at p->rc */
        p->rc = key_fail(p, DODE_EFORMAT, p->line, NULL, "more than %d sections (at most "
                         "one [experiment], one [sweep], %d [model NAME] and %d [solver "
                         "NAME])", CFG_MAX_SECTIONS, EXP_CFG_MAX_LIST, EXP_CFG_MAX_LIST);
        p->err_line = p->line;
        return;
    }
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
 * continuation of the previous value), lines counted, headers noted. After the first
 * error it reports the end of the text, so inih stops there and a huge file costs no
 * more than its lines up to that error. */
static char *read_line(char *str, int num, void *stream)
{
    parser *p = stream;
    if (p->text[p->pos] == '\0' || p->rc != DODE_OK || p->nomem)
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
    if (p->n == CFG_MAX_ENTRIES) {
        p->rc = key_fail(p, DODE_EFORMAT, p->line, name, "more than %d key = value lines in "
                         "the config", CFG_MAX_ENTRIES);
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
int read_entries(parser *p)
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
