/* cmd_images.c - `diffode images`: the same x_T decoded by several solvers at several NFE,
 * drawn as one PNG grid (a row per (solver, nfe), a column per sample, a last row from the
 * reference solve), with one JSON line per row on stdout:
 *   rmse_px           RMS of x_0 - x_0(reference) in pixel units (x in [-1, 1] is 0..255,
 *                     so 127.5 per unit)
 *   nearest_px_mean   for an ideal model: the RMS pixel distance of each x_0 to its nearest
 *   nearest_px_max    training image, mean and max over samples, and `landed`, the share
 *   landed            of samples within --land-px of one (the ideal denoiser's flow ends on
 *                     training points as sigma -> 0)
 *   same_image        the share of samples whose nearest training image is the reference
 *                     row's: the flow picks one image per x_T, a coarse solver another
 * --slerp K makes the columns K spherical interpolants of two noises z0, z1, decoded
 * deterministically (DDIM = euler on the sigma ODE): the determinism demonstration.
 *
 * Invariant: the PNG is written (atomically) only after every solve succeeded, and the JSON
 * lines are printed after it; a failure prints "diffode images: why" and leaves no file.
 * Exit status 0, 1 (run failure) or 2 (bad arguments). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "cli.h"
#include "commands.h"
#include "diffode/diffode.h"

#define MAX_LIST 16
#define PX_PER_UNIT 127.5          /* [-1, 1] -> [0, 255] */
#define MAX_COLUMNS 64

typedef struct {
    const char *model, *schedule, *solvers, *nfes, *spacing, *reference, *out, *tile;
    size_t n, seed, slerp, pad, scale;
    double ref_tol, land_px;
    int denoise_to_zero;
} images_args;

#define ARG(field) offsetof(images_args, field)
static const cli_flag images_flags[] = {
    { "--model", CLI_STRING, ARG(model), NULL, "SPEC",
      "the model (required; e.g. ideal:fashion-mnist,n=2000), one of:", 1 },
    { "--schedule", CLI_STRING, ARG(schedule), NULL, "NAME", "default ddpm-linear", 1 },
    { "--solvers", CLI_STRING, ARG(solvers), NULL, "A,B,..",
      "fixed-grid solvers (default euler,dpm2,dpmpp2m,unipc2)", 1 },
    { "--nfe", CLI_STRING, ARG(nfes), NULL, "K1,K2,..", "NFE budgets (default 5,10,20)", 1 },
    { "--spacing", CLI_STRING, ARG(spacing), NULL, "NAME", "grid spacing (default logsnr)", 1 },
    { "--reference", CLI_STRING, ARG(reference), NULL, "NAME|none",
      "adaptive reference row (default gsl:rk8pd)", 1 },
    { "--ref-tol", CLI_POSITIVE, ARG(ref_tol), NULL, "R", "its rtol = atol (default 1e-8)", 1 },
    { "--n", CLI_COUNT, ARG(n), NULL, "N", "samples, the columns (default 8)", 1 },
    { "--seed", CLI_UINT, ARG(seed), NULL, "S", "mt19937 seed of x_T (default 0)", 1 },
    { "--slerp", CLI_COUNT, ARG(slerp), NULL, "K", "columns: K slerps of two noises", 1 },
    { "--denoise-to-zero", CLI_SWITCH, ARG(denoise_to_zero), NULL, NULL,
      "finish every solve with the x0 prediction at sigma = 0", 1 },
    { "--land-px", CLI_POSITIVE, ARG(land_px), NULL, "P",
      "landed: nearest training image within P RMS pixels (default 2)", 1 },
    { "--tile", CLI_STRING, ARG(tile), NULL, "HxW", "tile shape (default: square dim)", 1 },
    { "--pad", CLI_UINT, ARG(pad), NULL, "P", "pixels between tiles (default 2)", 1 },
    { "--scale", CLI_COUNT, ARG(scale), NULL, "K", "each pixel drawn K x K, 1 to 16 (default "
      "4: a 28-pixel tile is 112 pixels wide)", 1 },
    { "--out", CLI_STRING, ARG(out), NULL, "FILE.png", "the grid (required)", 1 },
    { NULL, 0, 0, NULL, NULL, NULL, 0 },
};

