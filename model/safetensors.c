/* safetensors.c - the .safetensors reader and writer (safetensors.h).
 *
 * Invariant of a parsed object: every tensor has a unique name, 0 <= ndim <= 8,
 * size = product of shape, and data holds size doubles decoded from little-endian F32/F64
 * bytes that lay inside the file's data buffer. The format is the one documented at
 * github.com/huggingface/safetensors (README "Format"): the header may be padded with
 * spaces, offsets are relative to the byte after the header. */
#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/fileio.h"
#include "diffode/safetensors.h"
#include "diffode/status.h"

#define MAX_EXACT_INT 9007199254740992.0     /* 2^53: JSON numbers are doubles in cJSON */

const char *dode_dtype_name(dode_dtype dtype)
{
    return dtype == DODE_DTYPE_F32 ? "F32" : "F64";
}

static size_t dtype_size(dode_dtype dtype)
{
    return dtype == DODE_DTYPE_F32 ? 4 : 8;
}

/* "cannot read SOURCE: <formatted reason>" into err; returns code. */
static int read_fail(char *err, size_t errlen, int code, const char *source,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int read_fail(char *err, size_t errlen, int code, const char *source,
                     const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return dode_fail(err, errlen, code, "cannot read %s: %s", source, why);
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_le(unsigned char *p, uint64_t v, int nbytes)
{
    for (int i = 0; i < nbytes; i++, v >>= 8)
        p[i] = (unsigned char)(v & 0xff);
}

static char *dup_string(const char *s)
{
    const size_t len = strlen(s) + 1;
    char *d = malloc(len);
    if (d != NULL)
        memcpy(d, s, len);
    return d;
}

void dode_safetensors_free(dode_safetensors *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->count; i++) {
        free(st->tensors[i].name);
        free(st->tensors[i].data);
    }
    for (size_t i = 0; i < 2 * st->nmeta; i++)
        free(st->meta[i]);
    free(st->tensors);
    free(st->meta);
    free(st);
}

/* A JSON number that is an exact non-negative integer (<= 2^53). */
static int json_size(const cJSON *item, size_t *out)
{
    if (!cJSON_IsNumber(item))
        return 0;
    const double d = item->valuedouble;
    if (!(d >= 0 && d <= MAX_EXACT_INT && d == floor(d)) || d > (double)SIZE_MAX)
        return 0;
    *out = (size_t)d;
    return 1;
}

static int parse_dtype(const cJSON *entry, const char *name, dode_tensor *t,
                       const char *source, char *err, size_t errlen)
{
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    if (!cJSON_IsString(dt))
        return read_fail(err, errlen, DODE_EFORMAT, source,
                         "tensor \"%s\": \"dtype\" is missing or not a string", name);
    if (strcmp(dt->valuestring, "F64") == 0)
        t->dtype = DODE_DTYPE_F64;
    else if (strcmp(dt->valuestring, "F32") == 0)
        t->dtype = DODE_DTYPE_F32;
    else
        return read_fail(err, errlen, DODE_EFORMAT, source, "tensor \"%s\": unsupported "
                         "dtype \"%.40s\" (diffode reads F32 and F64)", name, dt->valuestring);
    return DODE_OK;
}

static int parse_shape(const cJSON *entry, const char *name, dode_tensor *t,
                       const char *source, char *err, size_t errlen)
{
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    if (!cJSON_IsArray(shape))
        return read_fail(err, errlen, DODE_EFORMAT, source,
                         "tensor \"%s\": \"shape\" is missing or not an array", name);
    const int nd = cJSON_GetArraySize(shape);
    if (nd > DODE_TENSOR_MAX_DIMS)
        return read_fail(err, errlen, DODE_EFORMAT, source, "tensor \"%s\": %d dimensions, "
                         "at most %d supported", name, nd, DODE_TENSOR_MAX_DIMS);
    t->ndim = (size_t)nd;
    t->size = 1;
    for (int i = 0; i < nd; i++) {
        size_t d;
        if (!json_size(cJSON_GetArrayItem(shape, i), &d))
            return read_fail(err, errlen, DODE_EFORMAT, source, "tensor \"%s\": shape "
                             "entry %d is not a non-negative integer", name, i);
        if (dode_mul_size(t->size, d, &t->size) != DODE_OK)
            return read_fail(err, errlen, DODE_EFORMAT, source,
                             "tensor \"%s\": shape overflows", name);
        t->shape[i] = d;
    }
    return DODE_OK;
}

static void decode(const unsigned char *p, dode_dtype dtype, size_t count, double *out)
{
    for (size_t i = 0; i < count; i++) {
        if (dtype == DODE_DTYPE_F64) {
            const uint64_t bits = le64(p + 8 * i);
            memcpy(&out[i], &bits, sizeof out[i]);
        } else {
            const unsigned char *q = p + 4 * i;
            const uint32_t bits = (uint32_t)q[0] | (uint32_t)q[1] << 8 |
                                  (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
            float f;
            memcpy(&f, &bits, sizeof f);
            out[i] = (double)f;
        }
    }
}

/* A tensor's bytes in the data buffer, for the layout check. */
typedef struct {
    size_t begin, end;
    const char *name;
} span;

/* data_offsets [begin, end]: inside the buffer, begin <= end, spanning size * itemsize. */
static int parse_data(const cJSON *entry, const char *name, dode_tensor *t,
                      const unsigned char *data, size_t dlen, span *sp, const char *source,
                      char *err, size_t errlen)
{
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    size_t begin, end, nbytes;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 ||
        !json_size(cJSON_GetArrayItem(off, 0), &begin) ||
        !json_size(cJSON_GetArrayItem(off, 1), &end))
        return read_fail(err, errlen, DODE_EFORMAT, source, "tensor \"%s\": \"data_offsets\" "
                         "is missing or not two non-negative integers", name);
    if (begin > end || end > dlen)
        return read_fail(err, errlen, DODE_EFORMAT, source, "tensor \"%s\": data_offsets "
                         "[%zu, %zu] out of range of the %zu-byte data buffer",
                         name, begin, end, dlen);
    if (dode_mul_size(t->size, dtype_size(t->dtype), &nbytes) != DODE_OK ||
        nbytes != end - begin)
        return read_fail(err, errlen, DODE_EFORMAT, source, "tensor \"%s\": shape needs "
                         "%zu %s values but data_offsets span %zu bytes", name, t->size,
                         dode_dtype_name(t->dtype), end - begin);
    t->data = malloc((t->size > 0 ? t->size : 1) * sizeof *t->data);
    if (t->data == NULL)
        return read_fail(err, errlen, DODE_ENOMEM, source, "out of memory for \"%s\"", name);
    decode(data + begin, t->dtype, t->size, t->data);
    *sp = (span){ begin, end, name };
    return DODE_OK;
}

static int parse_tensor(const cJSON *entry, dode_tensor *t, const unsigned char *data,
                        size_t dlen, span *sp, const char *source, char *err, size_t errlen)
{
    const char *name = entry->string;
    if (!cJSON_IsObject(entry))
        return read_fail(err, errlen, DODE_EFORMAT, source,
                         "tensor \"%s\": entry is not an object", name);
    int rc = parse_dtype(entry, name, t, source, err, errlen);
    if (rc == DODE_OK)
        rc = parse_shape(entry, name, t, source, err, errlen);
    if (rc == DODE_OK)
        rc = parse_data(entry, name, t, data, dlen, sp, source, err, errlen);
    if (rc == DODE_OK && (t->name = dup_string(name)) == NULL)
        rc = read_fail(err, errlen, DODE_ENOMEM, source, "out of memory");
    return rc;
}

static int parse_metadata(const cJSON *meta, dode_safetensors *st, const char *source,
                          char *err, size_t errlen)
{
    if (!cJSON_IsObject(meta))
        return read_fail(err, errlen, DODE_EFORMAT, source,
                         "\"__metadata__\" is not an object of strings");
    const size_t n = (size_t)cJSON_GetArraySize(meta);
    st->meta = calloc(2 * n + 1, sizeof *st->meta);
    if (st->meta == NULL)
        return read_fail(err, errlen, DODE_ENOMEM, source, "out of memory");
    const cJSON *kv;
    cJSON_ArrayForEach(kv, meta) {
        if (!cJSON_IsString(kv))
            return read_fail(err, errlen, DODE_EFORMAT, source, "\"__metadata__\" "
                             "entry \"%s\" is not a string", kv->string);
        st->meta[2 * st->nmeta] = dup_string(kv->string);
        st->meta[2 * st->nmeta + 1] = dup_string(kv->valuestring);
        st->nmeta++;
        if (st->meta[2 * st->nmeta - 2] == NULL || st->meta[2 * st->nmeta - 1] == NULL)
            return read_fail(err, errlen, DODE_ENOMEM, source, "out of memory");
    }
    return DODE_OK;
}

static int check_unique(const dode_safetensors *st, const char *source, char *err,
                        size_t errlen)
{
    for (size_t i = 0; i < st->count; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(st->tensors[i].name, st->tensors[j].name) == 0)
                return read_fail(err, errlen, DODE_EFORMAT, source,
                                 "tensor \"%s\" appears twice", st->tensors[i].name);
    return DODE_OK;
}

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->begin != y->begin ? (x->begin < y->begin ? -1 : 1)
                                : (x->end < y->end ? -1 : x->end > y->end);
}

