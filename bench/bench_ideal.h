/* bench_ideal.h - the ideal-denoiser part of `make bench` (issue 6): time per NFE against a
 * bare dgemm of the same shape. */
#ifndef DIFFODE_BENCH_IDEAL_H
#define DIFFODE_BENCH_IDEAL_H

/* Prints one line per sigma: ideal eps time for n rows against N Fashion-MNIST points
 * (784-D), one bare dgemm n x D times D x N, and the ratio (target <= 1.3x where the
 * softmax weights are sparse; dense weights need a second product of the same size, so
 * the floor there is 2x). quick: fewer points. Returns 0, or non-zero on failure. */
int bench_ideal(int quick);

#endif
