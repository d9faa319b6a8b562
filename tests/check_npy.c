/* check_npy.c - the .npy reader and writer (io.h) and the atomic write (fileio.h): round trips,
 * every accepted header form, and every malformed file refused with a message that
 * names the problem while leaving the outputs untouched. Files live in a mkdtemp dir. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define SENTINEL ((size_t)77)

/* Number of entries in dir (without . and ..). */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void write_file(const char *path, const unsigned char *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* An .npy image: magic, version major.0, the dict text padded with spaces and '\n' to a
 * multiple of `align`, then data_len bytes of data. Returns the length. */
static size_t make_npy(unsigned char *buf, size_t cap, int major, const char *dict,
                       size_t align, const void *data, size_t data_len)
{
    const size_t pre = major == 1 ? 10 : 12, n = strlen(dict);
    const size_t total = (pre + n + 1 + align - 1) / align * align, hlen = total - pre;
    ck_assert_uint_le(total + data_len, cap);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    for (size_t b = 0; b < pre - 8; b++)
        buf[8 + b] = (unsigned char)(hlen >> (8 * b));
    memcpy(buf + pre, dict, n);
    memset(buf + pre + n, ' ', hlen - n - 1);
    buf[total - 1] = '\n';
    if (data_len > 0)
        memcpy(buf + total, data, data_len);
    return total + data_len;
}

START_TEST(float64_round_trip_is_bit_exact)
{
    const double v[6] = { 1.0 / 3.0, -0.0, 4.9e-324, 1.7976931348623157e308, -2.5, NAN };
    char *dir = test_tmpdir("check_npy"), path[512], err[ERRLEN];
    snprintf(path, sizeof path, "%s/x.npy", dir);
    ck_assert_int_eq(dode_npy_write(path, v, 3, 2, err, sizeof err), DODE_OK);
    double *got = NULL;
    size_t rows = 0, cols = 0;
    ck_assert_int_eq(dode_npy_read(path, &got, &rows, &cols, err, sizeof err), DODE_OK);
    ck_assert_uint_eq(rows, 3);
    ck_assert_uint_eq(cols, 2);
    ck_assert_int_eq(memcmp(got, v, sizeof v), 0);
    ck_assert_int_eq(count_entries(dir), 1);        /* no temp file left beside it */
    free(got);
    test_rm_tree(dir);
}
END_TEST

START_TEST(written_header_is_version_1_and_64_aligned)
{
    const double v[2] = { 1, 2 };
    char *dir = test_tmpdir("check_npy"), path[512], err[ERRLEN];
    snprintf(path, sizeof path, "%s/x.npy", dir);
    ck_assert_int_eq(dode_npy_write(path, v, 2, 1, err, sizeof err), DODE_OK);
    unsigned char buf[256];
    FILE *f = fopen(path, "rb");
    const size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    const size_t hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    ck_assert_int_eq(memcmp(buf, "\x93NUMPY\x01\x00", 8), 0);
    ck_assert_uint_eq((10 + hlen) % 64, 0);
    ck_assert_uint_eq(len, 10 + hlen + sizeof v);
    ck_assert_int_eq(buf[10 + hlen - 1], '\n');
    ck_assert_int_eq(memcmp(buf + 10, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1), }",
                            59), 0);
    test_rm_tree(dir);
}
END_TEST

START_TEST(float32_values_read_exactly)
{
    const float f[4] = { 0.5f, -1.25f, 3.0e-5f, 16777216.0f };
    unsigned char buf[256];
    const size_t len = make_npy(buf, sizeof buf, 1, "{'descr': '<f4', 'fortran_order': False, "
                                "'shape': (2, 2), }", 64, f, sizeof f);
    double *got = NULL;
    size_t rows = 0, cols = 0;
    char err[ERRLEN];
    ck_assert_int_eq(dode_npy_parse(buf, len, "mem", &got, &rows, &cols, err, sizeof err), DODE_OK);
    ck_assert_uint_eq(rows, 2);
    ck_assert_uint_eq(cols, 2);
    for (int i = 0; i < 4; i++)
        ck_assert(got[i] == (double)f[i]);   /* float -> double is exact */
    free(got);
}
END_TEST