/* The format's layout rule (safetensors' own validate()): sorted by offset, the tensors
 * cover the data buffer exactly, without overlap, gap or bytes after the last one. An
 * overlap would let two tensors share bytes, trailing bytes are data no tensor owns. */
static int check_layout(span *sp, size_t n, size_t dlen, const char *source, char *err,
                        size_t errlen)
{
    qsort(sp, n, sizeof *sp, span_cmp);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (sp[i].begin < at)
            return read_fail(err, errlen, DODE_EFORMAT, source, "tensors \"%s\" and \"%s\" "
                             "overlap: bytes [%zu, %zu) and [%zu, %zu) of the data buffer",
                             sp[i - 1].name, sp[i].name, sp[i - 1].begin, sp[i - 1].end,
                             sp[i].begin, sp[i].end);
        if (sp[i].begin > at)
            return read_fail(err, errlen, DODE_EFORMAT, source, "bytes [%zu, %zu) of the data "
                             "buffer belong to no tensor (before \"%s\")", at, sp[i].begin,
                             sp[i].name);
        at = sp[i].end;
    }
    if (at != dlen)
        return read_fail(err, errlen, DODE_EFORMAT, source, "%zu bytes after the last "
                         "tensor's data (the data buffer is %zu bytes, the tensors end at %zu)",
                         dlen - at, dlen, at);
    return DODE_OK;
}

