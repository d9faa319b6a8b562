/* limits.h - the upper bound of every count a user gives diffode, in one table that the
 * command's flags (experiments/cli_args.c), the config reader (experiments/config_*.c) and
 * docs/reliability.md share, so that `--nfe 1000000000` and `nfe = 1000000000` fail at once,
 * naming the bound, instead of allocating gigabytes and running for minutes (issues 11, 18).
 *
 * The bounds are well above any use in the literature and well below what exhausts memory:
 *  - NFE and steps <= 10^4: published samplers use at most 1000 steps (DDPM's ancestral
 *    chain); a fixed-step solver at 10^4 steps is already below the rk8pd reference's
 *    tolerance (1e-10) on every shipped model, so more steps measure only round-off.
 *  - samples <= 2^24: each state array is samples x dim doubles (256 MiB at dim 2), and a
 *    row keeps a few of them.
 *  - mixture components <= 10^6 and dimension <= 10^5 (GMM JSON, whose value count caps
 *    K x dim again at 2^22); a gaussian: spec allows dim <= 2^20 (spec.c), having no
 *    per-component storage.
 *  - the largest sigma a state is scaled by: 1e150, so that x sqrt(1 + sigma^2) stays
 *    finite (x_T would be Inf from sigma ~ 1.3e154). */
#ifndef DIFFODE_LIMITS_H
#define DIFFODE_LIMITS_H

#include <stddef.h>

#define DODE_MAX_NFE 10000
#define DODE_MAX_STEPS 10000
#define DODE_MAX_SAMPLES ((size_t)1 << 24)
#define DODE_MAX_COMPONENTS 1000000
#define DODE_MAX_DIM 100000
#define DODE_MAX_SIGMA 1e150

/* One bounded count: its name as a config key (a flag is "--" and the name with '_'
 * written '-'), its largest value, and what it counts, for messages ("model evaluations
 * per solve"). */
typedef struct {
    const char *name;
    size_t max;
    const char *what;
} dode_count_limit;

/* The row for name ("nfe", "samples", ...), or NULL if name is not a bounded count (a
 * seed, an index). */
const dode_count_limit *dode_count_limit_find(const char *name);

/* Every row, ending with a row whose name is NULL (for docs and `diffode list`). */
const dode_count_limit *dode_count_limits(void);

#endif
