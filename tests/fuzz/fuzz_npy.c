/* fuzz_npy.c - libFuzzer target for the .npy reader: dode_npy_parse on arbitrary bytes.
 *
 * Beyond "no crash, no leak, no UBSan report" it checks the reader's contract (io.h): on
 * failure the outputs are untouched and the message names the source; on success the
 * shape is non-empty and the data length is exactly rows * cols * itemsize bytes. A
 * violated contract aborts, so libFuzzer records it as a crash. Run by tests/fuzz/run.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/io.h"
#include "diffode/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    double *x = NULL;
    size_t rows = 77, cols = 77;
    char err[512] = "";
    const int rc = dode_npy_parse(data, size, "fuzz.npy", &x, &rows, &cols, err, sizeof err);
    if (rc != DODE_OK) {
        if (x != NULL || rows != 77 || cols != 77 || strstr(err, "fuzz.npy") == NULL)
            abort();
        return 0;
    }
    /* the data bytes of a valid image: rows * cols * 4 or 8, and the header before them */
    if (x == NULL || rows == 0 || cols == 0 || rows * cols * 4 >= size)
        abort();
    volatile double sum = 0;       /* read every value: ASan sees a short allocation */
    for (size_t i = 0; i < rows * cols; i++)
        sum += x[i];
    (void)sum;
    free(x);
    return 0;
}
