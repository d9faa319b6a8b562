/* idx.h - LeCun's IDX files (MNIST, Fashion-MNIST), plain or gzip-compressed.
 *
 * Layout: a big-endian magic 0x0000TTNN (TT = 0x08, unsigned bytes: the only type read
 * here; NN = number of dimensions, 1 to DODE_IDX_MAX_DIMS), NN big-endian uint32 sizes,
 * then the values in C order. Images are 0x00000803 (items x rows x cols), labels
 * 0x00000801. Files are read through zlib's gzopen/gzread, which reads gzip and plain
 * files alike.
 *
 * Item i's values become row i of a [rows][cols] double array, cols = the product of the
 * sizes after the first; pixels p are scaled to x = 2 p / 255 - 1 in [-1, 1] (the range
 * diffusion models are trained on), or kept as p with opts.raw (labels). */
#ifndef DIFFODE_IDX_H
#define DIFFODE_IDX_H

#include <stddef.h>

#define DODE_IDX_MAX_DIMS 4
/* Largest file accepted: 2^32 values (4 GiB of bytes; Fashion-MNIST's train images are
 * 47 million). A larger header is taken as corrupt rather than allocated. */
#define DODE_IDX_MAX_VALUES ((size_t)1 << 32)
/* Most values one read keeps: 2^26 = 67,108,864, 512 MiB as doubles (Fashion-MNIST's
 * 60000 x 784 train images are 47,040,000). Checked from the header before anything is
 * allocated or decompressed, so a small gzip file that inflates to 2^30 bytes (a "gzip
 * bomb") costs no memory; a larger file can still be read as a subset. */
#define DODE_IDX_MAX_KEPT ((size_t)1 << 26)

typedef struct {
    size_t subset;          /* 0: every item; M >= 1: keep M items (M <= items in file) */
    int random;             /* 0: the first M; 1: M items drawn without replacement by a
                               seeded mt19937, kept in file order (selection sampling) */
    unsigned long seed;     /* of the random subset: same seed and counts pick the same
                               indices in an images file and its labels file */
    int raw;                /* 1: values p as is (labels); 0: 2 p / 255 - 1 */
} dode_idx_opts;

/* Defaults: every item, scaled to [-1, 1]. */
void dode_idx_opts_init(dode_idx_opts *o);

/* Reads path (opts may be NULL: the defaults). On success *data is malloc'ed
 * ([rows][cols], caller frees) and dims (if not NULL, [DODE_IDX_MAX_DIMS]) gets the file's
 * sizes, zero-filled past ndims (if not NULL). The file is read up to the last item kept:
 * with a first-M subset, a truncation after item M goes unnoticed. Errors name the file:
 * DODE_EIO (cannot open, gzip stream corrupt), DODE_EFORMAT (not IDX: bad magic, type
 * code other than unsigned byte, 0 or more than DODE_IDX_MAX_DIMS dimensions, a zero size,
 * sizes whose product overflows or exceeds DODE_IDX_MAX_VALUES, truncated data, empty
 * file, bytes after the last item: always for a plain file, for gzip when every item is
 * read), DODE_EINVAL (subset larger than the file, or more than DODE_IDX_MAX_KEPT values
 * to keep). Only a regular file is read (fileio.h). Outputs are untouched on failure. */
int dode_idx_read(const char *path, const dode_idx_opts *opts, double **data, size_t *rows,
                  size_t *cols, size_t *dims, size_t *ndims, char *err, size_t errlen);

#endif
