/* options.c - the solver option table (options.h): every option's key, type, range or
 * choices, default and readers, and the one setter and checker the CLI, configs and
 * dode_solve use. Adding an option = a field in options.h, a row here, the solver that
 * reads it. Defaults are the official codes' (DPM-Solver's dpm_solver_pytorch.py, UniPC's
 * uni_pc.py, GSL's odeiv2 driver conventions). */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffode/options.h"
#include "diffode/status.h"

void dode_solver_opts_init(dode_solver_opts *o)
{
    *o = (dode_solver_opts){
        .generic = { .variable = DODE_VAR_SIGMA },
        .ddim = { .eta = 0.0, .xspace = 0 },
        .adaptive = { .rtol = 1e-6, .atol = 1e-6, .h_init = 0.0, .max_steps = 100000 },
        .dpm = { .taylor = 0, .d2_taylor = 0, .lower_order_final = 1,
                 .lower_order_threshold = 10, .r1 = NAN, .r2 = NAN },
        .unipc = { .bh = 2 },
        .threshold = { .kind = 0, .clip_value = 1.0, .dynamic_ratio = 0.995 },
        .sde = { .s_noise = 1.0, .s_churn = 0.0, .s_tmin = NAN, .s_tmax = NAN },
        .restart = { .k = 1, .steps = 2, .tmin = 0.06, .tmax = 1.0, .count = 0,
                     .gamma = 0.0 },
        .er = { .fn = DODE_ER_FN_SDE5 },
        .sa = { .predictor = 2, .corrector = 2, .tau = 1.0 },
        .denoise_to_zero = 0, .noise = NULL, .given = 0,
    };
}

dode_solver_opts *dode_solver_opts_new(void)
{
    dode_solver_opts *o = malloc(sizeof *o);
    if (o != NULL)
        dode_solver_opts_init(o);
    return o;
}

void dode_solver_opts_free(dode_solver_opts *o)
{
    free(o);
}

void dode_solver_opts_set_noise(dode_solver_opts *o, dode_noise *noise)
{
    o->noise = noise;
}

static const char *const variables[] = { "sigma", "t", "lambda", "logsigma", NULL };
static const int variable_values[] = { DODE_VAR_SIGMA, DODE_VAR_T, DODE_VAR_LAMBDA,
                                       DODE_VAR_LOGSIGMA };
static const char *const solver_types[] = { "dpmsolver", "taylor", NULL };
static const char *const d2_forms[] = { "official", "taylor", NULL };
static const int index_values[] = { 0, 1, 2, 3 };
/* configs spell bh1 / bh2, the CLI 1 / 2: both work everywhere */
static const char *const unipc_bhs[] = { "bh1", "bh2", "1", "2", NULL };
static const int unipc_bh_values[] = { 1, 2, 1, 2 };
static const char *const er_fns[] = { "sde5", "ode", "sde", "sde1", "sde2", "sde3", "sde4",
                                      NULL };
static const int er_fn_values[] = { DODE_ER_FN_SDE5, DODE_ER_FN_ODE, DODE_ER_FN_SDE,
                                    DODE_ER_FN_SDE1, DODE_ER_FN_SDE2, DODE_ER_FN_SDE3,
                                    DODE_ER_FN_SDE4 };
static const char *const thresholdings[] = { "none", "static", "dynamic", NULL };

#define AT(field) offsetof(dode_solver_opts, field)
#define GSL_AND_ADAPTIVE "gsl:*, dpm-adaptive12, dpm-adaptive23"
#define DATA_PREDICTION "dpmpp*, unipc* (data prediction)"
#define SDE_ETA "euler-a, sde-dpmpp1, dpmpp2m-sde, dpmpp3m-sde"

