/* bench_speed.h - issue 16's section of `make bench` (bench_speed.c, bench_process.c). */
#ifndef DIFFODE_BENCH_SPEED_H
#define DIFFODE_BENCH_SPEED_H

#include <gsl/gsl_rng.h>

#include "bench_impl.h"

/* Issue 16's targets (docs/benchmarks.md). */
#define TARGET_FLOOR16 1.3        /* library / fused time per sample-step, at most */
#define TARGET_PROCESS 0.10       /* share of a `sample` process outside its solve, at most */
#define TARGET_JOBS 1.7           /* `run --jobs 2` speed-up over --jobs 1, at least */

/* The floor rows, the share rows (every fixed-step solver) and the process rows, into r;
 * argv0 locates the diffode binary (its directory). DODE_OK or the failing status. */
int bench_speed(const bench_cfg *cfg, const char *argv0, gsl_rng *rng, bench_report *r);

/* bench_process.c: `diffode sample` as a child process (wall time against its reported
 * solve seconds) and `diffode run` with --jobs 1 and 2 on a generated sweep. */
int measure_process(const bench_cfg *cfg, const char *argv0, bench_report *r);

#endif
