/* idx.c - the IDX reader (idx.h): header, checks, then the items kept, streamed through
 * zlib's gzread (gzip or plain) so only the kept items are held, as doubles.
 *
 * Invariant: nothing is written to the caller's outputs until the whole read succeeded. */
#include <errno.h>
#include <gsl/gsl_rng.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "diffode/fileio.h"
#include "diffode/idx.h"
#include "diffode/status.h"
#include "gsl_quiet.h"

enum { IDX_TYPE_UBYTE = 0x08 };

/* What the header says. */
typedef struct {
    size_t ndims, dims[DODE_IDX_MAX_DIMS];
    size_t items, cols;        /* dims[0], product of the rest */
} idx_header;

void dode_idx_opts_init(dode_idx_opts *o)
{
    *o = (dode_idx_opts){ .subset = 0, .random = 0, .seed = 0, .raw = 0 };
}

/* Reads up to len bytes; returns how many, or -1 on a zlib error (*why set). */
static long long read_bytes(gzFile f, unsigned char *buf, size_t len, const char **why)
{
    size_t got = 0;
    while (got < len) {
        const size_t want = len - got < (1u << 30) ? len - got : (1u << 30);
        const int r = gzread(f, buf + got, (unsigned)want);
        if (r < 0) {
            int zerr = 0;
            *why = gzerror(f, &zerr);
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (long long)got;
}

/* Reads exactly len bytes of `what`; DODE_EFORMAT naming the file on a short read. */
static int read_exact(gzFile f, const char *path, const char *what, unsigned char *buf,
                      size_t len, char *err, size_t errlen)
{
    const char *why = NULL;
    const long long got = read_bytes(f, buf, len, &why);
    if (got < 0)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: %s: corrupt compressed "
                         "data (%s)", path, what, why != NULL ? why : "zlib error");
    if ((size_t)got < len)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: %s truncated: %lld of %zu "
                         "bytes%s", path, what, got, len, got == 0 ? " (end of file)" : "");
    return DODE_OK;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Magic and type code: 0x0000TTNN with TT = 0x08 and 1 <= NN <= DODE_IDX_MAX_DIMS. */
static int check_magic(const unsigned char *m, const char *path, idx_header *h, char *err,
                       size_t errlen)
{
    if (m[0] != 0 || m[1] != 0)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: not an IDX file (magic "
                         "0x%08x; IDX files start with 0x0000, e.g. 0x00000803 for images)",
                         path, (unsigned)be32(m));
    if (m[2] != IDX_TYPE_UBYTE)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: IDX type code 0x%02x is "
                         "not supported (only 0x08, unsigned bytes)", path, (unsigned)m[2]);
    if (m[3] == 0 || m[3] > DODE_IDX_MAX_DIMS)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: IDX header gives %u "
                         "dimensions (expected 1 to %d)", path, (unsigned)m[3],
                         DODE_IDX_MAX_DIMS);
    h->ndims = m[3];
    return DODE_OK;
}

/* Magic, then the sizes: each >= 1, their product within DODE_IDX_MAX_VALUES. */
static int read_header(gzFile f, const char *path, idx_header *h, char *err, size_t errlen)
{
    unsigned char buf[4 * (DODE_IDX_MAX_DIMS + 1)];
    int rc = read_exact(f, path, "IDX header", buf, 4, err, errlen);
    if (rc == DODE_OK)
        rc = check_magic(buf, path, h, err, errlen);
    if (rc == DODE_OK)
        rc = read_exact(f, path, "IDX header", buf + 4, 4 * h->ndims, err, errlen);
    if (rc != DODE_OK)
        return rc;
    size_t total = 1;
    for (size_t k = 0; k < h->ndims; k++) {
        h->dims[k] = be32(buf + 4 + 4 * k);
        if (h->dims[k] == 0)
            return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: IDX size %zu of %zu "
                             "is 0 (no data)", path, k + 1, h->ndims);
        if (dode_mul_size(total, h->dims[k], &total) != DODE_OK
            || total > DODE_IDX_MAX_VALUES)
            return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: IDX sizes give more "
                             "than %zu values (corrupt header?)", path, DODE_IDX_MAX_VALUES);
    }
    h->items = h->dims[0];
    h->cols = total / h->items;
    return DODE_OK;
}

/* Selection sampling (Knuth's Algorithm S): item `seen` of `items` is kept with
 * probability (want - kept) / (items - seen), which keeps exactly `want` in file order. */
