/* check_idx.c - the IDX reader (idx.h) on files this test writes, plain and gzipped
 * through zlib: values and sizes read back, subsets, and every corrupt file refused with
 * its code and a message naming the file and the problem, outputs untouched. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "diffode/idx.h"
#include "testutil.h"

/* Big-endian IDX header: magic 0x0000TTNN, then the nd sizes. */
static size_t idx_header(unsigned char *buf, int type, size_t nd, const uint32_t *dims)
{
    buf[0] = buf[1] = 0;
    buf[2] = (unsigned char)type;
    buf[3] = (unsigned char)nd;
    for (size_t k = 0; k < nd; k++)
        for (int b = 0; b < 4; b++)
            buf[4 + 4 * k + (size_t)b] = (unsigned char)(dims[k] >> (24 - 8 * b));
    return 4 + 4 * nd;
}

/* Writes len bytes to path, gzipped if gz. */
static void write_file(const char *path, const unsigned char *bytes, size_t len, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(len == 0 ? 0 : gzwrite(f, bytes, (unsigned)len), (int)len);
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
        fclose(f);
    }
}

/* An images file of `items` 2 x 3 items whose pixel (i, k) is (7 i + k) mod 256, and
 * its labels file (label i = i mod 256); returns the images file's byte count. */
static size_t write_images(const char *path, uint32_t items, int gz, size_t cut)
{
    const uint32_t dims[3] = { items, 2, 3 };
    unsigned char *buf = malloc(16 + 6 * (size_t)items);
    size_t len = idx_header(buf, 0x08, 3, dims);
    for (size_t i = 0; i < items; i++)
        for (size_t k = 0; k < 6; k++)
            buf[len++] = (unsigned char)((7 * i + k) % 256);
    write_file(path, buf, len - cut, gz);
    free(buf);
    return len;
}

static void write_labels(const char *path, uint32_t items, int gz)
{
    unsigned char *buf = malloc(8 + (size_t)items);
    size_t len = idx_header(buf, 0x08, 1, &items);
    for (size_t i = 0; i < items; i++)
        buf[len++] = (unsigned char)(i % 256);
    write_file(path, buf, len, gz);
    free(buf);
}

typedef struct {
    char dir[32], path[128];
} tmp_file;

