/* noise.h - the one source of the standard normal draws that stochastic samplers add
 * (DDIM with eta > 0, the ancestral and SDE samplers): a counter-based generator keyed
 * by a seed, or an array (a .npy file) that another implementation can share.
 *
 * A sampler asks for draw k (its k-th noise vector in a solve, counted from 0) for the
 * rows of its batch: z[k][i][j], i the sample's global row, j the coordinate. The value
 * depends on (seed, k, i, j) only, never on how the samples were split into batches,
 * shards or threads: a batch that holds rows r0 .. r0+n-1 of a run says so with
 * dode_noise_set_row0 (default 0).
 *
 * The seeded generator, exactly (so that another implementation can reproduce it):
 *   block(q) = Philox4x64-10 (Salmon et al. 2011, "Parallel random numbers: as easy as
 *              1, 2, 3", Random123's philox4x64 with 10 rounds) of the 256-bit counter
 *              (c0, c1, c2, c3) = (q, i, k, 0) under the 128-bit key (seed, 0): four
 *              64-bit words w0..w3;
 *   u_m      = ((w_m >> 11) + 0.5) / 2^53, in (0, 1) (never 0: the log below is finite);
 *   z[k][i][4q + 0] = sqrt(-2 ln u_0) cos(2 pi u_1),  z[k][i][4q + 1] = ... sin(2 pi u_1),
 *   z[k][i][4q + 2] = sqrt(-2 ln u_2) cos(2 pi u_3),  z[k][i][4q + 3] = ... sin(2 pi u_3)
 *   (Box-Muller), coordinates past dim unused. NumPy's Philox bit generator computes the
 *   same words: np.random.Philox(counter=C - 1, key=seed).random_raw(4) with the
 *   counter as the integer C = q + i 2^64 + k 2^128 (NumPy increments before use). The
 *   words are bit-exact everywhere; the normals are as exact as the platform's log, sqrt,
 *   cos and sin (bit-identical between runs on one machine).
 *
 * The array source: a float64 array of shape (draws, rows, dim), z[k][i][j] = a[k][i][j]:
 * draw k is slice k, consumed in the order each sampler documents (docs/stochastic.md). */
#ifndef DIFFODE_NOISE_H
#define DIFFODE_NOISE_H

#include <stddef.h>
#include <stdint.h>

typedef struct dode_noise dode_noise;

/* The seeded counter-based generator above. NULL (with a message) if out of memory. */
dode_noise *dode_noise_new_seeded(uint64_t seed, char *err, size_t errlen);

/* An array source over a copy of z ([draws][rows][dim], every value finite). NULL with a
 * message naming the first bad value or a zero size. */
dode_noise *dode_noise_new_array(const double *z, size_t draws, size_t rows, size_t dim,
                                 char *err, size_t errlen);

/* An array source from a float64 (or float32) .npy of shape (draws, rows, dim). */
dode_noise *dode_noise_read(const char *path, char *err, size_t errlen);

void dode_noise_free(dode_noise *noise);              /* accepts NULL */

/* The batch solved next holds rows row0 .. row0 + n - 1 of the run (default 0). */
void dode_noise_set_row0(dode_noise *noise, size_t row0);

/* A solve announces, before its first step, that it will take draws 0 .. draws-1 for n
 * rows of dim (from row0 on): DODE_OK if the source can make them (and the count is
 * remembered for dode_noise_used), DODE_EINVAL if noise is NULL or an array is too short
 * or of the wrong shape, the message giving what the run needs: "noise has 3 draws of
 * (100, 2); this run needs 20 draws of (100, 2)". */
int dode_noise_require(dode_noise *noise, size_t draws, size_t n, size_t dim, char *err,
                       size_t errlen);

/* Draw k for the batch: z[i][j] for i < n, j < dim ([n][dim], row-major). Counts the
 * draws used (dode_noise_used). DODE_EINVAL, with no message, where dode_noise_check
 * would have refused (callers check first). */
int dode_noise_fill(dode_noise *noise, size_t k, size_t n, size_t dim, double *z);

/* The draws a replay of the runs since creation (or the last reset) needs: the most any
 * solve announced, or 1 + the highest draw filled if that is more. */
size_t dode_noise_used(const dode_noise *noise);
void dode_noise_reset_used(dode_noise *noise);

/* Writes draws 0 .. draws-1 for n rows of dim (from row0) as a float64 .npy of shape
 * (draws, n, dim), atomically: the file dode_noise_read replays. draws >= 1. */
int dode_noise_write(dode_noise *noise, const char *path, size_t draws, size_t n,
                     size_t dim, char *err, size_t errlen);

/* One seeded normal: z[k][i][j] of the generator above (for tests and other callers). */
double dode_noise_normal(uint64_t seed, uint64_t k, uint64_t i, uint64_t j);

#endif