/* parse_entries' loop: every entry, then names unique and the layout exact. */
static int parse_items(const cJSON *root, dode_safetensors *st, const unsigned char *data,
                       size_t dlen, span *sp, const char *source, char *err, size_t errlen)
{
    const cJSON *item;
    int seen_meta = 0;
    cJSON_ArrayForEach(item, root) {
        int rc;
        if (strcmp(item->string, "__metadata__") == 0) {
            if (seen_meta++)
                return read_fail(err, errlen, DODE_EFORMAT, source,
                                 "\"__metadata__\" appears twice");
            rc = parse_metadata(item, st, source, err, errlen);
        } else {
            rc = parse_tensor(item, &st->tensors[st->count], data, dlen, &sp[st->count],
                              source, err, errlen);
            if (st->tensors[st->count].name != NULL || st->tensors[st->count].data != NULL)
                st->count++;        /* partly filled entries are freed with the rest */
        }
        if (rc != DODE_OK)
            return rc;
    }
    const int rc = check_unique(st, source, err, errlen);
    return rc != DODE_OK ? rc : check_layout(sp, st->count, dlen, source, err, errlen);
}

/* Walks the parsed header object: tensors and the optional __metadata__. */
static int parse_entries(const cJSON *root, dode_safetensors *st, const unsigned char *data,
                         size_t dlen, const char *source, char *err, size_t errlen)
{
    const size_t n = (size_t)cJSON_GetArraySize(root);
    st->tensors = calloc(n + 1, sizeof *st->tensors);
    span *sp = calloc(n + 1, sizeof *sp);
    if (st->tensors == NULL || sp == NULL) {
        free(sp);
        return read_fail(err, errlen, DODE_ENOMEM, source, "out of memory");
    }
    const int rc = parse_items(root, st, data, dlen, sp, source, err, errlen);
    free(sp);
    return rc;
}

