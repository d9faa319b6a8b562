/* noise.c - the noise source of the stochastic samplers (noise.h): Philox4x64-10 keyed
 * by the seed and addressed by (coordinate block, row, draw), or an array of draws.
 *
 * Invariant: a seeded draw z[k][i][j] is a pure function of (seed, k, i, j); the source
 * holds no stream position, so any split of the rows, any order of the draws and any
 * number of threads (one source per thread: `used` is the only mutable field) give the
 * same values. Philox constants and round: Random123 1.14, include/Random123/philox.h
 * (PHILOX_M4x64_0/1, PHILOX_W64_0/1, _philox4x64round, _philox4x64bumpkey). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/io.h"
#include "diffode/noise.h"
#include "diffode/status.h"

#define PHILOX_M0 UINT64_C(0xD2E7470EE14C6C93)
#define PHILOX_M1 UINT64_C(0xCA5A826395121157)
#define PHILOX_W0 UINT64_C(0x9E3779B97F4A7C15)
#define PHILOX_W1 UINT64_C(0xBB67AE8584CAA73B)
#define PHILOX_ROUNDS 10
#define TWO_PI 6.283185307179586476925286766559   /* 2 pi, rounded to double by the compiler */

struct dode_noise {
    uint64_t seed;
    double *array;             /* [draws][rows][dim] for an array source; NULL: seeded */
    size_t draws, rows, dim;
    size_t row0;               /* the batch's first row in the run */
    size_t used;               /* the most draws announced, or 1 + the highest filled */
    char name[256];            /* "noise file PATH" or "noise array", for messages */
};

/* The 128-bit product a b as (hi, lo): the compiler's 128-bit integers where it has them
 * (gcc, clang: 1.5x faster draws), else from 32-bit halves. Both give the same bits (the
 * portable path was checked against NumPy's Philox when it was the only one). */
static uint64_t mulhilo64(uint64_t a, uint64_t b, uint64_t *hi)
{
#ifdef __SIZEOF_INT128__
    __extension__ const unsigned __int128 p = (unsigned __int128)a * b;
    *hi = (uint64_t)(p >> 64);
    return (uint64_t)p;
#else
    const uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
    const uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    const uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
    return (mid << 32) | (p00 & 0xffffffffu);
#endif
}

