/* npy.c - NumPy .npy arrays in and out (io.h); writes go through fileio.h's atomic write.
 *
 * Format (numpy/lib/format.py): the magic "\x93NUMPY", a version byte pair (1.0, 2.0 or
 * 3.0), the header length (2 bytes little-endian for 1.0, 4 for 2.0/3.0), then a Python
 * dict literal {'descr': '<f8', 'fortran_order': False, 'shape': (n, d), } padded with
 * spaces to a multiple of 64 bytes (16 in old files) and ended by '\n', then the raw data.
 * Writing produces exactly what numpy.save writes for a 2-D float64 array (byte for byte);
 * reading does not insist on the padding, which carries no information.
 *
 * Reading accepts float64 and float32, little-endian ('<', or '=' on a little-endian host),
 * C order, shapes (n,) (read as n x 1) and (n, d) (and (a, n, d) through the 3-D reader,
 * for noise arrays), with no dimension of size zero and at most
 * NPY_MAX_ELEMS elements; anything else is refused with a sentence naming the file and the
 * problem. The data must be exactly as long as the shape says. Values are not judged here
 * (NaN and Inf pass through): the caller knows whether they are wrong.
 *
 * Invariant: on failure no output (*data, *rows, *cols) is written, and a write never
 * leaves a partial file under the target path. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diffode/fileio.h"
#include "diffode/io.h"
#include "diffode/status.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_MAX_ELEMS ((size_t)1 << 34)   /* 128 GiB of doubles: larger is a corrupt header */
#define NPY_MAX_HEADER ((size_t)1 << 20)  /* numpy itself refuses headers above 10^4 bytes */

/* What a header says about the array that follows it. */
typedef struct {
    size_t data_off;     /* offset of the first data byte */
    size_t rows, cols;   /* a 3-D (a, b, c) array: rows = a b, cols = c */
    size_t lead;         /* 0 for 1-D and 2-D arrays; a for a 3-D (a, b, c) one */
    size_t itemsize;     /* 8 ('<f8') or 4 ('<f4') */
} npy_header;

/* A cursor over the header's dict text; src names the file in messages. */
typedef struct {
    const char *p, *end;
    const char *src;
    char *err;
    size_t errlen;
} npy_lexer;

static int host_is_little_endian(void)
{
    const uint16_t probe = 1;
    return *(const unsigned char *)&probe == 1;
}

/* Magic, version and header length: fills data_off and returns the header text's span. */
static int npy_prefix(const unsigned char *buf, size_t len, const char *src, size_t *hdr_off,
                      size_t *hdr_len, char *err, size_t errlen)
{
    if (len < 10 || memcmp(buf, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: not a .npy file (%s)",
                         src, len < 10 ? "shorter than the 10-byte preamble"
                                       : "no \\x93NUMPY magic");
    const unsigned major = buf[6], minor = buf[7];
    if (major < 1 || major > 3 || minor != 0)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: .npy format version "
                         "%u.%u is not supported (1.0, 2.0, 3.0 are)", src, major, minor);
    if (major == 1) {
        *hdr_off = 10;
        *hdr_len = (size_t)buf[8] | (size_t)buf[9] << 8;
    } else {
        if (len < 12)
            return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: file ends inside the "
                             ".npy preamble (%zu bytes)", src, len);
        *hdr_off = 12;
        *hdr_len = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16
                   | (size_t)buf[11] << 24;
    }
    if (*hdr_len > NPY_MAX_HEADER)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: header length %zu is "
                         "absurd (limit %zu)", src, *hdr_len, NPY_MAX_HEADER);
    return DODE_OK;
}

static void lex_space(npy_lexer *lx)
{
    while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n'
                               || *lx->p == '\r'))
        lx->p++;
}

/* Skips blanks, then consumes c or fails saying what was expected. */
static int lex_expect(npy_lexer *lx, char c, const char *where)
{
    lex_space(lx);
    if (lx->p >= lx->end || *lx->p != c)
        return dode_fail(lx->err, lx->errlen, DODE_EFORMAT, "cannot read %s: malformed header: "
                         "expected '%c' %s", lx->src, c, where);
    lx->p++;
    return DODE_OK;
}

