/* exact_law.c - the exact W2 distance from each sampler's output law to the data law on
 * Gaussian data, against NFE (docs/stochastic.md): no sampling error, the affine law of
 * law.h. Data N((1, -0.5), 0.5^2 I), ddpm-linear, logsnr grid from t = 1 to 1e-3, x_T ~
 * N(0, I); the target is the data law at the grid's end, N(mu, (0.25 + sigma_end^2) I).
 * Build and run from the repository root after `make`:
 *   cc -std=c11 -Iinclude examples/exact_law.c build/libdiffode.a -lgsl -lopenblas \
 *      -lcjson -linih -lz -lm -o build/exact_law && build/exact_law */
#include <stdio.h>
#include <string.h>
#include <gsl/gsl_errno.h>

#include "diffode/diffode.h"

/* The solver's options in this study: edm-sde churns (s_churn 10 below sigma 20), ddim
 * runs as DDPM (eta 1); every other row has its defaults. */
static void study_opts(const char *name, dode_solver_opts *o)
{
    char err[256];
    dode_solver_opts_init(o);
    if (strcmp(name, "edm-sde") == 0) {
        dode_solver_opts_set(o, "s_churn", "10", err, sizeof err);
        dode_solver_opts_set(o, "s_tmax", "20", err, sizeof err);
    }
    if (strcmp(name, "ddim") == 0)
        dode_solver_opts_set(o, "eta", "1", err, sizeof err);
}

/* W2 of solver at nfe, or a negative number with err set. */
static double w2_at(const dode_model *m, const dode_schedule *sc, const char *name,
                    size_t nfe, char *err, size_t errlen)
{
    static const double mu[2] = { 1.0, -0.5 };
    const dode_solver_type *s = dode_solver_find(name);
    dode_grid_opts go;
    dode_grid g;
    dode_solver_opts o;
    dode_grid_opts_init(&go);
    if (dode_grid_make(sc, &go, dode_solver_steps_for_nfe(s, nfe), &g, err, errlen) != DODE_OK)
        return -1;
    study_opts(name, &o);
    const double s0 = g.sigma[0], se = g.sigma[g.steps];
    const double mT[2] = { 0, 0 }, vT[2] = { 1 + s0 * s0, 1 + s0 * s0 };
    const double dv[2] = { 0.25 + se * se, 0.25 + se * se };
    double me[2], ve[2];
    int rc = dode_affine_law(s, m, sc, &g, &o, mT, vT, me, ve, err, errlen);
    dode_grid_free(&g);
    return rc == DODE_OK ? dode_w2_diag(me, ve, mu, dv, 2) : -1;
}

int main(void)
{
    static const char *const names[] = { "euler", "heun", "dpmpp2m", "euler-a", "sde-dpm1",
                                         "sde-dpmpp1", "dpmpp2m-sde", "dpmpp3m-sde",
                                         "edm-sde",
                                         "euler-maruyama", "ddim", "restart", "er-sde1",
                                         "er-sde3", "sa-solver", NULL };
    static const size_t nfes[] = { 10, 20, 50, 100, 200, 500, 1000 };
    static const double mu[2] = { 1.0, -0.5 };
    char err[512];
    gsl_set_error_handler_off();
    dode_model *m = dode_gaussian_new(2, mu, 0.5, DODE_PRED_EPS, err, sizeof err);
    dode_schedule *sc = m ? dode_schedule_new("ddpm-linear", err, sizeof err) : NULL;
    if (sc == NULL) {
        fprintf(stderr, "exact_law: %s\n", err);
        return 1;
    }
    printf("| solver |");
    for (size_t k = 0; k < 7; k++)
        printf(" NFE %zu |", nfes[k]);
    printf("\n|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; names[i] != NULL; i++) {
        printf("| `%s` |", names[i]);
        for (size_t k = 0; k < 7; k++) {
            const double w = w2_at(m, sc, names[i], nfes[k], err, sizeof err);
            if (w < 0) {
                fprintf(stderr, "exact_law: %s at NFE %zu: %s\n", names[i], nfes[k], err);
                return 1;
            }
            printf(" %.2e |", w);
        }
        printf("\n");
    }
    dode_schedule_free(sc);
    dode_model_free(m);
    return 0;
}