/* Philox4x64-10 of counter c under key (k0, k1), in place. */
static void philox4x64(uint64_t c[4], uint64_t k0, uint64_t k1)
{
    for (int r = 0; r < PHILOX_ROUNDS; r++) {
        if (r > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint64_t hi0, hi1;
        const uint64_t lo0 = mulhilo64(PHILOX_M0, c[0], &hi0);
        const uint64_t lo1 = mulhilo64(PHILOX_M1, c[2], &hi1);
        const uint64_t next[4] = { hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0 };
        memcpy(c, next, sizeof next);
    }
}

/* (w >> 11 + 1/2) 2^-53: the 53 high bits as a uniform in (0, 1), never 0 or 1. */
static double unit_open(uint64_t w)
{
    return ((double)(w >> 11) + 0.5) * 0x1p-53;
}

/* The first `want` (1 to 4) of the four normals of block q of row i at draw k (noise.h);
 * a Box-Muller pair nobody reads is not computed (in 2-D rows the second pair never is),
 * and the ones computed do not depend on want. */
static void seeded_block(uint64_t seed, uint64_t k, uint64_t i, uint64_t q, size_t want,
                         double z[4])
{
    uint64_t c[4] = { q, i, k, 0 };
    philox4x64(c, seed, 0);
    for (size_t m = 0; m < want; m += 2) {
        const double r = sqrt(-2.0 * log(unit_open(c[m])));
        const double a = TWO_PI * unit_open(c[m + 1]);
        z[m] = r * cos(a);
        z[m + 1] = r * sin(a);
    }
}

double dode_noise_normal(uint64_t seed, uint64_t k, uint64_t i, uint64_t j)
{
    double z[4];
    seeded_block(seed, k, i, j / 4, j % 4 + 1, z);
    return z[j % 4];
}

static void seeded_row(uint64_t seed, uint64_t k, uint64_t i, size_t dim, double *z)
{
    double b[4];
    for (size_t j = 0; j < dim; j += 4) {
        const size_t want = dim - j < 4 ? dim - j : 4;
        seeded_block(seed, k, i, j / 4, want, b);
        for (size_t m = 0; m < want; m++)
            z[j + m] = b[m];
    }
}

dode_noise *dode_noise_new_seeded(uint64_t seed, char *err, size_t errlen)
{
    dode_noise *s = calloc(1, sizeof *s);
    if (s == NULL) {
        dode_fail(err, errlen, DODE_ENOMEM, "noise: out of memory");
        return NULL;
    }
    s->seed = seed;
    return s;
}

dode_noise *dode_noise_new_array(const double *z, size_t draws, size_t rows, size_t dim,
                                 char *err, size_t errlen)
{
    size_t plane, len;
    if (z == NULL || draws == 0 || rows == 0 || dim == 0) {
        dode_fail(err, errlen, DODE_EINVAL, "noise array: shape (%zu, %zu, %zu) is empty",
                  draws, rows, dim);
        return NULL;
    }
    if (dode_mul_size(rows, dim, &plane) != DODE_OK
        || dode_mul_size(draws, plane, &len) != DODE_OK) {
        dode_fail(err, errlen, DODE_ENOMEM, "noise array: shape (%zu, %zu, %zu) is too large",
                  draws, rows, dim);
        return NULL;
    }
    for (size_t m = 0; m < len; m++) {
        if (!isfinite(z[m])) {
            dode_fail(err, errlen, DODE_EINVAL, "noise array: draw %zu, row %zu, column %zu "
                      "(0-based) is %g, not a finite number", m / plane, m % plane / dim,
                      m % dim, z[m]);
            return NULL;
        }
    }
    dode_noise *s = calloc(1, sizeof *s);
    double *copy = malloc(len * sizeof *copy);
    if (s == NULL || copy == NULL) {
        free(s);
        free(copy);
        dode_fail(err, errlen, DODE_ENOMEM, "noise array: cannot allocate %zu doubles", len);
        return NULL;
    }
    memcpy(copy, z, len * sizeof *copy);
    *s = (dode_noise){ .array = copy, .draws = draws, .rows = rows, .dim = dim };
    snprintf(s->name, sizeof s->name, "noise array");
    return s;
}

dode_noise *dode_noise_read(const char *path, char *err, size_t errlen)
{
    double *z = NULL;
    size_t shape[3];
    char why[512];
    int rc = dode_npy_read3(path, &z, shape, why, sizeof why);
    if (rc != DODE_OK) {
        dode_fail(err, errlen, rc, "%s (a noise file is float64 of shape (draws, n, dim))",
                  why);
        return NULL;
    }
    dode_noise *s = dode_noise_new_array(z, shape[0], shape[1], shape[2], why, sizeof why);
    free(z);
    if (s == NULL)
        dode_fail(err, errlen, DODE_EINVAL, "%s: %s", path, why);
    else
        snprintf(s->name, sizeof s->name, "noise file %s", path);
    return s;
}

void dode_noise_free(dode_noise *noise)
{
    if (noise == NULL)
        return;
    free(noise->array);
    free(noise);
}

void dode_noise_set_row0(dode_noise *noise, size_t row0)
{
    noise->row0 = row0;
}

/* Whether draws 0 .. draws-1 exist for n rows of dim from row0 (announces nothing). */
static int noise_check(const dode_noise *noise, size_t draws, size_t n, size_t dim,
                       char *err, size_t errlen)
{
    if (noise == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "needs a noise source (opts->noise) for "
                         "%zu draws of (%zu, %zu)", draws, n, dim);
    if (noise->array == NULL || draws == 0)
        return DODE_OK;
    if (noise->draws < draws || noise->rows < noise->row0 + n || noise->dim != dim)
        return dode_fail(err, errlen, DODE_EINVAL, "%s has %zu draws of (%zu, %zu); this "
                         "run needs %zu draws of (%zu, %zu)%s", noise->name, noise->draws,
                         noise->rows,
                         noise->dim, draws, noise->row0 + n, dim,
                         noise->row0 > 0 ? " (rows counted from 0 of the whole run)" : "");
    return DODE_OK;
}

int dode_noise_require(dode_noise *noise, size_t draws, size_t n, size_t dim, char *err,
                       size_t errlen)
{
    int rc = noise_check(noise, draws, n, dim, err, errlen);
    if (rc == DODE_OK && draws > noise->used)
        noise->used = draws;
    return rc;
}

int dode_noise_fill(dode_noise *noise, size_t k, size_t n, size_t dim, double *z)
{
    if (noise->array != NULL) {
        if (k >= noise->draws || noise->rows < noise->row0 + n || noise->dim != dim)
            return DODE_EINVAL;
        memcpy(z, noise->array + (k * noise->rows + noise->row0) * dim, n * dim * sizeof *z);
    } else {
        for (size_t i = 0; i < n; i++)
            seeded_row(noise->seed, k, noise->row0 + i, dim, z + i * dim);
    }
    if (k + 1 > noise->used)
        noise->used = k + 1;
    return DODE_OK;
}

size_t dode_noise_used(const dode_noise *noise)
{
    return noise->used;
}

void dode_noise_reset_used(dode_noise *noise)
{
    noise->used = 0;
}

int dode_noise_write(dode_noise *noise, const char *path, size_t draws, size_t n,
                     size_t dim, char *err, size_t errlen)
{
    size_t plane, len;
    int rc = noise_check(noise, draws, n, dim, err, errlen);
    if (rc != DODE_OK)
        return rc;
    if (draws == 0 || n == 0 || dim == 0 || dode_mul_size(n, dim, &plane) != DODE_OK
        || dode_mul_size(draws, plane, &len) != DODE_OK)
        return dode_fail(err, errlen, DODE_EINVAL, "cannot write %s: noise shape (%zu, %zu, "
                         "%zu) is empty or too large", path, draws, n, dim);
    double *z = malloc(len * sizeof *z);
    if (z == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot write %s: cannot allocate %zu "
                         "doubles", path, len);
    const size_t used = noise->used;      /* writing is not drawing */
    for (size_t k = 0; k < draws; k++)
        dode_noise_fill(noise, k, n, dim, z + k * plane);
    noise->used = used;
    const size_t shape[3] = { draws, n, dim };
    rc = dode_npy_write3(path, z, shape, err, errlen);
    free(z);
    return rc;
}