/* A quoted Python string ('...' or "...", no escapes) into out[outlen]. */
static int lex_string(npy_lexer *lx, char *out, size_t outlen, const char *what)
{
    lex_space(lx);
    if (lx->p >= lx->end || (*lx->p != '\'' && *lx->p != '"'))
        return dode_fail(lx->err, lx->errlen, DODE_EFORMAT, "cannot read %s: malformed header: "
                         "%s is not a quoted string%s", lx->src, what,
                         strcmp(what, "'descr'") == 0 ? " (structured dtypes are not supported)" : "");
    const char quote = *lx->p++;
    const char *start = lx->p;
    while (lx->p < lx->end && *lx->p != quote)
        lx->p++;
    const size_t n = (size_t)(lx->p - start);
    if (lx->p >= lx->end || n >= outlen)
        return dode_fail(lx->err, lx->errlen, DODE_EFORMAT, "cannot read %s: malformed header: "
                         "%s is unterminated or longer than %zu characters", lx->src, what,
                         outlen - 1);
    memcpy(out, start, n);
    out[n] = '\0';
    lx->p++;
    return DODE_OK;
}

/* 'True' or 'False'. */
static int lex_bool(npy_lexer *lx, int *out)
{
    lex_space(lx);
    const size_t left = (size_t)(lx->end - lx->p);
    if (left >= 4 && memcmp(lx->p, "True", 4) == 0) {
        lx->p += 4;
        *out = 1;
    } else if (left >= 5 && memcmp(lx->p, "False", 5) == 0) {
        lx->p += 5;
        *out = 0;
    } else {
        return dode_fail(lx->err, lx->errlen, DODE_EFORMAT, "cannot read %s: malformed header: "
                         "'fortran_order' is not True or False", lx->src);
    }
    return DODE_OK;
}

/* One shape entry: a decimal integer (Python 2 files may add 'L'), at most NPY_MAX_ELEMS. */
static int lex_dim(npy_lexer *lx, size_t *out)
{
    lex_space(lx);
    const char *start = lx->p;
    size_t v = 0;
    while (lx->p < lx->end && *lx->p >= '0' && *lx->p <= '9') {
        v = v * 10 + (size_t)(*lx->p++ - '0');
        if (v > NPY_MAX_ELEMS) {   /* the excerpt stops at the header's end: no NUL there */
            const ptrdiff_t shown = lx->end - start < 24 ? lx->end - start : 24;
            return dode_fail(lx->err, lx->errlen, DODE_EFORMAT, "cannot read %s: shape entry "
                             "%.*s... exceeds the limit of %zu elements", lx->src, (int)shown,
                             start, NPY_MAX_ELEMS);
        }
    }
    if (lx->p == start) {
        const char *stop = start;
        while (stop < lx->end && stop - start < 24 && *stop != ',' && *stop != ')')
            stop++;
        return dode_fail(lx->err, lx->errlen, DODE_EFORMAT, "cannot read %s: shape entry '%.*s' "
                         "is not a non-negative integer", lx->src, (int)(stop - start), start);
    }
    if (lx->p < lx->end && *lx->p == 'L')
        lx->p++;
    *out = v;
    return DODE_OK;
}

/* A shape tuple: (), (n,), (n, d), ... Counts all entries, keeps the first three. */
static int lex_shape(npy_lexer *lx, size_t dims[3], size_t *ndim)
{
    int rc = lex_expect(lx, '(', "to open 'shape'");
    *ndim = 0;
    for (lex_space(lx); rc == DODE_OK && lx->p < lx->end && *lx->p != ')'; lex_space(lx)) {
        size_t v = 0;
        if ((rc = lex_dim(lx, &v)) != DODE_OK)
            return rc;
        if (*ndim < 3)
            dims[*ndim] = v;
        ++*ndim;
        lex_space(lx);
        if (lx->p < lx->end && *lx->p == ',')
            lx->p++;
        else if (lx->p < lx->end && *lx->p != ')')
            return dode_fail(lx->err, lx->errlen, DODE_EFORMAT, "cannot read %s: shape entry "
                             "followed by '%c', expected ',' or ')'", lx->src, *lx->p);
    }
    return rc != DODE_OK ? rc : lex_expect(lx, ')', "to close 'shape'");
}

