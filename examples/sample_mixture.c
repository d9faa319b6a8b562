/* sample_mixture.c - diffode as a library: 1000 samples of a two-component mixture with
 * DPM-Solver++(2M) at NFE 20, then their mean (the mixture's is (0.8, 0)).
 *   cc sample_mixture.c $(pkg-config --cflags --libs diffode) -o sample_mixture */
#include <stdio.h>
#include <stdlib.h>
#include <diffode/diffode.h>

int main(void)
{
    enum { N = 1000, DIM = 2, NFE = 20 };
    const double weights[2] = { 0.3, 0.7 }, means[2][DIM] = { { -2, 0 }, { 2, 0 } };
    const double stds[2] = { 0.5, 0.5 };
    char err[512];
    dode_model *model = dode_gmm_new(2, DIM, weights, &means[0][0], "isotropic", stds, err,
                                     sizeof err);
    dode_schedule *sched = model ? dode_schedule_new("vp-linear", err, sizeof err) : NULL;
    const dode_solver_type *solver = dode_solver_find("dpmpp2m");
    dode_ode *ode = sched ? dode_ode_new(model, sched, N, err, sizeof err) : NULL;
    dode_grid_opts go;
    dode_grid grid = { 0 };
    dode_grid_opts_init(&go);
    double *x = malloc(N * DIM * sizeof *x);
    dode_run_stats st;
    int rc = ode && x ? DODE_OK : DODE_ENOMEM;
    if (rc == DODE_OK)
        rc = dode_grid_make(sched, &go, dode_solver_steps_for_nfe(solver, NFE), &grid, err,
                            sizeof err);
    if (rc == DODE_OK)
        rc = dode_draw_x_T(1, x, N * DIM, err, sizeof err);          /* x_T ~ N(0, I) */
    if (rc == DODE_OK)
        rc = dode_sample(solver, ode, &grid, NULL, x, x, NULL, &st, err, sizeof err);
    double mean[DIM] = { 0, 0 };
    for (size_t i = 0; rc == DODE_OK && i < N * DIM; i++)
        mean[i % DIM] += x[i] / N;
    if (rc == DODE_OK)
        printf("nfe %zu  mean (%.3f, %.3f)\n", st.nfe, mean[0], mean[1]);
    else
        fprintf(stderr, "sample_mixture: %s\n", err);
    free(x);
    dode_grid_free(&grid);
    dode_ode_free(ode);
    dode_schedule_free(sched);
    dode_model_free(model);
    return rc == DODE_OK ? 0 : 1;
}
