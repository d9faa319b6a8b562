/* options.h - the options a solver reads, and the one table that names, types, bounds and
 * documents them (solvers/options.c). The CLI flags of `diffode sample` (--KEY with '_'
 * written '-'), the [solver NAME] keys of experiment configs and `diffode list --options`
 * are all read from this table through dode_solver_opts_set, so an option is one row here
 * plus the solver that reads it.
 *
 * Each family's options sit in their own sub-struct. Whether the user gave an option is
 * explicit (dode_solver_opts_given): a solver whose default differs from the field's
 * initial value (dpm-adaptive's official tolerances, a singlestep solver's inner points
 * on the grid's own spacing, an adaptive solver's own first step) reads its default when
 * the option was not given, never by comparing a value with a magic number. */
#ifndef DIFFODE_OPTIONS_H
#define DIFFODE_OPTIONS_H

#include <stddef.h>
#include "diffode/noise.h"
#include "diffode/ode.h"

/* Row ids of the option table, in its order (bits of dode_solver_opts.given). */
typedef enum {
    DODE_OPT_VARIABLE = 0, DODE_OPT_ETA, DODE_OPT_DDIM_XSPACE, DODE_OPT_RTOL, DODE_OPT_ATOL,
    DODE_OPT_H_INIT, DODE_OPT_MAX_STEPS, DODE_OPT_SOLVER_TYPE, DODE_OPT_D2,
    DODE_OPT_LOWER_ORDER_FINAL, DODE_OPT_LOWER_ORDER_THRESHOLD, DODE_OPT_R1, DODE_OPT_R2,
    DODE_OPT_UNIPC_BH, DODE_OPT_THRESHOLDING, DODE_OPT_CLIP_VALUE, DODE_OPT_DYNAMIC_RATIO,
    DODE_OPT_DENOISE_TO_ZERO, DODE_OPT_S_NOISE, DODE_OPT_S_CHURN, DODE_OPT_S_TMIN,
    DODE_OPT_S_TMAX, DODE_OPT_RESTART_K, DODE_OPT_RESTART_STEPS, DODE_OPT_RESTART_TMIN,
    DODE_OPT_RESTART_TMAX, DODE_OPT_RESTART_LIST, DODE_OPT_RESTART_GAMMA, DODE_OPT_ER_FN, DODE_OPT_SA_PREDICTOR, DODE_OPT_SA_CORRECTOR,
    DODE_OPT_SA_TAU,
    DODE_OPT_COUNT
} dode_option_id;

/* One restart interval of restart_list (the reference's restart_info entry [N, K, t_min,
 * t_max] with steps = N - 1), and the most a list holds. */
enum { DODE_RESTART_MAX = 8 };
typedef struct {
    double tmin, tmax;           /* sigma; 0 < tmin < tmax */
    size_t k, steps;             /* restarts, Heun steps of each backward pass (>= 1) */
} dode_restart_interval;

/* ER-SDE noise scale functions (er_fn; solvers/sde_er.c gives each formula). */
typedef enum {
    DODE_ER_FN_SDE5 = 0, DODE_ER_FN_ODE, DODE_ER_FN_SDE, DODE_ER_FN_SDE1, DODE_ER_FN_SDE2,
    DODE_ER_FN_SDE3, DODE_ER_FN_SDE4
} dode_er_fn;

typedef struct {
    /* generic integrators (euler, heun, rk4, gsl:*): the variable they step in */
    struct { dode_variable variable; } generic;
    /* ddim, and the stochastic samplers that have an eta (docs/stochastic.md) */
    struct {
        double eta;              /* >= 0; eta > 0 needs noise. ddim: 0; euler-a,
                                    sde-dpmpp1, dpmpp2m-sde: 1 unless given */
        int xspace;              /* 1: DDIM eq. 12 on x = xbar a_t (same method) */
    } ddim;
    /* adaptive controllers (gsl:*, dpm-adaptive*) */
    struct {
        double rtol, atol;       /* gsl:* 1e-6, 1e-6; dpm-adaptive official 0.05, 0.0078
                                    unless given */
        double h_init;           /* first step in the integration variable, if given */
        size_t max_steps;        /* step budget (default 100000) */
    } adaptive;
    /* DPM-Solver family (MATH.md section 6) */
    struct {
        int taylor;              /* 0 = "dpmsolver" update form (official), 1 = "taylor" */
        int d2_taylor;           /* 3M second difference: 0 = official (c = 1), 1 = c = 2 */
        int lower_order_final;   /* default 1 */
        size_t lower_order_threshold;  /* ... applies when steps < this (default 10) */
        double r1, r2;           /* singlestep inner fractions, if given (else the grid's
                                    own spacing places the inner points) */
    } dpm;
    struct { int bh; } unipc;    /* UniPC B(h): 1 = h (bh1), 2 = expm1(h) (bh2, default) */
    /* thresholding of x0 predictions (data-prediction solvers) */
    struct {
        int kind;                /* 0 none, 1 static clip, 2 dynamic */
        double clip_value;       /* static clip / dynamic floor (default 1) */
        double dynamic_ratio;    /* dynamic quantile of |x0|, in (0, 1] (default 0.995) */
    } threshold;
    /* stochastic samplers (family "sde"; Karras et al. 2022 Alg. 2 names) */
    struct {
        double s_noise;          /* scale of every noise draw (default 1) */
        double s_churn;          /* edm-sde: total churn (default 0: Heun, the ODE) */
        double s_tmin, s_tmax;   /* edm-sde: churn only where s_tmin <= sigma <= s_tmax
                                    (0 and infinity unless given) */
    } sde;
    /* restart (Xu et al. 2023): K times, jump from sigma ~ tmin back up to tmax and
       re-solve with restart_steps Heun steps (defaults of the reference's run_restart.sh) */
    struct {
        size_t k;                /* restarts (default 1; 0 is heun) */
        size_t steps;            /* Heun steps of each backward pass (default 2) */
        double tmin, tmax;       /* the interval in sigma (default 0.06, 1) */
        /* restart_list: several intervals, replacing the four above (count 0: not given) */
        size_t count;
        dode_restart_interval list[DODE_RESTART_MAX];
        double gamma;            /* churn of each backward step (reference's restart_gamma,
                                    where s_tmin <= sigma <= s_tmax; default 0) */
    } restart;
    struct { int fn; } er;       /* ER-SDE noise scale function (dode_er_fn; default sde5) */
    /* SA-Solver (diffusers SASolverScheduler): orders 1..4 (corrector 0: none), and tau
       where s_tmin <= sigma <= s_tmax (default: everywhere) */
    struct {
        size_t predictor, corrector;     /* default 2, 2 (diffusers) */
        double tau;                      /* default 1: the full SDE; 0: the ODE */
    } sa;
    int denoise_to_zero;         /* finish with an x0-prediction jump to sigma = 0 */
    dode_noise *noise;           /* borrowed; the draws of stochastic steps (noise.h), or
                                    NULL for deterministic solvers (not a table row) */
    unsigned long given;         /* bit DODE_OPT_*: set through dode_solver_opts_set */
} dode_solver_opts;

