/* grid_file.c - a time grid of sigmas from a .npy file (grid_file.h).
 *
 * Why these checks: the solvers assume a strictly decreasing grid (a repeated sigma is a
 * step of length zero, h = 0, which the exponential integrators divide by), finite
 * points (x_T = x sqrt(1 + sigma^2) must be representable), and points the schedule can
 * map to a time (t(sigma) is undefined above sigma(t_limit) on VP schedules). Only the
 * last point may be 0: sigma = 0 is the data itself, a step from it goes nowhere. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/fileio.h"
#include "diffode/io.h"
#include "diffode/limits.h"
#include "diffode/status.h"
#include "grid_file.h"

int exp_grid_check(const char *flag, const char *source, const double *sigma, size_t npoints,
                   const dode_schedule *s, char *err, size_t errlen)
{
    const double top = dode_schedule_sigma(s, dode_schedule_t_limit(s));
    if (npoints < 2 || npoints > (size_t)DODE_MAX_STEPS + 1)
        return dode_fail(err, errlen, DODE_EFORMAT, "%s %s: %zu points; a grid needs 2 to %d "
                         "(1 to %d steps)", flag, source, npoints, DODE_MAX_STEPS + 1,
                         DODE_MAX_STEPS);
    for (size_t i = 0; i < npoints; i++) {
        const double v = sigma[i];
        if (!isfinite(v))
            return dode_fail(err, errlen, DODE_EFORMAT, "%s %s: entry %zu (0-based) is %g, "
                             "not a finite sigma", flag, source, i, v);
        if (v < 0 || (v == 0 && i + 1 < npoints))
            return dode_fail(err, errlen, DODE_EFORMAT, "%s %s: entry %zu (0-based) is %g; "
                             "sigmas must be > 0 (only the last may be 0)", flag, source, i, v);
        if (i > 0 && !(v < sigma[i - 1]))
            return dode_fail(err, errlen, DODE_EFORMAT, "%s %s: entry %zu (0-based) is %.17g, "
                             "not below entry %zu = %.17g; a grid of sigmas must be strictly "
                             "decreasing (noise first)", flag, source, i, v, i - 1,
                             sigma[i - 1]);
    }
    if (!(sigma[0] <= top) || !(sigma[0] <= DODE_MAX_SIGMA))
        return dode_fail(err, errlen, DODE_EFORMAT, "%s %s: entry 0 (0-based) is %.17g, above "
                         "the largest sigma %.17g of schedule %s", flag, source, sigma[0],
                         top < DODE_MAX_SIGMA ? top : DODE_MAX_SIGMA, dode_schedule_name(s));
    return DODE_OK;
}

int exp_grid_file_read(const char *flag, const char *path, const dode_schedule *s,
                       dode_grid *out, char *err, size_t errlen)
{
    double *x = NULL;
    size_t rows = 0, cols = 0;
    char why[1024];
    int rc = dode_npy_read(path, &x, &rows, &cols, why, sizeof why);
    if (rc != DODE_OK)
        return dode_fail(err, errlen, rc, "%s: %s", flag, why);
    if (cols != 1)
        rc = dode_fail(err, errlen, DODE_EFORMAT, "%s %s: shape (%zu, %zu); a grid is a 1-D "
                       "array of sigmas", flag, path, rows, cols);
    if (rc == DODE_OK)
        rc = exp_grid_check(flag, path, x, rows, s, err, errlen);
    if (rc == DODE_OK && (rc = dode_grid_from_sigmas(s, x, rows, out, why, sizeof why))
        != DODE_OK)
        rc = dode_fail(err, errlen, rc, "%s %s: %s", flag, path, why);
    free(x);
    return rc;
}

/* NumPy's format 1.0: magic, version, header length (LE16), the dict padded with spaces
 * to a multiple of 64 bytes ending in '\n', then the data little-endian. dode_npy_write
 * writes 2-D arrays only; a grid is 1-D, as numpy.save of a vector would write it. */
int exp_grid_file_write(const char *path, const double *sigma, size_t npoints, char *err,
                        size_t errlen)
{
    char dict[128];
    const int n = snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, "
                           "'shape': (%zu,), }", npoints);
    if (n < 0 || (size_t)n >= sizeof dict || npoints == 0 || npoints > (size_t)DODE_MAX_STEPS + 1)
        return dode_fail(err, errlen, DODE_EINVAL, "cannot write %s: %zu points", path,
                         npoints);
    const size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64, hlen = total - 10;
    unsigned char *buf = malloc(total + 8 * npoints);
    if (buf == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot write %s: out of memory", path);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', hlen - (size_t)n - 1);
    buf[total - 1] = '\n';
    for (size_t i = 0; i < npoints; i++) {
        uint64_t bits;
        memcpy(&bits, &sigma[i], 8);
        for (size_t b = 0; b < 8; b++, bits >>= 8)
            buf[total + 8 * i + b] = (unsigned char)(bits & 0xff);
    }
    int rc = dode_write_atomic(path, buf, total + 8 * npoints, err, errlen);
    free(buf);
    return rc;
}
