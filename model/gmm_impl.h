/* gmm_impl.h - the Gaussian mixture's state and per-sigma arrays, private to model/gmm.c
 * (the model's eps), model/gmm_new.c (its constructor), model/gmm_jac.c (its Jacobian and
 * log density) and model/gmm_class.c (its class labels); see gmm.c for the formulas. */
#ifndef DIFFODE_MODEL_GMM_IMPL_H
#define DIFFODE_MODEL_GMM_IMPL_H

#include <stddef.h>

#include "diffode/model.h"

enum { COV_ISO, COV_DIAG, COV_FULL };

typedef struct {
    size_t K, dim;
    int kind;
    double *logw;   /* [K] log normalised weights */
    double *mbar;   /* [dim] sum_k w_k mu_k */
    double *mu;     /* [K][dim] mu_k - mbar */
    double *cov;    /* iso [K] std^2; diag [K][dim] std^2; full [K][dim][dim] S_k */
    double *mm;     /* [K] ||mu_k - mbar||^2 */
    /* Class labels (NULL: none) and, with them, the arguments as given, so that a class's
     * mixture is built from the same numbers a file holding only its components would
     * give (dode_gmm_class_new): raw = weights [K], means [K][dim], covs [ncov]. */
    int *labels;    /* [K] */
    size_t nclass;  /* 1 + the largest label */
    double *raw;
    size_t ncov;
} gmm_state;

/* What depends on sigma only, computed once per call. */
typedef struct {
    double sigma;
    double *cinv;   /* iso [K]; diag [K][dim] 1/c; full [K][dim][dim] C_k^{-1} (if asked) */
    double *chol;   /* full: [K][dim][dim] Cholesky factors L_k (lower) */
    double *ma;     /* iso, diag: [K][width] logit coefficients, see sig_diag */
    size_t width;   /* d + s + 1, s = 1 (iso) or d (diag) */
    double *mmc;    /* [K] mu_k^T C_k^{-1} mu_k (iso, diag) */
    double *cmax;   /* [K] largest entry of C_k^{-1} (iso, diag) */
    double cmax_all, mmc_max;   /* their maxima over k: rows below need no refinement */
    double *lwc;    /* [K] log w_k - (log det C_k + d log 2 pi) / 2 */
} gmm_sig;

/* A gmm model (its free is gmm_free). */
int gmm_is(const dode_model *m);
void gmm_free(dode_model *m);
/* The model's eps and workspace callbacks (model.h), in gmm.c. */
int gmm_eps(const dode_model *m, void *ws, size_t n, const double *x, double t, double sigma,
            double *out);
void *gmm_workspace_new(const dode_model *m, size_t n);
void gmm_workspace_free(void *ws);
/* 1 if eps takes the small-K loops (isotropic or diagonal, K <= 16, d <= 4, hardware FMA);
 * only then has the model eps_xbar, eps and the ODE layer's scaling and finiteness checks
 * in the loops' one pass (model.h). */
int gmm_small_path(const gmm_state *st);
int gmm_eps_xbar(const dode_model *m, void *ws, size_t n, const double *xbar, double a,
                 double t, double sigma, double *out, int *bad);
/* Doubles of a workspace that gmm_sig_new fills (the per-call block follows them). */
size_t gmm_sig_len(const gmm_state *st);
/* The per-sigma arrays in block (inverses too if want_inv); DODE_OK or a status. */
int gmm_sig_new(const gmm_state *st, double sigma, int want_inv, double *block, gmm_sig *sg);
/* The model's eps (model.h) with the path chosen: small = 0 forces the dgemm products even
 * where the small-K loops apply (bench/bench_speed.c checks that both agree bit for bit). */
int gmm_eps_path(const gmm_state *st, void *ws, size_t n, const double *x, double sigma,
                 int small, double *out);
/* One row's logits l [K] (and g_k = C_k^{-1} xc, [K][dim]) at the centred point xc. */
void gmm_row_logits(const gmm_state *st, const gmm_sig *sg, const double *xc, double *l,
                    double *g);

/* One row by the direct formula at the centred point xc: responsibilities gamma [K] and
 * g_k = C_k^{-1}(xc - mu_k) [K][dim]; returns the log-sum-exp (the row's log density). */
double gmm_row_direct(const gmm_state *st, const gmm_sig *sg, const double *xc,
                      double *gamma, double *g);
/* The model's jacobian and log_density (model.h), in gmm_jac.c. */
int gmm_jacobian(const dode_model *m, void *ws, size_t n, const double *xbar, double sigma,
                 double *jac, double *deps_dsigma);
int gmm_log_density(const dode_model *m, void *ws, size_t n, const double *xbar,
                    double sigma, double *logp);

#endif