static void tmp_open(tmp_file *t, const char *name)
{
    strcpy(t->dir, "/tmp/check_idx.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(t->dir));
    snprintf(t->path, sizeof t->path, "%s/%s", t->dir, name);
}

static void tmp_close(tmp_file *t)
{
    unlink(t->path);
    rmdir(t->dir);
}

START_TEST(reads_images_plain_and_gzipped_scaled_to_minus_one_one)
{
    for (int gz = 0; gz < 2; gz++) {
        tmp_file t;
        tmp_open(&t, gz ? "img.idx.gz" : "img.idx");
        write_images(t.path, 50, gz, 0);
        double *x = NULL;
        size_t rows = 0, cols = 0, dims[DODE_IDX_MAX_DIMS], nd = 0;
        char err[ERRLEN];
        ck_assert_int_eq(dode_idx_read(t.path, NULL, &x, &rows, &cols, dims, &nd, err,
                                       sizeof err), DODE_OK);
        ck_assert(rows == 50 && cols == 6 && nd == 3);
        ck_assert(dims[0] == 50 && dims[1] == 2 && dims[2] == 3 && dims[3] == 0);
        for (size_t i = 0; i < rows; i++)
            for (size_t k = 0; k < cols; k++)   /* 2 p / 255 - 1, exact to rounding */
                ck_assert_double_eq_tol(x[i * cols + k], 2.0 * (double)((7 * i + k) % 256)
                                        / 255.0 - 1.0, 1e-15);
        free(x);
        tmp_close(&t);
    }
}
END_TEST

START_TEST(reads_labels_raw)
{
    tmp_file t;
    tmp_open(&t, "lab.idx.gz");
    write_labels(t.path, 300, 1);
    dode_idx_opts o;
    dode_idx_opts_init(&o);
    o.raw = 1;
    double *x = NULL;
    size_t rows = 0, cols = 0, nd = 0;
    char err[ERRLEN];
    ck_assert_int_eq(dode_idx_read(t.path, &o, &x, &rows, &cols, NULL, &nd, err, sizeof err),
                     DODE_OK);
    ck_assert(rows == 300 && cols == 1 && nd == 1);
    for (size_t i = 0; i < rows; i++)
        ck_assert(x[i] == (double)(i % 256));
    free(x);
    tmp_close(&t);
}
END_TEST

/* First M, and a seeded subset: M rows in file order, the same seed picking the same
 * items of an images file and its labels file. */
START_TEST(subsets_are_the_first_items_or_a_seeded_sample_in_file_order)
{
    tmp_file ti, tl;
    tmp_open(&ti, "img.idx.gz");
    tmp_open(&tl, "lab.idx");
    write_images(ti.path, 200, 1, 0);
    write_labels(tl.path, 200, 0);
    dode_idx_opts o;
    dode_idx_opts_init(&o);
    o.subset = 10;
    double *x = NULL, *lab = NULL;
    size_t rows, cols;
    char err[ERRLEN];
    ck_assert_int_eq(dode_idx_read(ti.path, &o, &x, &rows, &cols, NULL, NULL, err, sizeof err),
                     DODE_OK);
    ck_assert(rows == 10 && x[9 * 6] == 2.0 * 63 / 255.0 - 1.0);
    free(x);
    o.random = 1;
    o.seed = 42;
    ck_assert_int_eq(dode_idx_read(ti.path, &o, &x, &rows, &cols, NULL, NULL, err, sizeof err),
                     DODE_OK);
    o.raw = 1;
    ck_assert_int_eq(dode_idx_read(tl.path, &o, &lab, &rows, &cols, NULL, NULL, err,
                                   sizeof err), DODE_OK);
    ck_assert_uint_eq(rows, 10);
    for (size_t r = 0; r < 10; r++) {      /* item i's first pixel is 7 i mod 256 */
        const double i = lab[r];
        ck_assert(r == 0 || lab[r] > lab[r - 1]);
        ck_assert_double_eq_tol(x[r * 6], 2.0 * (double)((7 * (size_t)i) % 256) / 255.0 - 1.0,
                                1e-15);
    }
    ck_assert(lab[9] - lab[0] > 9);        /* not simply the first ten */
    free(x);
    free(lab);
    tmp_close(&ti);
    tmp_close(&tl);
}
END_TEST

/* One corrupt file: its bytes, whether gzipped, the code and the words the message has. */
typedef struct {
    const char *name;
    unsigned char bytes[40];
    size_t len;
    int gz, code;
    const char *says;
} corrupt_case;

static void check_refused(const char *path, const dode_idx_opts *o, int code, const char *says)
{
    double sentinel = 7, *x = &sentinel;
    size_t rows = 77, cols = 77, dims[DODE_IDX_MAX_DIMS] = { 77, 77, 77, 77 }, nd = 77;
    char err[ERRLEN] = "";
    ck_assert_int_eq(dode_idx_read(path, o, &x, &rows, &cols, dims, &nd, err, sizeof err),
                     code);
    ck_assert_msg(strstr(err, path) != NULL, "message does not name the file: %s", err);
    ck_assert_msg(strstr(err, says) != NULL, "message lacks '%s': %s", says, err);
    ck_assert(x == &sentinel && rows == 77 && cols == 77 && dims[0] == 77 && nd == 77);
}

START_TEST(corrupt_headers_are_refused_naming_the_file)
{
    static const corrupt_case cases[] = {
        { "bad magic", { 0x12, 0x34, 0x08, 0x03, 0, 0, 0, 1 }, 8, 1, DODE_EFORMAT,
          "not an IDX file" },
        { "float type", { 0, 0, 0x0D, 0x03, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1 }, 16, 1,
          DODE_EFORMAT, "type code 0x0d" },
        { "no dims", { 0, 0, 0x08, 0 }, 4, 0, DODE_EFORMAT, "0 dimensions" },
        { "five dims", { 0, 0, 0x08, 5 }, 4, 1, DODE_EFORMAT, "5 dimensions" },
        { "overflow", { 0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255 },
          16, 1, DODE_EFORMAT, "more than" },
        { "over the cap", { 0, 0, 8, 2, 0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0 }, 12, 0,
          DODE_EFORMAT, "more than 4294967296 values" },
        { "zero size", { 0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1 }, 16, 1, DODE_EFORMAT,
          "is 0" },
        { "short header", { 0, 0, 8, 3, 0, 0, 0, 2, 0 }, 9, 1, DODE_EFORMAT,
          "header truncated" },
        { "empty", { 0 }, 0, 0, DODE_EFORMAT, "(end of file)" },
        { "empty gzip", { 0 }, 0, 1, DODE_EFORMAT, "(end of file)" },
        { "text", "hello, world: not IDX", 21, 0, DODE_EFORMAT, "not an IDX file" },
        { "broken gzip", { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff, 0xff },
          15, 0, DODE_EFORMAT, "corrupt compressed data" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tmp_file t;
        tmp_open(&t, "bad.idx.gz");
        write_file(t.path, cases[k].bytes, cases[k].len, cases[k].gz);
        check_refused(t.path, NULL, cases[k].code, cases[k].says);
        tmp_close(&t);
    }
}
END_TEST

START_TEST(truncated_payload_is_refused_plain_and_gzipped)
{
    for (int gz = 0; gz < 2; gz++) {
        tmp_file t;
        tmp_open(&t, "cut.idx");
        write_images(t.path, 20, gz, 5);            /* the last item lacks 5 of 6 bytes */
        check_refused(t.path, NULL, DODE_EFORMAT, "item 20 of 20");
        check_refused(t.path, NULL, DODE_EFORMAT, "truncated");
        tmp_close(&t);
    }
}
END_TEST

/* Fuzzing regression: a 16-byte file whose 3-D header claims 2 x 2 x 134810123 values
 * (under the 2^32 cap) made the reader ask for 4.3 GB before reading any data. The
 * allocation now follows the data present (a plain file's size is checked first; a gzip
 * payload is converted as it arrives, the buffer growing geometrically), so the read
 * fails "truncated" even in a child whose address space allows only 256 MiB more: with
 * the old code that child got DODE_ENOMEM ("do not fit in memory") instead. Its 2^29
 * values are also above DODE_IDX_MAX_KEPT, which a gzip file (size unknown) meets first. */
START_TEST(header_claiming_far_more_than_the_file_holds_fails_truncated_without_allocating)
{
    static const unsigned char bytes[16] = { 0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2,
                                             0x08, 0x09, 0x0a, 0x0b };
    for (int gz = 0; gz < 2; gz++) {
        tmp_file t;
        tmp_open(&t, "huge.idx");
        write_file(t.path, bytes, sizeof bytes, gz);
        const pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            test_limit_address_space();
            double *x = NULL;
            size_t rows = 77, cols = 77;
            char err[ERRLEN] = "";
            const int rc = dode_idx_read(t.path, NULL, &x, &rows, &cols, NULL, NULL, err,
                                         sizeof err);
            int ok = gz ? rc == DODE_EINVAL && strstr(err, "limit of 67108864") != NULL
                                : rc == DODE_EFORMAT && strstr(err, "truncated") != NULL
                                  && strstr(err, "item 1 of 2") != NULL;
            ok = ok && x == NULL && rows == 77;
            if (!ok)
                fprintf(stderr, "gz %d: rc %d: %s\n", gz, rc, err);
            _exit(ok ? 0 : 1);
        }
        int status = 0;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "gz %d: the child "
                      "did not fail with DODE_EFORMAT \"truncated\" (status %d)", gz, status);
        tmp_close(&t);
    }
}
END_TEST

