/* sweep_summary.c - what the finished rows say together: summary.json (per solver line
 * the points, observed and pairwise orders, and with several seeds each distribution
 * metric's mean and 95% t-interval over the seeds per NFE; the best solver per NFE) and
 * the gnuplot data files error_vs_nfe.dat, orders.dat, METRIC_vs_nfe.dat (the plotted
 * distribution metrics), trajectory_error.dat and trajectory_diff.dat. All are rebuilt
 * from the rows in memory, so a merged or resumed sweep writes the same bytes. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "sweep_impl.h"

/* Mean RMSE over the seeds of point (group g, nfe k) that finished ok, and its NFE; the
 * smallest and largest RMSE over those seeds into span[0], span[1] if span is set (the band
 * error_vs_nfe.gp draws around the mean). */
static int group_point(const exp_config *cfg, row *const *by, size_t g, size_t k,
                       double *nfe, double *rmse, double span[2])
{
    double s = 0, lo = INFINITY, hi = -INFINITY;
    size_t count = 0;
    for (size_t j = 0; j < cfg->nseeds; j++) {
        const row *r = by[(g * cfg->nnfe + k) * cfg->nseeds + j];
        if (r != NULL && !isnan(r->rmse)) {
            s += r->rmse;
            lo = fmin(lo, r->rmse);
            hi = fmax(hi, r->rmse);
            *nfe = r->nfe_used;
            count++;
        }
    }
    *rmse = count ? s / (double)count : NAN;
    if (span != NULL) {
        span[0] = count ? lo : NAN;
        span[1] = count ? hi : NAN;
    }
    return count > 0;
}

/* "solver", followed by the model, schedule and spacing where the sweep has several. */
static void group_label(const exp_config *cfg, const coords *c, char *buf, size_t len)
{
    const char *parts[3] = { cfg->nmodels > 1 ? cfg->models[c->model].name : NULL,
                             cfg->nschedules > 1 ? cfg->schedules[c->schedule] : NULL,
                             cfg->nspacings > 1 ? exp_config_spacing_name(cfg, c->spacing)
                                                : NULL };
    size_t used = (size_t)snprintf(buf, len, "%s", cfg->solvers[c->solver].name);
    for (int k = 0; k < 3 && used < len; k++)
        if (parts[k] != NULL)
            used += (size_t)snprintf(buf + used, len - used, " %s", parts[k]);
}

/* One solver line's block of error_vs_nfe.dat ("nfe mean min max", min and max over the
 * seeds) and its bar of orders.dat. */
static void plot_rows(strbuf *dat, strbuf *ord, const char *label, const double *nfe,
                      const double *err, const double (*span)[2], size_t n, double order,
                      int theory)
{
    char text[512], ob[32];
    snprintf(text, sizeof text, "%s\"%s\" \"rmse\" \"min\" \"max\"\n", dat->len ? "\n\n" : "",
             label);
    sweep_sb_add(dat, text);
    for (size_t k = 0; k < n; k++) {
        snprintf(text, sizeof text, "%.0f %.10e %.10e %.10e\n", nfe[k], err[k], span[k][0],
                 span[k][1]);
        sweep_sb_add(dat, text);
    }
    if (n == 0)
        sweep_sb_add(dat, "nan nan nan nan\n");  /* keeps the block count = the line count */
    snprintf(text, sizeof text, "%s\"%s\" %s %d\n", ord->len ? "" : "\"solver\" \"observed\" "
             "\"theory\"\n", label, sweep_num(order, ob, sizeof ob), theory);
    if (!isnan(order))                  /* no bar without a fit; no file without a bar */
        sweep_sb_add(ord, text);
}

/* The distribution metrics of a row (runs.csv column, sweep_store.c's csv_header) that
 * get intervals over the seeds; plot = 1: also a METRIC_vs_nfe.dat table for a log-log
 * figure (plots/plot.sh), for the metrics that are positive (nll, logp_gap and the
 * unbiased energy may take any sign; fd and sw2 are kept as they were: summary only). */
