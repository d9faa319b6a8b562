/* check_options.c - the solver option table (options.h): one setter for CLI and configs,
 * bounds and choices from the rows, "given" made explicit, bad values refused. */
#include "testutil.h"

/* Every row: its id is its index, its key finds it, its CLI spelling finds it. */
START_TEST(rows_are_in_id_order_and_findable)
{
    size_t n = 0;
    for (const dode_solver_option *r = dode_solver_options(); r->key != NULL; r++, n++) {
        ck_assert_int_eq((int)r->id, (int)n);
        ck_assert_ptr_eq(dode_solver_option_find(r->key), r);
        char flag[64] = "--";
        for (const char *c = r->key; *c != '\0'; c++)
            snprintf(flag + strlen(flag), sizeof flag - strlen(flag), "%c", *c == '_' ? '-' : *c);
        ck_assert_ptr_eq(dode_solver_option_find(flag), r);
        ck_assert_ptr_nonnull(r->help);
        ck_assert_ptr_nonnull(r->default_text);
        ck_assert_ptr_nonnull(r->readers);
    }
    ck_assert_uint_eq(n, DODE_OPT_COUNT);
    ck_assert_ptr_eq(dode_solver_option_find("--xspace"), dode_solver_option_find("ddim_xspace"));
    ck_assert_ptr_null(dode_solver_option_find("spacing"));   /* the grid's, not an option */
}
END_TEST

/* Setting writes the field and marks it given; the defaults are valid as they stand. */
START_TEST(set_writes_the_field_and_marks_it_given)
{
    char err[ERRLEN];
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    ck_assert_int_eq(dode_solver_opts_check(&o, err, sizeof err), DODE_OK);
    ck_assert(!dode_solver_opts_given(&o, DODE_OPT_RTOL));
    ck_assert_int_eq(dode_solver_opts_set(&o, "rtol", "1e-6", err, sizeof err), DODE_OK);
    ck_assert(dode_solver_opts_given(&o, DODE_OPT_RTOL));       /* 1e-6 is not "unset" */
    ck_assert_double_eq(o.adaptive.rtol, 1e-6);
    ck_assert_int_eq(dode_solver_opts_set(&o, "--unipc-bh", "1", err, sizeof err), DODE_OK);
    ck_assert_int_eq(o.unipc.bh, 1);
    ck_assert_int_eq(dode_solver_opts_set(&o, "unipc_bh", "bh2", err, sizeof err), DODE_OK);
    ck_assert_int_eq(o.unipc.bh, 2);
    ck_assert_int_eq(dode_solver_opts_set(&o, "variable", "lambda", err, sizeof err), DODE_OK);
    ck_assert_int_eq(o.generic.variable, DODE_VAR_LAMBDA);
    ck_assert_int_eq(dode_solver_opts_set(&o, "lower_order_final", "no", err, sizeof err),
                     DODE_OK);
    ck_assert_int_eq(o.dpm.lower_order_final, 0);
    ck_assert_int_eq(dode_solver_opts_set(&o, "max_steps", "17", err, sizeof err), DODE_OK);
    ck_assert_uint_eq(o.adaptive.max_steps, 17);
    ck_assert_int_eq(dode_solver_opts_set(&o, "dynamic_ratio", "1", err, sizeof err), DODE_OK);
    char shown[64];
    dode_solver_option_format(dode_solver_option_find("variable"), &o, shown, sizeof shown);
    ck_assert_str_eq(shown, "lambda");
}
END_TEST

typedef struct {
    const char *key, *value;
    int code;
    const char *says;
} bad_value;

static const bad_value bad_values[] = {
    { "eta", "-0.5", DODE_EINVAL, "expected >= 0" },
    { "eta", "abc", DODE_EINVAL, "not a finite number" },
    { "rtol", "0", DODE_EINVAL, "expected > 0" },
    { "rtol", "inf", DODE_EINVAL, "not a finite number" },
    { "r1", "1", DODE_EINVAL, "expected in (0, 1)" },
    { "dynamic_ratio", "1.5", DODE_EINVAL, "expected in (0, 1]" },
    { "max_steps", "0", DODE_EINVAL, "whole number >= 1" },
    { "max_steps", "-3", DODE_EINVAL, "whole number >= 1" },
    { "thresholding", "clip", DODE_ENOTFOUND, "none, static, dynamic" },
    { "denoise_to_zero", "maybe", DODE_EINVAL, "yes or no" },
    { "nope", "1", DODE_ENOTFOUND, "no solver option 'nope'" },
};

START_TEST(bad_values_are_refused_and_leave_the_options_alone)
{
    const bad_value *b = &bad_values[_i];
    char err[ERRLEN] = "";
    dode_solver_opts o, before;
    dode_solver_opts_init(&o);
    before = o;
    ck_assert_int_eq(dode_solver_opts_set(&o, b->key, b->value, err, sizeof err), b->code);
    ck_assert_msg(strstr(err, b->says) != NULL, "%s = %s: \"%s\" lacks \"%s\"", b->key,
                  b->value, err, b->says);
    ck_assert_mem_eq(&o, &before, sizeof o);
}
END_TEST

/* A field written directly out of range is caught by the check dode_solve runs. */
START_TEST(check_catches_fields_written_directly)
{
    char err[ERRLEN];
    dode_solver_opts o;
    dode_solver_opts_init(&o);
    o.threshold.clip_value = -1;
    ck_assert_int_eq(dode_solver_opts_check(&o, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "clip_value"));
    dode_solver_opts_init(&o);
    o.dpm.r1 = 2;                       /* not given: r1 is not read, so not checked */
    ck_assert_int_eq(dode_solver_opts_check(&o, err, sizeof err), DODE_OK);
    dode_solver_opts_mark(&o, DODE_OPT_R1);
    ck_assert_int_eq(dode_solver_opts_check(&o, err, sizeof err), DODE_EINVAL);
    dode_solver_opts_init(&o);
    o.ddim.eta = 0.5;                   /* noise needs a noise source */
    ck_assert_int_eq(dode_solver_opts_check(&o, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "noise"));
}
END_TEST

static Suite *options_suite(void)
{
    Suite *s = suite_create("options");
    TCase *tc = tcase_create("options");
    tcase_add_test(tc, rows_are_in_id_order_and_findable);
    tcase_add_test(tc, set_writes_the_field_and_marks_it_given);
    tcase_add_loop_test(tc, bad_values_are_refused_and_leave_the_options_alone, 0,
                        (int)(sizeof bad_values / sizeof bad_values[0]));
    tcase_add_test(tc, check_catches_fields_written_directly);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(options_suite)
