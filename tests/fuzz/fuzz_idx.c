/* fuzz_idx.c - libFuzzer target for IDX files (MNIST's format, plain or gzip): the reader
 * has only a path entry (dode_idx_read goes through zlib's gzopen), so each input is written
 * to a file named for this process in the working directory (run.sh's scratch directory)
 * and read twice: every item scaled, then a random subset of 2 items kept raw.
 *
 * Known issue, reported to the lead: dode_idx_read allocates rows x cols doubles from the
 * header before reading any data, so a 16-byte file claiming 2 x 2 x 134810123 values asks
 * for 4.3 GB (under the 2^32-value cap). Until idx.c bounds that allocation by the data
 * actually present, inputs whose header claims more than CLAIM_LIMIT values are skipped
 * (set FUZZ_IDX_STRICT=1 to fuzz them too), so that other findings are not masked.
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
#include <zlib.h>

#include "diffode/idx.h"
#include "diffode/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CLAIM_LIMIT ((uint64_t)1 << 20)     /* 8 MiB of doubles: a 4 KiB input holds far less */

/* The number of values the (possibly gzip'd) header at path claims; 0 if unreadable. */
static uint64_t claimed_values(const char *path)
{
    unsigned char h[4 + 4 * 255];
    gzFile f = gzopen(path, "rb");
    if (f == NULL)
        return 0;
    const int got = gzread(f, h, sizeof h);
    gzclose(f);
    if (got < 4)
        return 0;
    uint64_t n = 1;
    for (int k = 0; k < h[3] && 8 + 4 * k <= got; k++) {
        const uint64_t d = (uint64_t)h[4 + 4 * k] << 24 | (uint64_t)h[5 + 4 * k] << 16
                           | (uint64_t)h[6 + 4 * k] << 8 | h[7 + 4 * k];
        n = d == 0 ? 0 : n > UINT64_MAX / d ? UINT64_MAX : n * d;
    }
    return n;
}

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
    const char *strict = getenv("FUZZ_IDX_STRICT");
    const uint64_t claim = strict == NULL || strcmp(strict, "1") != 0 ? claimed_values(path) : 0;
    if (claim > CLAIM_LIMIT && claim <= DODE_IDX_MAX_VALUES) {
        unlink(path);
        return 0;
    }
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
