/* status.h - status codes and error messages shared by every diffode function.
 *
 * A function that can fail returns one of these codes (DODE_OK = 0) and writes one
 * sentence into the caller's buffer (err, errlen); a constructor returns NULL and does
 * the same. The library never prints, exits or aborts: its calls that reach GSL switch
 * GSL's default handler (which aborts) off for the process, but keep a handler the
 * caller installed (model/gsl_quiet.h). */
#ifndef DIFFODE_STATUS_H
#define DIFFODE_STATUS_H

#include <stddef.h>

enum {
    DODE_OK = 0,
    DODE_EINVAL,      /* an argument or option is out of its domain */
    DODE_ENOMEM,      /* allocation failed, or a size overflows size_t */
    DODE_EIO,         /* a file could not be opened, read, written or renamed */
    DODE_EFORMAT,     /* a file was read but its content is malformed */
    DODE_ENOTFOUND,   /* an unknown name: solver, schedule, spacing, model, key */
    DODE_ENONFINITE,  /* a NaN or Inf appeared in a state, eps or step size */
    DODE_EMAXITER,    /* an adaptive method exhausted its step budget */
    DODE_ESOLVER,     /* an integrator failed (e.g. a GSL status), message says why */
    DODE_EUNSUPPORTED /* the combination is valid but not available (e.g. no Jacobian) */
};

/* The name of a code, "DODE_EINVAL" etc.; "DODE_UNKNOWN" for anything else. */
const char *dode_strerror(int code);

/* Writes the formatted message into err (if err != NULL and errlen > 0, always
 * NUL-terminated, truncated to fit) and returns code, so callers can write
 * `return dode_fail(err, errlen, DODE_EINVAL, "...", ...);`. */
int dode_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* n * d with overflow check: returns 0 and sets *out, or DODE_ENOMEM. */
int dode_mul_size(size_t n, size_t d, size_t *out);

#endif