/* Rows in dode_option_id order. REAL bounds: lo_open / hi_open exclude the bound. */
static const dode_solver_option table[] = {
    { .id = DODE_OPT_VARIABLE, .key = "variable", .kind = DODE_OPTION_CHOICE,
      .offset = AT(generic.variable), .choices = variables, .values = variable_values,
      .default_text = "sigma", .readers = "euler, heun, rk4, gsl:*",
      .help = "the variable the generic integrators step in (sigma|t|lambda|logsigma)" },
    { .id = DODE_OPT_ETA, .key = "eta", .kind = DODE_OPTION_REAL, .offset = AT(ddim.eta),
      .lo = 0, .hi = INFINITY, .default_text = "0 (ddim), 1 (" SDE_ETA ")",
      .readers = "ddim, " SDE_ETA,
      .help = "noise of an ancestral step: 0 is the ODE (Euler, DPM-Solver++), 1 is DDPM" },
    { .id = DODE_OPT_DDIM_XSPACE, .key = "ddim_xspace", .flag_alias = "--xspace",
      .kind = DODE_OPTION_BOOL, .offset = AT(ddim.xspace), .cli_switch = 1,
      .default_text = "no", .readers = "ddim",
      .help = "DDIM eq. 12 on x instead of xbar (the same method)" },
    { .id = DODE_OPT_RTOL, .key = "rtol", .kind = DODE_OPTION_REAL,
      .offset = AT(adaptive.rtol), .lo = 0, .lo_open = 1, .hi = INFINITY,
      .default_text = "1e-6 (gsl:*), 0.05 (dpm-adaptive*, official)",
      .readers = GSL_AND_ADAPTIVE, .help = "relative tolerance of the step-size controller" },
    { .id = DODE_OPT_ATOL, .key = "atol", .kind = DODE_OPTION_REAL,
      .offset = AT(adaptive.atol), .lo = 0, .lo_open = 1, .hi = INFINITY,
      .default_text = "1e-6 (gsl:*), 0.0078 (dpm-adaptive*, official)",
      .readers = GSL_AND_ADAPTIVE, .help = "absolute tolerance of the step-size controller" },
    { .id = DODE_OPT_H_INIT, .key = "h_init", .kind = DODE_OPTION_REAL,
      .offset = AT(adaptive.h_init), .lo = 0, .lo_open = 1, .hi = INFINITY, .if_given = 1,
      .default_text = "1e-3 of the interval (gsl:*), 0.05 in lambda (dpm-adaptive*)",
      .readers = GSL_AND_ADAPTIVE, .help = "first step, in the integration variable" },
    { .id = DODE_OPT_MAX_STEPS, .key = "max_steps", .kind = DODE_OPTION_COUNT,
      .offset = AT(adaptive.max_steps), .lo = 1, .default_text = "100000",
      .readers = GSL_AND_ADAPTIVE, .help = "step budget of an adaptive solve" },
    { .id = DODE_OPT_SOLVER_TYPE, .key = "solver_type", .kind = DODE_OPTION_CHOICE,
      .offset = AT(dpm.taylor), .choices = solver_types, .values = index_values,
      .default_text = "dpmsolver", .readers = "dpm*, dpmpp* (singlestep and multistep)",
      .help = "DPM-Solver update form (dpmsolver|taylor)" },
    { .id = DODE_OPT_D2, .key = "d2", .kind = DODE_OPTION_CHOICE, .offset = AT(dpm.d2_taylor),
      .choices = d2_forms, .values = index_values, .default_text = "official",
      .readers = "dpm3m, dpmpp3m",
      .help = "3M second difference: official (order 2) or taylor (order 3)" },
    { .id = DODE_OPT_LOWER_ORDER_FINAL, .key = "lower_order_final", .kind = DODE_OPTION_BOOL,
      .offset = AT(dpm.lower_order_final), .default_text = "yes",
      .readers = "multistep dpm*, dpmpp*, unipc*", .help = "lower the order on the last steps" },
    { .id = DODE_OPT_LOWER_ORDER_THRESHOLD, .key = "lower_order_threshold",
      .kind = DODE_OPTION_COUNT, .offset = AT(dpm.lower_order_threshold), .lo = 0,
      .default_text = "10", .readers = "multistep dpm*, dpmpp*, unipc*",
      .help = "lower_order_final applies when steps < this" },
    { .id = DODE_OPT_R1, .key = "r1", .kind = DODE_OPTION_REAL, .offset = AT(dpm.r1), .lo = 0,
      .lo_open = 1, .hi = 1, .hi_open = 1, .if_given = 1,
      .default_text = "the grid's own spacing", .readers = "singlestep dpm*, dpmpp*",
      .help = "singlestep inner fraction 1 (of the step in lambda)" },
    { .id = DODE_OPT_R2, .key = "r2", .kind = DODE_OPTION_REAL, .offset = AT(dpm.r2), .lo = 0,
      .lo_open = 1, .hi = 1, .hi_open = 1, .if_given = 1,
      .default_text = "the grid's own spacing", .readers = "singlestep order-3 dpm*, dpmpp*",
      .help = "singlestep inner fraction 2" },
    { .id = DODE_OPT_UNIPC_BH, .key = "unipc_bh", .kind = DODE_OPTION_CHOICE,
      .offset = AT(unipc.bh), .choices = unipc_bhs, .values = unipc_bh_values,
      .default_text = "bh2", .readers = "unipc*",
      .help = "UniPC B(h) = h (bh1) or expm1(h) (bh2)" },
    { .id = DODE_OPT_THRESHOLDING, .key = "thresholding", .kind = DODE_OPTION_CHOICE,
      .offset = AT(threshold.kind), .choices = thresholdings, .values = index_values,
      .default_text = "none", .readers = DATA_PREDICTION,
      .help = "x0 thresholding (none|static|dynamic)" },
    { .id = DODE_OPT_CLIP_VALUE, .key = "clip_value", .kind = DODE_OPTION_REAL,
      .offset = AT(threshold.clip_value), .lo = 0, .lo_open = 1, .hi = INFINITY,
      .default_text = "1", .readers = DATA_PREDICTION,
      .help = "static clip of |x0|, floor of the dynamic one" },
    { .id = DODE_OPT_DYNAMIC_RATIO, .key = "dynamic_ratio", .kind = DODE_OPTION_REAL,
      .offset = AT(threshold.dynamic_ratio), .lo = 0, .lo_open = 1, .hi = 1,
      .default_text = "0.995", .readers = DATA_PREDICTION,
      .help = "dynamic thresholding's quantile of |x0|, in (0, 1]" },
    { .id = DODE_OPT_DENOISE_TO_ZERO, .key = "denoise_to_zero", .kind = DODE_OPTION_BOOL,
      .offset = AT(denoise_to_zero), .cli_switch = 1, .default_text = "no",
      .readers = "every solver (decreasing grids)",
      .help = "finish with an x0-prediction jump to sigma = 0 (one more NFE)" },
    { .id = DODE_OPT_S_NOISE, .key = "s_noise", .kind = DODE_OPTION_REAL,
      .offset = AT(sde.s_noise), .lo = 0, .hi = INFINITY, .default_text = "1",
      .readers = "stochastic samplers (family sde)",
      .help = "scale of each noise draw (Karras et al. 2022 S_noise)" },
    { .id = DODE_OPT_S_CHURN, .key = "s_churn", .kind = DODE_OPTION_REAL,
      .offset = AT(sde.s_churn), .lo = 0, .hi = INFINITY, .default_text = "0",
      .readers = "edm-sde", .help = "EDM churn: gamma = min(s_churn / steps, sqrt 2 - 1)" },
    { .id = DODE_OPT_S_TMIN, .key = "s_tmin", .kind = DODE_OPTION_REAL,
      .offset = AT(sde.s_tmin), .lo = 0, .hi = INFINITY, .if_given = 1,
      .default_text = "0", .readers = "edm-sde, sa-solver",
      .help = "EDM churn (sa-solver: tau) only at sigma >= s_tmin" },
    { .id = DODE_OPT_S_TMAX, .key = "s_tmax", .kind = DODE_OPTION_REAL,
      .offset = AT(sde.s_tmax), .lo = 0, .hi = INFINITY, .if_given = 1,
      .default_text = "infinity", .readers = "edm-sde, sa-solver",
      .help = "EDM churn (sa-solver: tau) only at sigma <= s_tmax" },
    { .id = DODE_OPT_RESTART_K, .key = "restart_k", .kind = DODE_OPTION_COUNT,
      .offset = AT(restart.k), .lo = 0, .default_text = "1", .readers = "restart",
      .help = "restarts K of the interval (0: heun)" },
    { .id = DODE_OPT_RESTART_STEPS, .key = "restart_steps", .kind = DODE_OPTION_COUNT,
      .offset = AT(restart.steps), .lo = 1, .default_text = "2", .readers = "restart",
      .help = "Heun steps of each backward pass from restart_tmax to restart_tmin" },
    { .id = DODE_OPT_RESTART_TMIN, .key = "restart_tmin", .kind = DODE_OPTION_REAL,
      .offset = AT(restart.tmin), .lo = 0, .lo_open = 1, .hi = INFINITY,
      .default_text = "0.06", .readers = "restart",
      .help = "restart interval's low sigma (the nearest grid point is used)" },
    { .id = DODE_OPT_RESTART_TMAX, .key = "restart_tmax", .kind = DODE_OPTION_REAL,
      .offset = AT(restart.tmax), .lo = 0, .lo_open = 1, .hi = INFINITY,
      .default_text = "1", .readers = "restart",
      .help = "restart interval's high sigma, where each restart jumps to" },
    { .id = DODE_OPT_RESTART_LIST, .key = "restart_list", .kind = DODE_OPTION_RESTART_LIST,
      .offset = AT(restart), .default_text = "(the one interval above)", .readers = "restart",
      .help = "several intervals tmin:tmax:K:steps;... (replaces restart_k/steps/tmin/tmax)" },
    { .id = DODE_OPT_RESTART_GAMMA, .key = "restart_gamma", .kind = DODE_OPTION_REAL,
      .offset = AT(restart.gamma), .lo = 0, .hi = INFINITY, .default_text = "0",
      .readers = "restart",
      .help = "churn of each backward step, sigma -> sigma (1 + gamma), in [s_tmin, s_tmax]" },
    { .id = DODE_OPT_ER_FN, .key = "er_fn", .kind = DODE_OPTION_CHOICE, .offset = AT(er.fn),
      .choices = er_fns, .values = er_fn_values, .default_text = "sde5",
      .readers = "er-sde1, er-sde2, er-sde3",
      .help = "ER-SDE noise scale fn (sde5|ode|sde|sde1..sde4; ode: no noise)" },
    { .id = DODE_OPT_SA_PREDICTOR, .key = "sa_predictor", .kind = DODE_OPTION_COUNT,
      .offset = AT(sa.predictor), .lo = 1, .default_text = "2", .readers = "sa-solver",
      .help = "SA-Solver predictor order, 1 to 4" },
    { .id = DODE_OPT_SA_CORRECTOR, .key = "sa_corrector", .kind = DODE_OPTION_COUNT,
      .offset = AT(sa.corrector), .lo = 0, .default_text = "2", .readers = "sa-solver",
      .help = "SA-Solver corrector order, 1 to 4 (0: no corrector)" },
    { .id = DODE_OPT_SA_TAU, .key = "sa_tau", .kind = DODE_OPTION_REAL, .offset = AT(sa.tau),
      .lo = 0, .hi = INFINITY, .default_text = "1", .readers = "sa-solver",
      .help = "SA-Solver tau where s_tmin <= sigma <= s_tmax (0: the ODE, 1: the SDE)" },
    { .id = DODE_OPT_COUNT, .key = NULL },
};