static int parse_header(const char *hdr, size_t hlen, const unsigned char *data, size_t dlen,
                        dode_safetensors *st, const char *source, char *err, size_t errlen)
{
    if (hlen == 0 || hdr[0] != '{')
        return read_fail(err, errlen, DODE_EFORMAT, source,
                         "header does not start with '{' (not a safetensors file?)");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, hlen, &end, 0);
    if (root == NULL)
        return read_fail(err, errlen, DODE_EFORMAT, source, "header is not valid JSON "
                         "(error near header byte %zu)", end != NULL ? (size_t)(end - hdr) : 0);
    int rc = DODE_OK;
    for (const char *p = end; p < hdr + hlen && rc == DODE_OK; p++)
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
            rc = read_fail(err, errlen, DODE_EFORMAT, source, "header has bytes after its "
                           "JSON object (at header byte %zu)", (size_t)(p - hdr));
    if (rc == DODE_OK && !cJSON_IsObject(root))
        rc = read_fail(err, errlen, DODE_EFORMAT, source, "header is not a JSON object");
    if (rc == DODE_OK)
        rc = parse_entries(root, st, data, dlen, source, err, errlen);
    cJSON_Delete(root);
    return rc;
}

int dode_safetensors_parse(const unsigned char *buf, size_t len, const char *source,
                           dode_safetensors **out, char *err, size_t errlen)
{
    if (source == NULL)
        source = "safetensors image";
    if (buf == NULL || out == NULL)
        return read_fail(err, errlen, DODE_EINVAL, source, "NULL argument");
    if (len < 8)
        return read_fail(err, errlen, DODE_EFORMAT, source, "%zu bytes is too short for the "
                         "8-byte header length", len);
    const uint64_t hlen = le64(buf);
    if (hlen > DODE_SAFETENSORS_MAX_HEADER)
        return read_fail(err, errlen, DODE_EFORMAT, source, "header length %llu exceeds the "
                         "limit of %u bytes", (unsigned long long)hlen,
                         DODE_SAFETENSORS_MAX_HEADER);
    if (hlen > len - 8)
        return read_fail(err, errlen, DODE_EFORMAT, source, "header length %llu runs past "
                         "the end of the file (%zu bytes)", (unsigned long long)hlen, len);
    dode_safetensors *st = calloc(1, sizeof *st);
    if (st == NULL)
        return read_fail(err, errlen, DODE_ENOMEM, source, "out of memory");
    const int rc = parse_header((const char *)buf + 8, (size_t)hlen, buf + 8 + hlen,
                                len - 8 - (size_t)hlen, st, source, err, errlen);
    if (rc != DODE_OK) {
        dode_safetensors_free(st);
        return rc;
    }
    *out = st;
    return DODE_OK;
}

int dode_safetensors_read(const char *path, dode_safetensors **out, char *err,
                          size_t errlen)
{
    if (path == NULL || out == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "safetensors read: NULL argument");
    char *buf = NULL;
    size_t len = 0;
    int rc = dode_file_read(path, DODE_SAFETENSORS_MAX_FILE, &buf, &len, err, errlen);
    if (rc != DODE_OK)
        return rc;
    rc = dode_safetensors_parse((const unsigned char *)buf, len, path, out, err, errlen);
    free(buf);
    return rc;
}

