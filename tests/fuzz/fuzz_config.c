/* fuzz_config.c - libFuzzer target for experiment configs (.ini): exp_config_parse on
 * arbitrary text (inih's syntax, then every section, key, value, list and registry name).
 *
 * Specs that name files (gmm:FILE, mlp:FILE, schedules from .npy) resolve relative to the
 * working directory, which run.sh sets to an empty scratch directory, so the fuzzer only
 * ever opens what it names by an absolute path. Contract checks (config.h): on failure
 * the config is zeroed and the message names the source; on success the sweep has at
 * least one run. A violation aborts. Run by tests/fuzz/run.sh. */
#include <gsl/gsl_errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/status.h"
#include "../../experiments/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    gsl_set_error_handler_off();
    return 0;
}

/* Every byte of a zeroed config is 0 (config.h: "*cfg zeroed" on failure). memcmp, not
 * a byte loop: libFuzzer traces every comparison of an instrumented loop. */
static int is_zeroed(const exp_config *cfg)
{
    exp_config *zero = calloc(1, sizeof *zero);
    if (zero == NULL)
        abort();
    const int same = memcmp(cfg, zero, sizeof *cfg) == 0;
    free(zero);
    return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    exp_config *cfg = malloc(sizeof *cfg);    /* ~100 KB: not on the stack */
    char err[512] = "";
    if (text == NULL || cfg == NULL)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    memset(cfg, 0xA5, sizeof *cfg);
    const int rc = exp_config_parse(text, "fuzz.ini", cfg, err, sizeof err);
    free(text);
    if (rc != DODE_OK) {
        if (!is_zeroed(cfg) || strstr(err, "fuzz.ini") == NULL)
            abort();
    } else if (exp_config_runs(cfg) == 0) {
        abort();
    }
    exp_config_free(cfg);
    free(cfg);
    return 0;
}
