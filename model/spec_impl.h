/* spec_impl.h - what the spec readers in model/ share and nobody else sees: strict number
 * readers for the values of "key=value" items (spec.c, ideal_spec.c). */
#ifndef DIFFODE_SPEC_IMPL_H
#define DIFFODE_SPEC_IMPL_H

#include <stddef.h>

/* The whole string must be the number. spec_whole: a decimal integer >= 0 (digits only,
 * no sign, no overflow); spec_number: a finite double (strtod syntax, no overflow).
 * Return 0, or -1 leaving *out alone. */
int spec_whole(const char *s, size_t *out);
int spec_number(const char *s, double *out);

#endif