const dode_solver_option *dode_solver_options(void)
{
    return table;
}

/* key equals flag without its "--", with '-' for '_'. */
static int flag_matches(const char *key, const char *flag)
{
    if (strncmp(flag, "--", 2) != 0)
        return 0;
    flag += 2;
    for (; *key != '\0' && *flag != '\0'; key++, flag++)
        if (*flag != (*key == '_' ? '-' : *key))
            return 0;
    return *key == '\0' && *flag == '\0';
}

const dode_solver_option *dode_solver_option_find(const char *key)
{
    if (key == NULL)
        return NULL;
    for (const dode_solver_option *r = table; r->key != NULL; r++)
        if (strcmp(r->key, key) == 0 || flag_matches(r->key, key)
            || (r->flag_alias != NULL && strcmp(r->flag_alias, key) == 0))
            return r;
    return NULL;
}

/* "in (0, 1]", ">= 0", "> 0" for a REAL row. */
static void range_text(const dode_solver_option *r, char *buf, size_t len)
{
    if (isfinite(r->hi))
        snprintf(buf, len, "in %c%g, %g%c", r->lo_open ? '(' : '[', r->lo, r->hi,
                 r->hi_open ? ')' : ']');
    else
        snprintf(buf, len, "%s %g", r->lo_open ? ">" : ">=", r->lo);
}

