"""The C library through cffi in ABI mode: no compiler is needed to import diffode, only
libdiffode.so. The declarations below are the subset of include/diffode/*.h that the
bindings call; structs the bindings only read through pointers (dode_model,
dode_solver_type, dode_solver_option) are declared up to the last field read, which is safe because
Python never allocates or indexes arrays of them.

Where the library is found, in order: $DIFFODE_LIBRARY; the build tree (python/ beside
build/, for PYTHONPATH=python from a checkout); the install prefix (this package in
PREFIX/lib/python3.X/dist-packages, the library in PREFIX/lib); the system's loader."""

import os
from pathlib import Path

import cffi

CDEF = """
enum { DODE_OK = 0, DODE_EINVAL, DODE_ENOMEM, DODE_EIO, DODE_EFORMAT, DODE_ENOTFOUND,
       DODE_ENONFINITE, DODE_EMAXITER, DODE_ESOLVER, DODE_EUNSUPPORTED };
typedef enum { DODE_PRED_EPS = 0, DODE_PRED_X0, DODE_PRED_V, DODE_PRED_SCORE,
               DODE_PRED_FLOW } dode_prediction;
typedef struct dode_model {
    const char *name;
    size_t dim;
} dode_model;
typedef struct dode_schedule dode_schedule;
typedef struct dode_ode dode_ode;
typedef struct dode_solver_opts dode_solver_opts;

typedef struct dode_solver_type {
    const char *name;
    const char *family;
    int order;
    int evals_per_step;
    int adaptive;
    int data_prediction;
    const char *summary;
    int warmup_evals;
    int min_steps;
} dode_solver_type;

typedef struct {
    int id;
    const char *key;
    const char *flag_alias;
    int kind;
    size_t offset;
    double lo, hi;
    int lo_open, hi_open;
    const char *const *choices;
    const int *values;
    int cli_switch;
    int if_given;
    const char *default_text;
    const char *readers;
    const char *help;
} dode_solver_option;

typedef struct {
    int spacing;
    double t_max, t_min;
    double rho;
    int to_zero;
} dode_grid_opts;

typedef struct {
    size_t steps;
    double *sigma;
    double *t;
    int spacing;
    double rho;
} dode_grid;

typedef struct {
    size_t cap;
    size_t count;
    double *sigma;
    double *xbar;
    size_t accepted;
    size_t rejected;
} dode_trace;

typedef struct {
    size_t nfe, njac;
    size_t accepted, rejected;
    double sigma_end;
    double seconds;
} dode_run_stats;

typedef struct {
    int method;
    double rtol, atol;
    size_t max_steps;
    int in_sigma;
} dode_reference_opts;

typedef int (*dode_eps_callback)(void *user, size_t n, size_t dim, const double *x,
                                 double t, double sigma, double *out);

const char *dode_strerror(int code);

const dode_solver_type *const *dode_solvers(void);
const dode_solver_type *dode_solver_find(const char *name);
int dode_solver_order(const dode_solver_type *solver, const dode_solver_opts *opts);
size_t dode_solver_steps_for_nfe(const dode_solver_type *solver, size_t nfe);

dode_solver_opts *dode_solver_opts_new(void);
typedef struct dode_noise dode_noise;
dode_noise *dode_noise_new_seeded(uint64_t seed, char *err, size_t errlen);
dode_noise *dode_noise_new_array(const double *z, size_t draws, size_t rows, size_t dim,
                                 char *err, size_t errlen);
void dode_noise_free(dode_noise *noise);
void dode_solver_opts_set_noise(dode_solver_opts *o, dode_noise *noise);
void dode_solver_opts_free(dode_solver_opts *o);
int dode_solver_opts_set(dode_solver_opts *o, const char *key, const char *value,
                         char *err, size_t errlen);
const dode_solver_option *dode_solver_options(void);

const char *const *dode_schedule_names(void);
int dode_schedule_from_spec(const char *spec, dode_schedule **out, char *err, size_t errlen);
void dode_schedule_free(dode_schedule *s);
double dode_schedule_t(const dode_schedule *s, double sigma);

int dode_model_from_spec(const char *spec, dode_model **out, char *err, size_t errlen);
dode_model *dode_model_from_callback(const char *name, size_t dim, dode_prediction prediction,
                                     dode_eps_callback fn, void *user, char *err,
                                     size_t errlen);
void dode_model_free(dode_model *m);

dode_ode *dode_ode_new(const dode_model *model, const dode_schedule *schedule, size_t n,
                       char *err, size_t errlen);
void dode_ode_free(dode_ode *ode);

void dode_grid_opts_init(dode_grid_opts *o);
int dode_grid_make(const dode_schedule *s, const dode_grid_opts *o, size_t steps,
                   dode_grid *out, char *err, size_t errlen);
int dode_grid_from_sigmas(const dode_schedule *s, const double *sigma, size_t npoints,
                          dode_grid *out, char *err, size_t errlen);
void dode_grid_free(dode_grid *g);
const char *dode_spacing_name(int sp);
int dode_spacing_parse(const char *name, int *out, char *err, size_t errlen);

int dode_draw_x_T(unsigned long seed, double *x_T, size_t len, char *err, size_t errlen);
void dode_xbar_to_x(const dode_schedule *s, double sigma, const double *xbar, double *x,
                    size_t len);
void dode_x_to_xbar(const dode_schedule *s, double sigma, const double *x, double *xbar,
                    size_t len);
int dode_sample(const dode_solver_type *solver, dode_ode *ode, const dode_grid *grid,
                const dode_solver_opts *opts, const double *x_T, double *x_0,
                dode_trace *trace, dode_run_stats *stats, char *err, size_t errlen);
int dode_run_xbar(const dode_solver_type *solver, dode_ode *ode, const dode_grid *grid,
                  const dode_solver_opts *opts, double *xbar, dode_trace *trace,
                  dode_run_stats *stats, char *err, size_t errlen);
void dode_reference_opts_init(dode_reference_opts *o);
int dode_reference(const dode_model *model, const dode_schedule *schedule, size_t n,
                   double sigma_from, double sigma_to, const double *xbar_from,
                   double *xbar_to, const dode_reference_opts *o, dode_run_stats *stats,
                   int *exact, char *err, size_t errlen);
"""


def _candidates():
    env = os.environ.get("DIFFODE_LIBRARY")
    if env:
        yield env
        return
    here = Path(__file__).resolve().parent
    yield str(here.parents[1] / "build" / "libdiffode.so")          # checkout: python/diffode
    yield str(here.parents[2] / "libdiffode.so.1")                  # PREFIX/lib/python3.X/...
    yield "libdiffode.so.1"                                         # the system's loader


def load():
    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(path + " (missing)")
            continue
        try:
            return ffi, ffi.dlopen(path)
        except OSError as e:
            tried.append(f"{path} ({e})")
    raise ImportError("diffode: cannot load libdiffode.so; tried " + "; ".join(tried) +
                      ". Build it with `make`, install it with `make install`, or set "
                      "DIFFODE_LIBRARY to its path.")
