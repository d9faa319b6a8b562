/* model.h - eps-prediction models behind one interface, and the exact test models.
 *
 * A model predicts the noise eps(x, t) for a batch of n rows of dim doubles (row-major
 * [n][dim]) at one time. The ODE layer (ode.h) calls it at x = xbar / sqrt(1+sigma^2),
 * t = t(sigma); both t and sigma are passed so a model may use either. That x is the
 * model interface's own VP scaling whatever the sampling schedule (the exact models are
 * written in xbar and need no schedule); a network trained in another x, as a flow model
 * on x_f = xbar / (1 + sigma), says so by its prediction kind and the wrapper rescales.
 * At sigma = inf (zero terminal SNR) x is pure noise and only the x0 callback is called.
 *
 * Optional callbacks (NULL when the model has none) are written in the ODE's own
 * variables (xbar, sigma), where exact models are naturally expressed (MATH.md section 5):
 *   jacobian     d epsh / d xbar, and (optionally) the partial d epsh / d sigma at fixed xbar
 *   log_density  log p_sigma(xbar), the density of xbar at noise level sigma
 *   exact_flow   the exact ODE solution from (xbar, sigma_from) to sigma_to
 * A callback returns DODE_OK or a status; it never prints.
 *
 * Workspace: the model itself is read-only during a call (so one model may serve several
 * threads); what eps, jacobian and log_density need as scratch lives in a workspace made
 * once per solve by dode_model_workspace_new for up to n rows, never per call. Each of
 * those callbacks takes it as ws; it must come from this model's workspace_new for at
 * least as many rows as the call has (NULL only if the model has no workspace_new), and
 * serves one call at a time. */
#ifndef DIFFODE_MODEL_H
#define DIFFODE_MODEL_H

#include <stddef.h>

/* What a network's raw output means; wrappers turn every kind into eps (MATH.md 2). */
typedef enum {
    DODE_PRED_EPS = 0,   /* eps itself */
    DODE_PRED_X0,        /* the data prediction x0h:  eps = (x - a x0h) / s */
    DODE_PRED_V,         /* v = a eps - s x0h:        eps = s x + a v */
    DODE_PRED_SCORE,     /* grad log p_t(x):          eps = -s score */
    DODE_PRED_FLOW       /* rectified-flow velocity v = eps - x0h on flow's own
                            x_f = (1 - tau) x0 + tau eps = xbar / (1 + sigma):
                            eps = x_f + (1 - tau) v, tau = sigma / (1 + sigma) */
} dode_prediction;

#define DODE_PRED_COUNT 5

typedef struct dode_model dode_model;
struct dode_model {
    const char *name;            /* e.g. "gaussian", "gmm"; owned by the model */
    size_t dim;
    dode_prediction prediction;  /* what eps() returns; DODE_PRED_EPS after wrapping */
    int (*eps)(const dode_model *m, void *ws, size_t n, const double *x /* [n][dim] */,
               double t, double sigma, double *out /* [n][dim] */);
    int (*jacobian)(const dode_model *m, void *ws, size_t n, const double *xbar /* [n][dim] */,
                    double sigma, double *jac /* [n][dim][dim] */,
                    double *deps_dsigma /* [n][dim], may be NULL */);
    int (*log_density)(const dode_model *m, void *ws, size_t n, const double *xbar,
                       double sigma, double *logp /* [n] */);
    int (*exact_flow)(const dode_model *m, size_t n, const double *xbar_from,
                      double sigma_from, double sigma_to, double *xbar_to /* [n][dim] */);
    /* Scratch for the three callbacks above for up to n >= 1 rows, or NULL when out of
     * memory; NULL callbacks: the model needs none (ws is then NULL and ignored). */
    void *(*workspace_new)(const dode_model *m, size_t n);
    void (*workspace_free)(void *ws);
    void (*free)(dode_model *m);
    void *state;
    /* The data prediction x0h ([n][dim]) at (x, t, sigma), for where eps cannot give it:
     * at sigma = inf x = eps and eps carries nothing of x0 (zero SNR; dode_ode_x0). The
     * wrappers set it for x0-, v- and flow-predicting models; NULL for an eps model. */
    int (*x0)(const dode_model *m, void *ws, size_t n, const double *x, double t,
              double sigma, double *out);
    /* Optional (NULL: the ODE layer scales and checks in passes of its own): eps at
     * x = a xbar, each x_j rounded as the product a * xbar_j, as eps would get it, with
     * the ODE layer's finiteness checks made while the rows are in registers. *bad = 1
     * if some xbar_j is not finite (out is then unspecified), else 2 if some out_j is not
     * finite, else 0. For a model whose eps is one loop over rows, this saves two of the
     * three passes over memory an NFE makes besides the model's own (issue 16). A model
     * that sets it computes each row on its own, so a call may be split by rows with the
     * same numbers (the --jobs references of diffode run do, experiments/sweep_split.c). */
    int (*eps_xbar)(const dode_model *m, void *ws, size_t n, const double *xbar, double a,
                    double t, double sigma, double *out, int *bad);
};

/* Frees through m->free; accepts NULL. */
void dode_model_free(dode_model *m);