/* Everything a run owns (images_free releases it). */
typedef struct {
    dode_schedule *schedule;
    dode_model *model;
    const dode_solver_type *solvers[MAX_LIST], *reference;
    size_t nsolvers, nfe[MAX_LIST], nnfe;
    dode_spacing spacing;
    size_t n, dim, th, tw, rows;
    double *x_T;         /* [n][dim] */
    double *tiles;       /* [rows][n][dim]: x_0 of each row */
    size_t *near;        /* [2][n]: nearest training image of this row, of the reference */
    int have_ref_near;   /* near[n..2n) holds the reference row's */
    cJSON *lines;        /* one object per row */
    char labels[MAX_LIST * MAX_LIST + 1][80];    /* per row: solver and NFE used */
    char col_labels[MAX_COLUMNS][48];            /* per column: sample k or slerp weight */
} images_run;

static void images_free(images_run *r)
{
    dode_model_free(r->model);
    dode_schedule_free(r->schedule);
    free(r->x_T);
    free(r->tiles);
    free(r->near);
    cJSON_Delete(r->lines);
}

/* "a,b,c" into solver rows (each fixed-grid and known). */
static int parse_solvers(const char *list, images_run *r, char *err, size_t errlen)
{
    char buf[512], *save = NULL;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        const dode_solver_type *s = dode_solver_find(tok);
        if (s == NULL)
            return dode_fail(err, errlen, DODE_ENOTFOUND, "--solvers: unknown solver '%s' (see "
                             "diffode list)", tok);
        if (s->adaptive)
            return dode_fail(err, errlen, DODE_EINVAL, "--solvers: %s is adaptive; give it as "
                             "--reference", tok);
        if (r->nsolvers == MAX_LIST)
            return dode_fail(err, errlen, DODE_EINVAL, "--solvers: at most %d", MAX_LIST);
        r->solvers[r->nsolvers++] = s;
    }
    return r->nsolvers > 0 ? DODE_OK : dode_fail(err, errlen, DODE_EINVAL, "--solvers: empty");
}

static int parse_nfes(const char *list, images_run *r, char *err, size_t errlen)
{
    char buf[512], *save = NULL;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        size_t v = 0;
        if (dode_spec_whole(tok, &v) != 0 || v == 0 || r->nnfe == MAX_LIST)
            return dode_fail(err, errlen, DODE_EINVAL, "--nfe: '%s' is not a whole number >= 1 "
                             "(or more than %d values)", tok, MAX_LIST);
        r->nfe[r->nnfe++] = v;
    }
    return r->nnfe > 0 ? DODE_OK : dode_fail(err, errlen, DODE_EINVAL, "--nfe: empty");
}

/* Tile shape: --tile HxW, or the square root of dim. */
static int parse_tile(const images_args *a, images_run *r, char *err, size_t errlen)
{
    size_t h = 0, w = 0;
    if (a->tile != NULL) {
        char extra;
        if (sscanf(a->tile, "%zux%zu%c", &h, &w, &extra) != 2 || h * w != r->dim)
            return dode_fail(err, errlen, DODE_EINVAL, "--tile '%s': expected HxW with H W = "
                             "%zu (the model's dim)", a->tile, r->dim);
    } else {
        h = w = (size_t)llround(sqrt((double)r->dim));
        if (h * w != r->dim)
            return dode_fail(err, errlen, DODE_EINVAL, "the model's dim %zu is not a square: "
                             "give --tile HxW", r->dim);
    }
    r->th = h;
    r->tw = w;
    return DODE_OK;
}

/* Names: schedule, model, solvers, NFE list, spacing, reference, tile. */
static int setup_names(const images_args *a, images_run *r, char *err, size_t errlen)
{
    char why[1024];
    int rc;
    if (a->model == NULL || a->out == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "--model and --out are required (e.g. "
                         "--model ideal:fashion-mnist,n=2000 --out grid.png)");
    if ((rc = dode_schedule_from_spec(a->schedule, &r->schedule, why, sizeof why)) != DODE_OK)
        return dode_fail(err, errlen, rc, "--schedule: %s", why);
    if ((rc = dode_spacing_parse(a->spacing, &r->spacing, why, sizeof why)) != DODE_OK)
        return dode_fail(err, errlen, rc, "--spacing: %s", why);
    if ((rc = parse_solvers(a->solvers, r, err, errlen)) != DODE_OK
        || (rc = parse_nfes(a->nfes, r, err, errlen)) != DODE_OK)
        return rc;
    if (strcmp(a->reference, "none") != 0
        && ((r->reference = dode_solver_find(a->reference)) == NULL || !r->reference->adaptive))
        return dode_fail(err, errlen, DODE_EINVAL, "--reference '%s': not an adaptive solver "
                         "(e.g. gsl:rk8pd, or none)", a->reference);
    if ((rc = dode_model_from_spec(a->model, &r->model, why, sizeof why)) != DODE_OK)
        return dode_fail(err, errlen, rc, "--model: %s", why);
    r->dim = r->model->dim;
    return parse_tile(a, r, err, errlen);
}

