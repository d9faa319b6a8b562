/* status.c - status names and the one way the library reports a failure (status.h). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "diffode/status.h"

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

int dode_mul_size(size_t n, size_t d, size_t *out)
{
    if (d != 0 && n > SIZE_MAX / d)
        return DODE_ENOMEM;
    *out = n * d;
    return DODE_OK;
}