/* *ws = m's workspace for calls of up to n >= 1 rows (NULL if m needs none); free it with
 * dode_model_workspace_free before m. DODE_EINVAL (n = 0) or DODE_ENOMEM with a message
 * naming the model and n; *ws is NULL then. */
int dode_model_workspace_new(const dode_model *m, size_t n, void **ws, char *err,
                             size_t errlen);
void dode_model_workspace_free(const dode_model *m, void *ws);   /* accepts a NULL ws */

/* A caller's prediction function: writes its prediction for the n rows of x (x-space, at
 * noise level sigma and time t) into out, both [n][dim]; returns 0, or a non-zero status
 * that stops the solve (a DODE_E* code is kept, anything else becomes DODE_ESOLVER). */
typedef int (*dode_eps_callback)(void *user, size_t n, size_t dim, const double *x,
                                 double t, double sigma, double *out);

/* A model over fn (called with user), predicting `prediction` (wrapped to eps unless it is
 * DODE_PRED_EPS); name (copied, up to 63 characters; NULL: "callback") appears in error
 * messages. NULL with a message for a NULL fn, dim 0 or an unknown prediction. */
dode_model *dode_model_from_callback(const char *name, size_t dim, dode_prediction prediction,
                                     dode_eps_callback fn, void *user, char *err,
                                     size_t errlen);

/* Gaussian data N(mean, std^2 I) in dim dimensions (std > 0): eps, jacobian,
 * log_density and the closed-form exact_flow xbar(s) = mu + (xbar_T - mu)
 * sqrt((v + s^2)/(v + s_T^2)). mean has dim entries. `prediction` makes eps() return
 * that parameterisation instead (for testing the wrappers). */
dode_model *dode_gaussian_new(size_t dim, const double *mean, double std,
                              dode_prediction prediction, char *err, size_t errlen);

/* Gaussian mixture sum_k w_k N(mu_k, S_k). cov_kind: "isotropic" (covs has [K] stds),
 * "diagonal" ([K][dim] stds) or "full" ([K][dim][dim] covariance matrices, symmetric
 * positive definite). weights > 0 are normalised. All arrays are copied. Provides eps,
 * jacobian (with d epsh/d sigma), log_density; eps is batched through BLAS. */
dode_model *dode_gmm_new(size_t K, size_t dim, const double *weights,
                         const double *means /* [K][dim] */, const char *cov_kind,
                         const double *covs, char *err, size_t errlen);

/* Class labels on a mixture (guided sampling, guidance.h). Labels are in
 * [0, DODE_GMM_MAX_CLASSES); several components may share one. */
#define DODE_GMM_MAX_CLASSES 100000

/* dode_gmm_new with labels [K] (NULL: none, exactly dode_gmm_new). */
dode_model *dode_gmm_new_labeled(size_t K, size_t dim, const double *weights,
                                 const double *means, const char *cov_kind, const double *covs,
                                 const int *labels, char *err, size_t errlen);

/* 1 + the largest class label of a labelled mixture; 0 for a mixture without labels or a
 * model that is not a mixture. */
size_t dode_gmm_classes(const dode_model *m);

/* The exact conditional model of class c: the mixture of c's components with their weights
 * renormalised (the same model as a JSON holding only them). NULL with a message when m is
 * not a labelled mixture (DODE_EUNSUPPORTED) or c has no component (DODE_ENOTFOUND). */
dode_model *dode_gmm_class_new(const dode_model *m, int c, char *err, size_t errlen);

/* The exact classifier of a labelled mixture in the ODE's variables: for n rows xbar at
 * noise level sigma, logp[i] = log p(c | xbar_i) and grad[i] = grad_xbar log p(c | xbar_i)
 * (either may be NULL). ws: m's workspace for >= 1 rows. Since eps = -sigma grad log p,
 * grad = (eps_uncond - eps_cond) / sigma; it is computed here from the logits directly.
 * Errors as dode_gmm_class_new, and DODE_EINVAL for sigma < 0 or not finite. */
int dode_gmm_class_log_posterior(const dode_model *m, void *ws, size_t n, const double *xbar,
                                 double sigma, int c, double *logp, double *grad,
                                 char *err, size_t errlen);

/* A GMM from JSON: {"weights":[..], "means":[[..],..], and one of "stds":[..]
 * (isotropic), "diag_stds":[[..],..], "covs":[[[..]..]..]}, optionally "classes":[K ints]
 * (class labels, dode_gmm_new_labeled). Messages name the file and
 * the key (and the entry) that is wrong. The file must be a regular file of at most
 * 64 MiB and the text hold at most 2^22 JSON values (checked before parsing; DODE_EFORMAT),
 * and out of memory for the parse is reported as such. */
dode_model *dode_gmm_from_json(const char *path, char *err, size_t errlen);
dode_model *dode_gmm_from_json_string(const char *json, const char *source_name,
                                      char *err, size_t errlen);

/* Wraps a model whose eps() returns inner->prediction into an eps-prediction model
 * (MATH.md section 2; flow: model.h's DODE_PRED_FLOW), and gives it an x0 callback that
 * also works at sigma = inf for x0, v and flow predictions. Takes ownership of inner
 * (freed with the wrapper, and on failure). Optional callbacks are passed through. */
dode_model *dode_model_as_eps(dode_model *inner, char *err, size_t errlen);

#endif
