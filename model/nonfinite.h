/* nonfinite.h - the bit test for Inf and NaN that the finiteness checks of the ODE layer
 * (ode.c) and the models that fuse them into their own loops (gmm.c) share. Private to
 * model/. */
#ifndef DIFFODE_NONFINITE_H
#define DIFFODE_NONFINITE_H

#include <stdint.h>
#include <string.h>

/* Bit 63 set if the IEEE exponent field of v is all ones (Inf or NaN): adding 1 to an
 * all-ones exponent field carries into bit 63, any other exponent stays below it. Only
 * and, add and or on integers: no compare-and-set per element and no floating-point
 * dependency chain, so the checking loops run several elements a cycle, at memory speed
 * (the sete form measured 3-4% of a 2-D euler solve for the check alone, issue 16). */
static inline uint64_t dode_nonfinite_bit(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return (bits & 0x7ff0000000000000ULL) + 0x0010000000000000ULL;
}

#endif