static int in_range(const dode_solver_option *r, double v)
{
    return isfinite(v) && (r->lo_open ? v > r->lo : v >= r->lo)
           && (!isfinite(r->hi) || (r->hi_open ? v < r->hi : v <= r->hi));
}

static void choices_text(const dode_solver_option *r, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t k = 0; r->choices[k] != NULL; k++)
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", k ? ", " : "", r->choices[k]);
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = { "yes", "true", "on", "1" };
    static const char *const no[] = { "no", "false", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0)
            return *out = 1, 1;
        if (strcmp(s, no[i]) == 0)
            return *out = 0, 1;
    }
    return 0;
}

/* One restart_list interval "tmin:tmax:K:steps" (number `at`, from 1), len bytes of s.
 * The message names the interval, the bad field and its value. */
static int restart_interval_parse(const char *s, size_t len, size_t at,
                                  dode_restart_interval *iv, char *err, size_t errlen)
{
    static const char *const names[4] = { "tmin", "tmax", "K", "steps" };
    char text[128];
    char *field[4];
    size_t n = 0;
    if (len >= sizeof text)
        return dode_fail(err, errlen, DODE_EINVAL, "interval %zu is longer than %zu "
                         "characters", at, sizeof text - 1);
    memcpy(text, s, len);
    text[len] = '\0';
    char shown[128];
    memcpy(shown, text, len + 1);
    for (char *p = text; n < 4; n++) {
        field[n] = p;
        char *colon = strchr(p, ':');
        if (colon == NULL) {
            n++;
            break;
        }
        *colon = '\0';
        p = colon + 1;
        if (n == 3)
            return dode_fail(err, errlen, DODE_EINVAL, "interval %zu \"%s\": expected "
                             "tmin:tmax:K:steps, got more than 4 fields", at, shown);
    }
    if (n != 4)
        return dode_fail(err, errlen, DODE_EINVAL, "interval %zu \"%s\": expected "
                         "tmin:tmax:K:steps, got %zu field%s", at, shown, n, n == 1 ? "" : "s");
    double t[2];
    size_t c[2];
    for (size_t f = 0; f < 4; f++) {
        char *end;
        if (f < 2) {
            t[f] = strtod(field[f], &end);
            if (end == field[f] || *end != '\0' || !isfinite(t[f]) || !(t[f] > 0))
                return dode_fail(err, errlen, DODE_EINVAL, "interval %zu \"%s\": %s \"%s\" "
                                 "is not a finite number > 0", at, shown, names[f], field[f]);
            continue;
        }
        errno = 0;
        const unsigned long long v = strtoull(field[f], &end, 10);
        if (*field[f] < '0' || *field[f] > '9' || *end != '\0' || errno == ERANGE
            || v > (unsigned long long)SIZE_MAX || (f == 3 && v < 1))
            return dode_fail(err, errlen, DODE_EINVAL, "interval %zu \"%s\": %s \"%s\" is "
                             "not a whole number >= %d", at, shown, names[f], field[f], f == 3);
        c[f - 2] = (size_t)v;
    }
    if (!(t[1] > t[0]))
        return dode_fail(err, errlen, DODE_EINVAL, "interval %zu \"%s\": tmax %g is not "
                         "above tmin %g", at, shown, t[1], t[0]);
    *iv = (dode_restart_interval){ .tmin = t[0], .tmax = t[1], .k = c[0], .steps = c[1] };
    return DODE_OK;
}

