/* bench_mlp.h - the MLP part of `make bench` (issue 6): forward GFLOP/s against dgemm. */
#ifndef DIFFODE_BENCH_MLP_H
#define DIFFODE_BENCH_MLP_H

/* Prints one line per network: the forward pass's GFLOP/s, a bare dgemm's GFLOP/s on the
 * network's hidden-to-hidden shape, and their ratio. quick: smaller sizes. Returns 0, or
 * non-zero if a library call fails. */
int bench_mlp(int quick);

#endif