/* x_T: n draws of N(0, I), or (--slerp K) slerp(z0, z1, k/(K-1)) for k < K:
 * sin((1-a) theta)/sin theta z0 + sin(a theta)/sin theta z1, theta the angle of z0, z1. */
static int setup_x_T(const images_args *a, images_run *r, char *err, size_t errlen)
{
    const size_t d = r->dim, draws = a->slerp > 0 ? 2 : a->n;
    r->n = a->slerp > 0 ? a->slerp : a->n;
    if (r->n > MAX_COLUMNS || (a->slerp > 0 && a->slerp < 2))
        return dode_fail(err, errlen, DODE_EINVAL, "--%s %zu: 1 to %d columns (slerp: at least "
                         "2)", a->slerp > 0 ? "slerp" : "n", r->n, MAX_COLUMNS);
    double *z = malloc(draws * d * sizeof *z);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    r->x_T = malloc(r->n * d * sizeof *r->x_T);
    if (z == NULL || rng == NULL || r->x_T == NULL) {
        free(z);
        gsl_rng_free(rng);
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot allocate %zu samples", r->n);
    }
    gsl_rng_set(rng, (unsigned long)a->seed);
    for (size_t k = 0; k < draws * d; k++)
        z[k] = gsl_ran_gaussian_ziggurat(rng, 1.0);
    if (a->slerp == 0)
        memcpy(r->x_T, z, r->n * d * sizeof *z);
    double dot = 0, n0 = 0, n1 = 0;
    for (size_t j = 0; a->slerp > 0 && j < d; j++) {
        dot += z[j] * z[d + j];
        n0 += z[j] * z[j];
        n1 += z[d + j] * z[d + j];
    }
    const double theta = acos(fmax(-1.0, fmin(1.0, dot / sqrt(n0 * n1))));
    for (size_t k = 0; a->slerp > 0 && k < r->n; k++) {
        const double t = (double)k / (double)(r->n - 1);
        const double c0 = sin((1 - t) * theta) / sin(theta), c1 = sin(t * theta) / sin(theta);
        for (size_t j = 0; j < d; j++)
            r->x_T[k * d + j] = c0 * z[j] + c1 * z[d + j];
    }
    free(z);
    gsl_rng_free(rng);
    return DODE_OK;
}

/* One solve of x_T with solver s at nfe (adaptive: ignored) into x0 ([n][dim]); *nfe_used,
 * *seconds. The reference row is any adaptive solver (--reference), so it runs here too,
 * not through dode_reference (rk8pd or the exact flow only). */
static int solve_row(const images_args *a, images_run *r, const dode_solver_type *s,
                     size_t nfe, double *x0, size_t *nfe_used, double *seconds, char *err,
                     size_t errlen)
{
    dode_grid_opts go;
    dode_grid grid = { 0 };
    dode_solver_opts o;
    dode_grid_opts_init(&go);
    go.spacing = s->adaptive ? DODE_SPACING_LOGSNR : r->spacing;
    const size_t steps = s->adaptive ? 1 : dode_solver_steps_for_nfe(s, nfe);
    if (steps == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "--nfe %zu is less than one step of %s",
                         nfe, s->name);
    int rc = dode_grid_make(r->schedule, &go, steps, &grid, err, errlen);
    dode_ode *ode = rc == DODE_OK ? dode_ode_new(r->model, r->schedule, r->n, err, errlen) : NULL;
    if (rc == DODE_OK && ode == NULL)
        rc = DODE_ENOMEM;
    dode_solver_opts_init(&o);
    o.denoise_to_zero = a->denoise_to_zero;
    if (s->adaptive) {
        o.generic.variable = DODE_VAR_LOGSIGMA;
        o.adaptive.rtol = o.adaptive.atol = a->ref_tol;
        dode_solver_opts_mark(&o, DODE_OPT_RTOL), dode_solver_opts_mark(&o, DODE_OPT_ATOL);
    }
    dode_run_stats st = { 0 };
    if (rc == DODE_OK)
        rc = dode_sample(s, ode, &grid, &o, r->x_T, x0, NULL, &st, err, errlen);
    *seconds = st.seconds;
    *nfe_used = st.nfe;
    dode_ode_free(ode);
    dode_grid_free(&grid);
    return rc;
}