/* restart_list "tmin:tmax:K:steps;...": 1 to DODE_RESTART_MAX intervals into o->restart
 * (count and list), all or nothing. */
static int restart_list_parse(dode_solver_opts *o, const char *value, char *err,
                              size_t errlen)
{
    dode_restart_interval list[DODE_RESTART_MAX];
    size_t count = 0;
    for (const char *p = value;; count++) {
        const char *semi = strchr(p, ';');
        if (count == DODE_RESTART_MAX)
            return dode_fail(err, errlen, DODE_EINVAL, "more than %d intervals",
                             DODE_RESTART_MAX);
        const int rc = restart_interval_parse(p, semi ? (size_t)(semi - p) : strlen(p),
                                              count + 1, &list[count], err, errlen);
        if (rc != DODE_OK)
            return rc;
        if (semi == NULL)
            break;
        p = semi + 1;
    }
    o->restart.count = count + 1;
    memcpy(o->restart.list, list, (count + 1) * sizeof *list);
    return DODE_OK;
}

int dode_solver_opts_set(dode_solver_opts *o, const char *key, const char *value,
                         char *err, size_t errlen)
{
    const dode_solver_option *r = dode_solver_option_find(key);
    if (r == NULL)
        return dode_fail(err, errlen, DODE_ENOTFOUND, "no solver option '%s' (`diffode list "
                         "--options` names them)", key != NULL ? key : "(null)");
    if (value == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "%s needs a value", r->key);
    void *field = (char *)o + r->offset;
    char text[160];
    char *end;
    switch (r->kind) {
    case DODE_OPTION_REAL: {
        const double v = strtod(value, &end);
        if (end == value || *end != '\0' || !isfinite(v))
            return dode_fail(err, errlen, DODE_EINVAL, "\"%s\" is not a finite number", value);
        range_text(r, text, sizeof text);
        if (!in_range(r, v))
            return dode_fail(err, errlen, DODE_EINVAL, "%s is out of range: expected %s",
                             value, text);
        *(double *)field = v;
        break;
    }
    case DODE_OPTION_COUNT: {
        errno = 0;
        const unsigned long long v = strtoull(value, &end, 10);
        if (*value < '0' || *value > '9' || *end != '\0' || errno == ERANGE
            || (double)v < r->lo || v > (unsigned long long)SIZE_MAX)
            return dode_fail(err, errlen, DODE_EINVAL, "\"%s\" is not a whole number >= %g",
                             value, r->lo);
        *(size_t *)field = (size_t)v;
        break;
    }
    case DODE_OPTION_BOOL:
        if (!parse_bool(value, (int *)field))
            return dode_fail(err, errlen, DODE_EINVAL, "\"%s\" is not yes or no", value);
        break;
    case DODE_OPTION_CHOICE:
        for (size_t k = 0; r->choices[k] != NULL; k++) {
            if (strcmp(r->choices[k], value) == 0) {
                *(int *)field = r->values[k];
                o->given |= 1ul << r->id;
                return DODE_OK;
            }
        }
        choices_text(r, text, sizeof text);
        return dode_fail(err, errlen, DODE_ENOTFOUND, "\"%s\" is not one of %s", value, text);
    case DODE_OPTION_RESTART_LIST: {
        const int rc = restart_list_parse(o, value, err, errlen);
        if (rc != DODE_OK)
            return rc;
        break;
    }
    }
    o->given |= 1ul << r->id;
    return DODE_OK;
}