START_TEST(one_d_shape_reads_as_n_by_1)
{
    const double v[3] = { 1, 2, 3 };
    unsigned char buf[256];
    const size_t len = make_npy(buf, sizeof buf, 1, "{'descr': '<f8', 'fortran_order': False, "
                                "'shape': (3,), }", 64, v, sizeof v);
    double *got = NULL;
    size_t rows = 0, cols = 0;
    char err[ERRLEN];
    ck_assert_int_eq(dode_npy_parse(buf, len, "mem", &got, &rows, &cols, err, sizeof err), DODE_OK);
    ck_assert_uint_eq(rows, 3);
    ck_assert_uint_eq(cols, 1);
    ck_assert_int_eq(memcmp(got, v, sizeof v), 0);
    free(got);
}
END_TEST

/* Version 2.0/3.0 (4-byte length), old 16-byte alignment, "native" order, key order,
 * double quotes and Python 2 'L' suffixes are all valid headers. */
START_TEST(other_valid_header_forms_are_accepted)
{
    static const struct { int major; size_t align; const char *dict; } forms[] = {
        { 2, 64, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1), }" },
        { 3, 64, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1), }" },
        { 1, 16, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1), }" },
        { 1, 64, "{'shape': (2, 1), 'fortran_order': False, 'descr': '=f8'}" },
        { 1, 64, "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (2L, 1L)}" },
    };
    const double v[2] = { -7, 8 };
    for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
        unsigned char buf[256];
        const size_t len = make_npy(buf, sizeof buf, forms[k].major, forms[k].dict,
                                    forms[k].align, v, sizeof v);
        double *got = NULL;
        size_t rows = 0, cols = 0;
        char err[ERRLEN] = "";
        ck_assert_msg(dode_npy_parse(buf, len, "mem", &got, &rows, &cols, err, sizeof err)
                      == DODE_OK, "form %zu: %s", k, err);
        ck_assert_uint_eq(rows * 10 + cols, 21);
        ck_assert_int_eq(memcmp(got, v, sizeof v), 0);
        free(got);
    }
}
END_TEST

/* A malformed image: the header dict (NULL = raw bytes below), version, data length and
 * the words the message must contain. */
typedef struct {
    const char *dict;
    int major;
    size_t data_len;
    const char *expect;
} bad_case;

static const bad_case bad_cases[] = {
    { "{'descr': '>f8', 'fortran_order': False, 'shape': (2, 2), }", 1, 32, "big-endian" },
    { "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }", 1, 32, "'<i8'" },
    { "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", 1, 4, "'|u1'" },
    { "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", 1, 32, "fortran_order" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 1, 8, "0 dimensions" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 2), }", 1, 64, "3 dimensions" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 2), }", 1, 0, "no elements" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", 1, 40,
      "needs 48 bytes, found 40" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", 1, 20,
      "needs 24 bytes, found 20" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", 1, 40, "trailing bytes" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': (17179869184, 17179869184), }", 1, 0,
      "limit" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,), }", 1, 0,
      "limit" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': ('a', 2), }", 1, 32, "'a'" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': (2, -2), }", 1, 32, "'-2'" },
    { "{'descr': '<f8', 'fortran_order': False, }", 1, 32, "'shape'" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), 'extra': 1}", 1, 32, "'extra'" },
    { "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", 1, 32,
      "repeated" },
    { "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }", 1, 16, "structured" },
    { "{'descr': '<f8', 'fortran_order': maybe, 'shape': (2, 2), }", 1, 32, "True or False" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), ", 1, 32, "malformed header" },
    { "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", 4, 32, "version 4.0" },
};

/* Images that are broken below the dict level (built byte by byte). */
static size_t raw_bad_case(int which, unsigned char *buf, const char **expect)
{
    static const char dict[] = "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }";
    const double one = 1;
    size_t len = make_npy(buf, 256, 1, dict, 64, &one, sizeof one);
    switch (which) {
    case 0:
        buf[1] = 'n';                       /* "\x93nUMPY" */
        *expect = "magic";
        return len;
    case 1:
        *expect = "shorter than";
        return 7;
    case 2:
        buf[8] = 0xff;                      /* header length 0x00ff + file is 72 bytes */
        buf[9] = 0x00;
        *expect = "past the end";
        return len;
    default:
        *expect = "ends inside";            /* version 2 needs 12 bytes of preamble */
        buf[6] = 2;
        return 11;
    }
}

#define N_RAW_BAD 4

static void assert_untouched(int rc, const char *err, const char *expect, const double *data,
                             size_t rows, size_t cols, const char *source)
{
    ck_assert_msg(rc == DODE_EFORMAT, "expect '%s': got %s (%s)", expect, dode_strerror(rc), err);
    ck_assert_msg(strstr(err, expect) != NULL, "message '%s' lacks '%s'", err, expect);
    ck_assert_msg(strstr(err, source) != NULL, "message '%s' does not name %s", err, source);
    ck_assert_ptr_null(data);
    ck_assert_uint_eq(rows, SENTINEL);
    ck_assert_uint_eq(cols, SENTINEL);
}

