/* registry.c - the only list of solvers in the project, walked by dode_solver_find,
 * `diffode list`, configs and tests alike (shaped like Lua's luaL_Reg arrays). Order is
 * the order `diffode list` prints: fixed-step methods by family, then GSL's adaptive
 * steppers. A new solver = its file (a solve function and a table entry), its extern and
 * its row here, its test. */
#include <string.h>

#include "diffode/solver.h"

/* Each entry is defined in its family's file; its one extern line sits beside its row. */
extern const dode_solver_type dode_solver_euler, dode_solver_ddim, dode_solver_heun,
    dode_solver_rk4;
extern const dode_solver_type dode_solver_dpm1, dode_solver_dpm2, dode_solver_dpm3,
    dode_solver_dpm_fast2, dode_solver_dpm_fast3, dode_solver_dpm2m, dode_solver_dpm3m,
    dode_solver_dpm3m_taylor, dode_solver_dpmpp2s, dode_solver_dpmpp3s,
    dode_solver_dpmpp_fast2, dode_solver_dpmpp_fast3, dode_solver_dpmpp2m,
    dode_solver_dpmpp3m, dode_solver_dpmpp3m_taylor, dode_solver_dpm_adaptive12,
    dode_solver_dpm_adaptive23, dode_solver_unipc1, dode_solver_unipc2, dode_solver_unipc3;
/* multistep baselines (solvers/ipndm.c, deis.c, pndm.c, lms.c) */
extern const dode_solver_type dode_solver_ipndm1, dode_solver_ipndm2, dode_solver_ipndm3,
    dode_solver_ipndm4, dode_solver_ipndm_v1, dode_solver_ipndm_v2, dode_solver_ipndm_v3,
    dode_solver_ipndm_v4, dode_solver_deis_tab1, dode_solver_deis_tab2, dode_solver_deis_tab3,
    dode_solver_deis_rhoab1, dode_solver_deis_rhoab2, dode_solver_deis_rhoab3,
    dode_solver_pndm, dode_solver_plms, dode_solver_lms;
extern const dode_solver_type dode_solver_euler_a, dode_solver_sde_dpm1,
    dode_solver_sde_dpmpp1, dode_solver_dpmpp2m_sde, dode_solver_dpmpp3m_sde,
    dode_solver_edm_sde,
    dode_solver_euler_maruyama, dode_solver_restart, dode_solver_er_sde1, dode_solver_er_sde2,
    dode_solver_er_sde3, dode_solver_sa_solver;
extern const dode_solver_type dode_solver_cfgpp_ddim, dode_solver_cfgpp_dpmpp2m;
extern const dode_solver_type dode_solver_cfgpp_euler_a;
extern const dode_solver_type dode_solver_gsl_rk2, dode_solver_gsl_rk4,
    dode_solver_gsl_rkf45, dode_solver_gsl_rkck, dode_solver_gsl_rk8pd,
    dode_solver_gsl_msadams, dode_solver_gsl_rk1imp, dode_solver_gsl_rk2imp,
    dode_solver_gsl_rk4imp, dode_solver_gsl_bsimp, dode_solver_gsl_msbdf;

static const dode_solver_type *const registry[] = {
    /* classical integrators and DDIM (solvers/euler.c, ddim.c, heun.c, rk4.c) */
    &dode_solver_euler,
    &dode_solver_ddim,
    &dode_solver_heun,
    &dode_solver_rk4,
    /* DPM-Solver family and UniPC (solvers/dpm*.c, unipc.c) */
    &dode_solver_dpm1,
    &dode_solver_dpm2,
    &dode_solver_dpm3,
    &dode_solver_dpm_fast2,
    &dode_solver_dpm_fast3,
    &dode_solver_dpm2m,
    &dode_solver_dpm3m,
    &dode_solver_dpm3m_taylor,
    &dode_solver_dpmpp2s,
    &dode_solver_dpmpp3s,
    &dode_solver_dpmpp_fast2,
    &dode_solver_dpmpp_fast3,
    &dode_solver_dpmpp2m,
    &dode_solver_dpmpp3m,
    &dode_solver_dpmpp3m_taylor,
    &dode_solver_dpm_adaptive12,
    &dode_solver_dpm_adaptive23,
    &dode_solver_unipc1,
    &dode_solver_unipc2,
    &dode_solver_unipc3,
    /* multistep baselines (solvers/ipndm.c, deis.c, pndm.c, lms.c) */
    &dode_solver_ipndm1,
    &dode_solver_ipndm2,
    &dode_solver_ipndm3,
    &dode_solver_ipndm4,
    &dode_solver_ipndm_v1,
    &dode_solver_ipndm_v2,
    &dode_solver_ipndm_v3,
    &dode_solver_ipndm_v4,
    &dode_solver_deis_tab1,
    &dode_solver_deis_tab2,
    &dode_solver_deis_tab3,
    &dode_solver_deis_rhoab1,
    &dode_solver_deis_rhoab2,
    &dode_solver_deis_rhoab3,
    &dode_solver_pndm,
    &dode_solver_plms,
    &dode_solver_lms,
    /* stochastic samplers, noise from opts->noise (solvers/sde_*.c, docs/stochastic.md) */
    &dode_solver_euler_a,
    &dode_solver_sde_dpm1,
    &dode_solver_sde_dpmpp1,
    &dode_solver_dpmpp2m_sde,
    &dode_solver_dpmpp3m_sde,
    &dode_solver_edm_sde,
    &dode_solver_euler_maruyama,
    &dode_solver_restart,
    &dode_solver_er_sde1,
    &dode_solver_er_sde2,
    &dode_solver_er_sde3,
    &dode_solver_sa_solver,
    /* CFG++ on guided models only (solvers/cfgpp.c, docs/guidance.md) */
    &dode_solver_cfgpp_ddim, &dode_solver_cfgpp_dpmpp2m, &dode_solver_cfgpp_euler_a,
    /* GSL odeiv2 adaptive steppers (solvers/gsl.c) */
    &dode_solver_gsl_rk2,
    &dode_solver_gsl_rk4,
    &dode_solver_gsl_rkf45,
    &dode_solver_gsl_rkck,
    &dode_solver_gsl_rk8pd,
    &dode_solver_gsl_msadams,
    &dode_solver_gsl_rk1imp,
    &dode_solver_gsl_rk2imp,
    &dode_solver_gsl_rk4imp,
    &dode_solver_gsl_bsimp,
    &dode_solver_gsl_msbdf,
    NULL,
};

const dode_solver_type *const *dode_solvers(void)
{
    return registry;
}

const dode_solver_type *dode_solver_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (const dode_solver_type *const *s = registry; *s != NULL; s++)
        if (strcmp((*s)->name, name) == 0)
            return *s;
    return NULL;
}

int dode_solver_order(const dode_solver_type *solver, const dode_solver_opts *opts)
{
    if (solver->order_with == NULL)
        return solver->order;
    dode_solver_opts defaults;
    if (opts == NULL) {
        dode_solver_opts_init(&defaults);
        opts = &defaults;
    }
    return solver->order_with(solver, opts);
}
