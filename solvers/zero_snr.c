/* zero_snr.c - the first step from sigma = inf, where a grid on a zero-terminal-SNR
 * schedule (ddpm-linear-zsnr, flow at t = 1) starts (Lin et al. 2023, section 3.3;
 * docs/models.md).
 *
 * There a_T = 0, so xbar = x / a does not exist and d xbar / d sigma has no finite start;
 * but x_T = s_T eps with s_T = 1 is the noise itself, and a model that predicts x0 (or v,
 * or a flow velocity, from which x0 follows) gives x0h. DDIM's step
 * x_1 = a_1 x0h + s_1 eps, divided by a_1, is xbar_1 = x0h + sigma_1 x_T: one NFE, and
 * from sigma_1 on every solver runs on finite values. It is DDIM (= Euler in sigma) taken
 * in the limit, so the solvers' orders hold from sigma_1 on; an eps-prediction model
 * cannot take it (dode_ode_x0 says why). */
#include <math.h>
#include <stdlib.h>

#include "diffode/status.h"
#include "solver_impl.h"

int solver_zero_snr_step(dode_ode *ode, const dode_grid *grid, double *xbar,
                         dode_trace *trace)
{
    const size_t len = solver_len(ode);
    const double s1 = grid->sigma[1];
    const double t = grid->t != NULL ? grid->t[0] : dode_schedule_t(ode->schedule, INFINITY);
    double *x0 = solver_workspace(ode, 1, NULL);
    if (x0 == NULL)
        return DODE_ENOMEM;
    int rc = dode_ode_x0(ode, t, INFINITY, xbar, x0);   /* xbar holds x_T here */
    if (rc == DODE_OK)
        for (size_t k = 0; k < len; k++)
            xbar[k] = x0[k] + (s1 > 0 ? s1 * xbar[k] : 0.0);
    free(x0);
    if (rc != DODE_OK)
        return solver_step_fail(ode, rc, 0, grid->steps, INFINITY, s1);
    solver_trace_step(trace);
    dode_trace_record(trace, s1, xbar, len);
    return DODE_OK;
}