const dode_tensor *dode_safetensors_find(const dode_safetensors *st, const char *name)
{
    for (size_t i = 0; st != NULL && i < st->count; i++)
        if (strcmp(st->tensors[i].name, name) == 0)
            return &st->tensors[i];
    return NULL;
}

const char *dode_safetensors_meta(const dode_safetensors *st, const char *key)
{
    for (size_t i = 0; st != NULL && i < st->nmeta; i++)
        if (strcmp(st->meta[2 * i], key) == 0)
            return st->meta[2 * i + 1];
    return NULL;
}

static void format_shape(char *buf, size_t len, size_t ndim, const size_t *shape)
{
    size_t used = (size_t)snprintf(buf, len, "[");
    for (size_t i = 0; i < ndim && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, i ? ", %zu" : "%zu", shape[i]);
    if (used < len)
        snprintf(buf + used, len - used, "]");
}

int dode_safetensors_expect(const dode_safetensors *st, const char *name, size_t ndim,
                            const size_t *shape, const dode_tensor **out, char *err,
                            size_t errlen)
{
    const dode_tensor *t = dode_safetensors_find(st, name);
    if (t == NULL)
        return dode_fail(err, errlen, DODE_ENOTFOUND, "tensor \"%s\" is missing", name);
    int same = t->ndim == ndim;
    for (size_t i = 0; same && i < ndim; i++)
        same = t->shape[i] == shape[i];
    if (!same) {
        char got[128], want[128];
        format_shape(got, sizeof got, t->ndim, t->shape);
        format_shape(want, sizeof want, ndim, shape);
        return dode_fail(err, errlen, DODE_EFORMAT, "tensor \"%s\" has shape %s, expected %s",
                         name, got, want);
    }
    *out = t;
    return DODE_OK;
}

/* --- writer --- */

static int check_tensor(const dode_safetensors *st, size_t i, dode_dtype dtype,
                        const char *path, char *err, size_t errlen)
{
    const dode_tensor *t = &st->tensors[i];
    size_t size = 1;
    if (t->name == NULL || strcmp(t->name, "__metadata__") == 0 || t->ndim > DODE_TENSOR_MAX_DIMS)
        return dode_fail(err, errlen, DODE_EINVAL, "cannot write %s: tensor %zu has no valid "
                         "name or too many dimensions", path, i);
    for (size_t k = 0; k < t->ndim; k++)
        if (dode_mul_size(size, t->shape[k], &size) != DODE_OK)
            size = SIZE_MAX;
    if (size != t->size || (size > 0 && t->data == NULL))
        return dode_fail(err, errlen, DODE_EINVAL, "cannot write %s: tensor \"%s\": size %zu "
                         "does not match its shape", path, t->name, t->size);
    for (size_t j = 0; j < i; j++)
        if (strcmp(st->tensors[j].name, t->name) == 0)
            return dode_fail(err, errlen, DODE_EINVAL, "cannot write %s: tensor \"%s\" "
                             "appears twice", path, t->name);
    for (size_t k = 0; dtype == DODE_DTYPE_F32 && k < size; k++)
        if (isfinite(t->data[k]) && fabs(t->data[k]) > FLT_MAX)
            return dode_fail(err, errlen, DODE_EINVAL, "cannot write %s: tensor \"%s\": value "
                             "%g at index %zu does not fit in F32", path, t->name,
                             t->data[k], k);
    return DODE_OK;
}

static cJSON *tensor_json(const dode_tensor *t, dode_dtype dtype, size_t begin, size_t end)
{
    cJSON *e = cJSON_CreateObject(), *shape = cJSON_CreateArray(), *off = cJSON_CreateArray();
    if (e == NULL || shape == NULL || off == NULL) {
        cJSON_Delete(e);
        cJSON_Delete(shape);
        cJSON_Delete(off);
        return NULL;
    }
    cJSON_AddItemToObject(e, "dtype", cJSON_CreateString(dode_dtype_name(dtype)));
    cJSON_AddItemToObject(e, "shape", shape);
    cJSON_AddItemToObject(e, "data_offsets", off);
    for (size_t k = 0; k < t->ndim; k++)
        cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[k]));
    cJSON_AddItemToArray(off, cJSON_CreateNumber((double)begin));
    cJSON_AddItemToArray(off, cJSON_CreateNumber((double)end));
    return e;
}