static const struct {
    const char *name;
    size_t col;
    int plot;
} dist_metrics[] = {
    { "nll", 15, 0 }, { "fd", 16, 0 }, { "sw2", 17, 0 }, { "w2_exact", 20, 1 },
    { "kl_exact", 21, 1 }, { "mode_tv", 22, 1 }, { "logp_gap", 23, 0 }, { "energy", 24, 0 },
};
#define NDIST (sizeof dist_metrics / sizeof dist_metrics[0])

/* Column col of the ok rows of point (group g, nfe k), one value per seed (NaN where the
 * seed's row is missing or failed) into v [nseeds]; its NFE into *nfe. The count of rows
 * that finished ok. */
static size_t seed_values(const exp_config *cfg, row *const *by, size_t g, size_t k, size_t col,
                          double *v, double *nfe)
{
    char f[64];
    size_t count = 0;
    for (size_t j = 0; j < cfg->nseeds; j++) {
        const row *r = by[(g * cfg->nnfe + k) * cfg->nseeds + j];
        v[j] = NAN;
        if (r == NULL || !r->ok)
            continue;
        sweep_csv_field(r->line, col, f, sizeof f);
        v[j] = strtod(f, NULL);
        *nfe = r->nfe_used;
        count++;
    }
    return count;
}

/* Mean and 95% t-interval of one point (exp_metric_t_interval); with one value, the
 * value and no interval (NaN ends); with none, NaN. */
static void point_interval(const double *v, size_t n, double out[3], size_t *used)
{
    *used = 0;
    out[0] = out[1] = out[2] = NAN;
    if (exp_metric_t_interval(v, n, &out[0], &out[1], &out[2], used, NULL, 0) == DODE_OK)
        return;
    for (size_t j = 0; j < n; j++)
        if (!isnan(v[j])) {
            out[0] = v[j];
            *used = 1;
        }
}

static cJSON *number_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

/* Per distribution metric with a value somewhere on this line: {"nfe", "mean", "lo",
 * "hi", "seeds"} arrays over the line's NFE (null where a point has no value, or fewer
 * than two seeds for an interval). Returns NULL when no metric has a value. */
static cJSON *line_intervals(const exp_config *cfg, row *const *by, size_t g)
{
    cJSON *all = NULL;
    double v[EXP_CFG_MAX_LIST], nfe = NAN, pt[3];
    for (size_t m = 0; m < NDIST; m++) {
        cJSON *o = cJSON_CreateObject(), *a[5];
        static const char *const keys[5] = { "nfe", "mean", "lo", "hi", "seeds" };
        for (int q = 0; q < 5; q++)
            a[q] = cJSON_AddArrayToObject(o, keys[q]);
        int any = 0;
        for (size_t k = 0; k < cfg->nnfe; k++) {
            size_t used = 0;
            if (seed_values(cfg, by, g, k, dist_metrics[m].col, v, &nfe) == 0)
                continue;
            point_interval(v, cfg->nseeds, pt, &used);
            any |= used > 0;
            cJSON_AddItemToArray(a[0], cJSON_CreateNumber(nfe));
            for (int q = 0; q < 3; q++)
                cJSON_AddItemToArray(a[1 + q], number_or_null(pt[q]));
            cJSON_AddItemToArray(a[4], cJSON_CreateNumber((double)used));
        }
        if (!any) {
            cJSON_Delete(o);
            continue;
        }
        if (all == NULL)
            all = cJSON_CreateObject();
        cJSON_AddItemToObject(all, dist_metrics[m].name, o);
    }
    return all;
}

/* One solver line's block of METRIC_vs_nfe.dat for distribution metric m: "nfe mean lo
 * hi", the 95% t-interval over the seeds (lo = hi = mean with one seed). A line without
 * values keeps its block ("nan ...", so block i stays solver line i for lines.gp) under
 * an empty label, which gnuplot leaves out of the key. *any is set when a value was
 * written. */
