/* check_mlp_limits.c - the MLP's size guards (mlp.c): a .safetensors file is checked
 * tensor by tensor against the architecture its metadata describes before the network is
 * allocated, and no network may exceed 2^28 parameters (2 GiB of doubles). */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diffode/mlp.h"
#include "diffode/safetensors.h"
#include "testutil.h"

/* A .safetensors buffer holding no tensors, only an mlp's __metadata__ with these widths. */
static size_t metadata_only(unsigned char *buf, size_t cap, const char *widths)
{
    const int n = snprintf((char *)buf + 8, cap - 8, "{\"__metadata__\": {\"diffode_arch\": "
                           "\"mlp\", \"dim\": \"2\", \"temb\": \"16\", \"widths\": \"%s\", "
                           "\"schedule\": \"ddpm-linear\"}}", widths);
    ck_assert(n > 0 && (size_t)n < cap - 8);
    for (int b = 0; b < 8; b++)         /* the header length, 8 bytes little-endian */
        buf[b] = (unsigned char)((unsigned long long)n >> (8 * b));
    return 8 + (size_t)n;
}

static dode_safetensors *parse(const char *widths)
{
    unsigned char buf[512];
    const size_t len = metadata_only(buf, sizeof buf, widths);
    dode_safetensors *st = NULL;
    char err[ERRLEN];
    ck_assert_msg(dode_safetensors_parse(buf, len, "meta.safetensors", &st, err, sizeof err)
                  == DODE_OK, "%s", err);
    return st;
}

/* Widths "8000,8000" with dim 2, temb 16 describe 64,176,002 parameters (513 MB), under
 * the cap, in a file holding none of them. The tensors are now checked first, so loading
 * fails "missing" even in a child allowed only 256 MiB more address space; the old code
 * allocated the 513 MB first and, there, failed "out of memory" instead. */
START_TEST(metadata_without_tensors_is_refused_before_the_network_is_allocated)
{
    dode_safetensors *st = parse("8000,8000");
    const pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        test_limit_address_space();
        char err[ERRLEN] = "";
        dode_mlp *m = dode_mlp_from_safetensors(st, "meta.safetensors", err, sizeof err);
        const int ok = m == NULL && strstr(err, "meta.safetensors") != NULL
                       && strstr(err, "tensor \"layers.0.weight\" is missing") != NULL;
        if (!ok)
            fprintf(stderr, "got: %s\n", err);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child did not fail "
                  "with \"layers.0.weight is missing\" (status %d)", status);
    dode_safetensors_free(st);
}
END_TEST

/* "40000,40000": 40000 x 19 + 40000 x 40001 + 2 x 40001 = 1,600,880,002 parameters,
 * above 2^28 = 268,435,456: refused on the metadata, naming the file and the limit. */
START_TEST(metadata_describing_more_than_2_28_parameters_is_refused)
{
    dode_safetensors *st = parse("40000,40000");
    char err[ERRLEN] = "";
    ck_assert_ptr_null(dode_mlp_from_safetensors(st, "meta.safetensors", err, sizeof err));
    ck_assert_msg(strstr(err, "meta.safetensors") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "1600880002 parameters, above the limit of 268435456 (2^28)")
                  != NULL, "%s", err);
    dode_safetensors_free(st);
}
END_TEST

/* The same cap guards dode_mlp_new: 16 hidden layers of width 65536 are 2^36 weights. */
START_TEST(new_network_above_2_28_parameters_is_refused)
{
    dode_mlp_arch a = { .dim = 2, .temb = 16, .nhidden = DODE_MLP_MAX_HIDDEN,
                        .schedule = "ddpm-linear" };
    for (size_t i = 0; i < a.nhidden; i++)
        a.widths[i] = DODE_MLP_MAX_WIDTH;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    char err[ERRLEN] = "";
    ck_assert_ptr_null(dode_mlp_new(&a, rng, err, sizeof err));
    ck_assert_msg(strstr(err, "above the limit of 268435456 (2^28)") != NULL, "%s", err);
    a.nhidden = 1;                      /* 65536 x 19 + 2 x 65537 parameters: fine */
    dode_mlp *m = dode_mlp_new(&a, rng, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    ck_assert_uint_eq(dode_mlp_nparams(m), 65536u * 19u + 2u * 65537u);
    dode_mlp_free(m);
    gsl_rng_free(rng);
}
END_TEST

static Suite *mlp_limits_suite(void)
{
    Suite *s = suite_create("mlp_limits");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, metadata_without_tensors_is_refused_before_the_network_is_allocated);
    tcase_add_test(tc, metadata_describing_more_than_2_28_parameters_is_refused);
    tcase_add_test(tc, new_network_above_2_28_parameters_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(mlp_limits_suite)
