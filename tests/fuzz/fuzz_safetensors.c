/* fuzz_safetensors.c - libFuzzer target for .safetensors images: dode_safetensors_parse on
 * arbitrary bytes (the 8-byte header length, the JSON header, dtypes, shapes, offsets and
 * the data they point at), then, when it parses, dode_mlp_from_safetensors (metadata and
 * tensor shapes against the architecture), which is what `--model mlp:FILE` does next.
 *
 * Contract checks (safetensors.h): on failure *out is untouched and the message names the
 * source; on success each tensor's size is the product of its shape and lies inside the
 * input. A violation aborts. Run by tests/fuzz/run.sh. */
#include <gsl/gsl_errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/mlp.h"
#include "diffode/safetensors.h"
#include "diffode/status.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    gsl_set_error_handler_off();
    return 0;
}

/* The parsed object's invariant (safetensors.c's opening comment). */
static void check_object(const dode_safetensors *st, size_t size)
{
    volatile double sum = 0;
    for (size_t i = 0; i < st->count; i++) {
        const dode_tensor *t = &st->tensors[i];
        size_t n = 1;
        if (t->name == NULL || t->ndim > DODE_TENSOR_MAX_DIMS)
            abort();
        for (size_t k = 0; k < t->ndim; k++)
            n *= t->shape[k];
        if (n != t->size || n * (t->dtype == DODE_DTYPE_F32 ? 4 : 8) > size)
            abort();
        for (size_t k = 0; k < t->size; k++)
            sum += t->data[k];
        (void)sum;
        if (dode_safetensors_find(st, t->name) == NULL)
            abort();
    }
    for (size_t i = 0; i < 2 * st->nmeta; i++)
        if (st->meta[i] == NULL)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int marker = 0;    /* const: an address *out must still hold on failure */
    dode_safetensors *st = (dode_safetensors *)&marker;
    char err[512] = "";
    if (dode_safetensors_parse(data, size, "fuzz.safetensors", &st, err, sizeof err)
        != DODE_OK) {
        if (st != (dode_safetensors *)&marker || strstr(err, "fuzz.safetensors") == NULL)
            abort();
        return 0;
    }
    check_object(st, size);
    dode_mlp *mlp = dode_mlp_from_safetensors(st, "fuzz.safetensors", err, sizeof err);
    if (mlp == NULL && strstr(err, "fuzz.safetensors") == NULL)
        abort();
    dode_mlp_free(mlp);
    dode_safetensors_free(st);
    return 0;
}