START_TEST(malformed_images_are_refused_by_parse)
{
    const double zeros[16] = { 0 };
    const size_t nbad = sizeof bad_cases / sizeof bad_cases[0];
    for (size_t k = 0; k < nbad + N_RAW_BAD; k++) {
        unsigned char buf[256];
        const char *expect;
        size_t len;
        if (k < nbad) {
            len = make_npy(buf, sizeof buf, bad_cases[k].major, bad_cases[k].dict, 64, zeros,
                           bad_cases[k].data_len);
            expect = bad_cases[k].expect;
        } else {
            len = raw_bad_case((int)(k - nbad), buf, &expect);
        }
        double *data = NULL;
        size_t rows = SENTINEL, cols = SENTINEL;
        char err[ERRLEN] = "";
        const int rc = dode_npy_parse(buf, len, "image.npy", &data, &rows, &cols, err, sizeof err);
        assert_untouched(rc, err, expect, data, rows, cols, "image.npy");
    }
}
END_TEST

START_TEST(malformed_files_are_refused_by_read)
{
    const double zeros[16] = { 0 };
    const size_t nbad = sizeof bad_cases / sizeof bad_cases[0];
    char *dir = test_tmpdir("check_npy");
    for (size_t k = 0; k < nbad + N_RAW_BAD; k++) {
        unsigned char buf[256];
        const char *expect;
        size_t len;
        if (k < nbad) {
            len = make_npy(buf, sizeof buf, bad_cases[k].major, bad_cases[k].dict, 64, zeros,
                           bad_cases[k].data_len);
            expect = bad_cases[k].expect;
        } else {
            len = raw_bad_case((int)(k - nbad), buf, &expect);
        }
        char path[512], err[ERRLEN] = "";
        snprintf(path, sizeof path, "%s/bad%zu.npy", dir, k);
        write_file(path, buf, len);
        double *data = NULL;
        size_t rows = SENTINEL, cols = SENTINEL;
        const int rc = dode_npy_read(path, &data, &rows, &cols, err, sizeof err);
        assert_untouched(rc, err, expect, data, rows, cols, path);
    }
    test_rm_tree(dir);
}
END_TEST

START_TEST(missing_file_is_an_io_error_naming_it)
{
    double *data = NULL;
    size_t rows = SENTINEL, cols = SENTINEL;
    char err[ERRLEN] = "";
    const int rc = dode_npy_read("/nonexistent-dir/x.npy", &data, &rows, &cols, err, sizeof err);
    ck_assert_int_eq(rc, DODE_EIO);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent-dir/x.npy"));
    ck_assert_ptr_null(data);
    ck_assert_uint_eq(rows, SENTINEL);
}
END_TEST

START_TEST(write_into_missing_directory_fails_and_leaves_nothing)
{
    const double v[2] = { 1, 2 };
    char *dir = test_tmpdir("check_npy"), path[512], err[ERRLEN] = "";
    snprintf(path, sizeof path, "%s/missing/x.npy", dir);
    ck_assert_int_eq(dode_npy_write(path, v, 1, 2, err, sizeof err), DODE_EIO);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_int_eq(access(path, F_OK), -1);
    ck_assert_int_eq(count_entries(dir), 0);
    test_rm_tree(dir);
}
END_TEST

/* rename() of a file onto a directory fails after the data were written: the temp file
 * must be removed and the directory left as it was. */
START_TEST(failed_rename_removes_the_temporary_file)
{
    char *dir = test_tmpdir("check_npy"), path[512], err[ERRLEN] = "";
    snprintf(path, sizeof path, "%s/target", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_eq(dode_write_atomic(path, "abc", 3, err, sizeof err), DODE_EIO);
    ck_assert_ptr_nonnull(strstr(err, "rename"));
    ck_assert_int_eq(count_entries(dir), 1);
    test_rm_tree(dir);
}
END_TEST

START_TEST(write_over_existing_file_replaces_it)
{
    const double a[6] = { 1, 2, 3, 4, 5, 6 }, b[1] = { -9 };
    char *dir = test_tmpdir("check_npy"), path[512], err[ERRLEN];
    snprintf(path, sizeof path, "%s/x.npy", dir);
    ck_assert_int_eq(dode_npy_write(path, a, 3, 2, err, sizeof err), DODE_OK);
    ck_assert_int_eq(chmod(path, 0640), 0);
    ck_assert_int_eq(dode_npy_write(path, b, 1, 1, err, sizeof err), DODE_OK);
    double *got = NULL;
    size_t rows = 0, cols = 0;
    ck_assert_int_eq(dode_npy_read(path, &got, &rows, &cols, err, sizeof err), DODE_OK);
    ck_assert_uint_eq(rows * cols, 1);
    ck_assert(got[0] == -9);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640);      /* the replaced file's mode is kept */
    ck_assert_int_eq(count_entries(dir), 1);
    free(got);
    test_rm_tree(dir);
}
END_TEST

