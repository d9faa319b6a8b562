/* sde_common.c - what the stochastic samplers share (sde.h): the grid rule, the noise
 * announcement and the draw. */
#include "diffode/noise.h"
#include "diffode/status.h"
#include "sde.h"
#include "solver_impl.h"

double sde_eta(const dode_solver_opts *opts)
{
    return dode_solver_opts_given(opts, DODE_OPT_ETA) ? opts->ddim.eta : 1.0;
}

int sde_begin(dode_ode *ode, const dode_grid *grid, const dode_solver_opts *opts,
              size_t draws)
{
    char why[400];
    for (size_t i = 0; i < grid->steps; i++)
        if (grid->sigma[i + 1] > grid->sigma[i])
            return dode_ode_fail(ode, DODE_EINVAL, "a stochastic sampler needs a decreasing "
                                 "grid (sampling); sigma rises from %g to %g at step %zu",
                                 grid->sigma[i], grid->sigma[i + 1], i + 1);
    if (draws > 0 && dode_noise_require(opts->noise, draws, ode->n, ode->dim, why,
                                        sizeof why) != DODE_OK)
        return dode_ode_fail(ode, DODE_EINVAL, "%s", why);
    return DODE_OK;
}

int sde_draw(dode_ode *ode, const dode_solver_opts *opts, size_t k, double *z)
{
    const size_t len = solver_len(ode);
    if (dode_noise_fill(opts->noise, k, ode->n, ode->dim, z) != DODE_OK)
        return dode_ode_fail(ode, DODE_EINVAL, "noise draw %zu is not available", k);
    const double s = opts->sde.s_noise;
    if (s != 1.0)
        for (size_t m = 0; m < len; m++)
            z[m] *= s;
    return DODE_OK;
}
