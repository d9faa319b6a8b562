/* bench_dpm.h - the DPM-Solver / UniPC part of `make bench` (issue 4). */
#ifndef DIFFODE_BENCH_DPM_H
#define DIFFODE_BENCH_DPM_H

/* Prints (1) each fixed-grid solver's time per step outside the model's eps calls, as a
 * share of one whole euler step, and (2) dpmpp2m at NFE 10 and 20 on 10,000 samples of
 * the 2-D GMM (1 thread) against a hand-fused loop of the same arithmetic, with a check
 * that both compute the same numbers. quick: fewer repetitions. Returns 0, or non-zero if
 * a library call fails. */
int bench_dpm(int quick);

#endif