START_TEST(missing_file_and_oversized_subset_are_refused)
{
    check_refused("/nonexistent/dir/x.idx.gz", NULL, DODE_EIO, "cannot open");
    tmp_file t;
    tmp_open(&t, "img.idx.gz");
    write_images(t.path, 5, 1, 0);
    dode_idx_opts o;
    dode_idx_opts_init(&o);
    o.subset = 6;
    check_refused(t.path, &o, DODE_EINVAL, "subset of 6 items");
    tmp_close(&t);
}
END_TEST

/* Issue 18's gzip bomb: a small .idx.gz whose header claims 2^30 values (16384 items of
 * 256 x 256) and holds 1 MiB of them. The old reader decompressed and kept values as they
 * came, so memory followed the decompressed size (2.1 GB before failing); now the 2^30
 * values to keep are refused from the header, above the 2^26 limit, before any data are
 * read, in a child with only 256 MiB of address space to spare. */
START_TEST(gzip_bomb_is_refused_from_its_header_before_decompressing)
{
    const uint32_t dims[3] = { 16384, 256, 256 };
    const size_t data = (size_t)1 << 20;
    unsigned char *buf = calloc(16 + data, 1);
    const size_t len = idx_header(buf, 0x08, 3, dims) + data;
    tmp_file t;
    tmp_open(&t, "bomb.idx.gz");
    write_file(t.path, buf, len, 1);
    free(buf);
    const pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        test_limit_address_space();
        double *x = NULL;
        size_t rows = 5, cols = 5;
        char err[ERRLEN] = "";
        const int rc = dode_idx_read(t.path, NULL, &x, &rows, &cols, NULL, NULL, err,
                                     sizeof err);
        const int ok = rc == DODE_EINVAL && strstr(err, t.path) != NULL
                       && strstr(err, "16384 items of 65536 values") != NULL
                       && strstr(err, "limit of 67108864 values") != NULL && x == NULL
                       && rows == 5;
        if (!ok)
            fprintf(stderr, "rc %d: %s\n", rc, err);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the bomb was not refused "
                  "from its header (status %d)", status);
    /* a subset within the limit is still read, from the first items */
    dode_idx_opts o;
    dode_idx_opts_init(&o);
    o.subset = 3;
    double *x = NULL;
    size_t rows = 0, cols = 0;
    char err[ERRLEN];
    ck_assert_msg(dode_idx_read(t.path, &o, &x, &rows, &cols, NULL, NULL, err, sizeof err)
                  == DODE_OK, "%s", err);
    ck_assert(rows == 3 && cols == 65536 && x[0] == -1.0);
    free(x);
    tmp_close(&t);
}
END_TEST

