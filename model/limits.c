/* limits.c - the table of count bounds (limits.h). One row per count a flag or config key
 * takes; the reasons for each bound are in limits.h. The command-only counts (threads,
 * training steps, image columns) are here too, so that one table states every bound. */
#include <string.h>

#include "diffode/limits.h"

static const dode_count_limit limits[] = {
    { "nfe", DODE_MAX_NFE, "model evaluations per solve" },
    { "steps", DODE_MAX_STEPS, "grid steps per solve" },
    { "n", DODE_MAX_SAMPLES, "samples per run (2^24)" },
    { "samples", DODE_MAX_SAMPLES, "trajectories per run (2^24)" },
    { "samples_from_model", DODE_MAX_SAMPLES, "samples per run (2^24)" },
    { "true_samples", DODE_MAX_SAMPLES, "samples of the data distribution (2^24)" },
    { "projections", (size_t)1 << 16, "random projections (2^16)" },
    { "components", DODE_MAX_COMPONENTS, "mixture components" },
    { "dim", DODE_MAX_DIM, "dimensions" },
    { "probes", 4096, "Hutchinson probes per sample" },
    { "iters", 100000000, "training steps" },
    { "batch", (size_t)1 << 20, "rows per training step (2^20)" },
    { "eval", DODE_MAX_SAMPLES, "held-out samples (2^24)" },
    { "temb", 65536, "time-embedding width" },
    { "jobs", 1024, "threads" },
    { "slerp", 1024, "image columns" },
    { "pad", 256, "pixels between tiles" },
    { NULL, 0, NULL },
};

const dode_count_limit *dode_count_limit_find(const char *name)
{
    for (const dode_count_limit *l = limits; name != NULL && l->name != NULL; l++)
        if (strcmp(l->name, name) == 0)
            return l;
    return NULL;
}

const dode_count_limit *dode_count_limits(void)
{
    return limits;
}