/* Nearest-training-image figures of one row, when the model is an ideal denoiser; with a
 * reference row, same_image is the share of samples whose nearest image is the
 * reference's (the first row solved is the reference: its indices are kept). */
static int add_nearest(const images_args *a, images_run *r, const double *x0, cJSON *line,
                       char *err, size_t errlen)
{
    if (dode_ideal_points(r->model, NULL) == NULL)
        return DODE_OK;
    double *dist = malloc(r->n * sizeof *dist), mean = 0, max = 0, landed = 0, same = 0;
    if (r->near == NULL)
        r->near = malloc(2 * r->n * sizeof *r->near);
    if (dist == NULL || r->near == NULL) {
        free(dist);
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot allocate %zu distances", r->n);
    }
    int rc = dode_ideal_nearest(r->model, r->n, x0, r->near, dist, err, errlen);
    for (size_t i = 0; rc == DODE_OK && i < r->n; i++) {
        const double px = dist[i] / sqrt((double)r->dim) * PX_PER_UNIT;   /* RMS pixels */
        mean += px / (double)r->n;
        max = fmax(max, px);
        landed += (px <= a->land_px) / (double)r->n;
        if (r->have_ref_near)
            same += (r->near[i] == r->near[r->n + i]) / (double)r->n;
    }
    free(dist);
    if (rc != DODE_OK)
        return rc;
    cJSON_AddNumberToObject(line, "nearest_px_mean", mean);
    cJSON_AddNumberToObject(line, "nearest_px_max", max);
    cJSON_AddNumberToObject(line, "landed", landed);
    if (r->have_ref_near)
        cJSON_AddNumberToObject(line, "same_image", same);
    else if (r->reference != NULL) {
        memcpy(r->near + r->n, r->near, r->n * sizeof *r->near);
        r->have_ref_near = 1;
    }
    return DODE_OK;
}

/* The JSON line of one row: its solver and cost, rmse_px against the reference row. */
static int row_line(const images_args *a, images_run *r, const char *solver, size_t nfe,
                    size_t nfe_used, double seconds, const double *x0, const double *ref,
                    char *err, size_t errlen)
{
    cJSON *line = cJSON_CreateObject();
    if (line == NULL || !cJSON_AddItemToArray(r->lines, line))
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot build the JSON report");
    cJSON_AddStringToObject(line, "model", a->model);
    cJSON_AddStringToObject(line, "solver", solver);
    if (nfe > 0)
        cJSON_AddNumberToObject(line, "nfe", (double)nfe);
    cJSON_AddNumberToObject(line, "nfe_used", (double)nfe_used);
    cJSON_AddNumberToObject(line, "seconds", seconds);
    if (ref != NULL) {
        double ss = 0;
        for (size_t k = 0; k < r->n * r->dim; k++)
            ss += (x0[k] - ref[k]) * (x0[k] - ref[k]);
        cJSON_AddNumberToObject(line, "rmse_px", sqrt(ss / (double)(r->n * r->dim))
                                                 * PX_PER_UNIT);
    }
    return add_nearest(a, r, x0, line, err, errlen);
}