static void metric_rows(const exp_config *cfg, row *const *by, size_t g, size_t m,
                        const char *label, strbuf *dat, int *any)
{
    char text[512];
    double v[EXP_CFG_MAX_LIST], nfe = NAN, pt[3];
    strbuf rows = { 0 };
    for (size_t k = 0; k < cfg->nnfe; k++) {
        size_t used = 0;
        if (seed_values(cfg, by, g, k, dist_metrics[m].col, v, &nfe) == 0)
            continue;
        point_interval(v, cfg->nseeds, pt, &used);
        if (used == 0)
            continue;
        if (used == 1)
            pt[1] = pt[2] = pt[0];
        snprintf(text, sizeof text, "%.0f %.10e %.10e %.10e\n", nfe, pt[0], pt[1], pt[2]);
        sweep_sb_add(&rows, text);
    }
    snprintf(text, sizeof text, "%s\"%s\" \"%s\" \"lo\" \"hi\"\n", dat->len ? "\n\n" : "",
             rows.len ? label : "", dist_metrics[m].name);
    sweep_sb_add(dat, text);
    sweep_sb_add(dat, rows.len ? rows.s : "nan nan nan nan\n");
    dat->oom |= rows.oom;
    *any |= rows.len > 0;
    free(rows.s);
}

/* The JSON object of one solver line; appends its rows to the plot tables. */
static cJSON *summary_line(const sweep *sw, row *const *by, size_t g, strbuf *dat,
                           strbuf *ord, strbuf *mdat, int *many)
{
    const exp_config *cfg = sw->cfg;
    const coords c = sweep_decode(cfg, g * cfg->nnfe * cfg->nseeds);
    double nfe[EXP_CFG_MAX_LIST], err[EXP_CFG_MAX_LIST], pair[EXP_CFG_MAX_LIST], order = NAN;
    double span[EXP_CFG_MAX_LIST][2];
    size_t n = 0, used = 0;
    char label[256];
    for (size_t k = 0; k < cfg->nnfe; k++)      /* budgets giving the same steps: once */
        if (group_point(cfg, by, g, k, &nfe[n], &err[n], span[n]) &&
            (n == 0 || nfe[n] != nfe[n - 1]))
            n++;
    if (exp_metric_observed_order(nfe, err, n, cfg->order_nfe_min, cfg->order_floor, &order,
                                   &used, NULL, 0) != DODE_OK)
        order = NAN;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", cfg->models[c.model].name);
    cJSON_AddStringToObject(o, "schedule", cfg->schedules[c.schedule]);
    cJSON_AddStringToObject(o, "spacing", exp_config_spacing_name(cfg, c.spacing));
    cJSON_AddStringToObject(o, "solver", cfg->solvers[c.solver].name);
    cJSON_AddStringToObject(o, "base", cfg->solvers[c.solver].type->name);
    cJSON_AddStringToObject(o, "options", cfg->solvers[c.solver].options);
    cJSON_AddNumberToObject(o, "theory_order", dode_solver_order(cfg->solvers[c.solver].type, &cfg->solvers[c.solver].opts));
    cJSON_AddItemToObject(o, "nfe", cJSON_CreateDoubleArray(nfe, (int)n));
    cJSON_AddItemToObject(o, "rmse", cJSON_CreateDoubleArray(err, (int)n));
    cJSON_AddItemToObject(o, "observed_order", isnan(order) ? cJSON_CreateNull()
                                                            : cJSON_CreateNumber(order));
    cJSON_AddNumberToObject(o, "fit_points", (double)used);
    cJSON *pw = cJSON_AddArrayToObject(o, "pairwise_orders");
    if (n >= 2 && exp_metric_pairwise_orders(nfe, err, n, cfg->order_floor, pair, NULL, 0)
                      == DODE_OK)
        for (size_t k = 0; k + 1 < n; k++)
            cJSON_AddItemToArray(pw, isnan(pair[k]) ? cJSON_CreateNull()
                                                    : cJSON_CreateNumber(pair[k]));
    cJSON *iv = cfg->nseeds > 1 ? line_intervals(cfg, by, g) : NULL;
    if (iv != NULL)
        cJSON_AddItemToObject(o, "intervals", iv);
    group_label(cfg, &c, label, sizeof label);
    plot_rows(dat, ord, label, nfe, err, (const double (*)[2])span, n, order,
              dode_solver_order(cfg->solvers[c.solver].type, &cfg->solvers[c.solver].opts));
    for (size_t m = 0; m < NDIST; m++)
        if (dist_metrics[m].plot)
            metric_rows(cfg, by, g, m, label, &mdat[m], &many[m]);
    return o;
}

