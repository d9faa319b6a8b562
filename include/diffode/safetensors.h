/* safetensors.h - read and write .safetensors files, the weight format PyTorch users
 * already have (safetensors.torch.save_file), so a model trained elsewhere loads here.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON
 *   {"NAME": {"dtype": "F32"|"F64", "shape": [d0, ...], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"key": "value", ...}}
 * (possibly padded with spaces), then the data buffer; offsets are relative to the buffer.
 * diffode reads F32 and F64 (converted to double) and writes either. The reader checks
 * everything a malformed file can get wrong: the header length against the file and a
 * 100 MB cap, the JSON, dtypes, shapes, offsets inside the buffer, shape * itemsize =
 * end - begin, duplicate names, and __metadata__ being a map of strings. */
#ifndef DIFFODE_SAFETENSORS_H
#define DIFFODE_SAFETENSORS_H

#include <stddef.h>

#define DODE_TENSOR_MAX_DIMS 8
#define DODE_SAFETENSORS_MAX_HEADER 100000000u    /* as the reference implementation */
/* Largest file dode_safetensors_read takes: the 8-byte prefix, the largest header, and
 * 2 GiB of data (the MLP's 2^28 parameters as doubles, mlp.h); checked before reading. */
#define DODE_SAFETENSORS_MAX_FILE (8 + (size_t)DODE_SAFETENSORS_MAX_HEADER + ((size_t)1 << 31))

typedef enum { DODE_DTYPE_F64 = 0, DODE_DTYPE_F32 } dode_dtype;

typedef struct {
    char *name;
    dode_dtype dtype;                     /* as stored in the file */
    size_t ndim;                          /* 0 for a scalar */
    size_t shape[DODE_TENSOR_MAX_DIMS];
    size_t size;                          /* product of shape (1 for a scalar) */
    double *data;                         /* [size], row-major, as doubles */
} dode_tensor;

typedef struct {
    size_t count;
    dode_tensor *tensors;                 /* [count] */
    size_t nmeta;
    char **meta;                          /* [2 * nmeta]: key0, value0, key1, value1 ... */
} dode_safetensors;

/* Reads path. On success *out is a new object (free with dode_safetensors_free); on
 * failure *out is unchanged and err names the file and what is wrong (DODE_EIO: cannot
 * read; DODE_EFORMAT: malformed, the message names the tensor and field). */
int dode_safetensors_read(const char *path, dode_safetensors **out, char *err,
                          size_t errlen);

/* The same from an in-memory image of len bytes; `source` names it in messages. */
int dode_safetensors_parse(const unsigned char *buf, size_t len, const char *source,
                           dode_safetensors **out, char *err, size_t errlen);

/* Writes st's tensors (in their order, data stored as dtype) and metadata to path,
 * atomically (fileio.h). st is only read: a caller may build one over its own arrays.
 * F32 rounds to nearest; F64 round-trips bit for bit. */
int dode_safetensors_write(const char *path, const dode_safetensors *st, dode_dtype dtype,
                           char *err, size_t errlen);

void dode_safetensors_free(dode_safetensors *st);        /* accepts NULL */

/* The tensor called name, or NULL. */
const dode_tensor *dode_safetensors_find(const dode_safetensors *st, const char *name);

/* The metadata value of key, or NULL. */
const char *dode_safetensors_meta(const dode_safetensors *st, const char *key);

/* The tensor called name with exactly this shape: DODE_ENOTFOUND if missing, DODE_EFORMAT
 * on a shape mismatch (the message gives both shapes); *out unchanged on failure. */
int dode_safetensors_expect(const dode_safetensors *st, const char *name, size_t ndim,
                            const size_t *shape, const dode_tensor **out, char *err,
                            size_t errlen);

/* "F64" / "F32". */
const char *dode_dtype_name(dode_dtype dtype);

#endif