static int keep_item(gsl_rng *rng, size_t seen, size_t items, size_t kept, size_t want)
{
    if (rng == NULL)
        return kept < want;
    return (double)(items - seen) * gsl_rng_uniform(rng) < (double)(want - kept);
}

/* The kept values. The buffer grows geometrically as the data arrive, never beyond len,
 * so a header claiming 2^32 values costs memory only for the bytes the file really holds:
 * a 16-byte file claiming 2 x 2 x 134810123 values fails "truncated" after one 64 KiB read
 * instead of asking for 4.3 GB (a gzip file's size is unknown until it is read). */
typedef struct {
    double *x;
    size_t len, used, cap;      /* values wanted in all, filled, allocated */
} idx_out;

enum { IDX_CHUNK = 1 << 16 };   /* bytes read at a time; also the first allocation, values */

/* Room for n more values: capacity doubled (at least IDX_CHUNK), at most len. */
static int out_reserve(idx_out *out, size_t n)
{
    const size_t need = out->used + n;
    if (need <= out->cap)
        return DODE_OK;
    size_t cap = out->cap < IDX_CHUNK ? IDX_CHUNK : 2 * out->cap;
    cap = cap < need ? need : cap > out->len ? out->len : cap;
    double *x = realloc(out->x, cap * sizeof *x);
    if (x == NULL)
        return DODE_ENOMEM;
    out->x = x;
    out->cap = cap;
    return DODE_OK;
}

/* Reads item i (cols bytes) in chunks through buf, appending its values to out if kept. */
static int read_item(gzFile f, const char *path, const idx_header *h, size_t i, int raw,
                     unsigned char *buf, idx_out *out, char *err, size_t errlen)
{
    for (size_t done = 0; done < h->cols;) {
        const size_t n = h->cols - done < IDX_CHUNK ? h->cols - done : IDX_CHUNK;
        const char *why = NULL;
        const long long got = read_bytes(f, buf, n, &why);
        if (got < 0)
            return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: data (item %zu of "
                             "%zu): corrupt compressed data (%s)", path, i + 1, h->items,
                             why != NULL ? why : "zlib error");
        if ((size_t)got < n)
            return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: data (item %zu of "
                             "%zu) truncated: %zu of %zu bytes%s", path, i + 1, h->items,
                             done + (size_t)got, h->cols, got == 0 ? " (end of file)" : "");
        done += n;
        if (out == NULL)
            continue;
        if (out_reserve(out, n) != DODE_OK)
            return dode_fail(err, errlen, DODE_ENOMEM, "cannot read %s: out of memory after "
                             "%zu of %zu values", path, out->used, out->len);
        for (size_t j = 0; j < n; j++)
            out->x[out->used++] = raw ? (double)buf[j] : 2.0 * (double)buf[j] / 255.0 - 1.0;
    }
    return DODE_OK;
}

/* Streams the payload item by item into out ([want][cols]), keeping the chosen ones. */
static int read_items(gzFile f, const char *path, const idx_header *h, const dode_idx_opts *o,
                      size_t want, gsl_rng *rng, idx_out *out, char *err, size_t errlen)
{
    unsigned char *buf = malloc(h->cols < IDX_CHUNK ? h->cols : IDX_CHUNK);
    if (buf == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot read %s: out of memory", path);
    int rc = DODE_OK;
    for (size_t i = 0, kept = 0; rc == DODE_OK && kept < want; i++) {
        const int keep = keep_item(rng, i, h->items, kept, want);
        rc = read_item(f, path, h, i, o->raw, buf, keep ? out : NULL, err, errlen);
        kept += keep != 0;
    }
    free(buf);
    return rc;
}

/* A plain file must hold at least the header and want items, and nothing after the last
 * item (the format has no trailer: extra bytes mean a wrong header): checked from its size
 * before anything is allocated, naming the first item cut. */
static int check_size(gzFile f, const char *path, const idx_header *h, size_t want,
                      size_t have, char *err, size_t errlen)
{
    if (!gzdirect(f))
        return DODE_OK;             /* gzip: checked as the data arrive */
    const size_t head = 4 + 4 * h->ndims;
    const size_t data = have > head ? have - head : 0;
    if (data / h->cols >= h->items && data > h->items * h->cols)
        return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: %zu bytes after the "
                         "last item (the header gives %zu x %zu bytes of data, the file "
                         "holds %zu)", path, data - h->items * h->cols, h->items, h->cols,
                         data);
    if (data / h->cols >= want)
        return DODE_OK;
    return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: data (item %zu of %zu) "
                     "truncated: the file holds %zu bytes of data, %zu items need %zu x %zu",
                     path, data / h->cols + 1, h->items, data, want, want, h->cols);
}

