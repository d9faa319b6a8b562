/* status.c - status names, the one way the library reports a failure (status.h), and
 * the switch that keeps GSL's aborting handler out of library calls (gsl_quiet.h). */
#include <gsl/gsl_errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "diffode/status.h"
#include "gsl_quiet.h"

const char *dode_strerror(int code)
{
    static const char *const names[] = {
        "DODE_OK", "DODE_EINVAL", "DODE_ENOMEM", "DODE_EIO", "DODE_EFORMAT",
        "DODE_ENOTFOUND", "DODE_ENONFINITE", "DODE_EMAXITER", "DODE_ESOLVER",
        "DODE_EUNSUPPORTED",
    };
    if (code < 0 || (size_t)code >= sizeof names / sizeof names[0])
        return "DODE_UNKNOWN";
    return names[code];
}

int dode_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* GSL has one process-wide handler and no getter: gsl_set_error_handler_off() returns
 * the previous one, NULL for GSL's default (which aborts). That default is switched off
 * for good; a handler the caller installed is put back at once, as theirs wins. We do
 * not restore the default when the call returns: the sweep's threads share the
 * handler, and a per-call save/restore would let one thread re-arm abort() while another
 * is inside GSL. Known weakness: between the two calls below a caller's own handler is
 * briefly off, so a GSL error in another thread at that instant goes unreported to it
 * (the library still gets GSL's status and reports it). */
void dode_gsl_quiet(void)
{
    gsl_error_handler_t *previous = gsl_set_error_handler_off();
    if (previous != NULL)
        gsl_set_error_handler(previous);
}

int dode_mul_size(size_t n, size_t d, size_t *out)
{
    if (d != 0 && n > SIZE_MAX / d)
        return DODE_ENOMEM;
    *out = n * d;
    return DODE_OK;
}
