/* io.h - files diffode reads and writes: NumPy .npy (samples in and out).
 *
 * Writes are atomic (fileio.h's dode_write_atomic): the data go to PATH.tmp.XXXXXX, which
 * is renamed to PATH only when complete, so a failure never leaves a half-written file
 * under PATH. */
#ifndef DIFFODE_IO_H
#define DIFFODE_IO_H

#include <stddef.h>

/* Reads a 1-D (as rows x 1) or 2-D .npy array of little-endian float64 ('<f8') or
 * float32 ('<f4'), C order (format 1.0, 2.0 or 3.0). On success *data is malloc'ed
 * ([rows][cols] doubles, caller frees). Errors name the file and what is wrong:
 * bad magic, unsupported dtype, Fortran order, bad shape, truncated data or bytes after
 * it, and DODE_EIO for anything but a regular file (a FIFO, a device: fileio.h). */
int dode_npy_read(const char *path, double **data, size_t *rows, size_t *cols,
                  char *err, size_t errlen);

/* Parses an in-memory .npy image (same rules; `source` names it in messages). */
int dode_npy_parse(const unsigned char *buf, size_t len, const char *source,
                   double **data, size_t *rows, size_t *cols, char *err, size_t errlen);

/* Writes a rows x cols float64 C-order array (format 1.0), atomically. */
int dode_npy_write(const char *path, const double *data, size_t rows, size_t cols,
                   char *err, size_t errlen);

/* The 3-D forms, for arrays of shape (a, n, d) such as noise draws (noise.h): the same
 * rules, shape[0..2] = (a, n, d). The 3-D reader refuses 1-D and 2-D arrays, and the 2-D
 * readers refuse 3-D ones, each saying how many dimensions it found. */
int dode_npy_read3(const char *path, double **data, size_t shape[3], char *err,
                   size_t errlen);
int dode_npy_write3(const char *path, const double *data, const size_t shape[3],
                    char *err, size_t errlen);

#endif
