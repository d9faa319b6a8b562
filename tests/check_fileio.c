/* check_fileio.c - how every reader opens its input (fileio.h, issue 18 item 2): only a
 * regular file of bounded size is read. A FIFO without a writer used to block open(2)
 * forever, and /dev/zero was read until memory ran out (1.5-2.1 GB); both, and a
 * directory, are now refused at once by the npy, GMM JSON, .safetensors (mlp:), config and
 * model-spec and training-data readers, with a message naming the path and what it is. The GMM JSON reader
 * also bounds its parse (2^22 values, 64 MiB) before cJSON builds a tree. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diffode/fileio.h"
#include "diffode/safetensors.h"
#include "../experiments/config.h"
#include "testutil.h"

/* A fresh FIFO at /tmp/check_fileio.XXXXXX/pipe; free with test_rm_path. */
static char *make_fifo(void)
{
    char *path = test_tmp_path("check_fileio", "pipe");
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    return path;
}

/* err names path and says `kind`. */
static void says(const char *err, const char *path, const char *kind)
{
    ck_assert_msg(strstr(err, path) != NULL, "message does not name %s: %s", path, err);
    ck_assert_msg(strstr(err, kind) != NULL, "message lacks '%s': %s", kind, err);
}

START_TEST(file_open_refuses_fifo_device_and_directory_without_blocking)
{
    char *fifo = make_fifo();
    const char *const paths[3] = { fifo, "/dev/zero", "/tmp" };
    const char *const kinds[3] = { "a FIFO", "a character device", "a directory" };
    alarm(10);          /* the old readers blocked on a FIFO: fail by the alarm, not hang */
    for (int k = 0; k < 3; k++) {
        int fd = -77;
        size_t size = 77;
        char err[ERRLEN] = "";
        ck_assert_int_eq(dode_file_open(paths[k], 1 << 20, &fd, &size, err, sizeof err),
                         DODE_EIO);
        says(err, paths[k], kinds[k]);
        ck_assert(fd == -77 && size == 77);
        char *bytes = NULL;
        ck_assert_int_eq(dode_file_read(paths[k], 1 << 20, &bytes, &size, err, sizeof err),
                         DODE_EIO);
        ck_assert_ptr_null(bytes);
    }
    alarm(0);
    test_rm_path(fifo);
}
END_TEST

/* A regular file is read whole and NUL-terminated; one byte over the cap is refused
 * before anything is read, naming the size and the limit. */
START_TEST(file_read_takes_a_regular_file_up_to_its_cap_and_no_more)
{
    char *path = test_tmp_path("check_fileio", "ten.txt");
    FILE *f = fopen(path, "wb");
    fputs("0123456789", f);
    fclose(f);
    char *bytes = NULL, err[ERRLEN] = "";
    size_t len = 0;
    ck_assert_int_eq(dode_file_read(path, 10, &bytes, &len, err, sizeof err), DODE_OK);
    ck_assert_uint_eq(len, 10);
    ck_assert_str_eq(bytes, "0123456789");
    free(bytes);
    bytes = NULL;
    ck_assert_int_eq(dode_file_read(path, 9, &bytes, &len, err, sizeof err), DODE_EFORMAT);
    says(err, path, "10 bytes, above the limit of 9 bytes");
    ck_assert_ptr_null(bytes);
    ck_assert_int_eq(dode_file_read("/nonexistent/x", 9, &bytes, &len, err, sizeof err),
                     DODE_EIO);
    says(err, "/nonexistent/x", "cannot open");
    test_rm_path(path);
}
END_TEST