START_TEST(write_refuses_empty_shape)
{
    const double v[1] = { 0 };
    char *dir = test_tmpdir("check_npy"), path[512], err[ERRLEN] = "";
    snprintf(path, sizeof path, "%s/x.npy", dir);
    ck_assert_int_eq(dode_npy_write(path, v, 0, 2, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "(0, 2)"));
    ck_assert_int_eq(count_entries(dir), 0);
    test_rm_tree(dir);
}
END_TEST

/* Fuzz regression (tests/fuzz/fuzz_npy.c): a header ending inside an over-long shape
 * entry, with no NUL after it. The message quotes up to 24 characters of the entry and
 * read past the buffer's end (an ASan report in the sanitizer pass of make check). */
START_TEST(over_long_shape_entry_at_the_header_end_is_refused_without_over_read)
{
    static const char dict[] = "{'descr': '<f8', 'fortran_order': True, 'shape': (  "
                               "06000000000000";
    const size_t len = 10 + sizeof dict - 1;
    unsigned char *buf = malloc(len);          /* exactly len bytes: nothing after it */
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(sizeof dict - 1);
    buf[9] = 0;
    memcpy(buf + 10, dict, sizeof dict - 1);
    double *data = NULL;
    size_t rows = SENTINEL, cols = SENTINEL;
    char err[ERRLEN] = "";
    const int rc = dode_npy_parse(buf, len, "long.npy", &data, &rows, &cols, err, sizeof err);
    assert_untouched(rc, err, "exceeds the limit", data, rows, cols, "long.npy");
    ck_assert_ptr_nonnull(strstr(err, "06000000000000..."));
    free(buf);
}
END_TEST

/* A shape the file cannot hold (64 GiB claimed by 80 bytes) is refused from the file's
 * size, before the reader allocates for the shape. */
START_TEST(read_refuses_a_shape_larger_than_the_file_before_allocating)
{
    unsigned char buf[256];
    char *dir = test_tmpdir("check_npy"), path[512], err[ERRLEN] = "";
    const double zeros[2] = { 0 };
    const size_t len = make_npy(buf, sizeof buf, 1, "{'descr': '<f8', 'fortran_order': "
                                "False, 'shape': (8589934591, 1), }", 64, zeros, 16);
    snprintf(path, sizeof path, "%s/big.npy", dir);
    write_file(path, buf, len);
    double *data = NULL;
    size_t rows = SENTINEL, cols = SENTINEL;
    const int rc = dode_npy_read(path, &data, &rows, &cols, err, sizeof err);
    assert_untouched(rc, err, "truncated", data, rows, cols, path);
    ck_assert_ptr_nonnull(strstr(err, "found 16"));
    test_rm_tree(dir);
}
END_TEST

static Suite *npy_suite(void)
{
    Suite *s = suite_create("npy");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, float64_round_trip_is_bit_exact);
    tcase_add_test(tc, written_header_is_version_1_and_64_aligned);
    tcase_add_test(tc, float32_values_read_exactly);
    tcase_add_test(tc, one_d_shape_reads_as_n_by_1);
    tcase_add_test(tc, other_valid_header_forms_are_accepted);
    tcase_add_test(tc, malformed_images_are_refused_by_parse);
    tcase_add_test(tc, malformed_files_are_refused_by_read);
    tcase_add_test(tc, missing_file_is_an_io_error_naming_it);
    tcase_add_test(tc, write_into_missing_directory_fails_and_leaves_nothing);
    tcase_add_test(tc, failed_rename_removes_the_temporary_file);
    tcase_add_test(tc, write_over_existing_file_replaces_it);
    tcase_add_test(tc, write_refuses_empty_shape);
    tcase_add_test(tc, over_long_shape_entry_at_the_header_end_is_refused_without_over_read);
    tcase_add_test(tc, read_refuses_a_shape_larger_than_the_file_before_allocating);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(npy_suite)