int dode_solver_opts_check(const dode_solver_opts *o, char *err, size_t errlen)
{
    char text[160];
    for (const dode_solver_option *r = table; r->key != NULL; r++) {
        const void *field = (const char *)o + r->offset;
        if (r->if_given && !dode_solver_opts_given(o, r->id))
            continue;
        if (r->kind == DODE_OPTION_REAL && !in_range(r, *(const double *)field)) {
            range_text(r, text, sizeof text);
            return dode_fail(err, errlen, DODE_EINVAL, "%s = %g is out of range: expected %s",
                             r->key, *(const double *)field, text);
        }
        if (r->kind == DODE_OPTION_COUNT && (double)*(const size_t *)field < r->lo)
            return dode_fail(err, errlen, DODE_EINVAL, "%s = %zu: expected >= %g", r->key,
                             *(const size_t *)field, r->lo);
        if (r->kind == DODE_OPTION_BOOL && *(const int *)field != 0 && *(const int *)field != 1)
            return dode_fail(err, errlen, DODE_EINVAL, "%s = %d: expected 0 or 1", r->key,
                             *(const int *)field);
        if (r->kind == DODE_OPTION_CHOICE) {
            int ok = 0;
            for (size_t k = 0; r->choices[k] != NULL; k++)
                ok |= r->values[k] == *(const int *)field;
            if (!ok) {
                choices_text(r, text, sizeof text);
                return dode_fail(err, errlen, DODE_EINVAL, "%s = %d is not one of %s", r->key,
                                 *(const int *)field, text);
            }
        }
    }
    if (o->restart.count > DODE_RESTART_MAX)
        return dode_fail(err, errlen, DODE_EINVAL, "restart_list: %zu intervals, at most %d",
                         o->restart.count, DODE_RESTART_MAX);
    for (size_t i = 0; i < o->restart.count; i++) {
        const dode_restart_interval *iv = &o->restart.list[i];
        if (!(iv->tmin > 0 && iv->tmax > iv->tmin && isfinite(iv->tmax)) || iv->steps < 1)
            return dode_fail(err, errlen, DODE_EINVAL, "restart_list interval %zu: need 0 < "
                             "tmin < tmax finite and steps >= 1, got %g:%g:%zu:%zu", i + 1,
                             iv->tmin, iv->tmax, iv->k, iv->steps);
    }
    if (o->ddim.eta > 0 && o->noise == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "eta = %g > 0 needs a noise source "
                         "(opts->noise)", o->ddim.eta);
    return DODE_OK;
}