/* The header JSON text (NULL when out of memory); *dlen = data bytes that follow. */
static char *header_text(const dode_safetensors *st, dode_dtype dtype, size_t *dlen)
{
    cJSON *root = cJSON_CreateObject();
    if (root != NULL && st->nmeta > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        for (size_t i = 0; meta != NULL && i < st->nmeta; i++)
            cJSON_AddItemToObject(meta, st->meta[2 * i], cJSON_CreateString(st->meta[2 * i + 1]));
    }
    size_t off = 0;
    for (size_t i = 0; root != NULL && i < st->count; i++) {
        const size_t bytes = st->tensors[i].size * dtype_size(dtype);
        cJSON *e = tensor_json(&st->tensors[i], dtype, off, off + bytes);
        if (e == NULL) {
            cJSON_Delete(root);
            return NULL;
        }
        cJSON_AddItemToObject(root, st->tensors[i].name, e);
        off += bytes;
    }
    char *text = root != NULL ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    *dlen = off;
    return text;
}

static void encode(unsigned char *p, const double *v, size_t count, dode_dtype dtype)
{
    for (size_t i = 0; i < count; i++) {
        if (dtype == DODE_DTYPE_F64) {
            uint64_t bits;
            memcpy(&bits, &v[i], sizeof bits);
            put_le(p + 8 * i, bits, 8);
        } else {
            const float f = (float)v[i];
            uint32_t bits;
            memcpy(&bits, &f, sizeof bits);
            put_le(p + 4 * i, bits, 4);
        }
    }
}

/* 8-byte length, header padded with spaces to a multiple of 8 (as the Rust writer does,
 * so the data buffer is aligned), then the tensors back to back. */
static unsigned char *build_file(const dode_safetensors *st, dode_dtype dtype, size_t *len)
{
    size_t dlen;
    char *text = header_text(st, dtype, &dlen);
    if (text == NULL)
        return NULL;
    const size_t tlen = strlen(text), hlen = (tlen + 7) / 8 * 8;
    *len = 8 + hlen + dlen;
    unsigned char *buf = malloc(*len);
    if (buf != NULL) {
        put_le(buf, hlen, 8);
        memcpy(buf + 8, text, tlen);
        memset(buf + 8 + tlen, ' ', hlen - tlen);
        unsigned char *p = buf + 8 + hlen;
        for (size_t i = 0; i < st->count; i++) {
            encode(p, st->tensors[i].data, st->tensors[i].size, dtype);
            p += st->tensors[i].size * dtype_size(dtype);
        }
    }
    free(text);
    return buf;
}

int dode_safetensors_write(const char *path, const dode_safetensors *st, dode_dtype dtype,
                           char *err, size_t errlen)
{
    if (path == NULL || st == NULL || (st->count > 0 && st->tensors == NULL) ||
        (st->nmeta > 0 && st->meta == NULL))
        return dode_fail(err, errlen, DODE_EINVAL, "safetensors write: NULL argument");
    for (size_t i = 0; i < 2 * st->nmeta; i++)
        if (st->meta[i] == NULL)
            return dode_fail(err, errlen, DODE_EINVAL, "cannot write %s: metadata entry %zu "
                             "is NULL", path, i / 2);
    for (size_t i = 0; i < st->count; i++) {
        const int rc = check_tensor(st, i, dtype, path, err, errlen);
        if (rc != DODE_OK)
            return rc;
    }
    size_t len = 0;
    unsigned char *buf = build_file(st, dtype, &len);
    if (buf == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot write %s: out of memory", path);
    const int rc = dode_write_atomic(path, buf, len, err, errlen);
    free(buf);
    return rc;
}