/* Every row: the reference (the last row) first, then solver x nfe in order. */
static int run_rows(const images_args *a, images_run *r, char *err, size_t errlen)
{
    const size_t len = r->n * r->dim;
    r->rows = r->nsolvers * r->nnfe + (r->reference != NULL);
    r->tiles = malloc(r->rows * len * sizeof *r->tiles);
    r->lines = cJSON_CreateArray();
    if (r->tiles == NULL || r->lines == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot allocate %zu rows", r->rows);
    const double *ref = r->reference != NULL ? r->tiles + (r->rows - 1) * len : NULL;
    size_t used;
    double secs;
    int rc = DODE_OK;
    if (ref != NULL && (rc = solve_row(a, r, r->reference, 0, r->tiles + (r->rows - 1) * len,
                                       &used, &secs, err, errlen)) == DODE_OK) {
        snprintf(r->labels[r->rows - 1], sizeof r->labels[0], "%s reference, NFE %zu",
                 r->reference->name, used);
        rc = row_line(a, r, r->reference->name, 0, used, secs, ref, NULL, err, errlen);
    }
    for (size_t s = 0; s < r->nsolvers; s++)
        for (size_t k = 0; rc == DODE_OK && k < r->nnfe; k++) {
            double *x0 = r->tiles + (s * r->nnfe + k) * len;
            rc = solve_row(a, r, r->solvers[s], r->nfe[k], x0, &used, &secs, err, errlen);
            snprintf(r->labels[s * r->nnfe + k], sizeof r->labels[0], "%s, NFE %zu",
                     r->solvers[s]->name, used);     /* as used: dpm2 at a budget of 5 is 4 */
            if (rc == DODE_OK)
                rc = row_line(a, r, r->solvers[s]->name, r->nfe[k], used, secs, x0, ref, err,
                              errlen);
        }
    return rc;
}

static void args_init(images_args *a)
{
    *a = (images_args){ .schedule = "ddpm-linear", .solvers = "euler,dpm2,dpmpp2m,unipc2",
                        .nfes = "5,10,20", .spacing = "logsnr", .reference = "gsl:rk8pd",
                        .n = 8, .pad = 2, .scale = 4, .ref_tol = 1e-8, .land_px = 2.0 };
}

/* The grid, a.scale times larger, a row label (solver, NFE used) left of each row and a
 * column label above each column: the sample's number, or the slerp weight a. */
static int write_grid(const images_args *a, images_run *r, char *err, size_t errlen)
{
    const char *rows[MAX_LIST * MAX_LIST + 1], *cols[MAX_COLUMNS];
    for (size_t k = 0; k < r->rows; k++)
        rows[k] = r->labels[k];
    for (size_t c = 0; c < r->n; c++) {
        if (a->slerp > 0)
            snprintf(r->col_labels[c], sizeof r->col_labels[0], "a=%zu/%zu", c, r->n - 1);
        else
            snprintf(r->col_labels[c], sizeof r->col_labels[0], "x_T #%zu", c + 1);
        cols[c] = r->col_labels[c];
    }
    const dode_png_grid_style st = { .lo = -1.0, .hi = 1.0, .pad = a->pad, .pad_level = 255,
                                     .scale = a->scale, .row_labels = rows, .col_labels = cols };
    return dode_png_write_grid_labelled(a->out, r->tiles, r->rows, r->n, r->th, r->tw, &st,
                                        err, errlen);
}

/* The JSON lines, the reference's first. */
static void print_lines(const cJSON *lines)
{
    for (const cJSON *l = lines != NULL ? lines->child : NULL; l != NULL; l = l->next) {
        char *text = cJSON_PrintUnformatted(l);
        if (text != NULL)
            printf("%s\n", text);
        cJSON_free(text);
    }
}

int cmd_images(int argc, char **argv)
{
    images_args a;
    images_run r = { .schedule = NULL };
    char err[2048];
    args_init(&a);
    int rc = cli_parse(images_flags, 1, argc, argv, &a, err, sizeof err);
    if (rc == CLI_HELP) {
        cli_usage(stdout, "images", "--model SPEC --out FILE.png [options]", images_flags, 1);
        return 0;
    }
    if (rc == DODE_OK)
        rc = setup_names(&a, &r, err, sizeof err);
    if (rc == DODE_OK)
        rc = setup_x_T(&a, &r, err, sizeof err);
    if (rc == DODE_OK)
        rc = run_rows(&a, &r, err, sizeof err);
    if (rc == DODE_OK)
        rc = write_grid(&a, &r, err, sizeof err);
    if (rc == DODE_OK)
        print_lines(r.lines);
    else
        fprintf(stderr, "diffode images: %s\n", err);
    images_free(&r);
    return cli_exit_status(rc);
}