void dode_solver_option_format(const dode_solver_option *r, const dode_solver_opts *o,
                               char *buf, size_t len)
{
    const void *field = (const char *)o + r->offset;
    switch (r->kind) {
    case DODE_OPTION_REAL:
        snprintf(buf, len, "%.17g", *(const double *)field);
        return;
    case DODE_OPTION_COUNT:
        snprintf(buf, len, "%zu", *(const size_t *)field);
        return;
    case DODE_OPTION_BOOL:
        snprintf(buf, len, "%s", *(const int *)field ? "yes" : "no");
        return;
    case DODE_OPTION_CHOICE:
        for (size_t k = 0; r->choices[k] != NULL; k++) {
            if (r->values[k] == *(const int *)field) {
                snprintf(buf, len, "%s", r->choices[k]);
                return;
            }
        }
        snprintf(buf, len, "%d", *(const int *)field);
        return;
    case DODE_OPTION_RESTART_LIST:
        snprintf(buf, len, "%s", o->restart.count ? "" : "(not given)");
        for (size_t i = 0; i < o->restart.count && i < DODE_RESTART_MAX; i++)
            snprintf(buf + strlen(buf), len - strlen(buf), "%s%.17g:%.17g:%zu:%zu",
                     i ? ";" : "", o->restart.list[i].tmin, o->restart.list[i].tmax,
                     o->restart.list[i].k, o->restart.list[i].steps);
        return;
    }
}
