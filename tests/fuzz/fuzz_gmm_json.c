/* fuzz_gmm_json.c - libFuzzer target for GMM specs in JSON: dode_gmm_from_json_string on
 * arbitrary text (cJSON parse, key and shape checks, then dode_gmm_new's value checks:
 * positive weights, SPD covariances by Cholesky).
 *
 * A model that is built is also evaluated once (eps at the origin, sigma = 1), so a spec
 * that passes the checks but leaves the model inconsistent shows up as an ASan report.
 * On failure the message must name the source. Run by tests/fuzz/run.sh. */
#include <gsl/gsl_errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/model.h"
#include "diffode/status.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    gsl_set_error_handler_off();    /* as the command does: GSL's default handler aborts */
    return 0;
}

/* eps at the origin for one row; any status is fine, only memory errors are findings. */
static void evaluate(const dode_model *m)
{
    double *x = calloc(2 * m->dim, sizeof *x);
    if (x == NULL)
        abort();
    void *ws = NULL;
    if (dode_model_workspace_new(m, 1, &ws, NULL, 0) == DODE_OK)
        m->eps(m, ws, 1, x, 0.5, 1.0, x + m->dim);
    dode_model_workspace_free(m, ws);
    free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);          /* the entry point takes a C string */
    char err[512] = "";
    if (text == NULL)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    dode_model *m = dode_gmm_from_json_string(text, "fuzz.json", err, sizeof err);
    free(text);
    if (m == NULL) {
        if (strstr(err, "fuzz.json") == NULL)
            abort();
        return 0;
    }
    if (m->dim == 0 || m->eps == NULL)
        abort();
    evaluate(m);
    dode_model_free(m);
    return 0;
}