/* The dtype: float64 or float32, little-endian (or native on a little-endian host). */
static int check_descr(const char *descr, const char *src, size_t *itemsize, char *err,
                       size_t errlen)
{
    const char order = descr[0];
    const int little = order == '<' || (order == '=' && host_is_little_endian());
    const int is_float = descr[1] == 'f' && (strcmp(descr + 2, "8") == 0
                                            || strcmp(descr + 2, "4") == 0);
    if (is_float && little) {
        *itemsize = descr[2] == '8' ? 8 : 4;
        return DODE_OK;
    }
    if (is_float && (order == '>' || order == '='))
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: dtype '%s' is big-endian; "
                         "only little-endian '<f8' and '<f4' are supported", src, descr);
    return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: unsupported dtype '%s' "
                     "(only float64 '<f8' and float32 '<f4' are supported)", src, descr);
}

typedef struct {
    char descr[32];
    int fortran;
    size_t dims[3], ndim;
    int seen[3];         /* descr, fortran_order, shape */
} npy_dict;

/* One "key: value" pair of the header dict. */
static int dict_entry(npy_lexer *lx, npy_dict *d)
{
    static const char *const keys[3] = { "descr", "fortran_order", "shape" };
    char key[32];
    int rc = lex_string(lx, key, sizeof key, "a header key");
    if (rc == DODE_OK)
        rc = lex_expect(lx, ':', "after a header key");
    if (rc != DODE_OK)
        return rc;
    int k = 0;
    while (k < 3 && strcmp(key, keys[k]) != 0)
        k++;
    if (k == 3 || d->seen[k])
        return dode_fail(lx->err, lx->errlen, DODE_EFORMAT, "cannot read %s: header has %s key "
                         "'%s'", lx->src, k == 3 ? "an unknown" : "a repeated", key);
    d->seen[k] = 1;
    if (k == 0)
        return lex_string(lx, d->descr, sizeof d->descr, "'descr'");
    if (k == 1)
        return lex_bool(lx, &d->fortran);
    return lex_shape(lx, d->dims, &d->ndim);
}

/* The whole dict: '{' entries '}' then only blanks. */
static int dict_parse(npy_lexer *lx, npy_dict *d)
{
    int rc = lex_expect(lx, '{', "at the start of the header");
    for (lex_space(lx); rc == DODE_OK && lx->p < lx->end && *lx->p != '}'; lex_space(lx)) {
        if ((rc = dict_entry(lx, d)) != DODE_OK)
            return rc;
        lex_space(lx);
        if (lx->p < lx->end && *lx->p == ',')
            lx->p++;
        else if (lx->p < lx->end && *lx->p != '}')
            return lex_expect(lx, '}', "or ',' after a header value");
    }
    if (rc == DODE_OK)
        rc = lex_expect(lx, '}', "at the end of the header");
    lex_space(lx);
    if (rc == DODE_OK && lx->p != lx->end)
        return dode_fail(lx->err, lx->errlen, DODE_EFORMAT, "cannot read %s: malformed header: "
                         "text after the closing '}'", lx->src);
    return rc;
}

