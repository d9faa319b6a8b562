/* check_spec.c - the model and schedule spec readers (spec.h) through the library alone:
 * defaults, options, wrapping, and the failures' codes, messages and untouched outputs.
 * (The "ideal:" kind is checked in check_ideal.c, beside its model.) */
#include <string.h>

#include "testutil.h"

START_TEST(gaussian_spec_sets_dim_and_wraps_predictions)
{
    char err[ERRLEN];
    dode_model *m = NULL;
    ck_assert_int_eq(dode_model_from_spec("gaussian", &m, err, sizeof err), DODE_OK);
    ck_assert_uint_eq(m->dim, 2);
    ck_assert_ptr_nonnull(m->exact_flow);
    dode_model_free(m);
    m = NULL;
    ck_assert_int_eq(dode_model_from_spec("gaussian:dim=5,mean=1.5,std=0.25,predict=v", &m,
                                          err, sizeof err), DODE_OK);
    ck_assert_uint_eq(m->dim, 5);
    ck_assert_int_eq(m->prediction, DODE_PRED_EPS);       /* wrapped back to eps */
    ck_assert_ptr_nonnull(m->exact_flow);                 /* passed through the wrapper */
    dode_model_free(m);
}
END_TEST

START_TEST(bad_specs_name_the_key_and_leave_the_output_alone)
{
    static const struct { const char *spec; int code; const char *says; } cases[] = {
        { "gaussian:dim=0", DODE_EINVAL, "dim = '0'" },
        { "gaussian:dim=2x", DODE_EINVAL, "dim = '2x'" },
        { "gaussian:mean=nan", DODE_EINVAL, "mean = 'nan'" },
        { "gaussian:std=-1", DODE_EINVAL, "std = '-1'" },
        { "gaussian:predict=noise", DODE_EINVAL, "predict = 'noise'" },
        { "gaussian:width=3", DODE_ENOTFOUND, "unknown key 'width'" },
        { "gaussian:dim", DODE_EINVAL, "'dim' is not key=value" },
        { "gmm", DODE_EINVAL, "gmm needs a file" },
        { "gmm:/nonexistent/g.json", DODE_EIO, "cannot open /nonexistent/g.json" },
        { "mlp:/nonexistent/m.safetensors", DODE_EIO, "cannot open /nonexistent/m.safetensors" },
        { "mlp2:x", DODE_ENOTFOUND, "unknown kind 'mlp2'" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char err[ERRLEN] = "";
        dode_model *m = (dode_model *)&err;                 /* a sentinel that must survive */
        ck_assert_int_eq(dode_model_from_spec(cases[k].spec, &m, err, sizeof err), cases[k].code);
        ck_assert_msg(strstr(err, cases[k].says) != NULL, "'%s' lacks '%s'", err, cases[k].says);
        ck_assert_ptr_eq(m, (dode_model *)&err);
    }
    char err[ERRLEN] = "";
    dode_schedule *s = NULL;
    ck_assert_int_eq(dode_schedule_from_spec("ddpm-lin", &s, err, sizeof err), DODE_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err, "ddpm-lin"));
    ck_assert_int_eq(dode_schedule_from_spec("betas:/nonexistent.npy", &s, err, sizeof err),
                     DODE_EIO);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent.npy"));
    ck_assert_ptr_null(s);
}
END_TEST

static Suite *spec_suite(void)
{
    Suite *s = suite_create("spec");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, gaussian_spec_sets_dim_and_wraps_predictions);
    tcase_add_test(tc, bad_specs_name_the_key_and_leave_the_output_alone);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(spec_suite)