/* IDX has no trailer: bytes after the last item mean a wrong header. Refused for a plain
 * file from its size, and for gzip after the last item (both were accepted before). */
START_TEST(bytes_after_the_last_item_are_refused_plain_and_gzipped)
{
    for (int gz = 0; gz < 2; gz++) {
        const uint32_t dims[2] = { 3, 4 };
        unsigned char buf[12 + 12 + 5] = { 0 };
        const size_t len = idx_header(buf, 0x08, 2, dims) + 12 + 5;
        tmp_file t;
        tmp_open(&t, gz ? "extra.idx.gz" : "extra.idx");
        write_file(t.path, buf, len, gz);
        check_refused(t.path, NULL, DODE_EFORMAT, "after the last item");
        write_file(t.path, buf, len - 5, gz);       /* the same without them: fine */
        double *x = NULL;
        size_t rows = 0, cols = 0;
        char err[ERRLEN];
        ck_assert_msg(dode_idx_read(t.path, NULL, &x, &rows, &cols, NULL, NULL, err,
                                    sizeof err) == DODE_OK, "%s", err);
        ck_assert(rows == 3 && cols == 4);
        free(x);
        tmp_close(&t);
    }
}
END_TEST

/* A FIFO (or /dev/zero) is not read: without a writer the old reader blocked forever in
 * open(2), and /dev/zero read as endless data. Refused at once, naming what it is. */
START_TEST(fifo_and_devices_are_refused_without_blocking)
{
    tmp_file t;
    tmp_open(&t, "pipe.idx");
    ck_assert_int_eq(mkfifo(t.path, 0600), 0);
    alarm(10);                  /* a regression would block: fail by the alarm, not hang */
    check_refused(t.path, NULL, DODE_EIO, "FIFO");
    check_refused("/dev/zero", NULL, DODE_EIO, "character device");
    check_refused("/tmp", NULL, DODE_EIO, "directory");
    alarm(0);
    tmp_close(&t);
}
END_TEST

static Suite *idx_suite(void)
{
    Suite *s = suite_create("idx");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, reads_images_plain_and_gzipped_scaled_to_minus_one_one);
    tcase_add_test(tc, reads_labels_raw);
    tcase_add_test(tc, subsets_are_the_first_items_or_a_seeded_sample_in_file_order);
    tcase_add_test(tc, corrupt_headers_are_refused_naming_the_file);
    tcase_add_test(tc, truncated_payload_is_refused_plain_and_gzipped);
    tcase_add_test(tc, header_claiming_far_more_than_the_file_holds_fails_truncated_without_allocating);
    tcase_add_test(tc, missing_file_and_oversized_subset_are_refused);
    tcase_add_test(tc, gzip_bomb_is_refused_from_its_header_before_decompressing);
    tcase_add_test(tc, bytes_after_the_last_item_are_refused_plain_and_gzipped);
    tcase_add_test(tc, fifo_and_devices_are_refused_without_blocking);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(idx_suite)