/* The dict's meaning: dtype, order and shape checks, into h (rows, cols, itemsize). */
static int dict_check(const npy_dict *d, const char *src, npy_header *h, char *err,
                      size_t errlen)
{
    static const char *const keys[3] = { "descr", "fortran_order", "shape" };
    for (int k = 0; k < 3; k++)
        if (!d->seen[k])
            return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: header has no '%s' key",
                             src, keys[k]);
    int rc = check_descr(d->descr, src, &h->itemsize, err, errlen);
    if (rc != DODE_OK)
        return rc;
    if (d->fortran)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: fortran_order is True; "
                         "only C order is supported", src);
    if (d->ndim < 1 || d->ndim > 3)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: shape has %zu dimensions; "
                         "expected 1 (n,) or 2 (n, d)", src, d->ndim);
    const size_t lead = d->ndim == 3 ? d->dims[0] : 1;
    const size_t *rest = d->ndim == 3 ? d->dims + 1 : d->dims;
    h->lead = d->ndim == 3 ? lead : 0;
    h->cols = d->ndim >= 2 ? rest[1] : 1;
    size_t count;
    if (lead == 0 || rest[0] == 0 || h->cols == 0)   /* an empty batch is never useful here */
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: shape %s(%zu, %zu) has no "
                         "elements", src, d->ndim == 3 ? "(leading) " : "", rest[0], h->cols);
    if (dode_mul_size(lead, rest[0], &h->rows) != DODE_OK
        || dode_mul_size(h->rows, h->cols, &count) != DODE_OK || count > NPY_MAX_ELEMS)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: shape (%zu, %zu) exceeds "
                         "the limit of %zu elements", src, rest[0], h->cols, NPY_MAX_ELEMS);
    return DODE_OK;
}

/* Preamble plus header from the first len bytes of a file (len may be the whole file). */
static int npy_header_parse(const unsigned char *buf, size_t len, const char *src,
                            npy_header *h, char *err, size_t errlen)
{
    size_t off, hlen;
    int rc = npy_prefix(buf, len, src, &off, &hlen, err, errlen);
    if (rc != DODE_OK)
        return rc;
    if (hlen > len - off)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: header of %zu bytes runs "
                         "past the end of the file (%zu bytes)", src, hlen, len);
    npy_lexer lx = { (const char *)buf + off, (const char *)buf + off + hlen, src, err, errlen };
    npy_dict d = { .ndim = 0 };
    if ((rc = dict_parse(&lx, &d)) != DODE_OK || (rc = dict_check(&d, src, h, err, errlen)) != DODE_OK)
        return rc;
    h->data_off = off + hlen;
    return DODE_OK;
}

/* Little-endian raw values to doubles, independent of the host's byte order. */
static void npy_convert(const unsigned char *raw, size_t count, size_t itemsize, double *out)
{
    for (size_t i = 0; i < count; i++, raw += itemsize) {
        uint64_t bits = 0;
        for (size_t b = itemsize; b-- > 0;)
            bits = bits << 8 | raw[b];
        if (itemsize == 8) {
            memcpy(&out[i], &bits, 8);
        } else {
            const uint32_t bits32 = (uint32_t)bits;
            float f;
            memcpy(&f, &bits32, 4);
            out[i] = f;
        }
    }
}

/* Checks the data length against the shape, then converts into a new array. */
static int npy_data(const npy_header *h, const unsigned char *raw, size_t have,
                    const char *src, double **data, char *err, size_t errlen)
{
    const size_t count = h->rows * h->cols, need = count * h->itemsize;
    if (have < need)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: data truncated: shape "
                         "(%zu, %zu) of float%zu needs %zu bytes, found %zu", src, h->rows,
                         h->cols, h->itemsize * 8, need, have);
    if (have > need)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: trailing bytes after the "
                         "%zu data bytes that shape (%zu, %zu) of float%zu needs", src, need,
                         h->rows, h->cols, h->itemsize * 8);
    double *out = malloc(count * sizeof *out);
    if (out == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot read %s: cannot allocate %zu doubles",
                         src, count);
    npy_convert(raw, count, h->itemsize, out);
    *data = out;
    return DODE_OK;
}

/* The 2-D readers' refusal of a 3-D array. */
static int npy_not_2d(const char *src, char *err, size_t errlen)
{
    return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: shape has 3 dimensions; "
                     "expected 1 (n,) or 2 (n, d)", src);
}