/* Per (model, schedule, spacing, nfe): the solver with the smallest mean RMSE. */
static cJSON *summary_best(const exp_config *cfg, row *const *by)
{
    cJSON *best = cJSON_CreateArray();
    const size_t cells = cfg->nmodels * cfg->nschedules * cfg->nspacings;
    for (size_t cell = 0; cell < cells; cell++)
        for (size_t k = 0; k < cfg->nnfe; k++) {
            double lo = INFINITY, nfe = 0, e = 0;
            size_t arg = 0;
            for (size_t s = 0; s < cfg->nsolvers; s++)
                if (group_point(cfg, by, cell * cfg->nsolvers + s, k, &nfe, &e, NULL) &&
                    e < lo) {
                    lo = e;
                    arg = s;
                }
            if (!isfinite(lo))
                continue;
            const coords c = sweep_decode(cfg, ((cell * cfg->nsolvers + arg) * cfg->nnfe + k) *
                                                   cfg->nseeds);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "model", cfg->models[c.model].name);
            cJSON_AddStringToObject(o, "schedule", cfg->schedules[c.schedule]);
            cJSON_AddStringToObject(o, "spacing", exp_config_spacing_name(cfg, c.spacing));
            cJSON_AddNumberToObject(o, "nfe", (double)cfg->nfe[k]);
            cJSON_AddStringToObject(o, "solver", cfg->solvers[arg].name);
            cJSON_AddNumberToObject(o, "rmse", lo);
            cJSON_AddItemToArray(best, o);
        }
    return best;
}

/* A trajectory table for plotting: "sigma value" at every point, value being field
 * KEY_FIELDS + 2 + col of the trajectories.csv lines (col 0: error against the reference,
 * 1: difference from the baseline), one block per row of the first seed and the first
 * NFE of the list (the coarsest grid: few points, the largest errors). */
static int write_trajectory_table(const sweep *sw, const char *file, int col, char *err,
                                  size_t errlen)
{
    const exp_config *cfg = sw->cfg;
    strbuf b = { 0 };
    char label[320], head[400], sigma[64], e[64];
    for (size_t i = 0; i < sw->nrows; i++) {
        const row *r = &sw->rows[i];
        if (r->index == SIZE_MAX || r->traj == NULL || r->index % (cfg->nseeds * cfg->nnfe))
            continue;
        const coords c = sweep_decode(cfg, r->index);
        if (col == 1 && c.solver == (size_t)cfg->baseline)
            continue;                       /* zero by definition: nothing to draw */
        group_label(cfg, &c, label, sizeof label);
        snprintf(head, sizeof head, "%s\"%s, NFE %zu\" \"%s\"\n", b.len ? "\n\n" : "",
                 label, cfg->nfe[c.nfe], col ? "diff" : "rmse");
        sweep_sb_add(&b, head);
        for (const char *p = r->traj; *p != '\0'; p = strchr(p, '\n') + 1) {
            sweep_csv_field(p, KEY_FIELDS + 1, sigma, sizeof sigma);
            sweep_csv_field(p, KEY_FIELDS + 2 + (size_t)col, e, sizeof e);
            e[strcspn(e, "\n")] = '\0';
            snprintf(head, sizeof head, "%s %s\n", sigma, e);
            sweep_sb_add(&b, head);
        }
    }
    return sweep_write_text(sw->dir, file, &b, err, errlen);
}

/* Appends "what n1, n2, ..." (or "whats n1, ..." for several) to b; the names of list
 * entry k come from name(k). */
static void caption_list(strbuf *b, const char *what, size_t n, const exp_config *cfg,
                         const char *(*name)(const exp_config *, size_t))
{
    sweep_sb_add(b, what);
    sweep_sb_add(b, n > 1 ? "s " : " ");
    for (size_t k = 0; k < n; k++) {
        sweep_sb_add(b, k ? ", " : "");
        sweep_sb_add(b, name(cfg, k));
    }
}

static const char *model_name(const exp_config *cfg, size_t k)
{
    return cfg->models[k].name;
}