/* The defaults (the official codes'), nothing given. */
void dode_solver_opts_init(dode_solver_opts *o);

/* The defaults on the heap, for callers that cannot hold the struct itself (language
 * bindings); NULL when out of memory. Free with dode_solver_opts_free (accepts NULL). */
dode_solver_opts *dode_solver_opts_new(void);
void dode_solver_opts_free(dode_solver_opts *o);

/* Sets o->noise (borrowed: it must outlive the solves that use o), for callers that hold
 * the struct only through a pointer (language bindings). */
void dode_solver_opts_set_noise(dode_solver_opts *o, dode_noise *noise);

/* 1 if option id was set through dode_solver_opts_set (or dode_solver_opts_mark). */
static inline int dode_solver_opts_given(const dode_solver_opts *o, dode_option_id id)
{
    return (o->given >> id) & 1ul;
}

/* Marks option id as given, for callers that write a field directly. */
static inline void dode_solver_opts_mark(dode_solver_opts *o, dode_option_id id)
{
    o->given |= 1ul << id;
}

typedef enum {
    DODE_OPTION_REAL,      /* double in [lo, hi] (open ends as the row says), finite */
    DODE_OPTION_COUNT,     /* size_t >= lo */
    DODE_OPTION_BOOL,      /* int 0/1: yes/no, true/false, on/off, 1/0 */
    DODE_OPTION_CHOICE,    /* int: values[k] for the value spelled choices[k] */
    DODE_OPTION_RESTART_LIST   /* the restart sub-struct's count and list, spelled
                                  "tmin:tmax:K:steps;..." (1 to DODE_RESTART_MAX entries) */
} dode_option_kind;

/* One row of the table. */
typedef struct {
    dode_option_id id;
    const char *key;              /* "rtol": config key; flag --rtol ('_' -> '-') */
    const char *flag_alias;       /* another CLI flag name ("--xspace"), or NULL */
    dode_option_kind kind;
    size_t offset;                /* offsetof(dode_solver_opts, field) */
    double lo, hi;                /* REAL: bounds; COUNT: lo is the minimum */
    int lo_open, hi_open;         /* REAL: 1 = the bound itself is excluded */
    const char *const *choices;   /* CHOICE: spellings (NULL-terminated) */
    const int *values;            /* CHOICE: the value of each spelling */
    int cli_switch;               /* BOOL: the CLI flag takes no value (sets 1) */
    int if_given;                 /* 1: read only when given; the solver's own default
                                     (default_text) otherwise */
    const char *default_text;     /* for `diffode list --options` */
    const char *readers;          /* the solvers that read it */
    const char *help;             /* one line */
} dode_solver_option;

/* The table: DODE_OPT_COUNT rows in id order, then a row with key == NULL. */
const dode_solver_option *dode_solver_options(void);

/* By config key ("clip_value") or CLI flag ("--clip-value", "--xspace"); NULL if none. */
const dode_solver_option *dode_solver_option_find(const char *key);

/* Parses value for option key into o (and marks it given). DODE_ENOTFOUND for an unknown
 * key or choice, DODE_EINVAL for a malformed or out-of-range value; the message names the
 * value and what was expected (callers prefix the flag or file:line: key). o is untouched
 * on failure. */
int dode_solver_opts_set(dode_solver_opts *o, const char *key, const char *value,
                         char *err, size_t errlen);

/* Checks every field of o against its row's range and choices (for callers that set
 * fields directly; dode_solve calls it). The message names the key and the value. */
int dode_solver_opts_check(const dode_solver_opts *o, char *err, size_t errlen);

/* The value of option row r in o, formatted for display ("0.995", "dynamic", "yes"). */
void dode_solver_option_format(const dode_solver_option *r, const dode_solver_opts *o,
                               char *buf, size_t len);

#endif