int dode_npy_parse(const unsigned char *buf, size_t len, const char *source,
                   double **data, size_t *rows, size_t *cols, char *err, size_t errlen)
{
    const char *src = source != NULL ? source : "(buffer)";
    npy_header h;
    if (buf == NULL || data == NULL || rows == NULL || cols == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "cannot read %s: NULL argument", src);
    int rc = npy_header_parse(buf, len, src, &h, err, errlen);
    if (rc == DODE_OK && h.lead > 0)
        rc = npy_not_2d(src, err, errlen);
    if (rc == DODE_OK)
        rc = npy_data(&h, buf + h.data_off, len - h.data_off, src, data, err, errlen);
    if (rc == DODE_OK) {
        *rows = h.rows;
        *cols = h.cols;
    }
    return rc;
}

/* Reads up to len bytes (fewer only at end of file); *got says how many. */
static int read_full(FILE *f, unsigned char *buf, size_t len, size_t *got, const char *path,
                     char *err, size_t errlen)
{
    *got = fread(buf, 1, len, f);
    if (*got < len && ferror(f))
        return dode_fail(err, errlen, DODE_EIO, "cannot read %s: %s", path, strerror(errno));
    return DODE_OK;
}

/* The preamble and header of an open file; leaves the stream at the first data byte. */
static int read_header(FILE *f, const char *path, npy_header *h, char *err, size_t errlen)
{
    unsigned char pre[12];
    size_t got, off, hlen;
    int rc = read_full(f, pre, sizeof pre, &got, path, err, errlen);
    if (rc == DODE_OK)
        rc = npy_prefix(pre, got, path, &off, &hlen, err, errlen);
    if (rc != DODE_OK)
        return rc;
    unsigned char *head = malloc(off + hlen + sizeof pre);
    if (head == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot read %s: out of memory", path);
    memcpy(head, pre, got);
    size_t more = 0;
    if (off + hlen > got)
        rc = read_full(f, head + got, off + hlen - got, &more, path, err, errlen);
    if (rc == DODE_OK)
        rc = npy_header_parse(head, got + more, path, h, err, errlen);
    free(head);
    /* a valid header is longer than the 12 bytes read first, so the stream now stands
     * exactly at h->data_off (no seek: pipes work too) */
    return rc;
}

/* The whole file: header into *hd, values into *data (on success only). dims_max (2 or 3)
 * is the most dimensions the caller accepts. */
static int npy_read_file(const char *path, int dims_max, npy_header *hd, double **data,
                         char *err, size_t errlen)
{
    /* a regular file only (a FIFO or /dev/zero is refused before any read); its size is
     * compared with the shape below, so the cap here is only the largest shape's */
    int fd = -1;
    size_t fsize = 0;
    int rc = dode_file_open(path, NPY_MAX_HEADER + 16 + NPY_MAX_ELEMS * 16, &fd, &fsize, err,
                            errlen);
    if (rc != DODE_OK)
        return rc;
    FILE *f = fdopen(fd, "rb");
    if (f == NULL) {
        close(fd);
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot read %s: out of memory", path);
    }
    npy_header h;
    unsigned char *raw = NULL;
    size_t got = 0;
    rc = read_header(f, path, &h, err, errlen);
    if (rc == DODE_OK && h.lead > 0 && dims_max < 3)
        rc = npy_not_2d(path, err, errlen);
    if (rc == DODE_OK && fsize - h.data_off != h.rows * h.cols * h.itemsize)
        /* a shape the file cannot hold is refused before allocating for it (a corrupt
         * header may claim 2^34 elements); npy_data only reads `raw` when the size fits */
        rc = npy_data(&h, NULL, fsize - h.data_off, path, data, err, errlen);
    if (rc == DODE_OK) {
        /* one byte beyond the shape's need, so that trailing data is detected */
        const size_t need = h.rows * h.cols * h.itemsize + 1;
        raw = malloc(need);
        rc = raw == NULL ? dode_fail(err, errlen, DODE_ENOMEM, "cannot read %s: cannot allocate "
                                     "%zu bytes", path, need)
                         : read_full(f, raw, need, &got, path, err, errlen);
    }
    if (rc == DODE_OK)
        rc = npy_data(&h, raw, got, path, data, err, errlen);
    free(raw);
    fclose(f);
    if (rc == DODE_OK)
        *hd = h;
    return rc;
}

int dode_npy_read(const char *path, double **data, size_t *rows, size_t *cols,
                  char *err, size_t errlen)
{
    if (path == NULL || data == NULL || rows == NULL || cols == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "npy read: NULL argument");
    npy_header h;
    int rc = npy_read_file(path, 2, &h, data, err, errlen);
    if (rc == DODE_OK) {
        *rows = h.rows;
        *cols = h.cols;
    }
    return rc;
}

int dode_npy_read3(const char *path, double **data, size_t shape[3], char *err,
                   size_t errlen)
{
    if (path == NULL || data == NULL || shape == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "npy read: NULL argument");
    npy_header h;
    int rc = npy_read_file(path, 3, &h, data, err, errlen);
    if (rc == DODE_OK && h.lead == 0) {
        free(*data);
        *data = NULL;
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: shape has %s; expected "
                         "3 dimensions", path, h.cols == 1 ? "1 or 2 dimensions" : "2 dimensions");
    }
    if (rc == DODE_OK) {
        shape[0] = h.lead;
        shape[1] = h.rows / h.lead;
        shape[2] = h.cols;
    }
    return rc;
}