static const char *schedule_name(const exp_config *cfg, size_t k)
{
    return cfg->schedules[k];
}

static const char *spacing_name(const exp_config *cfg, size_t k)
{
    return exp_config_spacing_name(cfg, k);
}

/* captions.txt: what the figures' titles say, one "key text" line each, for plots/plot.sh
 * (issue 11: a referee must read model, schedule, spacing and seeds off the figure):
 *   sweep     models (with the spec when there is one), schedules and spacings of the
 *             whole sweep (error_vs_nfe, orders, trajectory_*)
 *   runs      samples, seeds and the reference (or the round trip's start)
 *   portrait  the first model, schedule, spacing and seed, which the pictures of the flow use
 *   fit       the range the observed order is fitted over (order_nfe_min, order_floor)
 *   solvers   how many solvers: a line's block index is cell * solvers + solver, so the
 *             plot colours by solver and dashes by cell (model, schedule, spacing)
 *   baseline  the baseline solver, when there is one (trajectory_diff). */
static int write_captions(const sweep *sw, char *err, size_t errlen)
{
    const exp_config *cfg = sw->cfg;
    strbuf b = { 0 };
    char text[512];
    sweep_sb_add(&b, "sweep ");
    caption_list(&b, "model", cfg->nmodels, cfg, model_name);
    const char *spec = cfg->models[0].spec, *kind_end = strchr(spec, ':'),
               *base = strrchr(spec, '/');      /* a file's folder says nothing: dropped */
    if (cfg->nmodels == 1 && strlen(spec) <= 60) {
        if (kind_end != NULL && base != NULL && base > kind_end)
            snprintf(text, sizeof text, " (%.*s:%s)", (int)(kind_end - spec), spec, base + 1);
        else
            snprintf(text, sizeof text, " (%s)", spec);
        sweep_sb_add(&b, text);
    }
    caption_list(&b, "; schedule", cfg->nschedules, cfg, schedule_name);
    caption_list(&b, "; spacing", cfg->nspacings, cfg, spacing_name);
    snprintf(text, sizeof text, "\nruns %zu samples; seed%s ", cfg->samples,
             cfg->nseeds > 1 ? "s" : "");
    sweep_sb_add(&b, text);
    for (size_t k = 0; k < cfg->nseeds; k++) {
        snprintf(text, sizeof text, "%s%lu", k ? ", " : "", cfg->seeds[k]);
        sweep_sb_add(&b, text);
    }
    if (cfg->nseeds > 1)
        sweep_sb_add(&b, " (line: mean; band: min to max)");
    size_t loaded = 0, exact = 0;       /* a merge has no models loaded: say both */
    for (size_t k = 0; k < cfg->nmodels; k++)
        if (sw->models[k] != NULL) {
            loaded++;
            exact += (size_t)sweep_ref_is_exact(sw, k);
        }
    snprintf(text, sizeof text, "rk8pd at rtol %g", cfg->ref_rtol);
    sweep_sb_add(&b, cfg->roundtrip ? "; error against the start of the round trip" :
                     "; reference ");
    if (!cfg->roundtrip && loaded == cfg->nmodels && exact == loaded)
        sweep_sb_add(&b, "exact flow");
    else if (!cfg->roundtrip) {
        sweep_sb_add(&b, loaded == cfg->nmodels && exact == 0 ? "" : "exact flow if known, else ");
        sweep_sb_add(&b, text);
    }
    snprintf(text, sizeof text, "\nportrait model %s; schedule %s; spacing %s; seed %lu\n"
             "fit NFE >= %g, RMSE > %g\nsolvers %zu\n", cfg->models[0].name, cfg->schedules[0],
             exp_config_spacing_name(cfg, 0), cfg->seeds[0], cfg->order_nfe_min,
             cfg->order_floor, cfg->nsolvers);
    sweep_sb_add(&b, text);
    if (cfg->baseline >= 0) {
        snprintf(text, sizeof text, "baseline %s\n", cfg->baseline_name);
        sweep_sb_add(&b, text);
    }
    return sweep_write_text(sw->dir, "captions.txt", &b, err, errlen);
}

/* summary.json's text into js, the plot tables into dat and ord; by[] indexes the rows of
 * this config by canonical index (NULL: not finished). */