/* After the last item of a gzip stream read whole: nothing more may follow. */
static int check_end(gzFile f, const char *path, char *err, size_t errlen)
{
    unsigned char extra[64];
    const char *why = NULL;
    const long long got = read_bytes(f, extra, sizeof extra, &why);
    if (got == 0)
        return DODE_OK;
    return dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: %s after the last item",
                     path, got < 0 ? "corrupt compressed data" : "more bytes");
}

/* The kept values' count, want x cols, within DODE_IDX_MAX_KEPT: checked from the header
 * before any data are read or allocated (a gzip file's size says nothing of its content). */
static int check_kept(const char *path, const idx_header *h, size_t want, size_t *len,
                      char *err, size_t errlen)
{
    if (dode_mul_size(want, h->cols, len) == DODE_OK && *len <= DODE_IDX_MAX_KEPT)
        return DODE_OK;
    return dode_fail(err, errlen, DODE_EINVAL, "cannot read %s: %zu items of %zu values are "
                     "more than the limit of %zu values kept by one read (2^26, 512 MiB "
                     "as doubles); read a subset (n=...)", path, want, h->cols,
                     DODE_IDX_MAX_KEPT);
}

/* Header read and checked; the subset size checked against it. */
static int open_checked(const char *path, const dode_idx_opts *o, gzFile *f, idx_header *h,
                        size_t *want, size_t *have, char *err, size_t errlen)
{
    int fd = -1;            /* a regular file only: a FIFO or /dev/zero is refused here */
    int rc = dode_file_open(path, 4 * (DODE_IDX_MAX_DIMS + 1) + DODE_IDX_MAX_VALUES, &fd,
                            have, err, errlen);
    if (rc != DODE_OK)
        return rc;
    errno = 0;
    if ((*f = gzdopen(fd, "rb")) == NULL) {
        close(fd);
        return dode_fail(err, errlen, DODE_EIO, "cannot open %s: %s", path,
                         errno != 0 ? strerror(errno) : "out of memory");
    }
    rc = read_header(*f, path, h, err, errlen);
    if (rc != DODE_OK)
        return rc;
    if (o->subset > h->items)
        return dode_fail(err, errlen, DODE_EINVAL, "cannot read %s: a subset of %zu items was "
                         "asked for, but the file holds %zu", path, o->subset, h->items);
    *want = o->subset > 0 ? o->subset : h->items;
    return DODE_OK;
}

int dode_idx_read(const char *path, const dode_idx_opts *opts, double **data, size_t *rows,
                  size_t *cols, size_t *dims, size_t *ndims, char *err, size_t errlen)
{
    dode_idx_opts o;
    idx_header h = { 0 };
    gzFile f = NULL;
    gsl_rng *rng = NULL;
    dode_gsl_quiet();    /* gsl_rng_alloc reports no memory through the handler */
    idx_out out = { 0 };
    size_t want = 0, have = 0;
    if (path == NULL || data == NULL || rows == NULL || cols == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "IDX read: NULL argument");
    if (opts != NULL)
        o = *opts;
    else
        dode_idx_opts_init(&o);
    int rc = open_checked(path, &o, &f, &h, &want, &have, err, errlen);
    if (rc == DODE_OK)
        rc = check_size(f, path, &h, want, have, err, errlen);
    if (rc == DODE_OK)
        rc = check_kept(path, &h, want, &out.len, err, errlen);
    if (rc == DODE_OK && o.random && want < h.items
        && (rng = gsl_rng_alloc(gsl_rng_mt19937)) == NULL)
        rc = dode_fail(err, errlen, DODE_ENOMEM, "cannot read %s: out of memory", path);
    if (rng != NULL)
        gsl_rng_set(rng, o.seed);
    if (rc == DODE_OK)
        rc = read_items(f, path, &h, &o, want, rng, &out, err, errlen);
    if (rc == DODE_OK && want == h.items)
        rc = check_end(f, path, err, errlen);
    if (f != NULL)
        gzclose(f);
    gsl_rng_free(rng);
    if (rc != DODE_OK) {
        free(out.x);
        return rc;
    }
    *data = out.x;
    *rows = want;
    *cols = h.cols;
    for (size_t k = 0; dims != NULL && k < DODE_IDX_MAX_DIMS; k++)
        dims[k] = k < h.ndims ? h.dims[k] : 0;
    if (ndims != NULL)
        *ndims = h.ndims;
    return DODE_OK;
}