/* The version 1.0 header for a lead x rows x cols '<f8' array (lead 0: rows x cols),
 * padded to 64 bytes; returns its length (preamble included) or 0 if it does not fit. */
static size_t npy_write_header(unsigned char *buf, size_t cap, size_t lead, size_t rows,
                               size_t cols)
{
    char dict[192], lead_text[32] = "";
    if (lead > 0)
        snprintf(lead_text, sizeof lead_text, "%zu, ", lead);
    const int n = snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, "
                           "'shape': (%s%zu, %zu), }", lead_text, rows, cols);
    if (n < 0 || (size_t)n >= sizeof dict)
        return 0;
    const size_t total = ((10 + (size_t)n + 1) + 63) / 64 * 64;   /* + 1 for the '\n' */
    const size_t hlen = total - 10;
    if (total > cap)
        return 0;
    memcpy(buf, NPY_MAGIC, NPY_MAGIC_LEN);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', hlen - (size_t)n - 1);
    buf[total - 1] = '\n';
    return total;
}

/* lead 0: a 2-D rows x cols array; else a 3-D lead x rows x cols one. */
static int npy_write_any(const char *path, const double *data, size_t lead, size_t rows,
                         size_t cols, char *err, size_t errlen)
{
    size_t count, bytes, all_rows = rows;
    if (path == NULL || data == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "cannot write .npy: NULL argument");
    if (rows == 0 || cols == 0 || (lead > 0 && dode_mul_size(lead, rows, &all_rows) != DODE_OK)
        || dode_mul_size(all_rows, cols, &count) != DODE_OK
        || count > NPY_MAX_ELEMS)
        return dode_fail(err, errlen, DODE_EINVAL, "cannot write %s: shape (%zu, %zu) is empty "
                         "or too large", path, rows, cols);
    bytes = 256 + count * 8;
    unsigned char *buf = malloc(bytes);
    if (buf == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot write %s: cannot allocate %zu bytes",
                         path, bytes);
    const size_t off = npy_write_header(buf, 256, lead, rows, cols);
    for (size_t i = 0; i < count; i++) {
        uint64_t bits;
        memcpy(&bits, &data[i], 8);
        for (size_t b = 0; b < 8; b++, bits >>= 8)
            buf[off + 8 * i + b] = (unsigned char)(bits & 0xff);
    }
    int rc = dode_write_atomic(path, buf, off + count * 8, err, errlen);
    free(buf);
    return rc;
}

int dode_npy_write(const char *path, const double *data, size_t rows, size_t cols,
                   char *err, size_t errlen)
{
    return npy_write_any(path, data, 0, rows, cols, err, errlen);
}

int dode_npy_write3(const char *path, const double *data, const size_t shape[3],
                    char *err, size_t errlen)
{
    if (shape == NULL || shape[0] == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "cannot write %s: a 3-D shape needs a "
                         "leading dimension >= 1", path != NULL ? path : "(NULL)");
    return npy_write_any(path, data, shape[0], shape[1], shape[2], err, errlen);
}
