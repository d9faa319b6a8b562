/* fuzz_idx.c - libFuzzer target for IDX files (MNIST's format, plain or gzip): the reader
 * has only a path entry (dode_idx_read opens a regular file and reads it through zlib), so
 * each input is written to a file named for this process in the working directory
 * (run.sh's scratch directory) and read twice: every item scaled, then a random subset of
 * 2 items kept raw.
 *
 * Every header is fuzzed, however much it claims: dode_idx_read sizes its buffer by the
 * data present (a 16-byte file claiming 2 x 2 x 134810123 values once asked for 4.3 GB;
 * run.sh's -malloc_limit_mb=1024 now catches any such allocation as a failure) and refuses
 * more than DODE_IDX_MAX_KEPT values from the header (a gzip bomb).
 *
 * Contract checks (idx.h): on failure the outputs are untouched and the message names the
 * file; on success rows * cols values were read, cols is the product of the sizes after the
 * first, and scaled values lie in [-1, 1]. A violation aborts. Run by tests/fuzz/run.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diffode/idx.h"
#include "diffode/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One read with opts; checks the contract whatever the outcome. */
static void read_once(const char *path, const dode_idx_opts *o)
{
    double *x = NULL;
    size_t rows = 77, cols = 77, dims[DODE_IDX_MAX_DIMS] = { 0 }, ndims = 77;
    char err[512] = "";
    if (dode_idx_read(path, o, &x, &rows, &cols, dims, &ndims, err, sizeof err) != DODE_OK) {
        if (x != NULL || rows != 77 || cols != 77 || ndims != 77 || strstr(err, path) == NULL)
            abort();
        return;
    }
    size_t per_item = 1;
    for (size_t k = 1; k < ndims && k < DODE_IDX_MAX_DIMS; k++)
        per_item *= dims[k];
    if (x == NULL || ndims < 1 || ndims > DODE_IDX_MAX_DIMS || per_item != cols || rows == 0
        || (o->subset == 0 && rows != dims[0]) || (o->subset != 0 && rows != o->subset))
        abort();
    for (size_t i = 0; i < rows * cols; i++)
        if (o->raw ? !(x[i] >= 0 && x[i] <= 255) : !(x[i] >= -1 && x[i] <= 1))
            abort();
    free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "fuzz-%ld.idx", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    dode_idx_opts o;
    dode_idx_opts_init(&o);
    read_once(path, &o);
    o.subset = 2;
    o.random = 1;
    o.seed = 5;
    o.raw = 1;
    read_once(path, &o);
    unlink(path);   /* not truncated by the next run: ext4 flushes a file rewritten that way */
    return 0;
}