static void summary_text(sweep *sw, row *const *by, strbuf *js, strbuf *dat, strbuf *ord,
                         strbuf *mdat, int *many)
{
    const exp_config *cfg = sw->cfg;
    const size_t total = exp_config_runs(cfg), groups = total / (cfg->nnfe * cfg->nseeds);
    size_t finished = 0, failed = 0;
    for (size_t i = 0; i < total; i++) {
        finished += by[i] != NULL;
        failed += by[i] != NULL && !by[i]->ok;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "name", cfg->name);
    cJSON_AddStringToObject(root, "config", cfg->path);
    cJSON_AddNumberToObject(root, "rows", (double)total);
    cJSON_AddNumberToObject(root, "finished", (double)finished);
    cJSON_AddNumberToObject(root, "failed", (double)failed);
    cJSON_AddNumberToObject(root, "order_nfe_min", cfg->order_nfe_min);
    cJSON_AddNumberToObject(root, "order_floor", cfg->order_floor);
    cJSON *lines = cJSON_AddArrayToObject(root, "lines");
    for (size_t g = 0; g < groups; g++)
        cJSON_AddItemToArray(lines, summary_line(sw, by, g, dat, ord, mdat, many));
    cJSON_AddItemToObject(root, "best", summary_best(cfg, by));
    char *text = cJSON_Print(root);
    sweep_sb_add(js, text ? text : "");
    sweep_sb_add(js, "\n");
    js->oom |= text == NULL;            /* cJSON returns NULL when out of memory */
    free(text);
    cJSON_Delete(root);
}

/* METRIC_vs_nfe.dat of each plotted metric that has a value somewhere (a sweep without
 * any, e.g. on a learned model, writes none: no figure); frees every buffer. */
static int write_metric_tables(sweep *sw, strbuf *mdat, const int *many, char *err,
                               size_t errlen)
{
    int rc = DODE_OK;
    char file[64];
    for (size_t m = 0; m < NDIST; m++) {
        if (rc != DODE_OK || !many[m]) {
            free(mdat[m].s);
            continue;
        }
        snprintf(file, sizeof file, "%s_vs_nfe.dat", dist_metrics[m].name);
        rc = sweep_write_text(sw->dir, file, &mdat[m], err, errlen);
    }
    return rc;
}

int sweep_write_summary(sweep *sw, char *err, size_t errlen)
{
    const exp_config *cfg = sw->cfg;
    row **by = calloc(exp_config_runs(cfg), sizeof *by);
    if (by == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "out of memory writing the summary");
    for (size_t i = 0; i < sw->nrows; i++)
        if (sw->rows[i].index != SIZE_MAX)
            by[sw->rows[i].index] = &sw->rows[i];
    strbuf dat = { 0 }, ord = { 0 }, js = { 0 }, mdat[NDIST] = { { 0 } };
    int many[NDIST] = { 0 };
    summary_text(sw, by, &js, &dat, &ord, mdat, many);
    free(by);
    int rc = write_metric_tables(sw, mdat, many, err, errlen);
    if (rc == DODE_OK)
        rc = sweep_write_text(sw->dir, "error_vs_nfe.dat", &dat, err, errlen);
    else
        free(dat.s);
    int rc2 = sweep_write_text(sw->dir, "orders.dat", &ord, err, errlen);
    int rc3 = sweep_write_text(sw->dir, "summary.json", &js, err, errlen);
    if (rc == DODE_OK && rc2 == DODE_OK && rc3 == DODE_OK)
        rc3 = write_captions(sw, err, errlen);
    if (rc == DODE_OK && rc2 == DODE_OK && rc3 == DODE_OK && cfg->trajectory)
        rc3 = write_trajectory_table(sw, "trajectory_error.dat", 0, err, errlen);
    if (rc == DODE_OK && rc2 == DODE_OK && rc3 == DODE_OK && cfg->trajectory &&
        cfg->baseline >= 0)
        rc3 = write_trajectory_table(sw, "trajectory_diff.dat", 1, err, errlen);
    return rc != DODE_OK ? rc : rc2 != DODE_OK ? rc2 : rc3;
}