/* Each reader of the library and the command refuses the three, naming the path. */
START_TEST(every_reader_refuses_fifo_and_dev_zero)
{
    char *fifo = make_fifo();
    const char *const paths[2] = { fifo, "/dev/zero" };
    alarm(20);
    for (int k = 0; k < 2; k++) {
        const char *p = paths[k];
        char err[ERRLEN] = "", spec[256];
        double *x = NULL;
        size_t rows = 0, cols = 0;
        ck_assert_int_eq(dode_npy_read(p, &x, &rows, &cols, err, sizeof err), DODE_EIO);
        says(err, p, "only regular files");
        ck_assert_ptr_null(dode_gmm_from_json(p, err, sizeof err));
        says(err, p, "only regular files");
        dode_safetensors *st = NULL;
        ck_assert_int_eq(dode_safetensors_read(p, &st, err, sizeof err), DODE_EIO);
        says(err, p, "only regular files");
        exp_config cfg;
        ck_assert_int_eq(exp_config_load(p, &cfg, err, sizeof err), DODE_EIO);
        says(err, p, "only regular files");
        const char *const kinds[3] = { "mlp", "gmm", "ideal" };
        for (int m = 0; m < 3; m++) {
            dode_model *model = NULL;
            snprintf(spec, sizeof spec, "%s:%s", kinds[m], p);
            ck_assert_int_ne(dode_model_from_spec(spec, &model, err, sizeof err), DODE_OK);
            says(err, p, "only regular files");
            ck_assert_ptr_null(model);
        }
        const char *const sources[2] = { "gmm", "npy" };   /* training data (data.h) */
        for (int m = 0; m < 2; m++) {
            dode_data *d = NULL;
            snprintf(spec, sizeof spec, "%s:%s", sources[m], p);
            ck_assert_int_eq(dode_data_open(spec, &d, err, sizeof err), DODE_EIO);
            says(err, p, "only regular files");
            ck_assert_ptr_null(d);
        }
    }
    alarm(0);
    test_rm_path(fifo);
}
END_TEST

/* Writes `{"bogus": [0,0,...]}` with n zeros to path. */
static void write_zeros_json(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("{\"bogus\": [0", f);
    for (size_t i = 1; i < n; i++)
        fputs(",0", f);
    fputs("]}", f);
    fclose(f);
}

/* Issue 18 item 3: a 48 MB `{"bogus":[0,0,...]}` took 1.93 GB and 40 s before "unknown
 * key". 2^22 + 1 zeros (8 MiB of text) are now refused by their count before cJSON
 * parses them: in a child with only 256 MiB of address space to spare, in well under a
 * second; the old reader built the 270 MB tree there and failed "JSON syntax error". */
START_TEST(json_with_more_values_than_a_mixture_needs_is_refused_before_parsing)
{
    char *path = test_tmp_path("check_fileio", "big.json");
    write_zeros_json(path, ((size_t)1 << 22) + 1);
    const pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        test_limit_address_space();
        char err[ERRLEN] = "";
        dode_model *m = dode_gmm_from_json(path, err, sizeof err);
        const int ok = m == NULL && strstr(err, path) != NULL
                       && strstr(err, "4194307 JSON values, above the limit of 4194304")
                          != NULL;
        if (!ok)
            fprintf(stderr, "got: %s\n", err);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "not refused by its value "
                  "count (status %d)", status);
    /* commas inside strings are not values: a long key is still read, then refused as a
     * key, by the normal reader */
    char err[ERRLEN] = "";
    ck_assert_ptr_null(dode_gmm_from_json_string("{\"a,,,,,,,,\": 1}", "s", err, sizeof err));
    ck_assert_msg(strstr(err, "JSON values") == NULL, "%s", err);
    test_rm_path(path);
}
END_TEST

/* Under 2^22 values but with no memory for the tree: "out of memory", not the "JSON syntax
 * error" cJSON's NULL used to be reported as. The child's address space is cut to what it
 * uses plus 16 MiB; 10^6 zeros need a tree of about 64 MB. */
START_TEST(json_out_of_memory_is_reported_as_such)
{
#if !defined(__SANITIZE_ADDRESS__)
    char *path = test_tmp_path("check_fileio", "mid.json");
    write_zeros_json(path, 1000000);
    const pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        test_limit_address_space_headroom(16);
        char err[ERRLEN] = "";
        dode_model *m = dode_gmm_from_json(path, err, sizeof err);
        const int ok = m == NULL && strstr(err, "out of memory") != NULL
                       && strstr(err, "syntax") == NULL;
        if (!ok)
            fprintf(stderr, "got: %s\n", err);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "out of memory not "
                  "reported as such (status %d)", status);
    test_rm_path(path);
#endif
}
END_TEST

static Suite *fileio_suite(void)
{
    Suite *s = suite_create("fileio");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, file_open_refuses_fifo_device_and_directory_without_blocking);
    tcase_add_test(tc, file_read_takes_a_regular_file_up_to_its_cap_and_no_more);
    tcase_add_test(tc, every_reader_refuses_fifo_and_dev_zero);
    tcase_add_test(tc, json_with_more_values_than_a_mixture_needs_is_refused_before_parsing);
    tcase_add_test(tc, json_out_of_memory_is_reported_as_such);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(fileio_suite)
